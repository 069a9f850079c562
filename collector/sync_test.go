package collector_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/collector"
	"github.com/evident-ebm/evident/internal/chtest"
	"github.com/evident-ebm/evident/internal/jirasim"
	"github.com/evident-ebm/evident/schema"
)

func TestMain(m *testing.M) { chtest.Main(m) }

type env struct {
	sim   *jirasim.Sim
	cfg   collector.SiteConfig
	store *schema.Store
	sync  *collector.Syncer
}

func setup(t *testing.T, cloud bool, issues int, faults jirasim.Faults) *env {
	t.Helper()
	sim, err := jirasim.New(jirasim.Options{Config: jirasim.Config{Seed: 11, Issues: issues, Cloud: cloud},
		Email: "po@example.com", APIToken: "tok-cloud-secret", PAT: "pat-dc-secret", Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim.Handler())
	t.Cleanup(ts.Close)
	sim.SetBaseURL(ts.URL)
	cfg := collector.SiteConfig{Name: "sim", URL: ts.URL, Projects: []string{"SHOP", "APP", "OPS"}, RequestsPerSecond: 5000, Burst: 100, Concurrency: 4, MaxRetries: 10}
	if cloud {
		cfg.Email, cfg.APIToken = "po@example.com", "tok-cloud-secret"
	} else {
		cfg.PAT = "pat-dc-secret"
	}
	st := chtest.Store(t)
	s := collector.NewSyncer(st, nil)
	return &env{sim: sim, cfg: cfg, store: st, sync: s}
}

func (e *env) run(t *testing.T, mode collector.Mode) collector.Summary {
	t.Helper()
	sum, err := e.sync.Sync(context.Background(), e.cfg, mode)
	if err != nil {
		t.Fatalf("%s sync: %v", mode, err)
	}
	return sum
}

// fingerprint summarises every stored row that a measure could read, so two
// syncs can be compared exactly.
func fingerprint(t *testing.T, st *schema.Store) string {
	t.Helper()
	ctx := context.Background()
	var out []string
	for _, q := range []string{
		`SELECT count(), sum(cityHash64(issue_key, project_key, issue_type, status_id, status_category, toString(started_at), toString(done_at),
			toString(resolved_at), toString(story_points), toString(business_value), toString(sprint_ids), toString(labels), summary, toString(created_at)))
			FROM issues FINAL WHERE deleted = 0`,
		`SELECT count(), sum(cityHash64(issue_id, history_id, item_index, from_status_id, to_status_id, from_category, to_category, toString(changed_at)))
			FROM status_transitions FINAL`,
		`SELECT count(), sum(cityHash64(issue_id, history_id, sprint_id, added, toString(changed_at))) FROM sprint_changes FINAL`,
		`SELECT count(), sum(cityHash64(sprint_id, board_id, name, state, toString(start_at), toString(end_at), toString(complete_at))) FROM sprints FINAL`,
		`SELECT count(), sum(cityHash64(version_id, project_key, name, released, toString(release_date))) FROM releases FINAL`,
		`SELECT count(), sum(cityHash64(issue_id, issue_key, toString(updated_at))) FROM raw_issues FINAL WHERE deleted = 0`,
	} {
		var n, h uint64
		if err := st.QueryRow(ctx, q, nil, &n, &h); err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
		out = append(out, fmt.Sprintf("%d/%x", n, h))
	}
	return strings.Join(out, " ")
}

func physicalRows(t *testing.T, st *schema.Store) string {
	t.Helper()
	var out []string
	for _, table := range []string{"issues", "raw_issues", "status_transitions", "sprint_changes", "field_changes"} {
		var n uint64
		if err := st.QueryRow(context.Background(), "SELECT count() FROM "+table, nil, &n); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s=%d", table, n))
	}
	return strings.Join(out, " ")
}

func TestFullSyncStoresExactlyWhatJiraHolds(t *testing.T) {
	for _, cloud := range []bool{true, false} {
		t.Run(map[bool]string{true: "cloud", false: "datacenter"}[cloud], func(t *testing.T) {
			e := setup(t, cloud, 900, jirasim.Faults{})
			sum := e.run(t, collector.Full)
			if sum.Fetched != 900 || sum.New != 900 || sum.Problems != 0 {
				t.Fatalf("summary %+v", sum)
			}
			ctx := context.Background()
			var stored []evident.Issue
			if err := e.store.Select(ctx, &stored, "SELECT * FROM issues FINAL WHERE site = 'sim'"); err != nil {
				t.Fatal(err)
			}
			byKey := map[string]evident.Issue{}
			for _, is := range stored {
				byKey[is.IssueKey] = is
			}
			type memKey struct {
				issue  uint64
				sprint uint64
			}
			var changes []evident.SprintChange
			if err := e.store.Select(ctx, &changes, "SELECT * FROM sprint_changes FINAL ORDER BY issue_id, changed_at, history_id"); err != nil {
				t.Fatal(err)
			}
			member := map[memKey]bool{}
			for _, c := range changes {
				member[memKey{c.IssueID, c.SprintID}] = c.Added == 1
			}
			var transCount []struct {
				IssueID uint64 `ch:"issue_id"`
				N       uint64 `ch:"n"`
			}
			if err := e.store.Select(ctx, &transCount, "SELECT issue_id, count() AS n FROM status_transitions FINAL GROUP BY issue_id"); err != nil {
				t.Fatal(err)
			}
			nTrans := map[uint64]uint64{}
			for _, c := range transCount {
				nTrans[c.IssueID] = c.N
			}
			var flagChanges []struct {
				IssueID uint64 `ch:"issue_id"`
				N       uint64 `ch:"n"`
			}
			if err := e.store.Select(ctx, &flagChanges, "SELECT issue_id, count() AS n FROM field_changes FINAL WHERE field = 'Flagged' GROUP BY issue_id"); err != nil {
				t.Fatal(err)
			}
			nFlags := map[uint64]uint64{}
			for _, c := range flagChanges {
				nFlags[c.IssueID] = c.N
			}
			points, underInitiative := 0.0, 0
			flaggedNow, flaggedEver, blocked, blockedByOpen := 0, 0, 0, 0
			for i := 0; i < 900; i++ {
				want := e.sim.Issue(i)
				got, ok := byKey[want.Key]
				if !ok {
					t.Fatalf("%s not stored", want.Key)
				}
				wantCreated := want.Created.Truncate(time.Second)
				if want.Shape == jirasim.ShapeCreatedOutOfRange {
					// A creation date ClickHouse cannot hold: the earliest
					// storable date Jira gives for the issue is its update.
					wantCreated = want.Updated.Truncate(time.Second)
				}
				if got.StatusID != want.Status.ID || got.StatusCategory != want.Status.Category || !got.CreatedAt.Equal(wantCreated) ||
					got.IssueType != want.Type || got.ProjectKey != want.Project.Key {
					t.Fatalf("%s stored as %+v, Jira holds %+v", want.Key, got, want)
				}
				// The hierarchy: a story's epic, a sub-task's story, an
				// epic's initiative (Cloud's parent, Data Center's Parent
				// Link), never an epic of an epic.
				if got.EpicKey != want.EpicKey || got.ParentKey != want.ParentKey {
					t.Fatalf("%s (%s): epic %q, parent %q; Jira: epic %q, parent %q", want.Key, want.Type, got.EpicKey, got.ParentKey, want.EpicKey, want.ParentKey)
				}
				if want.ParentType == "Initiative" {
					underInitiative++
				}
				// Impediments: the flag now and its changes, the issues it
				// is blocked by and whether each is open.
				wantFlags := 0
				for _, h := range want.Histories {
					for _, it := range h.Items {
						if it.Field == "Flagged" {
							wantFlags++
						}
					}
				}
				if (got.Flagged == 1) != want.Flagged || nFlags[got.IssueID] != uint64(wantFlags) {
					t.Fatalf("%s: flagged %d with %d flag changes; Jira: %v with %d", want.Key, got.Flagged, nFlags[got.IssueID], want.Flagged, wantFlags)
				}
				var wantBlockers []string
				var wantOpen []uint8
				for _, j := range want.BlockedBy {
					b := e.sim.Issue(j)
					wantBlockers = append(wantBlockers, b.Key)
					wantOpen = append(wantOpen, map[bool]uint8{true: 0, false: 1}[b.Status.Category == "done"])
				}
				if fmt.Sprint(got.BlockedBy) != fmt.Sprint(wantBlockers) && !(len(got.BlockedBy) == 0 && len(wantBlockers) == 0) ||
					fmt.Sprint(got.BlockedByOpen) != fmt.Sprint(wantOpen) && !(len(got.BlockedByOpen) == 0 && len(wantOpen) == 0) {
					t.Fatalf("%s: blocked by %v (open %v); Jira: %v (open %v)", want.Key, got.BlockedBy, got.BlockedByOpen, wantBlockers, wantOpen)
				}
				if want.Flagged {
					flaggedNow++
				}
				if wantFlags > 0 {
					flaggedEver++
				}
				if len(wantBlockers) > 0 {
					blocked++
					if wantOpen[0] == 1 {
						blockedByOpen++
					}
				}
				if (want.StoryPoints == 0) != (got.StoryPoints == nil) || (got.StoryPoints != nil && *got.StoryPoints != want.StoryPoints) {
					t.Fatalf("%s points %v, want %v", want.Key, got.StoryPoints, want.StoryPoints)
				}
				if got.StoryPoints != nil {
					points += *got.StoryPoints
				}
				if (got.DoneAt != nil) != (want.Status.Category == "done") {
					t.Fatalf("%s done_at %v with status %s", want.Key, got.DoneAt, want.Status.Name)
				}
				statusItems := 0
				for _, h := range want.Histories {
					for _, it := range h.Items {
						if it.Field == "status" {
							statusItems++
						}
					}
				}
				if nTrans[got.IssueID] != uint64(statusItems) {
					t.Fatalf("%s: %d transitions stored, Jira has %d", want.Key, nTrans[got.IssueID], statusItems)
				}
				ids := append([]uint64(nil), got.SprintIDs...)
				var replayed []uint64
				for k, in := range member {
					if k.issue == got.IssueID && in {
						replayed = append(replayed, k.sprint)
					}
				}
				sort.Slice(ids, func(a, b int) bool { return ids[a] < ids[b] })
				sort.Slice(replayed, func(a, b int) bool { return replayed[a] < replayed[b] })
				var wantIDs []uint64
				for _, id := range want.Sprints {
					wantIDs = append(wantIDs, uint64(id))
				}
				sort.Slice(wantIDs, func(a, b int) bool { return wantIDs[a] < wantIDs[b] })
				if fmt.Sprint(ids) != fmt.Sprint(wantIDs) || fmt.Sprint(replayed) != fmt.Sprint(wantIDs) {
					t.Fatalf("%s sprints: field %v, replayed %v, Jira %v", want.Key, ids, replayed, wantIDs)
				}
			}
			if underInitiative == 0 {
				t.Fatal("no epic under an initiative among the first 900 issues")
			}
			var storedPoints float64
			if err := e.store.QueryRow(ctx, "SELECT sum(ifNull(story_points, 0)) FROM issues FINAL", nil, &storedPoints); err != nil {
				t.Fatal(err)
			}
			if storedPoints != points || points == 0 {
				t.Fatalf("story points %v, want %v", storedPoints, points)
			}
			// The simulator must hold every kind of impediment for the
			// comparison above to mean something.
			if flaggedEver < 10 || blocked < 10 || blockedByOpen == 0 || blockedByOpen == blocked {
				t.Fatalf("impediments: %d flagged now, %d ever, %d blocked by links (%d by open issues)", flaggedNow, flaggedEver, blocked, blockedByOpen)
			}
			t.Logf("impediments: %d flagged now, %d ever, %d blocked by links (%d by open issues)", flaggedNow, flaggedEver, blocked, blockedByOpen)
			var sprints, boards, releases uint64
			e.store.QueryRow(ctx, "SELECT count() FROM sprints FINAL", nil, &sprints)
			e.store.QueryRow(ctx, "SELECT count() FROM boards FINAL", nil, &boards)
			e.store.QueryRow(ctx, "SELECT count() FROM releases FINAL", nil, &releases)
			g := e.sim.Generator()
			wantSprints := len(g.Sprints(1)) + len(g.Sprints(2))
			if int(sprints) != wantSprints || boards != 4 || releases == 0 {
				t.Fatalf("sprints %d (want %d), boards %d, releases %d", sprints, wantSprints, boards, releases)
			}
			// Each board's columns, their statuses and limits, as Jira holds
			// them (a status no column holds stays out of every column).
			var configs []evident.BoardConfig
			if err := e.store.Select(ctx, &configs, "SELECT * FROM board_config FINAL ORDER BY board_id"); err != nil {
				t.Fatal(err)
			}
			if len(configs) != 4 {
				t.Fatalf("%d board configurations, want 4", len(configs))
			}
			limited := 0
			for _, c := range configs {
				want := g.BoardColumns(int(c.BoardID))
				if len(want) < 3 || len(c.ColumnNames) != len(want) || c.ConstraintType != "issueCount" || c.EstimationField == "" || c.FilterID == "" {
					t.Fatalf("board %d: %+v, Jira has %d columns", c.BoardID, c, len(want))
				}
				for i, col := range want {
					if c.ColumnNames[i] != col.Name || fmt.Sprint(c.ColumnStatuses[i]) != fmt.Sprint(col.Statuses) || int(c.ColumnMin[i]) != col.Min || int(c.ColumnMax[i]) != col.Max {
						t.Fatalf("board %d column %d: %q %v min %d max %d; Jira: %+v", c.BoardID, i, c.ColumnNames[i], c.ColumnStatuses[i], c.ColumnMin[i], c.ColumnMax[i], col)
					}
					if col.Max >= 0 {
						limited++
					}
				}
			}
			if limited == 0 {
				t.Fatal("no column with a WIP limit")
			}
			if sum.Requests == 0 || sum.Requests > 200 {
				t.Errorf("%d requests for 900 issues", sum.Requests)
			}
			t.Logf("%d requests (%.0f per 1,000 issues)", sum.Requests, float64(sum.Requests)/0.9)
		})
	}
}

func TestSecondSyncWithNoChangesWritesNothing(t *testing.T) {
	e := setup(t, true, 400, jirasim.Faults{})
	e.run(t, collector.Full)
	before, rows := fingerprint(t, e.store), physicalRows(t, e.store)
	for _, mode := range []collector.Mode{collector.Full, collector.Incremental} {
		sum := e.run(t, mode)
		if sum.New != 0 || sum.Changed != 0 || sum.Deleted != 0 {
			t.Fatalf("%s re-sync: %+v", mode, sum)
		}
		if got := physicalRows(t, e.store); got != rows {
			t.Fatalf("%s re-sync wrote rows: %s, then %s", mode, rows, got)
		}
		if got := fingerprint(t, e.store); got != before {
			t.Fatalf("%s re-sync changed data", mode)
		}
	}
}

func TestIncrementalSyncPicksUpExactlyTheChangedIssues(t *testing.T) {
	e := setup(t, true, 1200, jirasim.Faults{})
	e.run(t, collector.Incremental) // first run: no checkpoint, everything
	at := time.Now().UTC()
	var keys []string
	for i := 0; i < 1200 && len(keys) < 50; i += 23 {
		is := e.sim.Issue(i)
		keys = append(keys, is.Key)
		if i%2 == 0 {
			e.sim.Touch(is.Key, at)
		} else {
			e.sim.Transition(is.Key, "10005", at)
		}
	}
	sum := e.run(t, collector.Incremental)
	if sum.Fetched != 50 || sum.Changed != 50 || sum.New != 0 {
		t.Fatalf("incremental after changing 50 issues: %+v", sum)
	}
	var done uint64
	e.store.QueryRow(context.Background(), "SELECT count() FROM issues FINAL WHERE has(?, issue_key) AND status_name = 'Done' AND done_at IS NOT NULL", []any{keys}, &done)
	if done < 20 {
		t.Fatalf("only %d of the transitioned issues are stored as done", done)
	}
}

func TestSyncKilledHalfwayThenRerunEqualsUninterrupted(t *testing.T) {
	clean := setup(t, true, 1500, jirasim.Faults{})
	clean.run(t, collector.Incremental)
	want := fingerprint(t, clean.store)

	e := setup(t, true, 1500, jirasim.Faults{})
	e.sync.FlushIssues = 100
	ctx, cancel := context.WithCancel(context.Background())
	pages := 0
	e.sync.Progress = func(p collector.Progress) {
		if pages++; pages == 7 {
			cancel()
		}
	}
	if _, err := e.sync.Sync(ctx, e.cfg, collector.Incremental); err == nil {
		t.Fatal("the interrupted sync reported success")
	}
	if got := fingerprint(t, e.store); got == want {
		t.Fatal("the interrupted sync stored everything: the test did not interrupt it")
	}
	if _, ok, _ := e.store.Checkpoint(context.Background(), "sim", "SHOP"); ok {
		t.Fatal("an interrupted sync saved a checkpoint")
	}
	e.sync.Progress = nil
	e.run(t, collector.Incremental)
	if got := fingerprint(t, e.store); got != want {
		t.Fatalf("after rerun:\n%s\nuninterrupted:\n%s", got, want)
	}
}

func TestSyncUnderFaultsEndsWithTheSameData(t *testing.T) {
	clean := setup(t, false, 700, jirasim.Faults{})
	clean.run(t, collector.Full)
	want := fingerprint(t, clean.store)
	e := setup(t, false, 700, jirasim.Faults{Seed: 3, RateLimitRate: 0.05, UnavailableRate: 0.05, TruncateRate: 0.03, ResetRate: 0.02})
	sum := e.run(t, collector.Full)
	st := e.sim.Stats()
	if st.RateLimited+st.Unavailable == 0 || sum.Retries == 0 {
		t.Fatalf("no faults injected: %+v %+v", st, sum)
	}
	if got := fingerprint(t, e.store); got != want {
		t.Fatalf("with faults:\n%s\nclean:\n%s", got, want)
	}
	t.Logf("%d requests, %d retries; simulator: %+v", sum.Requests, sum.Retries, st)
}

func TestBadConfigurationStopsBeforeWritingAnything(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*collector.SiteConfig)
		want []string
	}{
		{"wrong token", func(c *collector.SiteConfig) { c.APIToken = "nope" }, []string{"rejected the credentials (401)", "EVIDENT_JIRA_API_TOKEN"}},
		{"wrong url", func(c *collector.SiteConfig) { c.URL = "http://127.0.0.1:1" }, []string{"cannot reach http://127.0.0.1:1", "EVIDENT_JIRA_URL"}},
		{"wrong path", func(c *collector.SiteConfig) { c.URL += "/jira" }, []string{"EVIDENT_JIRA_URL"}},
		{"unknown project", func(c *collector.SiteConfig) { c.Projects = []string{"SHOP", "NOPE"} }, []string{`project "NOPE" does not exist`}},
		{"bad jql", func(c *collector.SiteConfig) { c.JQL = "assignee = me" }, []string{"bad request (400)", "assignee"}},
		{"no projects", func(c *collector.SiteConfig) { c.Projects = nil }, []string{"no projects configured"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := setup(t, true, 30, jirasim.Faults{})
			c.edit(&e.cfg)
			_, err := e.sync.Sync(context.Background(), e.cfg, collector.Incremental)
			if err == nil {
				t.Fatal("sync succeeded")
			}
			msg := evident.ErrorMessage(err)
			if evident.ErrorCode(err) == evident.EINTERNAL {
				msg = err.Error()
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			if strings.Contains(msg, "tok-cloud-secret") {
				t.Error("error leaks the token")
			}
			for _, table := range []string{"sites", "projects", "issues", "raw_issues", "sprints", "releases", "sync_checkpoints"} {
				if n, _ := e.store.Count(context.Background(), table, ""); n != 0 {
					t.Errorf("%s has %d rows after a failed preflight", table, n)
				}
			}
		})
	}
}

func TestTokenRevokedMidSyncStopsAndResumes(t *testing.T) {
	e := setup(t, true, 800, jirasim.Faults{RevokeAfter: 14})
	_, err := e.sync.Sync(context.Background(), e.cfg, collector.Incremental)
	if err == nil || !strings.Contains(evident.ErrorMessage(err), "401") {
		t.Fatalf("revoked token: %v", err)
	}
	if _, ok, _ := e.store.Checkpoint(context.Background(), "sim", "SHOP"); ok {
		t.Fatal("checkpoint saved by a failed run")
	}
	e.sim.SetFaults(jirasim.Faults{})
	e.run(t, collector.Incremental)
	clean := setup(t, true, 800, jirasim.Faults{})
	clean.run(t, collector.Incremental)
	if fingerprint(t, e.store) != fingerprint(t, clean.store) {
		t.Fatal("resumed sync differs from a clean one")
	}
}

func TestFullSyncMarksDeletedIssues(t *testing.T) {
	e := setup(t, true, 300, jirasim.Faults{})
	e.run(t, collector.Full)
	for _, k := range []string{"SHOP-4", "APP-9", "OPS-20"} {
		e.sim.Delete(k)
	}
	sum := e.run(t, collector.Full)
	if sum.Deleted != 3 {
		t.Fatalf("deleted %d, want 3", sum.Deleted)
	}
	var live uint64
	e.store.QueryRow(context.Background(), "SELECT count() FROM issues FINAL WHERE deleted = 0", nil, &live)
	if live != 297 {
		t.Fatalf("%d live issues, want 297", live)
	}
}

func TestRebuildRecomputesWithoutCallingJira(t *testing.T) {
	e := setup(t, true, 400, jirasim.Faults{})
	e.run(t, collector.Full)
	ctx := context.Background()
	var doneBefore uint64
	e.store.QueryRow(ctx, "SELECT count() FROM issues FINAL WHERE done_at IS NOT NULL", nil, &doneBefore)
	requests := e.sim.Stats().Requests
	// Count "Ready for Release" as still in progress: items waiting there are not done.
	e.cfg.ProjectSettings = map[string]collector.ProjectSettings{"SHOP": {StatusCategories: map[string]string{"Ready for Release": "indeterminate", "Released": "done"}},
		"APP": {StatusCategories: map[string]string{"Ready for Release": "indeterminate"}}}
	sum := e.run(t, collector.Rebuild)
	if e.sim.Stats().Requests != requests {
		t.Fatal("rebuild called Jira")
	}
	if sum.Fetched != 400 {
		t.Fatalf("rebuilt %d issues", sum.Fetched)
	}
	var doneAfter, later uint64
	e.store.QueryRow(ctx, "SELECT count() FROM issues FINAL WHERE done_at IS NOT NULL", nil, &doneAfter)
	e.store.QueryRow(ctx, `SELECT count() FROM issues FINAL ALL INNER JOIN (SELECT issue_id, max(changed_at) AS released
		FROM status_transitions FINAL WHERE to_status = 'Released' GROUP BY issue_id) USING issue_id WHERE done_at = released`, nil, &later)
	if doneAfter >= doneBefore || later == 0 {
		t.Fatalf("done before %d after %d; done at release %d", doneBefore, doneAfter, later)
	}
}

func TestServiceDeskFeedbackBecomesCSAT(t *testing.T) {
	sim, err := jirasim.New(jirasim.Options{Config: jirasim.Config{Seed: 11, Issues: 600, Cloud: true},
		Email: "po@example.com", APIToken: "tok", ServiceDesk: true})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim.Handler())
	t.Cleanup(ts.Close)
	sim.SetBaseURL(ts.URL)
	st := chtest.Store(t)
	s := collector.NewSyncer(st, nil)
	cfg := collector.SiteConfig{Name: "jsm", URL: ts.URL, Email: "po@example.com", APIToken: "tok", Projects: []string{"SHOP", "OPS"}, RequestsPerSecond: 5000, Burst: 100}
	want, sum := 0, 0
	for i := 0; i < 600; i++ {
		if is := sim.Issue(i); is != nil {
			if rating, _, ok := sim.Feedback(is); ok {
				want++
				sum += rating
			}
		}
	}
	if want == 0 {
		t.Fatal("the simulator gave no feedback")
	}
	for run := 0; run < 2; run++ {
		if _, err := s.Sync(context.Background(), cfg, collector.Full); err != nil {
			t.Fatal(err)
		}
		var n uint64
		var total int64
		if err := st.QueryRow(context.Background(), "SELECT count(), toInt64(sum(score)) FROM satisfaction_responses FINAL WHERE scale = 'csat' AND product = 'OPS' AND source = 'jira-service-management'", nil, &n, &total); err != nil {
			t.Fatal(err)
		}
		if int(n) != want || int(total) != sum {
			t.Fatalf("run %d: %d answers summing %d stored, the desk has %d summing %d", run+1, n, total, want, sum)
		}
	}
	off := false
	cfg.ServiceDeskFeedback = &off
	st2 := chtest.Store(t)
	if _, err := collector.NewSyncer(st2, nil).Sync(context.Background(), cfg, collector.Full); err != nil {
		t.Fatal(err)
	}
	if n, _ := st2.Count(context.Background(), "satisfaction_responses", ""); n != 0 {
		t.Fatalf("feedback collected although switched off: %d", n)
	}
}

// TestBoardColumnsSetCycleTimeOfStoredIssues configures the OPS board's
// columns as the cycle (from In Review to Done, so that Ready for Release is
// not done yet): the next incremental sync re-extracts what it had stored,
// every OPS issue's started_at and done_at follow the columns, as walked
// here from the simulator's own histories, the other projects keep theirs,
// and dropping the setting restores the first sync's rows exactly.
func TestBoardColumnsSetCycleTimeOfStoredIssues(t *testing.T) {
	e := setup(t, false, 600, jirasim.Faults{})
	e.run(t, collector.Full)
	before := fingerprint(t, e.store)
	ctx := context.Background()
	stored := func() map[string]evident.Issue {
		var rows []evident.Issue
		if err := e.store.Select(ctx, &rows, "SELECT * FROM issues FINAL WHERE site = 'sim' AND deleted = 0"); err != nil {
			t.Fatal(err)
		}
		out := map[string]evident.Issue{}
		for _, is := range rows {
			out[is.IssueKey] = is
		}
		return out
	}
	first := stored()
	const opsBoard = 3
	e.cfg.Boards = map[uint64]collector.BoardCycle{opsBoard: {StartColumn: "In Review", EndColumn: "Done"}}
	e.run(t, collector.Incremental)
	after := stored()

	start, end := map[string]bool{}, map[string]bool{}
	cols := e.sim.Generator().BoardColumns(opsBoard)
	for k, c := range cols {
		for _, id := range c.Statuses {
			start[id] = k >= 3 && k < 5
			end[id] = k >= 5
		}
	}
	checked, moved, unchanged := 0, 0, 0
	for i := 0; i < 600; i++ {
		is := e.sim.Issue(i)
		got, ok := after[is.Key]
		if is.Project.Key != "OPS" {
			if ok && (!eqTimes(got.StartedAt, first[is.Key].StartedAt) || !eqTimes(got.DoneAt, first[is.Key].DoneAt)) {
				t.Fatalf("%s of %s changed with the OPS board", is.Key, is.Project.Key)
			}
			continue
		}
		if is.Shape != "" || is.Deleted || !ok {
			continue
		}
		cur, at := is.Status.ID, is.Created
		var changes []struct {
			at time.Time
			to string
		}
		for _, h := range is.Histories {
			for _, it := range h.Items {
				if it.Field == "status" {
					if len(changes) == 0 {
						cur = *it.From
					}
					changes = append(changes, struct {
						at time.Time
						to string
					}{h.Created, *it.To})
				}
			}
		}
		if len(changes) == 0 {
			continue
		}
		var started, done *time.Time
		if start[cur] {
			started = &at
		}
		for _, c := range changes {
			c := c
			if started == nil && start[c.to] {
				started = &c.at
			}
			if end[c.to] && !end[cur] {
				done = &c.at
			}
			cur = c.to
		}
		if !end[cur] {
			done = nil
		}
		if started != nil && done != nil && started.After(*done) {
			started = done
		}
		if !eqTimes(got.StartedAt, started) || !eqTimes(got.DoneAt, done) {
			t.Fatalf("%s in %s: started %v done %v, the board's columns say %v and %v", is.Key, is.Status.Name, got.StartedAt, got.DoneAt, started, done)
		}
		checked++
		if eqTimes(got.StartedAt, first[is.Key].StartedAt) && eqTimes(got.DoneAt, first[is.Key].DoneAt) {
			unchanged++
		} else {
			moved++
		}
	}
	if checked < 50 || moved < 20 {
		t.Fatalf("%d OPS issues checked, %d moved by the board's columns, %d unchanged", checked, moved, unchanged)
	}
	t.Logf("%d OPS issues checked against the columns: %d moved, %d unchanged", checked, moved, unchanged)

	e.cfg.Boards = nil
	e.run(t, collector.Incremental)
	if got := fingerprint(t, e.store); got != before {
		t.Fatalf("without the board setting the rows differ from the first sync:\n%s\n%s", got, before)
	}
	e.cfg.Boards = map[uint64]collector.BoardCycle{opsBoard: {StartColumn: "Deploy"}}
	if _, err := e.sync.Sync(ctx, e.cfg, collector.Incremental); err == nil || !strings.Contains(err.Error(), `boards.3: start_column "Deploy" is not a column`) {
		t.Fatalf("unknown column: %v", err)
	}
}

func eqTimes(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Truncate(time.Second).Equal(b.Truncate(time.Second))
}
