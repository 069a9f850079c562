package collector_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/collector"
	"github.com/evident-ebm/evident/internal/jirasim"
	"github.com/evident-ebm/evident/schema"
)

// delivery is a Jira webhook body for an issue id, sent at.
func delivery(event string, id int, key string, at time.Time) []byte {
	return []byte(fmt.Sprintf(`{"timestamp":%d,"webhookEvent":%q,"issue":{"id":"%d","key":%q,"fields":{"status":{"name":"Done"}}}}`, at.UnixMilli(), event, id, key))
}

func TestWebhookDeliveriesAreCheckedBeforeAnythingIsQueued(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	w := &collector.Webhooks{Sites: []collector.SiteConfig{{Name: "sim", WebhookSecret: "s3cret"}, {Name: "other"}}, Now: func() time.Time { return now }}
	body := delivery("jira:issue_updated", 10001, "SHOP-1", now.Add(-time.Minute))
	sig := collector.SignWebhook("s3cret", body)
	if sig != jirasim.Sign("s3cret", body) {
		t.Fatal("Evident and the simulator sign differently")
	}
	for _, c := range []struct {
		name, site, sig, id string
		body                []byte
		code                string
	}{
		{"signed with the site's secret", "sim", sig, "d1", body, ""},
		{"no site in the path: the one that takes webhooks", "", sig, "d2", body, ""},
		{"signed with another secret", "sim", collector.SignWebhook("guess", body), "d3", body, evident.EUNAUTHORIZED},
		{"no signature", "sim", "", "d4", body, evident.EUNAUTHORIZED},
		{"a signature that is not sha256=hex", "sim", "sha1=abc", "d5", body, evident.EUNAUTHORIZED},
		{"the body altered after signing", "sim", sig, "d6", delivery("jira:issue_deleted", 10001, "SHOP-1", now.Add(-time.Minute)), evident.EUNAUTHORIZED},
		{"an old delivery replayed, signature and all", "sim", collector.SignWebhook("s3cret", delivery("jira:issue_updated", 10001, "SHOP-1", now.Add(-2*time.Hour))), "d7",
			delivery("jira:issue_updated", 10001, "SHOP-1", now.Add(-2*time.Hour)), evident.EUNAUTHORIZED},
		{"a site without a secret takes no webhooks", "other", sig, "d8", body, evident.ENOTFOUND},
		{"a signed body that is not a webhook", "sim", collector.SignWebhook("s3cret", []byte(`{"a":1}`)), "d9", []byte(`{"a":1}`), evident.EINVALID},
	} {
		err := w.Receive(c.site, c.sig, c.id, c.body)
		if evident.ErrorCode(err) != c.code && !(c.code == "" && err == nil) {
			t.Errorf("%s: %v, want code %q", c.name, err, c.code)
		}
	}
	// The same delivery again (Jira retrying): acknowledged, not queued twice.
	if err := w.Receive("sim", sig, "d1", body); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	if st.Accepted != 2 || st.Refused != 6 || st.Duplicates != 1 || st.Pending != 1 {
		t.Fatalf("stats %+v, want 2 accepted, 6 refused, 1 duplicate, 1 issue pending", st)
	}
	// A storm: 1,000 deliveries for 50 issues leave 50 pending.
	for k := 0; k < 1000; k++ {
		b := delivery("jira:issue_updated", 20000+k%50, "", now)
		if err := w.Receive("sim", collector.SignWebhook("s3cret", b), fmt.Sprint("storm-", k), b); err != nil {
			t.Fatal(err)
		}
	}
	if st := w.Stats(); st.Pending != 51 {
		t.Fatalf("%d issues pending after the storm, want 51", st.Pending)
	}
}

// Fetches stopped by a shutdown are no failure: what the deliveries named
// stays pending, for every site (before: the sites after the one being
// fetched were forgotten, and the stop was logged as an error and counted
// as a failed fetch; the bench's live step logged it).
func TestStoppedWebhookFetchesStayPending(t *testing.T) {
	e := setup(t, true, 50, jirasim.Faults{})
	var logs bytes.Buffer
	a, b := e.cfg, e.cfg
	a.Name, a.WebhookSecret = "a", "s3cret"
	b.Name, b.WebhookSecret = "b", "s3cret"
	w := &collector.Webhooks{Syncer: e.sync, Sites: []collector.SiteConfig{a, b}, Log: slog.New(slog.NewTextHandler(&logs, nil))}
	for i, site := range []string{"a", "b"} {
		body := delivery("jira:issue_updated", 10001+i, "", time.Now())
		if err := w.Receive(site, collector.SignWebhook("s3cret", body), site, body); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Drain(ctx); err == nil {
		t.Fatal("a drain with its context cancelled fetched")
	}
	if st := w.Stats(); st.Pending != 2 || st.FailedFetches != 0 || st.IssuesFetched != 0 {
		t.Fatalf("after a stopped drain: %+v, want both sites' issues pending and nothing failed or fetched", st)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("a stop logged as an error:\n%s", logs.String())
	}
}

// TestWebhooksFetchWhatTheyName runs the simulator's deliveries through
// HTTP into the queue: an issue moved is fetched once and stored as Jira
// has it (not as the payload says), 1,000 deliveries for 50 issues fetch
// each once, and a deleted issue leaves the metrics.
func TestWebhooksFetchWhatTheyName(t *testing.T) {
	for _, cloud := range []bool{true, false} {
		t.Run(map[bool]string{true: "cloud", false: "datacenter"}[cloud], func(t *testing.T) { webhooksFetchWhatTheyName(t, cloud) })
	}
}

func webhooksFetchWhatTheyName(t *testing.T, cloud bool) {
	e := setup(t, cloud, 300, jirasim.Faults{})
	e.run(t, collector.Full)
	e.cfg.WebhookSecret = "s3cret"
	w := &collector.Webhooks{Syncer: e.sync, Sites: []collector.SiteConfig{e.cfg}}
	hook := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if err := w.Receive(strings.TrimPrefix(r.URL.Path, "/"), r.Header.Get("X-Hub-Signature"), r.Header.Get("X-Atlassian-Webhook-Identifier"), b); err != nil {
			http.Error(rw, err.Error(), 401)
			return
		}
		rw.WriteHeader(204)
	}))
	defer hook.Close()
	e.sim.SetWebhook(hook.URL+"/sim", "s3cret")
	ctx := context.Background()
	status := func(key string) (name string, deleted uint8) {
		t.Helper()
		if err := e.store.QueryRow(ctx, "SELECT status_name, deleted FROM issues FINAL WHERE issue_key = ?", []any{key}, &name, &deleted); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		return
	}
	served := func(keys []string) (n int) {
		for _, k := range keys {
			n += e.sim.Served(k)
		}
		return
	}
	var keys []string
	for i := 0; i < 300; i++ {
		if is := e.sim.Issue(i); is != nil && is.Status.Category != "done" {
			keys = append(keys, is.Key)
		}
	}
	all := func() []string {
		var out []string
		for i := 0; i < 300; i++ {
			if is := e.sim.Issue(i); is != nil {
				out = append(out, is.Key)
			}
		}
		return out
	}
	// One issue moved to Done: one delivery, one fetch, stored as Done.
	before, beforeAll := e.sim.Served(keys[0]), served(all())
	if err := e.sim.Transition(keys[0], "10005", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.sim.Served(keys[0]) - before; got != 1 {
		t.Fatalf("%s fetched %d times for one delivery", keys[0], got)
	}
	if got := served(all()) - beforeAll; got != 1 {
		t.Fatalf("one delivery fetched %d issues", got)
	}
	if name, _ := status(keys[0]); name != "Done" {
		t.Fatalf("%s stored in %s after the delivery", keys[0], name)
	}
	// A validly signed payload that lies about the issue changes nothing:
	// the issue is read from Jira.
	is := e.sim.Issue(e.sim.IndexOf(keys[1]))
	lie := delivery("jira:issue_updated", int(is.ID), is.Key, time.Now())
	if err := w.Receive("sim", collector.SignWebhook("s3cret", lie), "lie", lie); err != nil {
		t.Fatal(err)
	}
	if err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if name, _ := status(keys[1]); name != is.Status.Name {
		t.Fatalf("%s stored in %s, Jira has %s: the payload was believed", keys[1], name, is.Status.Name)
	}
	// Jira's search index behind: the issue changed, the search does not
	// find it yet; it is read on its own (GET /issue) and stored as Jira
	// has it, not taken for deleted.
	lagging := keys[3]
	if err := e.sim.SetUnindexed(lagging, true); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.Transition(lagging, "10005", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if name, deleted := status(lagging); name != "Done" || deleted != 0 {
		t.Fatalf("%s, changed but not yet in the search index, stored in %q (deleted %d); Jira has it in Done", lagging, name, deleted)
	}
	if err := e.sim.SetUnindexed(lagging, false); err != nil {
		t.Fatal(err)
	}
	// A storm: 20 changes to each of 50 issues, 1,000 deliveries.
	var storm []string
	for _, k := range all() {
		if k != keys[0] && k != keys[1] && k != keys[2] && k != keys[3] && len(storm) < 50 {
			storm = append(storm, k)
		}
	}
	before = served(storm)
	for k := 0; k < 20; k++ {
		for _, key := range storm {
			if err := e.sim.Touch(key, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if sent, failed := e.sim.Webhooks(); sent < 1000 || failed != 0 {
		t.Fatalf("%d deliveries, %d failed", sent, failed)
	}
	if err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	// Data Center pages an issue's changelog with the issue: one longer
	// than a page is read again whole (GET /issue), a second request.
	long := 0
	for _, k := range storm {
		if is := e.sim.Issue(e.sim.IndexOf(k)); !cloud && len(is.Histories) > 40 {
			long++
		}
	}
	if got := served(storm) - before; got != 50+long {
		t.Fatalf("1,000 deliveries for 50 issues fetched %d issues (%d with long changelogs)", got, long)
	}
	// A deleted issue: marked deleted, gone from the read model.
	gone := keys[2]
	if err := e.sim.Delete(gone); err != nil {
		t.Fatal(err)
	}
	if err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if _, deleted := status(gone); deleted != 1 {
		t.Fatalf("%s not marked deleted", gone)
	}
	var n uint64
	if err := e.store.QueryRow(ctx, "SELECT count() FROM issues_current WHERE "+schema.Current+" AND issue_key = ?", []any{gone}, &n); err != nil || n != 0 {
		t.Fatalf("%s still in the read model (%d, %v)", gone, n, err)
	}
	// A sprint closed: its board's sprints are read again, no issue fetched.
	var active int
	for _, sp := range e.sim.Generator().Sprints(1) {
		if sp.State == "active" {
			active = sp.ID
		}
	}
	if err := e.sim.CloseSprint(active, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	var state string
	var completed uint8
	if err := e.store.QueryRow(ctx, "SELECT state, complete_at IS NOT NULL FROM sprints FINAL WHERE sprint_id = ?", []any{uint64(active)}, &state, &completed); err != nil ||
		state != "closed" || completed != 1 {
		t.Fatalf("sprint %d after sprint_closed: %q, completed %d, %v", active, state, completed, err)
	}
	// A version released: read again with the agile data, no issue fetched.
	proj := e.sim.Issue(0).Project
	release := 0
	for _, r := range e.sim.Generator().Releases(proj) {
		if !r.Released {
			release = r.ID
		}
	}
	if release == 0 {
		t.Fatalf("project %s has no unreleased version to release", proj.Key)
	}
	if err := e.sim.ReleaseVersion(proj.Key, release, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := w.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	var released uint8
	if err := e.store.QueryRow(ctx, "SELECT released FROM releases FINAL WHERE version_id = ?", []any{uint64(release)}, &released); err != nil || released != 1 {
		t.Fatalf("version %d after jira:version_released: released %d, %v", release, released, err)
	}
	st := w.Stats()
	t.Logf("webhooks: %+v", st)
	if st.Refused != 0 || st.FailedFetches != 0 || st.IssuesFetched != 54 || st.Accepted != 1006 {
		t.Fatalf("stats %+v", st)
	}
}
