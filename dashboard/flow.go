package dashboard

import (
	"fmt"
	"maps"
	"math"
	"slices"
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

type flowData struct {
	Flow        metrics.Flow
	Status      metrics.StatusTimes
	Impediments metrics.PeriodImpediments
}

func (s *Server) flowPage(c *fiber.Ctx) error {
	v, f, _, err := s.newView(c, "Flow", "flow")
	if err != nil {
		return s.pageError(c, v, err)
	}
	withoutEpics(c, &v, &f)
	var flow metrics.Flow
	var cfd metrics.CFD
	var st metrics.StatusTimes
	var imp metrics.PeriodImpediments
	var bw *metrics.BoardWIP
	notes, err := s.annotationsIn(c, product(c, f), f)
	if err != nil {
		return err
	}
	err = parallel(
		func() (err error) { flow, err = s.cfg.Measures.Flow(c.UserContext(), f); return },
		func() (err error) { cfd, err = s.cfg.Measures.CumulativeFlow(c.UserContext(), f, "category"); return },
		func() (err error) { st, err = s.cfg.Measures.StatusTimes(c.UserContext(), f); return },
		func() (err error) { imp, err = s.cfg.Measures.Impediments(c.UserContext(), f); return },
		func() error {
			if f.Board == 0 {
				return nil
			}
			b, err := s.cfg.Measures.BoardWIP(c.UserContext(), f)
			if evident.ErrorCode(err) == evident.ENOTFOUND {
				return nil // no configuration collected: statuses as before
			}
			bw = &b
			return err
		},
	)
	if err != nil {
		return err
	}
	v.Data = flowData{Flow: flow, Status: st, Impediments: imp}
	v.Charts = []Chart{
		s.cycleScatter(flow, f),
		leadHistogram(flow),
		throughputChart(flow, f, notes),
		throughputSignals(flow, f, notes),
		cfdChart(cfd),
		s.agingChart(flow, bw),
		timeInStatusChart(st),
	}
	if bw != nil {
		v.Charts = append(v.Charts, columnsChart(*bw))
	}
	return s.render(c, "flow", v)
}

// minLabelGap is the vertical distance, in pixels, two percentile labels
// need not to overlap (a label of 11 px text sits above its line).
const minLabelGap = 15

// percentileMarks are the 50/70/85/95th percentile lines of a chart whose
// y axis runs from 0 to max over plotPx pixels. Each line's label sits
// above it at the right; a line closer than minLabelGap pixels to the last
// labelled one below it gives its text to that label instead, so no two
// labels ever overlap.
func percentileMarks(st metrics.Stats, max, plotPx float64) []opts.MarkLineNameYAxisItem {
	var out []opts.MarkLineNameYAxisItem
	labelled, lastPx := -1, math.Inf(-1)
	for _, p := range []struct {
		name string
		v    *float64
	}{{"50%", st.P50}, {"70%", st.P70}, {"85%", st.P85}, {"95%", st.P95}} {
		if p.v == nil {
			continue
		}
		text := p.name + " " + number(*p.v, 1) + " d"
		px := *p.v / max * plotPx
		if labelled >= 0 && px-lastPx < minLabelGap {
			out[labelled].Name += " · " + text
			out = append(out, opts.MarkLineNameYAxisItem{Name: "", YAxis: *p.v})
			continue
		}
		labelled, lastPx = len(out), px
		out = append(out, opts.MarkLineNameYAxisItem{Name: text, YAxis: *p.v})
	}
	return out
}

// percentileStyle draws percentile lines plain, labelled above their right
// end, inside the plot (never over the axis labels).
var percentileStyle = charts.WithMarkLineStyleOpts(opts.MarkLineStyle{Symbol: []string{"none", "none"},
	Label: &opts.Label{Show: opts.Bool(true), Formatter: "{b}", Position: "insideEndTop", FontSize: 11}})

// axisMax is a y axis maximum that holds every value and the 95th
// percentile line, rounded up to a readable number.
func axisMax(values []float64, st metrics.Stats) float64 {
	m := 1.0
	for _, v := range values {
		m = math.Max(m, v)
	}
	if st.P95 != nil {
		m = math.Max(m, *st.P95)
	}
	return niceCeil(m * 1.05)
}

// Heights of the charts with percentile lines, and their plot area.
const (
	percentileChartPx = 380
	percentileGridTop = 40
	percentileGridBot = 50
)

func (s *Server) cycleScatter(flow metrics.Flow, f metrics.Filter) Chart {
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
	var days []float64
	for _, pt := range flow.Points {
		days = append(days, pt.CycleDays)
	}
	ymax := axisMax(days, flow.CycleTime)
	sc := charts.NewScatter()
	gl := append(base(ch.ID, fmt.Sprintf("%dpx", percentileChartPx)),
		charts.WithGridOpts(opts.Grid{Left: "50", Right: "30", Top: strconv.Itoa(percentileGridTop), Bottom: strconv.Itoa(percentileGridBot)}),
		// The axis spans the period from midnight to midnight, so that its
		// first label is a day, not the time of the first dot.
		charts.WithXAxisOpts(opts.XAxis{Type: "time", Name: "done", NameLocation: "middle", NameGap: 28, AxisLabel: &opts.AxisLabel{HideOverlap: opts.Bool(true)},
			Min: f.From.Format(time.RFC3339), Max: f.To.Format(time.RFC3339)}),
		charts.WithYAxisOpts(opts.YAxis{Type: "value", Name: "days", Min: 0, Max: ymax}),
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
			so = append(so, charts.WithMarkLineNameYAxisItemOpts(percentileMarks(flow.CycleTime, ymax, percentileChartPx-percentileGridTop-percentileGridBot)...), percentileStyle)
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
	bar.SetGlobalOptions(append(base(ch.ID, "300px"), charts.WithXAxisOpts(opts.XAxis{Name: "days", NameLocation: "middle", NameGap: 28}),
		charts.WithYAxisOpts(opts.YAxis{Name: "issues"}), charts.WithGridOpts(opts.Grid{Bottom: "50"}))...)
	// Every day from 0 to the longest, empty ones too: the axis is a
	// scale, not a list of the days that happen to have issues.
	byDay := map[int]int{}
	longest := 0
	for _, b := range flow.LeadHistogram {
		byDay[b.Days] = b.Count
		longest = max(longest, b.Days)
		ch.Table.Rows = append(ch.Table.Rows, []string{strconv.Itoa(b.Days), strconv.Itoa(b.Count)})
	}
	var xs []string
	var ys []opts.BarData
	for d := 0; d <= longest && d <= 3660; d++ {
		xs = append(xs, strconv.Itoa(d))
		ys = append(ys, opts.BarData{Value: byDay[d]})
	}
	bar.SetXAxis(xs).AddSeries("issues", ys)
	ch.Element, ch.Script = snippet(bar)
	return ch
}

func throughputChart(flow metrics.Flow, f metrics.Filter, notes []evident.Annotation) Chart {
	ch := Chart{ID: "throughput", Title: "Throughput run chart", Trust: &flow.ThroughputTrust,
		Help:  "Issues done per week (weeks start on Monday, UTC). A week only partly inside the period (still running, or cut by From/To) is drawn dashed: its count is not comparable.",
		Table: Table{Head: []string{"week", "done", "partial"}}}
	if len(flow.Throughput) == 0 {
		ch.Empty = "No weeks in this period."
		return ch
	}
	line := charts.NewLine()
	line.SetGlobalOptions(append(base(ch.ID, "300px"), charts.WithYAxisOpts(opts.YAxis{Name: "issues"}),
		charts.WithXAxisOpts(opts.XAxis{AxisLabel: &opts.AxisLabel{HideOverlap: opts.Bool(true)}}))...)
	var xs []string
	var whole, partial []opts.LineData
	for _, w := range flow.Throughput {
		cut := metrics.Week.Partial(w.Week, f.From, f.To)
		xs = append(xs, w.Week)
		if cut {
			whole, partial = append(whole, opts.LineData{Value: "-"}), append(partial, opts.LineData{Value: w.Count})
		} else {
			whole, partial = append(whole, opts.LineData{Value: w.Count}), append(partial, opts.LineData{Value: "-"})
		}
		ch.Table.Rows = append(ch.Table.Rows, []string{w.Week, strconv.Itoa(w.Count), strconv.FormatBool(cut)})
	}
	// The dashed line joins the whole weeks next to a partial one.
	joined := append([]opts.LineData(nil), partial...)
	for i := range partial {
		if partial[i].Value == "-" {
			continue
		}
		if i > 0 && whole[i-1].Value != "-" {
			joined[i-1] = whole[i-1]
		}
		if i+1 < len(whole) && whole[i+1].Value != "-" {
			joined[i+1] = whole[i+1]
		}
	}
	partial = joined
	line.SetXAxis(xs).
		AddSeries("done", whole, charts.WithMarkLineNameYAxisItemOpts(avgMark(whole)...),
			charts.WithMarkLineNameXAxisItemOpts(annotationMarks(notes, metrics.Week, func(s string) string { return s })...),
			charts.WithMarkLineStyleOpts(opts.MarkLineStyle{Label: &opts.Label{Show: opts.Bool(true), Formatter: "{b}"}})).
		AddSeries("partial week", partial, charts.WithLineStyleOpts(opts.LineStyle{Type: "dashed", Color: "#5470c6"}), charts.WithItemStyleOpts(opts.ItemStyle{Color: "#5470c6"}))
	ch.Element, ch.Script = snippet(line)
	return ch
}

// throughputSignals is the process behaviour chart (XmR) of the whole
// weeks' throughput: is this week's change a signal or noise? New limits
// start at the latest annotation in the range.
func throughputSignals(flow metrics.Flow, f metrics.Filter, notes []evident.Annotation) Chart {
	ch := Chart{ID: "throughput_signals", Title: "Throughput: signal or noise?",
		Help: "Weekly throughput of whole weeks against its natural process limits (centre ± 2.66 × the mean moving range of the first 20 weeks). " +
			"Red points are signals: outside the limits, 8 in a row on one side, or 3 of 4 near a limit. Anything else is noise: do not react to it.",
		Table: Table{Head: []string{"week", "done", "centre", "lower_limit", "upper_limit", "rules"}}}
	ps, vs := metrics.WholeWeeks(flow, f)
	var at time.Time
	if last, ok := lastChange(notes); ok {
		at = last.At
	}
	x := metrics.XmRChart(ps, vs, metrics.SplitAt(ps, metrics.Week, at))
	if !x.Enough {
		ch.Empty = fmt.Sprintf("%d whole weeks in this period: limits need at least %d.", len(ps), metrics.XmRMinPoints)
		return ch
	}
	if x.Signal {
		ch.Help = "The last whole week is a signal (" + x.Direction + "). " + ch.Help
	} else {
		ch.Help = "The last whole week is noise. " + ch.Help
	}
	drawXmR(&ch, x, "issues", "done", true, "300px", true)
	return ch
}

// drawXmR draws a process behaviour chart: the values, the signals in red,
// the centre and the natural process limits of each segment as steps
// (floor: the lower limit stops at 0, for counts). The table gets a row
// per period. Small charts (legend false) leave the legend to their help.
func drawXmR(ch *Chart, x metrics.XmR, unit, name string, floor bool, height string, legend bool) {
	segAt := func(period string) metrics.XmRSegment {
		seg := x.Segments[0]
		for _, sg := range x.Segments {
			if period >= sg.From {
				seg = sg
			}
		}
		return seg
	}
	if len(ch.Table.Head) == 0 {
		ch.Table.Head = []string{"period", name, "centre", "lower_limit", "upper_limit", "rules"}
	}
	var xs []string
	var vals, signals, centre, lower, upper []opts.LineData
	for _, pt := range x.Points {
		seg := segAt(pt.Period)
		xs = append(xs, pt.Period)
		v, sig := any("-"), any("-")
		if pt.Value != nil {
			v = *pt.Value
			if len(pt.Rules) > 0 {
				sig = *pt.Value
			}
		}
		lo := seg.Lower
		if floor {
			lo = math.Max(0, lo)
		}
		vals, signals = append(vals, opts.LineData{Value: v}), append(signals, opts.LineData{Value: sig})
		centre = append(centre, opts.LineData{Value: seg.Centre})
		lower, upper = append(lower, opts.LineData{Value: lo}), append(upper, opts.LineData{Value: seg.Upper})
		rules := make([]string, len(pt.Rules))
		for k, r := range pt.Rules {
			rules[k] = strconv.Itoa(r)
		}
		ch.Table.Rows = append(ch.Table.Rows, []string{pt.Period, p2s(pt.Value), f2s(seg.Centre), f2s(seg.Lower), f2s(seg.Upper), strings.Join(rules, " ")})
	}
	y := opts.YAxis{Name: unit, Scale: opts.Bool(!floor)}
	if floor {
		y.Min = 0
	}
	line := charts.NewLine()
	line.SetGlobalOptions(append(base(ch.ID, height), charts.WithYAxisOpts(y), charts.WithLegendOpts(opts.Legend{Show: opts.Bool(legend)}),
		charts.WithXAxisOpts(opts.XAxis{AxisLabel: &opts.AxisLabel{HideOverlap: opts.Bool(true)}}))...)
	dashed := func(c string) charts.SeriesOpts {
		return charts.WithLineStyleOpts(opts.LineStyle{Type: "dashed", Color: c, Width: 1})
	}
	line.SetXAxis(xs).
		AddSeries(name, vals, charts.WithItemStyleOpts(opts.ItemStyle{Color: "#5470c6"}), charts.WithLineChartOpts(opts.LineChart{ConnectNulls: opts.Bool(true)})).
		AddSeries("signal", signals, charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(true), SymbolSize: 9}),
			charts.WithLineStyleOpts(opts.LineStyle{Width: 0}), charts.WithItemStyleOpts(opts.ItemStyle{Color: "#b42318"})).
		AddSeries("centre", centre, dashed("#8a94a6"), charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(false), Step: "middle"}), charts.WithItemStyleOpts(opts.ItemStyle{Color: "#8a94a6"})).
		AddSeries("limits", upper, dashed("#e67e22"), charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(false), Step: "middle"}), charts.WithItemStyleOpts(opts.ItemStyle{Color: "#e67e22"})).
		AddSeries("lower limit", lower, dashed("#e67e22"), charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(false), Step: "middle"}), charts.WithItemStyleOpts(opts.ItemStyle{Color: "#e67e22"}))
	ch.Element, ch.Script = snippet(line)
}

// avgMark is the line of the mean of the whole weeks, labelled with it.
func avgMark(whole []opts.LineData) []opts.MarkLineNameYAxisItem {
	sum, n := 0.0, 0
	for _, d := range whole {
		if v, ok := d.Value.(int); ok {
			sum, n = sum+float64(v), n+1
		}
	}
	if n == 0 {
		return nil
	}
	return []opts.MarkLineNameYAxisItem{{Name: "avg " + number(sum/float64(n), 1), YAxis: math.Round(sum/float64(n)*10) / 10}}
}

// annotationMarks are vertical lines at the periods of annotated changes,
// labelled with their text (label maps a period start to the axis value).
func annotationMarks(notes []evident.Annotation, p metrics.Period, label func(string) string) []opts.MarkLineNameXAxisItem {
	var out []opts.MarkLineNameXAxisItem
	for _, a := range notes {
		text := a.Text
		if len([]rune(text)) > 40 {
			text = string([]rune(text)[:39]) + "…"
		}
		at := label(p.Start(a.At).Format("2006-01-02"))
		if at == "" {
			continue // not a period of this chart
		}
		out = append(out, opts.MarkLineNameXAxisItem{Name: a.At.Format("2006-01-02") + ": " + text, XAxis: at})
	}
	return out
}

var categoryOrder = []string{"done", "indeterminate", "new"}

var categoryNames = map[string]string{"new": "To do", "indeterminate": "In progress", "done": "Done"}

func cfdChart(cfd metrics.CFD) Chart {
	ch := Chart{ID: "cfd", Title: "Cumulative flow",
		Help: "Issues in each status category at the end of each day, replayed from the changelog; Done counts what was finished since the period's first day. The data table has the totals."}
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
		// Done counts from the period's first day: everything finished
		// before it would fill the chart and flatten the work in flight.
		name, base := categoryNames[cat], 0
		if cat == "done" && len(vals) > 0 {
			name, base = "Done since "+cfd.Days[0], vals[0]
		}
		var ys []opts.LineData
		for _, n := range vals {
			ys = append(ys, opts.LineData{Value: n - base})
		}
		line.AddSeries(name, ys, charts.WithLineChartOpts(opts.LineChart{Stack: "cfd", ShowSymbol: opts.Bool(false)}),
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

// agingBands colour the aging chart between the cycle-time percentiles:
// an item in a warmer band is older than most finished ones were.
var agingBands = []struct {
	name, colour string
}{{"below 50%", "#e3f4e8"}, {"50–70%", "#f3f7dc"}, {"70–85%", "#fdf3d6"}, {"85–95%", "#fde4cf"}, {"above 95%", "#fbd5d2"}}

func (s *Server) agingChart(flow metrics.Flow, bw *metrics.BoardWIP) Chart {
	ch := Chart{ID: "aging", Title: "Aging work in progress",
		Help: "Each dot is an issue in progress now, by status and age in days since it started, against the cycle-time percentiles of the period: " +
			"green bands are younger than half the finished items were, red ones older than 95% of them. Dots in a column are spread sideways so that each one shows; a red dot is at risk of missing its due date (its 85% expected finish is later); " +
			"an orange diamond is blocked now (flagged, in a blocked status, or blocked by an open issue), a hollow dot stalled (no change for days).",
		Table: Table{Head: []string{"key", "summary", "status", "started_at", "age_days", "expected_finish_p85", "due", "at_risk", "blocked", "blocked_days", "stalled", "stalled_days", "expedited"}}}
	if len(flow.Aging) == 0 {
		ch.Empty = "Nothing is in progress."
		return ch
	}
	// The x axis: the statuses in alphabetical order, or with a board the
	// board's columns in its order (statuses no column holds after them).
	group := func(a metrics.AgingItem) string { return a.Status }
	var names []string
	if bw != nil {
		column := map[string]string{}
		for _, c := range bw.Columns {
			for _, st := range c.Statuses {
				if _, ok := column[st]; !ok { // the first column of a name, as the WIP replay
					column[st] = c.Name
				}
			}
		}
		group = func(a metrics.AgingItem) string {
			if n, ok := column[a.Status]; ok {
				return n
			}
			return a.Status + " (no column)"
		}
		used := map[string]bool{}
		for _, a := range flow.Aging {
			used[group(a)] = true
		}
		for _, c := range bw.Columns {
			if used[c.Name] {
				names = append(names, c.Name)
				delete(used, c.Name)
			}
		}
		names = append(names, slices.Sorted(maps.Keys(used))...)
		ch.Help += " Columns are the board's, in its order. Cycle time " + bw.Cycle + "."
	} else {
		seen := map[string]bool{}
		for _, a := range flow.Aging {
			if !seen[a.Status] {
				seen[a.Status] = true
				names = append(names, a.Status)
			}
		}
		sort.Strings(names)
	}
	var ages []float64
	for _, a := range flow.Aging {
		ages = append(ages, a.AgeDays)
	}
	col := map[string]int{}
	for i, n := range names {
		col[n] = i
	}
	// Items far older than anything finished would flatten the bands: the
	// axis stops at twice the 95th percentile and older items sit on its
	// top edge as triangles (their age is in the tooltip and the table).
	ymax := axisMax(ages, flow.CycleTime)
	capped := 0
	if p95 := flow.CycleTime.P95; p95 != nil && ymax > 2**p95 {
		ymax = niceCeil(2 * *p95)
		for _, a := range ages {
			if a > ymax {
				capped++
			}
		}
		ch.Help += fmt.Sprintf(" %d item(s) older than %s days sit on the top edge as triangles.", capped, number(ymax, 0))
	}
	// The axis names go into the formatter as character codes: go-echarts
	// writes functions as JSON strings, so a quote in them would break out.
	var codes []string
	for _, n := range names {
		var cs []string
		for _, r := range n {
			cs = append(cs, strconv.Itoa(int(r)))
		}
		codes = append(codes, "["+strings.Join(cs, ",")+"]")
	}
	labels := "[" + strings.Join(codes, ",") + "]"
	sc := charts.NewScatter()
	sc.SetGlobalOptions(append(base(ch.ID, fmt.Sprintf("%dpx", percentileChartPx)),
		charts.WithGridOpts(opts.Grid{Left: "50", Right: "30", Top: strconv.Itoa(percentileGridTop), Bottom: strconv.Itoa(percentileGridBot)}),
		charts.WithXAxisOpts(opts.XAxis{Type: "value", Min: -0.5, Max: float64(len(names)) - 0.5, MinInterval: 1, MaxInterval: 1,
			SplitLine: &opts.SplitLine{Show: opts.Bool(false)},
			AxisLabel: &opts.AxisLabel{Interval: "0", HideOverlap: opts.Bool(true),
				Formatter: opts.FuncOpts(`function (v) { var n = ` + labels + `; return Number.isInteger(v) && n[v] ? String.fromCodePoint.apply(null, n[v]) : ''; }`)}}),
		charts.WithYAxisOpts(opts.YAxis{Type: "value", Name: "age (days)", Min: 0, Max: ymax}),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "item",
			Formatter: opts.FuncOpts(`function (p) { if (!p.data || !p.data.value) { return p.name + ': ' + p.value; } var e = function (s) { return String(s).replace(/[&<>"']/g, function (c) { return '&#' + c.charCodeAt(0) + ';'; }); }; return e(p.data.value[2]) + ' · ' + e(p.data.value[1]) + ' days<br>' + e(p.data.value[3]); }`)}))...)
	// Spread the dots of a column by age rank, so that items of equal age
	// do not hide each other: offsets within ±0.35 of the column.
	byCol := map[int][]int{}
	for i, a := range flow.Aging {
		byCol[col[group(a)]] = append(byCol[col[group(a)]], i)
	}
	offset := make([]float64, len(flow.Aging))
	for _, idx := range byCol {
		sort.SliceStable(idx, func(a, b int) bool { return flow.Aging[idx[a]].AgeDays < flow.Aging[idx[b]].AgeDays })
		for r, i := range idx {
			offset[i] = []float64{0, -0.2, 0.2, -0.35, 0.35, -0.1, 0.1, -0.28, 0.28}[r%9]
		}
	}
	var pts, risky, blocked []opts.ScatterData
	for i, a := range flow.Aging {
		note := a.Summary
		switch {
		case a.Blocked:
			note += " (blocked " + number(a.BlockedDays, 1) + " days so far)"
		case a.Stalled:
			note += " (stalled)"
		}
		pt := opts.ScatterData{Value: []any{float64(col[group(a)]) + offset[i], a.AgeDays, a.Key, note}, SymbolSize: 8}
		if a.AgeDays > ymax {
			pt.Value = []any{float64(col[group(a)]) + offset[i], ymax, a.Key, note + " (" + number(a.AgeDays, 1) + " days)"}
			pt.Symbol, pt.SymbolSize = "triangle", 11
		} else if a.Stalled {
			pt.Symbol = "emptyCircle"
		}
		switch {
		case a.Blocked:
			if pt.Symbol != "triangle" {
				pt.Symbol, pt.SymbolSize = "diamond", 11
			}
			blocked = append(blocked, pt)
		case a.AtRisk:
			risky = append(risky, pt)
		default:
			pts = append(pts, pt)
		}
		finish := "older than almost every finished item"
		if a.ExpectedFinishP85 != nil {
			finish = *a.ExpectedFinishP85
		}
		due := ""
		if a.Due != nil {
			due = a.Due.Format("2006-01-02")
		}
		ch.Table.Rows = append(ch.Table.Rows, []string{a.Key, a.Summary, a.Status, a.StartedAt.Format(time.RFC3339), f2s(a.AgeDays), finish, due, strconv.FormatBool(a.AtRisk),
			strconv.FormatBool(a.Blocked), f2s(a.BlockedDays), strconv.FormatBool(a.Stalled), f2s(a.StalledDays), strconv.FormatBool(a.Expedited)})
	}
	var bands []opts.MarkAreaNameCoordItem
	edges := []*float64{ptrOf(0), flow.CycleTime.P50, flow.CycleTime.P70, flow.CycleTime.P85, flow.CycleTime.P95, ptrOf(ymax)}
	for i, b := range agingBands {
		lo, hi := edges[i], edges[i+1]
		if lo == nil || hi == nil || *hi <= *lo {
			continue
		}
		bands = append(bands, opts.MarkAreaNameCoordItem{Name: "", Coordinate0: []any{-0.5, *lo}, Coordinate1: []any{float64(len(names)) - 0.5, *hi},
			ItemStyle: &opts.ItemStyle{Color: b.colour}})
	}
	sc.AddSeries("in progress", pts, charts.WithMarkLineNameYAxisItemOpts(percentileMarks(flow.CycleTime, ymax, percentileChartPx-percentileGridTop-percentileGridBot)...),
		percentileStyle, charts.WithMarkAreaNameCoordItemOpts(bands...), charts.WithItemStyleOpts(opts.ItemStyle{Color: "#2f6fde", Opacity: opts.Float(0.85)}))
	if len(risky) > 0 {
		sc.AddSeries("at risk of missing its due date", risky, charts.WithItemStyleOpts(opts.ItemStyle{Color: "#b42318"}))
	}
	if len(blocked) > 0 {
		sc.AddSeries("blocked now", blocked, charts.WithItemStyleOpts(opts.ItemStyle{Color: "#dc6803"}))
	}
	ch.Element, ch.Script = snippet(sc)
	return ch
}

func ptrOf(v float64) *float64 { return &v }

func timeInStatusChart(flow metrics.StatusTimes) Chart {
	ch := Chart{ID: "time_in_status", Title: "Time in status",
		Help:  "Where the issues done in the period spent their time: mean and median days per stay in each status, replayed from the changelog (from creation to done).",
		Table: Table{Head: []string{"status", "stays", "total_days", "mean_days", "median_days"}}}
	if len(flow.TimeInStatus) == 0 {
		ch.Empty = "No issue was done in this period."
		return ch
	}
	// Horizontal bars: every status name is written in full on its own row.
	bar := charts.NewBar()
	height := 90 + 34*len(flow.TimeInStatus)
	bar.SetGlobalOptions(append(base(ch.ID, fmt.Sprintf("%dpx", max(240, height))),
		charts.WithGridOpts(opts.Grid{Left: "10", Right: "50", Top: "40", Bottom: "30", ContainLabel: opts.Bool(true)}),
		charts.WithXAxisOpts(opts.XAxis{Name: "days", Type: "value"}))...)
	var xs []string
	var mean, median []opts.BarData
	for _, st := range flow.TimeInStatus {
		xs = append(xs, st.Status)
		mean, median = append(mean, opts.BarData{Value: st.MeanDays}), append(median, opts.BarData{Value: st.MedianDays})
		ch.Table.Rows = append(ch.Table.Rows, []string{st.Status, strconv.Itoa(st.Visits), f2s(st.TotalDays), f2s(st.MeanDays), f2s(st.MedianDays)})
	}
	bar.SetGlobalOptions(charts.WithYAxisOpts(opts.YAxis{Type: "category", Data: xs, Inverse: opts.Bool(true), AxisLabel: &opts.AxisLabel{Interval: "0"}}))
	bar.AddSeries("mean", mean).AddSeries("median", median)
	ch.Element, ch.Script = snippet(bar)
	return ch
}

// columnsChart draws the work in progress of each of a board's columns at
// the end of every day, each against its maximum (a dashed line of the
// column's colour), and tabulates the days over and under the limits.
func columnsChart(bw metrics.BoardWIP) Chart {
	ch := Chart{ID: "columns", Title: "Work in progress by board column · " + bw.Name,
		Help: "Issues in each column of the board at the end of each day, replayed from the changelog (a column's statuses add up), against the column's maximum (dashed). " +
			"The backlog column and the done columns are left out of the chart; the table has every column with the days its WIP was over its maximum or under its minimum.",
		Table: Table{Head: []string{"column", "statuses", "min", "max", "wip_now", "peak", "days_over_max", "days_under_min"}}}
	limit := func(v *int32) string {
		if v == nil {
			return ""
		}
		return strconv.Itoa(int(*v))
	}
	for _, c := range bw.Columns {
		ch.Table.Rows = append(ch.Table.Rows, []string{c.Name, strings.Join(c.Statuses, ", "), limit(c.Min), limit(c.Max),
			strconv.Itoa(c.Now), strconv.Itoa(c.Peak), strconv.Itoa(c.DaysOverMax), strconv.Itoa(c.DaysUnderMin)})
	}
	if len(bw.Ambiguous) > 0 {
		ch.Help += " Several columns hold a status named " + strings.Join(bw.Ambiguous, ", ") + " (different statuses of one name): its issues count in the first of them."
	}
	for _, u := range bw.Unmapped {
		ch.Table.Rows = append(ch.Table.Rows, []string{"(no column)", u.Status, "", "", strconv.Itoa(u.Now), strconv.Itoa(u.Peak), "", ""})
	}
	if len(bw.Days) == 0 {
		ch.Empty = "No days in this period."
		return ch
	}
	line := charts.NewLine()
	line.SetGlobalOptions(append(base(ch.ID, "340px"), charts.WithYAxisOpts(opts.YAxis{Name: "issues"}))...)
	line.SetXAxis(bw.Days)
	palette := []string{"#2f6fde", "#12b76a", "#f79009", "#9e77ed", "#ee46bc", "#06aed4", "#667085"}
	k := 0
	for _, c := range bw.Columns {
		if !c.Counted {
			continue
		}
		colour := palette[k%len(palette)]
		k++
		ys := make([]opts.LineData, len(c.WIP))
		for i, v := range c.WIP {
			ys[i] = opts.LineData{Value: v}
		}
		name := c.Name
		if c.Max != nil {
			name += fmt.Sprintf(" (max %d: over on %d days)", *c.Max, c.DaysOverMax)
		}
		sopts := []charts.SeriesOpts{charts.WithLineChartOpts(opts.LineChart{Step: "end", ShowSymbol: opts.Bool(false)}),
			charts.WithItemStyleOpts(opts.ItemStyle{Color: colour})}
		if c.Max != nil {
			sopts = append(sopts, charts.WithMarkLineNameYAxisItemOpts(opts.MarkLineNameYAxisItem{Name: "max " + c.Name, YAxis: int(*c.Max)}),
				charts.WithMarkLineStyleOpts(opts.MarkLineStyle{Symbol: []string{"none", "none"}, LineStyle: &opts.LineStyle{Type: "dashed", Color: colour}}))
		}
		line.AddSeries(name, ys, sopts...)
	}
	if k == 0 {
		ch.Empty = "The board has no column of work in progress."
		return ch
	}
	ch.Element, ch.Script = snippet(line)
	return ch
}
