package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/metrics"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed assets
var assetFiles embed.FS

// EchartsEmbedded reports whether the build carries echarts (make assets).
func EchartsEmbedded() bool {
	_, err := fs.Stat(assetFiles, "assets/echarts.min.js")
	return err == nil
}

// assetVersion changes when an embedded asset does, so browsers never use
// a stale copy of the stylesheet or of echarts.
var assetVersion = func() string {
	h := sha256.New()
	fs.WalkDir(assetFiles, "assets", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := assetFiles.ReadFile(p)
			h.Write(b)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}()

var funcs = template.FuncMap{
	"assetVersion": func() string { return assetVersion },
	"num": func(v *float64) string {
		if v == nil {
			return "–"
		}
		return strconv.FormatFloat(*v, 'f', -1, 64)
	},
	"short":   short,
	"measure": measureValue,
	"fixed": func(v *float64, digits int) string {
		if v == nil {
			return "–"
		}
		return strconv.FormatFloat(*v, 'f', digits, 64)
	},
	"pct": func(v *float64) string {
		if v == nil {
			return "–"
		}
		return strconv.FormatFloat(*v*100, 'f', 0, 64) + "%"
	},
	"date": func(t *time.Time) string {
		if t == nil {
			return "–"
		}
		return t.UTC().Format("2006-01-02")
	},
	"jira":     jiraLink,
	"join":     strings.Join,
	"ptrOf":    func(v float64) *float64 { return &v },
	"count":    count,
	"goalForm": goalForm,
	"change":   changeOf,
	"inc":      func(i int) int { return i + 1 },
	"xmrMin":   func() int { return metrics.XmRMinPoints },
	"deref": func(v *float64) float64 {
		if v == nil {
			return 0
		}
		return *v
	},
	"expForm": expForm,
	"measureName": func(key string) string {
		info, _ := evident.MeasureOf(key)
		return info.Name
	},
}

// epicTypes are the issue types above stories: their "cycle time" spans
// months of many items' work and would swamp the flow charts.
var epicTypes = map[string]bool{"epic": true, "initiative": true, "theme": true, "portfolio epic": true}

// withoutEpics leaves epics out of a page's filter when no type was
// chosen, and says so on the page.
func withoutEpics(c *fiber.Ctx, v *view, f *metrics.Filter) {
	if c.Query("type") != "" {
		return
	}
	v.Filters.NoEpics = true
	var left []string
	for _, t := range v.Filters.Types {
		if epicTypes[strings.ToLower(t)] {
			left = append(left, t)
		} else {
			f.Types = append(f.Types, t)
		}
	}
	if len(left) == 0 {
		f.Types = nil
		return
	}
	v.Notice = strings.Join(left, ", ") + " left out: an epic's cycle time spans its items' work. Choose Type “all, epics too” to include them."
}

// jiraLink is an issue's page in Jira ("" without a Jira URL).
func jiraLink(base, key string) string {
	if base == "" {
		return ""
	}
	return strings.TrimRight(base, "/") + "/browse/" + url.PathEscape(key)
}

// short writes a number for reading: two decimals below 100, none from
// 100, trailing zeros dropped, thousands separated (265,833).
func short(v *float64) string {
	if v == nil {
		return "–"
	}
	digits := 2
	if math.Abs(*v) >= 100 {
		digits = 0
	}
	return number(*v, digits)
}

// number formats v with at most digits decimals (trailing zeros dropped)
// and thousands separators.
func number(v float64, digits int) string {
	out := strconv.FormatFloat(v, 'f', digits, 64)
	if strings.Contains(out, ".") {
		out = strings.TrimRight(strings.TrimRight(out, "0"), ".")
	}
	if out == "-0" {
		out = "0"
	}
	intPart, frac := out, ""
	if i := strings.IndexByte(out, '.'); i >= 0 {
		intPart, frac = out[:i], out[i:]
	}
	sign := ""
	if strings.HasPrefix(intPart, "-") {
		sign, intPart = "-", intPart[1:]
	}
	for i := len(intPart) - 3; i > 0; i -= 3 {
		intPart = intPart[:i] + "," + intPart[i:]
	}
	return sign + intPart + frac
}

// measureValue writes a measure's value at the precision of its data: days
// to a tenth, a share as a percentage, counts whole, others as short.
func measureValue(v *float64, unit string) string {
	if v == nil {
		return "–"
	}
	switch unit {
	case "days":
		return number(*v, 1)
	case "share of done work":
		return number(*v*100, 0) + "%"
	case "issues", "releases per month", "NPS", "eNPS", "% satisfied":
		return number(*v, 1)
	}
	return short(v)
}

// change is how a measure moved against the previous period, for the page.
type change struct {
	Arrow, Text, Class, Title string
}

// changeOf writes a measure's change: an arrow, the relative change (or the
// difference in points for scores and shares), coloured by whether it is
// better.
func changeOf(m metrics.Measure) change {
	if m.Change == nil {
		if m.Previous == nil && m.Value != nil {
			return change{Text: "new", Class: "flat", Title: "no value in the previous period"}
		}
		return change{}
	}
	out := change{Arrow: "→", Class: "flat", Title: "previous period: " + measureValue(m.Previous, m.Unit)}
	switch {
	case *m.Change > 0:
		out.Arrow = "▲"
	case *m.Change < 0:
		out.Arrow = "▼"
	}
	if m.Improved != nil {
		out.Class = map[bool]string{true: "better", false: "worse"}[*m.Improved]
	}
	sign := ""
	if *m.Change > 0 {
		sign = "+"
	}
	switch {
	case m.ChangePct != nil:
		out.Text = sign + number(*m.ChangePct, 0) + "%"
	case m.Unit == "share of done work":
		out.Text = sign + number(*m.Change*100, 0) + " pts"
	case m.Unit == "NPS" || m.Unit == "eNPS" || m.Unit == "% satisfied":
		out.Text = sign + number(*m.Change, 0) + " pts"
	default:
		out.Text = sign + measureValue(m.Change, m.Unit)
	}
	// A change too small to show is no change.
	if strings.Trim(out.Text, "+-0.,% pts") == "" {
		out = change{Arrow: "→", Text: "no change", Class: "flat", Title: out.Title}
	}
	return out
}

// count writes a whole number with thousands separators (12,345), rounding
// a float.
func count(v any) string {
	var n int64
	switch x := v.(type) {
	case int:
		n = int64(x)
	case int64:
		n = x
	case uint64:
		n = int64(x)
	case float64:
		n = int64(math.Round(x))
	case *float64:
		if x == nil {
			return "–"
		}
		n = int64(math.Round(*x))
	default:
		return fmt.Sprint(v)
	}
	neg := n < 0
	if neg {
		n = -n
	}
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

var pages = func() map[string]*template.Template {
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/chart.html"))
	out := map[string]*template.Template{}
	entries, _ := fs.ReadDir(templateFiles, "templates")
	for _, e := range entries {
		name := e.Name()
		if name == "layout.html" || name == "chart.html" {
			continue
		}
		t := template.Must(layout.Clone())
		out[strings.TrimSuffix(name, ".html")] = template.Must(t.ParseFS(templateFiles, "templates/"+name))
	}
	return out
}()

// view is what the layout renders.
type view struct {
	Title     string
	Active    string
	Filters   filterForm
	Charts    []Chart
	Data      any
	Error     string
	Notice    string
	JiraURL   string
	AuthOn    bool
	NoEcharts bool
	Admin     bool // may edit goals and experiments
	// DataVersion is the data the page was drawn from: the page polls
	// /api/v1/version and offers the new numbers when it changes.
	DataVersion string
}

// filterForm is the state of the filter bar, kept in the URL.
type filterForm struct {
	Project, Board, Type, From, To, Period, Category, Label string
	Projects                                                []metrics.CatalogProject
	Boards                                                  []metrics.CatalogBoard
	Types                                                   []string
	Query                                                   string // the current query, for links
	ShowBoard, ShowPeriod, HideType                         bool
	// NoEpics: the page leaves epics out unless a type is chosen.
	NoEpics bool
}

func (s *Server) pageRoutes() {
	v, c := s.requireRole(RoleViewer), s.cached
	s.App.Get("/", v, c, s.overviewPage)
	s.App.Get("/flow", v, c, s.flowPage)
	s.App.Get("/standup", v, c, s.standupPage)
	s.App.Get("/sprints", v, c, s.sprintsPage)
	s.App.Get("/sprints/:id", v, c, s.retroPage)
	s.App.Get("/value", v, c, s.valuePage)
	s.App.Get("/forecast", v, c, s.forecastPage)
	s.App.Get("/health", v, c, s.healthPage)
	s.App.Get("/backlog", v, c, s.backlogPage)
	s.App.Get("/initiatives", v, c, s.initiativesPage)
	s.App.Get("/docs/metrics", v, s.metricsPage)
}

// newView parses the filters of a page and fills the filter bar. A bad
// parameter is a 400 with the message on the page.
func (s *Server) newView(c *fiber.Ctx, title, active string) (view, metrics.Filter, metrics.Period, error) {
	v := view{Title: title, Active: active, JiraURL: s.cfg.JiraURL, AuthOn: s.auth, NoEcharts: !EchartsEmbedded(),
		Admin: s.cfg.Inputs != nil && s.tokenRole(c) == RoleAdmin}
	q := func(k string) string { return c.Query(k) }
	v.Filters = filterForm{Project: q("project"), Board: q("board"), Type: q("type"), From: q("from"), To: q("to"), Period: q("period"),
		Category: q("category"), Label: q("label"), Query: string(c.Request().URI().QueryString())}
	cat, err := s.catalog(c.UserContext())
	if err != nil {
		return v, metrics.Filter{}, "", err
	}
	v.Filters.Projects, v.Filters.Boards, v.Filters.Types = cat.Projects, cat.Boards, cat.Types
	f, p, err := s.filterPeriod(c)
	if err != nil {
		return v, f, p, err
	}
	if v.Filters.From == "" {
		v.Filters.From = f.From.Format("2006-01-02")
	}
	if v.Filters.To == "" {
		v.Filters.To = f.To.Format("2006-01-02")
	}
	if v.Filters.Period == "" {
		v.Filters.Period = string(p)
	}
	return v, f, p, nil
}

// render writes a page, or one chart's data as CSV when ?csv=<chart id>.
func (s *Server) render(c *fiber.Ctx, name string, v view) error {
	if id := c.Query("csv"); id != "" {
		for _, ch := range v.Charts {
			if ch.ID == id {
				return sendCSV(c, id+".csv", append([][]string{append([]string(nil), ch.Table.Head...)}, ch.Table.Rows...))
			}
		}
		return evident.Errorf(evident.ENOTFOUND, "csv: this page has no chart %q", id)
	}
	t, ok := pages[name]
	if !ok {
		return fmt.Errorf("no template %s", name)
	}
	for i := range v.Charts {
		if v.Charts[i].CSV == "" {
			v.Charts[i].CSV = "?" + withParam(v.Filters.Query, "csv", v.Charts[i].ID)
		}
	}
	// Without a version (the database did not answer) the page does not
	// poll for new numbers; it still shows what it computed.
	v.DataVersion, _ = s.dataVersion(c.UserContext(), queryProject(c))
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	c.Set("Content-Type", "text/html; charset=utf-8")
	return c.Send(buf.Bytes())
}

func withParam(query, key, value string) string {
	vals, _ := url.ParseQuery(query)
	vals.Set(key, value)
	return vals.Encode()
}

// renderError shows an error on a page with the filter bar, so that the
// user can correct what was wrong.
func (s *Server) renderError(c *fiber.Ctx, status int, msg string) error {
	v := view{Title: "Error", Error: msg, JiraURL: s.cfg.JiraURL, AuthOn: s.auth}
	v.Filters.Query = string(c.Request().URI().QueryString())
	var buf bytes.Buffer
	if err := pages["error"].ExecuteTemplate(&buf, "layout.html", v); err != nil {
		return c.Status(status).SendString(msg)
	}
	c.Set("Content-Type", "text/html; charset=utf-8")
	return c.Status(status).Send(buf.Bytes())
}

// pageError shows a bad parameter as a 400 on the page itself.
func (s *Server) pageError(c *fiber.Ctx, v view, err error) error {
	code := evident.ErrorCode(err)
	if code != evident.EINVALID && code != evident.ENOTFOUND {
		return err
	}
	v.Error = evident.ErrorMessage(err)
	v.Charts = nil
	c.Status(statusOf[code])
	var buf bytes.Buffer
	if rerr := pages["error"].ExecuteTemplate(&buf, "layout.html", v); rerr != nil {
		return rerr
	}
	c.Set("Content-Type", "text/html; charset=utf-8")
	return c.Send(buf.Bytes())
}

// parallel runs a page's queries at once and returns the first error.
func parallel(fns ...func() error) error {
	var wg sync.WaitGroup
	errs := make([]error, len(fns))
	for i, fn := range fns {
		wg.Add(1)
		go func(i int, fn func() error) {
			defer wg.Done()
			errs[i] = fn()
		}(i, fn)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) assets(c *fiber.Ctx) error {
	name := strings.TrimPrefix(c.Params("*"), "/")
	if name == "" || strings.Contains(name, "..") {
		return fiber.ErrNotFound
	}
	b, err := assetFiles.ReadFile("assets/" + name)
	if err != nil {
		return fiber.ErrNotFound
	}
	switch {
	case strings.HasSuffix(name, ".js"):
		c.Set("Content-Type", "text/javascript; charset=utf-8")
	case strings.HasSuffix(name, ".css"):
		c.Set("Content-Type", "text/css; charset=utf-8")
	default:
		return fiber.ErrNotFound
	}
	c.Set("Cache-Control", "public, max-age=86400")
	return c.Send(b)
}

func (s *Server) loginPage(c *fiber.Ctx) error {
	v := view{Title: "Sign in", AuthOn: s.auth, Data: map[string]string{"Next": safeNext(c.Query("next"))}}
	var buf bytes.Buffer
	if err := pages["login"].ExecuteTemplate(&buf, "layout.html", v); err != nil {
		return err
	}
	c.Set("Content-Type", "text/html; charset=utf-8")
	return c.Send(buf.Bytes())
}

func (s *Server) login(c *fiber.Ctx) error {
	if s.guesses.blocked(c.IP(), time.Now()) {
		return tooManyGuesses(c)
	}
	tok := strings.TrimSpace(c.FormValue("token"))
	c.Request().Header.Set("Authorization", "Bearer "+tok)
	if s.tokenRole(c) == RoleNone {
		s.guesses.failed(c.IP(), time.Now())
		c.Status(401)
		v := view{Title: "Sign in", AuthOn: s.auth, Error: "That token is not valid.", Data: map[string]string{"Next": safeNext(c.FormValue("next"))}}
		var buf bytes.Buffer
		if err := pages["login"].ExecuteTemplate(&buf, "layout.html", v); err != nil {
			return err
		}
		c.Set("Content-Type", "text/html; charset=utf-8")
		return c.Send(buf.Bytes())
	}
	c.Cookie(&fiber.Cookie{Name: cookieName, Value: tok, Path: "/", HTTPOnly: true, SameSite: "Strict", Secure: c.Protocol() == "https", MaxAge: 30 * 24 * 3600})
	return c.Redirect(safeNext(c.FormValue("next")), fiber.StatusSeeOther)
}

func (s *Server) logout(c *fiber.Ctx) error {
	c.Cookie(&fiber.Cookie{Name: cookieName, Value: "", Path: "/", HTTPOnly: true, SameSite: "Strict", MaxAge: -1, Expires: time.Unix(1, 0)})
	return c.Redirect("/login", fiber.StatusSeeOther)
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
