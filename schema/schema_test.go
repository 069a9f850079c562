package schema_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/internal/chtest"
	"github.com/evident-ebm/evident/schema"
)

func TestMain(m *testing.M) { chtest.Main(m) }

var update = flag.Bool("update", false, "rewrite the golden DDL files")

// The rendered DDL is pinned: a change to a shipped migration shows up here
// (and Migrate refuses it on a database that applied the old text).
func TestDDLGolden(t *testing.T) {
	for name, opts := range map[string]schema.Options{
		"single.sql":  {Database: "evident"},
		"cluster.sql": {Database: "evident", Cluster: "prod"},
	} {
		t.Run(name, func(t *testing.T) {
			migs, err := schema.Migrations(opts)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, m := range migs {
				for _, s := range m.Statements {
					b.WriteString("-- " + m.Name + "\n" + s + ";\n\n")
				}
			}
			path := filepath.Join("testdata", name)
			if *update {
				os.WriteFile(path, []byte(b.String()), 0o644)
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./schema -update to create it)", err)
			}
			if b.String() != string(want) {
				t.Errorf("rendered DDL differs from %s; if the change is intended, add a migration and run go test ./schema -update", path)
			}
		})
	}
}

func TestClusterModeUsesReplicatedEngines(t *testing.T) {
	migs, err := schema.Migrations(schema.Options{Database: "ev", Cluster: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range migs {
		for _, s := range m.Statements {
			if !strings.Contains(s, "ON CLUSTER `c1`") || (strings.HasPrefix(s, "CREATE TABLE") && !strings.Contains(s, "ENGINE = Replicated")) {
				t.Errorf("statement of %s lacks cluster clauses:\n%s", m.Name, s)
			}
		}
	}
}

func TestMigrateTwiceAndConcurrently(t *testing.T) {
	dsn := chtest.DSN(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			st, err := schema.Open(ctx, dsn)
			if err != nil {
				errs[i] = err
				return
			}
			defer st.Close()
			_, errs[i] = st.Migrate(ctx, "")
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent migrate %d: %v", i, err)
		}
	}
	st, err := schema.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	res, err := st.Migrate(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	migs, _ := schema.Migrations(schema.Options{Database: st.Database})
	if len(res) != len(migs) {
		t.Fatalf("got %d results, want %d", len(res), len(migs))
	}
	for _, r := range res {
		if r.Applied {
			t.Errorf("migration %04d_%s applied again on the third run", r.Version, r.Name)
		}
	}
	var tables uint64
	if err := st.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ?", []any{st.Database}, &tables); err != nil {
		t.Fatal(err)
	}
	if tables != 38 { // 37 tables of the migrations + schema_migrations
		t.Errorf("database has %d tables, want 38", tables)
	}
}

func TestChangedMigrationIsRefused(t *testing.T) {
	st := chtest.Store(t)
	ctx := context.Background()
	if err := st.Exec(ctx, "INSERT INTO schema_migrations (version, name, checksum, applied_at) SELECT 1, 'jira', 'deadbeefdeadbeef', now() + 3600"); err != nil {
		t.Fatal(err)
	}
	_, err := st.Migrate(ctx, "")
	if err == nil || !strings.Contains(err.Error(), "0001_jira was changed") {
		t.Fatalf("Migrate = %v, want an error naming 0001_jira", err)
	}
}

func ptr[T any](v T) *T { return &v }

func sampleRows(version uint64) ([]evident.Issue, []evident.Transition, []evident.SprintChange, []evident.Sprint) {
	t0 := time.Date(2024, 3, 5, 13, 3, 11, 0, time.UTC)
	var issues []evident.Issue
	var trans []evident.Transition
	var sc []evident.SprintChange
	for i := 1; i <= 2500; i++ {
		created := t0.Add(time.Duration(i) * time.Hour)
		is := evident.Issue{
			Site: "s1", IssueID: uint64(10000 + i), IssueKey: "EV-" + itoa(i), ProjectKey: "EV",
			IssueType: "Story", WorkCategory: evident.WorkFeature, Summary: "ünïcode <b>" + itoa(i) + "</b>",
			StatusID: "10001", StatusName: "Done", StatusCategory: evident.CategoryDone,
			Labels: []string{"a", "b"}, SprintIDs: []uint64{7}, StoryPoints: ptr(float64(i % 8)),
			CreatedAt: created, UpdatedAt: created.Add(48 * time.Hour),
			StartedAt: ptr(created.Add(time.Hour)), DoneAt: ptr(created.Add(30 * time.Hour)), Version: version,
		}
		if i%10 == 0 {
			is.StoryPoints = nil
			is.StartedAt = nil
		}
		issues = append(issues, is)
		trans = append(trans,
			evident.Transition{Site: "s1", IssueID: is.IssueID, HistoryID: uint64(i * 10), IssueKey: is.IssueKey, ProjectKey: "EV", ChangedAt: created.Add(time.Hour), FromStatusID: "1", ToStatusID: "3", FromCategory: "new", ToCategory: "indeterminate", Version: version},
			evident.Transition{Site: "s1", IssueID: is.IssueID, HistoryID: uint64(i*10 + 1), IssueKey: is.IssueKey, ProjectKey: "EV", ChangedAt: created.Add(30 * time.Hour), FromStatusID: "3", ToStatusID: "10001", FromCategory: "indeterminate", ToCategory: "done", Version: version})
		sc = append(sc, evident.SprintChange{Site: "s1", IssueID: is.IssueID, HistoryID: uint64(i * 10), SprintID: 7, IssueKey: is.IssueKey, ProjectKey: "EV", ChangedAt: created, Added: 1, Version: version})
	}
	sprints := []evident.Sprint{{Site: "s1", SprintID: 7, BoardID: 3, Name: "Sprint 7", State: "closed", StartAt: ptr(t0), EndAt: ptr(t0.Add(14 * 24 * time.Hour)), CompleteAt: ptr(t0.Add(14 * 24 * time.Hour)), Version: version}}
	return issues, trans, sc, sprints
}

func itoa(i int) string { return strconv.Itoa(i) }

type totals struct {
	issues, transitions, sprintChanges, sprints uint64
	points                                      float64
	leadSeconds                                 int64
}

func readTotals(t *testing.T, st *schema.Store) totals {
	t.Helper()
	ctx := context.Background()
	var tt totals
	var err error
	if tt.issues, err = st.Count(ctx, "issues", "s1"); err != nil {
		t.Fatal(err)
	}
	if tt.transitions, err = st.Count(ctx, "status_transitions", "s1"); err != nil {
		t.Fatal(err)
	}
	if tt.sprintChanges, err = st.Count(ctx, "sprint_changes", "s1"); err != nil {
		t.Fatal(err)
	}
	if tt.sprints, err = st.Count(ctx, "sprints", "s1"); err != nil {
		t.Fatal(err)
	}
	if err := st.QueryRow(ctx, "SELECT sum(ifNull(story_points, 0)), toInt64(sum(toUInt32(done_at) - toUInt32(created_at))) FROM issues FINAL WHERE site = ?", []any{"s1"}, &tt.points, &tt.leadSeconds); err != nil {
		t.Fatal(err)
	}
	return tt
}

func TestInsertReadBackAndReinsertChangesNothing(t *testing.T) {
	st := chtest.Store(t)
	ctx := context.Background()
	issues, trans, sc, sprints := sampleRows(1)
	write := func() {
		t.Helper()
		if err := st.InsertIssues(ctx, issues); err != nil {
			t.Fatal(err)
		}
		if err := st.InsertTransitions(ctx, trans); err != nil {
			t.Fatal(err)
		}
		if err := st.InsertSprintChanges(ctx, sc); err != nil {
			t.Fatal(err)
		}
		if err := st.InsertSprints(ctx, sprints); err != nil {
			t.Fatal(err)
		}
	}
	write()
	first := readTotals(t, st)
	want := totals{issues: 2500, transitions: 5000, sprintChanges: 2500, sprints: 1, points: 0, leadSeconds: 2500 * 30 * 3600}
	for i := 1; i <= 2500; i++ {
		if i%10 != 0 {
			want.points += float64(i % 8)
		}
	}
	if first != want {
		t.Fatalf("after first insert: %+v, want %+v", first, want)
	}
	write()
	if second := readTotals(t, st); second != first {
		t.Fatalf("inserting the same batch twice changed the totals: %+v, then %+v", first, second)
	}

	var got []evident.Issue
	if err := st.Select(ctx, &got, "SELECT * FROM issues FINAL WHERE issue_key = ?", "EV-20"); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("read back %d rows for EV-20", len(got))
	}
	g := got[0]
	if g.Summary != "ünïcode <b>20</b>" || g.StoryPoints != nil || g.StartedAt != nil || g.DoneAt == nil ||
		!g.CreatedAt.Equal(issues[19].CreatedAt) || len(g.Labels) != 2 || g.SprintIDs[0] != 7 {
		t.Errorf("EV-20 read back as %+v", g)
	}
}

func TestNewerVersionReplacesOlder(t *testing.T) {
	st := chtest.Store(t)
	ctx := context.Background()
	issues, _, _, _ := sampleRows(1)
	if err := st.InsertIssues(ctx, issues[:10]); err != nil {
		t.Fatal(err)
	}
	changed := append([]evident.Issue(nil), issues[:10]...)
	for i := range changed {
		changed[i].StatusCategory = evident.CategoryIndeterminate
		changed[i].Version = 2
	}
	if err := st.InsertIssues(ctx, changed); err != nil {
		t.Fatal(err)
	}
	var n uint64
	if err := st.QueryRow(ctx, "SELECT count() FROM issues FINAL WHERE status_category = 'indeterminate'", nil, &n); err != nil {
		t.Fatal(err)
	}
	if n != 10 {
		t.Fatalf("%d issues carry the newer version's category, want 10", n)
	}
}

func TestCheckpoint(t *testing.T) {
	st := chtest.Store(t)
	ctx := context.Background()
	if _, ok, err := st.Checkpoint(ctx, "s1", "EV"); ok || err != nil {
		t.Fatalf("fresh checkpoint: %v %v, want none", ok, err)
	}
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := st.SaveCheckpoint(ctx, "s1", "EV", at); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveCheckpoint(ctx, "s1", "EV", at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _, err := st.Checkpoint(ctx, "s1", "EV")
	if err != nil || !got.Equal(at.Add(time.Hour)) {
		t.Fatalf("checkpoint = %v, %v; want %v", got, err, at.Add(time.Hour))
	}
}

func TestOpenRejectsHTTPAndHidesPassword(t *testing.T) {
	_, err := schema.Open(context.Background(), "http://u:s3cret@127.0.0.1:8123/x")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Open(http DSN) = %v", err)
	}
	_, err = schema.Open(context.Background(), "clickhouse://u:s3cret@127.0.0.1:9000/x?dial_timeout=notaduration")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Open(bad DSN) = %v", err)
	}
}
