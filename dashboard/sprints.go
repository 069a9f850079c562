package dashboard

import (
	"strconv"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"
	"github.com/gofiber/fiber/v2"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/metrics"
)

type sprintsData struct {
	Board   uint64
	Sprints []metrics.SprintReport
	Scrum   []metrics.CatalogBoard
}

func (s *Server) scrumBoards(v view) []metrics.CatalogBoard {
	var out []metrics.CatalogBoard
	for _, b := range v.Filters.Boards {
		if b.Type == "scrum" {
			out = append(out, b)
		}
	}
	return out
}

func (s *Server) sprintsPage(c *fiber.Ctx) error {
	v, f, _, err := s.newView(c, "Sprints", "sprints")
	if err != nil {
		return s.pageError(c, v, err)
	}
	v.Filters.ShowBoard = true
	scrum := s.scrumBoards(v)
	board := f.Board
	if board == 0 && len(scrum) > 0 {
		board = scrum[0].ID
		v.Filters.Board = strconv.FormatUint(board, 10)
	}
	data := sprintsData{Board: board, Scrum: scrum}
	if board == 0 {
		v.Notice = "No scrum board has been synced yet."
		v.Data = data
		return s.render(c, "sprints", v)
	}
	reports, err := s.cfg.Measures.Sprints(c.UserContext(), f.Site, board)
	if err != nil {
		return err
	}
	if len(reports) > 26 {
		reports = reports[len(reports)-26:]
	}
	data.Sprints = reports
	v.Data = data
	v.Charts = sprintCharts(reports)
	return s.render(c, "sprints", v)
}

func sprintCharts(reports []metrics.SprintReport) []Chart {
	vel := Chart{ID: "velocity", Title: "Velocity: committed vs completed",
		Help:  "Story points committed at each sprint's start (replayed from the Sprint field's history) and completed by its end.",
		Table: Table{Head: []string{"sprint", "committed_points", "added_points", "removed_points", "completed_points"}}}
	ratio := Chart{ID: "say_do", Title: "Say/do ratio and scope change",
		Help:  "Say/do: completed committed points / committed points. Scope change: (added + removed points) / committed points.",
		Table: Table{Head: []string{"sprint", "say_do_ratio", "scope_change", "carried_over_issues"}}}
	if len(reports) == 0 {
		vel.Empty, ratio.Empty = "No started sprint on this board.", "No started sprint on this board."
		return []Chart{vel, ratio}
	}
	bar := charts.NewBar()
	bar.SetGlobalOptions(append(base(vel.ID, "320px"), charts.WithYAxisOpts(opts.YAxis{Name: "points"}))...)
	line := charts.NewLine()
	line.SetGlobalOptions(append(base(ratio.ID, "300px"), charts.WithYAxisOpts(opts.YAxis{Name: "ratio"}))...)
	var names []string
	var committed, completed []opts.BarData
	var sayDo, scope []opts.LineData
	for _, r := range reports {
		names = append(names, r.Name)
		committed = append(committed, opts.BarData{Value: r.Committed.Points})
		completed = append(completed, opts.BarData{Value: r.Completed.Points})
		sd, sc := any("-"), any("-")
		if r.SayDo != nil {
			sd = *r.SayDo
		}
		if r.ScopeChange != nil {
			sc = *r.ScopeChange
		}
		sayDo = append(sayDo, opts.LineData{Value: sd})
		scope = append(scope, opts.LineData{Value: sc})
		vel.Table.Rows = append(vel.Table.Rows, []string{r.Name, f2s(r.Committed.Points), f2s(r.Added.Points), f2s(r.Removed.Points), f2s(r.Completed.Points)})
		ratio.Table.Rows = append(ratio.Table.Rows, []string{r.Name, p2s(r.SayDo), p2s(r.ScopeChange), strconv.Itoa(r.CarriedOver.Issues)})
	}
	bar.SetXAxis(names).AddSeries("committed", committed).AddSeries("completed", completed)
	line.SetXAxis(names).AddSeries("say/do", sayDo).AddSeries("scope change", scope)
	vel.Element, vel.Script = snippet(bar)
	ratio.Element, ratio.Script = snippet(line)
	return []Chart{vel, ratio}
}

type retroData struct {
	metrics.Retrospective
	Board uint64
}

func (s *Server) retroPage(c *fiber.Ctx) error {
	v, f, _, err := s.newView(c, "Sprint retrospective", "sprints")
	if err != nil {
		return s.pageError(c, v, err)
	}
	id, err := strconv.ParseUint(c.Params("id"), 10, 64)
	if err != nil {
		return s.pageError(c, v, evident.Errorf(evident.EINVALID, "sprint: %q is not a sprint id", c.Params("id")))
	}
	if f.Board == 0 {
		site, board, err := s.cfg.Measures.SprintBoard(c.UserContext(), f.Site, id)
		if err != nil {
			return s.pageError(c, v, err)
		}
		f.Site, f.Board = site, board
	}
	retro, err := s.cfg.Measures.Retrospective(c.UserContext(), f, id)
	if err != nil {
		return s.pageError(c, v, err)
	}
	v.Title = "Retrospective: " + retro.Sprint.Name
	v.Data = retroData{Retrospective: retro, Board: f.Board}
	v.Charts = sprintCharts(append(append([]metrics.SprintReport(nil), retro.Previous...), retro.Sprint))
	return s.render(c, "retro", v)
}
