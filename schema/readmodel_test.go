package schema_test

import (
	"context"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/internal/chtest"
	"github.com/evident-ebm/evident/schema"
)

// readModelFixture: three issues of project P.
//   - P-1, created 2024-01-01 in To Do, In Progress on 01-02, Done on 01-04;
//     stored twice (version 2 renames it).
//   - P-2, created 2024-01-03 in To Do, never moved.
//   - P-3, created and moved like P-1, then deleted (version 2).
func readModelFixture() ([]evident.Issue, []evident.Transition) {
	day := func(d int) time.Time { return time.Date(2024, 1, d, 0, 0, 0, 0, time.UTC) }
	ptr := func(t time.Time) *time.Time { return &t }
	issue := func(id uint64, key, summary string, created time.Time, version uint64) evident.Issue {
		return evident.Issue{Site: "s", IssueID: id, IssueKey: key, ProjectKey: "P", IssueType: "Story", WorkCategory: "feature",
			Summary: summary, StatusID: "1", StatusName: "To Do", StatusCategory: "new", Labels: []string{}, Components: []string{},
			FixVersions: []string{}, SprintIDs: []uint64{}, CreatedAt: created, UpdatedAt: created, Version: version}
	}
	done := func(is evident.Issue) evident.Issue {
		is.StatusID, is.StatusName, is.StatusCategory = "3", "Done", "done"
		is.StartedAt, is.DoneAt = ptr(day(2)), ptr(day(4))
		return is
	}
	p1v1 := done(issue(1, "P-1", "old", day(1), 1))
	p1v2 := done(issue(1, "P-1", "new", day(1), 2))
	p3 := done(issue(3, "P-3", "gone", day(1), 1))
	p3gone := p3
	p3gone.Deleted, p3gone.Version = 1, 2
	var trans []evident.Transition
	for _, id := range []uint64{1, 3} {
		trans = append(trans,
			evident.Transition{Site: "s", IssueID: id, HistoryID: id*10 + 1, IssueKey: "P-x", ProjectKey: "P", ChangedAt: day(2),
				FromStatusID: "1", ToStatusID: "2", FromStatus: "To Do", ToStatus: "In Progress", FromCategory: "new", ToCategory: "indeterminate", Version: 1},
			evident.Transition{Site: "s", IssueID: id, HistoryID: id*10 + 2, IssueKey: "P-x", ProjectKey: "P", ChangedAt: day(4),
				FromStatusID: "2", ToStatusID: "3", FromStatus: "In Progress", ToStatus: "Done", FromCategory: "indeterminate", ToCategory: "done", Version: 1})
	}
	return []evident.Issue{p1v1, p1v2, issue(2, "P-2", "todo", day(3), 1), p3, p3gone}, trans
}

// storeReadModelFixture stores readModelFixture in a fresh database.
func storeReadModelFixture(t *testing.T) (*schema.Store, []evident.Issue) {
	t.Helper()
	st := chtest.Store(t)
	issues, trans := readModelFixture()
	if err := st.InsertIssues(t.Context(), issues); err != nil {
		t.Fatal(err)
	}
	if err := st.InsertTransitions(t.Context(), trans); err != nil {
		t.Fatal(err)
	}
	if err := st.InsertTimelines(t.Context(), fixtureTimelines(issues, trans)); err != nil {
		t.Fatal(err)
	}
	return st, issues
}

// fixtureTimelines are the timelines the collector stores with the
// fixture's issues: each created in To Do, then its transitions.
func fixtureTimelines(issues []evident.Issue, trans []evident.Transition) []evident.IssueTimeline {
	var out []evident.IssueTimeline
	for _, is := range issues {
		tl := evident.Timeline{Created: is.CreatedAt, Initial: evident.StatusRef{ID: "1", Name: "To Do", Category: "new"}}
		for _, tr := range trans {
			if tr.IssueID == is.IssueID {
				tl.Changes = append(tl.Changes, evident.StatusChange{At: tr.ChangedAt, HistoryID: tr.HistoryID,
					From: evident.StatusRef{ID: tr.FromStatusID, Name: tr.FromStatus, Category: tr.FromCategory},
					To:   evident.StatusRef{ID: tr.ToStatusID, Name: tr.ToStatus, Category: tr.ToCategory}})
			}
		}
		out = append(out, evident.StoredTimeline(is.Site, is.IssueID, tl, nil, is.Version))
	}
	return out
}

func TestReadModelIsTheDeduplicatedJiraData(t *testing.T) {
	st, issues := storeReadModelFixture(t)
	ctx := context.Background()
	if _, ok, err := st.CurrentGeneration(ctx); ok || err != nil {
		t.Fatalf("a generation before the first build: %v %v", ok, err)
	}
	g, built, err := st.BuildReadModelIfStale(ctx)
	if err != nil || !built {
		t.Fatalf("first build: built %v, %v", built, err)
	}
	if g.Issues != 2 || g.Transitions != 2 {
		t.Fatalf("generation holds %d issues and %d transitions, want 2 and 2 (P-3 is deleted)", g.Issues, g.Transitions)
	}

	var cur []struct {
		Key      string `ch:"issue_key"`
		Summary  string `ch:"summary"`
		Initial  string `ch:"initial_status"`
		InitialC string `ch:"initial_category"`
	}
	if err := st.Select(ctx, &cur, "SELECT issue_key, summary, initial_status, initial_category FROM issues_current WHERE "+schema.Current+" ORDER BY issue_key"); err != nil {
		t.Fatal(err)
	}
	if len(cur) != 2 || cur[0].Key != "P-1" || cur[0].Summary != "new" || cur[0].Initial != "To Do" || cur[0].InitialC != "new" ||
		cur[1].Key != "P-2" || cur[1].Initial != "To Do" {
		t.Fatalf("issues_current = %+v", cur)
	}

	// Per day: P-1 enters new on 01-01 and moves on 01-02 and 01-04; P-2
	// enters new on 01-03.
	var cfd []struct {
		Day   time.Time `ch:"day"`
		State string    `ch:"state"`
		Delta int64     `ch:"delta"`
	}
	if err := st.Select(ctx, &cfd, "SELECT day, state, delta FROM cfd_daily WHERE "+schema.Current+" AND kind = 'category' ORDER BY day, state"); err != nil {
		t.Fatal(err)
	}
	want := []string{"01 new +1", "02 indeterminate +1", "02 new -1", "03 new +1", "04 done +1", "04 indeterminate -1"}
	if len(cfd) != len(want) {
		t.Fatalf("cfd_daily has %d rows, want %d: %+v", len(cfd), len(want), cfd)
	}
	for i, r := range cfd {
		if got := r.Day.Format("02") + " " + r.State + " " + signed(r.Delta); got != want[i] {
			t.Errorf("cfd_daily row %d = %q, want %q", i, got, want[i])
		}
	}

	// P-1 (done on 01-04) stayed 1 day in To Do and 2 in In Progress; the
	// stay in Done is open.
	var stays []struct {
		Status  string    `ch:"status"`
		Day     time.Time `ch:"day"`
		Seconds int64     `ch:"secs"`
	}
	if err := st.Select(ctx, &stays, "SELECT status, day, arrayJoin(seconds) AS secs FROM status_stays WHERE "+schema.Current+" ORDER BY secs"); err != nil {
		t.Fatal(err)
	}
	if len(stays) != 2 || stays[0].Status != "To Do" || stays[0].Seconds != 86400 || stays[1].Status != "In Progress" || stays[1].Seconds != 2*86400 ||
		stays[0].Day.Format("2006-01-02") != "2024-01-04" {
		t.Fatalf("status_stays = %+v", stays)
	}

	// Nothing new: no build. A changed issue: a new generation, the old
	// one's partitions dropped.
	if _, built, err := st.BuildReadModelIfStale(ctx); built || err != nil {
		t.Fatalf("second refresh with nothing new: built %v, %v", built, err)
	}
	p2 := issues[2]
	p2.Summary, p2.Version = "renamed", 3
	if err := st.InsertIssues(ctx, []evident.Issue{p2}); err != nil {
		t.Fatal(err)
	}
	g2, built, err := st.BuildReadModelIfStale(ctx)
	if err != nil || !built || g2.Gen <= g.Gen {
		t.Fatalf("refresh after a change: built %v, gen %d after %d, %v", built, g2.Gen, g.Gen, err)
	}
	var summary string
	if err := st.QueryRow(ctx, "SELECT summary FROM issues_current WHERE "+schema.Current+" AND issue_key = 'P-2'", nil, &summary); err != nil || summary != "renamed" {
		t.Fatalf("P-2 in the new generation: %q, %v", summary, err)
	}
	if g2.Rebuilt != 1 || g2.Pieces[0] == g.Pieces[0] {
		t.Fatalf("the refresh rebuilt %d pieces (%v after %v), want the one piece anew", g2.Rebuilt, g2.Pieces, g.Pieces)
	}
	// The three newest generations keep their pieces (a build of another
	// process may still be taking pieces from them); older ones go.
	if n := generationPartitions(t, st); n != 8 {
		t.Fatalf("%d generation partitions left, want 8 (one per table and generation)", n)
	}
	for range 3 {
		if _, err := st.BuildReadModel(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := generationPartitions(t, st); n != 12 {
		t.Fatalf("%d generation partitions left after three more builds, want 12 (one per table and kept generation)", n)
	}
	if n := unusedPartitions(t, st); n != 0 {
		t.Fatalf("%d partitions of the read model belong to no kept generation", n)
	}
}

// generationPartitions counts the partitions of the read model's tables
// that the fixture fills (refinement_days and sprint_members stay empty).
func generationPartitions(t *testing.T, st *schema.Store) uint64 {
	t.Helper()
	var n uint64
	if err := st.QueryRow(t.Context(), `SELECT uniqExact(table, partition) FROM system.parts WHERE database = currentDatabase() AND active
		AND table IN ('issues_current', 'cfd_daily', 'status_stays', 'status_usage')`, nil, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// unusedPartitions counts the partitions of the read model's tables that
// are no piece of the three newest generations.
func unusedPartitions(t *testing.T, st *schema.Store) uint64 {
	t.Helper()
	var n uint64
	if err := st.QueryRow(t.Context(), `SELECT count() FROM system.parts WHERE database = currentDatabase() AND active
		AND table IN ('issues_current', 'issues_open', 'issues_done', 'cfd_daily', 'status_stays', 'status_usage', 'done_daily', 'done_times', 'sprint_members', 'refinement_days')
		AND NOT has((SELECT groupArrayArray(p) FROM (SELECT if(empty(pieces), [gen], pieces) AS p FROM derived_generations ORDER BY gen DESC LIMIT 3)),
			toUInt64(partition))`, nil, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A build cut short is never read: readers stay on the last complete one.
func TestReadersNeverSeeAPartialGeneration(t *testing.T) {
	st, _ := storeReadModelFixture(t)
	ctx := context.Background()
	g, err := st.BuildReadModel(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The first step of a later build wrote its rows, then the build died.
	if err := st.Exec(ctx, "INSERT INTO issues_current (gen, site, issue_id, issue_key, project_key) SELECT toUInt64(?), 's', 99, 'P-99', 'P'", g.Gen+1); err != nil {
		t.Fatal(err)
	}
	var n uint64
	if err := st.QueryRow(ctx, "SELECT count() FROM issues_current WHERE "+schema.Current, nil, &n); err != nil || n != 2 {
		t.Fatalf("readers see %d issues, want the 2 of the complete generation (%v)", n, err)
	}
	if _, err := st.BuildReadModel(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.QueryRow(ctx, "SELECT count() FROM issues_current WHERE issue_key = 'P-99'", nil, &n); err != nil || n != 0 {
		t.Fatalf("the partial generation is still there after the next build: %d rows (%v)", n, err)
	}
}

func signed(v int64) string {
	if v > 0 {
		return "+" + strconv.FormatInt(v, 10)
	}
	return strconv.FormatInt(v, 10)
}

// A query that runs longer than the store's deadline is cancelled on the
// server and returns an error at the deadline, not when it would finish.
func TestQueryDeadline(t *testing.T) {
	st := chtest.Store(t)
	st.QueryTimeout = 300 * time.Millisecond
	start := time.Now()
	var v uint8
	err := st.QueryRow(context.Background(), "SELECT sleep(3)", nil, &v)
	if err == nil {
		t.Fatal("a 3-second query finished under a 300 ms deadline")
	}
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Fatalf("the query returned after %s, not at the deadline", took)
	}
	st.QueryTimeout = 10 * time.Second
	if err := st.QueryRow(context.Background(), "SELECT 1", nil, &v); err != nil || v != 1 {
		t.Fatalf("the store after a cancelled query: %v %v", v, err)
	}
}

// Built in ranges of one issue each, the read model is the same as built
// in one go.
func TestReadModelBuiltInRanges(t *testing.T) {
	st, _ := storeReadModelFixture(t)
	ctx := context.Background()
	snapshot := func() string {
		t.Helper()
		var rows []struct {
			Line string `ch:"line"`
		}
		q := `SELECT concat(issue_key, ' ', initial_status, ' ', toString(length(history_at)), ' ', arrayStringConcat(history_to_status, '>')) AS line
			FROM issues_current WHERE ` + schema.Current + `
			UNION ALL SELECT concat(toString(day), ' ', state, ' ', toString(delta)) AS line FROM cfd_daily WHERE ` + schema.Current
		if err := st.Select(ctx, &rows, q); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rows {
			out = append(out, r.Line)
		}
		sort.Strings(out)
		return strings.Join(out, "\n")
	}
	if _, err := st.BuildReadModel(ctx); err != nil {
		t.Fatal(err)
	}
	whole := snapshot()
	st.ReadModelChunk = 1
	if _, err := st.BuildReadModel(ctx); err != nil {
		t.Fatal(err)
	}
	if ranged := snapshot(); ranged != whole || !strings.Contains(whole, "P-1 To Do 2 In Progress>Done") {
		t.Fatalf("built in ranges:\n%s\nin one go:\n%s", ranged, whole)
	}
}

// Two builds at once (two sites' syncs finishing together): readers see a
// complete generation during and after, and the next build leaves one.
func TestTwoBuildsAtOnce(t *testing.T) {
	st, _ := storeReadModelFixture(t)
	ctx := context.Background()
	errs := make(chan error, 2)
	for range 2 {
		go func() { _, err := st.BuildReadModel(ctx); errs <- err }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var issues, stays uint64
	check := func(when string) {
		t.Helper()
		if err := st.QueryRow(ctx, "SELECT count() FROM issues_current WHERE "+schema.Current, nil, &issues); err != nil {
			t.Fatal(err)
		}
		if err := st.QueryRow(ctx, "SELECT sum(visits) FROM status_stays WHERE "+schema.Current, nil, &stays); err != nil {
			t.Fatal(err)
		}
		if issues != 2 || stays != 2 {
			t.Fatalf("%s: readers see %d issues and %d stays, want 2 and 2", when, issues, stays)
		}
	}
	check("after two builds at once")
	if _, err := st.BuildReadModel(ctx); err != nil {
		t.Fatal(err)
	}
	check("after one more")
	if n := unusedPartitions(t, st); n != 0 {
		t.Fatalf("%d partitions of the read model belong to no kept generation", n)
	}
}

// More queries at once than the pool has connections wait for one, for as
// long as their own deadline allows (before: the driver gave up after its
// dial timeout, 5 s, with "acquire conn timeout": under 8 clients asking
// for uncached overviews at 1,000,000 issues, 4 of 25 failed). Two
// connections, twelve 1-second queries: the last waits about 5 s.
func TestQueriesWaitForAConnection(t *testing.T) {
	dsn := chtest.DSN(t)
	chtest.StoreAt(t, dsn) // create and migrate the database
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	st, err := schema.Open(context.Background(), dsn+sep+"max_open_conns=2&max_idle_conns=2")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var wg sync.WaitGroup
	errs := make([]error, 12)
	start := time.Now()
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var v uint8
			errs[i] = st.QueryRow(context.Background(), "SELECT sleep(1)", nil, &v)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("query %d of 12 on 2 connections: %v", i+1, err)
		}
	}
	t.Logf("12 one-second queries on 2 connections in %s", time.Since(start).Round(100*time.Millisecond))
}

// A request pins the generation its first read-model query finds: every
// later query of it reads the same one, though a refresh came in between;
// a new request reads the new one. Pinned before any generation exists, a
// request reads none, as the subquery does.
func TestAPinnedRequestReadsOneGeneration(t *testing.T) {
	st, issues := storeReadModelFixture(t)
	ctx := context.Background()
	count := func(ctx context.Context) uint64 {
		t.Helper()
		var n uint64
		if err := st.QueryRow(ctx, "SELECT count() FROM issues_current WHERE "+schema.Current, nil, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(schema.PinCurrent(ctx)); n != 0 {
		t.Fatalf("pinned before the first build: %d issues", n)
	}
	if _, err := st.BuildReadModel(ctx); err != nil {
		t.Fatal(err)
	}
	request := schema.PinCurrent(ctx)
	if n := count(request); n != 2 {
		t.Fatalf("pinned request sees %d issues, want 2", n)
	}
	p4 := issues[2]
	p4.IssueID, p4.IssueKey, p4.Version = 4, "P-4", 3
	if err := st.InsertIssues(ctx, []evident.Issue{p4}); err != nil {
		t.Fatal(err)
	}
	if _, built, err := st.BuildReadModelIfStale(ctx); err != nil || !built {
		t.Fatalf("refresh: built %v, %v", built, err)
	}
	if n := count(request); n != 2 {
		t.Fatalf("the pinned request sees %d issues after a refresh, want the 2 of its generation", n)
	}
	if n, m := count(ctx), count(schema.PinCurrent(ctx)); n != 3 || m != 3 {
		t.Fatalf("a new request sees %d issues (unpinned) and %d (pinned), want 3", n, m)
	}
}

// The data version changes when a reader can see something new: a read
// model generation, or a table the metrics read directly (a sprint); not
// with the Jira issue rows a sync stores page by page, which readers see
// only through the generation built after them, nor with that build's
// pieces, nor with a checkpoint.
func TestDataVersionChangesWhenReadersCanSeeNewData(t *testing.T) {
	ctx := t.Context()
	st := chtest.Store(t)
	version := func() string {
		t.Helper()
		v, err := st.DataVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	v0 := version()
	issues, trans := readModelFixture()
	if err := st.InsertIssues(ctx, issues); err != nil {
		t.Fatal(err)
	}
	if err := st.InsertTransitions(ctx, trans); err != nil {
		t.Fatal(err)
	}
	if err := st.InsertTimelines(ctx, fixtureTimelines(issues, trans)); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveCheckpoint(ctx, "s", "P", time.Date(2024, 1, 5, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if v := version(); v != v0 {
		t.Fatalf("issue rows and a checkpoint, no generation yet: the version changed (%s → %s)", v0, v)
	}
	if _, err := st.BuildReadModel(ctx); err != nil {
		t.Fatal(err)
	}
	v1 := version()
	if v1 == v0 {
		t.Fatal("a new read model generation left the version as it was")
	}
	// A newer version of one issue: unseen until the refresh records a
	// generation holding it.
	moved := issues[2]
	moved.Summary, moved.Version = "renamed", 3
	if err := st.InsertIssues(ctx, []evident.Issue{moved}); err != nil {
		t.Fatal(err)
	}
	if v := version(); v != v1 {
		t.Fatalf("a stored issue row, no generation yet: the version changed (%s → %s)", v1, v)
	}
	if _, built, err := st.BuildReadModelIfStale(ctx); err != nil || !built {
		t.Fatalf("refresh: built %v, %v", built, err)
	}
	v2 := version()
	if v2 == v1 {
		t.Fatal("a refreshed generation left the version as it was")
	}
	if projects, all, err := st.Changes(ctx, v1, v2); err != nil || all || !slices.Equal(projects, []string{"P"}) {
		t.Fatalf("a refresh of one issue of P changed %v (all: %v, %v), want [P]", projects, all, err)
	}
	if _, all, err := st.Changes(ctx, v0, v1); err != nil || !all {
		t.Fatalf("the first build changed not everything (%v)", err)
	}
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := st.InsertSprints(ctx, []evident.Sprint{{Site: "s", SprintID: 1, BoardID: 1, Name: "Sprint 1", State: "active", StartAt: &at, Version: 1}}); err != nil {
		t.Fatal(err)
	}
	v3 := version()
	if v3 == v2 {
		t.Fatal("a stored sprint, which the sprint views read directly, left the version as it was")
	}
	if projects, all, err := st.Changes(ctx, v2, v3); err != nil || !all {
		t.Fatalf("a stored sprint changed %v (all: %v, %v), not every view", projects, all, err)
	}
	// The next sync stores the same sprint again (its start read in
	// another time zone): nothing to see.
	again := at.In(time.FixedZone("CET", 3600))
	if err := st.InsertSprints(ctx, []evident.Sprint{{Site: "s", SprintID: 1, BoardID: 1, Name: "Sprint 1", State: "active", StartAt: &again, Version: 2}}); err != nil {
		t.Fatal(err)
	}
	if v := version(); v != v3 {
		t.Fatalf("the same sprint stored again changed the version (%s → %s)", v3, v)
	}
	// A sync run's record reaches the data health report only.
	if err := st.InsertSyncRuns(ctx, []evident.SyncRun{{Site: "s", RunID: "r1", StartedAt: at, FinishedAt: at, Mode: "full", Status: "ok"}}); err != nil {
		t.Fatal(err)
	}
	v4 := version()
	if projects, all, err := st.Changes(ctx, v3, v4); v4 == v3 || err != nil || all || len(projects) != 0 {
		t.Fatalf("a sync run's record: version %s → %s, changed %v (all: %v, %v); want a change of no project's views", v3, v4, projects, all, err)
	}
}
