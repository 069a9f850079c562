package jirasim

import (
	"fmt"
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

// Issue generates issue i (0-based) as it stands at the site's now,
// without overlays.
// typeOf is issue i's type. The structure is by number within the
// project: an epic opens each block of 40 issues, an initiative is the
// fourth issue of each block of 200, and one epic among the project's last
// 40 issues has no items yet (none names it), as every real backlog has.
// The others are drawn, first, from the issue's stream r.
func (g *Generator) typeOf(i int, r *rand.Rand) string {
	p := g.projects[i%len(g.projects)]
	num := i/len(g.projects) + 1
	switch {
	case (num-1)%40 == 0:
		return "Epic"
	case num%200 == 4:
		return "Initiative"
	case num%40 == 20 && num > g.countIn(i%len(g.projects))-40:
		return "Epic"
	case p.Kanban:
		return weighted(r, opsTypeWeights)
	}
	return weighted(r, typeWeights)
}

// countIn is how many issues the project at index pi has.
func (g *Generator) countIn(pi int) int {
	return (g.cfg.Issues - pi + len(g.projects) - 1) / len(g.projects)
}

// KeyOf is the key of the issue at index i.
func (g *Generator) KeyOf(i int) string {
	return fmt.Sprintf("%s-%d", g.projects[i%len(g.projects)].Key, i/len(g.projects)+1)
}

func (g *Generator) Issue(i int) *Issue {
	r := g.rngFor(i, 2)
	p := g.projects[i%len(g.projects)]
	num := i/len(g.projects) + 1
	is := &Issue{Index: i, ID: int64(10000 + i), Key: fmt.Sprintf("%s-%d", p.Key, num), Project: p, Created: g.createdAt(i)}

	is.Type = g.typeOf(i, r)
	if is.Type == "Epic" {
		// Epics roll up to the initiative of their block of 200.
		if in := (num-1)/200*200 + 4; in <= g.countIn(i%len(g.projects)) {
			is.ParentKey, is.ParentType = fmt.Sprintf("%s-%d", p.Key, in), "Initiative"
		}
	}
	is.Shape = g.shapeOf(i)
	if is.Shape == ShapeSubtask {
		if key, typ, ok := g.subtaskParent(i); ok && (is.Type != "Epic" && is.Type != "Initiative") {
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
	if is.Type != "Epic" && is.Type != "Sub-task" && is.Type != "Initiative" {
		epicNum := (num-1)/40*40 + 1
		is.EpicKey = fmt.Sprintf("%s-%d", p.Key, epicNum)
	}
	// Due dates, from a stream of their own (the rest is unchanged): every
	// epic 3 to 7 months after its creation, one story in six a few weeks.
	dr := g.rngFor(i, 12)
	switch {
	case is.Type == "Epic":
		is.Due = is.Created.Truncate(24*time.Hour).AddDate(0, 0, 90+dr.IntN(120))
	case is.Type == "Initiative":
		is.Due = is.Created.Truncate(24*time.Hour).AddDate(0, 0, 240+dr.IntN(180))
	case is.Type == "Story" && dr.IntN(6) == 0:
		is.Due = is.Created.Truncate(24*time.Hour).AddDate(0, 0, 14+dr.IntN(46))
	}
	if is.Shape == ShapeDueOutOfRange {
		due := is.Created.AddDate(0, 1, 0)
		is.Due = time.Date(20, due.Month(), due.Day(), 0, 0, 0, 0, time.UTC)
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
	case is.Type == "Epic" || is.Type == "Initiative":
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
