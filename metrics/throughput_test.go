package metrics_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/internal/chtest"
	"github.com/evident-ebm/evident/metrics"
	"github.com/evident-ebm/evident/schema"
)

// The daily throughput read from the read model's per-day counts equals
// the issues' done dates counted one by one (the path a label filter
// takes), and both equal the count made here from the issues stored;
// after a refresh too, for each dimension a filter can name.
func TestDailyThroughputFromTheDailyCounts(t *testing.T) {
	ctx := t.Context()
	dsn := chtest.DSN(t)
	st := chtest.StoreAt(t, dsn)
	st.ReadModelChunk = 40
	r := rand.New(rand.NewPCG(5, 2026))
	today := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var issues []evident.Issue
	for i := range 300 {
		created := today.AddDate(0, 0, -200+r.IntN(150))
		is := evident.Issue{Site: "s", IssueID: uint64(1000 + i), IssueKey: fmt.Sprintf("P-%d", i), ProjectKey: []string{"P", "Q"}[r.IntN(2)],
			IssueType: []string{"Story", "Bug"}[r.IntN(2)], WorkCategory: []string{"feature", "defect"}[r.IntN(2)], Summary: "x",
			StatusID: "1", StatusName: "To Do", StatusCategory: "new", Labels: []string{"all"}, Components: []string{}, FixVersions: []string{},
			SprintIDs: []uint64{}, BlockedBy: []string{}, BlockedByOpen: []uint8{}, CreatedAt: created, UpdatedAt: created, Version: 1}
		if r.IntN(4) > 0 {
			done := created.Add(time.Duration(r.IntN(60*24)) * time.Hour)
			is.StatusID, is.StatusName, is.StatusCategory, is.DoneAt = "3", "Done", "done", &done
		}
		issues = append(issues, is)
	}
	if err := st.InsertIssues(ctx, issues); err != nil {
		t.Fatal(err)
	}
	if _, err := st.BuildReadModel(ctx); err != nil {
		t.Fatal(err)
	}
	ms := metrics.New(st)
	day := func(t time.Time) string { return t.Format("2006-01-02") }
	// Windows ending on several days (across a month's and the year's
	// end, a leap-free February) and of several lengths.
	windows := []struct {
		end  time.Time
		days int
	}{{today, 90}, {today.AddDate(0, 0, -17), 31}, {today.AddDate(0, 0, -45), 1}, {time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 60}}
	checkWindow := func(when string, end time.Time, days int) {
		t.Helper()
		from := end.AddDate(0, 0, -days)
		for _, f := range []metrics.Filter{{}, {Project: "Q"}, {Types: []string{"Bug"}}, {WorkCategory: "defect"}, {Project: "P", Types: []string{"Story"}}} {
			f.From, f.To = from, end
			fast, err := ms.DailyThroughput(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			slow := f
			slow.Label = "all"
			counted, err := ms.DailyThroughput(ctx, slow)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]int, days)
			for _, is := range issues {
				if is.DoneAt == nil || is.Deleted == 1 || (f.Project != "" && is.ProjectKey != f.Project) || (f.Types != nil && !slices.Contains(f.Types, is.IssueType)) ||
					(f.WorkCategory != "" && is.WorkCategory != f.WorkCategory) {
					continue
				}
				if d := int(is.DoneAt.Sub(from).Hours() / 24); is.DoneAt.Compare(from) >= 0 && d < days {
					want[d]++
				}
			}
			// As a request pinned to the generation reads them.
			pinned, err := ms.DailyThroughput(schema.PinCurrent(ctx), f)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(fast, want) || !slices.Equal(counted, want) || !slices.Equal(pinned, want) {
				t.Fatalf("%s, %d days to %s, filter %+v:\nper-day counts %v\npinned         %v\ndone dates     %v\nstored issues  %v", when, days, day(end), f, fast, pinned, counted, want)
			}
			// The innovation trend from them (the EBM's) is the one
			// counted from the issues, by week and by month.
			for _, p := range []metrics.Period{metrics.Week, metrics.Month} {
				a, err := ms.Quality(ctx, f, p)
				if err != nil {
					t.Fatal(err)
				}
				b, err := ms.Quality(ctx, slow, p)
				if err != nil {
					t.Fatal(err)
				}
				x, _ := json.Marshal([]any{a.DoneIssues, a.DoneFeatures, a.InnovationRate, a.InnovationTrend})
				y, _ := json.Marshal([]any{b.DoneIssues, b.DoneFeatures, b.InnovationRate, b.InnovationTrend})
				if string(x) != string(y) {
					t.Fatalf("%s, filter %+v, by %s: innovation from the day counts %s, from the issues %s", when, f, p, x, y)
				}
			}
			// The weekly throughput from them (the signals' chart) is
			// the flow's, from whole days and from a range starting
			// mid-day.
			for _, g := range []metrics.Filter{f, slow, func() metrics.Filter { h := f; h.From = h.From.Add(7 * time.Hour); return h }()} {
				weeks, err := ms.WeeklyThroughput(ctx, g)
				if err != nil {
					t.Fatal(err)
				}
				fl, err := ms.Flow(ctx, g)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(weeks, fl.Throughput) {
					t.Fatalf("%s, filter %+v:\nweekly from the day counts %v\nthe flow's                 %v", when, g, weeks, fl.Throughput)
				}
			}
		}
	}
	check := func(when string) {
		t.Helper()
		for _, w := range windows {
			checkWindow(when, w.end, w.days)
		}
	}
	check("after a full build")
	// Some issues moved to Done, one reopened, one deleted: a refresh.
	var changed []evident.Issue
	for _, i := range []int{3, 50, 151, 152, 299} {
		is := issues[i]
		done := today.AddDate(0, 0, -1-i%20)
		is.StatusID, is.StatusName, is.StatusCategory, is.DoneAt, is.Version = "3", "Done", "done", &done, 2
		issues[i] = is
		changed = append(changed, is)
	}
	issues[7].DoneAt, issues[7].StatusCategory, issues[7].Version = nil, "indeterminate", 2
	issues[9].Deleted, issues[9].Version = 1, 2
	if err := st.InsertIssues(ctx, append(changed, issues[7], issues[9])); err != nil {
		t.Fatal(err)
	}
	if g, built, err := st.BuildReadModelIfStale(ctx); err != nil || !built || g.Rebuilt == len(g.Pieces) {
		t.Fatalf("refresh: built %v, %d of %d pieces, %v", built, g.Rebuilt, len(g.Pieces), err)
	}
	check("after a refresh")
	// A read model built before the per-day counts existed (here: its
	// rows dropped): the done dates are counted; the next refresh, though
	// nothing changed, builds it in full and fills them.
	if err := st.Exec(ctx, "ALTER TABLE done_daily DELETE WHERE 1"); err != nil {
		t.Fatal(err)
	}
	for n := uint64(1); n > 0; time.Sleep(50 * time.Millisecond) {
		st.QueryRow(ctx, "SELECT count() FROM done_daily", nil, &n)
	}
	check("without the per-day counts")
	upgraded := chtest.StoreAt(t, dsn) // a new process, as after an upgrade
	upgraded.ReadModelChunk = 40
	if g, built, err := upgraded.BuildReadModelIfStale(ctx); err != nil || !built || g.Rebuilt != len(g.Pieces) {
		t.Fatalf("the refresh of a read model without the per-day counts: built %v, %d of %d pieces, %v", built, g.Rebuilt, len(g.Pieces), err)
	}
	var n uint64
	if err := st.QueryRow(ctx, "SELECT count() FROM done_daily", nil, &n); err != nil || n == 0 {
		t.Fatalf("per-day counts after the full build: %d, %v", n, err)
	}
	check("after the full build that filled them")

	// A rolling upgrade: a process of the earlier version refreshed after
	// this one had checked the read model at its start, and a piece it
	// built has no per-day counts (here: the first piece's rows dropped).
	// The next refresh here, for a change in the last piece, builds the
	// first piece anew as well.
	cur, _, err := upgraded.CurrentGeneration(ctx)
	if err != nil || len(cur.Pieces) < 3 {
		t.Fatalf("current generation: %d pieces, %v", len(cur.Pieces), err)
	}
	if err := st.Exec(ctx, "ALTER TABLE done_daily DELETE WHERE gen = ?", cur.Pieces[0]); err != nil {
		t.Fatal(err)
	}
	for n := uint64(1); n > 0; time.Sleep(50 * time.Millisecond) {
		st.QueryRow(ctx, "SELECT count() FROM done_daily WHERE gen = ?", []any{cur.Pieces[0]}, &n)
	}
	// The generation the earlier version records (format 0) is read from
	// the done dates, not undercounted by the piece it left without.
	if err := st.Exec(ctx, `INSERT INTO derived_generations (gen, sites, site_versions, built_at, seconds, issues, transitions, pieces, bounds, base, changed)
		SELECT gen + 1, sites, site_versions, built_at, seconds, issues, transitions, pieces, bounds, base, changed FROM derived_generations WHERE gen = ?`, cur.Gen); err != nil {
		t.Fatal(err)
	}
	check("in a generation an earlier version recorded over a piece without counts")
	last := len(issues) - 1
	done := today.AddDate(0, 0, -2)
	issues[last].StatusCategory, issues[last].DoneAt, issues[last].Version = "done", &done, 3
	if err := st.InsertIssues(ctx, issues[last:]); err != nil {
		t.Fatal(err)
	}
	before, err := upgraded.DataVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	g, built, err := upgraded.BuildReadModelIfStale(ctx)
	if err != nil || !built || g.Rebuilt != 2 || g.Pieces[0] == cur.Pieces[0] || g.Pieces[1] != cur.Pieces[1] {
		t.Fatalf("the refresh over a piece without per-day counts: built %v, %d of %d pieces (first %d → %d), %v", built, g.Rebuilt, len(g.Pieces), cur.Pieces[0], g.Pieces[0], err)
	}
	// The counts it filled are not only those of the changed issue's
	// project: the change reaches every view (a cached forecast of any
	// project is recomputed).
	after, err := upgraded.DataVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if projects, all, err := upgraded.Changes(ctx, before, after); err != nil || !all {
		t.Fatalf("the refresh that filled a piece's counts reached %v (all: %v, %v), want every view", projects, all, err)
	}
	check("after a refresh over a piece an earlier version built")
}
