package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/evident-ebm/evident/internal/chserver"
)

// buildEvident compiles the command once for process-level tests.
func buildEvident(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "evident")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func needClickHouse(t *testing.T) {
	t.Helper()
	if _, err := chserver.Find(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skipf("skipping: %v", err)
	}
}

// demoRun is one `evident demo` process and what it printed.
type demoRun struct {
	cmd  *exec.Cmd
	url  string
	stop func() ([]string, error) // SIGINT, wait, and everything it printed
}

// startDemo starts `evident demo` and waits for its dashboard URL; it fails
// at once, with the output, when the process exits before printing one.
func startDemo(t *testing.T, bin, dir string, args ...string) *demoRun {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"demo", "--dir", dir, "--listen", "127.0.0.1:0", "--issues", "600", "--install=false"}, args...)...)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &demoRun{cmd: cmd}
	urls := make(chan string, 1)
	read := make(chan []string, 1)
	go func() {
		var lines []string
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if u, ok := strings.CutPrefix(sc.Text(), "Evident dashboard at "); ok {
				urls <- u
			}
		}
		read <- lines // stdout closed: the process has exited
	}()
	select {
	case r.url = <-urls:
	case lines := <-read:
		err := cmd.Wait()
		t.Fatalf("demo %v exited (%v) before printing its URL; output:\n%s", args, err, strings.Join(lines, "\n"))
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("demo %v: no URL after 3 minutes", args)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	r.stop = func() ([]string, error) {
		cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			return <-read, err
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			return nil, fmt.Errorf("did not stop within 60 s of SIGINT")
		}
	}
	return r
}

// TestDemoRunsAndStopsCleanly runs `evident demo` as a process on the
// night of a leap day, waits for its URL, loads the overview and the flow
// API, stops it with SIGINT, and checks that nothing is left running and
// the data directory is intact; then again 40 minutes later (the next
// month), reusing the data; then two weeks later, when the data is too old
// to reuse and the demo starts afresh.
func TestDemoRunsAndStopsCleanly(t *testing.T) {
	needClickHouse(t)
	bin := buildEvident(t)
	dir := filepath.Join(t.TempDir(), "demo")
	for run, tc := range []struct{ now, want string }{
		{"2028-02-29T23:30:00Z", "Syncing the simulated Jira (first run)"},
		{"2028-03-01T00:10:00Z", "Reusing the data of the last run"},
		{"2028-03-15T09:00:00Z", "Starting the demo data afresh"},
	} {
		d := startDemo(t, bin, dir, "--now", tc.now)
		for _, path := range []string{"/", "/api/v1/flow?project=SHOP", "/flow", "/value", "/health"} {
			resp, err := http.Get(d.url + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("run %d: GET %s: %d %.300s", run+1, path, resp.StatusCode, body)
			}
			if path == "/" && !strings.Contains(string(body), "Shoppers recommend Webshop") {
				t.Errorf("run %d: the overview does not show the demo's goals", run+1)
			}
		}
		lines, err := d.stop()
		if err != nil {
			t.Fatalf("run %d: demo exited with %v after SIGINT; output:\n%s", run+1, err, strings.Join(lines, "\n"))
		}
		out, _ := exec.Command("pgrep", "-f", dir).Output()
		if strings.TrimSpace(string(out)) != "" {
			t.Fatalf("run %d: processes left running: %s", run+1, out)
		}
		for _, p := range []string{"demo.json", "clickhouse/data", "clickhouse/config.xml"} {
			if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
				t.Fatalf("run %d: %s missing from the data directory: %v", run+1, p, err)
			}
		}
		if joined := strings.Join(lines, "\n"); !strings.Contains(joined, tc.want) {
			t.Fatalf("run %d (now %s) did not say %q:\n%s", run+1, tc.now, tc.want, joined)
		}
	}
}

func TestDemoAnchorReusesOnlyRecentMatchingData(t *testing.T) {
	now := time.Date(2028, 3, 1, 0, 10, 0, 0, time.UTC)
	state := func(seed uint64, issues int, at time.Time) []byte {
		return []byte(fmt.Sprintf(`{"seed":%d,"issues":%d,"now":%q}`, seed, issues, at.Format(time.RFC3339)))
	}
	for _, c := range []struct {
		name   string
		file   []byte
		fresh  bool
		anchor time.Time
		whyHas string
	}{
		{"no state: a first run", nil, true, now, ""},
		{"40 minutes old: reused", state(7, 600, now.Add(-40*time.Minute)), false, now.Add(-40 * time.Minute), ""},
		{"exactly a week old: reused", state(7, 600, now.Add(-maxDemoAge)), false, now.Add(-maxDemoAge), ""},
		{"a week and a second old: afresh", state(7, 600, now.Add(-maxDemoAge-time.Second)), true, now, "more than a week ago"},
		{"dated after now: afresh", state(7, 600, now.Add(time.Hour)), true, now, "after now"},
		{"another seed: afresh", state(8, 600, now.Add(-time.Hour)), true, now, "--seed 8"},
		{"another size: afresh", state(7, 6000, now.Add(-time.Hour)), true, now, "--issues 6000"},
		{"unreadable: afresh", []byte("{"), true, now, "unreadable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, fresh, why := demoAnchor(c.file, 7, 600, now)
			if fresh != c.fresh || !st.Now.Equal(c.anchor) || !strings.Contains(why, c.whyHas) {
				t.Fatalf("fresh %v, anchor %s, why %q; want fresh %v, anchor %s, why containing %q", fresh, st.Now, why, c.fresh, c.anchor, c.whyHas)
			}
		})
	}
}
