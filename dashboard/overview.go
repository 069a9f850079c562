package dashboard

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"
	"github.com/gofiber/fiber/v2"

	"github.com/evident-ebm/evident/metrics"
)

// productView is one product's four Key Value Areas.
type productView struct {
	Key   string
	Name  string
	KVAs  []kvaView
	Goals []metrics.GoalProgress
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
				if pv.Goals, err = s.cfg.Measures.GoalProgress(c.UserContext(), goals); err != nil {
					return err
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
