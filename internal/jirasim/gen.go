package jirasim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // the site's time zone must load on machines without tzdata
)

// Config decides what the generator makes. The same Seed, Issues, Projects,
// Now and Span give the same data.
type Config struct {
	Seed     uint64
	Issues   int
	Projects int           // default 3: two scrum products and a kanban ops team
	Now      time.Time     // the site's "now"; default 2026-01-05 00:00 UTC
	Span     time.Duration // how far back issues go; default two years
	TimeZone string        // the site's time zone; default Europe/Berlin
	Cloud    bool          // field ids and value formats of Jira Cloud, else Data Center
	// NoShapes leaves out the real-world shapes (shapes.go) that about one
	// issue in nine takes otherwise.
	NoShapes bool
	// Shift makes one project's throughput drop at a known date (a team
	// that lost most of its people): of its issues created from At on,
	// the share Stuck is never started. Off while Project is "".
	Shift Shift
}

// Shift is a known change in one project's throughput.
type Shift struct {
	Project string
	At      time.Time
	Stuck   float64
}

// DefaultNow is the fixed "now" of generated data unless configured.
var DefaultNow = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

const sprintLength = 14 * 24 * time.Hour

// Generator makes issues, sprints, boards and versions on demand.
type Generator struct {
	cfg      Config
	loc      *time.Location
	start    time.Time // aligned to a Monday
	step     float64   // seconds between issue creations
	projects []*Project
	fields   fieldIDs

	sprintsOnce sync.Once
	sprints     map[int]*Sprint // by id
	boardSprint map[int][]*Sprint

	releasesMu sync.Mutex
	releases   map[string][]Release // by project key
}

var projectNames = []struct {
	key, name string
	kanban    bool
}{
	{"SHOP", "Webshop", false},
	{"APP", "Mobile App", false},
	{"OPS", "Platform Operations", true},
	{"DATA", "Data Platform", false},
	{"PAY", "Payments", false},
	{"CRM", "Customer Portal", true},
}

// NewGenerator returns a generator for cfg, filling defaults.
func NewGenerator(cfg Config) (*Generator, error) {
	if cfg.Issues < 0 {
		return nil, fmt.Errorf("issues must not be negative")
	}
	if cfg.Projects == 0 {
		cfg.Projects = 3
	}
	if cfg.Projects < 1 || cfg.Projects > len(projectNames) {
		return nil, fmt.Errorf("projects must be 1 to %d", len(projectNames))
	}
	if cfg.Now.IsZero() {
		cfg.Now = DefaultNow
	}
	if cfg.Span == 0 {
		cfg.Span = 2 * 365 * 24 * time.Hour
	}
	if cfg.TimeZone == "" {
		cfg.TimeZone = "Europe/Berlin"
	}
	loc, err := time.LoadLocation(cfg.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", cfg.TimeZone, err)
	}
	start := cfg.Now.Add(-cfg.Span).UTC().Truncate(24 * time.Hour)
	for start.Weekday() != time.Monday {
		start = start.Add(-24 * time.Hour)
	}
	g := &Generator{cfg: cfg, loc: loc, start: start}
	if cfg.Issues > 0 {
		g.step = cfg.Now.Sub(start).Seconds() / float64(cfg.Issues)
	}
	for p := 0; p < cfg.Projects; p++ {
		pn := projectNames[p]
		g.projects = append(g.projects, &Project{ID: 10000 + p, Key: pn.key, Name: pn.name, BoardID: p + 1, Kanban: pn.kanban})
	}
	g.fields = cloudFields
	if !cfg.Cloud {
		g.fields = dcFields
	}
	return g, nil
}

// Len is the number of generated issues.
func (g *Generator) Len() int { return g.cfg.Issues }

// rngFor returns the random source of one issue: each issue depends only on
// the seed and its index.
func (g *Generator) rngFor(i int, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(g.cfg.Seed^0x9E3779B97F4A7C15, uint64(i)*0x100000001B3+stream))
}

func (g *Generator) createdAt(i int) time.Time {
	r := g.rngFor(i, 1)
	secs := (float64(i) + r.Float64()) * g.step
	return g.start.Add(time.Duration(secs) * time.Second)
}

// sprint schedule: every scrum board runs two-week sprints from g.start.
func (g *Generator) sprintIndexAt(t time.Time) int {
	return int(t.Sub(g.start) / sprintLength)
}

func (g *Generator) sprintID(board, k int) int { return board*1000 + k + 1 }

func (g *Generator) sprintStart(k int) time.Time {
	return g.start.Add(time.Duration(k)*sprintLength + 9*time.Hour)
}

func (g *Generator) sprintEnd(k int) time.Time {
	return g.sprintStart(k).Add(sprintLength - 2*time.Hour)
}

func (g *Generator) sprintComplete(k int) time.Time { return g.sprintEnd(k).Add(90 * time.Minute) }

// Sprints returns the sprints of a board, oldest first: closed ones, the
// active one and the next two future ones. Kanban boards have none.
func (g *Generator) Sprints(board int) []*Sprint {
	g.sprintsOnce.Do(g.makeSprints)
	return g.boardSprint[board]
}

// SprintByID returns a sprint.
func (g *Generator) SprintByID(id int) *Sprint {
	g.sprintsOnce.Do(g.makeSprints)
	return g.sprints[id]
}

var sprintGoals = []string{"Checkout without friction", "Ship the new onboarding", "Pay down flaky tests", "Faster search", "", "Prepare the Q-release", "Accessibility fixes", ""}

func (g *Generator) makeSprints() {
	g.sprints = map[int]*Sprint{}
	g.boardSprint = map[int][]*Sprint{}
	last := g.sprintIndexAt(g.cfg.Now) + 2
	for _, p := range g.projects {
		if p.Kanban {
			continue
		}
		for k := 0; k <= last; k++ {
			s := &Sprint{ID: g.sprintID(p.BoardID, k), BoardID: p.BoardID, seq: k,
				Name: fmt.Sprintf("%s Sprint %d", p.Key, k+1), Start: g.sprintStart(k), End: g.sprintEnd(k),
				Goal: sprintGoals[(k+p.BoardID)%len(sprintGoals)]}
			switch {
			case !g.sprintComplete(k).After(g.cfg.Now):
				s.State = "closed"
				s.Complete = g.sprintComplete(k)
			case !s.Start.After(g.cfg.Now):
				s.State = "active"
			default:
				s.State = "future"
			}
			g.sprints[s.ID] = s
			g.boardSprint[p.BoardID] = append(g.boardSprint[p.BoardID], s)
		}
	}
}

// Releases returns a project's fix versions: every two weeks for scrum
// projects, every four for kanban ones, the last two unreleased.
func (g *Generator) Releases(p *Project) []Release {
	g.releasesMu.Lock()
	defer g.releasesMu.Unlock()
	if r, ok := g.releases[p.Key]; ok {
		return r
	}
	if g.releases == nil {
		g.releases = map[string][]Release{}
	}
	out := g.makeReleases(p)
	g.releases[p.Key] = out
	return out
}

func (g *Generator) makeReleases(p *Project) []Release {
	var out []Release
	every := 14 * 24 * time.Hour
	if p.Kanban {
		every = 28 * 24 * time.Hour
	}
	for r := 0; ; r++ {
		d := g.releaseDate(p, r)
		rel := Release{ID: 20000 + (p.ID-10000)*1000 + r, Project: p.Key, Name: fmt.Sprintf("%s %d.%d", p.Name, 1+r/10, r%10), Date: d, Released: !d.After(g.cfg.Now)}
		out = append(out, rel)
		if d.After(g.cfg.Now.Add(2 * every)) {
			break
		}
	}
	return out
}

func (g *Generator) releaseEvery(p *Project) time.Duration {
	if p.Kanban {
		return 28 * 24 * time.Hour
	}
	return 14 * 24 * time.Hour
}

func (g *Generator) releaseDate(p *Project, r int) time.Time {
	return g.start.Add(time.Duration(r+1)*g.releaseEvery(p) + 3*24*time.Hour + 14*time.Hour)
}

// releaseAfter returns the index of the first release on or after t.
func (g *Generator) releaseAfter(p *Project, t time.Time) int {
	every := g.releaseEvery(p)
	r := int(math.Ceil(float64(t.Sub(g.start.Add(3*24*time.Hour+14*time.Hour)))/float64(every))) - 1
	if r < 0 {
		r = 0
	}
	for g.releaseDate(p, r).Before(t) {
		r++
	}
	return r
}

var (
	typeWeights = []struct {
		name string
		w    int
	}{{"Story", 52}, {"Bug", 20}, {"Task", 12}, {"Tech Debt", 6}, {"Incident", 5}, {"Spike", 5}}
	opsTypeWeights = []struct {
		name string
		w    int
	}{{"Task", 35}, {"Incident", 25}, {"Bug", 20}, {"Tech Debt", 12}, {"Story", 8}}
	priorities = []string{"Highest", "High", "Medium", "Medium", "Medium", "Low", "Lowest"}
	labelPool  = []string{"frontend", "backend", "ux", "security", "customer-request", "performance", "must-have", "should-have", "could-have"}
	components = map[string][]string{
		"SHOP": {"Checkout", "Catalog", "Search", "Accounts"}, "APP": {"iOS", "Android", "Sync", "Notifications"},
		"OPS": {"Kubernetes", "Monitoring", "Databases", "CI"}, "DATA": {"Ingest", "Warehouse"}, "PAY": {"Cards", "Invoices"}, "CRM": {"Tickets", "Portal"},
	}
	summaryParts = []string{
		"Als Kunde möchte ich meine Bestellung ändern können", "Checkout shows wrong total for vouchers",
		"支付页面加载缓慢", "Add dark mode 🌙 to settings", "Fix <b>login</b> & signup on Safari",
		"Search results ignore “quoted” phrases", "Export invoices as PDF", "Reduce cold start of the app",
		"Alert when disk > 90%", "Upgrade PostgreSQL to 16", "Café menu: prices in €", "Retry failed webhooks",
		"Show delivery ETA on order page", "Handle 'O'Brien' in customer names", "Migrate cron jobs to Kubernetes",
	}
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func weighted(r *rand.Rand, ws []struct {
	name string
	w    int
}) string {
	total := 0
	for _, w := range ws {
		total += w.w
	}
	n := r.IntN(total)
	for _, w := range ws {
		if n < w.w {
			return w.name
		}
		n -= w.w
	}
	return ws[0].name
}

func lognormal(r *rand.Rand, median, sigma float64) float64 {
	return median * math.Exp(sigma*r.NormFloat64())
}

func days(d float64) time.Duration { return time.Duration(d * 24 * float64(time.Hour)) }

// event is one step of an issue's generated life, before histories are built.
type event struct {
	at       time.Time
	status   *Status // a status change to this status
	sprint   []int   // the Sprint field's new full value, when isSprint
	isSprint bool
	points   *float64 // a story points change
	label    string   // a label edit (for long changelogs)
	rank     bool     // a rank change
	// move is the move from the legacy project (with status, the status
	// the issue gets in its new workflow).
	move       bool
	resolution string // a resolution set without a status change
	typeFrom   string // an issue type change, from this type
	// keepResolution: a move out of done that leaves the resolution set.
	keepResolution bool
}

// Issue generates issue i (0-based) as it stands at the site's now,
// without overlays.
func (g *Generator) Issue(i int) *Issue {
	r := g.rngFor(i, 2)
	p := g.projects[i%len(g.projects)]
	num := i/len(g.projects) + 1
	is := &Issue{Index: i, ID: int64(10000 + i), Key: fmt.Sprintf("%s-%d", p.Key, num), Project: p, Created: g.createdAt(i)}

	switch {
	case (num-1)%40 == 0:
		is.Type = "Epic"
	case p.Kanban:
		is.Type = weighted(r, opsTypeWeights)
	default:
		is.Type = weighted(r, typeWeights)
	}
	is.Shape = g.shapeOf(i)
	if is.Shape == ShapeSubtask {
		if key, typ, ok := g.subtaskParent(i); ok && is.Type != "Epic" {
			is.Type, is.ParentKey, is.ParentType = "Sub-task", key, typ
		} else {
			is.Shape = ""
		}
	}
	is.Summary = pick(r, summaryParts)
	switch {
	case i%997 == 5:
		is.Summary = "<script>alert(1)</script> in product title"
	case i%1009 == 7:
		is.Summary = "=HYPERLINK(\"http://evil.example\",\"click\")"
	}
	is.Summary = fmt.Sprintf("%s (%s)", is.Summary, is.Key)
	if r.IntN(100) < 75 {
		is.Description = "As a customer I want this so that it is done.\n\nh3. Acceptance criteria\n* it works"
		if r.IntN(3) == 0 {
			is.Description = "Details to follow."
		}
	}
	is.Priority = pick(r, priorities)
	for n := r.IntN(3); n > 0; n-- {
		l := pick(r, labelPool)
		if !contains(is.Labels, l) {
			is.Labels = append(is.Labels, l)
		}
	}
	if is.Type == "Tech Debt" && !contains(is.Labels, "tech-debt") {
		is.Labels = append(is.Labels, "tech-debt")
	}
	sort.Strings(is.Labels)
	is.Components = []string{pick(r, components[p.Key])}
	if is.Type != "Epic" && is.Type != "Sub-task" {
		epicNum := (num-1)/40*40 + 1
		is.EpicKey = fmt.Sprintf("%s-%d", p.Key, epicNum)
	}
	// Due dates, from a stream of their own (the rest is unchanged): every
	// epic 3 to 7 months after its creation, one story in six a few weeks.
	dr := g.rngFor(i, 12)
	switch {
	case is.Type == "Epic":
		is.Due = is.Created.Truncate(24*time.Hour).AddDate(0, 0, 90+dr.IntN(120))
	case is.Type == "Story" && dr.IntN(6) == 0:
		is.Due = is.Created.Truncate(24*time.Hour).AddDate(0, 0, 14+dr.IntN(46))
	}
	// Estimates and WSJF inputs.
	fib := []float64{1, 2, 3, 5, 8, 13}
	switch is.Type {
	case "Story", "Task", "Tech Debt", "Spike":
		if r.IntN(100) < 82 {
			is.StoryPoints = pick(r, fib)
		}
	case "Bug":
		if r.IntN(100) < 40 {
			is.StoryPoints = pick(r, fib[:4])
		}
	}
	switch {
	case is.Type == "Epic":
		is.Business = float64(100 + r.IntN(900))
	case is.Type == "Story" && r.IntN(100) < 35:
		is.Business = float64(1 + r.IntN(100))
	}
	if is.Type == "Story" || is.Type == "Epic" {
		is.TimeCrit = pick(r, fib)
		is.RiskOpp = pick(r, fib)
		is.JobSize = is.StoryPoints
	}
	is.Rank = lexoRank(int64(i)*1000 + int64(r.IntN(len(g.projects)*40*1000)))

	is.ResolutionName = "Done"
	events := g.life(is, r)
	if is.Shape != "" {
		events = g.reshape(is, events, g.rngFor(i, 4))
	}
	g.buildHistories(is, events)
	return is
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func lexoRank(n int64) string {
	s := strconv.FormatInt(n, 36)
	return "0|i" + strings.Repeat("0", max(0, 8-len(s))) + s + ":"
}

// life generates the events of an issue: its workflow, its sprints, its
// estimate changes, in time order; events after now are dropped.
func (g *Generator) life(is *Issue, r *rand.Rand) []event {
	var ev []event
	p := is.Project
	initial := stBacklog
	if p.Kanban {
		initial = stOpenIdea
	}
	add := func(at time.Time, s Status) {
		s2 := s
		ev = append(ev, event{at: at, status: &s2})
	}
	created := is.Created
	roll := r.IntN(1000)
	if sh := g.cfg.Shift; sh.Project == p.Key && !created.Before(sh.At) && g.rngFor(is.Index, 11).Float64() < sh.Stuck {
		roll = 100 // never started (its own random stream: other issues are unchanged)
	}
	median := 4.0
	switch is.Type {
	case "Bug", "Incident":
		median = 1.5
	case "Epic":
		median = 45
	case "Spike":
		median = 3
	}
	wait := days(r.ExpFloat64() * 9)
	if is.Type == "Incident" {
		wait = days(r.ExpFloat64() * 0.2)
	}
	startAt := created.Add(wait)
	cycle := days(math.Min(lognormal(r, median, 0.9), 400))
	var doneAt time.Time
	switch {
	case roll < 30: // created straight into progress
		initial = stInProgress
		startAt = created
		doneAt = startAt.Add(cycle)
		add(doneAt.Add(-cycle/3), stReview)
	case roll < 80: // skips In Progress: closed from the backlog
		doneAt = startAt
	case roll < 160: // never started: stays in the backlog
		startAt = time.Time{}
	default:
		doneAt = startAt.Add(cycle)
		if p.Kanban && r.IntN(4) == 0 {
			add(created.Add(wait/2), stWaitingNew) // the new-category "Waiting"
		}
		if !p.Kanban && r.IntN(3) == 0 {
			add(created.Add(wait/2), stSelected)
		}
		add(startAt, stInProgress)
		if r.IntN(5) == 0 { // blocked for a while: a wait state
			add(startAt.Add(cycle/4), stBlocked)
			add(startAt.Add(cycle/2), stInProgress)
		}
		if !p.Kanban && r.IntN(6) == 0 { // the indeterminate-category "Waiting"
			add(startAt.Add(cycle*6/10), stWaitingIP)
		}
		if r.IntN(10) < 7 {
			add(startAt.Add(cycle*7/10), stReview)
		}
	}
	if !doneAt.IsZero() {
		if p.Kanban {
			add(doneAt, stDone)
		} else {
			add(doneAt, stReady)
			rel := g.releaseAfter(p, doneAt.Add(time.Hour))
			add(g.releaseDate(p, rel), stReleased)
			is.FixVersions = []int{20000 + (p.ID-10000)*1000 + rel}
		}
		if r.IntN(100) < 6 { // reopened and done again
			reopen := doneAt.Add(days(1 + r.Float64()*9))
			if !p.Kanban {
				reopen = g.releaseDate(p, g.releaseAfter(p, doneAt.Add(time.Hour))).Add(days(1 + r.Float64()*5))
			}
			redo := reopen.Add(days(lognormal(r, 2, 0.7)))
			add(reopen, stInProgress)
			add(redo, stDone)
			if !p.Kanban {
				rel := g.releaseAfter(p, redo.Add(time.Hour))
				is.FixVersions = []int{20000 + (p.ID-10000)*1000 + rel}
			}
		}
	}
	if is.StoryPoints > 0 && r.IntN(100) < 8 { // re-estimated before work began
		old := is.StoryPoints / 2
		if old < 1 {
			old = 1
		}
		ev = append(ev, event{at: created.Add(wait / 3), points: &old})
	}
	if !p.Kanban && is.Type != "Epic" && is.Type != "Sub-task" {
		ev = append(ev, g.sprintEvents(is, r, startAt, created, ev)...)
	}
	if r.IntN(100) < 2 { // a long changelog: rank and label churn
		n := 40 + r.IntN(80)
		end := created.Add(days(30))
		for k := 0; k < n; k++ {
			at := created.Add(time.Duration(float64(end.Sub(created)) * float64(k+1) / float64(n+1)))
			if k%2 == 0 {
				ev = append(ev, event{at: at, rank: true})
			} else {
				ev = append(ev, event{at: at, label: pick(r, labelPool)})
			}
		}
	}
	sort.SliceStable(ev, func(a, b int) bool { return ev[a].at.Before(ev[b].at) })
	// Cut the future, and settle the current state.
	now := g.cfg.Now
	kept := ev[:0]
	for _, e := range ev {
		if e.at.After(now) {
			continue
		}
		if e.at.Before(created) {
			e.at = created
		}
		kept = append(kept, e)
	}
	is.Status = initial
	is.Updated = created
	for _, e := range kept {
		if e.status != nil {
			is.Status = *e.status
		}
		if e.isSprint {
			is.Sprints = e.sprint
		}
		is.Updated = e.at
	}
	// The first status is the "from" of the first change: remember it.
	is.initial = initial
	if is.Status.Category == "done" {
		for k := len(kept) - 1; k >= 0; k-- {
			if kept[k].status != nil && kept[k].status.Category == "done" {
				is.Resolution = kept[k].at
			} else if kept[k].status != nil {
				break
			}
		}
	} else {
		is.FixVersions = nil
	}
	return kept
}

// sprintEvents plans an issue into sprints: committed when planned before
// the sprint started, added when created mid-sprint, removed for some, and
// carried over while not done at the sprint's close.
func (g *Generator) sprintEvents(is *Issue, r *rand.Rand, startAt, created time.Time, life []event) []event {
	var doneAt time.Time
	for _, e := range life {
		if e.status != nil {
			if e.status.Category == "done" {
				if doneAt.IsZero() {
					doneAt = e.at
				}
			} else {
				doneAt = time.Time{}
			}
		}
	}
	anchor := startAt
	if anchor.IsZero() {
		if r.IntN(10) != 0 { // most never-started items are not planned
			return nil
		}
		anchor = created.Add(days(3))
	}
	k := g.sprintIndexAt(anchor)
	if k < 0 {
		k = 0
	}
	board := is.Project.BoardID
	var ev []event
	var current []int
	set := func(at time.Time, ids []int) {
		cp := append([]int(nil), ids...)
		ev = append(ev, event{at: at, sprint: cp, isSprint: true})
		current = cp
	}
	joinAt := g.sprintStart(k).Add(-days(r.Float64() * 2)) // planned before the start
	if created.After(joinAt) {
		joinAt = created.Add(time.Minute) // added mid-sprint
	}
	set(joinAt, []int{g.sprintID(board, k)})
	if r.IntN(100) < 7 && (doneAt.IsZero() || doneAt.After(g.sprintEnd(k))) {
		// removed mid-sprint, then planned into the next one
		set(joinAt.Add((g.sprintEnd(k).Sub(joinAt))/2), nil)
		k++
		set(g.sprintStart(k).Add(-time.Hour), []int{g.sprintID(board, k)})
	}
	for step := 0; step < 6; step++ {
		if !doneAt.IsZero() && !doneAt.After(g.sprintEnd(k)) {
			break
		}
		if g.sprintComplete(k).After(g.cfg.Now) {
			break
		}
		// carried over at the sprint's completion
		k++
		set(g.sprintComplete(k-1), append(current, g.sprintID(board, k)))
	}
	return ev
}

func ptrS(s string) *string { return &s }

func sprintList(ids []int) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.Itoa(id)
	}
	return strings.Join(parts, ", ")
}

// buildHistories turns events into changelog histories with Jira's items.
func (g *Generator) buildHistories(is *Issue, events []event) {
	status := is.initial
	var sprints []int
	labels := append([]string(nil), is.Labels...)
	for k, e := range events {
		h := History{ID: is.ID*200 + int64(k), Created: e.at}
		switch {
		case e.move:
			p := is.Project
			h.Items = append(h.Items,
				Item{Field: "project", FieldType: "jira", FieldID: "project", From: ptrS(strconv.Itoa(legacyProject.ID)), FromString: ptrS(legacyProject.Name),
					To: ptrS(strconv.Itoa(p.ID)), ToString: ptrS(p.Name)},
				Item{Field: "Key", FieldType: "jira", FieldID: "issuekey", FromString: ptrS(is.OldKey), ToString: ptrS(is.Key)},
				Item{Field: "Workflow", FieldType: "jira", From: ptrS("10400"), FromString: ptrS("Legacy Support Workflow"),
					To: ptrS(strconv.Itoa(10300 + p.ID - 10000)), ToString: ptrS(p.Name + " Workflow")},
				Item{Field: "status", FieldType: "jira", FieldID: "status",
					From: ptrS(status.ID), FromString: ptrS(status.Name), To: ptrS(e.status.ID), ToString: ptrS(e.status.Name)})
			status = *e.status
		case e.resolution != "":
			h.Items = append(h.Items, Item{Field: "resolution", FieldType: "jira", FieldID: "resolution", To: ptrS("10001"), ToString: ptrS(e.resolution)})
		case e.typeFrom != "":
			h.Items = append(h.Items, Item{Field: "issuetype", FieldType: "jira", FieldID: "issuetype",
				From: ptrS(typeIDs[e.typeFrom]), FromString: ptrS(e.typeFrom), To: ptrS(typeIDs[is.Type]), ToString: ptrS(is.Type)})
		case e.status != nil:
			h.Items = append(h.Items, Item{Field: "status", FieldType: "jira", FieldID: "status",
				From: ptrS(status.ID), FromString: ptrS(status.Name), To: ptrS(e.status.ID), ToString: ptrS(e.status.Name)})
			if e.status.Category == "done" && status.Category != "done" {
				h.Items = append(h.Items, Item{Field: "resolution", FieldType: "jira", FieldID: "resolution", To: ptrS("10000"), ToString: ptrS("Done")})
			} else if e.status.Category != "done" && status.Category == "done" && !e.keepResolution {
				h.Items = append(h.Items, Item{Field: "resolution", FieldType: "jira", FieldID: "resolution", From: ptrS("10000"), FromString: ptrS("Done")})
			}
			status = *e.status
		case e.isSprint:
			h.Items = append(h.Items, Item{Field: "Sprint", FieldType: "custom", FieldID: g.fields.sprint,
				From: ptrS(sprintList(sprints)), FromString: ptrS(g.sprintNames(sprints)), To: ptrS(sprintList(e.sprint)), ToString: ptrS(g.sprintNames(e.sprint))})
			sprints = e.sprint
		case e.points != nil:
			// The history says the estimate went from the old value to the current one.
			h.Items = append(h.Items, Item{Field: g.fields.pointsName, FieldType: "custom", FieldID: g.fields.points,
				FromString: ptrS(fmtPoints(*e.points)), ToString: ptrS(fmtPoints(is.StoryPoints))})
		case e.rank:
			h.Items = append(h.Items, Item{Field: "Rank", FieldType: "custom", FieldID: g.fields.rank, FromString: ptrS(""), ToString: ptrS("Ranked higher")})
		case e.label != "":
			before := strings.Join(labels, " ")
			after := before + " " + e.label
			h.Items = append(h.Items, Item{Field: "labels", FieldType: "jira", FieldID: "labels", FromString: ptrS(before), ToString: ptrS(strings.TrimSpace(after))})
		}
		is.Histories = append(is.Histories, h)
	}
}

func fmtPoints(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func (g *Generator) sprintNames(ids []int) string {
	names := make([]string, 0, len(ids))
	for _, id := range ids {
		if s := g.SprintByID(id); s != nil {
			names = append(names, s.Name)
		} else {
			names = append(names, "Sprint "+strconv.Itoa(id))
		}
	}
	return strings.Join(names, ", ")
}
