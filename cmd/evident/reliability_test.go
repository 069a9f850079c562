package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/evident-ebm/evident/internal/chserver"
	"github.com/evident-ebm/evident/internal/chtest"
	"github.com/evident-ebm/evident/internal/jirasim"
	"github.com/evident-ebm/evident/schema"
)

const simToken = "sim-token-7f3a9c2e-do-not-log"

// simSite serves a simulated Cloud site and writes a config for it.
func simSite(t *testing.T, issues int, dsn string) (string, *jirasim.Sim) {
	t.Helper()
	sim, err := jirasim.New(jirasim.Options{Config: jirasim.Config{Seed: 5, Issues: issues, Cloud: true}, Email: "rel@example.com", APIToken: simToken})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim.Handler())
	t.Cleanup(ts.Close)
	sim.SetBaseURL(ts.URL)
	cfg := filepath.Join(t.TempDir(), "evident.yaml")
	yaml := fmt.Sprintf("clickhouse:\n  dsn: %s\nsites:\n  - name: rel\n    url: %s\n    email: rel@example.com\n    projects: [SHOP, APP, OPS]\n    requests_per_second: 2000\n    burst: 100\n", dsn, ts.URL)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, sim
}

func syncCmd(bin, cfg string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, append([]string{"sync", "--config", cfg, "--log-format", "json"}, args...)...)
	cmd.Env = append(os.Environ(), "EVIDENT_JIRA_API_TOKEN="+simToken)
	return cmd
}

// fingerprint summarises what the measures read.
func fingerprint(t *testing.T, dsn string) string {
	t.Helper()
	ctx := context.Background()
	st, err := schema.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out []string
	for _, q := range []string{
		`SELECT count(), sum(cityHash64(issue_key, status_category, toString(started_at), toString(done_at), toString(story_points), toString(sprint_ids))) FROM issues FINAL WHERE deleted = 0`,
		`SELECT count(), sum(cityHash64(issue_id, history_id, item_index, to_category, toString(changed_at))) FROM status_transitions FINAL`,
		`SELECT count(), sum(cityHash64(issue_id, history_id, sprint_id, added)) FROM sprint_changes FINAL`,
		`SELECT count(), sum(cityHash64(issue_id, issue_key)) FROM raw_issues FINAL WHERE deleted = 0`,
	} {
		var n, h uint64
		if err := st.QueryRow(ctx, q, nil, &n, &h); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d/%x", n, h))
	}
	return strings.Join(out, " ")
}

// TestSIGKILLedSyncsEndWithTheDataOfAnUninterruptedOne kills `evident sync`
// at random points 20 times, then lets one finish: the stored data equals
// that of a sync never interrupted.
func TestSIGKILLedSyncsEndWithTheDataOfAnUninterruptedOne(t *testing.T) {
	needClickHouse(t)
	bin := buildEvident(t)
	cleanDSN, killedDSN := chtest.DSN(t), chtest.DSN(t)
	cleanCfg, _ := simSite(t, 1500, cleanDSN)
	killedCfg, slow := simSite(t, 1500, killedDSN)
	// Slow answers stretch a sync to about two seconds, so kills land at
	// every stage: metadata, pages, changelogs, writes.
	slow.SetFaults(jirasim.Faults{SlowRate: 1, SlowDelay: 40 * time.Millisecond})
	if out, err := syncCmd(bin, cleanCfg).CombinedOutput(); err != nil {
		t.Fatalf("clean sync: %v\n%s", err, out)
	}
	want := fingerprint(t, cleanDSN)
	r := rand.New(rand.NewPCG(42, 1))
	killedMidway := 0
	for i := 0; i < 20; i++ {
		cmd := syncCmd(bin, killedCfg)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-time.After(time.Duration(20+r.IntN(1500)) * time.Millisecond):
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			killedMidway++
		case <-done:
		}
	}
	if killedMidway < 10 {
		t.Fatalf("only %d of 20 runs were killed before they finished: the test does not test", killedMidway)
	}
	slow.SetFaults(jirasim.Faults{})
	if out, err := syncCmd(bin, killedCfg).CombinedOutput(); err != nil {
		t.Fatalf("final sync: %v\n%s", err, out)
	}
	if got := fingerprint(t, killedDSN); got != want {
		t.Fatalf("after %d kills and a rerun:\n%s\nuninterrupted:\n%s", killedMidway, got, want)
	}
	t.Logf("%d of 20 syncs killed midway; data equal after the rerun", killedMidway)
}

// TestTwoSyncsAtOnce: the second refuses while the first runs; the data is
// that of one sync.
func TestTwoSyncsAtOnce(t *testing.T) {
	needClickHouse(t)
	bin := buildEvident(t)
	dsn := chtest.DSN(t)
	cfg, sim := simSite(t, 3000, dsn)
	sim.SetFaults(jirasim.Faults{SlowRate: 1, SlowDelay: 20 * time.Millisecond}) // keep the first one busy
	var outs [2]bytes.Buffer
	var errs [2]error
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			time.Sleep(time.Duration(i) * 300 * time.Millisecond)
			cmd := syncCmd(bin, cfg)
			cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
			errs[i] = cmd.Run()
		}(i)
	}
	wg.Wait()
	// Exactly one runs, the other stops at once naming it. Which one wins
	// the lock is up to the machine's scheduling: the second starts 300 ms
	// later, but a loaded machine can start it first.
	const busy = "another evident sync of site rel into this database is running"
	ok0 := errs[0] == nil && errs[1] != nil && strings.Contains(outs[1].String(), busy)
	ok1 := errs[1] == nil && errs[0] != nil && strings.Contains(outs[0].String(), busy)
	if !ok0 && !ok1 {
		t.Fatalf("first: %v\n%s\nsecond: %v\n%s", errs[0], outs[0].String(), errs[1], outs[1].String())
	}
	sim.SetFaults(jirasim.Faults{})
	clean := chtest.DSN(t)
	cleanCfg, _ := simSite(t, 3000, clean)
	if out, err := syncCmd(bin, cleanCfg).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if fingerprint(t, dsn) != fingerprint(t, clean) {
		t.Fatal("data differs from a single sync")
	}
}

// TestSecretsNeverReachTheOutput runs a sync, a failing sync and the
// config command with a distinctive token, and greps everything printed.
func TestSecretsNeverReachTheOutput(t *testing.T) {
	needClickHouse(t)
	bin := buildEvident(t)
	dsn := chtest.DSN(t)
	cfg, sim := simSite(t, 300, dsn)
	var all bytes.Buffer
	out, err := syncCmd(bin, cfg).CombinedOutput()
	all.Write(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// A successful sync leaves today's backlog snapshot of each project.
	if st, err := schema.Open(context.Background(), dsn); err == nil {
		n, _ := st.Count(context.Background(), "backlog_snapshots", "rel")
		st.Close()
		if n != 3 {
			t.Errorf("%d backlog snapshots after a sync of 3 projects", n)
		}
	}
	// A token revoked mid-sync: the error path.
	sim.SetFaults(jirasim.Faults{RevokeAfter: 8})
	out, err = syncCmd(bin, cfg, "--full").CombinedOutput()
	all.Write(out)
	if err == nil || !strings.Contains(string(out), "401") {
		t.Fatalf("revoked token: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "config", "--config", cfg)
	cmd.Env = append(os.Environ(), "EVIDENT_JIRA_API_TOKEN="+simToken, "EVIDENT_AUTH_TOKENS=admin:dash-secret-81b1")
	out, _ = cmd.CombinedOutput()
	all.Write(out)
	for _, secret := range []string{simToken, "dash-secret-81b1"} {
		if strings.Contains(all.String(), secret) {
			t.Fatalf("a secret reached the output:\n%s", all.String())
		}
	}
	if !strings.Contains(all.String(), "sync progress") || !strings.Contains(all.String(), "auth=basic e-mail + API token") {
		t.Fatalf("the output is not what was expected:\n%s", all.String())
	}
}

// TestClickHouseStoppedMidSync: the sync fails with a clear error instead
// of hanging or saving a checkpoint, and once ClickHouse is back a rerun
// ends with the data of an uninterrupted sync.
func TestClickHouseStoppedMidSync(t *testing.T) {
	needClickHouse(t)
	bin := buildEvident(t)
	ctx := context.Background()
	dir := t.TempDir()
	ch, err := chserver.Start(ctx, dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { ch.Stop() }()
	dsn := ch.DSN("stopped")
	cfg, sim := simSite(t, 1500, dsn)
	sim.SetFaults(jirasim.Faults{SlowRate: 1, SlowDelay: 40 * time.Millisecond})
	cmd := syncCmd(bin, cfg)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Stop ClickHouse while issues are being stored (after the migrations,
	// however slow the machine is today).
	for i := 0; i < 600 && !strings.Contains(out.String(), "sync progress"); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	port := ch.TCPPort
	ch.Stop()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("the sync reported success with ClickHouse stopped:\n%s", out.String())
		}
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("the sync hung for 2 minutes after ClickHouse stopped:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "sync failed") {
		t.Fatalf("no clear failure:\n%s", out.String())
	}
	if ch, err = chserver.Start(ctx, dir, port); err != nil {
		t.Fatal(err)
	}
	st, err := schema.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := st.Checkpoint(ctx, "rel", "SHOP"); ok {
		t.Fatal("a checkpoint was saved by the failed sync")
	}
	st.Close()
	sim.SetFaults(jirasim.Faults{})
	if out, err := syncCmd(bin, cfg).CombinedOutput(); err != nil {
		t.Fatalf("rerun: %v\n%s", err, out)
	}
	clean := chtest.DSN(t)
	cleanCfg, _ := simSite(t, 1500, clean)
	if out, err := syncCmd(bin, cleanCfg).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if fingerprint(t, dsn) != fingerprint(t, clean) {
		t.Fatal("after ClickHouse came back and the sync was rerun, the data differs from an uninterrupted sync")
	}
}

// lockedBuffer is a bytes.Buffer a child process writes while the test
// reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
