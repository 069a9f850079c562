package dashboard

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"
	"github.com/gofiber/fiber/v2"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/metrics"
)

type forecastData struct {
	Forecast *metrics.Forecast
	Items    string
	Until    string
	// Default says the question was not asked: the page answers how many
	// items the next four weeks bring.
	Default bool
	// Scores are the past year's recorded forecasts of the product.
	Scores metrics.ForecastScores
}

// forecastHorizon is the default question's horizon: four weeks.
const forecastHorizon = 28

func (s *Server) forecastPage(c *fiber.Ctx) error {
	v, f, _, err := s.newView(c, "Forecast", "forecast")
	if err != nil {
		return s.pageError(c, v, err)
	}
	withoutEpics(c, &v, &f)
	today := s.cfg.Now().UTC().Truncate(24 * time.Hour)
	data := forecastData{Items: c.Query("items"), Until: c.Query("until")}
	p := params{c: c, now: s.cfg.Now()}
	var req metrics.ForecastRequest
	switch {
	case data.Items != "":
		if req.Items, err = p.int("items", 0, 1, 100000); err != nil {
			return s.pageError(c, v, err)
		}
	case data.Until != "":
		until, _, err := p.date("until")
		if err != nil {
			return s.pageError(c, v, err)
		}
		if !until.After(today) || until.Sub(today) > 5*366*24*time.Hour {
			return s.pageError(c, v, evident.Errorf(evident.EINVALID, "until: %s must be after today and within five years", data.Until))
		}
		req.Until = until
	default:
		data.Default = true
		req.Until = today.AddDate(0, 0, forecastHorizon)
		data.Until = req.Until.Format("2006-01-02")
	}
	// The history is the filter's range, up to today (today is not over).
	to := f.To
	if to.After(today) {
		to = today
	}
	if !f.From.Before(to) {
		return s.pageError(c, v, evident.Errorf(evident.EINVALID, "from: the history must end before today (%s)", today.Format("2006-01-02")))
	}
	req.HistoryFrom, req.HistoryDays = f.From, int(to.Sub(f.From).Hours()/24)
	fc, err := s.cfg.Measures.Forecast(c.UserContext(), f, req)
	if err != nil {
		return err
	}
	data.Forecast = &fc
	s.recordForecast(c, f, fc)
	if data.Scores, err = s.cfg.Measures.ForecastScores(c.UserContext(), f.Project, today.AddDate(-1, 0, 0), today.AddDate(0, 0, 1)); err != nil {
		return err
	}
	v.Data = data
	v.Charts = []Chart{forecastChart(fc), calibrationChart(data.Scores)}
	return s.render(c, "forecast", v)
}

// calibrationChart draws, per product and month the forecasts were made
// in, the share that kept the 85% promise, against the 85% line: which
// team's forecasts have earned trust, and whether that is getting better.
func calibrationChart(sc metrics.ForecastScores) Chart {
	ch := Chart{ID: "forecast_calibration", Title: "Kept promises of the 85% forecasts, by month made",
		Help:  "Share of each month's forecasts (per product) whose 85% answer held once the outcome was known; a well calibrated forecast keeps it about 85% of the time (dashed line). The table holds every level.",
		Table: Table{Head: []string{"product", "month", "level", "forecasts", "kept", "rate"}}}
	var months []string
	seen := map[string]bool{}
	rate := map[string]map[string]*float64{} // product → month → p85 rate
	var products []string
	for _, m := range sc.Monthly {
		if !seen[m.Month] {
			seen[m.Month] = true
			months = append(months, m.Month)
		}
		if rate[m.Project] == nil {
			rate[m.Project] = map[string]*float64{}
			products = append(products, m.Project)
		}
		for _, l := range m.Levels {
			ch.Table.Rows = append(ch.Table.Rows, []string{m.Project, m.Month, l.Level, strconv.Itoa(l.N), strconv.Itoa(l.Kept), p2s(l.Rate)})
			if l.Level == "p85" {
				rate[m.Project][m.Month] = l.Rate
			}
		}
	}
	if len(months) == 0 {
		ch.Empty = "No forecast with a known outcome yet: each one asked here is kept and scored once its date passes."
		return ch
	}
	sort.Strings(months)
	sort.Strings(products)
	line := charts.NewLine()
	line.SetGlobalOptions(append(base(ch.ID, "280px"), charts.WithYAxisOpts(opts.YAxis{Name: "kept", Min: 0, Max: 1}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(len(products) > 1)}))...)
	line.SetXAxis(months)
	for i, p := range products {
		var data []opts.LineData
		for _, m := range months {
			if r := rate[p][m]; r != nil {
				data = append(data, opts.LineData{Value: *r})
			} else {
				data = append(data, opts.LineData{Value: "-"})
			}
		}
		name := p
		if name == "" {
			name = "all"
		}
		series := []charts.SeriesOpts{charts.WithLineChartOpts(opts.LineChart{ConnectNulls: opts.Bool(true), ShowSymbol: opts.Bool(true)})}
		if i == 0 {
			series = append(series, charts.WithMarkLineNameYAxisItemOpts(opts.MarkLineNameYAxisItem{Name: "85%", YAxis: 0.85}),
				charts.WithMarkLineStyleOpts(opts.MarkLineStyle{LineStyle: &opts.LineStyle{Type: "dashed"}}))
		}
		line.AddSeries(name, data, series...)
	}
	ch.Element, ch.Script = snippet(line)
	return ch
}

// forecastChart draws the outcomes of the trials (bars, % of trials), the
// cumulative chance (line: of at least that many, or of being done by that
// date) and the 50/85/95% answers as marks.
func forecastChart(fc metrics.Forecast) Chart {
	ch := Chart{ID: "forecast", Title: "Probability distribution",
		Help:  fmt.Sprintf("Outcomes of %s trials, each sampling daily throughput from the %d days from %s. Bars: share of trials; line: the chance of ", count(fc.Trials), fc.HistoryDays, fc.HistoryFrom),
		Table: Table{Head: []string{"outcome", "trials", "share", "cumulative"}}}
	if len(fc.Distribution) == 0 {
		ch.Empty = "Not enough history to forecast."
		return ch
	}
	howMany := fc.HowMany != nil
	if howMany {
		ch.Help += "at least that many."
	} else {
		ch.Help += "being done by that date."
	}
	n := len(fc.Distribution)
	cum := make([]float64, n)
	acc := 0
	for k := range fc.Distribution {
		i := k
		if howMany {
			i = n - 1 - k // at least: accumulate from the top
		}
		acc += fc.Distribution[i].Trials
		cum[i] = math.Round(1000*float64(acc)/float64(fc.Trials)) / 10
	}
	var marks []opts.MarkLineNameXAxisItem
	for _, p := range []string{"p50", "p85", "p95"} {
		var at string
		if howMany {
			at = strconv.Itoa(fc.HowMany[p])
		} else if d, ok := fc.When[p].(string); ok {
			at = d
		}
		if at != "" {
			marks = append(marks, opts.MarkLineNameXAxisItem{Name: strings.TrimPrefix(p, "p") + "%", XAxis: at})
		}
	}
	bar := charts.NewBar()
	bar.SetGlobalOptions(append(base(ch.ID, "340px"),
		charts.WithYAxisOpts(opts.YAxis{Name: "% of trials", Type: "value"}),
		charts.WithXAxisOpts(opts.XAxis{AxisLabel: &opts.AxisLabel{HideOverlap: opts.Bool(true)}}))...)
	bar.ExtendYAxis(opts.YAxis{Name: "cumulative %", Type: "value", Min: 0, Max: 100})
	var xs []string
	var ys []opts.BarData
	var cs []opts.LineData
	for i, b := range fc.Distribution {
		xs = append(xs, b.Value)
		ys = append(ys, opts.BarData{Value: math.Round(b.Share*1000) / 10})
		cs = append(cs, opts.LineData{Value: cum[i]})
		ch.Table.Rows = append(ch.Table.Rows, []string{b.Value, strconv.Itoa(b.Trials), f2s(b.Share), f2s(cum[i] / 100)})
	}
	bar.SetXAxis(xs).AddSeries("share", ys, charts.WithMarkLineNameXAxisItemOpts(marks...),
		charts.WithMarkLineStyleOpts(opts.MarkLineStyle{Symbol: []string{"none", "none"}, Label: &opts.Label{Show: opts.Bool(true), Formatter: "{b}", Position: "end"}}))
	line := charts.NewLine()
	line.SetXAxis(xs).AddSeries("cumulative", cs, charts.WithLineChartOpts(opts.LineChart{YAxisIndex: 1, ShowSymbol: opts.Bool(false), Smooth: opts.Bool(true)}))
	bar.Overlap(line)
	ch.Element, ch.Script = snippet(bar)
	return ch
}
