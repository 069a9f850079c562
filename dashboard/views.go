package dashboard

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/event"
	"github.com/go-echarts/go-echarts/v2/opts"
	"github.com/gofiber/fiber/v2"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/metrics"
)

func f2s(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func p2s(v *float64) string {
	if v == nil {
		return ""
	}
	return f2s(*v)
}

// ---- overview (leadership) ----

// productView is one product's four Key Value Areas.
type productView struct {
	Key   string
	Name  string
	KVAs  []kvaView
	Goals []GoalProgress
}

type kvaView struct {
	metrics.KVA
	Spark Chart
}

func (s *Server) overviewPage(c *fiber.Ctx) error {
	v, f, p, err := s.newView(c, "Overview", "overview")
	if err != nil {
		return s.pageError(c, v, err)
	}
	v.Filters.ShowPeriod = true
	if p == metrics.Month && c.Query("from") == "" {
		f.From = f.To.AddDate(-1, 0, 0) // leadership looks at a year of months
		v.Filters.From = f.From.Format("2006-01-02")
	}
	var products []metrics.CatalogProject
	for _, pr := range v.Filters.Projects {
		if f.Project == "" || pr.Key == f.Project {
			products = append(products, pr)
		}
	}
	if len(products) > 6 {
		products = products[:6]
	}
	views := make([]productView, len(products))
	var fns []func() error
	for i, pr := range products {
		i, pr := i, pr
		fns = append(fns, func() error {
			pf := f
			pf.Project = pr.Key
			e, err := s.cfg.Measures.EBM(c.UserContext(), pf, pr.Key, p)
			if err != nil {
				return err
			}
			pv := productView{Key: pr.Key, Name: pr.Name}
			for _, k := range e.KVAs {
				pv.KVAs = append(pv.KVAs, kvaView{KVA: k, Spark: sparkline(fmt.Sprintf("spark_%s_%s", pr.Key, k.Key), k)})
			}
			if s.cfg.Inputs != nil {
				goals, err := s.cfg.Inputs.Goals(c.UserContext(), pr.Key)
				if err != nil {
					return err
				}
				pv.Goals = ProgressOf(goals, e.Current())
			}
			views[i] = pv
			return nil
		})
	}
	if err := parallel(fns...); err != nil {
		return err
	}
	v.Data = views
	return s.render(c, "overview", v)
}

// sparkline draws the trend of a KVA's first measure that has one.
func sparkline(id string, k metrics.KVA) Chart {
	ch := Chart{ID: safeID(id)}
	for _, m := range k.Measures {
		has := false
		for _, t := range m.Trend {
			if t.Value != nil {
				has = true
			}
		}
		if !has {
			continue
		}
		line := charts.NewLine()
		line.SetGlobalOptions(append(base(ch.ID, "70px"),
			charts.WithLegendOpts(opts.Legend{Show: opts.Bool(false)}),
			charts.WithGridOpts(opts.Grid{Left: "4", Right: "4", Top: "6", Bottom: "4"}),
			charts.WithXAxisOpts(opts.XAxis{Show: opts.Bool(false)}),
			charts.WithYAxisOpts(opts.YAxis{Show: opts.Bool(false), Scale: opts.Bool(true)}))...)
		var xs []string
		var ys []opts.LineData
		for _, t := range m.Trend {
			xs = append(xs, t.Period)
			if t.Value == nil {
				ys = append(ys, opts.LineData{Value: "-"})
			} else {
				ys = append(ys, opts.LineData{Value: *t.Value})
			}
			ch.Table.Rows = append(ch.Table.Rows, []string{t.Period, p2s(t.Value), strconv.Itoa(t.N)})
		}
		line.SetXAxis(xs).AddSeries(m.Name, ys, charts.WithLineChartOpts(opts.LineChart{Smooth: opts.Bool(true), ConnectNulls: opts.Bool(true)}))
		ch.Title = m.Name
		ch.Table.Head = []string{"period", m.Name, "n"}
		ch.Element, ch.Script = snippet(line)
		return ch
	}
	ch.Empty = "no trend yet"
	return ch
}

func safeID(s string) string {
	var b strings.Builder
	for _, r := range s {
		if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// ---- flow (product owners, teams) ----

type flowData struct {
	Flow   metrics.Flow
	Status metrics.StatusTimes
}

func (s *Server) flowPage(c *fiber.Ctx) error {
	v, f, _, err := s.newView(c, "Flow", "flow")
	if err != nil {
		return s.pageError(c, v, err)
	}
	var flow metrics.Flow
	var cfd metrics.CFD
	var st metrics.StatusTimes
	err = parallel(
		func() (err error) { flow, err = s.cfg.Measures.Flow(c.UserContext(), f); return },
		func() (err error) { cfd, err = s.cfg.Measures.CumulativeFlow(c.UserContext(), f, "category"); return },
		func() (err error) { st, err = s.cfg.Measures.StatusTimes(c.UserContext(), f); return },
	)
	if err != nil {
		return err
	}
	v.Data = flowData{Flow: flow, Status: st}
	v.Charts = []Chart{
		s.cycleScatter(flow),
		leadHistogram(flow),
		throughputChart(flow),
		cfdChart(cfd),
		s.agingChart(flow),
		timeInStatusChart(st),
	}
	return s.render(c, "flow", v)
}

func percentileLines(st metrics.Stats) []opts.MarkLineNameYAxisItem {
	var out []opts.MarkLineNameYAxisItem
	for _, p := range []struct {
		name string
		v    *float64
	}{{"50%", st.P50}, {"70%", st.P70}, {"85%", st.P85}, {"95%", st.P95}} {
		if p.v != nil {
			out = append(out, opts.MarkLineNameYAxisItem{Name: p.name, YAxis: *p.v})
		}
	}
	return out
}

func (s *Server) cycleScatter(flow metrics.Flow) Chart {
	ch := Chart{ID: "cycle_scatter", Title: "Cycle time scatterplot",
		Help:  "Each dot is an issue done in the period: when it was done and how many days it took from start to done. Lines mark the 50th, 70th, 85th and 95th percentiles (nearest rank). Click a dot to open the issue.",
		Table: Table{Head: []string{"key", "summary", "type", "done_at", "cycle_time_days"}}}
	if len(flow.Points) == 0 {
		ch.Empty = "No issue was started and done in this period."
		return ch
	}
	if flow.PointsSampled {
		ch.Help += fmt.Sprintf(" More than %s issues were done: the dots are a uniform sample of %s of the %s; the percentile lines use all of them.",
			count(metrics.MaxCyclePoints), count(len(flow.Points)), count(flow.CycleTime.N))
	}
	sc := charts.NewScatter()
	gl := append(base(ch.ID, "380px"),
		charts.WithGridOpts(opts.Grid{Left: "50", Right: "90"}),
		charts.WithXAxisOpts(opts.XAxis{Type: "time", Name: "done"}),
		charts.WithYAxisOpts(opts.YAxis{Type: "value", Name: "days"}),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "item",
			Formatter: opts.FuncOpts(`function (p) { if (!p.data || !p.data.value) { return p.name + ': ' + p.value; } var e = function (s) { return String(s).replace(/[&<>"']/g, function (c) { return '&#' + c.charCodeAt(0) + ';'; }); }; return e(p.data.value[2]) + ' · ' + e(p.data.value[1]) + ' days<br>' + e(p.data.value[3]); }`)}),
		charts.WithDataZoomOpts(opts.DataZoom{Type: "inside"}))
	if s.cfg.JiraURL != "" {
		base := strings.TrimRight(s.cfg.JiraURL, "/")
		gl = append(gl, charts.WithEventListeners(event.Listener{EventName: "click",
			Handler: opts.FuncOpts(fmt.Sprintf(`function (p) { if (p.data && p.data.value && p.data.value[2]) { window.open(%q + '/browse/' + encodeURIComponent(p.data.value[2]), '_blank', 'noopener'); } }`, base))}))
	}
	sc.SetGlobalOptions(gl...)
	byType := map[string][]opts.ScatterData{}
	for _, pt := range flow.Points {
		byType[pt.Type] = append(byType[pt.Type], opts.ScatterData{Value: []any{pt.DoneAt.Format(time.RFC3339), pt.CycleDays, pt.Key, pt.Summary}, SymbolSize: 7})
		ch.Table.Rows = append(ch.Table.Rows, []string{pt.Key, pt.Summary, pt.Type, pt.DoneAt.Format(time.RFC3339), f2s(pt.CycleDays)})
	}
	for i, t := range sortedKeys(byType) {
		so := []charts.SeriesOpts{}
		if i == 0 {
			so = append(so, charts.WithMarkLineNameYAxisItemOpts(percentileLines(flow.CycleTime)...),
				charts.WithMarkLineStyleOpts(opts.MarkLineStyle{Symbol: []string{"none", "none"}, Label: &opts.Label{Show: opts.Bool(true), Formatter: "{b}: {c} d"}}))
		}
		sc.AddSeries(t, byType[t], so...)
	}
	ch.Element, ch.Script = snippet(sc)
	return ch
}

func leadHistogram(flow metrics.Flow) Chart {
	ch := Chart{ID: "lead_histogram", Title: "Lead time histogram",
		Help:  "How many issues done in the period took each number of whole days from created to done.",
		Table: Table{Head: []string{"days", "issues"}}}
	if len(flow.LeadHistogram) == 0 {
		ch.Empty = "No issue was done in this period."
		return ch
	}
	bar := charts.NewBar()
	bar.SetGlobalOptions(append(base(ch.ID, "300px"), charts.WithXAxisOpts(opts.XAxis{Name: "days"}), charts.WithYAxisOpts(opts.YAxis{Name: "issues"}))...)
	var xs []string
	var ys []opts.BarData
	for _, b := range flow.LeadHistogram {
		xs = append(xs, strconv.Itoa(b.Days))
		ys = append(ys, opts.BarData{Value: b.Count})
		ch.Table.Rows = append(ch.Table.Rows, []string{strconv.Itoa(b.Days), strconv.Itoa(b.Count)})
	}
	bar.SetXAxis(xs).AddSeries("issues", ys)
	ch.Element, ch.Script = snippet(bar)
	return ch
}

func throughputChart(flow metrics.Flow) Chart {
	ch := Chart{ID: "throughput", Title: "Throughput run chart",
		Help:  "Issues done per week (weeks start on Monday, UTC).",
		Table: Table{Head: []string{"week", "done"}}}
	if len(flow.Throughput) == 0 {
		ch.Empty = "No weeks in this period."
		return ch
	}
	line := charts.NewLine()
	line.SetGlobalOptions(append(base(ch.ID, "300px"), charts.WithYAxisOpts(opts.YAxis{Name: "issues"}))...)
	var xs []string
	var ys []opts.LineData
	for _, w := range flow.Throughput {
		xs = append(xs, w.Week)
		ys = append(ys, opts.LineData{Value: w.Count})
		ch.Table.Rows = append(ch.Table.Rows, []string{w.Week, strconv.Itoa(w.Count)})
	}
	line.SetXAxis(xs).AddSeries("done", ys, charts.WithMarkLineNameTypeItemOpts(opts.MarkLineNameTypeItem{Name: "average", Type: "average"}))
	ch.Element, ch.Script = snippet(line)
	return ch
}

var categoryOrder = []string{"done", "indeterminate", "new"}
var categoryNames = map[string]string{"new": "To do", "indeterminate": "In progress", "done": "Done"}

func cfdChart(cfd metrics.CFD) Chart {
	ch := Chart{ID: "cfd", Title: "Cumulative flow",
		Help: "Issues in each status category at the end of each day, replayed from the changelog."}
	ch.Table.Head = append([]string{"day"}, categoryOrder...)
	if len(cfd.Days) == 0 || len(cfd.Series) == 0 {
		ch.Empty = "No issues in this period."
		return ch
	}
	line := charts.NewLine()
	line.SetGlobalOptions(append(base(ch.ID, "340px"), charts.WithYAxisOpts(opts.YAxis{Name: "issues"}))...)
	line.SetXAxis(cfd.Days)
	for _, cat := range categoryOrder {
		vals := cfd.Series[cat]
		if vals == nil {
			vals = make([]int, len(cfd.Days))
		}
		var ys []opts.LineData
		for _, n := range vals {
			ys = append(ys, opts.LineData{Value: n})
		}
		line.AddSeries(categoryNames[cat], ys, charts.WithLineChartOpts(opts.LineChart{Stack: "cfd", ShowSymbol: opts.Bool(false)}),
			charts.WithAreaStyleOpts(opts.AreaStyle{Opacity: opts.Float(0.6)}))
	}
	for i, d := range cfd.Days {
		row := []string{d}
		for _, cat := range categoryOrder {
			if vals := cfd.Series[cat]; vals != nil {
				row = append(row, strconv.Itoa(vals[i]))
			} else {
				row = append(row, "0")
			}
		}
		ch.Table.Rows = append(ch.Table.Rows, row)
	}
	ch.Element, ch.Script = snippet(line)
	return ch
}

func (s *Server) agingChart(flow metrics.Flow) Chart {
	ch := Chart{ID: "aging", Title: "Aging work in progress",
		Help:  "Each dot is an issue in progress now, by status and age in days since it started, against the cycle-time percentiles of the period.",
		Table: Table{Head: []string{"key", "summary", "status", "started_at", "age_days"}}}
	if len(flow.Aging) == 0 {
		ch.Empty = "Nothing is in progress."
		return ch
	}
	seen := map[string]bool{}
	var names []string
	for _, a := range flow.Aging {
		if !seen[a.Status] {
			seen[a.Status] = true
			names = append(names, a.Status)
		}
	}
	sort.Strings(names)
	sc := charts.NewScatter()
	sc.SetGlobalOptions(append(base(ch.ID, "340px"),
		charts.WithGridOpts(opts.Grid{Left: "50", Right: "90"}),
		charts.WithXAxisOpts(opts.XAxis{Type: "category", Data: names}),
		charts.WithYAxisOpts(opts.YAxis{Type: "value", Name: "age (days)"}),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "item",
			Formatter: opts.FuncOpts(`function (p) { if (!p.data || !p.data.value) { return p.name + ': ' + p.value; } var e = function (s) { return String(s).replace(/[&<>"']/g, function (c) { return '&#' + c.charCodeAt(0) + ';'; }); }; return e(p.data.value[2]) + ' · ' + e(p.data.value[1]) + ' days<br>' + e(p.data.value[3]); }`)}))...)
	var pts []opts.ScatterData
	for _, a := range flow.Aging {
		pts = append(pts, opts.ScatterData{Value: []any{a.Status, a.AgeDays, a.Key, a.Summary}, SymbolSize: 8})
		ch.Table.Rows = append(ch.Table.Rows, []string{a.Key, a.Summary, a.Status, a.StartedAt.Format(time.RFC3339), f2s(a.AgeDays)})
	}
	sc.AddSeries("in progress", pts, charts.WithMarkLineNameYAxisItemOpts(percentileLines(flow.CycleTime)...),
		charts.WithMarkLineStyleOpts(opts.MarkLineStyle{Symbol: []string{"none", "none"}, Label: &opts.Label{Show: opts.Bool(true), Formatter: "{b}: {c} d"}}))
	ch.Element, ch.Script = snippet(sc)
	return ch
}

// ---- sprints and retrospectives (teams) ----

type sprintsData struct {
	Board   uint64
	Sprints []metrics.SprintReport
	Scrum   []metrics.CatalogBoard
}

func (s *Server) scrumBoards(v view) []metrics.CatalogBoard {
	var out []metrics.CatalogBoard
	for _, b := range v.Filters.Boards {
		if b.Type == "scrum" {
			out = append(out, b)
		}
	}
	return out
}

func (s *Server) sprintsPage(c *fiber.Ctx) error {
	v, f, _, err := s.newView(c, "Sprints", "sprints")
	if err != nil {
		return s.pageError(c, v, err)
	}
	v.Filters.ShowBoard = true
	scrum := s.scrumBoards(v)
	board := f.Board
	if board == 0 && len(scrum) > 0 {
		board = scrum[0].ID
		v.Filters.Board = strconv.FormatUint(board, 10)
	}
	data := sprintsData{Board: board, Scrum: scrum}
	if board == 0 {
		v.Notice = "No scrum board has been synced yet."
		v.Data = data
		return s.render(c, "sprints", v)
	}
	reports, err := s.cfg.Measures.Sprints(c.UserContext(), f.Site, board)
	if err != nil {
		return err
	}
	if len(reports) > 26 {
		reports = reports[len(reports)-26:]
	}
	data.Sprints = reports
	v.Data = data
	v.Charts = sprintCharts(reports)
	return s.render(c, "sprints", v)
}

func sprintCharts(reports []metrics.SprintReport) []Chart {
	vel := Chart{ID: "velocity", Title: "Velocity: committed vs completed",
		Help:  "Story points committed at each sprint's start (replayed from the Sprint field's history) and completed by its end.",
		Table: Table{Head: []string{"sprint", "committed_points", "added_points", "removed_points", "completed_points"}}}
	ratio := Chart{ID: "say_do", Title: "Say/do ratio and scope change",
		Help:  "Say/do: completed committed points / committed points. Scope change: (added + removed points) / committed points.",
		Table: Table{Head: []string{"sprint", "say_do_ratio", "scope_change", "carried_over_issues"}}}
	if len(reports) == 0 {
		vel.Empty, ratio.Empty = "No started sprint on this board.", "No started sprint on this board."
		return []Chart{vel, ratio}
	}
	bar := charts.NewBar()
	bar.SetGlobalOptions(append(base(vel.ID, "320px"), charts.WithYAxisOpts(opts.YAxis{Name: "points"}))...)
	line := charts.NewLine()
	line.SetGlobalOptions(append(base(ratio.ID, "300px"), charts.WithYAxisOpts(opts.YAxis{Name: "ratio"}))...)
	var names []string
	var committed, completed []opts.BarData
	var sayDo, scope []opts.LineData
	for _, r := range reports {
		names = append(names, r.Name)
		committed = append(committed, opts.BarData{Value: r.Committed.Points})
		completed = append(completed, opts.BarData{Value: r.Completed.Points})
		sd, sc := any("-"), any("-")
		if r.SayDo != nil {
			sd = *r.SayDo
		}
		if r.ScopeChange != nil {
			sc = *r.ScopeChange
		}
		sayDo = append(sayDo, opts.LineData{Value: sd})
		scope = append(scope, opts.LineData{Value: sc})
		vel.Table.Rows = append(vel.Table.Rows, []string{r.Name, f2s(r.Committed.Points), f2s(r.Added.Points), f2s(r.Removed.Points), f2s(r.Completed.Points)})
		ratio.Table.Rows = append(ratio.Table.Rows, []string{r.Name, p2s(r.SayDo), p2s(r.ScopeChange), strconv.Itoa(r.CarriedOver.Issues)})
	}
	bar.SetXAxis(names).AddSeries("committed", committed).AddSeries("completed", completed)
	line.SetXAxis(names).AddSeries("say/do", sayDo).AddSeries("scope change", scope)
	vel.Element, vel.Script = snippet(bar)
	ratio.Element, ratio.Script = snippet(line)
	return []Chart{vel, ratio}
}

type retroData struct {
	Sprint   metrics.SprintReport
	Previous []metrics.SprintReport
	Slowest  []metrics.IssueRow
	Aged     []metrics.IssueRow
	P85      *float64
	Board    uint64
}

func (s *Server) retroPage(c *fiber.Ctx) error {
	v, f, _, err := s.newView(c, "Sprint retrospective", "sprints")
	if err != nil {
		return s.pageError(c, v, err)
	}
	id, err := strconv.ParseUint(c.Params("id"), 10, 64)
	if err != nil {
		return s.pageError(c, v, evident.Errorf(evident.EINVALID, "sprint: %q is not a sprint id", c.Params("id")))
	}
	if f.Board == 0 {
		return s.pageError(c, v, evident.Errorf(evident.EINVALID, "board: the sprint's board is required"))
	}
	reports, err := s.cfg.Measures.Sprints(c.UserContext(), f.Site, f.Board)
	if err != nil {
		return err
	}
	idx := -1
	for i, r := range reports {
		if r.ID == id {
			idx = i
		}
	}
	if idx < 0 {
		return s.pageError(c, v, evident.Errorf(evident.ENOTFOUND, "sprint %d is not a started sprint of board %d", id, f.Board))
	}
	data := retroData{Sprint: reports[idx], Previous: reports[max(0, idx-5):idx], Board: f.Board}
	sp := data.Sprint
	end := s.cfg.Now().UTC()
	if sp.CompleteAt != nil {
		end = *sp.CompleteAt
	} else if sp.EndAt != nil && sp.EndAt.Before(end) {
		end = *sp.EndAt
	}
	// Issues of the sprint and the cycle-time percentiles of the 90 days before its end.
	keys := map[string]bool{}
	for _, sc := range []metrics.SprintScope{sp.Committed, sp.Added, sp.Completed, sp.CarriedOver, sp.Removed} {
		for _, k := range sc.Keys {
			keys[k] = true
		}
	}
	ff := f
	ff.From, ff.To = end.AddDate(0, 0, -90), end.Add(time.Second)
	var flow metrics.Flow
	var page metrics.IssuePage
	all := f
	all.From, all.To = time.Time{}, time.Time{}
	all.Keys = sortedKeys(keys)
	err = parallel(
		func() (err error) { flow, err = s.cfg.Measures.Flow(c.UserContext(), ff); return },
		func() (err error) { page, err = s.cfg.Measures.Issues(c.UserContext(), all, 1000, 0); return },
	)
	if err != nil {
		return err
	}
	data.P85 = flow.CycleTime.P85
	var done []metrics.IssueRow
	for _, is := range page.Issues {
		if is.CycleTimeDays != nil && is.DoneAt != nil && !is.DoneAt.After(end) {
			done = append(done, is)
		}
		if data.P85 != nil && is.StartedAt != nil {
			stop := end
			if is.DoneAt != nil && is.DoneAt.Before(end) {
				stop = *is.DoneAt
			}
			if age := stop.Sub(*is.StartedAt).Hours() / 24; age > *data.P85 && is.StartedAt.Before(end) {
				data.Aged = append(data.Aged, is)
			}
		}
	}
	sort.Slice(done, func(a, b int) bool { return *done[a].CycleTimeDays > *done[b].CycleTimeDays })
	if len(done) > 5 {
		done = done[:5]
	}
	data.Slowest = done
	v.Title = "Retrospective: " + sp.Name
	v.Data = data
	v.Charts = sprintCharts(append(append([]metrics.SprintReport(nil), data.Previous...), sp))
	return s.render(c, "retro", v)
}

// ---- value and satisfaction (product owners) ----

type valueData struct {
	Value   metrics.ValueDelivered
	Sat     metrics.Satisfaction
	Records []metrics.RecordSeries
	Product string
	Exps    []ExperimentResult
	Goals   []GoalProgress
}

func (s *Server) valuePage(c *fiber.Ctx) error {
	v, f, p, err := s.newView(c, "Value and satisfaction", "value")
	if err != nil {
		return s.pageError(c, v, err)
	}
	v.Filters.ShowPeriod = true
	if c.Query("from") == "" {
		f.From = f.To.AddDate(-1, 0, 0)
		v.Filters.From = f.From.Format("2006-01-02")
	}
	prod := product(c, f)
	data := valueData{Product: prod}
	err = parallel(
		func() (err error) { data.Value, err = s.cfg.Measures.ValueDelivered(c.UserContext(), f, p); return },
		func() (err error) {
			data.Sat, err = s.cfg.Measures.Satisfaction(c.UserContext(), prod, f.From, f.To, p)
			return
		},
		func() (err error) {
			data.Records, err = s.cfg.Measures.ValueRecords(c.UserContext(), prod, f.From, f.To)
			return
		},
	)
	if err != nil {
		return err
	}
	if s.cfg.Inputs != nil {
		exps, err := s.cfg.Inputs.Experiments(c.UserContext(), prod)
		if err != nil {
			return err
		}
		for _, e := range exps {
			r, err := s.measureExperiment(c.UserContext(), e)
			if err != nil {
				return err
			}
			data.Exps = append(data.Exps, r)
		}
		goals, err := s.cfg.Inputs.Goals(c.UserContext(), prod)
		if err != nil {
			return err
		}
		if len(goals) > 0 {
			e, err := s.cfg.Measures.EBM(c.UserContext(), f, prod, p)
			if err != nil {
				return err
			}
			data.Goals = ProgressOf(goals, e.Current())
		}
	}
	v.Data = data
	v.Charts = []Chart{valueChart(data.Value), satisfactionChart(data.Sat), valueEffortChart(data.Value)}
	return s.render(c, "value", v)
}

func valueChart(val metrics.ValueDelivered) Chart {
	ch := Chart{ID: "value_delivered", Title: "Value delivered",
		Help:  "Sum of the business-value field over the issues done in each period.",
		Table: Table{Head: []string{"period", "value", "done_issues"}}}
	if val.Issues == 0 {
		ch.Empty = "No issue was done in this period."
		return ch
	}
	bar := charts.NewBar()
	bar.SetGlobalOptions(base(ch.ID, "300px")...)
	var xs []string
	var ys []opts.BarData
	for _, t := range val.Trend {
		xs = append(xs, t.Period)
		ys = append(ys, opts.BarData{Value: t.Value})
		ch.Table.Rows = append(ch.Table.Rows, []string{t.Period, f2s(t.Value), strconv.Itoa(t.Issues)})
	}
	bar.SetXAxis(xs).AddSeries("value", ys)
	ch.Element, ch.Script = snippet(bar)
	return ch
}

func satisfactionChart(sat metrics.Satisfaction) Chart {
	ch := Chart{ID: "satisfaction", Title: "NPS and CSAT",
		Help:  "NPS = % promoters (9–10) − % detractors (0–6). CSAT = % of answers 4 or 5 on 1–5. Bars: responses per period.",
		Table: Table{Head: []string{"period", "nps", "nps_responses", "csat", "csat_responses"}}}
	if sat.NPS.Responses+sat.CSAT.Responses == 0 {
		ch.Empty = "No survey responses in this period: import them with evident import satisfaction FILE."
		return ch
	}
	line := charts.NewLine()
	line.SetGlobalOptions(append(base(ch.ID, "320px"), charts.WithYAxisOpts(opts.YAxis{Name: "score"}))...)
	line.ExtendYAxis(opts.YAxis{Name: "responses", Type: "value"})
	var xs []string
	var nps, csat []opts.LineData
	var n []opts.BarData
	for _, t := range sat.Trend {
		xs = append(xs, t.Period)
		nv, cv := any("-"), any("-")
		if t.NPS.Score != nil {
			nv = *t.NPS.Score
		}
		if t.CSAT.Score != nil {
			cv = *t.CSAT.Score
		}
		nps = append(nps, opts.LineData{Value: nv})
		csat = append(csat, opts.LineData{Value: cv})
		n = append(n, opts.BarData{Value: t.NPS.Responses + t.CSAT.Responses})
		ch.Table.Rows = append(ch.Table.Rows, []string{t.Period, p2s(t.NPS.Score), strconv.Itoa(t.NPS.Responses), p2s(t.CSAT.Score), strconv.Itoa(t.CSAT.Responses)})
	}
	line.SetXAxis(xs).AddSeries("NPS", nps, charts.WithLineChartOpts(opts.LineChart{ConnectNulls: opts.Bool(true)})).
		AddSeries("CSAT %", csat, charts.WithLineChartOpts(opts.LineChart{ConnectNulls: opts.Bool(true)}))
	bar := charts.NewBar()
	bar.SetXAxis(xs).AddSeries("responses", n, charts.WithBarChartOpts(opts.BarChart{YAxisIndex: 1}), charts.WithItemStyleOpts(opts.ItemStyle{Opacity: opts.Float(0.3)}))
	line.Overlap(bar)
	ch.Element, ch.Script = snippet(line)
	return ch
}

func valueEffortChart(val metrics.ValueDelivered) Chart {
	ch := Chart{ID: "value_effort", Title: "Value vs effort",
		Help:  "Done issues with both a business value and story points.",
		Table: Table{Head: []string{"key", "summary", "points", "value"}}}
	if len(val.ValueEffort) == 0 {
		ch.Empty = "No done issue has both a business value and an estimate."
		return ch
	}
	sc := charts.NewScatter()
	sc.SetGlobalOptions(append(base(ch.ID, "320px"),
		charts.WithXAxisOpts(opts.XAxis{Type: "value", Name: "points"}),
		charts.WithYAxisOpts(opts.YAxis{Type: "value", Name: "value"}),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "item",
			Formatter: opts.FuncOpts(`function (p) { if (!p.data || !p.data.value) { return ''; } var e = function (s) { return String(s).replace(/[&<>"']/g, function (c) { return '&#' + c.charCodeAt(0) + ';'; }); }; return e(p.data.value[2]) + '<br>' + e(p.data.value[3]) + '<br>' + e(p.data.value[0]) + ' points, value ' + e(p.data.value[1]); }`)}))...)
	var pts []opts.ScatterData
	for _, it := range val.ValueEffort {
		pts = append(pts, opts.ScatterData{Value: []any{it.Points, it.Value, it.Key, it.Summary}, SymbolSize: 9})
		ch.Table.Rows = append(ch.Table.Rows, []string{it.Key, it.Summary, f2s(it.Points), f2s(it.Value)})
	}
	sc.AddSeries("issues", pts)
	ch.Element, ch.Script = snippet(sc)
	return ch
}

// ---- forecast ----

type forecastData struct {
	Forecast *metrics.Forecast
	Items    string
	Until    string
	History  string
}

func (s *Server) forecastPage(c *fiber.Ctx) error {
	v, f, _, err := s.newView(c, "Forecast", "forecast")
	if err != nil {
		return s.pageError(c, v, err)
	}
	data := forecastData{Items: c.Query("items"), Until: c.Query("until"), History: c.Query("history", "90")}
	v.Data = data
	if data.Items == "" && data.Until == "" {
		v.Notice = "Ask how many items will be done by a date, or when a number of items will be done."
		return s.render(c, "forecast", v)
	}
	p := params{c: c, now: s.cfg.Now()}
	var req metrics.ForecastRequest
	if data.Items != "" {
		if req.Items, err = p.int("items", 0, 1, 100000); err != nil {
			return s.pageError(c, v, err)
		}
	} else {
		until, _, err := p.date("until")
		if err != nil {
			return s.pageError(c, v, err)
		}
		today := s.cfg.Now().UTC().Truncate(24 * time.Hour)
		if !until.After(today) || until.Sub(today) > 5*366*24*time.Hour {
			return s.pageError(c, v, evident.Errorf(evident.EINVALID, "until: %s must be after today and within five years", data.Until))
		}
		req.Until = until
	}
	if req.HistoryDays, err = p.int("history", 90, 7, 730); err != nil {
		return s.pageError(c, v, err)
	}
	fc, err := s.cfg.Measures.Forecast(c.UserContext(), f, req)
	if err != nil {
		return err
	}
	data.Forecast = &fc
	v.Data = data
	ch := Chart{ID: "forecast", Title: "Probability distribution", Help: fmt.Sprintf("Outcomes of %d trials, each sampling daily throughput from the last %d days.", fc.Trials, fc.HistoryDays),
		Table: Table{Head: []string{"outcome", "trials", "share"}}}
	if len(fc.Distribution) == 0 {
		ch.Empty = "Not enough history to forecast."
	} else {
		bar := charts.NewBar()
		bar.SetGlobalOptions(append(base(ch.ID, "320px"), charts.WithYAxisOpts(opts.YAxis{Name: "share of trials"}))...)
		var xs []string
		var ys []opts.BarData
		for _, b := range fc.Distribution {
			xs = append(xs, b.Value)
			ys = append(ys, opts.BarData{Value: b.Share})
			ch.Table.Rows = append(ch.Table.Rows, []string{b.Value, strconv.Itoa(b.Trials), f2s(b.Share)})
		}
		bar.SetXAxis(xs).AddSeries("share", ys)
		ch.Element, ch.Script = snippet(bar)
	}
	v.Charts = []Chart{ch}
	return s.render(c, "forecast", v)
}

// ---- data health ----

func (s *Server) healthPage(c *fiber.Ctx) error {
	v, _, _, err := s.newView(c, "Data health", "health")
	if err != nil {
		return s.pageError(c, v, err)
	}
	h, err := s.cfg.Measures.Health(c.UserContext())
	if err != nil {
		return err
	}
	v.Data = h
	return s.render(c, "health", v)
}

// ---- backlog (product owners) ----

func (s *Server) backlogPage(c *fiber.Ctx) error {
	v, _, _, err := s.newView(c, "Backlog health", "backlog")
	if err != nil {
		return s.pageError(c, v, err)
	}
	v.Filters.ShowPeriod = true
	if c.Query("project") == "" && c.Query("board") == "" && len(v.Filters.Projects) > 0 {
		c.Request().URI().QueryArgs().Set("project", v.Filters.Projects[0].Key)
		v.Filters.Project = v.Filters.Projects[0].Key
	}
	if len(v.Filters.Projects) == 0 {
		v.Notice = "No product has been synced yet."
		return s.render(c, "backlog", v)
	}
	f, board, req, p, err := s.backlogParams(c)
	if err != nil {
		return s.pageError(c, v, err)
	}
	if c.Query("from") == "" {
		f.From = f.To.AddDate(0, -6, 0)
	}
	b, err := s.cfg.Measures.Backlog(c.UserContext(), f, board, req, p)
	if err != nil {
		return err
	}
	v.Data = b
	v.Charts = []Chart{ageHistogram(b), backlogValueEffort(b), rankVsWSJF(b), emergentChart(b), deepTrendChart(b)}
	return s.render(c, "backlog", v)
}

func ageHistogram(b metrics.Backlog) Chart {
	ch := Chart{ID: "backlog_age", Title: "Age of open items", Help: "To-do items by months since they were created.",
		Table: Table{Head: []string{"age (months)", "items"}}}
	if len(b.Items) == 0 {
		ch.Empty = "The backlog is empty."
		return ch
	}
	bins := map[int]int{}
	maxBin := 0
	for _, it := range b.Items {
		m := int(it.AgeDays / 30.4375)
		bins[m]++
		maxBin = max(maxBin, m)
	}
	bar := charts.NewBar()
	bar.SetGlobalOptions(append(base(ch.ID, "300px"), charts.WithXAxisOpts(opts.XAxis{Name: "months"}), charts.WithYAxisOpts(opts.YAxis{Name: "items"}))...)
	var xs []string
	var ys []opts.BarData
	for m := 0; m <= maxBin; m++ {
		xs = append(xs, strconv.Itoa(m))
		ys = append(ys, opts.BarData{Value: bins[m]})
		ch.Table.Rows = append(ch.Table.Rows, []string{strconv.Itoa(m), strconv.Itoa(bins[m])})
	}
	bar.SetXAxis(xs).AddSeries("items", ys)
	ch.Element, ch.Script = snippet(bar)
	return ch
}

const itemTooltip = `function (p) { if (!p.data || !p.data.value) { return ''; } var e = function (s) { return String(s).replace(/[&<>"']/g, function (c) { return '&#' + c.charCodeAt(0) + ';'; }); }; return e(p.data.value[2]) + '<br>' + e(p.data.value[3]) + '<br>' + e(p.data.value[0]) + ' · ' + e(p.data.value[1]); }`

func backlogValueEffort(b metrics.Backlog) Chart {
	ch := Chart{ID: "backlog_value_effort", Title: "Value vs effort of open items", Help: "Open items with both a business value and story points: high value for little effort is upper left.",
		Table: Table{Head: []string{"key", "summary", "points", "value"}}}
	sc := charts.NewScatter()
	sc.SetGlobalOptions(append(base(ch.ID, "320px"), charts.WithXAxisOpts(opts.XAxis{Type: "value", Name: "points"}),
		charts.WithYAxisOpts(opts.YAxis{Type: "value", Name: "value"}), charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "item", Formatter: opts.FuncOpts(itemTooltip)}))...)
	var pts []opts.ScatterData
	for _, it := range b.Items {
		if it.Points != nil && it.Value != nil {
			pts = append(pts, opts.ScatterData{Value: []any{*it.Points, *it.Value, it.Key, it.Summary}, SymbolSize: 9})
			ch.Table.Rows = append(ch.Table.Rows, []string{it.Key, it.Summary, f2s(*it.Points), f2s(*it.Value)})
		}
	}
	if len(pts) == 0 {
		ch.Empty = "No open item has both a business value and an estimate."
		return ch
	}
	sc.AddSeries("open items", pts)
	ch.Element, ch.Script = snippet(sc)
	return ch
}

func rankVsWSJF(b metrics.Backlog) Chart {
	ch := Chart{ID: "rank_wsjf", Title: "Rank vs WSJF", Help: "Position in the backlog (1 = top) against WSJF = (business value + time criticality + risk reduction) / job size. A backlog ordered by WSJF falls from upper left to lower right.",
		Table: Table{Head: []string{"key", "summary", "rank", "wsjf"}}}
	sc := charts.NewScatter()
	sc.SetGlobalOptions(append(base(ch.ID, "320px"), charts.WithXAxisOpts(opts.XAxis{Type: "value", Name: "rank"}),
		charts.WithYAxisOpts(opts.YAxis{Type: "value", Name: "WSJF"}), charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "item", Formatter: opts.FuncOpts(itemTooltip)}))...)
	var pts []opts.ScatterData
	for _, it := range b.Items {
		if it.WSJF != nil {
			pts = append(pts, opts.ScatterData{Value: []any{it.Position, *it.WSJF, it.Key, it.Summary}, SymbolSize: 8})
			ch.Table.Rows = append(ch.Table.Rows, []string{it.Key, it.Summary, strconv.Itoa(it.Position), f2s(*it.WSJF)})
		}
	}
	if len(pts) == 0 {
		ch.Empty = "No open item has all four WSJF inputs (Business Value, Time Criticality, Risk Reduction / Opportunity Enablement, Job Size)."
		return ch
	}
	sc.AddSeries("items", pts)
	ch.Element, ch.Script = snippet(sc)
	return ch
}

func emergentChart(b metrics.Backlog) Chart {
	ch := Chart{ID: "backlog_emergent", Title: "Emergent: created, refined, removed", Help: "Items created, items changed while in the backlog (rank moves aside), and items closed straight from to-do, per period.",
		Table: Table{Head: []string{"period", "created", "refined", "removed"}}}
	if len(b.Emergent) == 0 {
		ch.Empty = "No period in range."
		return ch
	}
	bar := charts.NewBar()
	bar.SetGlobalOptions(base(ch.ID, "300px")...)
	var xs []string
	var c, r, x []opts.BarData
	for _, e := range b.Emergent {
		xs = append(xs, e.Period)
		c, r, x = append(c, opts.BarData{Value: e.Created}), append(r, opts.BarData{Value: e.Refined}), append(x, opts.BarData{Value: e.Removed})
		ch.Table.Rows = append(ch.Table.Rows, []string{e.Period, strconv.Itoa(e.Created), strconv.Itoa(e.Refined), strconv.Itoa(e.Removed)})
	}
	bar.SetXAxis(xs).AddSeries("created", c).AddSeries("refined", r).AddSeries("removed", x)
	ch.Element, ch.Script = snippet(bar)
	return ch
}

func timeInStatusChart(flow metrics.StatusTimes) Chart {
	ch := Chart{ID: "time_in_status", Title: "Time in status",
		Help:  "Where the issues done in the period spent their time: mean and median days per stay in each status, replayed from the changelog (from creation to done).",
		Table: Table{Head: []string{"status", "stays", "total_days", "mean_days", "median_days"}}}
	if len(flow.TimeInStatus) == 0 {
		ch.Empty = "No issue was done in this period."
		return ch
	}
	bar := charts.NewBar()
	bar.SetGlobalOptions(append(base(ch.ID, "300px"), charts.WithYAxisOpts(opts.YAxis{Name: "days"}))...)
	var xs []string
	var mean, median []opts.BarData
	for _, st := range flow.TimeInStatus {
		xs = append(xs, st.Status)
		mean, median = append(mean, opts.BarData{Value: st.MeanDays}), append(median, opts.BarData{Value: st.MedianDays})
		ch.Table.Rows = append(ch.Table.Rows, []string{st.Status, strconv.Itoa(st.Visits), f2s(st.TotalDays), f2s(st.MeanDays), f2s(st.MedianDays)})
	}
	bar.SetXAxis(xs).AddSeries("mean", mean).AddSeries("median", median)
	ch.Element, ch.Script = snippet(bar)
	return ch
}

func deepTrendChart(b metrics.Backlog) Chart {
	ch := Chart{ID: "backlog_deep_trend", Title: "Estimated and detailed share of the top over time",
		Help:  "From the snapshot stored after each sync (Jira's history does not say where an item ranked on a past day).",
		Table: Table{Head: []string{"day", "open_items", "top_estimated_share", "top_detailed_share", "all_estimated_share"}}}
	if len(b.Trend) < 2 {
		ch.Empty = fmt.Sprintf("The trend grows with each sync: %d snapshot(s) in this range so far.", len(b.Trend))
		return ch
	}
	line := charts.NewLine()
	line.SetGlobalOptions(append(base(ch.ID, "300px"), charts.WithYAxisOpts(opts.YAxis{Name: "share", Min: 0, Max: 1}))...)
	var xs []string
	var est, det []opts.LineData
	val := func(v *float64) any {
		if v == nil {
			return "-"
		}
		return *v
	}
	for _, sn := range b.Trend {
		d := sn.TakenOn.Format("2006-01-02")
		xs = append(xs, d)
		est, det = append(est, opts.LineData{Value: val(sn.TopEstimated)}), append(det, opts.LineData{Value: val(sn.TopDetailed)})
		ch.Table.Rows = append(ch.Table.Rows, []string{d, strconv.Itoa(int(sn.OpenItems)), p2s(sn.TopEstimated), p2s(sn.TopDetailed), p2s(sn.AllEstimated)})
	}
	line.SetXAxis(xs).AddSeries("estimated", est).AddSeries("detailed", det)
	ch.Element, ch.Script = snippet(line)
	return ch
}
