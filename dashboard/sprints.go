package dashboard

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"
	"github.com/gofiber/fiber/v2"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/metrics"
)

type sprintsData struct {
	Board       uint64
	Sprints     []metrics.SprintReport
	Scrum       []metrics.CatalogBoard
	Closed      int
	VelocitySum float64
}

// MeanVelocity is the mean completed points of the closed sprints shown.
func (d sprintsData) MeanVelocity() *float64 {
	if d.Closed == 0 {
		return nil
	}
	v := d.VelocitySum / float64(d.Closed)
	return &v
}

func (s *Server) sprintsPage(c *fiber.Ctx) error {
	v, f, _, err := s.newView(c, "Sprints", "sprints")
	if err != nil {
		return s.pageError(c, v, err)
	}
	v.Filters.ShowBoard, v.Filters.HideType = true, true
	board, scrum, err := s.sprintBoard(c, f)
	if evident.ErrorCode(err) == evident.EINVALID {
		// The product changed under a board of another one: show the
		// product's first scrum board.
		f.Board = 0
		board, scrum, err = s.sprintBoard(c, f)
	}
	if err != nil {
		return err
	}
	v.Filters.Boards = scrum
	if board == 0 && len(scrum) > 0 {
		board = scrum[0].ID
	}
	if c.Query("from") == "" {
		v.Filters.From = "" // every sprint unless a range is asked for
	}
	if c.Query("to") == "" {
		v.Filters.To = ""
	}
	data := sprintsData{Board: board, Scrum: scrum}
	if board == 0 {
		v.Notice = "No scrum board has been synced yet."
		if f.Project != "" {
			v.Notice = f.Project + " has no scrum board: its work is on kanban boards (see Flow)."
		}
		v.Data = data
		return s.render(c, "sprints", v)
	}
	v.Filters.Board = strconv.FormatUint(board, 10)
	reports, err := s.boardSprints(c, f, board)
	if err != nil {
		return err
	}
	if len(reports) > 26 {
		reports = reports[len(reports)-26:]
	}
	data.Sprints = reports
	for _, r := range reports {
		if r.Velocity != nil {
			data.Closed++
			data.VelocitySum += *r.Velocity
		}
	}
	v.Data = data
	v.Charts = sprintCharts(reports)
	return s.render(c, "sprints", v)
}

// sprintCharts draws velocity and say/do over the closed sprints; the
// active sprint is left out until it closes, as in Jira's velocity chart.
func sprintCharts(reports []metrics.SprintReport) []Chart {
	vel := Chart{ID: "velocity", Title: "Velocity: committed vs completed",
		Help:  "Story points committed at each closed sprint's start (replayed from the Sprint field's history) and completed by its end.",
		Table: Table{Head: []string{"sprint", "committed_points", "added_points", "removed_points", "completed_points"}}}
	ratio := Chart{ID: "say_do", Title: "Say/do ratio and scope change",
		Help:  "Say/do: completed committed points / committed points. Scope change: (added + removed points) / committed points.",
		Table: Table{Head: []string{"sprint", "say_do_ratio", "scope_change", "carried_over_issues"}}}
	var closed []metrics.SprintReport
	var active []string
	for _, r := range reports {
		if r.Velocity != nil {
			closed = append(closed, r)
		} else {
			active = append(active, r.Name)
		}
	}
	if len(active) > 0 {
		note := " " + strings.Join(active, ", ") + " is still running and is left out until it closes."
		vel.Help += note
		ratio.Help += note
	}
	if len(closed) == 0 {
		vel.Empty, ratio.Empty = "No closed sprint yet.", "No closed sprint yet."
		return []Chart{vel, ratio}
	}
	bar := charts.NewBar()
	bar.SetGlobalOptions(append(base(vel.ID, "320px"), charts.WithYAxisOpts(opts.YAxis{Name: "points"}),
		charts.WithXAxisOpts(opts.XAxis{AxisLabel: &opts.AxisLabel{Rotate: 30, HideOverlap: opts.Bool(true)}}),
		charts.WithGridOpts(opts.Grid{Bottom: "70"}))...)
	line := charts.NewLine()
	line.SetGlobalOptions(append(base(ratio.ID, "320px"), charts.WithYAxisOpts(opts.YAxis{Name: "ratio"}),
		charts.WithXAxisOpts(opts.XAxis{AxisLabel: &opts.AxisLabel{Rotate: 30, HideOverlap: opts.Bool(true)}}),
		charts.WithGridOpts(opts.Grid{Bottom: "70"}))...)
	var names []string
	var committed, completed []opts.BarData
	var sayDo, scope []opts.LineData
	for _, r := range closed {
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
	Board                                   uint64
	Completed, NotCompleted, Removed, Added []retroRow
}

// retroRow is an issue of a sprint's scope as the sprint report lists it.
type retroRow struct {
	Key, Link, Summary, Type, Status, Category string
	Points                                     float64
	AddedAfterStart, CarriedOver               bool
}

func (s *Server) retroPage(c *fiber.Ctx) error {
	v, f, _, err := s.newView(c, "Sprint retrospective", "sprints")
	if err != nil {
		return s.pageError(c, v, err)
	}
	retro, err := s.retrospective(c, f)
	if err != nil {
		return s.pageError(c, v, err)
	}
	v.Title = "Retrospective: " + retro.Sprint.Name
	data := retroData{Retrospective: retro, Board: retro.Board}
	byKey := map[string]metrics.IssueRow{}
	for _, is := range retro.Issues {
		byKey[is.Key] = is
	}
	carried := map[string]bool{}
	for _, k := range retro.Sprint.CarriedOver.Keys {
		carried[k] = true
	}
	rows := func(sc metrics.SprintScope) []retroRow {
		var out []retroRow
		for _, it := range sc.Items {
			is, ok := byKey[it.Key]
			if !ok && len(f.Types) > 0 {
				continue // narrowed away by the type filter
			}
			out = append(out, retroRow{Key: it.Key, Link: jiraLink(s.cfg.JiraURL, it.Key), Summary: is.Summary, Type: is.Type, Status: is.Status, Category: is.StatusCategory,
				Points: it.Points, AddedAfterStart: it.AddedAfterStart, CarriedOver: carried[it.Key]})
		}
		return out
	}
	data.Completed, data.NotCompleted = rows(retro.Sprint.Completed), rows(retro.Sprint.NotCompleted)
	data.Removed, data.Added = rows(retro.Sprint.Removed), rows(retro.Sprint.Added)
	v.Data = data
	v.Charts = append([]Chart{burndownChart(retro)}, sprintCharts(append(append([]metrics.SprintReport(nil), retro.Previous...), retro.Sprint))...)
	return s.render(c, "retro", v)
}

// burndownChart draws the points remaining in the sprint day by day, the
// scope, and the ideal line from the committed points to zero at the
// planned end.
func burndownChart(r metrics.Retrospective) Chart {
	ch := Chart{ID: "burndown", Title: "Burndown",
		Help:  "Points not done among the sprint's members, every 24 hours from the start, replayed from the Sprint field, the estimates and the statuses. The dashed line is the ideal burn from the points at the start to zero at the planned end; scope shows additions and removals.",
		Table: Table{Head: []string{"at", "scope_points", "done_points", "remaining_points", "issues", "done_issues"}}}
	if len(r.Burndown) == 0 {
		ch.Empty = "The sprint has no history to replay."
		return ch
	}
	var xs []string
	var remaining, scope, ideal []opts.LineData
	first := r.Burndown[0]
	plannedEnd := first.At
	if r.Sprint.EndAt != nil {
		plannedEnd = r.Sprint.EndAt.UTC()
	}
	span := plannedEnd.Sub(first.At).Hours()
	for _, b := range r.Burndown {
		xs = append(xs, b.At.Format("Jan 2"))
		remaining = append(remaining, opts.LineData{Value: b.Remaining})
		scope = append(scope, opts.LineData{Value: b.Scope})
		iv := any("-")
		if span > 0 {
			frac := b.At.Sub(first.At).Hours() / span
			iv = math.Max(0, math.Round(first.Remaining*(1-frac)*10)/10)
		}
		ideal = append(ideal, opts.LineData{Value: iv})
		ch.Table.Rows = append(ch.Table.Rows, []string{b.At.Format(time.RFC3339), f2s(b.Scope), f2s(b.Done), f2s(b.Remaining), strconv.Itoa(b.Issues), strconv.Itoa(b.DoneN)})
	}
	line := charts.NewLine()
	line.SetGlobalOptions(append(base(ch.ID, "320px"), charts.WithYAxisOpts(opts.YAxis{Name: "points", Min: 0}),
		charts.WithXAxisOpts(opts.XAxis{AxisLabel: &opts.AxisLabel{HideOverlap: opts.Bool(true)}}))...)
	line.SetXAxis(xs).
		AddSeries("remaining", remaining, charts.WithLineChartOpts(opts.LineChart{Step: "end"}), charts.WithAreaStyleOpts(opts.AreaStyle{Opacity: opts.Float(0.15)})).
		AddSeries("scope", scope, charts.WithLineChartOpts(opts.LineChart{Step: "end"})).
		AddSeries("ideal", ideal, charts.WithLineStyleOpts(opts.LineStyle{Type: "dashed", Color: "#8a94a6"}), charts.WithItemStyleOpts(opts.ItemStyle{Color: "#8a94a6"}))
	ch.Element, ch.Script = snippet(line)
	return ch
}
