package dashboard

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/metrics"
)

// catalogCache keeps the catalog, which every request checks its project
// and board against, for the data version it was read on (the response
// cache's, read at most once a second); with the response cache off, for
// catalogTTL. A write through this server drops it at once.
type catalogCache struct {
	mu  sync.Mutex
	at  time.Time
	ver string
	cat metrics.Catalog
}

var catalogTTL = 15 * time.Second

func (s *Server) catalog(ctx context.Context) (metrics.Catalog, error) {
	ver := ""
	if s.cache != nil {
		if v, err := s.cache.version(ctx); err == nil {
			ver = v
		}
	}
	cc := &s.catalogCache
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if !cc.at.IsZero() && (ver != "" && ver == cc.ver || ver == "" && time.Since(cc.at) < catalogTTL) {
		return cc.cat, nil
	}
	cat, err := s.cfg.Measures.Catalog(ctx)
	if err != nil {
		return cat, err
	}
	cc.cat, cc.at, cc.ver = cat, time.Now(), ver
	return cat, nil
}

// invalidateCatalog makes the next request read the catalog again (after
// an import through this server).
func (s *Server) invalidateCatalog() {
	s.catalogCache.mu.Lock()
	s.catalogCache.at = time.Time{}
	s.catalogCache.mu.Unlock()
}

// filter parses the common filters and checks the project and board exist.
func (s *Server) filter(c *fiber.Ctx) (metrics.Filter, error) {
	f, err := params{c: c, now: s.cfg.Now()}.filter()
	if err != nil {
		return f, err
	}
	if len(f.WaitStatuses) == 0 {
		f.WaitStatuses = s.waitStatuses(f.Project)
	}
	f.Rules = s.cfg.Rules[f.Project]
	if f.Project != "" || f.Board != 0 {
		cat, err := s.catalog(c.UserContext())
		if err != nil {
			return f, err
		}
		if f.Project != "" && !cat.HasProject(f.Project) {
			return f, evident.Errorf(evident.EINVALID, "project: unknown project %q", f.Project)
		}
		if f.Board != 0 && !cat.HasBoard(f.Board) {
			return f, evident.Errorf(evident.EINVALID, "board: unknown board %d", f.Board)
		}
	}
	return f, nil
}

func (s *Server) apiIssues(c *fiber.Ctx) error {
	f, err := s.filter(c)
	if err != nil {
		return err
	}
	// The issues list is not bounded by a date range unless one is given.
	if c.Query("from") == "" {
		f.From = time.Time{}
	}
	if c.Query("to") == "" {
		f.To = time.Time{}
	}
	p := params{c: c}
	limit, err := p.int("limit", 100, 1, 100000)
	if err != nil {
		return err
	}
	offset, err := p.int("offset", 0, 0, 1<<30)
	if err != nil {
		return err
	}
	page, err := s.cfg.Measures.Issues(c.UserContext(), f, limit, offset)
	if err != nil {
		return err
	}
	if c.Query("format") == "csv" || strings.Contains(c.Get("Accept"), "text/csv") {
		return sendCSV(c, "issues.csv", issuesCSV(page.Issues))
	}
	return c.JSON(page)
}

func (s *Server) apiSprints(c *fiber.Ctx) error {
	f, err := s.filter(c)
	if err != nil {
		return err
	}
	for _, name := range []string{"type", "category", "label"} {
		if c.Query(name) != "" {
			return evident.Errorf(evident.EINVALID, "%s: sprint reports count every issue of a sprint, as Jira's do; filter the retrospective (/api/v1/sprints/{id}) instead", name)
		}
	}
	board, _, err := s.sprintBoard(c, f)
	if err != nil {
		return err
	}
	if board == 0 {
		if f.Project != "" {
			return evident.Errorf(evident.EINVALID, "project: %s has no scrum board", f.Project)
		}
		return evident.Errorf(evident.EINVALID, "board: the id of a scrum board is required")
	}
	sprints, err := s.boardSprints(c, f, board)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"board": board, "sprints": sprints})
}

// sprintBoard is the scrum board a sprints request is about: the board
// named, else the first scrum board of the project (0 without either);
// and the scrum boards to choose from (the project's, or all).
func (s *Server) sprintBoard(c *fiber.Ctx, f metrics.Filter) (uint64, []metrics.CatalogBoard, error) {
	cat, err := s.catalog(c.UserContext())
	if err != nil {
		return 0, nil, err
	}
	var scrum []metrics.CatalogBoard
	for _, b := range cat.Boards {
		if b.Type == "scrum" && (f.Project == "" || b.Project == f.Project) && (f.Site == "" || b.Site == f.Site) {
			scrum = append(scrum, b)
		}
	}
	if f.Board != 0 {
		if f.Project == "" {
			return f.Board, scrum, nil
		}
		for _, b := range scrum {
			if b.ID == f.Board {
				return f.Board, scrum, nil
			}
		}
		return 0, scrum, evident.Errorf(evident.EINVALID, "board: %d is not a scrum board of %s", f.Board, f.Project)
	}
	if len(scrum) == 0 || f.Project == "" {
		return 0, scrum, nil // the caller chooses, or asks for a board
	}
	return scrum[0].ID, scrum, nil
}

// boardSprints reports a board's started sprints; an explicit from/to
// keeps those that started in the range.
func (s *Server) boardSprints(c *fiber.Ctx, f metrics.Filter, board uint64) ([]metrics.SprintReport, error) {
	all, err := s.cfg.Measures.Sprints(c.UserContext(), f.Site, board)
	if err != nil {
		return nil, err
	}
	if c.Query("from") == "" && c.Query("to") == "" {
		return all, nil
	}
	out := []metrics.SprintReport{}
	for _, r := range all {
		if r.StartAt != nil && !r.StartAt.Before(f.From) && r.StartAt.Before(f.To) {
			out = append(out, r)
		}
	}
	return out, nil
}

// apiRetrospective is one sprint's review: its report, the five sprints
// before, its burndown, its issues, the slowest and the aged ones. A
// sprint id is unique within a site, so the board is optional.
func (s *Server) apiRetrospective(c *fiber.Ctx) error {
	f, err := s.filter(c)
	if err != nil {
		return err
	}
	retro, err := s.retrospective(c, f)
	if err != nil {
		return err
	}
	return c.JSON(retro)
}

// retrospective reads the sprint id of the path and finds its board when
// the request names none.
func (s *Server) retrospective(c *fiber.Ctx, f metrics.Filter) (metrics.Retrospective, error) {
	id, err := strconv.ParseUint(c.Params("id"), 10, 64)
	if err != nil {
		return metrics.Retrospective{}, evident.Errorf(evident.EINVALID, "sprint: %q is not a sprint id", c.Params("id"))
	}
	if f.Board == 0 {
		site, board, err := s.cfg.Measures.SprintBoard(c.UserContext(), f.Site, id)
		if err != nil {
			return metrics.Retrospective{}, err
		}
		f.Site, f.Board = site, board
	}
	return s.cfg.Measures.Retrospective(c.UserContext(), f, id)
}

func (s *Server) apiReleases(c *fiber.Ctx) error {
	f, p, err := s.filterPeriod(c)
	if err != nil {
		return err
	}
	r, err := s.cfg.Measures.Releases(c.UserContext(), f, p)
	if err != nil {
		return err
	}
	return c.JSON(r)
}

func (s *Server) filterPeriod(c *fiber.Ctx) (metrics.Filter, metrics.Period, error) {
	f, err := s.filter(c)
	if err != nil {
		return f, "", err
	}
	p, err := params{c: c}.period()
	return f, p, err
}

func (s *Server) apiQuality(c *fiber.Ctx) error {
	f, p, err := s.filterPeriod(c)
	if err != nil {
		return err
	}
	q, err := s.cfg.Measures.Quality(c.UserContext(), f, p)
	if err != nil {
		return err
	}
	return c.JSON(q)
}

func (s *Server) apiValue(c *fiber.Ctx) error {
	f, p, err := s.filterPeriod(c)
	if err != nil {
		return err
	}
	v, err := s.cfg.Measures.ValueDelivered(c.UserContext(), f, p)
	if err != nil {
		return err
	}
	recs, err := s.cfg.Measures.ValueRecords(c.UserContext(), product(c, f), f.From, f.To)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"delivered": v, "records": recs})
}

// product is the product whose surveys and records a request is about:
// the product parameter, else the project.
func product(c *fiber.Ctx, f metrics.Filter) string {
	if p := strings.TrimSpace(c.Query("product")); p != "" {
		return p
	}
	return f.Project
}

func (s *Server) apiSatisfaction(c *fiber.Ctx) error {
	f, p, err := s.filterPeriod(c)
	if err != nil {
		return err
	}
	sat, err := s.cfg.Measures.Satisfaction(c.UserContext(), product(c, f), f.From, f.To, p)
	if err != nil {
		return err
	}
	return c.JSON(sat)
}

func (s *Server) apiEBM(c *fiber.Ctx) error {
	f, p, err := s.filterPeriod(c)
	if err != nil {
		return err
	}
	e, err := s.cfg.Measures.EBMCompared(c.UserContext(), f, product(c, f), p)
	if err != nil {
		return err
	}
	resp := fiber.Map{"from": e.From, "to": e.To, "period": e.Period, "kvas": e.KVAs, "previous_from": e.PreviousFrom, "previous_to": e.PreviousTo}
	if s.cfg.Inputs != nil {
		goals, err := s.cfg.Inputs.Goals(c.UserContext(), product(c, f))
		if err != nil {
			return err
		}
		if resp["goals"], err = s.cfg.Measures.GoalProgress(c.UserContext(), goals); err != nil {
			return err
		}
	}
	return c.JSON(resp)
}

// apiSignals answers "is this change a signal or noise?": the process
// behaviour chart (XmR) of weekly throughput and of each measure with
// enough whole periods; split=YYYY-MM-DD starts new limits there, and
// without it the latest annotation in the range does.
func (s *Server) apiSignals(c *fiber.Ctx) error {
	f, p, err := s.filterPeriod(c)
	if err != nil {
		return err
	}
	split, _, err := params{c: c}.date("split")
	if err != nil {
		return err
	}
	if !split.IsZero() && (split.Before(f.From) || !split.Before(f.To)) {
		return evident.Errorf(evident.EINVALID, "split: %s is outside from/to", split.Format("2006-01-02"))
	}
	var notes []evident.Annotation
	if split.IsZero() {
		// The latest annotated change in the range starts new limits.
		if notes, err = s.annotationsIn(c, product(c, f), f); err != nil {
			return err
		}
		if last, ok := lastChange(notes); ok {
			split = last.At
		}
	}
	series, err := s.cfg.Measures.Signals(c.UserContext(), f, product(c, f), p, split)
	if err != nil {
		return err
	}
	resp := fiber.Map{"from": f.From.Format("2006-01-02"), "to": f.To.Format("2006-01-02"), "period": p, "series": series, "split": nil}
	if !split.IsZero() {
		resp["split"] = split.Format("2006-01-02")
	}
	return c.JSON(resp)
}

// apiEpics forecasts when each open epic of a project will be done, the
// team working through them in rank order.
func (s *Server) apiEpics(c *fiber.Ctx) error {
	f, err := s.filter(c)
	if err != nil {
		return err
	}
	if f.Project == "" {
		return evident.Errorf(evident.EINVALID, "project: required (epics are forecast from their own team's throughput)")
	}
	o, err := epicOptions(c)
	if err != nil {
		return err
	}
	out, err := s.cfg.Measures.Epics(c.UserContext(), f, o)
	if err != nil {
		return err
	}
	if c.Query("format") == "csv" || strings.Contains(c.Get("Accept"), "text/csv") {
		return sendCSV(c, "epics-"+f.Project+".csv", epicsCSV(out))
	}
	return c.JSON(out)
}

// epicsCSV is the epic forecast as a table, one row per open epic.
func epicsCSV(out metrics.EpicForecasts) [][]string {
	rows := [][]string{{"position", "key", "summary", "status", "items", "done", "remaining", "estimated", "p50", "p85", "p95", "due", "chance_by_due", "overdue", "initiative"}}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	for _, e := range out.Epics {
		chance := ""
		if e.OnTime != nil {
			chance = strconv.FormatFloat(*e.OnTime, 'f', -1, 64)
		}
		rows = append(rows, []string{strconv.Itoa(e.Position), e.Key, e.Summary, e.Status, strconv.Itoa(e.Children), strconv.Itoa(e.Done),
			strconv.Itoa(e.Remaining), strconv.FormatBool(e.Estimated), str(e.When["p50"]), str(e.When["p85"]), str(e.When["p95"]),
			str(e.Due), chance, strconv.FormatBool(e.Overdue), e.Initiative})
	}
	return rows
}

// epicOptions reads an epic forecast's assumptions: history= days of
// throughput (90), wip= epics worked on at once (1), unsplit= items of an
// epic not split yet (default: the median of the done epics).
func epicOptions(c *fiber.Ctx) (metrics.EpicOptions, error) {
	p := params{c: c}
	var o metrics.EpicOptions
	var err error
	if o.HistoryDays, err = p.int("history", 90, 7, 730); err != nil {
		return o, err
	}
	if o.WIP, err = p.int("wip", 1, 1, 20); err != nil {
		return o, err
	}
	if c.Query("unsplit") != "" {
		n, err := p.int("unsplit", 0, 0, 1000)
		if err != nil {
			return o, err
		}
		o.Unsplit = &n
	}
	return o, nil
}

func (s *Server) apiForecast(c *fiber.Ctx) error {
	f, err := s.filter(c)
	if err != nil {
		return err
	}
	p := params{c: c, now: s.cfg.Now()}
	var req metrics.ForecastRequest
	if req.Items, err = p.int("items", 0, 1, 100000); err != nil {
		return err
	}
	until, hasUntil, err := p.date("until")
	if err != nil {
		return err
	}
	if (req.Items == 0) == !hasUntil {
		return evident.Errorf(evident.EINVALID, "items or until: give exactly one (items=K for when K items will be done, until=YYYY-MM-DD for how many by then)")
	}
	if hasUntil {
		today := s.cfg.Now().UTC().Truncate(24 * time.Hour)
		if !until.After(today) {
			return evident.Errorf(evident.EINVALID, "until: %s is not after today", until.Format("2006-01-02"))
		}
		if until.Sub(today) > 5*366*24*time.Hour {
			return evident.Errorf(evident.EINVALID, "until: %s is more than five years ahead", until.Format("2006-01-02"))
		}
		req.Until = until
	}
	if req.HistoryDays, err = p.int("history", 90, 7, 730); err != nil {
		return err
	}
	fc, err := s.cfg.Measures.Forecast(c.UserContext(), f, req)
	if err != nil {
		return err
	}
	s.recordForecast(c, f, fc)
	return c.JSON(fc)
}

func (s *Server) apiHealth(c *fiber.Ctx) error {
	h, err := s.cfg.Measures.Health(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(h)
}

func (s *Server) apiCatalog(c *fiber.Ctx) error {
	cat, err := s.catalog(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(cat)
}

func issuesCSV(issues []metrics.IssueRow) [][]string {
	rows := [][]string{{"key", "project", "type", "summary", "status", "status_category", "created_at", "started_at", "done_at", "resolved_at",
		"lead_time_days", "cycle_time_days", "story_points", "business_value", "sprint_ids"}}
	for _, is := range issues {
		ids := make([]string, len(is.SprintIDs))
		for i, id := range is.SprintIDs {
			ids[i] = strconv.FormatUint(id, 10)
		}
		created := is.CreatedAt
		rows = append(rows, []string{is.Key, is.Project, is.Type, is.Summary, is.Status, is.StatusCategory, fmtTime(&created),
			fmtTime(is.StartedAt), fmtTime(is.DoneAt), fmtTime(is.ResolvedAt), fmtNum(is.LeadTimeDays), fmtNum(is.CycleTimeDays),
			fmtNum(is.StoryPoints), fmtNum(is.BusinessValue), strings.Join(ids, " ")})
	}
	return rows
}

// backlogParams reads a backlog request: a project, or a board (its
// project, and its sprints for the velocity).
func (s *Server) backlogParams(c *fiber.Ctx) (metrics.Filter, uint64, metrics.BacklogRequest, metrics.Period, error) {
	var req metrics.BacklogRequest
	f, p, err := s.filterPeriod(c)
	if err != nil {
		return f, 0, req, p, err
	}
	pp := params{c: c}
	if req.TopN, err = pp.int("top", 20, 1, 1000); err != nil {
		return f, 0, req, p, err
	}
	if req.UntouchedDays, err = pp.int("untouched", 90, 1, 3650); err != nil {
		return f, 0, req, p, err
	}
	board := f.Board
	cat, err := s.catalog(c.UserContext())
	if err != nil {
		return f, 0, req, p, err
	}
	if board != 0 {
		for _, b := range cat.Boards {
			if b.ID == board {
				f.Project = b.Project
			}
		}
		f.Board = 0
	}
	if f.Project == "" {
		return f, 0, req, p, evident.Errorf(evident.EINVALID, "project or board: name the backlog to measure")
	}
	if board == 0 {
		board = cat.BacklogBoard(f.Site, f.Project)
	}
	return f, board, req, p, nil
}

func (s *Server) apiBacklog(c *fiber.Ctx) error {
	f, board, req, p, err := s.backlogParams(c)
	if err != nil {
		return err
	}
	b, err := s.cfg.Measures.Backlog(c.UserContext(), f, board, req, p)
	if err != nil {
		return err
	}
	return c.JSON(b)
}

// waitStatuses are the configured wait statuses of a project, or of every
// project when none is named.
func (s *Server) waitStatuses(project string) []string {
	if project != "" {
		return s.cfg.WaitStatuses[project]
	}
	seen := map[string]bool{}
	var out []string
	for _, list := range s.cfg.WaitStatuses {
		for _, w := range list {
			if !seen[w] {
				seen[w] = true
				out = append(out, w)
			}
		}
	}
	sort.Strings(out)
	return out
}
