package metrics

import (
	"context"
	"math"
	"time"

	"github.com/evident-ebm/evident"
)

// GoalWindowDays is how far back a goal's "now" looks: a measure computed
// over a period (a percentile, a score, a sum) is taken over the 90 days up
// to and including today; an imported measure is its latest record.
const GoalWindowDays = 90

// GoalProgress is a goal with where its own measure, on its own product,
// stands now: the same whatever page or filter shows it.
type GoalProgress struct {
	evident.Goal
	MeasureName string   `json:"measure_name"`
	Unit        string   `json:"unit"`
	Better      string   `json:"better"`
	Current     *float64 `json:"current"`
	N           int      `json:"n"`
	Window      string   `json:"window"`
	Progress    *float64 `json:"progress"`
}

// progressOf places a goal's measure between its baseline (0) and its
// target (1); nil when the measure has no value or the goal no distance.
func progressOf(g evident.Goal, current *float64) *float64 {
	if current == nil || g.Target == g.Baseline {
		return nil
	}
	p := (*current - g.Baseline) / (g.Target - g.Baseline)
	p = math.Round(p*10000) / 10000
	return &p
}

// GoalProgress measures each goal on its own product and measure: the
// product's project when it is one (a product that is not a Jira project
// has no Jira measures), its surveys over the last GoalWindowDays days,
// and its latest imported record.
func (s *Service) GoalProgress(ctx context.Context, goals []evident.Goal) ([]GoalProgress, error) {
	out := make([]GoalProgress, 0, len(goals))
	if len(goals) == 0 {
		return out, nil
	}
	cat, err := s.Catalog(ctx)
	if err != nil {
		return nil, err
	}
	to := s.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	from := to.AddDate(0, 0, -GoalWindowDays)
	window := day(from) + " to " + day(to.AddDate(0, 0, -1))
	var products []string
	seen := map[string]bool{}
	for _, g := range goals {
		if !seen[g.Product] {
			seen[g.Product] = true
			products = append(products, g.Product)
		}
	}
	now := make([]map[string]Measure, len(products))
	var fns []func() error
	for i, product := range products {
		fns = append(fns, func() error {
			jira := product == "" || cat.HasProject(product)
			f := Filter{From: from, To: to}
			if product != "" && jira {
				f.Project = product
			}
			var (
				e    EBM
				recs []RecordSeries
			)
			err := parallel(
				func() (err error) { e, err = s.EBM(ctx, f, product, Month); return },
				func() (err error) { recs, err = s.ValueRecords(ctx, product, to.AddDate(-10, 0, 0), to); return },
			)
			if err != nil {
				return err
			}
			ms := map[string]Measure{}
			for _, k := range e.KVAs {
				for _, m := range k.Measures {
					if m.Source == "jira" && !jira {
						m.Value, m.N = nil, 0
					}
					ms[m.Key] = m
				}
			}
			for _, r := range recs {
				m := measure(r.Measure).with(r.Latest, len(r.Points), len(r.Points) < 2)
				if r.Unit != "" {
					m.Unit = r.Unit
				}
				ms[r.Measure] = m
			}
			now[i] = ms
			return nil
		})
	}
	if err := parallel(fns...); err != nil {
		return nil, err
	}
	at := map[string]int{}
	for i, p := range products {
		at[p] = i
	}
	for _, g := range goals {
		m, ok := now[at[g.Product]][g.Measure]
		if !ok {
			m = measure(g.Measure)
		}
		gp := GoalProgress{Goal: g, MeasureName: m.Name, Unit: m.Unit, Better: m.Better, Current: m.Value, N: m.N, Window: window}
		if m.Source == "import" {
			gp.Window = "latest record"
		}
		gp.Progress = progressOf(g, gp.Current)
		out = append(out, gp)
	}
	return out, nil
}

// ExperimentResult is an experiment with the measured change of its measure.
type ExperimentResult struct {
	evident.Experiment
	Before   *float64 `json:"before"`
	After    *float64 `json:"after"`
	Change   *float64 `json:"measured_change"`
	Verdict  string   `json:"verdict"`
	BeforeN  int      `json:"before_n"`
	AfterN   int      `json:"after_n"`
	Window   string   `json:"window"`
	Measured bool     `json:"measured"`
}

// MeasureExperiments measures each experiment (measureExperiment).
func (s *Service) MeasureExperiments(ctx context.Context, exps []evident.Experiment) ([]ExperimentResult, error) {
	out := []ExperimentResult{}
	if len(exps) == 0 {
		return out, nil
	}
	cat, err := s.Catalog(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range exps {
		r, err := s.measureExperiment(ctx, e, cat)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// measureExperiment compares the measure over the experiment's window with
// the same length of time just before it.
func (s *Service) measureExperiment(ctx context.Context, e evident.Experiment, cat Catalog) (ExperimentResult, error) {
	r := ExperimentResult{Experiment: e}
	end := s.Now().UTC().Truncate(24 * time.Hour)
	if e.EndedAt != nil && e.EndedAt.Before(end) {
		end = e.EndedAt.UTC()
	}
	start := e.StartedAt.UTC()
	if !start.Before(end) {
		r.Verdict = "not started"
		return r, nil
	}
	length := end.Sub(start)
	value := func(from, to time.Time) (*float64, int, error) {
		f := Filter{From: from, To: to}
		if e.Product != "" && cat.HasProject(e.Product) {
			f.Project = e.Product
		}
		ebm, err := s.EBM(ctx, f, e.Product, Month)
		if err != nil {
			return nil, 0, err
		}
		m, _ := ebm.Measure(e.Measure)
		return m.Value, m.N, nil
	}
	var err error
	if r.Before, r.BeforeN, err = value(start.Add(-length), start); err != nil {
		return r, err
	}
	if r.After, r.AfterN, err = value(start, end); err != nil {
		return r, err
	}
	r.Window = start.Format("2006-01-02") + " to " + end.Format("2006-01-02")
	if r.Before != nil && r.After != nil {
		d := *r.After - *r.Before
		r.Change, r.Measured = &d, true
		switch {
		case e.ExpectedChange == 0:
			r.Verdict = "measured"
		case (e.ExpectedChange > 0 && d >= e.ExpectedChange) || (e.ExpectedChange < 0 && d <= e.ExpectedChange):
			r.Verdict = "confirmed"
		case (e.ExpectedChange > 0 && d > 0) || (e.ExpectedChange < 0 && d < 0):
			r.Verdict = "partly: moved the expected way, less than expected"
		default:
			r.Verdict = "not confirmed"
		}
	} else {
		r.Verdict = "no data for the measure in one of the windows"
	}
	return r, nil
}
