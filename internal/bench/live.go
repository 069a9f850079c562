package bench

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/evident-ebm/evident/internal/jirasim"
	"github.com/evident-ebm/evident/schema"
)

// LiveFigure is how long a change in Jira takes to reach the dashboard on
// a database of Issues issues: from the simulator's signed webhook to the
// read model generation readers use holding the change (debounce, fetch,
// store, read model build), and an incremental sync of Changed changed
// issues, all told.
type LiveFigure struct {
	Issues             int       `json:"issues"`
	WebhookToVisibleMs []float64 `json:"webhook_to_visible_ms"`
	Changed            int       `json:"changed"`
	ChangedSyncSeconds float64   `json:"changed_sync_seconds"`
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
	for i := 0; i < liveSiteIssues && len(moved) < 5; i++ {
		if is := sim.Issue(i); is != nil && is.Status.Category != "done" && is.Type != "Epic" {
			moved = append(moved, is.Key)
		}
	}
	for _, key := range moved {
		t := time.Now()
		if err := sim.Transition(key, "10005", time.Now()); err != nil {
			return f, err
		}
		for status(key) != "Done" {
			if time.Since(t) > 5*time.Minute {
				return f, fmt.Errorf("the webhook for %s did not reach the dashboard in 5 minutes", key)
			}
			time.Sleep(20 * time.Millisecond)
		}
		f.WebhookToVisibleMs = append(f.WebhookToVisibleMs, round(float64(time.Since(t).Microseconds())/1000))
	}
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
	if _, _, err := o.child(ctx, env, "sync"); err != nil {
		return f, err
	}
	f.ChangedSyncSeconds = round(time.Since(t).Seconds())
	sort.Float64s(f.WebhookToVisibleMs)
	return f, nil
}
