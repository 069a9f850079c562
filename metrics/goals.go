package metrics

import (
	"context"
	"time"

	"github.com/evident-ebm/evident"
)

// GoalProgress is a goal with where its measure stands now.
type GoalProgress struct {
	evident.Goal
	Current  *float64 `json:"current"`
	Progress *float64 `json:"progress"`
}

// ProgressOf places each goal's measure between its baseline (0) and its
// target (1); null when the measure has no value or the goal no distance.
func ProgressOf(goals []evident.Goal, current map[string]*float64) []GoalProgress {
	out := []GoalProgress{}
	for _, g := range goals {
		gp := GoalProgress{Goal: g, Current: current[g.Measure]}
		if gp.Current != nil && g.Target != g.Baseline {
			p := (*gp.Current - g.Baseline) / (g.Target - g.Baseline)
			p = float64(int64(p*10000)) / 10000
			gp.Progress = &p
		}
		out = append(out, gp)
	}
	return out
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
		for _, k := range ebm.KVAs {
			for _, m := range k.Measures {
				if m.Key == e.Measure {
					return m.Value, m.N, nil
				}
			}
		}
		return nil, 0, nil
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
