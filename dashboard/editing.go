package dashboard

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/evident-ebm/evident"
)

// Goals and experiments are edited on the value page by admins: plain
// forms that post here, saved through the same checks as the API, then
// back to the page. A refused form shows what was wrong and keeps nothing.

func (s *Server) editRoutes() {
	// cached expires the response cache after a change.
	admin, c := s.requireRole(RoleAdmin), s.cached
	s.App.Post("/goals", admin, c, s.saveGoalForm)
	s.App.Post("/goals/:id/delete", admin, c, s.deleteForm("goal", Inputs.DeleteGoal))
	s.App.Post("/experiments", admin, c, s.saveExperimentForm)
	s.App.Post("/experiments/:id/delete", admin, c, s.deleteForm("experiment", Inputs.DeleteExperiment))
}

// form reads a submitted form's fields, naming the one that is wrong.
type form struct{ c *fiber.Ctx }

func (f form) text(name string) string { return strings.TrimSpace(f.c.FormValue(name)) }

func (f form) number(name string) (float64, error) {
	v := strings.ReplaceAll(f.text(name), ",", "")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, evident.Errorf(evident.EINVALID, "%s: %q is not a number", name, f.text(name))
	}
	return n, nil
}

func (f form) date(name string) (time.Time, error) {
	v := f.text(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse("2006-01-02", v)
	if err != nil {
		return time.Time{}, evident.Errorf(evident.EINVALID, "%s: %q is not a date (want YYYY-MM-DD)", name, v)
	}
	return t, nil
}

func (s *Server) saveGoalForm(c *fiber.Ctx) error {
	in, err := s.inputs()
	if err != nil {
		return err
	}
	f := form{c}
	g := evident.Goal{ID: f.text("id"), ParentID: f.text("parent_id"), Level: f.text("level"), Title: f.text("title"),
		KVA: f.text("kva"), Product: f.text("product"), Measure: f.text("measure")}
	if g.Baseline, err = f.number("baseline"); err == nil {
		if g.Target, err = f.number("target"); err == nil {
			if g.BaselineDate, err = f.date("baseline_date"); err == nil {
				g.TargetDate, err = f.date("target_date")
			}
		}
	}
	if err == nil {
		_, err = in.SaveGoal(c.UserContext(), g)
	}
	return s.afterEdit(c, "goal", g.Product, err)
}

func (s *Server) saveExperimentForm(c *fiber.Ctx) error {
	in, err := s.inputs()
	if err != nil {
		return err
	}
	f := form{c}
	e := evident.Experiment{ID: f.text("id"), GoalID: f.text("goal_id"), Title: f.text("title"), Hypothesis: f.text("hypothesis"),
		Product: f.text("product"), Measure: f.text("measure")}
	var ended time.Time
	if e.ExpectedChange, err = f.number("expected_change"); err == nil {
		if e.StartedAt, err = f.date("started_at"); err == nil {
			ended, err = f.date("ended_at")
		}
	}
	if !ended.IsZero() {
		e.EndedAt = &ended
	}
	if err == nil {
		_, err = in.SaveExperiment(c.UserContext(), e)
	}
	return s.afterEdit(c, "experiment", e.Product, err)
}

func (s *Server) deleteForm(noun string, del func(Inputs, context.Context, string) error) fiber.Handler {
	return func(c *fiber.Ctx) error {
		in, err := s.inputs()
		if err != nil {
			return err
		}
		err = del(in, c.UserContext(), c.Params("id"))
		return s.afterEdit(c, noun, form{c}.text("product"), err)
	}
}

// afterEdit goes back to the value page of the product (303, so that a
// reload does not post again), or shows why the form was refused.
func (s *Server) afterEdit(c *fiber.Ctx, noun, product string, err error) error {
	if err != nil {
		code := evident.ErrorCode(err)
		if code != evident.EINVALID && code != evident.ENOTFOUND && code != evident.ECONFLICT {
			return err
		}
		return s.renderError(c, statusOf[code], "The "+noun+" was not saved: "+evident.ErrorMessage(err)+". Go back to correct it.")
	}
	to := "/value"
	if product != "" {
		key := "product"
		if cat, err := s.catalog(c.UserContext()); err == nil && cat.HasProject(product) {
			key = "project"
		}
		to += "?" + url.Values{key: {product}}.Encode()
	}
	return c.Redirect(to+"#goals", fiber.StatusSeeOther)
}

// goalFormData fills the goal form: a goal's fields (empty for a new one)
// and the choices.
type goalFormData struct {
	Goal                                       evident.Goal
	Levels, KVAs, Products                     []string
	Parents                                    []evident.Goal
	Measures                                   []evident.MeasureInfo
	Baseline, Target, BaselineDate, TargetDate string
}

// goalForm is a template function: goalForm GOAL-OR-nil PAGE-DATA.
func goalForm(g any, data any) goalFormData {
	d, _ := data.(valueData)
	out := goalFormData{Levels: []string{evident.GoalStrategic, evident.GoalIntermediate, evident.GoalTactical}, KVAs: evident.KVAs,
		Products: d.Products, Measures: d.Measures}
	if goal, ok := g.(evident.Goal); ok {
		out.Goal = goal
		out.Baseline, out.Target = f2s(goal.Baseline), f2s(goal.Target)
		out.BaselineDate, out.TargetDate = dayOf(goal.BaselineDate), dayOf(goal.TargetDate)
	} else {
		out.Goal = evident.Goal{Level: evident.GoalStrategic, Product: d.Product}
	}
	for _, p := range d.Goals {
		if p.ID != out.Goal.ID && p.Level != evident.GoalTactical {
			out.Parents = append(out.Parents, p.Goal)
		}
	}
	return out
}

// expFormData fills the experiment form.
type expFormData struct {
	Exp                      evident.Experiment
	Products                 []string
	Parents                  []evident.Goal
	Measures                 []evident.MeasureInfo
	Expected, Started, Ended string
}

// expForm is a template function: expForm EXPERIMENT-OR-nil PAGE-DATA.
func expForm(e any, data any) expFormData {
	d, _ := data.(valueData)
	out := expFormData{Products: d.Products, Measures: d.Measures}
	if x, ok := e.(evident.Experiment); ok {
		out.Exp = x
		out.Expected, out.Started = f2s(x.ExpectedChange), dayOf(x.StartedAt)
		if x.EndedAt != nil {
			out.Ended = dayOf(*x.EndedAt)
		}
	} else {
		out.Exp = evident.Experiment{Product: d.Product}
	}
	for _, g := range d.Goals {
		out.Parents = append(out.Parents, g.Goal)
	}
	return out
}

func dayOf(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02")
}
