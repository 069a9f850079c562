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
	// Weekly judges the measure's whole weeks since the start against the
	// natural process limits of the XmRBaseline weeks before it: whether
	// the change is a signal or within the noise.
	Weekly Shift `json:"weekly"`
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
	// The weekly series from XmRBaseline weeks before the start.
	wf := Filter{From: Week.Start(start).AddDate(0, 0, -7*XmRBaseline), To: end}
	if e.Product != "" && cat.HasProject(e.Product) {
		wf.Project = e.Product
	}
	weekly, err := s.EBM(ctx, wf, e.Product, Week)
	if err != nil {
		return r, err
	}
	m, _ := weekly.Measure(e.Measure)
	ps, vs := wholeTrend(m.Trend)
	split := len(ps)
	if at := SplitAt(ps, Week, start); len(at) > 0 {
		split = at[0]
	}
	r.Weekly = ShiftAt(ps, vs, split)
	if r.Before == nil || r.After == nil {
		r.Verdict = "no data for the measure in one of the windows"
		return r, nil
	}
	d := *r.After - *r.Before
	r.Change, r.Measured = &d, true
	r.Verdict = experimentVerdict(e.ExpectedChange, d, r.Weekly)
	return r, nil
}

// experimentVerdict says whether an experiment's measure moved as
// expected, and whether the move is a signal or within the noise: a change
// of the means alone confirms nothing.
func experimentVerdict(expected, change float64, w Shift) string {
	way := "up"
	if expected < 0 {
		way = "down"
	}
	switch {
	case w.Baseline == nil:
		return "too few weeks before the start to tell signal from noise"
	case w.AfterN == 0:
		return "no whole week since the start yet"
	case w.Signals == 0:
		return "within the noise: no signal since the start"
	case expected == 0:
		return "a signal " + w.Direction + " since the start"
	case w.Direction != way:
		return "not confirmed: a signal against the expected direction"
	case (expected > 0 && change >= expected) || (expected < 0 && change <= expected):
		return "confirmed: a signal in the expected direction, as large as expected"
	}
	return "partly: a signal in the expected direction, smaller than expected"
}
