package metrics

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/schema"
)

// DataHealth says how fresh and how clean the collected data is.
type DataHealth struct {
	Sites            []SiteHealth          `json:"sites"`
	Problems         []evident.SyncProblem `json:"problems"`
	ProblemCount     int                   `json:"problem_count"`
	UnmappedStatuses []UnmappedState       `json:"unmapped_statuses"`
	// Quality is every data quality check with the issues that failed it;
	// IssuesChecked is how many issues the checks ran on.
	Quality       []QualityCheck `json:"quality"`
	IssuesChecked uint64         `json:"issues_checked"`
	// Skipped are the issues that could not be stored at all.
	Skipped      []SkippedRow `json:"skipped"`
	SkippedCount int          `json:"skipped_count"`
	// Boards are the boards' columns as Jira configures them, with the
	// statuses of the site that no column of the board holds.
	Boards []BoardHealth `json:"boards"`
}

// BoardHealth is one board's configuration in words.
type BoardHealth struct {
	Site    string `json:"site"`
	BoardID uint64 `json:"board_id"`
	Name    string `json:"name"`
	Type    string `json:"type"`
	Project string `json:"project"`
	// Projects are every project the board is listed for (Project is the
	// first of them).
	Projects []string      `json:"projects"`
	Columns  []BoardColumn `json:"columns"`
	// Unmapped are the site's statuses no column holds: the board does
	// not show issues in them.
	Unmapped []string `json:"unmapped_statuses"`
	// Cycle says where cycle time starts and ends on the board's project
	// (docs/metrics.md, "Cycle time by board columns").
	Cycle string `json:"cycle"`
}

// cycleOf says in words where the project's cycle starts and ends, from
// the cycles the site's issues were extracted with (sites.cycles).
func cycleOf(cycles string, project string) string {
	var c map[string]struct {
		Board       uint64 `json:"board"`
		StartColumn string `json:"start_column"`
		EndColumn   string `json:"end_column"`
	}
	if json.Unmarshal([]byte(cycles), &c) != nil || c[project].StartColumn == "" {
		return "from the first in-progress status to the done category (Jira's categories)"
	}
	p := c[project]
	end := "the done category"
	if p.EndColumn != "" {
		end = fmt.Sprintf("column %q", p.EndColumn)
	}
	return fmt.Sprintf("from column %q to %s of board %d", p.StartColumn, end, p.Board)
}

// BoardColumn is a column with its statuses (by name) and WIP limits
// (null: none).
type BoardColumn struct {
	Name     string   `json:"name"`
	Statuses []string `json:"statuses"`
	// ids are the statuses by id, for the checks across columns.
	ids []string
	Min *int32 `json:"min"`
	Max *int32 `json:"max"`
}

// boardHealth reads the boards' columns and names their statuses.
func (s *Service) boardHealth(ctx context.Context) ([]BoardHealth, error) {
	var configs []evident.BoardConfig
	var boards []evident.Board
	var statuses []struct {
		Site string `ch:"site"`
		ID   string `ch:"status_id"`
		Name string `ch:"name"`
	}
	var sites []struct {
		Site   string `ch:"site"`
		Cycles string `ch:"cycles"`
	}
	err := parallel(
		func() error {
			return s.DB.Select(ctx, &configs, "SELECT * FROM board_config FINAL ORDER BY site, board_id")
		},
		func() error {
			return s.DB.Select(ctx, &boards, "SELECT site, board_id, name, type, project_key, toUInt64(0) AS version FROM "+schema.BoardProjects+" ORDER BY project_key")
		},
		func() error {
			return s.DB.Select(ctx, &statuses, "SELECT site, status_id, name FROM statuses FINAL ORDER BY site, name, status_id")
		},
		func() error { return s.DB.Select(ctx, &sites, "SELECT site, cycles FROM sites FINAL") },
	)
	if err != nil {
		return nil, fmt.Errorf("board health: %w", err)
	}
	type key struct {
		site string
		id   uint64
	}
	board := map[key]evident.Board{}
	projects := map[key][]string{}
	for _, b := range boards {
		k := key{b.Site, b.BoardID}
		if _, ok := board[k]; !ok {
			board[k] = b
		}
		projects[k] = append(projects[k], b.ProjectKey)
	}
	name := map[[2]string]string{}
	for _, st := range statuses {
		name[[2]string{st.Site, st.ID}] = st.Name
	}
	cycles := map[string]string{}
	for _, st := range sites {
		cycles[st.Site] = st.Cycles
	}
	out := []BoardHealth{}
	for _, c := range configs {
		b := board[key{c.Site, c.BoardID}]
		ps := projects[key{c.Site, c.BoardID}]
		if ps == nil {
			ps = []string{}
		}
		h := BoardHealth{Site: c.Site, BoardID: c.BoardID, Name: b.Name, Type: b.Type, Project: b.ProjectKey, Projects: ps, Columns: []BoardColumn{}, Unmapped: []string{},
			Cycle: cycleOf(cycles[c.Site], b.ProjectKey)}
		held := map[string]bool{}
		for i, col := range c.ColumnNames {
			bc := BoardColumn{Name: col, Statuses: []string{}, ids: c.ColumnStatuses[i]}
			for _, id := range c.ColumnStatuses[i] {
				held[id] = true
				n := name[[2]string{c.Site, id}]
				if n == "" {
					n = "status " + id + " (deleted)"
				}
				bc.Statuses = append(bc.Statuses, n)
			}
			if v := c.ColumnMin[i]; v >= 0 {
				bc.Min = &v
			}
			if v := c.ColumnMax[i]; v >= 0 {
				bc.Max = &v
			}
			h.Columns = append(h.Columns, bc)
		}
		for _, st := range statuses {
			if st.Site == c.Site && !held[st.ID] {
				h.Unmapped = append(h.Unmapped, st.Name)
			}
		}
		out = append(out, h)
	}
	return out, nil
}

// QualityCheck is a data quality check, how many issues failed it, and
// the first MaxQualityExamples of them.
type QualityCheck struct {
	evident.Check
	Issues   uint64         `json:"issues"`
	Examples []QualityIssue `json:"examples"`
}

// QualityIssue is an issue that failed a check, and what exactly.
type QualityIssue struct {
	Site string `json:"site"`
	Key  string `json:"key"`
	Note string `json:"note"`
}

// MaxQualityExamples is how many issues a check names.
const MaxQualityExamples = 20

// SkippedRow is an issue the collector could not store, and why.
type SkippedRow struct {
	Site   string    `json:"site" ch:"site"`
	Key    string    `json:"key" ch:"issue_key"`
	Reason string    `json:"reason" ch:"reason"`
	SeenAt time.Time `json:"seen_at" ch:"seen_at"`
}

// SiteHealth is the state of one site.
type SiteHealth struct {
	Site          string     `json:"site" ch:"site"`
	URL           string     `json:"url" ch:"url"`
	Deployment    string     `json:"deployment" ch:"deployment_type"`
	Issues        uint64     `json:"issues" ch:"-"`
	Transitions   uint64     `json:"transitions" ch:"-"`
	Sprints       uint64     `json:"sprints" ch:"-"`
	LastSync      *time.Time `json:"last_sync" ch:"-"`
	LastStatus    string     `json:"last_status" ch:"-"`
	LastError     string     `json:"last_error" ch:"-"`
	LastMode      string     `json:"last_mode" ch:"-"`
	LastFetched   uint64     `json:"last_issues_fetched" ch:"-"`
	LastSuccess   *time.Time `json:"last_success" ch:"-"`
	ProblemsTotal uint64     `json:"problems" ch:"-"`
}

// UnmappedState is a status seen in changelogs that /status does not know.
type UnmappedState struct {
	Site   string `json:"site" ch:"site"`
	Status string `json:"status" ch:"status"`
	ID     string `json:"id" ch:"status_id"`
	Uses   uint64 `json:"transitions" ch:"uses"`
}

// Health reports the last sync of every site, row counts and problems.
func (s *Service) Health(ctx context.Context) (DataHealth, error) {
	out := DataHealth{Sites: []SiteHealth{}, Problems: []evident.SyncProblem{}, UnmappedStatuses: []UnmappedState{}}
	// One query per table: ClickHouse 18.16 allows one JOIN per query.
	if err := s.DB.Select(ctx, &out.Sites, "SELECT site, url, deployment_type FROM sites FINAL ORDER BY site"); err != nil {
		return out, fmt.Errorf("site health: %w", err)
	}
	type siteCount struct {
		Site string `ch:"site"`
		N    uint64 `ch:"n"`
	}
	counts := func(q string) (map[string]uint64, error) {
		var rows []siteCount
		if err := s.DB.Select(ctx, &rows, q); err != nil {
			return nil, fmt.Errorf("site health: %w", err)
		}
		m := map[string]uint64{}
		for _, r := range rows {
			m[r.Site] = r.N
		}
		return m, nil
	}
	var issues, trans, sprints, problems map[string]uint64
	var runs []struct {
		Site        string    `ch:"site"`
		LastSync    time.Time `ch:"last_sync"`
		Status      string    `ch:"last_status"`
		Error       string    `ch:"last_error"`
		Mode        string    `ch:"last_mode"`
		Fetched     uint64    `ch:"last_fetched"`
		LastSuccess time.Time `ch:"last_success"`
	}
	err := parallel(
		func() (err error) {
			issues, err = counts("SELECT site, count() AS n FROM issues_current WHERE " + schema.Current + " GROUP BY site")
			return
		},
		func() (err error) {
			trans, err = counts("SELECT site, sum(uses) AS n FROM status_usage WHERE " + schema.Current + " GROUP BY site")
			return
		},
		func() (err error) {
			sprints, err = counts("SELECT site, count() AS n FROM sprints FINAL GROUP BY site")
			return
		},
		func() (err error) {
			problems, err = counts("SELECT site, count() AS n FROM sync_problems GROUP BY site")
			return
		},
		func() error {
			q := `SELECT site, max(finished_at) AS last_sync, argMax(status, finished_at) AS last_status, argMax(error, finished_at) AS last_error,
				argMax(mode, finished_at) AS last_mode, argMax(issues_fetched, finished_at) AS last_fetched,
				maxIf(finished_at, status = 'ok') AS last_success FROM sync_runs GROUP BY site`
			if err := s.DB.Select(ctx, &runs, q); err != nil {
				return fmt.Errorf("site health: %w", err)
			}
			return nil
		},
	)
	if err != nil {
		return out, err
	}
	for i := range out.Sites {
		sh := &out.Sites[i]
		sh.Issues, sh.Transitions, sh.Sprints, sh.ProblemsTotal = issues[sh.Site], trans[sh.Site], sprints[sh.Site], problems[sh.Site]
		for _, r := range runs {
			if r.Site != sh.Site {
				continue
			}
			last := r.LastSync.UTC()
			sh.LastSync, sh.LastStatus, sh.LastError, sh.LastMode, sh.LastFetched = &last, r.Status, r.Error, r.Mode, r.Fetched
			if r.LastSuccess.Unix() > 0 {
				ok := r.LastSuccess.UTC()
				sh.LastSuccess = &ok
			}
		}
	}
	var n uint64
	if err = s.DB.QueryRow(ctx, "SELECT count() FROM sync_problems", nil, &n); err != nil {
		return out, fmt.Errorf("problem count: %w", err)
	}
	out.ProblemCount = int(n)
	if err := s.DB.Select(ctx, &out.Problems, "SELECT site, run_id, issue_key, field, message, seen_at FROM sync_problems ORDER BY seen_at DESC, issue_key LIMIT 100"); err != nil {
		return out, fmt.Errorf("problems: %w", err)
	}
	// status_usage holds a row per piece of the read model: summed.
	q := `SELECT site, status, status_id, toUInt64(sum(uses)) AS uses FROM status_usage
		WHERE ` + schema.Current + ` AND (site, status_id) NOT IN (SELECT site, status_id FROM statuses FINAL)
		GROUP BY site, status, status_id ORDER BY uses DESC, status LIMIT 100`
	if err := s.DB.Select(ctx, &out.UnmappedStatuses, q); err != nil {
		return out, fmt.Errorf("unmapped statuses: %w", err)
	}
	if err := s.quality(ctx, &out); err != nil {
		return out, err
	}
	if out.Problems == nil {
		out.Problems = []evident.SyncProblem{}
	}
	if out.UnmappedStatuses == nil {
		out.UnmappedStatuses = []UnmappedState{}
	}
	return out, nil
}

// quality fills the data quality section: per check, how many issues of
// the read model failed it and the first of them; and the skipped issues.
func (s *Service) quality(ctx context.Context, out *DataHealth) error {
	var counts []struct {
		Check string `ch:"check"`
		N     uint64 `ch:"n"`
	}
	var examples []struct {
		Check string `ch:"check"`
		Site  string `ch:"site"`
		Key   string `ch:"issue_key"`
		Note  string `ch:"note"`
	}
	err := parallel(
		func() error {
			q := "SELECT f AS check, count() AS n FROM issues_current ARRAY JOIN findings AS f WHERE " + schema.Current + " GROUP BY f"
			if err := s.DB.Select(ctx, &counts, q); err != nil {
				return fmt.Errorf("quality counts: %w", err)
			}
			return nil
		},
		func() error {
			q := `SELECT f AS check, site, issue_key, note FROM issues_current ARRAY JOIN findings AS f, finding_notes AS note
				WHERE ` + schema.Current + ` ORDER BY f, site, issue_key LIMIT ` + strconv.Itoa(MaxQualityExamples) + ` BY f`
			if err := s.DB.Select(ctx, &examples, q); err != nil {
				return fmt.Errorf("quality examples: %w", err)
			}
			return nil
		},
		func() error {
			return s.DB.QueryRow(ctx, "SELECT count() FROM issues_current WHERE "+schema.Current, nil, &out.IssuesChecked)
		},
		func() error {
			var n uint64
			if err := s.DB.QueryRow(ctx, "SELECT count() FROM skipped_issues FINAL WHERE skipped = 1", nil, &n); err != nil {
				return fmt.Errorf("skipped issues: %w", err)
			}
			out.SkippedCount = int(n)
			out.Skipped = []SkippedRow{}
			q := "SELECT site, issue_key, reason, seen_at FROM skipped_issues FINAL WHERE skipped = 1 ORDER BY seen_at DESC, site, issue_key LIMIT 100"
			if err := s.DB.Select(ctx, &out.Skipped, q); err != nil {
				return fmt.Errorf("skipped issues: %w", err)
			}
			return nil
		},
		func() (err error) {
			out.Boards, err = s.boardHealth(ctx)
			return err
		},
	)
	if err != nil {
		return err
	}
	derived, err := s.derivedChecks(ctx, out.Boards)
	if err != nil {
		return err
	}
	for _, d := range derived {
		counts = append(counts, struct {
			Check string `ch:"check"`
			N     uint64 `ch:"n"`
		}{d.check, d.n})
		for _, e := range d.examples {
			examples = append(examples, struct {
				Check string `ch:"check"`
				Site  string `ch:"site"`
				Key   string `ch:"issue_key"`
				Note  string `ch:"note"`
			}{d.check, e.Site, e.Key, e.Note})
		}
	}
	out.Quality = make([]QualityCheck, 0, len(evident.Checks))
	for _, c := range evident.Checks {
		qc := QualityCheck{Check: c, Examples: []QualityIssue{}}
		for _, n := range counts {
			if n.Check == c.Code {
				qc.Issues = n.N
			}
		}
		for _, e := range examples {
			if e.Check == c.Code {
				qc.Examples = append(qc.Examples, QualityIssue{Site: e.Site, Key: e.Key, Note: e.Note})
			}
		}
		out.Quality = append(out.Quality, qc)
	}
	for i := range out.Skipped {
		out.Skipped[i].SeenAt = out.Skipped[i].SeenAt.UTC()
	}
	return nil
}

// Catalog lists what can be filtered on: sites, projects and boards.
type Catalog struct {
	Projects []CatalogProject `json:"projects"`
	Boards   []CatalogBoard   `json:"boards"`
	Types    []string         `json:"issue_types"`
	Products []string         `json:"products"`
}

// CatalogProject is a project known to Evident.
type CatalogProject struct {
	Site string `json:"site" ch:"site"`
	Key  string `json:"key" ch:"project_key"`
	Name string `json:"name" ch:"name"`
}

// CatalogBoard is a board known to Evident.
type CatalogBoard struct {
	Site    string `json:"site" ch:"site"`
	ID      uint64 `json:"id" ch:"board_id"`
	Name    string `json:"name" ch:"name"`
	Type    string `json:"type" ch:"type"`
	Project string `json:"project" ch:"project_key"`
}

// Catalog returns the projects, boards, issue types and products.
func (s *Service) Catalog(ctx context.Context) (Catalog, error) {
	var c Catalog
	if err := s.DB.Select(ctx, &c.Projects, "SELECT site, project_key, name FROM projects FINAL ORDER BY project_key, site"); err != nil {
		return c, fmt.Errorf("catalog projects: %w", err)
	}
	if err := s.DB.Select(ctx, &c.Boards, "SELECT site, board_id, name, type, project_key FROM "+schema.BoardProjects+" ORDER BY project_key, board_id"); err != nil {
		return c, fmt.Errorf("catalog boards: %w", err)
	}
	var types []struct {
		T string `ch:"issue_type"`
	}
	if err := s.DB.Select(ctx, &types, "SELECT DISTINCT issue_type FROM issues_current WHERE "+schema.Current+" ORDER BY issue_type"); err != nil {
		return c, fmt.Errorf("catalog types: %w", err)
	}
	for _, t := range types {
		c.Types = append(c.Types, t.T)
	}
	var products []struct {
		P string `ch:"product"`
	}
	if err := s.DB.Select(ctx, &products, `SELECT DISTINCT product FROM (SELECT product FROM satisfaction_responses UNION ALL
		SELECT product FROM value_records UNION ALL SELECT project_key AS product FROM projects) ORDER BY product`); err != nil {
		return c, fmt.Errorf("catalog products: %w", err)
	}
	for _, p := range products {
		c.Products = append(c.Products, p.P)
	}
	if c.Projects == nil {
		c.Projects = []CatalogProject{}
	}
	if c.Boards == nil {
		c.Boards = []CatalogBoard{}
	}
	if c.Types == nil {
		c.Types = []string{}
	}
	if c.Products == nil {
		c.Products = []string{}
	}
	return c, nil
}

// HasProject reports whether a project key is known.
func (c Catalog) HasProject(key string) bool {
	for _, p := range c.Projects {
		if p.Key == key {
			return true
		}
	}
	return false
}

// HasBoard reports whether a board id is known.
func (c Catalog) HasBoard(id uint64) bool {
	for _, b := range c.Boards {
		if b.ID == id {
			return true
		}
	}
	return false
}

// BacklogBoard is the board whose backlog stands for a project's: the
// project's first scrum board in the catalog, on site ("" for any); 0 when
// it has none (the project's open issues are its backlog then).
func (c Catalog) BacklogBoard(site, project string) uint64 {
	for _, b := range c.Boards {
		if b.Project == project && b.Type == "scrum" && (site == "" || b.Site == site) {
			return b.ID
		}
	}
	return 0
}
