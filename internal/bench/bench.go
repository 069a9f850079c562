// Package bench is Evident's reproducible benchmark suite: it starts a
// private ClickHouse and the Jira simulator on this machine, runs the real
// evident binary against them as child processes (so that their memory is
// measured apart from the simulator's), and reports throughput, latency and
// memory.
package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/internal/chserver"
	"github.com/evident-ebm/evident/internal/jirasim"
	"github.com/evident-ebm/evident/metrics"
	"github.com/evident-ebm/evident/schema"
)

// Options size the suite.
type Options struct {
	Binary       string // the evident binary to run as child processes
	Quick        bool
	Log          io.Writer
	SyncSizes    []int
	LoadIssues   int
	Requests     int // per endpoint
	Clients      int
	ImportRows   int
	CompareSizes []int
	// LoadClients clients request a mix of URLs for LoadDuration.
	LoadClients  int
	LoadDuration time.Duration
}

// Defaults fills the sizes: the full suite, or the quick one (< 3 min).
func (o *Options) Defaults() {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Clients == 0 {
		o.Clients = 8
	}
	if o.Quick {
		o.SyncSizes, o.LoadIssues, o.Requests, o.ImportRows, o.CompareSizes = []int{10000}, 100000, 80, 100000, []int{100000}
		o.LoadClients, o.LoadDuration = 10, 10*time.Second
		return
	}
	if o.LoadClients == 0 {
		o.LoadClients = 50
	}
	if o.LoadDuration == 0 {
		o.LoadDuration = time.Minute
	}
	if o.SyncSizes == nil {
		o.SyncSizes = []int{10000, 100000}
	}
	if o.LoadIssues == 0 {
		o.LoadIssues = 1000000
	}
	if o.Requests == 0 {
		o.Requests = 200
	}
	if o.ImportRows == 0 {
		o.ImportRows = 1000000
	}
	if o.CompareSizes == nil {
		o.CompareSizes = []int{100000, 1000000}
	}
}

// Report is every figure the suite measured.
type Report struct {
	Date    string       `json:"date"`
	Machine string       `json:"machine"`
	Quick   bool         `json:"quick"`
	Sync    []SyncFigure `json:"sync"`
	Load    LoadFigure   `json:"load"`
	// API and Pages are measured with the response cache off: every
	// request computed, as the first one after a sync is.
	API   []LatencyFigure `json:"api"`
	Pages []LatencyFigure `json:"pages"`
	// APICached and PagesCached are the same with the cache on (default).
	APICached   []LatencyFigure `json:"api_cached"`
	PagesCached []LatencyFigure `json:"pages_cached"`
	LoadTest    LoadTest        `json:"load_test"`
	ServeRSS    float64         `json:"serve_peak_rss_mib"`
	Import      ImportFigure    `json:"import"`
	Compare     []CompareFigure `json:"compare"`
	ClickHouse  string          `json:"clickhouse_version"`
}

// SyncFigure is one full sync from the simulator.
type SyncFigure struct {
	Issues        int     `json:"issues"`
	Seconds       float64 `json:"seconds"`
	IssuesPerSec  float64 `json:"issues_per_second"`
	Requests      int     `json:"requests"`
	RequestsPer1k float64 `json:"requests_per_1000_issues"`
	PeakRSSMiB    float64 `json:"collector_peak_rss_mib"`
	// ReadModelSeconds is the part of Seconds spent building the read
	// model after the data was stored; FetchIssuesPerSec leaves it out.
	ReadModelSeconds  float64 `json:"read_model_seconds"`
	FetchIssuesPerSec float64 `json:"fetch_and_store_issues_per_second"`
	SimulatorBytes    int64   `json:"-"`
}

// LoadFigure is the bulk load of issues and transitions.
type LoadFigure struct {
	Issues      int     `json:"issues"`
	Transitions int     `json:"transitions"`
	Seconds     float64 `json:"seconds"`
	RowsPerSec  float64 `json:"rows_per_second"`
	// ReadModelSeconds is the build of the read model after the load.
	ReadModelSeconds float64 `json:"read_model_seconds"`
}

// LatencyFigure is the latency of one endpoint under concurrent load.
type LatencyFigure struct {
	Path     string  `json:"path"`
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	P50ms    float64 `json:"p50_ms"`
	P95ms    float64 `json:"p95_ms"`
	P99ms    float64 `json:"p99_ms"`
}

// ImportFigure is a survey import.
type ImportFigure struct {
	Rows       int     `json:"rows"`
	Seconds    float64 `json:"seconds"`
	RowsPerSec float64 `json:"rows_per_second"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
}

// CompareFigure compares Evident's ClickHouse path with loading every issue
// and transition into Go, as a script would.
type CompareFigure struct {
	Issues       int     `json:"issues"`
	EvidentMs    float64 `json:"evident_ms"`
	NaiveMs      float64 `json:"naive_ms"`
	Ratio        float64 `json:"ratio"`
	NaiveHeapMiB float64 `json:"naive_heap_mib"`
	SameP85      bool    `json:"same_result"`
}

func (o *Options) logf(format string, args ...any) { fmt.Fprintf(o.Log, format+"\n", args...) }

// Run runs the suite.
func Run(ctx context.Context, o Options) (Report, error) {
	o.Defaults()
	rep := Report{Date: time.Now().UTC().Format(time.RFC3339), Quick: o.Quick, Machine: machine()}
	dir, err := os.MkdirTemp("", "evident-bench-")
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(dir)
	o.logf("starting ClickHouse in %s", dir)
	ch, err := chserver.Start(ctx, filepath.Join(dir, "ch"), 0)
	if err != nil {
		return rep, err
	}
	defer ch.Stop()
	st, err := schema.Open(ctx, ch.DSN("default"))
	if err == nil {
		st.QueryRow(ctx, "SELECT version()", nil, &rep.ClickHouse)
		st.Close()
	}

	for _, n := range o.SyncSizes {
		f, err := o.syncOnce(ctx, ch, n)
		if err != nil {
			return rep, fmt.Errorf("sync %d: %w", n, err)
		}
		o.logf("sync %d issues: %.0f issues/s (%.0f without the %.1f s read model build), %.0f requests per 1,000 issues, peak RSS %.0f MiB",
			n, f.IssuesPerSec, f.FetchIssuesPerSec, f.ReadModelSeconds, f.RequestsPer1k, f.PeakRSSMiB)
		rep.Sync = append(rep.Sync, f)
	}

	dsn := ch.DSN("bench_load")
	if rep.Load, err = Load(ctx, dsn, o.LoadIssues); err != nil {
		return rep, fmt.Errorf("load: %w", err)
	}
	o.logf("loaded %d issues and %d transitions in %.1f s", rep.Load.Issues, rep.Load.Transitions, rep.Load.Seconds)

	if err := o.serveLoad(ctx, dsn, &rep); err != nil {
		return rep, fmt.Errorf("api: %w", err)
	}
	if rep.LoadTest, err = o.loadTest(ctx, dsn, o.LoadClients, o.LoadDuration); err != nil {
		return rep, fmt.Errorf("load test: %w", err)
	}
	lt := rep.LoadTest
	o.logf("load test: %d clients for %.0f s over %d URLs: %d requests (%.0f/s), %d errors, p50 %.1f ms, p95 %.1f ms, p99 %.1f ms; RSS %.0f → %.0f MiB (peak %.0f), every 5 s %v",
		lt.Clients, lt.Seconds, lt.URLs, lt.Requests, lt.PerSecond, lt.Errors, lt.P50ms, lt.P95ms, lt.P99ms, lt.RSSStartMiB, lt.RSSEndMiB, lt.RSSPeakMiB, lt.RSSSamplesMiB)
	if rep.Import, err = o.importOnce(ctx, ch, dir); err != nil {
		return rep, fmt.Errorf("import: %w", err)
	}
	o.logf("import %d rows: %.0f rows/s, peak RSS %.0f MiB", rep.Import.Rows, rep.Import.RowsPerSec, rep.Import.PeakRSSMiB)
	for _, n := range o.CompareSizes {
		cdsn := dsn
		if n != o.LoadIssues {
			cdsn = ch.DSN(fmt.Sprintf("bench_cmp_%d", n))
			if _, err := Load(ctx, cdsn, n); err != nil {
				return rep, err
			}
		}
		c, err := compare(ctx, cdsn, n)
		if err != nil {
			return rep, fmt.Errorf("compare %d: %w", n, err)
		}
		o.logf("compare %d: Evident %.0f ms, naive %.0f ms (x%.1f)", n, c.EvidentMs, c.NaiveMs, c.Ratio)
		rep.Compare = append(rep.Compare, c)
	}
	return rep, nil
}

func machine() string {
	cpu := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "MemTotal:") {
				kb, _ := strconv.Atoi(strings.Fields(l)[1])
				mem = fmt.Sprintf(", %.0f GiB", float64(kb)/1024/1024)
			}
		}
	}
	return fmt.Sprintf("%d cores, %s%s", numCPU(), cpu, mem)
}

// child runs the evident binary and returns its peak RSS in MiB.
func (o *Options) child(ctx context.Context, env []string, args ...string) (float64, string, error) {
	cmd := exec.CommandContext(ctx, o.Binary, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, string(out), fmt.Errorf("%s %s: %v\n%s", o.Binary, strings.Join(args, " "), err, out)
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	rss := 0.0
	if ru != nil {
		rss = float64(ru.Maxrss) / 1024
	}
	return rss, string(out), nil
}

func (o *Options) syncOnce(ctx context.Context, ch *chserver.Server, n int) (SyncFigure, error) {
	sim, err := jirasim.New(jirasim.Options{Config: jirasim.Config{Seed: 7, Issues: n, Cloud: true}, Email: "bench@evident.local", APIToken: "bench"})
	if err != nil {
		return SyncFigure{}, err
	}
	srv, url, err := sim.Listen("127.0.0.1:0")
	if err != nil {
		return SyncFigure{}, err
	}
	defer srv.Close()
	cfg := filepath.Join(os.TempDir(), fmt.Sprintf("evident-bench-%d.yaml", n))
	yaml := fmt.Sprintf("clickhouse:\n  dsn: %s\nsites:\n  - name: bench\n    url: %s\n    email: bench@evident.local\n    api_token: bench\n    projects: [SHOP, APP, OPS]\n    requests_per_second: 1000\n    burst: 100\n    concurrency: 4\n",
		ch.DSN(fmt.Sprintf("bench_sync_%d", n)), url)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		return SyncFigure{}, err
	}
	defer os.Remove(cfg)
	start := time.Now()
	rss, out, err := o.child(ctx, nil, "sync", "--full", "--config", cfg, "--log-format", "json")
	if err != nil {
		return SyncFigure{}, err
	}
	secs := time.Since(start).Seconds()
	st := sim.Stats()
	f := SyncFigure{Issues: n, Seconds: round(secs), IssuesPerSec: round(float64(n) / secs), Requests: int(st.Requests),
		RequestsPer1k: round(float64(st.Requests) * 1000 / float64(n)), PeakRSSMiB: round(rss)}
	if m := readModelLine.FindStringSubmatch(out); m != nil {
		if d, err := time.ParseDuration(m[1]); err == nil {
			f.ReadModelSeconds = round(d.Seconds())
			f.FetchIssuesPerSec = round(float64(n) / (secs - d.Seconds()))
		}
	}
	return f, nil
}

// readModelLine finds the read model's build time in a sync's summary.
var readModelLine = regexp.MustCompile(`read model rebuilt in ([0-9.]+[mµn]?s)`)

// Load bulk-inserts synthetic issues (8 transitions each) through the
// store's batch path: the data of the latency and comparison runs.
func Load(ctx context.Context, dsn string, n int) (LoadFigure, error) {
	st, err := schema.Open(ctx, dsn)
	if err != nil {
		return LoadFigure{}, err
	}
	defer st.Close()
	if _, err := st.Migrate(ctx, ""); err != nil {
		return LoadFigure{}, err
	}
	projects := []string{"SHOP", "APP", "OPS"}
	var prj []evident.Project
	for i, p := range projects {
		prj = append(prj, evident.Project{Site: "bench", ProjectID: uint64(i + 1), Key: p, Name: p, Version: 1})
	}
	if err := st.InsertProjects(ctx, prj); err != nil {
		return LoadFigure{}, err
	}
	r := rand.New(rand.NewPCG(1, 2))
	now := time.Now().UTC().Truncate(time.Second)
	startAll := now.AddDate(-2, 0, 0)
	span := now.Sub(startAll).Seconds()
	types := []string{"Story", "Bug", "Task", "Incident", "Tech Debt"}
	cats := []string{evident.WorkFeature, evident.WorkDefect, evident.WorkOther, evident.WorkIncident, evident.WorkDebt} // this order: the datasets stay as measured
	statuses := []struct{ id, name, cat string }{{"10000", "Backlog", "new"}, {"3", "In Progress", "indeterminate"}, {"10002", "In Review", "indeterminate"}, {"10005", "Done", "done"}}
	t0 := time.Now()
	// One Scrum board per project with two-week sprints over the two years;
	// one issue in 160 goes through sprints (about 40 a sprint, as on a
	// real board), carried over while not done.
	const sprintLen = 14 * 24 * time.Hour
	nSprints := int(now.Sub(startAll)/sprintLen) + 1
	var boards []evident.Board
	var sprints []evident.Sprint
	for b, p := range projects {
		boards = append(boards, evident.Board{Site: "bench", BoardID: uint64(b + 1), Name: p + " board", Type: "scrum", ProjectKey: p, Version: 1})
		for k := 0; k < nSprints; k++ {
			start := startAll.Add(time.Duration(k) * sprintLen)
			end := start.Add(sprintLen)
			sp := evident.Sprint{Site: "bench", SprintID: sprintID(b, k), BoardID: uint64(b + 1), Name: fmt.Sprintf("%s sprint %d", p, k+1),
				State: "closed", StartAt: &start, EndAt: &end, CompleteAt: &end, Version: 1}
			if end.After(now) {
				sp.State, sp.CompleteAt = "active", nil
			}
			sprints = append(sprints, sp)
		}
	}
	if err := st.InsertBoards(ctx, boards); err != nil {
		return LoadFigure{}, err
	}
	if err := st.InsertSprints(ctx, sprints); err != nil {
		return LoadFigure{}, err
	}
	var issues []evident.Issue
	var trans []evident.Transition
	var changes []evident.SprintChange
	var fields []evident.FieldChange
	flush := func() error {
		if err := st.InsertIssues(ctx, issues); err != nil {
			return err
		}
		if err := st.InsertTransitions(ctx, trans); err != nil {
			return err
		}
		if err := st.InsertSprintChanges(ctx, changes); err != nil {
			return err
		}
		if err := st.InsertFieldChanges(ctx, fields); err != nil {
			return err
		}
		issues, trans, changes, fields = issues[:0], trans[:0], changes[:0], fields[:0]
		return nil
	}
	total := 0
	for i := 0; i < n; i++ {
		created := startAll.Add(time.Duration(float64(i)/float64(n)*span) * time.Second)
		ti := r.IntN(len(types))
		is := evident.Issue{Site: "bench", IssueID: uint64(i + 1), IssueKey: fmt.Sprintf("%s-%d", projects[i%3], i/3+1), ProjectKey: projects[i%3],
			IssueType: types[ti], WorkCategory: cats[ti], Summary: "Benchmark issue", Labels: []string{}, Components: []string{}, FixVersions: []string{},
			SprintIDs: []uint64{}, CreatedAt: created, UpdatedAt: created, Version: 1}
		at := created
		cur := 0
		hid := uint64(i) * 16
		for k := 0; k < 8; k++ {
			at = at.Add(time.Duration(r.ExpFloat64()*2*86400) * time.Second)
			if at.After(now) {
				break
			}
			next := (cur + 1) % 4
			if k == 7 {
				next = 3
			}
			if cur == 3 && next != 3 {
				next = 1 // reopened
			}
			trans = append(trans, evident.Transition{Site: "bench", IssueID: is.IssueID, HistoryID: hid + uint64(k), IssueKey: is.IssueKey, ProjectKey: is.ProjectKey,
				ChangedAt: at, FromStatusID: statuses[cur].id, ToStatusID: statuses[next].id, FromStatus: statuses[cur].name, ToStatus: statuses[next].name,
				FromCategory: statuses[cur].cat, ToCategory: statuses[next].cat, Version: 1})
			if statuses[next].cat == "indeterminate" && is.StartedAt == nil {
				s := at
				is.StartedAt = &s
			}
			if statuses[next].cat == "done" && statuses[cur].cat != "done" {
				d := at
				is.DoneAt = &d
			} else if statuses[next].cat != "done" {
				is.DoneAt = nil
			}
			cur = next
		}
		is.StatusID, is.StatusName, is.StatusCategory = statuses[cur].id, statuses[cur].name, statuses[cur].cat
		// Every issue is estimated an hour after creation.
		points := float64(1 + i%8)
		is.StoryPoints = &points
		fields = append(fields, evident.FieldChange{Site: "bench", IssueID: is.IssueID, HistoryID: hid + 15, IssueKey: is.IssueKey,
			ChangedAt: created.Add(time.Hour), Field: "Story Points", FieldID: "customfield_10016", ToValue: strconv.Itoa(int(points)),
			ToString: strconv.Itoa(int(points)), Version: 1})
		if i%160 == 0 && is.StartedAt != nil {
			b := i % 3
			for k := int(is.StartedAt.Sub(startAll) / sprintLen); k < nSprints; k++ {
				start := startAll.Add(time.Duration(k) * sprintLen)
				at := start.Add(-time.Hour) // planned before the start, or added when created
				if created.After(at) {
					at = created
				}
				changes = append(changes, evident.SprintChange{Site: "bench", IssueID: is.IssueID, HistoryID: hid + 8 + uint64(k%7), SprintID: sprintID(b, k),
					IssueKey: is.IssueKey, ProjectKey: is.ProjectKey, ChangedAt: at, Added: 1, Version: 1})
				is.SprintIDs = append(is.SprintIDs, sprintID(b, k))
				if is.DoneAt != nil && is.DoneAt.Before(start.Add(sprintLen)) {
					break
				}
			}
		}
		issues = append(issues, is)
		if len(issues) >= 20000 {
			total += len(trans)
			if err := flush(); err != nil {
				return LoadFigure{}, err
			}
		}
	}
	total += len(trans)
	if err := flush(); err != nil {
		return LoadFigure{}, err
	}
	// Merge the parts so that FINAL reads one part, as after any quiet hour.
	for _, t := range []string{"issues", "status_transitions", "sprint_changes", "field_changes"} {
		if err := st.Exec(ctx, "OPTIMIZE TABLE "+t+" FINAL"); err != nil {
			return LoadFigure{}, err
		}
	}
	secs := time.Since(t0).Seconds()
	g, err := st.BuildReadModel(ctx)
	if err != nil {
		return LoadFigure{}, err
	}
	return LoadFigure{Issues: n, Transitions: total, Seconds: round(secs), RowsPerSec: round(float64(n+total) / secs),
		ReadModelSeconds: round(g.Took.Seconds())}, nil
}

func sprintID(board, k int) uint64 { return uint64((board+1)*1000 + k + 1) }

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startServe runs evident serve as a child with the response cache of
// cacheMB MiB (0: off) and waits until it is ready.
func (o *Options) startServe(ctx context.Context, dsn string, cacheMB int) (base string, cmd *exec.Cmd, stop func(), err error) {
	addr, err := freePort()
	if err != nil {
		return "", nil, nil, err
	}
	cmd = exec.CommandContext(ctx, o.Binary, "serve")
	cmd.Env = append(os.Environ(), "EVIDENT_CLICKHOUSE_DSN="+dsn, "EVIDENT_LISTEN="+addr, "EVIDENT_CACHE_MB="+strconv.Itoa(cacheMB))
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return "", nil, nil, err
	}
	stop = func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}
	base = "http://" + addr
	for i := 0; ; i++ {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base, cmd, stop, nil
			}
		}
		if i > 600 {
			stop()
			return "", nil, nil, fmt.Errorf("evident serve did not become ready")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// apiPaths are the endpoints measured, each for a one-year range.
func apiPaths() []string {
	to := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	year := fmt.Sprintf("from=%s&to=%s", to.AddDate(-1, 0, 0).Format("2006-01-02"), to.Format("2006-01-02"))
	return []string{
		"/api/v1/flow?" + year, "/api/v1/flow?project=SHOP&" + year, "/api/v1/issues?project=SHOP&limit=100",
		"/api/v1/cfd?" + year, "/api/v1/time-in-status?" + year, "/api/v1/sprints?board=1", "/api/v1/quality?" + year,
		"/api/v1/releases?" + year, "/api/v1/value?" + year, "/api/v1/satisfaction?" + year, "/api/v1/ebm?project=SHOP&" + year,
		"/api/v1/forecast?items=100", "/api/v1/backlog?project=SHOP", "/api/v1/health/data", "/api/v1/catalog",
	}
}

var pagePaths = []string{"/", "/flow", "/sprints?board=1", "/value", "/forecast?items=100", "/backlog?project=SHOP", "/health"}

// serveLoad measures API and page latency under concurrent load twice:
// with the response cache off (every request computed: the first request
// after a sync) and on (the default), and the server's peak memory.
func (o *Options) serveLoad(ctx context.Context, dsn string, rep *Report) error {
	for _, cacheMB := range []int{0, 64} {
		base, cmd, stop, err := o.startServe(ctx, dsn, cacheMB)
		if err != nil {
			return err
		}
		api, pages := &rep.API, &rep.Pages
		mode := "cache off"
		if cacheMB > 0 {
			api, pages, mode = &rep.APICached, &rep.PagesCached, "cache on"
		}
		for _, path := range apiPaths() {
			f := o.hammer(ctx, base, path, o.Requests, false)
			o.logf("%-9s %-60s p50 %6.1f ms  p95 %6.1f ms  p99 %6.1f ms  errors %d", mode, f.Path, f.P50ms, f.P95ms, f.P99ms, f.Errors)
			*api = append(*api, f)
		}
		for _, path := range pagePaths {
			f := o.hammer(ctx, base, path, max(10, o.Requests/8), true)
			o.logf("%-9s page %-55s TTFB p50 %6.1f ms  p95 %6.1f ms", mode, f.Path, f.P50ms, f.P95ms)
			*pages = append(*pages, f)
		}
		rep.ServeRSS = max(rep.ServeRSS, round(peakRSS(cmd.Process.Pid)))
		stop()
	}
	return nil
}

// LoadTest is many clients over a mix of endpoints, pages and filters for
// a fixed time, with the server's memory sampled every second.
type LoadTest struct {
	Clients     int     `json:"clients"`
	Seconds     float64 `json:"seconds"`
	URLs        int     `json:"distinct_urls"`
	Requests    int     `json:"requests"`
	Errors      int     `json:"errors"`
	PerSecond   float64 `json:"requests_per_second"`
	P50ms       float64 `json:"p50_ms"`
	P95ms       float64 `json:"p95_ms"`
	P99ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
	RSSStartMiB float64 `json:"rss_start_mib"`
	RSSEndMiB   float64 `json:"rss_end_mib"`
	RSSPeakMiB  float64 `json:"rss_peak_mib"`
	// RSSSamplesMiB is the server's RSS every 5 seconds of the run.
	RSSSamplesMiB []float64 `json:"rss_samples_mib"`
}

// loadTest runs the default server (cache on) under Clients clients for
// the given time, each walking the URL mix from a different start.
func (o *Options) loadTest(ctx context.Context, dsn string, clients int, d time.Duration) (LoadTest, error) {
	base, cmd, stop, err := o.startServe(ctx, dsn, 64)
	if err != nil {
		return LoadTest{}, err
	}
	defer stop()
	var urls []string
	to := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	for _, project := range []string{"", "project=SHOP&", "project=APP&", "project=OPS&"} {
		for _, months := range []int{3, 12} {
			rng := fmt.Sprintf("from=%s&to=%s", to.AddDate(0, -months, 0).Format("2006-01-02"), to.Format("2006-01-02"))
			for _, p := range []string{"/api/v1/flow", "/api/v1/cfd", "/api/v1/time-in-status", "/api/v1/quality", "/api/v1/ebm", "/flow", "/"} {
				urls = append(urls, p+"?"+project+rng)
			}
		}
	}
	urls = append(urls, apiPaths()...)
	urls = append(urls, pagePaths...)
	lt := LoadTest{Clients: clients, URLs: len(urls), RSSStartMiB: round(rss(cmd.Process.Pid))}
	var mu sync.Mutex
	var lat []float64
	stopAt := time.Now().Add(d)
	done := make(chan struct{})
	tick := 0
	go func() { // memory, every second
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Second):
				r := rss(cmd.Process.Pid)
				mu.Lock()
				lt.RSSPeakMiB = max(lt.RSSPeakMiB, round(r))
				if tick++; tick%5 == 0 {
					lt.RSSSamplesMiB = append(lt.RSSSamplesMiB, round(r))
				}
				mu.Unlock()
			}
		}
	}()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := c * 7; time.Now().Before(stopAt); i++ {
				ms, ok := timedGet(ctx, client, base+urls[i%len(urls)], false)
				mu.Lock()
				if ok {
					lat = append(lat, ms)
				} else {
					lt.Errors++
				}
				mu.Unlock()
			}
		}(c)
	}
	wg.Wait()
	close(done)
	lt.Seconds = round(time.Since(start).Seconds())
	lt.RSSEndMiB = round(rss(cmd.Process.Pid))
	lt.RSSPeakMiB = max(lt.RSSPeakMiB, round(peakRSS(cmd.Process.Pid)))
	lt.Requests = len(lat) + lt.Errors
	lt.PerSecond = round(float64(lt.Requests) / lt.Seconds)
	lt.P50ms, lt.P95ms, lt.P99ms, lt.MaxMs = percentiles(lat)
	return lt, nil
}

// hammer sends n requests from Clients goroutines and reports latency (or
// time to first byte for pages).
func (o *Options) hammer(ctx context.Context, base, path string, n int, ttfb bool) LatencyFigure {
	var mu sync.Mutex
	var lat []float64
	errs := 0
	var wg sync.WaitGroup
	next := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		next <- struct{}{}
	}
	close(next)
	client := &http.Client{Timeout: 30 * time.Second}
	deadline := time.Now().Add(45 * time.Second) // bounded: a slow endpoint is measured on fewer requests
	for c := 0; c < o.Clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				if time.Now().After(deadline) {
					continue
				}
				ms, ok := timedGet(ctx, client, base+path, ttfb)
				mu.Lock()
				if ok {
					lat = append(lat, ms)
				} else {
					errs++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	f := LatencyFigure{Path: path, Requests: len(lat) + errs, Errors: errs}
	f.P50ms, f.P95ms, f.P99ms, _ = percentiles(lat)
	return f
}

// timedGet fetches url and reads the whole answer; ms is the time to the
// answer's end, or to its first byte with ttfb; ok means a 200.
func timedGet(ctx context.Context, client *http.Client, url string, ttfb bool) (ms float64, ok bool) {
	var first time.Time
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	if ttfb {
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{GotFirstResponseByte: func() { first = time.Now() }}))
	}
	start := time.Now()
	resp, err := client.Do(req)
	ok = err == nil && resp.StatusCode == 200
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	d := time.Since(start)
	if ttfb && !first.IsZero() {
		d = first.Sub(start)
	}
	return float64(d.Microseconds()) / 1000, ok
}

// percentiles sorts latencies and returns their nearest-rank p50, p95,
// p99 and maximum (zeros when there are none).
func percentiles(lat []float64) (p50, p95, p99, maxMs float64) {
	if len(lat) == 0 {
		return
	}
	sort.Float64s(lat)
	return round(metrics.NearestRank(lat, 50)), round(metrics.NearestRank(lat, 95)), round(metrics.NearestRank(lat, 99)), round(lat[len(lat)-1])
}

// rss reads a live process's resident memory in MiB.
func rss(pid int) float64 { return procStatus(pid, "VmRSS:") }

// peakRSS reads a live process's high-water RSS in MiB.
func peakRSS(pid int) float64 { return procStatus(pid, "VmHWM:") }

func procStatus(pid int, field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, field) {
			kb, _ := strconv.Atoi(strings.Fields(l)[1])
			return float64(kb) / 1024
		}
	}
	return 0
}

func (o *Options) importOnce(ctx context.Context, ch *chserver.Server, dir string) (ImportFigure, error) {
	path := filepath.Join(dir, "surveys.csv")
	f, err := os.Create(path)
	if err != nil {
		return ImportFigure{}, err
	}
	w := bufio.NewWriter(f)
	w.WriteString("responded_at,scale,score,product,respondent,comment\n")
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < o.ImportRows; i++ {
		scale, score := "nps", i%11
		if i%3 == 0 {
			scale, score = "csat", 1+i%5
		}
		fmt.Fprintf(w, "%s,%s,%d,%s,user%d@example.com,\n", start.Add(time.Duration(i)*time.Minute).Format(time.RFC3339), scale, score, []string{"SHOP", "APP"}[i%2], i)
	}
	w.Flush()
	f.Close()
	t0 := time.Now()
	rss, _, err := o.child(ctx, []string{"EVIDENT_CLICKHOUSE_DSN=" + ch.DSN("bench_import")}, "import", "satisfaction", path)
	if err != nil {
		return ImportFigure{}, err
	}
	secs := time.Since(t0).Seconds()
	return ImportFigure{Rows: o.ImportRows, Seconds: round(secs), RowsPerSec: round(float64(o.ImportRows) / secs), PeakRSSMiB: round(rss)}, nil
}

func round(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }
