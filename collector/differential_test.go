package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evident-ebm/evident/internal/chtest"
	"github.com/evident-ebm/evident/schema"
)

// The differential test of the read model: Extract replays each history in
// Go (Timeline, started, done), the read model replays the stored timelines
// in SQL (schema.Stays, schema.FlowEvents, schema.LeadSeconds,
// schema.CycleSeconds and the status_stays and cfd_daily tables built from
// them). Both must agree exactly, per issue and in total, on random
// histories of every shape a Jira site holds.
//
// EVIDENT_DIFFERENTIAL_N sets the number of histories (default 10,000; 2,000
// with -short; `make differential` runs 100,000) and
// EVIDENT_DIFFERENTIAL_SEED replays a run (the default is fixed, so that
// `make test` is repeatable; `make differential` draws a new one).
func TestReadModelEqualsGoReplay(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 2000
	}
	if v := os.Getenv("EVIDENT_DIFFERENTIAL_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("EVIDENT_DIFFERENTIAL_N=%q: want a positive number", v)
		}
	}
	seed := uint64(20261201)
	if v := os.Getenv("EVIDENT_DIFFERENTIAL_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("EVIDENT_DIFFERENTIAL_SEED=%q: want a number", v)
		}
	}
	replay := fmt.Sprintf("replay with EVIDENT_DIFFERENTIAL_SEED=%d EVIDENT_DIFFERENTIAL_N=%d", seed, n)
	t.Logf("%d histories, seed %d", n, seed)

	st := chtest.Store(t)
	ctx := context.Background()
	m := diffMapping()
	gen := newHistoryGen(seed)

	// Go: extract every history, keep what the read model must show.
	type want struct {
		raw                string
		created            int64
		started, done      *int64
		stays, flow        []string
		doneStays, shapeOf string
	}
	wants := map[uint64]want{}
	var rows []Rows
	skipped, shapes := 0, map[string]int{}
	stayTotals := map[string][2]int64{} // status|category → visits, seconds (done issues)
	flowTotals := map[string]int64{}    // kind|day|state → delta
	for i := range n {
		raw, shape := gen.issue(i)
		shapes[shape]++
		rw, err := Extract(raw, m)
		var skip *SkipError
		if errors.As(err, &skip) {
			skipped++
			continue
		}
		if err != nil {
			t.Fatalf("history %d (%s): Extract: %v\n%s", i, replay, err, raw)
		}
		is := rw.Issue
		w := want{raw: string(raw), created: is.CreatedAt.Unix(), shapeOf: shape}
		if is.StartedAt != nil {
			s := is.StartedAt.Unix()
			w.started = &s
		}
		if is.DoneAt != nil {
			d := is.DoneAt.Unix()
			w.done = &d
		}
		for _, s := range rw.Timeline.Stays() {
			w.stays = append(w.stays, fmt.Sprintf("%s|%s|%d", s.Status, s.Category, s.Seconds))
			if is.DoneAt != nil {
				k := s.Status + "|" + s.Category
				v := stayTotals[k]
				stayTotals[k] = [2]int64{v[0] + 1, v[1] + s.Seconds}
			}
		}
		for _, e := range rw.Timeline.FlowEvents() {
			w.flow = append(w.flow, fmt.Sprintf("%s|%s|%s|%d", e.Kind, e.Day.Format("2006-01-02"), e.State, e.Delta))
			flowTotals[fmt.Sprintf("%s|%s|%s", e.Kind, e.Day.Format("2006-01-02"), e.State)] += e.Delta
		}
		wants[is.IssueID] = w
		rows = append(rows, rw)
	}
	t.Logf("shapes: %v; %d skipped by Extract", shapes, skipped)
	for len(rows) > 0 {
		k := min(len(rows), 5000)
		if err := WriteRows(ctx, st, rows[:k]); err != nil {
			t.Fatalf("store: %v", err)
		}
		rows = rows[k:]
	}
	if _, err := st.BuildReadModel(ctx); err != nil {
		t.Fatalf("build the read model (%s): %v", replay, err)
	}

	// SQL: the same figures from the read model, per issue.
	var got []struct {
		ID      uint64   `ch:"issue_id"`
		Created int64    `ch:"created"`
		Started *int64   `ch:"started"`
		Done    *int64   `ch:"done"`
		Lead    int64    `ch:"lead"`
		Cycle   int64    `ch:"cycle"`
		Stays   []string `ch:"stays"`
		Flow    []string `ch:"flow"`
	}
	q := `SELECT issue_id, toInt64(toUInt32(created_at)) AS created,
		if(started_at IS NULL, NULL, toInt64(toUInt32(assumeNotNull(started_at)))) AS started,
		if(done_at IS NULL, NULL, toInt64(toUInt32(assumeNotNull(done_at)))) AS done,
		if(done_at IS NULL, toInt64(0), ` + schema.LeadSeconds + `) AS lead,
		if(done_at IS NULL OR started_at IS NULL, toInt64(0), ` + schema.CycleSeconds + `) AS cycle,
		arrayMap(s -> concat(tupleElement(s, 1), '|', tupleElement(s, 2), '|', toString(tupleElement(s, 3))), ` + schema.Stays + `) AS stays,
		arrayMap(e -> concat(tupleElement(e, 1), '|', toString(tupleElement(e, 2)), '|', tupleElement(e, 3), '|', toString(tupleElement(e, 4))),
			` + schema.FlowEvents + `) AS flow
		FROM issues_current WHERE ` + schema.Current
	if err := st.Select(ctx, &got, q); err != nil {
		t.Fatalf("read the read model: %v", err)
	}
	if len(got) != len(wants) {
		t.Errorf("read model holds %d issues, Extract stored %d (%s)", len(got), len(wants), replay)
	}
	mismatches := 0
	report := func(id uint64, w want, format string, args ...any) {
		mismatches++
		if mismatches <= 10 {
			t.Errorf("issue %d (%s): %s (%s)\n%s", id, w.shapeOf, fmt.Sprintf(format, args...), replay, abbreviate([]byte(w.raw)))
		}
	}
	for _, g := range got {
		w, ok := wants[g.ID]
		if !ok {
			t.Errorf("issue %d is in the read model but Extract never stored it (%s)", g.ID, replay)
			continue
		}
		if g.Created != w.created {
			report(g.ID, w, "created %d in SQL, %d in Go", g.Created, w.created)
		}
		if !eqInt(g.Started, w.started) {
			report(g.ID, w, "started %s in SQL, %s in Go", fmtInt(g.Started), fmtInt(w.started))
		}
		if !eqInt(g.Done, w.done) {
			report(g.ID, w, "done %s in SQL, %s in Go", fmtInt(g.Done), fmtInt(w.done))
		}
		if w.done != nil {
			if lead := *w.done - w.created; g.Lead != lead || lead < 0 {
				report(g.ID, w, "lead %d s in SQL, %d s in Go", g.Lead, lead)
			}
			if w.started != nil {
				if cyc := *w.done - *w.started; g.Cycle != cyc || cyc < 0 {
					report(g.ID, w, "cycle %d s in SQL, %d s in Go", g.Cycle, cyc)
				}
			}
		}
		if strings.Join(g.Stays, ",") != strings.Join(w.stays, ",") {
			report(g.ID, w, "stays differ:\n  SQL %v\n  Go  %v", g.Stays, w.stays)
		}
		for _, s := range g.Stays {
			if strings.Contains(s, "|-") {
				report(g.ID, w, "negative stay %s", s)
			}
		}
		// The flow contributions are a multiset: SQL lists them by kind.
		sort.Strings(g.Flow)
		sort.Strings(w.flow)
		if strings.Join(g.Flow, ",") != strings.Join(w.flow, ",") {
			report(g.ID, w, "flow events differ:\n  SQL %v\n  Go  %v", g.Flow, w.flow)
		}
	}
	if mismatches > 0 {
		t.Fatalf("%d mismatches between the read model and the Go replay (%s)", mismatches, replay)
	}

	// The tables the pages read: stays of done issues and the daily flow.
	var stays []struct {
		Status   string `ch:"status"`
		Category string `ch:"category"`
		Visits   uint64 `ch:"visits"`
		Seconds  int64  `ch:"secs"`
	}
	if err := st.Select(ctx, &stays, `SELECT status, category, sum(visits) AS visits, toInt64(sum(seconds_total)) AS secs
		FROM status_stays WHERE `+schema.Current+` GROUP BY status, category`); err != nil {
		t.Fatalf("read status_stays: %v", err)
	}
	gotStays := map[string][2]int64{}
	for _, s := range stays {
		gotStays[s.Status+"|"+s.Category] = [2]int64{int64(s.Visits), s.Seconds}
	}
	if d := diffMaps(gotStays, stayTotals); d != "" {
		t.Errorf("status_stays differs from the Go stays of done issues (%s):\n%s", replay, d)
	}
	var flow []struct {
		Key   string `ch:"k"`
		Delta int64  `ch:"delta"`
	}
	if err := st.Select(ctx, &flow, `SELECT concat(kind, '|', toString(day), '|', state) AS k, toInt64(sum(delta)) AS delta
		FROM cfd_daily WHERE `+schema.Current+` GROUP BY k`); err != nil {
		t.Fatalf("read cfd_daily: %v", err)
	}
	gotFlow := map[string]int64{}
	for _, f := range flow {
		if f.Delta != 0 {
			gotFlow[f.Key] = f.Delta
		}
	}
	for k, v := range flowTotals {
		if v == 0 {
			delete(flowTotals, k)
		}
	}
	if d := diffMaps(gotFlow, flowTotals); d != "" {
		t.Errorf("cfd_daily differs from the Go flow events (%s):\n%s", replay, d)
	}
}

func eqInt(a, b *int64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func fmtInt(p *int64) string {
	if p == nil {
		return "null"
	}
	return time.Unix(*p, 0).UTC().Format(time.RFC3339)
}

// diffMaps lists the keys on which got and want differ, at most 10.
func diffMaps[V comparable](got, want map[string]V) string {
	keys := map[string]bool{}
	for k := range got {
		keys[k] = true
	}
	for k := range want {
		keys[k] = true
	}
	var out []string
	for k := range keys {
		if g, w := got[k], want[k]; g != w {
			out = append(out, fmt.Sprintf("  %s: SQL %v, Go %v", k, g, w))
		}
	}
	sort.Strings(out)
	if len(out) > 10 {
		out = append(out[:10], fmt.Sprintf("  … and %d more", len(out)-10))
	}
	return strings.Join(out, "\n")
}

// diffMapping is the site of the generated histories: the statuses of the
// extract tests (two named "Waiting" in different categories, "Gone" and a
// deleted "In Progress" unlisted), and a project that overrides categories
// and start statuses.
func diffMapping() Mapping {
	m := testMapping()
	m.CategoryByName = map[string]string{"Backlog": "new", "In Progress": "indeterminate", "In Review": "indeterminate",
		"Ready for Release": "done", "Released": "done", "Done": "done", "Selected for Development": "new"}
	m.Projects = map[string]ProjectSettings{"DG": {
		StartStatuses:    []string{"Selected for Development"},
		StatusCategories: map[string]string{"Ready for Release": "indeterminate"},
	}}
	return m
}

// historyGen draws random issues with their changelogs.
type historyGen struct {
	r *rand.Rand
}

func newHistoryGen(seed uint64) *historyGen {
	return &historyGen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// The status ids a history can move through: every listed status, and
// rarely the unlisted ones.
var (
	listedStatuses   = []string{"10000", "3", "10002", "10003", "10004", "10005", "10007", "10008", "10001"}
	unlistedStatuses = []string{"999", "998"}
	zones            = []string{"+0000", "+0100", "-0700", "+0530", "+1300", "-1100"}
)

func (g *historyGen) status() string {
	if g.r.IntN(40) == 0 {
		return unlistedStatuses[g.r.IntN(len(unlistedStatuses))]
	}
	return listedStatuses[g.r.IntN(len(listedStatuses))]
}

func (g *historyGen) jiraTime(t time.Time) string {
	z := zones[g.r.IntN(len(zones))]
	sign := 1
	if z[0] == '-' {
		sign = -1
	}
	h, _ := strconv.Atoi(z[1:3])
	mm, _ := strconv.Atoi(z[3:5])
	loc := time.FixedZone(z, sign*(h*3600+mm*60))
	return t.In(loc).Format("2006-01-02T15:04:05.000-0700")
}

// step is the time to the next change: often none at all (several changes
// in one second), else seconds to weeks.
func (g *historyGen) step() time.Duration {
	switch g.r.IntN(10) {
	case 0:
		return 0
	case 1:
		return time.Duration(g.r.IntN(1000)) * time.Millisecond
	case 2, 3:
		return time.Duration(g.r.IntN(3600)) * time.Second
	case 4, 5, 6:
		return time.Duration(g.r.IntN(72*3600)) * time.Second
	default:
		return time.Duration(g.r.IntN(40*86400)) * time.Second
	}
}

type genItem struct {
	Field      string  `json:"field"`
	FieldType  string  `json:"fieldtype"`
	FieldID    string  `json:"fieldId,omitempty"`
	From       *string `json:"from"`
	FromString *string `json:"fromString"`
	To         *string `json:"to"`
	ToString   *string `json:"toString"`
}

type genHistory struct {
	ID      string    `json:"id"`
	Created string    `json:"created"`
	Items   []genItem `json:"items"`
}

func sp(s string) *string { return &s }

func statusItem(from, to string) genItem {
	return genItem{Field: "status", FieldType: "jira", FieldID: "status", From: sp(from), FromString: sp(statusNames[from]), To: sp(to), ToString: sp(statusNames[to])}
}

// issue draws the i-th issue (id i+1) and names its shape.
func (g *historyGen) issue(i int) ([]byte, string) {
	r := g.r
	created := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(7*365*86400*1000)) * time.Millisecond)
	project := "DF"
	if r.IntN(3) == 0 {
		project = "DG"
	}
	id := strconv.Itoa(i + 1)
	var shape string
	var changes int
	switch k := r.IntN(20); {
	case k < 3:
		shape, changes = "no changelog", 0
	case k < 6:
		shape, changes = "one change", 1
	case k < 16:
		shape, changes = "a few changes", 2+r.IntN(12)
	case k < 18:
		shape, changes = "reopened", 4+r.IntN(10)
	default:
		shape, changes = "very long", 50+r.IntN(400)
	}
	// Rare shapes that cannot be stored at all: Extract skips them.
	switch r.IntN(500) {
	case 0:
		id, shape = "x"+id, "id not a number"
	case 1:
		created, shape = time.Date(1969, 12, 31, 12, 0, 0, 0, time.UTC), "created before 1970"
	}
	var hs []genHistory
	cur := g.status()
	initial := cur
	at := created
	if changes > 0 && r.IntN(15) == 0 { // an imported changelog that starts before the issue was created
		at = created.Add(-time.Duration(1+r.IntN(30*86400)) * time.Second)
		shape += ", changelog before created"
	}
	hid := 1000*(i+1) + r.IntN(10)
	for c := range changes {
		at = at.Add(g.step())
		var items []genItem
		to := g.status()
		if shape == "reopened" && c%2 == 1 {
			to = "10005" // done, then back again
		}
		from := cur
		if r.IntN(60) == 0 { // a gap: the change starts from another status
			from = g.status()
		}
		items = append(items, statusItem(from, to))
		cur = to
		switch r.IntN(12) {
		case 0: // resolution set in the same history
			items = append(items, genItem{Field: "resolution", FieldType: "jira", FieldID: "resolution", To: sp("10000"), ToString: sp("Done")})
		case 1: // moved to another project
			items = append(items, genItem{Field: "Key", FieldType: "jira", FromString: sp("OLD-" + id), ToString: sp(project + "-" + id)},
				genItem{Field: "project", FieldType: "jira", FieldID: "project", From: sp("10"), FromString: sp("Old"), To: sp("11"), ToString: sp(project)})
		case 2: // a second status item in one history
			to2 := g.status()
			items = append(items, statusItem(cur, to2))
			cur = to2
		case 3: // flagged
			items = append(items, genItem{Field: "Flagged", FieldType: "custom", FieldID: "customfield_10021", ToString: sp("Impediment")})
		}
		hid += 1 + r.IntN(3)
		hs = append(hs, genHistory{ID: strconv.Itoa(hid), Created: g.jiraTime(at), Items: items})
	}
	if len(hs) > 1 && r.IntN(5) == 0 { // Jira lists histories newest first on some paths
		r.Shuffle(len(hs), func(a, b int) { hs[a], hs[b] = hs[b], hs[a] })
	}
	if len(hs) > 0 && r.IntN(100) == 0 { // a history without a readable date
		hs[r.IntN(len(hs))].Created = "yesterday"
	}
	status := cur
	if changes > 0 && r.IntN(40) == 0 { // the changelog does not end where the issue is
		status = listedStatuses[r.IntN(len(listedStatuses))]
		shape += ", ends elsewhere"
	}
	if changes == 0 {
		status = initial
	}
	if _, listed := testStatuses[status]; !listed {
		status = "10005" // an issue's own status is always listed
	}
	fields := map[string]any{
		"summary": "S", "issuetype": map[string]any{"name": []string{"Story", "Bug", "Task", "Epic", "Sub-task"}[r.IntN(5)]},
		"project": map[string]any{"key": project}, "created": g.jiraTime(created), "updated": g.jiraTime(at),
		"status": map[string]any{"id": status, "name": statusNames[status], "statusCategory": map[string]any{"key": testStatuses[status]}},
	}
	switch r.IntN(6) {
	case 0: // resolved before it was created
		fields["resolutiondate"] = g.jiraTime(created.Add(-time.Duration(1+r.IntN(90*86400)) * time.Second))
	case 1, 2:
		fields["resolutiondate"] = g.jiraTime(at.Add(time.Duration(r.IntN(86400)) * time.Second))
	}
	raw, err := json.Marshal(map[string]any{"id": id, "key": project + "-" + strconv.Itoa(i+1), "fields": fields,
		"changelog": map[string]any{"startAt": 0, "maxResults": len(hs), "total": len(hs), "histories": hs}})
	if err != nil {
		panic(err)
	}
	return raw, shape
}
