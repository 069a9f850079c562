package dashboard

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"
	"github.com/gofiber/fiber/v2"

	"github.com/evident-ebm/evident/metrics"
)

// productView is one product's four Key Value Areas.
type productView struct {
	Key                      string
	Name                     string
	KVAs                     []kvaView
	Goals                    []metrics.GoalProgress
	PreviousFrom, PreviousTo string
	// Targets are the goals on each measure, shown on its row.
	Targets map[string][]metrics.GoalProgress
	// Signals are the process behaviour charts of the measures whose last
	// whole period is a signal; Noise counts those judged noise.
	Signals []Chart
	Noise   int
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
	wholePeriods(c, &v, &f, p)
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
			e, err := s.cfg.Measures.EBMCompared(c.UserContext(), pf, pr.Key, p)
			if err != nil {
				return err
			}
			pv := productView{Key: pr.Key, Name: pr.Name, PreviousFrom: e.PreviousFrom, PreviousTo: e.PreviousTo}
			for _, k := range e.KVAs {
				pv.KVAs = append(pv.KVAs, kvaView{KVA: k, Spark: sparkline(fmt.Sprintf("spark_%s_%s", pr.Key, k.Key), k, p)})
				for _, m := range k.Measures {
					switch {
					case m.Behaviour == nil:
					case m.Behaviour.Signal:
						pv.Signals = append(pv.Signals, measureSignals(pr.Key, m, p))
					default:
						pv.Noise++
					}
				}
			}
			if s.cfg.Inputs != nil {
				goals, err := s.cfg.Inputs.Goals(c.UserContext(), pr.Key)
				if err != nil {
					return err
				}
				if pv.Goals, err = s.cfg.Measures.GoalProgress(c.UserContext(), goals); err != nil {
					return err
				}
				pv.Targets = map[string][]metrics.GoalProgress{}
				for _, g := range pv.Goals {
					pv.Targets[g.Measure] = append(pv.Targets[g.Measure], g)
				}
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

// measureSignals draws a measure's process behaviour chart over the whole
// periods of its trend: what the overview's "signal" rests on.
func measureSignals(product string, m metrics.Measure, p metrics.Period) Chart {
	x := metrics.TrendXmR(m.Trend)
	ch := Chart{ID: safeID("signals_" + product + "_" + m.Key), Title: product + " · " + m.Name + ": a signal " + x.Direction,
		Help: fmt.Sprintf("Whole %ss (blue) against the natural process limits (orange, dashed) around the centre (grey) of the first %d: centre ± 2.66 × mean moving range. Red: the periods a rule flags (outside the limits, 8 in a row on one side, 3 of 4 near a limit).", p, metrics.XmRBaseline)}
	unit := m.Unit
	floor := m.Unit == "issues" || m.Unit == "days"
	drawXmR(&ch, x, unit, m.Name, floor, "220px", false)
	return ch
}

// wholePeriods makes a page's default range whole periods (calendar
// weeks, months or quarters) ending with the current one: a year of
// months or weeks, two years of quarters. Only the running period is
// partial, and the charts mark it.
func wholePeriods(c *fiber.Ctx, v *view, f *metrics.Filter, p metrics.Period) {
	if c.Query("from") != "" {
		return
	}
	f.From = wholePeriodsFrom(p, f.To)
	v.Filters.From = f.From.Format("2006-01-02")
}

// wholePeriodsFrom is the start of the default range ending at to
// (exclusive): 52 weeks, 12 months or 8 quarters, the last one the period
// holding the day before to.
func wholePeriodsFrom(p metrics.Period, to time.Time) time.Time {
	n := map[metrics.Period]int{metrics.Week: 52, metrics.Month: 12, metrics.Quarter: 8}[p]
	from := p.Start(to.AddDate(0, 0, -1))
	for i := 1; i < n; i++ {
		from = p.Start(from.AddDate(0, 0, -1))
	}
	return from
}

// sparkline draws the trend of a KVA's first measure that has one, with
// its first and last period and its range on the axes; a partial period
// is drawn dashed.
func sparkline(id string, k metrics.KVA, p metrics.Period) Chart {
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
		// A running period with a few extreme items must not flatten the
		// whole periods: the axis follows them and the dashed point may
		// leave the chart (its value is in the table).
		y := opts.YAxis{Scale: opts.Bool(true), SplitNumber: 1, AxisLabel: &opts.AxisLabel{FontSize: 10}, SplitLine: &opts.SplitLine{Show: opts.Bool(false)}}
		var maxWhole, maxPartial float64
		for _, t := range m.Trend {
			if t.Value != nil && t.Partial {
				maxPartial = math.Max(maxPartial, *t.Value)
			} else if t.Value != nil {
				maxWhole = math.Max(maxWhole, *t.Value)
			}
		}
		if maxWhole > 0 && maxPartial > 1.5*maxWhole {
			y.Max = niceCeil(1.2 * maxWhole)
		}
		line := charts.NewLine()
		line.SetGlobalOptions(append(base(ch.ID, "92px"),
			charts.WithLegendOpts(opts.Legend{Show: opts.Bool(false)}),
			charts.WithGridOpts(opts.Grid{Left: "40", Right: "12", Top: "8", Bottom: "20"}),
			charts.WithXAxisOpts(opts.XAxis{AxisLabel: &opts.AxisLabel{Interval: "10000", ShowMinLabel: opts.Bool(true), ShowMaxLabel: opts.Bool(true), FontSize: 10}}),
			charts.WithYAxisOpts(y))...)
		var xs []string
		var whole, partial []opts.LineData
		lastWhole := -1
		for i, t := range m.Trend {
			xs = append(xs, periodLabel(t.Period, p))
			v := any("-")
			if t.Value != nil {
				v = *t.Value
			}
			if t.Partial {
				whole = append(whole, opts.LineData{Value: "-"})
				partial = append(partial, opts.LineData{Value: v})
			} else {
				whole = append(whole, opts.LineData{Value: v})
				partial = append(partial, opts.LineData{Value: "-"})
				if t.Value != nil {
					lastWhole = i
				}
			}
			row := []string{t.Period, p2s(t.Value), strconv.Itoa(t.N)}
			if t.Partial {
				row[0] += " (partial)"
			}
			ch.Table.Rows = append(ch.Table.Rows, row)
		}
		// The dashed line starts at the last whole period.
		if lastWhole >= 0 {
			partial[lastWhole] = whole[lastWhole]
		}
		line.SetXAxis(xs).
			AddSeries(m.Name, whole, charts.WithLineChartOpts(opts.LineChart{ConnectNulls: opts.Bool(true), ShowSymbol: opts.Bool(false)})).
			AddSeries(m.Name+" (period still running)", partial, charts.WithLineChartOpts(opts.LineChart{ConnectNulls: opts.Bool(true), ShowSymbol: opts.Bool(true)}),
				charts.WithLineStyleOpts(opts.LineStyle{Type: "dashed", Color: "#2f6fde"}), charts.WithItemStyleOpts(opts.ItemStyle{Color: "#2f6fde"}))
		ch.Title = m.Name + " per " + string(p)
		ch.Table.Head = []string{"period", m.Name, "n"}
		ch.Element, ch.Script = snippet(line)
		return ch
	}
	ch.Empty = "no trend yet"
	return ch
}

// niceCeil rounds v up to one or two significant digits (47.3 → 50,
// 1234 → 1300).
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 0
	}
	mag := math.Pow(10, math.Floor(math.Log10(v))-1)
	return math.Ceil(v/mag) * mag
}

// periodLabel names a period by its start: 2026-03 for a month, 2026 Q1
// for a quarter, the Monday's date for a week.
func periodLabel(start string, p metrics.Period) string {
	t, err := time.Parse("2006-01-02", start)
	if err != nil {
		return start
	}
	switch p {
	case metrics.Month:
		return t.Format("2006-01")
	case metrics.Quarter:
		return fmt.Sprintf("%d Q%d", t.Year(), (int(t.Month())+2)/3)
	}
	return start
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
