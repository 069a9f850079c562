package main

import (
	"bufio"
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

// TestDemoRunsAndStopsCleanly runs `evident demo` as a process, waits for
// its URL, loads the overview and the flow API, stops it with SIGINT, and
// checks that nothing is left running and the data directory is intact —
// then runs it again on the same directory.
func TestDemoRunsAndStopsCleanly(t *testing.T) {
	needClickHouse(t)
	bin := buildEvident(t)
	dir := filepath.Join(t.TempDir(), "demo")
	for run := 1; run <= 2; run++ {
		cmd := exec.Command(bin, "demo", "--dir", dir, "--listen", "127.0.0.1:0", "--issues", "600", "--install=false")
		stdout, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		urls := make(chan string, 1)
		var lines []string
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines = append(lines, sc.Text())
				if u, ok := strings.CutPrefix(sc.Text(), "Evident dashboard at "); ok {
					urls <- u
				}
			}
		}()
		var url string
		select {
		case url = <-urls:
		case <-time.After(3 * time.Minute):
			cmd.Process.Kill()
			t.Fatalf("run %d: no URL after 3 minutes; output: %v", run, lines)
		}
		for _, path := range []string{"/", "/api/v1/flow?project=SHOP", "/flow", "/value"} {
			resp, err := http.Get(url + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("run %d: GET %s: %d %.300s", run, path, resp.StatusCode, body)
			}
			if path == "/" && !strings.Contains(string(body), "Shoppers recommend Webshop") {
				t.Errorf("run %d: the overview does not show the demo's goals", run)
			}
		}
		cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run %d: demo exited with %v after SIGINT; output: %v", run, err, lines)
			}
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("run %d: demo did not stop within 60 s of SIGINT", run)
		}
		out, _ := exec.Command("pgrep", "-f", dir).Output()
		if strings.TrimSpace(string(out)) != "" {
			t.Fatalf("run %d: processes left running: %s", run, out)
		}
		for _, p := range []string{"demo.json", "clickhouse/data", "clickhouse/config.xml"} {
			if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
				t.Fatalf("run %d: %s missing from the data directory: %v", run, p, err)
			}
		}
		joined := strings.Join(lines, "\n")
		if run == 2 && !strings.Contains(joined, "Reusing the data of the last run") {
			t.Fatalf("the second run did not reuse the data:\n%s", joined)
		}
	}
}
