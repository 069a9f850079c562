package dashboard

import (
	"strconv"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"
	"github.com/gofiber/fiber/v2"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/metrics"
)

type valueData struct {
	Value   metrics.ValueDelivered
	Sat     metrics.Satisfaction
	Records []metrics.RecordSeries
	Product string
	Exps    []metrics.ExperimentResult
	Goals   []metrics.GoalProgress
	// What the edit forms offer.
	Measures []evident.MeasureInfo
	Products []string
}

func (s *Server) valuePage(c *fiber.Ctx) error {
	v, f, p, err := s.newView(c, "Value and satisfaction", "value")
	if err != nil {
		return s.pageError(c, v, err)
	}
	v.Filters.ShowPeriod = true
	wholePeriods(c, &v, &f, p)
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
		if data.Exps, err = s.cfg.Measures.MeasureExperiments(c.UserContext(), exps); err != nil {
			return err
		}
		goals, err := s.cfg.Inputs.Goals(c.UserContext(), prod)
		if err != nil {
			return err
		}
		if data.Goals, err = s.cfg.Measures.GoalProgress(c.UserContext(), goals); err != nil {
			return err
		}
	}
	data.Measures = measureOptions(data.Records)
	for _, p := range v.Filters.Projects {
		data.Products = append(data.Products, p.Key)
	}
	v.Data = data
	notes, err := s.annotationsIn(c, prod, f)
	if err != nil {
		return err
	}
	v.Charts = []Chart{valueChart(data.Value, f, p, notes), satisfactionChart(data.Sat), valueEffortChart(data.Value)}
	return s.render(c, "value", v)
}

// measureOptions are the measures a goal or experiment may name: those
// Evident computes or places, then any other imported one.
func measureOptions(recs []metrics.RecordSeries) []evident.MeasureInfo {
	out := append([]evident.MeasureInfo(nil), evident.Measures...)
	seen := map[string]bool{}
	for _, m := range out {
		seen[m.Key] = true
	}
	for _, r := range recs {
		if !seen[r.Measure] {
			seen[r.Measure] = true
			info, _ := evident.MeasureOf(r.Measure)
			out = append(out, info)
		}
	}
	return out
}

func valueChart(val metrics.ValueDelivered, f metrics.Filter, p metrics.Period, notes []evident.Annotation) Chart {
	ch := Chart{ID: "value_delivered", Title: "Value delivered",
		Help:  "Sum of the business-value field over the issues done in each period. A period only partly inside From–To (the running one, or one cut by From) is drawn pale: its sum is not comparable.",
		Table: Table{Head: []string{"period", "value", "done_issues", "partial"}}}
	if val.Issues == 0 {
		ch.Empty = "No issue was done in this period."
		return ch
	}
	bar := charts.NewBar()
	bar.SetGlobalOptions(base(ch.ID, "300px")...)
	var xs []string
	var ys []opts.BarData
	for _, t := range val.Trend {
		partial := p.Partial(t.Period, f.From, f.To)
		label := periodLabel(t.Period, p)
		d := opts.BarData{Value: t.Value}
		if partial {
			label += " (partial)"
			d.ItemStyle = &opts.ItemStyle{Opacity: opts.Float(0.35)}
		}
		xs = append(xs, label)
		ys = append(ys, d)
		ch.Table.Rows = append(ch.Table.Rows, []string{t.Period, f2s(t.Value), strconv.Itoa(t.Issues), strconv.FormatBool(partial)})
	}
	// Annotations land on their period's bar: its label, partial or not.
	labels := map[string]string{}
	for i, t := range val.Trend {
		labels[t.Period] = xs[i]
	}
	bar.SetXAxis(xs).AddSeries("value", ys, charts.WithMarkLineNameXAxisItemOpts(annotationMarks(notes, p, func(s string) string { return labels[s] })...),
		charts.WithMarkLineStyleOpts(opts.MarkLineStyle{Label: &opts.Label{Show: opts.Bool(true), Formatter: "{b}"}}))
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
