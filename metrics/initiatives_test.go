package metrics_test

import (
	"testing"
	"time"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/internal/chtest"
	"github.com/evident-ebm/evident/metrics"
)

// An initiative's epics in other projects are counted once, from the
// generation readers use: after a refresh the read model still holds the
// pieces of the generations before (a build elsewhere may read them), and
// an epic written since is in two of them.
func TestInitiativeCountsItsOtherEpicsOnce(t *testing.T) {
	ctx := t.Context()
	st := chtest.Store(t)
	at := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	issue := func(id uint64, key, project, typ, parent string, version uint64) evident.Issue {
		return evident.Issue{Site: "s", IssueID: id, IssueKey: key, ProjectKey: project, IssueType: typ, WorkCategory: "feature",
			Summary: key + " v" + string(rune('0'+version)), StatusID: "1", StatusName: "To Do", StatusCategory: "new", ParentKey: parent,
			Labels: []string{}, Components: []string{}, FixVersions: []string{}, SprintIDs: []uint64{}, BlockedBy: []string{}, BlockedByOpen: []uint8{},
			CreatedAt: at, UpdatedAt: at, Version: version}
	}
	if err := st.InsertIssues(ctx, []evident.Issue{issue(1, "INI-1", "INI", "Initiative", "", 1), issue(2, "SHOP-2", "SHOP", "Epic", "INI-1", 1),
		issue(3, "APP-3", "APP", "Epic", "INI-1", 1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.BuildReadModel(ctx); err != nil {
		t.Fatal(err)
	}
	ms := metrics.New(st)
	ms.Now = func() time.Time { return at }
	other := func() (int, string) {
		t.Helper()
		out, err := ms.Epics(ctx, metrics.Filter{Project: "SHOP"}, metrics.EpicOptions{HistoryDays: 30})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Initiatives) != 1 {
			t.Fatalf("initiatives %+v", out.Initiatives)
		}
		return out.Initiatives[0].OtherProjects, out.Initiatives[0].Summary
	}
	if n, _ := other(); n != 1 {
		t.Fatalf("before any refresh: %d epics of INI-1 in other projects, want 1", n)
	}
	// APP-3 renamed, INI-1 renamed: a refresh writes their piece anew.
	if err := st.InsertIssues(ctx, []evident.Issue{issue(1, "INI-1", "INI", "Initiative", "", 2), issue(3, "APP-3", "APP", "Epic", "INI-1", 2)}); err != nil {
		t.Fatal(err)
	}
	if _, built, err := st.BuildReadModelIfStale(ctx); err != nil || !built {
		t.Fatalf("refresh: %v, %v", built, err)
	}
	if n, summary := other(); n != 1 || summary != "INI-1 v2" {
		t.Fatalf("after a refresh: %d epics of INI-1 in other projects (want 1), summary %q (want the current one, INI-1 v2)", n, summary)
	}
}
