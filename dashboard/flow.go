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

	"github.com/evident-ebm/evident/metrics"
)

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
