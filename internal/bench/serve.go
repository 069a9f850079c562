package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/evident-ebm/evident/metrics"
)

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
func (o *Options) startServe(ctx context.Context, dsn string, cacheMB int, env ...string) (base string, cmd *exec.Cmd, stop func(), err error) {
	addr, err := freePort()
	if err != nil {
		return "", nil, nil, err
	}
	cmd = exec.CommandContext(ctx, o.Binary, "serve")
	cmd.Env = append(append(os.Environ(), "EVIDENT_CLICKHOUSE_DSN="+dsn, "EVIDENT_LISTEN="+addr, "EVIDENT_CACHE_MB="+strconv.Itoa(cacheMB)), env...)
	// The server's log is kept, so that an error the figures count can be
	// looked into: the run says where, and how many errors it holds.
	logFile, err := os.CreateTemp("", "evident-bench-serve-*.log")
	if err != nil {
		return "", nil, nil, err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return "", nil, nil, err
	}
	stop = func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		logFile.Close()
		o.reportServeLog(logFile.Name(), cacheMB)
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

// reportServeLog says how many errors a server logged, with the first
// three, and where its log is kept (it holds no secret: the server never
// logs tokens).
func (o *Options) reportServeLog(path string, cacheMB int) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var errs []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "level=ERROR") {
			errs = append(errs, line)
		}
	}
	o.logf("evident serve (cache %d MiB) logged %d error(s); log kept in %s", cacheMB, len(errs), path)
	for _, e := range errs[:min(3, len(errs))] {
		o.logf("  %.300s", e)
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
		"/api/v1/epics?project=SHOP", "/api/v1/signals?project=SHOP&" + year, "/api/v1/forecast/scores?project=SHOP",
		"/api/v1/standup?" + year, "/api/v1/standup?project=SHOP&" + year,
		"/api/v1/impediments?" + year, "/api/v1/impediments?project=SHOP&" + year,
	}
}

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
		if cacheMB == 0 {
			if rep.Raw, err = o.rawFlow(ctx, dsn, base); err != nil {
				stop()
				return fmt.Errorf("raw flow queries: %w", err)
			}
			o.logf("%s uncached p50 %.1f / p95 %.1f ms; the raw ClickHouse queries of its figures p50 %.1f / p95 %.1f ms, in alternate rounds: %.1fx",
				rep.Raw.Path, rep.Raw.APIp50, rep.Raw.APIp95, rep.Raw.RawP50, rep.Raw.RawP95, rep.Raw.Ratio)
		}
		for _, path := range pagePaths {
			f := o.hammer(ctx, base, path, max(10, o.Requests/8), true)
			o.logf("%-9s page %-55s TTFB p50 %6.1f ms  p95 %6.1f ms", mode, f.Path, f.P50ms, f.P95ms)
			*pages = append(*pages, f)
		}
		if cacheMB > 0 && o.ReturnAfter > 0 {
			if rep.Return, err = o.returnVisit(ctx, base); err != nil {
				stop()
				return err
			}
			r := rep.Return
			o.logf("return visit after %.0f s: %d views, %d from the cache, p50 %.1f ms, slowest %.1f ms", r.AfterSeconds, r.Views, r.Hits, r.P50ms, r.MaxMs)
		}
		rep.ServeRSS = max(rep.ServeRSS, round(peakRSS(cmd.Process.Pid)))
		stop()
	}
	return nil
}

// ReturnFigure is a reader back at every view (API and pages) once, after
// a wait past the cache's time to live in which nobody asked: how many
// were still computed (the views in use are kept so), and how long they
// took.
type ReturnFigure struct {
	AfterSeconds float64 `json:"after_seconds"`
	Views        int     `json:"views"`
	Hits         int     `json:"hits"`
	P50ms        float64 `json:"p50_ms"`
	MaxMs        float64 `json:"max_ms"`
}

func (o *Options) returnVisit(ctx context.Context, base string) (ReturnFigure, error) {
	f := ReturnFigure{AfterSeconds: o.ReturnAfter.Seconds()}
	select {
	case <-time.After(o.ReturnAfter):
	case <-ctx.Done():
		return f, ctx.Err()
	}
	lat, hits, err := readViews(ctx, base, append(apiPaths(), pagePaths...))
	if err != nil {
		return f, err
	}
	f.Views, f.Hits = len(lat), hits
	f.P50ms, _, _, f.MaxMs = percentiles(lat)
	return f, nil
}

// readViews reads each path once, one after another, as a reader going
// through the views: each one's latency (ms), and how many the response
// cache answered.
func readViews(ctx context.Context, base string, paths []string) (lat []float64, hits int, err error) {
	client := &http.Client{Timeout: time.Minute}
	for _, p := range paths {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+p, nil)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return nil, 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, 0, fmt.Errorf("GET %s: %s", p, resp.Status)
		}
		lat = append(lat, float64(time.Since(start).Microseconds())/1000)
		if resp.Header.Get("X-Evident-Cache") == "hit" {
			hits++
		}
	}
	return lat, hits, nil
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
	lat, errs := o.latencies(ctx, base, path, n, ttfb)
	f := LatencyFigure{Path: path, Requests: len(lat) + errs, Errors: errs}
	f.P50ms, f.P95ms, f.P99ms, _ = percentiles(lat)
	return f
}

// latencies is hammer's measurements: the latency of each successful
// request (ms), and how many failed.
func (o *Options) latencies(ctx context.Context, base, path string, n int, ttfb bool) ([]float64, int) {
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
	return lat, errs
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
