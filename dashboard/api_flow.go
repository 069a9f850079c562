package dashboard

import (
	"strconv"
	"strings"
	"time"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/metrics"
	"github.com/gofiber/fiber/v2"
)

func (s *Server) apiFlow(c *fiber.Ctx) error {
	f, err := s.filter(c)
	if err != nil {
		return err
	}
	flow, err := s.cfg.Measures.Flow(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(flow)
}

// apiStandup is the stand-up list of the work in progress, as JSON or CSV.
func (s *Server) apiStandup(c *fiber.Ctx) error {
	f, err := s.filter(c)
	if err != nil {
		return err
	}
	out, err := s.cfg.Measures.Standup(c.UserContext(), f)
	if err != nil {
		return err
	}
	if c.Query("format") == "csv" || strings.Contains(c.Get("Accept"), "text/csv") {
		return sendCSV(c, "standup-"+f.Project+".csv", standupCSV(out))
	}
	return c.JSON(out)
}

// apiImpediments is how long the period's done work was blocked and
// stalled, as JSON or (every replayed issue) CSV.
func (s *Server) apiImpediments(c *fiber.Ctx) error {
	f, err := s.filter(c)
	if err != nil {
		return err
	}
	out, err := s.cfg.Measures.Impediments(c.UserContext(), f)
	if err != nil {
		return err
	}
	if c.Query("format") == "csv" || strings.Contains(c.Get("Accept"), "text/csv") {
		return sendCSV(c, "impediments-"+f.Project+".csv", impedimentsCSV(out.All))
	}
	return c.JSON(out)
}

// impedimentsCSV is one row per done issue replayed.
func impedimentsCSV(all []metrics.ImpededIssue) [][]string {
	rows := [][]string{{"key", "summary", "status", "priority", "started_at", "done_at", "cycle_days", "blocked_days", "blocked_episodes", "stalled_days", "expedited", "blockers"}}
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	for _, is := range all {
		started := is.StartedAt
		var why []string
		for _, b := range is.Blockers {
			why = append(why, b.Reason+" "+b.Name+" "+num(b.Days))
		}
		rows = append(rows, []string{is.Key, is.Summary, is.Status, is.Priority, fmtTime(&started), fmtTime(is.DoneAt), num(is.Days),
			num(is.BlockedDays), strconv.Itoa(is.Episodes), num(is.StalledDays), strconv.FormatBool(is.Expedited), strings.Join(why, "; ")})
	}
	return rows
}

// apiColumns is the work in progress of a board's columns each day.
func (s *Server) apiColumns(c *fiber.Ctx) error {
	f, err := s.filter(c)
	if err != nil {
		return err
	}
	if f.To.Sub(f.From) > 3*366*24*time.Hour {
		return evident.Errorf(evident.EINVALID, "from/to: board columns are replayed for at most three years")
	}
	out, err := s.cfg.Measures.BoardWIP(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

// standupCSV is the stand-up list as a table, one row per item in
// progress, in the order of the list.
func standupCSV(out metrics.Standup) [][]string {
	rows := [][]string{{"key", "summary", "status", "priority", "started_at", "age_days", "blocked", "stalled", "aged", "expedited",
		"blocked_days", "blocked_episodes", "stalled_days", "idle_days", "reasons"}}
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	for _, it := range out.Items {
		started := it.StartedAt
		rows = append(rows, []string{it.Key, it.Summary, it.Status, it.Priority, fmtTime(&started), num(it.Days),
			strconv.FormatBool(it.Blocked), strconv.FormatBool(it.Stalled), strconv.FormatBool(it.Aged), strconv.FormatBool(it.Expedited),
			num(it.BlockedDays), strconv.Itoa(it.Episodes), num(it.StalledDays), num(it.IdleDays), strings.Join(it.Reasons, "; ")})
	}
	return rows
}

func (s *Server) apiStatusTimes(c *fiber.Ctx) error {
	f, err := s.filter(c)
	if err != nil {
		return err
	}
	st, err := s.cfg.Measures.StatusTimes(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(st)
}

func (s *Server) apiCFD(c *fiber.Ctx) error {
	f, err := s.filter(c)
	if err != nil {
		return err
	}
	by := c.Query("by", "category")
	if by != "category" && by != "status" {
		return evident.Errorf(evident.EINVALID, "by: %q is neither category nor status", by)
	}
	if f.To.Sub(f.From) > 3*366*24*time.Hour {
		return evident.Errorf(evident.EINVALID, "from/to: a cumulative flow diagram covers at most three years")
	}
	cfd, err := s.cfg.Measures.CumulativeFlow(c.UserContext(), f, by)
	if err != nil {
		return err
	}
	return c.JSON(cfd)
}
