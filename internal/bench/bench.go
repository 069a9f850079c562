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
		return
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
	Date       string          `json:"date"`
	Machine    string          `json:"machine"`
	Quick      bool            `json:"quick"`
	Sync       []SyncFigure    `json:"sync"`
	Load       LoadFigure      `json:"load"`
	API        []LatencyFigure `json:"api"`
	Pages      []LatencyFigure `json:"pages"`
	ServeRSS   float64         `json:"serve_peak_rss_mib"`
	Import     ImportFigure    `json:"import"`
	Compare    []CompareFigure `json:"compare"`
	ClickHouse string          `json:"clickhouse_version"`
}

// SyncFigure is one full sync from the simulator.
type SyncFigure struct {
	Issues         int     `json:"issues"`
	Seconds        float64 `json:"seconds"`
	IssuesPerSec   float64 `json:"issues_per_second"`
	Requests       int     `json:"requests"`
	RequestsPer1k  float64 `json:"requests_per_1000_issues"`
	PeakRSSMiB     float64 `json:"collector_peak_rss_mib"`
	SimulatorBytes int64   `json:"-"`
}

// LoadFigure is the bulk load of issues and transitions.
type LoadFigure struct {
	Issues      int     `json:"issues"`
	Transitions int     `json:"transitions"`
	Seconds     float64 `json:"seconds"`
	RowsPerSec  float64 `json:"rows_per_second"`
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
		o.logf("sync %d issues: %.0f issues/s, %.0f requests per 1,000 issues, peak RSS %.0f MiB", n, f.IssuesPerSec, f.RequestsPer1k, f.PeakRSSMiB)
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
	rss, _, err := o.child(ctx, nil, "sync", "--full", "--config", cfg, "--log-format", "json")
	if err != nil {
		return SyncFigure{}, err
	}
	secs := time.Since(start).Seconds()
	st := sim.Stats()
	return SyncFigure{Issues: n, Seconds: round(secs), IssuesPerSec: round(float64(n) / secs), Requests: int(st.Requests),
		RequestsPer1k: round(float64(st.Requests) * 1000 / float64(n)), PeakRSSMiB: round(rss)}, nil
}

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
	cats := []string{"feature", "defect", "other", "incident", "debt"}
	statuses := []struct{ id, name, cat string }{{"10000", "Backlog", "new"}, {"3", "In Progress", "indeterminate"}, {"10002", "In Review", "indeterminate"}, {"10005", "Done", "done"}}
	t0 := time.Now()
	var issues []evident.Issue
	var trans []evident.Transition
	flush := func() error {
		if err := st.InsertIssues(ctx, issues); err != nil {
			return err
		}
		if err := st.InsertTransitions(ctx, trans); err != nil {
			return err
		}
		issues, trans = issues[:0], trans[:0]
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
	for _, t := range []string{"issues", "status_transitions"} {
		if err := st.Exec(ctx, "OPTIMIZE TABLE "+t+" FINAL"); err != nil {
			return LoadFigure{}, err
		}
	}
	secs := time.Since(t0).Seconds()
	return LoadFigure{Issues: n, Transitions: total, Seconds: round(secs), RowsPerSec: round(float64(n+total) / secs)}, nil
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// serveLoad runs evident serve as a child and measures API and page
// latency under concurrent load, and the server's peak memory.
func (o *Options) serveLoad(ctx context.Context, dsn string, rep *Report) error {
	addr, err := freePort()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, o.Binary, "serve")
	cmd.Env = append(os.Environ(), "EVIDENT_CLICKHOUSE_DSN="+dsn, "EVIDENT_LISTEN="+addr)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	base := "http://" + addr
	for i := 0; ; i++ {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if i > 200 {
			return fmt.Errorf("evident serve did not become ready")
		}
		time.Sleep(100 * time.Millisecond)
	}
	to := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	year := fmt.Sprintf("from=%s&to=%s", to.AddDate(-1, 0, 0).Format("2006-01-02"), to.Format("2006-01-02"))
	for _, path := range []string{
		"/api/v1/flow?" + year, "/api/v1/flow?project=SHOP&" + year, "/api/v1/issues?project=SHOP&limit=100",
		"/api/v1/cfd?" + year, "/api/v1/time-in-status?" + year, "/api/v1/quality?" + year, "/api/v1/releases?" + year, "/api/v1/value?" + year,
		"/api/v1/satisfaction?" + year, "/api/v1/ebm?project=SHOP&" + year, "/api/v1/forecast?items=100",
		"/api/v1/health/data",
	} {
		f := o.hammer(ctx, base, path, o.Requests, false)
		o.logf("%-60s p50 %6.1f ms  p95 %6.1f ms  p99 %6.1f ms  errors %d", f.Path, f.P50ms, f.P95ms, f.P99ms, f.Errors)
		rep.API = append(rep.API, f)
	}
	for _, path := range []string{"/", "/flow", "/value", "/forecast?items=100", "/health"} {
		f := o.hammer(ctx, base, path, max(10, o.Requests/8), true)
		o.logf("page %-55s TTFB p50 %6.1f ms  p95 %6.1f ms", f.Path, f.P50ms, f.P95ms)
		rep.Pages = append(rep.Pages, f)
	}
	rep.ServeRSS = round(peakRSS(cmd.Process.Pid))
	return nil
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
				var first time.Time
				req, _ := http.NewRequestWithContext(ctx, "GET", base+path, nil)
				req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{GotFirstResponseByte: func() { first = time.Now() }}))
				start := time.Now()
				resp, err := client.Do(req)
				ok := err == nil && resp.StatusCode == 200
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				d := time.Since(start)
				if ttfb && !first.IsZero() {
					d = first.Sub(start)
				}
				mu.Lock()
				if ok {
					lat = append(lat, float64(d.Microseconds())/1000)
				} else {
					errs++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.Float64s(lat)
	f := LatencyFigure{Path: path, Requests: len(lat) + errs, Errors: errs}
	if len(lat) > 0 {
		f.P50ms, f.P95ms, f.P99ms = round(metrics.NearestRank(lat, 50)), round(metrics.NearestRank(lat, 95)), round(metrics.NearestRank(lat, 99))
	}
	return f
}

// peakRSS reads a live process's high-water RSS in MiB.
func peakRSS(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
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
