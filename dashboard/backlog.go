package dashboard

import (
	"fmt"
	"strconv"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"
	"github.com/gofiber/fiber/v2"

	"github.com/evident-ebm/evident/metrics"
)

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
