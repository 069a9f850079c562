package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/metrics"
)

// Inputs is the evidence Jira does not hold: surveys, value records, goals
// and experiments.
type Inputs interface {
	ImportSatisfaction(ctx context.Context, r io.Reader, format, source string) (evident.ImportResult, error)
	ImportValue(ctx context.Context, r io.Reader, format, source string) (evident.ImportResult, error)
	Goals(ctx context.Context, product string) ([]evident.Goal, error)
	Goal(ctx context.Context, id string) (evident.Goal, bool, error)
	SaveGoal(ctx context.Context, g evident.Goal) (evident.Goal, error)
	DeleteGoal(ctx context.Context, id string) error
	Experiments(ctx context.Context, product string) ([]evident.Experiment, error)
	Experiment(ctx context.Context, id string) (evident.Experiment, bool, error)
	SaveExperiment(ctx context.Context, e evident.Experiment) (evident.Experiment, error)
	DeleteExperiment(ctx context.Context, id string) error
	Annotations(ctx context.Context, product string) ([]evident.Annotation, error)
	SaveAnnotation(ctx context.Context, a evident.Annotation) (evident.Annotation, error)
	DeleteAnnotation(ctx context.Context, id string) error
	RecordForecast(ctx context.Context, r metrics.ForecastRecord) error
}

func (s *Server) inputRoutes(api fiber.Router) {
	admin := s.requireRole(RoleAdmin)
	api.Post("/satisfaction", admin, s.apiImport(func(ctx context.Context, r io.Reader, format string) (evident.ImportResult, error) {
		return s.cfg.Inputs.ImportSatisfaction(ctx, r, format, "api")
	}))
	api.Post("/value", admin, s.apiImport(func(ctx context.Context, r io.Reader, format string) (evident.ImportResult, error) {
		return s.cfg.Inputs.ImportValue(ctx, r, format, "api")
	}))
	api.Get("/goals", s.apiGoals)
	saveGoal := saveHandler(s, "a goal", "goals", func(g *evident.Goal) *string { return &g.ID }, Inputs.SaveGoal)
	saveExperiment := saveHandler(s, "an experiment", "experiments", func(e *evident.Experiment) *string { return &e.ID }, Inputs.SaveExperiment)
	api.Post("/goals", admin, saveGoal)
	api.Put("/goals/:id", admin, saveGoal)
	api.Patch("/goals/:id", admin, patchHandler(s, "goal", func(g *evident.Goal) *string { return &g.ID }, Inputs.Goal, Inputs.SaveGoal))
	api.Delete("/goals/:id", admin, s.apiDelete(Inputs.DeleteGoal))
	api.Get("/experiments", s.apiExperiments)
	api.Post("/experiments", admin, saveExperiment)
	api.Put("/experiments/:id", admin, saveExperiment)
	api.Patch("/experiments/:id", admin, patchHandler(s, "experiment", func(e *evident.Experiment) *string { return &e.ID }, Inputs.Experiment, Inputs.SaveExperiment))
	api.Delete("/experiments/:id", admin, s.apiDelete(Inputs.DeleteExperiment))
	api.Get("/annotations", s.apiAnnotations)
	api.Post("/annotations", admin, saveHandler(s, "an annotation", "annotations", func(a *evident.Annotation) *string { return &a.ID }, Inputs.SaveAnnotation))
	api.Delete("/annotations/:id", admin, s.apiDelete(Inputs.DeleteAnnotation))
}

// apiDelete deletes the record of the path's id: 204, or 404 when there
// is none.
func (s *Server) apiDelete(del func(Inputs, context.Context, string) error) fiber.Handler {
	return func(c *fiber.Ctx) error {
		in, err := s.inputs()
		if err != nil {
			return err
		}
		if err := del(in, c.UserContext(), c.Params("id")); err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusNoContent)
	}
}

// productInputs is the inputs and the product a request names (product=,
// else project=, checked like every filter).
func (s *Server) productInputs(c *fiber.Ctx) (Inputs, string, error) {
	in, err := s.inputs()
	if err != nil {
		return nil, "", err
	}
	f, err := s.filter(c)
	if err != nil {
		return nil, "", err
	}
	return in, product(c, f), nil
}

// apiAnnotations lists the annotations of a product (product=, else
// project=) and those of every product.
func (s *Server) apiAnnotations(c *fiber.Ctx) error {
	in, prod, err := s.productInputs(c)
	if err != nil {
		return err
	}
	out, err := in.Annotations(c.UserContext(), prod)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"annotations": out})
}

// recordForecast keeps a forecast that was shown, for scoring later; a
// failure to keep it is logged, never shown to the asker.
func (s *Server) recordForecast(c *fiber.Ctx, f metrics.Filter, fc metrics.Forecast) {
	if s.cfg.Inputs == nil {
		return
	}
	r, ok := metrics.Record(f, fc, s.cfg.Now())
	if !ok {
		return
	}
	if err := s.cfg.Inputs.RecordForecast(c.UserContext(), r); err != nil {
		s.log.Warn("forecast not recorded", "err", err.Error())
	}
}

// apiForecastScores scores the recorded forecasts of a project made in
// from/to: each one's outcome once known, and how often each level kept
// its promise.
func (s *Server) apiForecastScores(c *fiber.Ctx) error {
	f, err := s.filter(c)
	if err != nil {
		return err
	}
	if c.Query("from") == "" {
		f.From = f.To.AddDate(-1, 0, 0)
	}
	out, err := s.cfg.Measures.ForecastScores(c.UserContext(), f.Project, f.From, f.To)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

// annotationsIn are the annotations of a product, and the starts of its
// experiments, dated inside [from, to), oldest first;
// none when inputs are not configured.
func (s *Server) annotationsIn(c *fiber.Ctx, product string, f metrics.Filter) ([]evident.Annotation, error) {
	if s.cfg.Inputs == nil {
		return nil, nil
	}
	all, err := s.cfg.Inputs.Annotations(c.UserContext(), product)
	if err != nil {
		return nil, err
	}
	// An experiment's start is a change of its own: charts mark it (its
	// before/after test is the experiment's; limits restart only at
	// annotations, see lastChange).
	exps, err := s.cfg.Inputs.Experiments(c.UserContext(), product)
	if err != nil {
		return nil, err
	}
	for _, e := range exps {
		all = append(all, evident.Annotation{ID: experimentNote + e.ID, Product: e.Product, At: e.StartedAt, Text: "Experiment: " + e.Title, CreatedAt: e.CreatedAt})
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].At.Before(all[j].At) })
	var out []evident.Annotation
	for _, a := range all {
		if !a.At.Before(f.From) && a.At.Before(f.To) {
			out = append(out, a)
		}
	}
	return out, nil
}

// experimentNote prefixes the id of the note an experiment's start makes.
const experimentNote = "experiment-"

// lastChange is the latest annotation (not an experiment's start) of
// notes, oldest first: where process behaviour limits start again.
func lastChange(notes []evident.Annotation) (evident.Annotation, bool) {
	for i := len(notes) - 1; i >= 0; i-- {
		if !strings.HasPrefix(notes[i].ID, experimentNote) {
			return notes[i], true
		}
	}
	return evident.Annotation{}, false
}

func (s *Server) inputs() (Inputs, error) {
	if s.cfg.Inputs == nil {
		return nil, evident.Errorf(evident.EUNAVAILABLE, "inputs are not configured on this server")
	}
	return s.cfg.Inputs, nil
}

// apiImport takes a CSV (text/csv) or JSON (application/json) body.
func (s *Server) apiImport(run func(ctx context.Context, r io.Reader, format string) (evident.ImportResult, error)) fiber.Handler {
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
		// The body is streamed (limitBody left it unread) up to the import
		// limit, whatever Content-Length says (a chunked one has none).
		body := c.Context().RequestBodyStream()
		if body == nil {
			body = bytes.NewReader(c.Body())
		}
		c.Context().SetConnectionClose() // a refused file may be left unread
		lim := &io.LimitedReader{R: body, N: importBodyLimit + 1}
		res, err := run(c.UserContext(), lim, format)
		if lim.N <= 0 {
			return fiber.NewError(fiber.StatusRequestEntityTooLarge, "the request body is over "+sizeOf(importBodyLimit))
		}
		if err != nil {
			return err
		}
		s.invalidateCatalog()
		return c.Status(fiber.StatusCreated).JSON(res)
	}
}

// apiGoals lists the goals of a product (product=, else project=; all
// when neither), each measured on its own product and measure: the page's
// other filters never change a goal's progress.
func (s *Server) apiGoals(c *fiber.Ctx) error {
	in, prod, err := s.productInputs(c)
	if err != nil {
		return err
	}
	goals, err := in.Goals(c.UserContext(), prod)
	if err != nil {
		return err
	}
	if c.Query("progress") == "false" {
		return c.JSON(fiber.Map{"goals": goals})
	}
	out, err := s.cfg.Measures.GoalProgress(c.UserContext(), goals)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"goals": out})
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

// patchHandler changes the fields a body gives and keeps the others
// (PATCH /…/:id): the record is read, the body decoded over it with the
// same strictness as a POST, and the result saved through the same checks.
func patchHandler[T any](s *Server, noun string, idOf func(*T) *string, get func(Inputs, context.Context, string) (T, bool, error), save func(Inputs, context.Context, T) (T, error)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		in, err := s.inputs()
		if err != nil {
			return err
		}
		id := c.Params("id")
		rec, ok, err := get(in, c.UserContext(), id)
		if err != nil {
			return err
		}
		if !ok {
			return evident.Errorf(evident.ENOTFOUND, "no %s %q", noun, id)
		}
		if err := decodeStrict(c.Body(), &rec); err != nil {
			return err
		}
		if got := *idOf(&rec); got != id {
			return evident.Errorf(evident.EINVALID, "id: the body's id %q differs from the URL's %q", got, id)
		}
		saved, err := save(in, c.UserContext(), rec)
		if err != nil {
			return err
		}
		return c.JSON(saved)
	}
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
	out, err := s.cfg.Measures.MeasureExperiments(c.UserContext(), exps)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"experiments": out})
}

// dateKeys are the body keys that take a date; YYYY-MM-DD is accepted
// there besides RFC 3339.
var dateKeys = map[string]bool{"at": true, "baseline_date": true, "target_date": true, "created_at": true, "started_at": true, "ended_at": true}

// decodeStrict decodes a JSON body, refusing unknown keys and naming the
// key that is wrong.
func decodeStrict(body []byte, v any) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return evident.Errorf(evident.EINVALID, "body: not a JSON object: %v", err)
	}
	folded := map[string]string{}
	for k := range m {
		if other, ok := folded[strings.ToLower(k)]; ok {
			return evident.Errorf(evident.EINVALID, "%s: given twice (as %q and %q)", strings.ToLower(k), min(k, other), max(k, other))
		}
		folded[strings.ToLower(k)] = k
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
