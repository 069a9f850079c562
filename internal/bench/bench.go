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
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/evident-ebm/evident/internal/chserver"
	"github.com/evident-ebm/evident/internal/jirasim"
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
	// ReturnAfter is how long after the cached latency run a reader
	// comes back to every view (0: not measured; the full suite: past
	// the cache's one-minute time to live).
	ReturnAfter time.Duration
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
	if o.ReturnAfter == 0 {
		o.ReturnAfter = 75 * time.Second
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
	// Return is a reader back at every view after ReturnAfter, nobody
	// having asked meanwhile (cache on).
	Return     ReturnFigure    `json:"return_visit"`
	LoadTest   LoadTest        `json:"load_test"`
	ServeRSS   float64         `json:"serve_peak_rss_mib"`
	Import     ImportFigure    `json:"import"`
	Compare    []CompareFigure `json:"compare"`
	Live       LiveFigure      `json:"live"`
	Refresh    RefreshFigure   `json:"read_model_refresh"`
	Raw        RawFigure       `json:"flow_vs_raw_clickhouse"`
	ClickHouse string          `json:"clickhouse_version"`
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
	// Last: it adds a site to the loaded database.
	if rep.Live, err = o.live(ctx, dsn, rep.Load.Issues); err != nil {
		return rep, fmt.Errorf("live: %w", err)
	}
	o.logf("live, %d issues stored: webhook to the change in the read model readers use %v ms (dashboard in use: %v ms; %d responses kept across those changes, %d recomputed; 30 s after, %d of %d views computed); incremental sync of %d changed issues %.1f s all told, the data version changing %d times during it",
		rep.Live.Issues, rep.Live.WebhookToVisibleMs, rep.Live.InUseMs, rep.Live.Kept, rep.Live.Recomputed, rep.Live.Computed, rep.Live.Views, rep.Live.Changed, rep.Live.ChangedSyncSeconds, rep.Live.SyncVersions)
	if rep.Refresh, err = o.refresh(ctx, dsn); err != nil {
		return rep, fmt.Errorf("read model refresh: %w", err)
	}
	r := rep.Refresh
	o.logf("read model: full build %.1f s in %d pieces; refresh after one issue written %v ms, after 1,000 recent %.1f s (%d pieces), 1,000 spread %.1f s (%d pieces)",
		r.FullBuildSeconds, r.Pieces, r.OneIssueMs, r.RecentSeconds, r.RecentPieces, r.SpreadSeconds, r.SpreadPieces)
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

var pagePaths = []string{"/", "/flow", "/standup", "/sprints?board=1", "/value", "/forecast?items=100", "/backlog?project=SHOP", "/health", "/initiatives"}

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
