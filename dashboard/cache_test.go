package dashboard_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/collector"
	"github.com/evident-ebm/evident/dashboard"
	"github.com/evident-ebm/evident/internal/jirasim"
	"github.com/evident-ebm/evident/metrics"
	"github.com/evident-ebm/evident/schema"
)

// The response cache serves a repeated request from memory, computes
// identical concurrent requests once, and never serves a response computed
// before a write: one through this server (at once) or one by another
// process (within the one-second version poll).
func TestResponseCacheFollowsTheData(t *testing.T) {
	st := openDB(t, "dashboard_cache")
	e := sharedEnv(t)
	if _, err := st.BuildReadModel(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv := dashboard.New(dashboard.Config{Measures: metrics.New(st), Pinger: st, Inputs: e.inputsFor(st), AdminTokens: []string{"a"},
		Versioner: st, CacheBytes: 8 << 20})
	const path = "/api/v1/satisfaction?product=SHOP&from=2025-01-01&to=2026-01-01"
	get := func() (string, string) {
		t.Helper()
		status, body, h := do(t, srv.App, "GET", path, "a", "")
		if status != 200 {
			t.Fatalf("GET %s: %d %s", path, status, body)
		}
		return body, h.Get("X-Evident-Cache")
	}

	// Eight identical requests at once: one computes, the others wait for it.
	var wg sync.WaitGroup
	bodies := make([]string, 8)
	for i := range bodies {
		wg.Add(1)
		go func() { defer wg.Done(); bodies[i], _ = get() }()
	}
	wg.Wait()
	for i := range bodies {
		if bodies[i] != bodies[0] {
			t.Fatalf("concurrent responses differ:\n%s\n%s", bodies[0], bodies[i])
		}
	}
	_, prom, _ := do(t, srv.App, "GET", "/metrics", "a", "")
	if !strings.Contains(prom, `evident_cache_requests_total{result="miss"} 1`+"\n") {
		t.Fatalf("8 identical requests were computed more than once:\n%s", grepLines(prom, "evident_cache"))
	}
	empty, how := get()
	if how != "hit" || empty != bodies[0] || !strings.Contains(empty, `"responses":0`) {
		t.Fatalf("repeat: cache %q, body %s", how, empty)
	}

	// A write through this server: the next read is fresh at once.
	file := "responded_at,scale,score,product,respondent,comment\n2025-06-01,nps,10,SHOP,x,\n"
	if status, body, _ := do(t, srv.App, "POST", "/api/v1/satisfaction", "a", file, "Content-Type", "text/csv"); status != 201 {
		t.Fatalf("import: %d %s", status, body)
	}
	// (A hit is possible here: the watcher may have recomputed the
	// response after the change before this request; it holds the new data.)
	one, how := get()
	if !strings.Contains(one, `"responses":1`) {
		t.Fatalf("after an import through the API: cache %q, body %s", how, one)
	}

	// A write by another process (here: straight into the store).
	if err := st.InsertSatisfaction(t.Context(), []evident.SatisfactionResponse{{ResponseID: "other-process-1", Product: "SHOP", Scale: "nps", Score: 0,
		RespondedAt: time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC), RespondentHash: "h", Source: "test", Version: 1}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	two, how := get()
	if !strings.Contains(two, `"responses":2`) {
		t.Fatalf("after another process's write: cache %q, body %s", how, two)
	}

	// A merge rewrites parts but not the data: the cache stays.
	if err := st.Exec(t.Context(), "OPTIMIZE TABLE satisfaction_responses FINAL"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	if again, how := get(); how != "hit" || again != two {
		t.Fatalf("after a merge: cache %q", how)
	}

	// After a write, with nobody asking, the server notices within two
	// seconds and recomputes what was in use: the next request is a hit
	// with the new data.
	prewarmed := func() string {
		_, prom, _ = do(t, srv.App, "GET", "/metrics", "a", "")
		return grepLines(prom, "evident_cache_prewarmed_total ")
	}
	before := prewarmed()
	if err := st.InsertSatisfaction(t.Context(), []evident.SatisfactionResponse{{ResponseID: "other-process-2", Product: "SHOP", Scale: "nps", Score: 9,
		RespondedAt: time.Date(2025, 6, 3, 0, 0, 0, 0, time.UTC), RespondentHash: "h2", Source: "test", Version: 1}}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); prewarmed() == before && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
	}
	if three, how := get(); how != "hit" || !strings.Contains(three, `"responses":3`) {
		t.Fatalf("after a write and a wait: cache %q, body %s\n%s", how, three, grepLines(prom, "evident_cache"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Asking a forecast records it, and that is not new evidence: the cache
// stays (before: every forecast emptied it, and under load every request
// was computed: 9 a second at 1,000,000 issues). The scores, which read
// the record, are fresh.
func TestRecordingAForecastKeepsTheCache(t *testing.T) {
	e := sharedEnv(t)
	srv := dashboard.New(dashboard.Config{Measures: e.ms, Pinger: e.store, Inputs: e.in, Versioner: e.store, CacheBytes: 8 << 20, Now: func() time.Time { return testNow }})
	const path = "/api/v1/flow?project=SHOP&from=2025-01-01&to=2026-01-01"
	do(t, srv.App, "GET", path, "", "")
	if _, _, h := do(t, srv.App, "GET", path, "", ""); h.Get("X-Evident-Cache") != "hit" {
		t.Fatalf("repeat: %q", h.Get("X-Evident-Cache"))
	}
	var before uint64
	e.store.QueryRow(t.Context(), "SELECT count() FROM forecast_log", nil, &before)
	if status, body, h := do(t, srv.App, "GET", "/api/v1/forecast?project=SHOP&items=17", "", ""); status != 200 || h.Get("X-Evident-Cache") != "miss" {
		t.Fatalf("forecast: %d %q %.200s", status, h.Get("X-Evident-Cache"), body)
	}
	var after uint64
	e.store.QueryRow(t.Context(), "SELECT count() FROM forecast_log", nil, &after)
	if after != before+1 {
		t.Fatalf("forecast log %d → %d rows: the forecast was not recorded", before, after)
	}
	time.Sleep(1100 * time.Millisecond) // the data version is read at most once a second
	if _, _, h := do(t, srv.App, "GET", path, "", ""); h.Get("X-Evident-Cache") != "hit" {
		t.Fatalf("after a forecast was recorded: cache %q", h.Get("X-Evident-Cache"))
	}
	if status, body, h := do(t, srv.App, "GET", "/api/v1/forecast/scores?project=SHOP", "", ""); status != 200 || h.Get("X-Evident-Cache") != "bypass" || !strings.Contains(body, `"items":17`) {
		t.Fatalf("scores: %d %q %.300s", status, h.Get("X-Evident-Cache"), body)
	}
}

// With tokens configured, a response recomputed after a change is stored
// for the role that asked: a viewer's next request is a hit.
func TestPrewarmKeepsTheRoleThatAsked(t *testing.T) {
	st := openDB(t, "dashboard_prewarm")
	if _, err := st.BuildReadModel(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv := dashboard.New(dashboard.Config{Measures: metrics.New(st), Pinger: st, ViewerTokens: []string{"v"}, AdminTokens: []string{"a"},
		Versioner: st, CacheBytes: 8 << 20})
	const path = "/api/v1/satisfaction?product=SHOP&from=2025-01-01&to=2026-01-01"
	if status, body, h := do(t, srv.App, "GET", path, "v", ""); status != 200 || h.Get("X-Evident-Cache") != "miss" {
		t.Fatalf("first viewer request: %d %s %q", status, body, h.Get("X-Evident-Cache"))
	}
	if err := st.InsertSatisfaction(t.Context(), []evident.SatisfactionResponse{{ResponseID: "p-1", Product: "SHOP", Scale: "nps", Score: 10,
		RespondedAt: time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC), RespondentHash: "h", Source: "test", Version: 1}}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		_, prom, _ := do(t, srv.App, "GET", "/metrics", "a", "")
		if strings.Contains(prom, "evident_cache_prewarmed_total 1\n") {
			break
		}
	}
	status, body, h := do(t, srv.App, "GET", path, "v", "")
	if status != 200 || h.Get("X-Evident-Cache") != "hit" || !strings.Contains(body, `"responses":1`) {
		t.Fatalf("viewer after the change: %d %q %s", status, h.Get("X-Evident-Cache"), body)
	}
	if _, _, h := do(t, srv.App, "GET", path, "a", ""); h.Get("X-Evident-Cache") != "miss" {
		t.Fatalf("an admin shares the viewer's entry: %q", h.Get("X-Evident-Cache"))
	}
}

// The cache holds at most cache_mb, counting everything an entry costs
// (its URL as much as its body), never caches an answer to a parameter no
// route reads, and gives memory back when entries expire.
func TestResponseCacheIsBoundedWhateverTheURLs(t *testing.T) {
	st := openDB(t, "dashboard_cache_bound")
	if _, err := st.BuildReadModel(t.Context()); err != nil {
		t.Fatal(err)
	}
	const limit = 1 << 20
	srv := dashboard.New(dashboard.Config{Measures: metrics.New(st), Pinger: st, AdminTokens: []string{"a"}, Versioner: st, CacheBytes: limit})
	gauge := func(name string) int {
		_, body, _ := do(t, srv.App, "GET", "/metrics", "a", "")
		for _, line := range strings.Split(body, "\n") {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				n, _ := strconv.Atoi(v)
				return n
			}
		}
		t.Fatalf("/metrics has no %s", name)
		return 0
	}
	for i := range 200 { // pages (the API answers 400 to a junk parameter)
		status, _, h := do(t, srv.App, "GET", fmt.Sprintf("/health?junk%d=1", i), "a", "")
		if status != 200 || h.Get("X-Evident-Cache") != "bypass" {
			t.Fatalf("junk parameter: %d, cache %q", status, h.Get("X-Evident-Cache"))
		}
	}
	if status, body, _ := do(t, srv.App, "GET", "/api/v1/issues?limit=1&junk=1", "a", ""); status != 400 || !strings.Contains(body, "junk: not a parameter") {
		t.Fatalf("junk parameter on the API: %d %s", status, body)
	}
	if n := gauge("evident_cache_entries"); n != 0 {
		t.Fatalf("%d entries cached for 200 junk parameters", n)
	}
	long := strings.Repeat("x", 3000) // request lines over 4 KiB never reach a handler (431)
	for i := range 400 {
		if status, _, _ := do(t, srv.App, "GET", fmt.Sprintf("/api/v1/issues?limit=1&label=%s%d", long, i), "a", ""); status != 200 {
			t.Fatalf("long label: %d", status)
		}
	}
	entries, bytes := gauge("evident_cache_entries"), gauge("evident_cache_bytes")
	if bytes > limit || entries > limit/(2*3000) {
		t.Fatalf("400 URLs of 3 KB: %d entries, %d bytes held against a %d-byte cache", entries, bytes, limit)
	}
	t.Logf("400 URLs of 3 KB into a 1 MiB cache: %d entries, %d bytes", entries, bytes)
}

// A view in use never makes its reader wait: read once, it is recomputed
// before its time to live runs out, for keepWarm after the read, then let
// go. A request that claims to be the server's own recomputation without
// the server's key is a reader's.
func TestResponseCacheKeepsTheViewsInUseComputed(t *testing.T) {
	st := openDB(t, "dashboard_cache_warm")
	if _, err := st.BuildReadModel(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv := dashboard.New(dashboard.Config{Measures: metrics.New(st), Pinger: st, AdminTokens: []string{"a"}, Versioner: st, CacheBytes: 8 << 20})
	defer srv.Shutdown(time.Second)
	const ttl, keepWarm = 4 * time.Second, 5 * time.Second
	dashboard.SetCacheTimes(srv, ttl, keepWarm)
	const path = "/api/v1/satisfaction?product=SHOP&from=2025-01-01&to=2026-01-01"
	get := func(header ...string) (string, string) {
		t.Helper()
		status, body, h := do(t, srv.App, "GET", path, "a", "", header...)
		if status != 200 {
			t.Fatalf("GET %s: %d %s", path, status, body)
		}
		return body, h.Get("X-Evident-Cache")
	}
	refreshed := func() string {
		_, prom, _ := do(t, srv.App, "GET", "/metrics", "a", "")
		return grepLines(prom, "evident_cache_refreshed_total ")
	}
	start := time.Now()
	first, how := get()
	if how != "miss" {
		t.Fatalf("first request: %q", how)
	}
	// Past the time to live, nobody having asked again: held, recomputed.
	time.Sleep(time.Until(start.Add(ttl + 2*time.Second)))
	if again, how := get(); how != "hit" || again != first {
		t.Fatalf("after %v, read once: cache %q (%s)", ttl+2*time.Second, how, refreshed())
	}
	if r := refreshed(); r == "evident_cache_refreshed_total 0" {
		t.Fatalf("a hit after the time to live without a recomputation: %s", r)
	}
	if _, how := get("X-Evident-Warm", "guess", "X-Evident-Warm-Refresh", "1"); how != "hit" {
		t.Fatalf("a request with a made-up warm key: cache %q, want a reader's hit", how)
	}
	// No reader for keepWarm: let go, and the next reader computes it.
	time.Sleep(keepWarm + ttl + 2500*time.Millisecond)
	if _, how := get(); how != "miss" {
		t.Fatalf("after %v without a reader: cache %q", keepWarm+ttl+2500*time.Millisecond, how)
	}
}

// A change that reaches one project keeps the cached responses of the
// others: a sync (from the simulator, through the collector and a read
// model refresh) that moved one APP issue to Done, an issue no SHOP issue
// names and that names no SHOP issue, leaves SHOP's flow a hit with the same body
// and SHOP's data version as it was; APP's flow and version follow the
// change, and so does the overview of every project.
func TestAChangeInOneProjectKeepsTheOthersCached(t *testing.T) {
	ctx := t.Context()
	st := openDB(t, "dashboard_cache_scope")
	sim, err := jirasim.New(jirasim.Options{Config: jirasim.Config{Seed: 5, Issues: 400, Cloud: true, Now: testNow}, Email: "t@example.com", APIToken: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim.Handler())
	defer ts.Close()
	sim.SetBaseURL(ts.URL)
	syncer := collector.NewSyncer(st, nil)
	cfg := collector.SiteConfig{Name: "sim", URL: ts.URL, Email: "t@example.com", APIToken: "tok", Projects: []string{"SHOP", "APP", "OPS"},
		RequestsPerSecond: 5000, Burst: 100}
	if _, err := syncer.Sync(ctx, cfg, collector.Full); err != nil {
		t.Fatal(err)
	}
	var key string
	if err := st.QueryRow(ctx, `SELECT issue_key FROM issues_current WHERE `+schema.Current+` AND project_key = 'APP' AND status_category != 'done'
		AND NOT arrayExists(k -> startsWith(k, 'SHOP-'), arrayConcat([parent_key, epic_key], blocked_by)) AND issue_type != 'Epic'
		AND issue_key NOT IN (SELECT arrayJoin(arrayConcat([parent_key, epic_key], blocked_by)) FROM issues_current WHERE `+schema.Current+` AND project_key = 'SHOP')
		ORDER BY issue_key LIMIT 1`, nil, &key); err != nil || key == "" {
		t.Fatalf("no APP issue apart from the others (%q, %v)", key, err)
	}
	srv := dashboard.New(dashboard.Config{Measures: metrics.New(st), Pinger: st, AdminTokens: []string{"a"}, Versioner: st, CacheBytes: 8 << 20})
	defer srv.Shutdown(5 * time.Second)
	const period = "&from=2025-10-01&to=2026-01-06"
	get := func(path string) (string, string) {
		t.Helper()
		status, body, h := do(t, srv.App, "GET", path, "a", "")
		if status != 200 {
			t.Fatalf("GET %s: %d %s", path, status, body)
		}
		return body, h.Get("X-Evident-Cache")
	}
	// As a page polls: an answer that is not a version (the database
	// slow to answer under load: 503) is asked again.
	version := func(project string) string {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			status, body, _ := do(t, srv.App, "GET", "/api/v1/version?project="+project, "a", "")
			if status == 200 {
				return body
			}
			if time.Now().After(deadline) {
				t.Fatalf("the version of %s: %d %s", project, status, body)
			}
		}
	}
	shop, _ := get("/api/v1/flow?project=SHOP" + period)
	app, _ := get("/api/v1/flow?project=APP" + period)
	get("/api/v1/flow?from=2025-10-01&to=2026-01-06")
	if _, how := get("/api/v1/flow?project=SHOP" + period); how != "hit" {
		t.Fatalf("SHOP's flow read again: %q", how)
	}
	shopV, appV := version("SHOP"), version("APP")

	if err := sim.Transition(key, "10005", testNow.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	sum, err := syncer.Sync(ctx, cfg, collector.Full)
	if err != nil || sum.Changed == 0 {
		t.Fatalf("the sync after moving %s: %+v, %v", key, sum, err)
	}
	for deadline := time.Now().Add(10 * time.Second); version("APP") == appV; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("APP's data version is still %s 10 s after the sync", appV)
		}
	}
	if body, how := get("/api/v1/flow?project=SHOP" + period); how != "hit" || body != shop {
		t.Fatalf("SHOP's flow after a change in APP: %q (same body: %v)", how, body == shop)
	}
	if v := version("SHOP"); v != shopV {
		t.Fatalf("SHOP's data version moved (%s → %s) on a change in APP", shopV, v)
	}
	if body, _ := get("/api/v1/flow?project=APP" + period); body == app {
		t.Fatalf("APP's flow is the same after %s moved to Done", key)
	}
	// Kept at each change the sync made: the new generation, the run's
	// record (which reaches the data health report only).
	_, prom, _ := do(t, srv.App, "GET", "/metrics", "a", "")
	var kept int
	if _, v, ok := strings.Cut(prom, "\nevident_cache_kept_total "); ok {
		fmt.Sscan(v, &kept)
	}
	if kept < 1 {
		t.Fatalf("no response kept:\n%s", grepLines(prom, "evident_cache"))
	}
}

// flaky is a Versioner whose database can be made not to answer.
type flaky struct {
	dashboard.Versioner
	down   atomic.Bool
	failed atomic.Int32 // reads tried while down
}

func (f *flaky) DataVersion(ctx context.Context) (string, error) {
	if f.down.Load() {
		f.failed.Add(1)
		time.Sleep(200 * time.Millisecond) // slow to fail, as a loaded server is
		return "", errors.New("data version: dial tcp 127.0.0.1:9000: i/o timeout")
	}
	return f.Versioner.DataVersion(ctx)
}

// When the data version cannot be read, /api/v1/version says so (503)
// rather than answer an empty version, which every poller would take for
// a change (and a test waiting for one would go on too early); the pages
// still render, without a version to poll; and once the database answers
// again the version is the one it was, with or without the cache. With
// the cache, a response computed before is served meanwhile (the version
// last read, within the time to live), and eight requests at once try
// one read of the version, not eight in turn.
func TestTheVersionSaysWhenTheDatabaseDoesNotAnswer(t *testing.T) {
	e := sharedEnv(t)
	for _, cacheBytes := range []int{0, 8 << 20} {
		f := &flaky{Versioner: e.store}
		srv := dashboard.New(dashboard.Config{Measures: e.ms, Pinger: e.store, Versioner: f, CacheBytes: cacheBytes, Now: e.ms.Now})
		status, before, _ := do(t, srv.App, "GET", "/api/v1/version?project=SHOP", "", "")
		if status != 200 || !strings.Contains(before, `"version":"`) || strings.Contains(before, `"version":""`) {
			t.Fatalf("cache %d: version: %d %s", cacheBytes, status, before)
		}
		const flow = "/api/v1/flow?project=SHOP&from=2025-10-01&to=2026-01-06"
		status, flowBefore, _ := do(t, srv.App, "GET", flow, "", "")
		if status != 200 {
			t.Fatalf("cache %d: flow: %d %s", cacheBytes, status, flowBefore)
		}
		// The version answers as it did until the cache polls again (a
		// read under way when the database went down may still succeed).
		versionUntil := func(want int) (int, string) {
			t.Helper()
			deadline := time.Now().Add(5 * time.Second)
			for {
				status, body, _ := do(t, srv.App, "GET", "/api/v1/version?project=SHOP", "", "")
				if status == want || time.Now().After(deadline) {
					return status, body
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		f.down.Store(true)
		status, body := versionUntil(503)
		if status != 503 || !strings.Contains(body, `"code":"unavailable"`) || !strings.Contains(body, "data version") {
			t.Fatalf("cache %d, database down: version: %d %s", cacheBytes, status, body)
		}
		if cacheBytes > 0 {
			time.Sleep(1100 * time.Millisecond) // past the poll after the failed read
			tried := f.failed.Load()
			var wg sync.WaitGroup
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					status, got, h := do(t, srv.App, "GET", flow, "", "")
					if status != 200 || got != flowBefore || h.Get("X-Evident-Cache") != "hit" {
						t.Errorf("database down: flow %d, cache %q, same body %v", status, h.Get("X-Evident-Cache"), got == flowBefore)
					}
				}()
			}
			wg.Wait()
			if n := f.failed.Load() - tried; n > 2 {
				t.Fatalf("8 requests at once with the database down tried %d reads of the version", n)
			}
		}
		status, page, _ := do(t, srv.App, "GET", "/flow?project=SHOP", "", "")
		if status != 200 || strings.Contains(page, "data-version=") && !strings.Contains(page, `data-version=""`) {
			t.Fatalf("cache %d, database down: the flow page: %d, data-version %v", cacheBytes, status, strings.Contains(page, "data-version="))
		}
		f.down.Store(false)
		if status, again := versionUntil(200); status != 200 || again != before {
			t.Fatalf("cache %d, database back: version %d %s, was %s", cacheBytes, status, again, before)
		}
		srv.Shutdown(5 * time.Second)
	}
}
