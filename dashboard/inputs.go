package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/metrics"
)

// ImportResult says what an import did.
type ImportResult struct {
	Rows      int `json:"rows"`
	New       int `json:"new"`
	Unchanged int `json:"unchanged"`
}

// Inputs is the evidence Jira does not hold: surveys, value records, goals
// and experiments.
type Inputs interface {
	ImportSatisfaction(ctx context.Context, r io.Reader, format, source string) (ImportResult, error)
	ImportValue(ctx context.Context, r io.Reader, format, source string) (ImportResult, error)
	Goals(ctx context.Context, product string) ([]evident.Goal, error)
	SaveGoal(ctx context.Context, g evident.Goal) (evident.Goal, error)
	DeleteGoal(ctx context.Context, id string) error
	Experiments(ctx context.Context, product string) ([]evident.Experiment, error)
	SaveExperiment(ctx context.Context, e evident.Experiment) (evident.Experiment, error)
	DeleteExperiment(ctx context.Context, id string) error
}

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

func (s *Server) inputRoutes(api fiber.Router) {
	admin := s.requireRole(RoleAdmin)
	api.Post("/satisfaction", admin, s.apiImport(func(ctx context.Context, r io.Reader, format string) (ImportResult, error) {
		return s.cfg.Inputs.ImportSatisfaction(ctx, r, format, "api")
	}))
	api.Post("/value", admin, s.apiImport(func(ctx context.Context, r io.Reader, format string) (ImportResult, error) {
		return s.cfg.Inputs.ImportValue(ctx, r, format, "api")
	}))
	api.Get("/goals", s.apiGoals)
	saveGoal := saveHandler(s, "a goal", "goals", func(g *evident.Goal) *string { return &g.ID }, Inputs.SaveGoal)
	saveExperiment := saveHandler(s, "an experiment", "experiments", func(e *evident.Experiment) *string { return &e.ID }, Inputs.SaveExperiment)
	api.Post("/goals", admin, saveGoal)
	api.Put("/goals/:id", admin, saveGoal)
	api.Delete("/goals/:id", admin, s.apiDeleteGoal)
	api.Get("/experiments", s.apiExperiments)
	api.Post("/experiments", admin, saveExperiment)
	api.Put("/experiments/:id", admin, saveExperiment)
	api.Delete("/experiments/:id", admin, s.apiDeleteExperiment)
}

func (s *Server) inputs() (Inputs, error) {
	if s.cfg.Inputs == nil {
		return nil, evident.Errorf(evident.EUNAVAILABLE, "inputs are not configured on this server")
	}
	return s.cfg.Inputs, nil
}

// apiImport takes a CSV (text/csv) or JSON (application/json) body.
func (s *Server) apiImport(run func(ctx context.Context, r io.Reader, format string) (ImportResult, error)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if _, err := s.inputs(); err != nil {
			return err
		}
		format := "csv"
		switch ct := c.Get("Content-Type"); {
		case strings.HasPrefix(ct, "application/json"):
			format = "json"
		case strings.HasPrefix(ct, "text/csv"), ct == "":
		default:
			return evident.Errorf(evident.EINVALID, "Content-Type: %q is neither text/csv nor application/json", ct)
		}
		res, err := run(c.UserContext(), bytes.NewReader(c.Body()), format)
		if err != nil {
			return err
		}
		s.invalidateCatalog()
		return c.Status(fiber.StatusCreated).JSON(res)
	}
}

func (s *Server) apiGoals(c *fiber.Ctx) error {
	in, err := s.inputs()
	if err != nil {
		return err
	}
	goals, err := in.Goals(c.UserContext(), c.Query("product"))
	if err != nil {
		return err
	}
	if c.Query("progress") == "false" {
		return c.JSON(fiber.Map{"goals": goals})
	}
	f, p, err := s.filterPeriod(c)
	if err != nil {
		return err
	}
	e, err := s.cfg.Measures.EBM(c.UserContext(), f, c.Query("product"), p)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"goals": ProgressOf(goals, e.Current())})
}

// saveHandler creates (POST, no id) or replaces (PUT /…/:id) a record: the
// same rules for goals and experiments.
func saveHandler[T any](s *Server, noun, path string, idOf func(*T) *string, save func(Inputs, context.Context, T) (T, error)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		in, err := s.inputs()
		if err != nil {
			return err
		}
		var rec T
		if err := decodeStrict(c.Body(), &rec); err != nil {
			return err
		}
		id := idOf(&rec)
		if urlID := c.Params("id"); urlID != "" {
			if *id != "" && *id != urlID {
				return evident.Errorf(evident.EINVALID, "id: the body's id %q differs from the URL's %q", *id, urlID)
			}
			*id = urlID
		} else if *id != "" {
			return evident.Errorf(evident.EINVALID, "id: POST creates %s; use PUT /api/v1/%s/%s to change one", noun, path, *id)
		}
		saved, err := save(in, c.UserContext(), rec)
		if err != nil {
			return err
		}
		status := fiber.StatusOK
		if c.Method() == fiber.MethodPost {
			status = fiber.StatusCreated
		}
		return c.Status(status).JSON(saved)
	}
}

func (s *Server) apiDeleteGoal(c *fiber.Ctx) error {
	in, err := s.inputs()
	if err != nil {
		return err
	}
	if err := in.DeleteGoal(c.UserContext(), c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
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

func (s *Server) apiExperiments(c *fiber.Ctx) error {
	in, err := s.inputs()
	if err != nil {
		return err
	}
	exps, err := in.Experiments(c.UserContext(), c.Query("product"))
	if err != nil {
		return err
	}
	out := []ExperimentResult{}
	for _, e := range exps {
		r, err := s.measureExperiment(c.UserContext(), e)
		if err != nil {
			return err
		}
		out = append(out, r)
	}
	return c.JSON(fiber.Map{"experiments": out})
}

// measureExperiment compares the measure over the experiment's window with
// the same length of time just before it.
func (s *Server) measureExperiment(ctx context.Context, e evident.Experiment) (ExperimentResult, error) {
	r := ExperimentResult{Experiment: e}
	end := s.cfg.Now().UTC().Truncate(24 * time.Hour)
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
		f := metrics.Filter{From: from, To: to}
		if e.Product != "" {
			cat, err := s.catalog(ctx)
			if err != nil {
				return nil, 0, err
			}
			if cat.HasProject(e.Product) {
				f.Project = e.Product
			}
		}
		ebm, err := s.cfg.Measures.EBM(ctx, f, e.Product, metrics.Month)
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

func (s *Server) apiDeleteExperiment(c *fiber.Ctx) error {
	in, err := s.inputs()
	if err != nil {
		return err
	}
	if err := in.DeleteExperiment(c.UserContext(), c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// dateKeys are the body keys that take a date; YYYY-MM-DD is accepted
// there besides RFC 3339.
var dateKeys = map[string]bool{"baseline_date": true, "target_date": true, "created_at": true, "started_at": true, "ended_at": true}

// decodeStrict decodes a JSON body, refusing unknown keys and naming the
// key that is wrong.
func decodeStrict(body []byte, v any) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return evident.Errorf(evident.EINVALID, "body: not a JSON object: %v", err)
	}
	for k, raw := range m {
		var s string
		if dateKeys[k] && json.Unmarshal(raw, &s) == nil && len(s) == 10 {
			t, err := time.Parse("2006-01-02", s)
			if err != nil {
				return evident.Errorf(evident.EINVALID, "%s: %q is not a date (want YYYY-MM-DD)", k, s)
			}
			m[k], _ = json.Marshal(t)
		}
	}
	norm, _ := json.Marshal(m)
	dec := json.NewDecoder(bytes.NewReader(norm))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return evident.Errorf(evident.EINVALID, "%s: want %s, got JSON %s", te.Field, te.Type, te.Value)
		}
		return evident.Errorf(evident.EINVALID, "body: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}
