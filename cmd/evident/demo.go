package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/collector"
	"github.com/evident-ebm/evident/inputs"
	"github.com/evident-ebm/evident/internal/chserver"
	"github.com/evident-ebm/evident/internal/demo"
	"github.com/evident-ebm/evident/internal/jirasim"
	"github.com/evident-ebm/evident/schema"
)

// demoState is kept in the demo directory so that a second run reuses the
// data: the simulator is anchored to the first run's "now".
type demoState struct {
	Seed   uint64    `json:"seed"`
	Issues int       `json:"issues"`
	Now    time.Time `json:"now"`
}

// maxDemoAge is how old a demo's anchor may be and still be reused: older
// data would end days before today on every chart, so the demo starts
// afresh instead.
const maxDemoAge = 7 * 24 * time.Hour

// demoAnchor decides the demo's "now": the last run's when its data can be
// reused (same seed and size, at most maxDemoAge old, not after now), else
// now. fresh says the data directory must be emptied first.
func demoAnchor(b []byte, seed uint64, issues int, now time.Time) (st demoState, fresh bool, why string) {
	st = demoState{Seed: seed, Issues: issues, Now: now.UTC().Truncate(time.Second)}
	var old demoState
	switch {
	case b == nil:
		return st, true, ""
	case json.Unmarshal(b, &old) != nil:
		return st, true, "its state file is unreadable"
	case old.Seed != seed || old.Issues != issues:
		return st, true, fmt.Sprintf("it was made with --seed %d --issues %d", old.Seed, old.Issues)
	case old.Now.After(now):
		return st, true, fmt.Sprintf("it is dated %s, after now", old.Now.Format(time.RFC3339))
	case now.Sub(old.Now) > maxDemoAge:
		return st, true, fmt.Sprintf("it is from %s, more than a week ago", old.Now.Format("2006-01-02"))
	}
	return old, false, ""
}

// parseNow reads --now: an RFC 3339 time or a date (midnight UTC).
func parseNow(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, evident.Errorf(evident.EINVALID, "--now %q: want an RFC 3339 time (2028-02-29T23:30:00Z) or a date (2028-02-29)", s)
}

func (m *Main) runDemo(ctx context.Context, args []string) error {
	fs, _ := m.flagSet("demo", "Run Evident on its built-in demo: a private ClickHouse in --dir, the Jira simulator, a real sync and the dashboard")
	dir := fs.String("dir", ".evident", "directory of the demo's data (ClickHouse files and state), reused by the next run")
	listen := fs.String("listen", "127.0.0.1:8080", "dashboard address (a free port is used when this one is taken)")
	issues := fs.Int("issues", 6000, "issues the simulator generates (about two years of three products)")
	seed := fs.Uint64("seed", 7, "seed of the generated data")
	install := fs.Bool("install", true, "on Debian/Ubuntu as root, install clickhouse-server with apt-get when no ClickHouse is found")
	nowFlag := fs.String("now", "", "pretend the current time is this (RFC 3339 or YYYY-MM-DD) and let it run from there: the demo on any date")
	live := fs.Duration("live", 0, "move an issue of the simulated Jira this often (e.g. 20s): its signed webhook brings the change to the dashboard, and open pages offer it (0: off)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *nowFlag != "" {
		at, err := parseNow(*nowFlag)
		if err != nil {
			return err
		}
		began := time.Now()
		m.Now = func() time.Time { return at.Add(time.Since(began)) }
	}
	log, _ := m.newLogger("text", slog.LevelWarn)
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	if _, err := chserver.Find(); err != nil {
		if err := m.installClickHouse(*install); err != nil {
			return err
		}
	}

	// The anchor is decided and written before anything else, so that a
	// run that fails or is stopped halfway is retried on the same data
	// (imports are idempotent by content).
	statePath := filepath.Join(*dir, "demo.json")
	prev, err := os.ReadFile(statePath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	st, fresh, why := demoAnchor(prev, *seed, *issues, m.Now())
	b, _ := json.Marshal(st)
	if err := os.WriteFile(statePath, b, 0o644); err != nil {
		return err
	}

	fmt.Fprintf(m.Stdout, "Starting a private ClickHouse in %s …\n", filepath.Join(*dir, "clickhouse"))
	srv, err := chserver.Start(ctx, filepath.Join(*dir, "clickhouse"), 0)
	if err != nil {
		return fmt.Errorf("start ClickHouse: %w", err)
	}
	defer func() {
		fmt.Fprintln(m.Stdout, "Stopping ClickHouse …")
		srv.Stop()
	}()
	if fresh {
		// Whatever the directory holds belongs to another anchor.
		if why != "" {
			fmt.Fprintf(m.Stdout, "Starting the demo data afresh: the last run's data cannot be reused (%s).\n", why)
		}
		if err := dropDatabase(ctx, srv.DSN("default"), "evident"); err != nil {
			return err
		}
	}
	store, err := schema.Open(ctx, srv.DSN("evident"))
	if err != nil {
		return err
	}
	defer store.Close()
	if _, err := store.Migrate(ctx, ""); err != nil {
		return err
	}

	token := randomToken()
	sim, err := jirasim.New(jirasim.Options{Config: jirasim.Config{Seed: st.Seed, Issues: st.Issues, Projects: 3, Now: st.Now, Cloud: true},
		Email: "demo@evident.local", APIToken: token, ServiceDesk: true})
	if err != nil {
		return err
	}
	simSrv, simURL, err := sim.Listen("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer simSrv.Close()
	fmt.Fprintf(m.Stdout, "Jira simulator with %d issues in 3 products at %s, as of %s\n", st.Issues, simURL, st.Now.Format("2006-01-02 15:04 MST"))

	site := collector.SiteConfig{Name: "demo", URL: simURL, Email: "demo@evident.local", APIToken: token,
		Projects: []string{"SHOP", "APP", "OPS"}, RequestsPerSecond: 2000, Burst: 200, Concurrency: 4,
		ProjectSettings: map[string]collector.ProjectSettings{
			"SHOP": {WaitStatuses: []string{"Blocked", "Waiting"}}, "APP": {WaitStatuses: []string{"Blocked", "Waiting"}},
			"OPS": {WaitStatuses: []string{"Blocked", "Waiting"}}}}
	if fresh {
		fmt.Fprintln(m.Stdout, "Syncing the simulated Jira (first run) …")
	} else {
		fmt.Fprintln(m.Stdout, "Reusing the data of the last run; syncing what changed …")
	}
	c := DefaultConfig()
	c.Sites = []collector.SiteConfig{site}
	if err := m.syncSites(ctx, store, c, collector.Incremental, "", log); err != nil {
		return err
	}
	if err := m.seedEvidence(ctx, store, st); err != nil {
		return err
	}

	c.Listen = *listen
	if ln, err := net.Listen("tcp", c.Listen); err != nil {
		c.Listen = "127.0.0.1:0"
	} else {
		ln.Close()
	}
	c.noJiraLinks = true // the simulator has no /browse pages
	var ready chan string
	if *live > 0 {
		c.Sites[0].WebhookSecret = randomToken()
		ready = make(chan string, 1)
		go m.moveIssues(ctx, sim, ready, c.Sites[0].WebhookSecret, *live, st.Seed)
	}
	fmt.Fprintln(m.Stdout, "Press Ctrl-C to stop.")
	return m.serve(ctx, store, c, log, ready)
}

// moveIssues moves an issue of the simulator forward every interval, as a
// team would (to do → in progress → in review → done), once the dashboard
// listens: the simulator posts each change as a signed Jira webhook.
func (m *Main) moveIssues(ctx context.Context, sim *jirasim.Sim, ready <-chan string, secret string, every time.Duration, seed uint64) {
	var url string
	select {
	case url = <-ready:
	case <-ctx.Done():
		return
	}
	sim.SetWebhook(url+"/api/v1/jira/webhook/demo", secret)
	fmt.Fprintf(m.Stdout, "Live: an issue moves every %s; its webhook reaches %s/api/v1/jira/webhook/demo\n", every, url)
	next := map[string]string{"10000": "3", "10001": "3", "1": "3", "10007": "3", "3": "10002", "10008": "10002", "10006": "3", "10002": "10005"}
	rng := mrand.New(mrand.NewPCG(seed, uint64(time.Now().UnixNano())))
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n := sim.Generator().Len()
		for try := 0; try < 200; try++ {
			is := sim.Issue(rng.IntN(n))
			if is == nil || is.Created.After(m.Now()) || is.Status.Category == "done" || next[is.Status.ID] == "" || is.Type == "Epic" {
				continue
			}
			to := next[is.Status.ID]
			if err := sim.Transition(is.Key, to, m.Now()); err == nil {
				moved := sim.Issue(sim.IndexOf(is.Key))
				fmt.Fprintf(m.Stdout, "Live: %s moved from %s to %s\n", is.Key, is.Status.Name, moved.Status.Name)
			}
			break
		}
	}
}

// dropDatabase empties the demo's database, for a fresh start.
func dropDatabase(ctx context.Context, dsn, name string) error {
	st, err := schema.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Exec(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
		return fmt.Errorf("empty the demo database: %w", err)
	}
	return nil
}

// seedEvidence imports the demo's surveys and value records (idempotent)
// and creates its goals once.
func (m *Main) seedEvidence(ctx context.Context, store *schema.Store, st demoState) error {
	products := []demo.Product{{Key: "SHOP", Name: "Webshop"}, {Key: "APP", Name: "Mobile App"}, {Key: "OPS", Name: "Platform Operations"}}
	from := st.Now.AddDate(-2, 0, 0)
	in := inputs.New(store, "evident-demo")
	in.Now = m.Now
	if _, err := in.ImportSatisfaction(ctx, strings.NewReader(demo.SatisfactionCSV(st.Seed, products, from, st.Now)), "csv", "demo"); err != nil {
		return fmt.Errorf("demo surveys: %w", err)
	}
	if _, err := in.ImportValue(ctx, strings.NewReader(demo.ValueCSV(st.Seed, products, from, st.Now)), "csv", "demo"); err != nil {
		return fmt.Errorf("demo value records: %w", err)
	}
	existing, err := in.Goals(ctx, "SHOP")
	if err != nil || len(existing) > 0 {
		return err
	}
	goals, exp := demo.Goals(products[0], st.Now)
	parent := ""
	for _, g := range goals {
		g.ParentID = parent
		saved, err := in.SaveGoal(ctx, g)
		if err != nil {
			return fmt.Errorf("demo goal: %w", err)
		}
		parent = saved.ID
		if exp.GoalID == "" && g.Level == evident.GoalIntermediate {
			exp.GoalID = saved.ID
		}
	}
	_, err = in.SaveExperiment(ctx, exp)
	return err
}

// installClickHouse installs Debian's package when allowed and possible,
// saying so first; otherwise it explains the two ways.
func (m *Main) installClickHouse(allowed bool) error {
	explain := evident.Errorf(evident.EUNAVAILABLE, "no ClickHouse found. Either install it (Debian/Ubuntu: sudo apt-get install -y clickhouse-server clickhouse-client; "+
		"elsewhere: put the single clickhouse binary of a current release on PATH), or run Evident with docker compose up (see README.md)")
	if !allowed || runtime.GOOS != "linux" || os.Geteuid() != 0 {
		return explain
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return explain
	}
	fmt.Fprintln(m.Stdout, "No ClickHouse found: installing Debian's clickhouse-server and clickhouse-client with apt-get (pass --install=false to refuse) …")
	for _, args := range [][]string{{"update", "-qq"}, {"install", "-y", "-qq", "clickhouse-server", "clickhouse-client"}} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = m.Stderr, m.Stderr
		if err := cmd.Run(); err != nil {
			return errors.Join(fmt.Errorf("apt-get %s: %w", args[0], err), explain)
		}
	}
	_, err := chserver.Find()
	return err
}

func randomToken() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
