package schema_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/internal/chtest"
	"github.com/evident-ebm/evident/schema"
)

// A refresh rebuilds only the pieces of the read model that hold changed
// issues, and what readers see then equals a full build of the same data:
// two databases take the same random sequence of syncs (issues moved,
// re-estimated, added to sprints, deleted, new ones, a new site), one
// refreshed after each, the other built in full; every read-model table
// compared row by row (the per-issue ones) or summed by its key (the
// aggregates, whose rows a piece splits).
func TestIncrementalReadModelEqualsFullBuild(t *testing.T) {
	ctx := context.Background()
	inc, full := chtest.Store(t), chtest.Store(t)
	inc.ReadModelChunk, full.ReadModelChunk = 8, 8
	w := newChangeWorld(rand.New(rand.NewPCG(19, 2026)))
	for i := range 60 {
		w.create("s", uint64(100+i*3))
	}
	for i := range 20 {
		w.create("t", uint64(100+i*5)) // ids shared with site s
	}
	rebuiltOnce, recut, pieces := false, false, 0
	for round := 0; round <= 14; round++ {
		if round > 0 {
			w.round(round)
		}
		for _, st := range []*schema.Store{inc, full} {
			w.write(t, st)
		}
		w.flush()
		gi, built, err := inc.BuildReadModelIfStale(ctx)
		if err != nil || !built {
			t.Fatalf("round %d: refresh built %v, %v", round, built, err)
		}
		gf, err := full.BuildReadModel(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if gi.Issues != gf.Issues || gi.Transitions != gf.Transitions {
			t.Fatalf("round %d: refreshed generation holds %d issues and %d transitions, full build %d and %d",
				round, gi.Issues, gi.Transitions, gf.Issues, gf.Transitions)
		}
		if round > 0 && gi.Rebuilt < len(gi.Pieces) {
			rebuiltOnce = true
		}
		if round > 0 && len(gi.Pieces) != pieces {
			recut = true
		}
		pieces = len(gi.Pieces)
		t.Logf("round %d: %d issues, refresh rebuilt %d of %d pieces", round, gi.Issues, gi.Rebuilt, len(gi.Pieces))
		for _, q := range readModelViews {
			a, b := viewRows(t, inc, q), viewRows(t, full, q)
			if len(a) == 0 && strings.Contains(q, "issues_current") {
				t.Fatalf("round %d: empty read model", round)
			}
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("round %d: %s\nrefreshed (%d rows) differs from full build (%d rows) first at:\n%s", round, q, len(a), len(b), firstDiff(a, b))
			}
		}
	}
	if !rebuiltOnce || !recut {
		t.Fatalf("no refresh rebuilt fewer pieces than the generation has (%v), or none cut the grown last piece anew (%v): the sequence missed a path",
			rebuiltOnce, recut)
	}
}

// readModelViews are what readers see of each read-model table: the rows
// of the per-issue tables, the aggregates summed by their key.
var readModelViews = []string{
	`SELECT * FROM issues_current WHERE ` + schema.Current,
	`SELECT * FROM issues_open WHERE ` + schema.Current,
	`SELECT * FROM issues_done WHERE ` + schema.Current,
	`SELECT * FROM sprint_members WHERE ` + schema.Current,
	`SELECT * FROM refinement_days WHERE ` + schema.Current,
	`SELECT site, project_key, issue_type, work_category, kind, day, state, sum(delta) FROM cfd_daily WHERE ` + schema.Current + `
		GROUP BY site, project_key, issue_type, work_category, kind, day, state`,
	`SELECT site, project_key, issue_type, work_category, day, status, category, sum(visits), sum(seconds_total), arraySort(groupArrayArray(seconds))
		FROM status_stays WHERE ` + schema.Current + ` GROUP BY site, project_key, issue_type, work_category, day, status, category`,
	`SELECT site, status_id, status, sum(uses) FROM status_usage WHERE ` + schema.Current + ` GROUP BY site, status_id, status`,
	`SELECT site, project_key, issue_type, work_category, day, sum(done) FROM done_daily WHERE ` + schema.Current + `
		GROUP BY site, project_key, issue_type, work_category, day`,
	`SELECT site, project_key, issue_type, work_category, day, arraySort(groupArrayArray(leads)), arraySort(groupArrayArray(cycles)),
		sum(resolved_before_created), sum(change_before_created), sum(done_before_started), sum(reopened), sum(moved_back)
		FROM done_times WHERE ` + schema.Current + ` GROUP BY site, project_key, issue_type, work_category, day`,
}

// viewRows runs q and prints each row without its gen column, sorted.
func viewRows(t *testing.T, st *schema.Store, q string) []string {
	t.Helper()
	rows, cancel, err := st.Query(t.Context(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer cancel()
	defer rows.Close()
	types := rows.ColumnTypes()
	var out []string
	for rows.Next() {
		vals := make([]any, len(types))
		for i, ct := range types {
			vals[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(vals...); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for i, v := range vals {
			if types[i].Name() == "gen" {
				continue
			}
			x := reflect.ValueOf(v).Elem()
			for x.Kind() == reflect.Pointer && !x.IsNil() {
				x = x.Elem()
			}
			fmt.Fprintf(&b, "%s=%v ", types[i].Name(), x.Interface())
		}
		out = append(out, b.String())
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func firstDiff(a, b []string) string {
	for i := range max(len(a), len(b)) {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return "refreshed: " + x + "\nfull:      " + y
		}
	}
	return ""
}

// changeWorld is a small Jira site history: issues with status histories,
// sprint and estimate changes, and the rows a sync writes for them.
type changeWorld struct {
	r *rand.Rand
	// projects new issues are created in (P and Q when nil); links, when
	// set, names other issues as parent, epic and blocker, and moves an
	// issue to another project now and then (its own random stream: the
	// other tests' sequences stay as they were).
	projects []string
	links    *rand.Rand
	issues   map[[2]string]*worldIssue
	order    [][2]string
	version  uint64
	next     uint64 // the next history id
	pending  pendingRows
}

type worldIssue struct {
	is evident.Issue
	tl evident.Timeline
}

type pendingRows struct {
	issues   []evident.Issue
	tls      []evident.IssueTimeline
	backlog  []evident.BacklogFacts
	sprints  []evident.SprintChange
	fields   []evident.FieldChange
	changed  map[[2]string]bool
	versions map[string]uint64
}

var worldStatuses = []evident.StatusRef{{ID: "1", Name: "To Do", Category: "new"}, {ID: "2", Name: "In Progress", Category: "indeterminate"},
	{ID: "4", Name: "Review", Category: "indeterminate"}, {ID: "3", Name: "Done", Category: "done"}}

func newChangeWorld(r *rand.Rand) *changeWorld {
	return &changeWorld{r: r, issues: map[[2]string]*worldIssue{}, version: 1, next: 1}
}

func (w *changeWorld) at() time.Time {
	return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(w.version)*36*time.Hour + time.Duration(w.r.IntN(30))*time.Hour)
}

func (w *changeWorld) create(site string, id uint64) {
	k := [2]string{site, fmt.Sprint(id)}
	projects := w.projects
	if projects == nil {
		projects = []string{"P", "Q"}
	}
	project := projects[w.r.IntN(len(projects))]
	created := w.at()
	is := evident.Issue{Site: site, IssueID: id, IssueKey: fmt.Sprintf("%s-%d", project, id), ProjectKey: project,
		IssueType: []string{"Story", "Bug"}[w.r.IntN(2)], WorkCategory: "feature", Summary: "new", StatusID: "1", StatusName: "To Do", StatusCategory: "new", Labels: []string{}, Components: []string{},
		FixVersions: []string{}, SprintIDs: []uint64{}, CreatedAt: created, UpdatedAt: created}
	w.issues[k] = &worldIssue{is: is, tl: evident.Timeline{Created: created, Initial: worldStatuses[0]}}
	w.order = append(w.order, k)
	w.link(k)
	w.touch(k)
}

// link names, when the world has links, other issues of the site as the
// issue's parent, epic or blocker, or none.
func (w *changeWorld) link(k [2]string) {
	if w.links == nil {
		return
	}
	other := func() string {
		o := w.order[w.links.IntN(len(w.order))]
		if o[0] != k[0] || o == k {
			return ""
		}
		return w.issues[o].is.IssueKey
	}
	is := &w.issues[k].is
	is.ParentKey, is.EpicKey, is.BlockedBy, is.BlockedByOpen = "", "", []string{}, []uint8{}
	switch w.links.IntN(10) {
	case 0:
		is.ParentKey = other()
	case 1:
		is.EpicKey = other()
	case 2:
		if b := other(); b != "" {
			is.BlockedBy, is.BlockedByOpen = []string{b}, []uint8{uint8(w.links.IntN(2))}
		}
	}
}

// reproject moves the issue to another project: Jira gives it a new key.
func (w *changeWorld) reproject(k [2]string) {
	is := &w.issues[k].is
	if is.Deleted == 1 {
		return
	}
	is.ProjectKey = w.projects[w.links.IntN(len(w.projects))]
	is.IssueKey = fmt.Sprintf("%s-%d", is.ProjectKey, is.IssueID)
	w.touch(k)
}

// move walks the issue one status on (or back), with a sprint change or a
// re-estimate now and then.
func (w *changeWorld) move(k [2]string) {
	wi := w.issues[k]
	if wi.is.Deleted == 1 {
		return
	}
	cur := wi.tl.Initial
	if n := len(wi.tl.Changes); n > 0 {
		cur = wi.tl.Changes[n-1].To
	}
	to := worldStatuses[w.r.IntN(len(worldStatuses))]
	if to.ID == cur.ID {
		to = worldStatuses[(w.r.IntN(3)+1+indexOf(cur))%len(worldStatuses)]
	}
	at := w.at()
	if at.Before(wi.tl.Created) {
		at = wi.tl.Created
	}
	if n := len(wi.tl.Changes); n > 0 && at.Before(wi.tl.Changes[n-1].At) {
		at = wi.tl.Changes[n-1].At
	}
	w.next++
	wi.tl.Changes = append(wi.tl.Changes, evident.StatusChange{At: at, HistoryID: w.next, From: cur, To: to})
	switch w.r.IntN(3) {
	case 0:
		w.pending.sprints = append(w.pending.sprints, evident.SprintChange{Site: k[0], IssueID: wi.is.IssueID, HistoryID: w.next,
			SprintID: uint64(1 + w.r.IntN(3)), IssueKey: wi.is.IssueKey, ProjectKey: wi.is.ProjectKey, ChangedAt: at, Added: uint8(w.r.IntN(2))})
	case 1:
		w.pending.fields = append(w.pending.fields, evident.FieldChange{Site: k[0], IssueID: wi.is.IssueID, HistoryID: w.next,
			IssueKey: wi.is.IssueKey, ChangedAt: at, Field: "Story Points", FromString: "1", ToString: "3"})
	}
	wi.is.StatusID, wi.is.StatusName, wi.is.StatusCategory = to.ID, to.Name, to.Category
	wi.is.StartedAt, wi.is.DoneAt = nil, nil
	for _, c := range wi.tl.Changes {
		if c.To.Category == "indeterminate" && wi.is.StartedAt == nil {
			wi.is.StartedAt = &c.At
		}
	}
	if to.Category == "done" {
		wi.is.DoneAt = &at
	}
	wi.is.UpdatedAt = at
	w.touch(k)
}

func indexOf(s evident.StatusRef) int {
	for i, x := range worldStatuses {
		if x.ID == s.ID {
			return i
		}
	}
	return 0
}

// touch queues the issue's rows for the next sync.
func (w *changeWorld) touch(k [2]string) {
	if w.pending.changed == nil {
		w.pending.changed = map[[2]string]bool{}
	}
	w.pending.changed[k] = true
}

// round is one sync's worth of changes: a few issues moved (some in the
// same piece), one deleted now and then, new issues past the highest id
// (the open last piece grows until a full build cuts it again), and in one
// round a site never seen before.
func (w *changeWorld) round(n int) {
	w.version++
	for range 1 + w.r.IntN(4) {
		w.move(w.order[w.r.IntN(len(w.order))])
	}
	if n%3 == 0 {
		k := w.order[w.r.IntN(len(w.order))]
		w.issues[k].is.Deleted = 1
		w.touch(k)
	}
	if n%4 == 1 {
		for i := range 6 + w.r.IntN(10) {
			w.create("s", uint64(300+n*20+i))
		}
	}
	if w.links != nil {
		switch w.links.IntN(3) {
		case 0:
			k := w.order[w.links.IntN(len(w.order))]
			if w.issues[k].is.Deleted == 0 {
				w.link(k)
				w.touch(k)
			}
		case 1:
			w.reproject(w.order[w.links.IntN(len(w.order))])
		}
	}
	if n == 7 {
		w.create("o'neil", 5)
		w.create("o'neil", 1000)
	}
	for range w.r.IntN(3) {
		k := w.order[w.r.IntN(len(w.order))]
		if w.issues[k].is.Deleted == 0 {
			w.issues[k].is.Summary = fmt.Sprintf("renamed in round %d", n)
			w.touch(k)
		}
	}
}

// write stores the pending rows of the round (the same in every store).
func (w *changeWorld) write(t *testing.T, st *schema.Store) {
	t.Helper()
	var issues []evident.Issue
	var tls []evident.IssueTimeline
	var backlog []evident.BacklogFacts
	keys := make([][2]string, 0, len(w.pending.changed))
	for k := range w.pending.changed {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+keys[i][1] < keys[j][0]+keys[j][1] })
	for _, k := range keys {
		wi := w.issues[k]
		is := wi.is
		is.Version = w.version
		issues = append(issues, is)
		tls = append(tls, evident.StoredTimeline(k[0], is.IssueID, wi.tl, nil, w.version))
		size := float64(1 + wi.is.IssueID%5)
		backlog = append(backlog, evident.BacklogFacts{Site: k[0], IssueID: is.IssueID, JobSize: &size, HasAcceptance: uint8(is.IssueID % 2), Version: w.version})
	}
	sprints := append([]evident.SprintChange{}, w.pending.sprints...)
	for i := range sprints {
		sprints[i].Version = w.version
	}
	fields := append([]evident.FieldChange{}, w.pending.fields...)
	for i := range fields {
		fields[i].Version = w.version
	}
	ctx := t.Context()
	for _, err := range []error{st.InsertIssues(ctx, issues), st.InsertTimelines(ctx, tls), st.InsertBacklogFacts(ctx, backlog),
		st.InsertSprintChanges(ctx, sprints), st.InsertFieldChanges(ctx, fields)} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func (w *changeWorld) flush() { w.pending = pendingRows{} }

// A refresh records the projects whose views its changes reach, and the
// data version's Changes reads them back: every project whose rows (or
// the rows of the issues its issues name as parent, epic or blocker, or
// of those naming its issues) differ after the refresh is listed. Random syncs over eight projects
// with links across them and issues moved between them; the check fails
// if the list ever misses one, and if no round leaves a project out (a
// list of everything would pass the first check).
func TestRefreshNamesTheProjectsItChanged(t *testing.T) {
	ctx := t.Context()
	st := chtest.Store(t)
	st.ReadModelChunk = 8
	w := newChangeWorld(rand.New(rand.NewPCG(7, 2026)))
	w.projects, w.links = []string{"P", "Q", "R", "S", "T", "U", "V", "W"}, rand.New(rand.NewPCG(8, 2026))
	for i := range 50 {
		w.create("s", uint64(100+i*3))
	}
	seen := func() map[string][]string {
		out := map[string][]string{}
		for _, p := range w.projects {
			named := `(SELECT arrayJoin(arrayFilter(k -> k != '', arrayConcat([parent_key, epic_key], blocked_by))) FROM issues_current WHERE ` + schema.Current + ` AND project_key = '` + p + `')`
			// The issues that name one of those too (an initiative's other
			// epics).
			siblings := `OR parent_key IN ` + named + ` OR epic_key IN ` + named + ` OR hasAny(blocked_by, (SELECT groupArray(k) FROM (SELECT arrayJoin(arrayFilter(k -> k != '', arrayConcat([parent_key, epic_key], blocked_by))) AS k
				FROM issues_current WHERE ` + schema.Current + ` AND project_key = '` + p + `')))`
			for _, q := range []string{
				`SELECT * FROM issues_current WHERE ` + schema.Current + ` AND (project_key = '` + p + `' OR issue_key IN ` + named + `
					OR splitByChar('-', parent_key)[1] = '` + p + `' OR splitByChar('-', epic_key)[1] = '` + p + `'
					OR arrayExists(k -> splitByChar('-', k)[1] = '` + p + `', blocked_by) ` + siblings + `)`,
				`SELECT site, issue_type, kind, day, state, sum(delta) FROM cfd_daily WHERE ` + schema.Current + ` AND project_key = '` + p + `'
					GROUP BY site, issue_type, kind, day, state HAVING sum(delta) != 0`,
				`SELECT site, issue_type, day, status, sum(visits), sum(seconds_total) FROM status_stays WHERE ` + schema.Current + ` AND project_key = '` + p + `'
					GROUP BY site, issue_type, day, status`,
			} {
				out[p] = append(out[p], viewRows(t, st, q)...)
			}
		}
		return out
	}
	var before map[string][]string
	var ver string
	spared := 0
	for round := 0; round <= 14; round++ {
		if round > 0 {
			w.round(round)
		}
		w.write(t, st)
		w.flush()
		if _, built, err := st.BuildReadModelIfStale(ctx); err != nil || !built {
			t.Fatalf("round %d: refresh built %v, %v", round, built, err)
		}
		v, err := st.DataVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		after := seen()
		if round > 0 {
			projects, all, err := st.Changes(ctx, ver, v)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range w.projects {
				if !all && !slices.Contains(projects, p) {
					if !reflect.DeepEqual(before[p], after[p]) {
						t.Fatalf("round %d: the views of %s changed, and the refresh listed only %v:\n%s", round, p, projects, firstDiff(before[p], after[p]))
					}
					spared++
				}
			}
			t.Logf("round %d: changed %v (all: %v)", round, projects, all)
		}
		before, ver = after, v
	}
	if spared == 0 {
		t.Fatal("every refresh changed every project: the check above checked nothing")
	}
}
