package metrics_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/internal/chtest"
	"github.com/evident-ebm/evident/metrics"
	"github.com/evident-ebm/evident/schema"
)

// The readers of the issues not done (aging, work in progress and its
// impediments, the open backlog, initiatives' open epics) and of the
// issues done in a range (lead and cycle time, throughput, the
// scatterplot, time in status, impediments, quality, value, the EBM
// measures) give the same answers from issues_open and issues_done, which
// a request pinned to a generation of this version reads, as from every
// issue in issues_current, which an unpinned read and a generation of an
// earlier version take. The issues include the shapes that sit between
// done and not done: a done status without a completion, a completion in
// a status that is not done (to do, in progress). In a rolling upgrade a
// piece without those rows, in a generation recorded by an earlier
// version, is read from issues_current; the next refresh here builds it
// anew.
func TestOpenAndDoneIssuesReadTheSameAsEveryIssue(t *testing.T) {
	ctx := t.Context()
	dsn := chtest.DSN(t)
	st := chtest.StoreAt(t, dsn)
	st.ReadModelChunk = 60
	r := rand.New(rand.NewPCG(19, 2026))
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var issues []evident.Issue
	shapes := map[string]int{}
	for i := range 400 {
		project := []string{"P", "Q"}[r.IntN(2)]
		created := now.AddDate(0, 0, -300+r.IntN(290))
		is := evident.Issue{Site: "s", IssueID: uint64(1000 + i), IssueKey: fmt.Sprintf("%s-%d", project, i), ProjectKey: project,
			IssueType: []string{"Story", "Bug", "Story", "Epic"}[r.IntN(4)], WorkCategory: []string{"feature", "defect", "incident"}[r.IntN(3)],
			Summary: fmt.Sprintf("item %d", i), Priority: []string{"High", "Medium", "Highest"}[r.IntN(3)], Rank: fmt.Sprintf("0|%06d", r.IntN(1e6)),
			Labels: [][]string{{}, {"must-have"}, {"could-have", "x"}}[r.IntN(3)], Components: []string{}, FixVersions: [][]string{{}, {"1.0"}}[r.IntN(2)],
			SprintIDs: []uint64{}, BlockedBy: []string{}, BlockedByOpen: []uint8{}, CreatedAt: created, UpdatedAt: created.Add(time.Hour), Version: 1}
		if is.IssueType != "Epic" && r.IntN(3) == 0 {
			is.ParentKey = fmt.Sprintf("%s-%d", []string{"P", "Q"}[r.IntN(2)], r.IntN(i+1))
		}
		started := created.Add(time.Duration(1+r.IntN(20*24)) * time.Hour)
		done := started.Add(time.Duration(1+r.IntN(30*24)) * time.Hour)
		if done.After(now) {
			done = now.Add(-time.Hour)
		}
		shape := []string{"to do", "in progress", "done", "done", "done status, no completion", "completed, in progress", "completed, to do"}[r.IntN(7)]
		shapes[shape]++
		switch shape {
		case "to do":
			is.StatusID, is.StatusName, is.StatusCategory = "1", "To Do", "new"
		case "in progress":
			is.StatusID, is.StatusName, is.StatusCategory, is.StartedAt = "2", "In Progress", "indeterminate", &started
			if r.IntN(3) == 0 {
				is.Flagged = 1
			}
			if r.IntN(4) == 0 {
				is.BlockedBy, is.BlockedByOpen = []string{fmt.Sprintf("P-%d", r.IntN(400))}, []uint8{uint8(r.IntN(2))}
			}
		case "done":
			is.StatusID, is.StatusName, is.StatusCategory, is.StartedAt, is.DoneAt = "3", "Done", "done", &started, &done
		case "done status, no completion":
			is.StatusID, is.StatusName, is.StatusCategory, is.StartedAt = "3", "Done", "done", &started
		case "completed, in progress":
			is.StatusID, is.StatusName, is.StatusCategory, is.StartedAt, is.DoneAt = "2", "In Progress", "indeterminate", &started, &done
		case "completed, to do":
			is.StatusID, is.StatusName, is.StatusCategory, is.DoneAt = "1", "To Do", "new", &done
		}
		issues = append(issues, is)
	}
	// One issue in progress is blocked by a key that names no project (an
	// odd link target): alone in a key filter, it is looked up among every
	// issue straight away.
	legacy := ""
	for i := range issues {
		if is := &issues[i]; legacy == "" && is.StatusCategory == "indeterminate" && is.DoneAt == nil {
			is.BlockedBy, is.BlockedByOpen, legacy = []string{"LEGACY"}, []uint8{1}, is.IssueKey
		}
	}
	// Status histories for the started issues, some moved back to to-do
	// or reopened, and findings the flow's caveats count.
	todo, doing, doneSt := evident.StatusRef{ID: "1", Name: "To Do", Category: "new"}, evident.StatusRef{ID: "2", Name: "In Progress", Category: "indeterminate"},
		evident.StatusRef{ID: "3", Name: "Done", Category: "done"}
	var tls []evident.IssueTimeline
	for _, is := range issues {
		if is.StartedAt == nil {
			continue
		}
		tl := evident.Timeline{Created: is.CreatedAt, Initial: todo}
		at := *is.StartedAt
		step := func(from, to evident.StatusRef) {
			tl.Changes = append(tl.Changes, evident.StatusChange{At: at, HistoryID: uint64(len(tl.Changes) + 1), From: from, To: to})
			at = at.Add(time.Hour)
		}
		step(todo, doing)
		if r.IntN(4) == 0 {
			step(doing, todo)
			step(todo, doing)
		}
		if is.DoneAt != nil && r.IntN(4) == 0 {
			step(doing, doneSt)
			step(doneSt, doing)
		}
		var findings []evident.Finding
		for _, check := range []string{evident.CheckResolvedBeforeCreated, evident.CheckChangeBeforeCreated, evident.CheckDoneBeforeStarted} {
			if r.IntN(5) == 0 {
				findings = append(findings, evident.Finding{IssueKey: is.IssueKey, Check: check, Note: "fixture"})
			}
		}
		tls = append(tls, evident.StoredTimeline(is.Site, is.IssueID, tl, findings, 1))
	}
	if err := st.InsertIssues(ctx, issues); err != nil {
		t.Fatal(err)
	}
	if err := st.InsertTimelines(ctx, tls); err != nil {
		t.Fatal(err)
	}
	rel := now.AddDate(0, 1, 0)
	if err := st.InsertReleases(ctx, []evident.Release{{Site: "s", VersionID: 1, ProjectKey: "P", Name: "1.0", ReleaseDate: &rel, Version: 1},
		{Site: "s", VersionID: 2, ProjectKey: "Q", Name: "1.0", ReleaseDate: &rel, Version: 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.BuildReadModel(ctx); err != nil {
		t.Fatal(err)
	}
	ms := metrics.New(st)
	ms.Now = func() time.Time { return now }
	var open, done uint64
	if err := st.QueryRow(ctx, "SELECT count() FROM issues_open WHERE "+schema.Current, nil, &open); err != nil || open == 0 || open >= uint64(len(issues)) {
		t.Fatalf("issues_open holds %d of %d issues (%v)", open, len(issues), err)
	}
	if err := st.QueryRow(ctx, "SELECT count() FROM issues_done WHERE "+schema.Current, nil, &done); err != nil || done == 0 || done >= uint64(len(issues)) {
		t.Fatalf("issues_done holds %d of %d issues (%v)", done, len(issues), err)
	}
	// answers are the JSON of every reader of open or done issues, with
	// ctx, and how many of each they listed or counted.
	answers := func(ctx context.Context) (map[string]string, int, int) {
		out := map[string]string{}
		var listed, counted int
		// Ranges at noon read the issues; from midnight to midnight, the
		// aggregates where the dimensions allow (no label or key): a key
		// filter naming every issue reads the same issues without them.
		noon, midnight := now.AddDate(0, -6, 0), now.AddDate(0, -6, 0).Truncate(24*time.Hour)
		var every []string
		for _, is := range issues {
			every = append(every, is.IssueKey)
		}
		for _, f := range []metrics.Filter{{From: noon}, {From: midnight}, {Keys: every, From: midnight}, {Project: "Q", From: midnight},
			{Project: "P", Types: []string{"Story"}, From: noon}, {WorkCategory: "defect", From: midnight}, {Label: "must-have", From: midnight},
			{Keys: []string{legacy}, From: noon}} {
			f.To = f.From.AddDate(0, 6, 0)
			add := func(name string, v any, err error) {
				if err != nil {
					t.Fatalf("%s %+v: %v", name, f, err)
				}
				b, _ := json.Marshal(v)
				which := fmt.Sprintf("%+v", f)
				if len(f.Keys) == len(every) {
					which = "every key " + f.From.Format(time.TimeOnly)
				} else if fmt.Sprintf("%+v", f) == fmt.Sprintf("%+v", metrics.Filter{From: f.From, To: f.To}) {
					which = "all " + f.From.Format(time.TimeOnly)
				}
				out[name+" "+which] = string(b)
			}
			fl, err := ms.Flow(ctx, f)
			add("flow", fl, err)
			listed += len(fl.Aging)
			counted += fl.LeadTime.N
			times, err := ms.StatusTimes(ctx, f)
			add("status times", times, err)
			daily, err := ms.DailyThroughput(ctx, f)
			add("daily throughput", daily, err)
			imp, err := ms.Impediments(ctx, f)
			add("impediments", imp, err)
			q, err := ms.Quality(ctx, f, metrics.Month)
			add("quality", q, err)
			v, err := ms.ValueDelivered(ctx, f, metrics.Month)
			add("value", v, err)
			e, err := ms.EBMCompared(ctx, f, f.Project, metrics.Month)
			add("ebm", e, err)
			page, err := ms.Issues(ctx, f, 50, 0)
			add("issues", page, err)
			su, err := ms.Standup(ctx, f)
			add("standup", su, err)
			// The stand-up's "aged" line is the flow's 85th percentile
			// cycle time.
			if su.CycleN != fl.CycleTime.N || (su.P85CycleDays == nil) != (fl.CycleTime.N < metrics.MinConfidentN) ||
				su.P85CycleDays != nil && *su.P85CycleDays != *fl.CycleTime.P85 {
				t.Fatalf("%+v: stand-up's cycle time n %d, p85 %v; the flow's n %d, p85 %v", f, su.CycleN, su.P85CycleDays, fl.CycleTime.N, fl.CycleTime.P85)
			}
			if f.Project != "" {
				bl, err := ms.Backlog(ctx, f, 0, metrics.BacklogRequest{}, metrics.Month)
				add("backlog", bl, err)
				listed += len(bl.Items) + bl.NextReleaseItems
				ep, err := ms.Epics(ctx, f, metrics.EpicOptions{})
				add("epics", ep, err)
			}
		}
		return out, listed, counted
	}
	same := func(when string) map[string]string {
		t.Helper()
		fromOwn, listed, counted := answers(schema.PinCurrent(ctx))
		fromAll, _, _ := answers(ctx)
		if listed < 100 || counted < 100 {
			t.Fatalf("%s: %d open issues listed, %d done ones counted: the fixture misses the path", when, listed, counted)
		}
		for k, want := range fromAll {
			if got := fromOwn[k]; got != want {
				t.Fatalf("%s: %s from issues_open and issues_done:\n%s\nfrom issues_current:\n%s", when, k, got, want)
			}
			if reader, ok := strings.CutSuffix(k, " all 00:00:00"); ok {
				if issues := fromOwn[reader+" every key 00:00:00"]; issues != fromOwn[k] {
					t.Fatalf("%s: %s from the aggregates:\n%s\nfrom the issues:\n%s", when, reader, fromOwn[k], issues)
				}
			}
		}
		return fromOwn
	}
	t.Logf("shapes: %v; %d of %d issues open, %d done", shapes, open, len(issues), done)
	built := same("after a full build")

	// The lead and cycle times per day (done_times) answer as the issues
	// do: the same generation recorded again with the format before them
	// is read from the issues.
	cur, _, err := st.CurrentGeneration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Exec(ctx, `INSERT INTO derived_generations (gen, sites, site_versions, built_at, seconds, issues, transitions, pieces, bounds, base, changed, format)
		SELECT gen + 1, sites, site_versions, built_at, seconds, issues, transitions, pieces, bounds, base, changed, ? FROM derived_generations WHERE gen = ?`,
		uint32(schema.FormatDone), cur.Gen); err != nil {
		t.Fatal(err)
	}
	fromIssues := same("without the times per day")
	for k, want := range built {
		if got := fromIssues[k]; got != want {
			t.Fatalf("%s from the times per day:\n%s\nfrom the issues:\n%s", k, want, got)
		}
	}

	// A refresh: some issues done, one reopened to to-do with its
	// completion kept, one deleted.
	for _, i := range []int{3, 70, 71, 399} {
		d := now.Add(-2 * time.Hour)
		issues[i].StatusID, issues[i].StatusName, issues[i].StatusCategory, issues[i].DoneAt, issues[i].Version = "3", "Done", "done", &d, 2
	}
	issues[5].StatusID, issues[5].StatusName, issues[5].StatusCategory, issues[5].Version = "1", "To Do", "new", 2
	issues[8].Deleted, issues[8].Version = 1, 2
	if err := st.InsertIssues(ctx, []evident.Issue{issues[3], issues[70], issues[71], issues[399], issues[5], issues[8]}); err != nil {
		t.Fatal(err)
	}
	if g, built, err := st.BuildReadModelIfStale(ctx); err != nil || !built || g.Rebuilt == len(g.Pieces) {
		t.Fatalf("refresh: built %v, %d of %d pieces, %v", built, g.Rebuilt, len(g.Pieces), err)
	}
	same("after a refresh")

	// A rolling upgrade: a process of an earlier version recorded a
	// generation whose first piece it built without the rows of the
	// tables that version did not know (here: the rows dropped and the
	// generation recorded again with that version's format): without the
	// times per day (format 2), without issues_done either (format 1),
	// then without issues_open (format 0). The next refresh here builds
	// that piece anew with the changed one.
	var lacking []string
	for k, format := range []uint32{schema.FormatDone, schema.FormatDaily, 0} {
		cur, _, err := st.CurrentGeneration(ctx)
		if err != nil || len(cur.Pieces) < 3 {
			t.Fatalf("current generation: %d pieces, %v", len(cur.Pieces), err)
		}
		lacking = append(lacking, []string{"done_times", "issues_done", "issues_open"}[k])
		for _, table := range lacking {
			if err := st.Exec(ctx, "ALTER TABLE "+table+" DELETE WHERE gen = ?", cur.Pieces[0]); err != nil {
				t.Fatal(err)
			}
			for n := uint64(1); n > 0; time.Sleep(50 * time.Millisecond) {
				st.QueryRow(ctx, "SELECT count() FROM "+table+" WHERE gen = ?", []any{cur.Pieces[0]}, &n)
			}
		}
		if err := st.Exec(ctx, `INSERT INTO derived_generations (gen, sites, site_versions, built_at, seconds, issues, transitions, pieces, bounds, base, changed, format)
			SELECT gen + 1, sites, site_versions, built_at, seconds, issues, transitions, pieces, bounds, base, changed, ? FROM derived_generations WHERE gen = ?`,
			format, cur.Gen); err != nil {
			t.Fatal(err)
		}
		same(fmt.Sprintf("in a generation of an earlier version (format %d)", format))
		// A change in the last piece.
		is := &issues[399-k]
		is.StatusCategory, is.DoneAt, is.Version = "indeterminate", nil, uint64(10+k) // newer than every row stored
		if err := st.InsertIssues(ctx, []evident.Issue{*is}); err != nil {
			t.Fatal(err)
		}
		g, built, err := st.BuildReadModelIfStale(ctx)
		if err != nil || !built || g.Format != schema.FormatCurrent || g.Rebuilt != 2 || g.Pieces[0] == cur.Pieces[0] {
			t.Fatalf("the refresh over a piece without %v: built %v, format %d, %d of %d pieces (first %d → %d), %v",
				lacking, built, g.Format, g.Rebuilt, len(g.Pieces), cur.Pieces[0], g.Pieces[0], err)
		}
		same(fmt.Sprintf("after the refresh that built the piece without %v anew", lacking))
	}
}
