package dashboard

import (
	"fmt"
	"strconv"
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
