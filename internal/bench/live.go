package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/evident-ebm/evident/internal/jirasim"
	"github.com/evident-ebm/evident/schema"
)

// LiveFigure is how long a change in Jira takes to reach the dashboard on
// a database of Issues issues: from the simulator's signed webhook to the
// read model generation readers use holding the change (debounce, fetch,
// store, read model build), with nobody using the dashboard and with the
// dashboard in use (every API view of the latency run in its cache, so
// that each change has them recomputed), and an incremental sync of
// Changed changed issues, all told.
type LiveFigure struct {
	Issues             int       `json:"issues"`
	WebhookToVisibleMs []float64 `json:"webhook_to_visible_ms"`
	// InUseMs is the same with the dashboard's views cached.
	InUseMs []float64 `json:"webhook_to_visible_in_use_ms"`
	// Views is how many API views were read before each of those
	// changes, and Computed how many were served from the cache when read
	// again 30 s after the last (recomputed after the changes).
	Views    int `json:"views_in_use"`
	Computed int `json:"views_computed_30s_after"`
	// Kept is how many cached responses the five changes with the views
	// in use left in place (they reached other projects only), and
	// Recomputed how many the server computed again after them.
	Kept               int     `json:"kept_across_changes"`
	Recomputed         int     `json:"recomputed_after_changes"`
	Changed            int     `json:"changed"`
	ChangedSyncSeconds float64 `json:"changed_sync_seconds"`
	// SyncVersions is how many times the data version changed during
	// that sync (read every 25 ms): each change has a dashboard
	// recompute the views in use.
	SyncVersions int `json:"data_versions_during_sync"`
}

// liveSite is the simulated Jira the live figures change: small, synced
// into the same database as the loaded issues.
const liveSiteIssues = 3000

func (o *Options) live(ctx context.Context, dsn string, total int) (LiveFigure, error) {
	f := LiveFigure{Issues: total + liveSiteIssues, Changed: 1000}
	sim, err := jirasim.New(jirasim.Options{Config: jirasim.Config{Seed: 11, Issues: liveSiteIssues, Cloud: true}, Email: "bench@evident.local", APIToken: "bench"})
	if err != nil {
		return f, err
	}
	srv, url, err := sim.Listen("127.0.0.1:0")
	if err != nil {
		return f, err
	}
	defer srv.Close()
	const secret = "bench-webhook-secret"
	// The site is named for its host (the simulator's port): a database
	// that holds an earlier run's simulated site (the same keys, some
	// moved to Done) must not answer for this one.
	site := strings.TrimPrefix(url, "http://")
	env := []string{"EVIDENT_CLICKHOUSE_DSN=" + dsn, "EVIDENT_JIRA_URL=" + url, "EVIDENT_JIRA_EMAIL=bench@evident.local", "EVIDENT_JIRA_API_TOKEN=bench",
		"EVIDENT_JIRA_PROJECTS=SHOP,APP,OPS", "EVIDENT_JIRA_WEBHOOK_SECRET=" + secret}
	if _, _, err := o.child(ctx, env, "sync"); err != nil {
		return f, err
	}
	base, _, stop, err := o.startServe(ctx, dsn, 256, env[1:]...)
	if err != nil {
		return f, err
	}
	defer stop()
	sim.SetWebhook(base+"/api/v1/jira/webhook", secret)
	// Visible: the read model generation readers use holds the change
	// (the dashboard's cache notices a new generation within a second).
	st, err := schema.Open(ctx, dsn)
	if err != nil {
		return f, err
	}
	defer st.Close()
	status := func(key string) string {
		var s string
		st.QueryRow(ctx, "SELECT any(status_name) FROM issues_current WHERE "+schema.Current+" AND site = ? AND issue_key = ?", []any{site, key}, &s)
		return s
	}
	var moved []string
	for i := 0; i < liveSiteIssues && len(moved) < 10; i++ {
		if is := sim.Issue(i); is != nil && is.Status.Category != "done" && is.Type != "Epic" {
			moved = append(moved, is.Key)
		}
	}
	if len(moved) < 10 {
		return f, fmt.Errorf("the simulated site has %d open issues to move, not 10", len(moved))
	}
	move := func(key string) (float64, error) {
		t := time.Now()
		if err := sim.Transition(key, "10005", time.Now()); err != nil {
			return 0, err
		}
		for status(key) != "Done" {
			if time.Since(t) > 5*time.Minute {
				return 0, fmt.Errorf("the webhook for %s did not reach the dashboard in 5 minutes", key)
			}
			time.Sleep(20 * time.Millisecond)
		}
		return round(float64(time.Since(t).Microseconds()) / 1000), nil
	}
	for _, key := range moved[:5] {
		ms, err := move(key)
		if err != nil {
			return f, err
		}
		f.WebhookToVisibleMs = append(f.WebhookToVisibleMs, ms)
	}
	// In use: the API views in the cache, as when people are reading the
	// dashboard; each change has them recomputed while the next is built.
	client := &http.Client{Timeout: time.Minute}
	kept0, warmed0 := cacheCount(ctx, client, base, "kept"), cacheCount(ctx, client, base, "prewarmed")
	for _, key := range moved[5:] {
		for _, p := range apiPaths() {
			if _, ok := timedGet(ctx, client, base+p, false); !ok {
				return f, fmt.Errorf("GET %s failed", p)
			}
		}
		ms, err := move(key)
		if err != nil {
			return f, err
		}
		f.InUseMs = append(f.InUseMs, ms)
	}
	time.Sleep(30 * time.Second)
	f.Kept, f.Recomputed = cacheCount(ctx, client, base, "kept")-kept0, cacheCount(ctx, client, base, "prewarmed")-warmed0
	lat, hits, err := readViews(ctx, base, apiPaths())
	if err != nil {
		return f, err
	}
	f.Views, f.Computed = len(lat), hits
	if sent, failed := sim.Webhooks(); failed > 0 {
		return f, fmt.Errorf("%d of %d webhook deliveries failed", failed, sent)
	}
	stop()
	// 1,000 changed issues (the webhook now goes nowhere: a sync's turn).
	sim.SetWebhook("", "")
	for i := 0; i < f.Changed; i++ {
		if is := sim.Issue(i); is != nil {
			sim.Touch(is.Key, time.Now())
		}
	}
	t := time.Now()
	seen := make(chan int)
	syncing, synced := context.WithCancel(ctx)
	go func() { seen <- versionsUntil(syncing, st) }()
	_, _, err = o.child(ctx, env, "sync")
	synced()
	f.SyncVersions = <-seen
	if err != nil {
		return f, err
	}
	f.ChangedSyncSeconds = round(time.Since(t).Seconds())
	sort.Float64s(f.WebhookToVisibleMs)
	sort.Float64s(f.InUseMs)
	return f, nil
}

// cacheCount reads the counter evident_cache_<name>_total of a server's
// /metrics (-1 when it cannot).
func cacheCount(ctx context.Context, client *http.Client, base, name string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return -1
	}
	resp, err := client.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	n := -1
	if _, v, ok := strings.Cut(string(b), "\nevident_cache_"+name+"_total "); ok {
		fmt.Sscan(v, &n)
	}
	return n
}

// versionsUntil reads the data version every 25 ms until ctx ends, and
// counts how many times it changed.
func versionsUntil(ctx context.Context, st *schema.Store) int {
	last, _ := st.DataVersion(ctx)
	n := 0
	for ctx.Err() == nil {
		time.Sleep(25 * time.Millisecond)
		if v, err := st.DataVersion(context.WithoutCancel(ctx)); err == nil && v != last {
			last = v
			n++
		}
	}
	return n
}

// RefreshFigure is what a refresh of the read model costs on the loaded
// database when some issues were written anew (as a sync writes an issue
// that changed: a newer version of its row): one issue at a time, 1,000
// of the most recent issues (the ones a team is working on), and 1,000
// spread over every piece.
type RefreshFigure struct {
	Pieces           int       `json:"pieces"`
	FullBuildSeconds float64   `json:"full_build_seconds"`
	OneIssueMs       []float64 `json:"one_issue_ms"`
	RecentSeconds    float64   `json:"recent_1000_seconds"`
	RecentPieces     int       `json:"recent_1000_pieces_rebuilt"`
	SpreadSeconds    float64   `json:"spread_1000_seconds"`
	SpreadPieces     int       `json:"spread_1000_pieces_rebuilt"`
}

func (o *Options) refresh(ctx context.Context, dsn string) (RefreshFigure, error) {
	var f RefreshFigure
	st, err := schema.Open(ctx, dsn)
	if err != nil {
		return f, err
	}
	defer st.Close()
	g, err := st.BuildReadModel(ctx)
	if err != nil {
		return f, err
	}
	f.Pieces, f.FullBuildSeconds = len(g.Pieces), round(g.Took.Seconds())
	var cols []struct {
		Name string `ch:"name"`
	}
	if err := st.Select(ctx, &cols, "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'issues'"); err != nil {
		return f, err
	}
	var names, sel []string
	for _, c := range cols {
		names = append(names, c.Name)
		if c.Name == "version" {
			c.Name = "toUInt64(?) AS version"
		}
		sel = append(sel, c.Name)
	}
	// touch writes the issues where cond holds anew and times the refresh.
	touch := func(cond string) (time.Duration, int, error) {
		var v uint64
		if err := st.QueryRow(ctx, "SELECT max(version) FROM issues", nil, &v); err != nil {
			return 0, 0, err
		}
		q := "INSERT INTO issues (" + strings.Join(names, ", ") + ") SELECT " + strings.Join(sel, ", ") + " FROM issues FINAL WHERE site = 'bench' AND " + cond
		if err := st.Exec(ctx, q, v+1); err != nil {
			return 0, 0, err
		}
		t := time.Now()
		g, built, err := st.BuildReadModelIfStale(ctx)
		if err == nil && !built {
			err = fmt.Errorf("no refresh after writing issues where %s", cond)
		}
		return time.Since(t), g.Rebuilt, err
	}
	for i := range 5 {
		took, _, err := touch(fmt.Sprintf("issue_id = (SELECT issue_id FROM issues WHERE site = 'bench' AND cityHash64(issue_id, %d) %% 1000 = 0 LIMIT 1)", i))
		if err != nil {
			return f, err
		}
		f.OneIssueMs = append(f.OneIssueMs, round(float64(took.Microseconds())/1000))
	}
	sort.Float64s(f.OneIssueMs)
	took, n, err := touch("issue_id IN (SELECT issue_id FROM issues WHERE site = 'bench' ORDER BY issue_id DESC LIMIT 1000)")
	if err != nil {
		return f, err
	}
	f.RecentSeconds, f.RecentPieces = round(took.Seconds()), n
	took, n, err = touch("issue_id IN (SELECT issue_id FROM issues WHERE site = 'bench' ORDER BY cityHash64(issue_id) LIMIT 1000)")
	if err != nil {
		return f, err
	}
	f.SpreadSeconds, f.SpreadPieces = round(took.Seconds()), n
	return f, nil
}
