package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // sites name time zones the machine may lack

	jira "github.com/andygrunwald/go-jira"

	"github.com/evident-ebm/evident"
)

// Store is what the collector needs from storage.
type Store interface {
	InsertSites(ctx context.Context, rows []evident.Site) error
	InsertProjects(ctx context.Context, rows []evident.Project) error
	InsertStatuses(ctx context.Context, rows []evident.Status) error
	InsertRawIssues(ctx context.Context, rows []evident.RawIssue) error
	InsertIssues(ctx context.Context, rows []evident.Issue) error
	InsertTransitions(ctx context.Context, rows []evident.Transition) error
	InsertSprintChanges(ctx context.Context, rows []evident.SprintChange) error
	InsertFieldChanges(ctx context.Context, rows []evident.FieldChange) error
	InsertBacklogFacts(ctx context.Context, rows []evident.BacklogFacts) error
	InsertBoards(ctx context.Context, rows []evident.Board) error
	InsertSprints(ctx context.Context, rows []evident.Sprint) error
	InsertReleases(ctx context.Context, rows []evident.Release) error
	InsertSyncRuns(ctx context.Context, rows []evident.SyncRun) error
	InsertSyncProblems(ctx context.Context, rows []evident.SyncProblem) error
	InsertSatisfaction(ctx context.Context, rows []evident.SatisfactionResponse) error
	InsertTimelines(ctx context.Context, rows []evident.IssueTimeline) error
	InsertSkippedIssues(ctx context.Context, rows []evident.SkippedIssue) error
	// SkippedIssues returns the keys of a site's issues skipped and not
	// stored since.
	SkippedIssues(ctx context.Context, site string) ([]string, error)
	// LacksTimelines says a site has stored issues but no timelines: data
	// of a version before timelines were stored, to re-extract.
	LacksTimelines(ctx context.Context, site string) (bool, error)
	SaveCheckpoint(ctx context.Context, site, scope string, at time.Time) error
	Checkpoint(ctx context.Context, site, scope string) (time.Time, bool, error)
	StoredHashes(ctx context.Context, site string, ids []uint64) (map[uint64]uint64, error)
	LiveIssueIDs(ctx context.Context, site string, projects []string) ([]uint64, error)
	MarkDeleted(ctx context.Context, site string, ids []uint64, version uint64) error
	EachRawIssue(ctx context.Context, site string, fn func(evident.RawIssue) error) error
	Statuses(ctx context.Context, site string) ([]evident.Status, error)
	Site(ctx context.Context, site string) (evident.Site, bool, error)
	// RefreshReadModel rebuilds the deduplicated tables the metrics read
	// when the Jira tables changed since the last build.
	RefreshReadModel(ctx context.Context) (took time.Duration, built bool, err error)
}

// Mode is what a sync run does.
type Mode string

// Sync modes.
const (
	// Incremental fetches issues updated since the last checkpoint (all
	// issues of a project never synced).
	Incremental Mode = "incremental"
	// Full fetches every issue and marks stored issues Jira no longer
	// returns as deleted.
	Full Mode = "full"
	// Rebuild re-extracts rows from the stored raw JSON, calling no Jira.
	Rebuild Mode = "rebuild"
)

// Syncer runs syncs of Jira sites into a Store.
type Syncer struct {
	Store Store
	Log   *slog.Logger
	// Progress, when set, is told how far a run has come.
	Progress func(Progress)
	// Now is the clock; the checkpoint is the time a run started.
	Now func() time.Time
	// FlushIssues is how many issues are buffered before they are written.
	FlushIssues int
}

// Progress is the state of a running sync.
type Progress struct {
	Site, Project string
	Fetched       int
	Total         int // -1 when unknown
	Started       time.Time
	Done          bool
}

// Summary says what a sync run did.
type Summary struct {
	Site           string
	Deployment     string
	Mode           Mode
	Fetched        int
	New            int
	Changed        int
	Unchanged      int
	Deleted        int
	Requests       int64
	Retries        int64
	Problems       int // things about the site (sprints, versions) stepped over
	Findings       int // issues stored with data quality findings
	Skipped        int // issues that could not be stored at all
	Duration       time.Duration
	ProjectsSynced []string
	// ReadModel is how long rebuilding the read model took (0: it was
	// current).
	ReadModel time.Duration
}

// NewSyncer returns a Syncer with defaults.
func NewSyncer(store Store, log *slog.Logger) *Syncer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Syncer{Store: store, Log: log, Now: time.Now, FlushIssues: 2000}
}

// siteMeta is what the preflight learned about a site.
type siteMeta struct {
	cloud    bool
	deploy   string
	loc      *time.Location
	fields   FieldIDs
	statuses map[string]string
	named    []evident.Status // /rest/api/2/status with names
	projects map[string]jira.Project
}

// run is the state of one sync of one site.
type run struct {
	s        *Syncer
	cfg      SiteConfig
	c        *jiraClient
	meta     siteMeta
	mapping  Mapping
	version  uint64
	started  time.Time
	runID    string
	sum      Summary
	problems []evident.SyncProblem
	// skipped are the issues this run could not store; wasSkipped the keys
	// skipped by earlier runs, unskipped those of them this run stored.
	skipped    []evident.SkippedIssue
	wasSkipped map[string]bool
	unskipped  []string
	seen       map[uint64]bool
	reported   map[string]bool
	desks      map[string]bool      // projects that are service desks
	resolved   map[string]time.Time // done issues of desks fetched in this run: key → done_at
	mu         sync.Mutex
}

// Sync runs one sync of a site. Configuration, credentials, URL and project
// keys are checked before anything is written; checkpoints are saved only
// after everything the run fetched is stored.
func (s *Syncer) Sync(ctx context.Context, cfg SiteConfig, mode Mode) (Summary, error) {
	cfg.Defaults()
	started := s.Now().UTC()
	// Row versions and the run id come from the wall clock, which only
	// grows; the checkpoint is the started time of the clock the Syncer
	// was handed (Jira's "now", which a test or the demo may set).
	wall := time.Now().UnixNano()
	r := &run{s: s, cfg: cfg, version: uint64(wall), started: started, seen: map[uint64]bool{},
		runID: strconv.FormatInt(wall, 36)}
	r.sum = Summary{Site: cfg.Name, Mode: mode}
	var err error
	var keys []string
	if keys, err = s.Store.SkippedIssues(ctx, cfg.Name); err == nil {
		r.wasSkipped = map[string]bool{}
		for _, k := range keys {
			r.wasSkipped[k] = true
		}
		var lacks bool
		lacks, err = s.Store.LacksTimelines(ctx, cfg.Name)
		switch {
		case err != nil:
		case mode == Rebuild:
			err = r.rebuild(ctx)
		case lacks:
			// Stored by a version that kept no timelines: re-extract
			// everything from the raw JSON first, then sync as asked.
			s.Log.Info("re-extracting the stored issues of an earlier version", "site", cfg.Name)
			if err = r.rebuild(ctx); err == nil {
				r.sum.Fetched, r.sum.Changed = 0, 0
				err = r.sync(ctx, mode)
			}
		default:
			err = r.sync(ctx, mode)
		}
	}
	if err == nil {
		// Also after a run that changed nothing: an earlier run may have
		// failed after storing pages.
		var built bool
		r.sum.ReadModel, built, err = s.Store.RefreshReadModel(ctx)
		if err != nil {
			err = fmt.Errorf("rebuild the read model: %w", err)
		} else if built {
			s.Log.Info("read model rebuilt", "site", cfg.Name, "seconds", r.sum.ReadModel.Seconds())
		}
	}
	r.sum.Duration = s.Now().Sub(started)
	if r.c != nil {
		r.sum.Requests = r.c.transport.requests.Load()
		r.sum.Retries = r.c.transport.retries.Load()
	}
	r.sum.Problems = len(r.problems)
	r.record(err)
	return r.sum, err
}

func (r *run) record(runErr error) {
	// Record the run even when ctx was cancelled: use a fresh deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	status, msg := "ok", ""
	if runErr != nil {
		status, msg = "failed", evident.ErrorMessage(runErr)
		if evident.ErrorCode(runErr) == evident.EINTERNAL {
			msg = runErr.Error()
		}
	}
	if len(r.problems) > 0 {
		if err := r.s.Store.InsertSyncProblems(ctx, r.problems); err != nil {
			r.s.Log.Error("record sync problems", "err", err)
		}
	}
	skips := append([]evident.SkippedIssue(nil), r.skipped...)
	for _, key := range r.unskipped {
		skips = append(skips, evident.SkippedIssue{Site: r.cfg.Name, IssueKey: key, Reason: "stored", SeenAt: r.started.Truncate(time.Second), Skipped: 0, Version: r.version + 1})
	}
	if err := r.s.Store.InsertSkippedIssues(ctx, skips); err != nil {
		r.s.Log.Error("record skipped issues", "err", err)
	}
	r.sum.Skipped = len(r.skipped)
	err := r.s.Store.InsertSyncRuns(ctx, []evident.SyncRun{{Site: r.cfg.Name, RunID: r.runID, StartedAt: r.started.Truncate(time.Second),
		FinishedAt: r.s.Now().UTC().Truncate(time.Second), Mode: string(r.sum.Mode), Status: status, Error: msg,
		IssuesFetched: uint64(r.sum.Fetched), IssuesNew: uint64(r.sum.New), IssuesChanged: uint64(r.sum.Changed), IssuesDeleted: uint64(r.sum.Deleted),
		Requests: uint64(r.sum.Requests), Retries: uint64(r.sum.Retries), Problems: uint64(len(r.problems))}})
	if err != nil {
		r.s.Log.Error("record sync run", "err", err)
	}
}

func (r *run) sync(ctx context.Context, mode Mode) error {
	if err := r.cfg.Validate(); err != nil {
		return evident.Errorf(evident.EINVALID, "%v", err)
	}
	c, err := newJiraClient(r.cfg, r.s.Log)
	if err != nil {
		return err
	}
	r.c = c
	if err := r.preflight(ctx); err != nil {
		return err
	}
	if err := r.storeMetadata(ctx); err != nil {
		return err
	}
	if err := r.agile(ctx); err != nil {
		return err
	}
	if err := r.findServiceDesks(ctx); err != nil {
		return err
	}
	checkpoints := map[string]time.Time{}
	for _, key := range r.cfg.Projects {
		since := time.Time{}
		if mode == Incremental {
			cp, ok, err := r.s.Store.Checkpoint(ctx, r.cfg.Name, key)
			if err != nil {
				return err
			}
			if ok {
				since = cp.Add(-r.cfg.Overlap)
			}
		}
		if err := r.issues(ctx, key, since); err != nil {
			return err
		}
		if err := r.serviceDeskFeedback(ctx); err != nil {
			return err
		}
		checkpoints[key] = r.started
		r.sum.ProjectsSynced = append(r.sum.ProjectsSynced, key)
	}
	if mode == Full {
		if err := r.markDeleted(ctx); err != nil {
			return err
		}
	}
	for key, at := range checkpoints {
		if err := r.s.Store.SaveCheckpoint(ctx, r.cfg.Name, key, at); err != nil {
			return err
		}
	}
	return nil
}

// preflight learns the deployment, time zone, fields and statuses, and
// checks that every configured project exists, before anything is written.
func (r *run) preflight(ctx context.Context) error {
	var info struct {
		DeploymentType string `json:"deploymentType"`
		Version        string `json:"version"`
	}
	// A wrong URL should fail fast, not after the full retry budget.
	tries := r.c.transport.maxTries
	r.c.transport.maxTries = min(tries, 2)
	err := r.c.get(ctx, "rest/api/2/serverInfo", &info)
	r.c.transport.maxTries = tries
	if err != nil {
		var e *evident.Error
		if errors.As(err, &e) && e.Code == evident.ENOTFOUND {
			return evident.Errorf(evident.EINVALID, "jira site %s: %s does not answer /rest/api/2/serverInfo: check that the url (EVIDENT_JIRA_URL) is the Jira base URL", r.cfg.Name, r.cfg.URL)
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return evident.Errorf(evident.EINVALID, "jira site %s: %s does not answer like Jira (not JSON): check the url (EVIDENT_JIRA_URL)", r.cfg.Name, r.cfg.URL)
		}
		return err
	}
	r.meta.deploy = info.DeploymentType
	r.meta.cloud = info.DeploymentType == "Cloud"
	r.sum.Deployment = info.DeploymentType
	var me struct {
		TimeZone string `json:"timeZone"`
	}
	if err := r.c.get(ctx, "rest/api/2/myself", &me); err != nil {
		return err
	}
	r.meta.loc = time.UTC
	if me.TimeZone != "" {
		if loc, err := time.LoadLocation(me.TimeZone); err == nil {
			r.meta.loc = loc
		} else {
			r.s.Log.Warn("unknown Jira user time zone; JQL dates in UTC", "site", r.cfg.Name, "time_zone", me.TimeZone)
		}
	}
	r.meta.projects = map[string]jira.Project{}
	for _, key := range r.cfg.Projects {
		var p jira.Project
		if err := r.c.get(ctx, "rest/api/2/project/"+url.PathEscape(key), &p); err != nil {
			var e *evident.Error
			if errors.As(err, &e) && e.Code == evident.ENOTFOUND {
				return evident.Errorf(evident.EINVALID, "jira site %s: project %q does not exist or the account cannot browse it: check EVIDENT_JIRA_PROJECTS and the account's permissions", r.cfg.Name, key)
			}
			return err
		}
		r.meta.projects[key] = p
	}
	var fields []jira.Field
	if err := r.c.get(ctx, "rest/api/2/field", &fields); err != nil {
		return err
	}
	r.meta.fields = DiscoverFields(fields, r.cfg.Fields)
	var statuses []jira.Status
	if err := r.c.get(ctx, "rest/api/2/status", &statuses); err != nil {
		return err
	}
	r.meta.statuses = map[string]string{}
	for _, st := range statuses {
		r.meta.statuses[st.ID] = st.StatusCategory.Key
		r.meta.named = append(r.meta.named, evident.Status{Site: r.cfg.Name, StatusID: st.ID, Name: st.Name, Category: st.StatusCategory.Key})
	}
	if r.meta.cloud {
		// Validate the JQL once through go-jira's enhanced search.
		if _, resp, err := r.c.Issue.SearchV2JQLWithContext(ctx, r.jql(r.cfg.Projects[0], time.Time{}), &jira.SearchOptionsV2{MaxResults: 1}); err != nil {
			return r.c.explain("rest/api/2/search/jql", resp, err)
		}
	}
	r.mapping = Mapping{Site: r.cfg.Name, Version: r.version, Fields: r.meta.fields, StatusCategory: r.meta.statuses,
		CategoryByName: categoryByName(r.meta.named), Projects: r.cfg.ProjectSettings}
	return nil
}

// DiscoverFields finds the custom fields the metrics need by name and
// schema; configured ids win.
func DiscoverFields(fields []jira.Field, override FieldOverrides) FieldIDs {
	var ids FieldIDs
	for _, f := range fields {
		name := strings.ToLower(f.Name)
		switch {
		case f.Schema.Custom == "com.pyxis.greenhopper.jira:gh-sprint" || (name == "sprint" && ids.Sprint == ""):
			ids.Sprint = f.ID
		case f.Schema.Custom == "com.pyxis.greenhopper.jira:gh-epic-link" || (name == "epic link" && ids.EpicLink == ""):
			ids.EpicLink = f.ID
		case f.Schema.Custom == "com.pyxis.greenhopper.jira:gh-lexo-rank" || (name == "rank" && ids.Rank == ""):
			ids.Rank = f.ID
		case (name == "story points" || name == "story point estimate") && f.Schema.Type == "number":
			// Jira Cloud's "Story point estimate" is what boards use; prefer it.
			if ids.StoryPoints == "" || name == "story point estimate" {
				ids.StoryPoints = f.ID
			}
		case name == "business value" && f.Schema.Type == "number":
			ids.BusinessValue = f.ID
		case name == "time criticality" && f.Schema.Type == "number":
			ids.TimeCriticality = f.ID
		case (name == "risk reduction / opportunity enablement" || name == "risk reduction-opportunity enablement value" || name == "rr/oe") && f.Schema.Type == "number":
			ids.RiskReduction = f.ID
		case name == "job size" && f.Schema.Type == "number":
			ids.JobSize = f.ID
		case name == "acceptance criteria" && (f.Schema.Type == "string" || f.Schema.Type == "any"):
			ids.Acceptance = f.ID
		}
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&ids.StoryPoints, override.StoryPoints)
	set(&ids.Sprint, override.Sprint)
	set(&ids.EpicLink, override.EpicLink)
	set(&ids.BusinessValue, override.BusinessValue)
	set(&ids.Rank, override.Rank)
	set(&ids.TimeCriticality, override.TimeCriticality)
	set(&ids.RiskReduction, override.RiskReduction)
	set(&ids.JobSize, override.JobSize)
	set(&ids.Acceptance, override.Acceptance)
	return ids
}

func (r *run) storeMetadata(ctx context.Context) error {
	fieldJSON, _ := json.Marshal(r.meta.fields)
	if err := r.s.Store.InsertSites(ctx, []evident.Site{{Site: r.cfg.Name, URL: r.cfg.URL, DeploymentType: r.meta.deploy,
		TimeZone: r.meta.loc.String(), FieldIDs: string(fieldJSON), Version: r.version}}); err != nil {
		return err
	}
	var projects []evident.Project
	for key, p := range r.meta.projects {
		id, _ := strconv.ParseUint(p.ID, 10, 64)
		projects = append(projects, evident.Project{Site: r.cfg.Name, ProjectID: id, Key: key, Name: p.Name, Version: r.version})
	}
	if err := r.s.Store.InsertProjects(ctx, projects); err != nil {
		return err
	}
	statuses := make([]evident.Status, len(r.meta.named))
	for i, st := range r.meta.named {
		st.Version = r.version
		statuses[i] = st
	}
	return r.s.Store.InsertStatuses(ctx, statuses)
}

// agile collects versions, boards and sprints of the configured projects.
func (r *run) agile(ctx context.Context) error {
	var releases []evident.Release
	for _, key := range r.cfg.Projects {
		var versions []struct {
			ID          string `json:"id"`
			Name        string `json:"name"`
			Released    bool   `json:"released"`
			Archived    bool   `json:"archived"`
			ReleaseDate string `json:"releaseDate"`
		}
		if err := r.c.get(ctx, "rest/api/2/project/"+url.PathEscape(key)+"/versions", &versions); err != nil {
			return err
		}
		for _, v := range versions {
			id, _ := strconv.ParseUint(v.ID, 10, 64)
			rel := evident.Release{Site: r.cfg.Name, VersionID: id, ProjectKey: key, Name: v.Name, Released: b2u(v.Released), Archived: b2u(v.Archived), Version: r.version}
			if v.ReleaseDate != "" {
				if d, err := time.Parse("2006-01-02", v.ReleaseDate); err == nil {
					rel.ReleaseDate = &d
				} else {
					r.problem(key, "releaseDate", fmt.Sprintf("version %s: %q is not a date", v.Name, v.ReleaseDate))
				}
			}
			releases = append(releases, rel)
		}
	}
	if err := r.s.Store.InsertReleases(ctx, releases); err != nil {
		return err
	}
	var boards []evident.Board
	var sprints []evident.Sprint
	for _, key := range r.cfg.Projects {
		for start := 0; ; {
			var page struct {
				IsLast bool `json:"isLast"`
				Values []struct {
					ID       uint64 `json:"id"`
					Name     string `json:"name"`
					Type     string `json:"type"`
					Location struct {
						ProjectKey string `json:"projectKey"`
					} `json:"location"`
				} `json:"values"`
			}
			path := fmt.Sprintf("rest/agile/1.0/board?projectKeyOrId=%s&startAt=%d&maxResults=50", url.QueryEscape(key), start)
			if err := r.c.get(ctx, path, &page); err != nil {
				var e *evident.Error
				if errors.As(err, &e) && (e.Code == evident.ENOTFOUND || e.Code == evident.EFORBIDDEN) {
					r.s.Log.Warn("no Jira Software boards readable; sprints skipped", "site", r.cfg.Name, "project", key)
					break
				}
				return err
			}
			for _, b := range page.Values {
				boards = append(boards, evident.Board{Site: r.cfg.Name, BoardID: b.ID, Name: b.Name, Type: b.Type, ProjectKey: key, Version: r.version})
				if b.Type == "scrum" {
					s, err := r.sprints(ctx, b.ID)
					if err != nil {
						return err
					}
					sprints = append(sprints, s...)
				}
			}
			start += len(page.Values)
			if page.IsLast || len(page.Values) == 0 {
				break
			}
		}
	}
	if err := r.s.Store.InsertBoards(ctx, boards); err != nil {
		return err
	}
	return r.s.Store.InsertSprints(ctx, sprints)
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func (r *run) sprints(ctx context.Context, board uint64) ([]evident.Sprint, error) {
	var out []evident.Sprint
	for start := 0; ; {
		var page struct {
			IsLast bool `json:"isLast"`
			Values []struct {
				ID            uint64 `json:"id"`
				Name          string `json:"name"`
				State         string `json:"state"`
				StartDate     string `json:"startDate"`
				EndDate       string `json:"endDate"`
				CompleteDate  string `json:"completeDate"`
				Goal          string `json:"goal"`
				OriginBoardID uint64 `json:"originBoardId"`
			} `json:"values"`
		}
		path := fmt.Sprintf("rest/agile/1.0/board/%d/sprint?startAt=%d&maxResults=50", board, start)
		if err := r.c.get(ctx, path, &page); err != nil {
			return nil, err
		}
		for _, s := range page.Values {
			sp := evident.Sprint{Site: r.cfg.Name, SprintID: s.ID, BoardID: board, Name: s.Name, State: s.State, Goal: s.Goal, Version: r.version}
			if s.OriginBoardID != 0 && s.OriginBoardID != board {
				continue // a sprint shared from another board is stored with its own board
			}
			for _, d := range []struct {
				s   string
				dst **time.Time
			}{{s.StartDate, &sp.StartAt}, {s.EndDate, &sp.EndAt}, {s.CompleteDate, &sp.CompleteAt}} {
				if d.s == "" {
					continue
				}
				t, err := ParseJiraTime(d.s)
				if err != nil {
					r.problem(fmt.Sprintf("sprint %d", s.ID), "date", err.Error())
					continue
				}
				*d.dst = &t
			}
			out = append(out, sp)
		}
		start += len(page.Values)
		if page.IsLast || len(page.Values) == 0 {
			return out, nil
		}
	}
}

// problem records bad input once per issue key and field.
func (r *run) problem(key, field, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reported == nil {
		r.reported = map[string]bool{}
	}
	if r.reported[key+"\x00"+field] {
		return
	}
	r.reported[key+"\x00"+field] = true
	r.problems = append(r.problems, evident.SyncProblem{Site: r.cfg.Name, RunID: r.runID, IssueKey: key, Field: field, Message: msg, SeenAt: r.s.Now().UTC().Truncate(time.Second)})
	r.s.Log.Warn("jira data problem", "site", r.cfg.Name, "issue", key, "field", field, "problem", msg)
}

// jql is the search of one project: updated since the checkpoint (minus
// the overlap), ordered by created so that pages do not shift while paging.
func (r *run) jql(project string, since time.Time) string {
	q := "project = " + quoteJQL(project)
	if !since.IsZero() {
		q += ` AND updated >= "` + FormatJQLTime(since, r.meta.loc) + `"`
	}
	if r.cfg.JQL != "" {
		q += " AND (" + r.cfg.JQL + ")"
	}
	return q + " ORDER BY created ASC"
}

// FormatJQLTime writes a time as JQL reads it: minutes, in the searching
// user's time zone, rounded down so that nothing at the boundary is missed.
func FormatJQLTime(t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Truncate(time.Minute).Format("2006/01/02 15:04")
}

func quoteJQL(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}

// searchFields are the fields asked for explicitly: Cloud returns only ids
// without them.
func (r *run) searchFields() string {
	f := []string{"summary", "issuetype", "status", "priority", "labels", "components", "fixVersions", "project",
		"created", "updated", "resolutiondate", "resolution", "description", "parent"}
	fl := r.meta.fields
	for _, id := range []string{fl.StoryPoints, fl.Sprint, fl.EpicLink, fl.BusinessValue, fl.Rank, fl.TimeCriticality, fl.RiskReduction, fl.JobSize, fl.Acceptance} {
		if id != "" {
			f = append(f, id)
		}
	}
	return strings.Join(f, ",")
}

// searchPage is one page of either search endpoint, issues kept raw.
type searchPage struct {
	Issues        []json.RawMessage `json:"issues"`
	IsLast        bool              `json:"isLast"`
	NextPageToken string            `json:"nextPageToken"`
	StartAt       int               `json:"startAt"`
	MaxResults    int               `json:"maxResults"`
	Total         int               `json:"total"`
}

// pages walks a search and sends each page; Cloud pages on nextPageToken
// until isLast (never on a short page), Data Center on startAt and total.
func (r *run) pages(ctx context.Context, jql string, out chan<- searchPage) error {
	defer close(out)
	fields := url.QueryEscape(r.searchFields())
	token, startAt := "", 0
	for {
		var path string
		if r.meta.cloud {
			path = fmt.Sprintf("rest/api/2/search/jql?jql=%s&fields=%s&expand=changelog&maxResults=%d", url.QueryEscape(jql), fields, r.cfg.PageSize)
			if token != "" {
				path += "&nextPageToken=" + url.QueryEscape(token)
			}
		} else {
			path = fmt.Sprintf("rest/api/2/search?jql=%s&fields=%s&expand=changelog&maxResults=%d&startAt=%d", url.QueryEscape(jql), fields, r.cfg.PageSize, startAt)
		}
		page, err := r.searchPage(ctx, path)
		if err != nil {
			return err
		}
		select {
		case out <- page:
		case <-ctx.Done():
			return ctx.Err()
		}
		if r.meta.cloud {
			if page.IsLast {
				return nil
			}
			if page.NextPageToken == "" {
				return fmt.Errorf("jira site %s: search page without isLast nor nextPageToken", r.cfg.Name)
			}
			token = page.NextPageToken
		} else {
			startAt += len(page.Issues)
			if len(page.Issues) == 0 || startAt >= page.Total {
				return nil
			}
		}
	}
}

// searchPage fetches one page with go-jira's client and decodes it in one
// streaming pass, each issue kept as raw JSON: decoding the page into
// []json.RawMessage first would scan every issue twice more.
func (r *run) searchPage(ctx context.Context, path string) (searchPage, error) {
	req, err := r.c.NewRequestWithContext(ctx, http.MethodGet, path, nil)
	if err != nil {
		return searchPage{}, fmt.Errorf("jira request %s: %w", path, err)
	}
	resp, err := r.c.Do(req, nil)
	if err != nil {
		return searchPage{}, r.c.explain(path, resp, err)
	}
	defer resp.Body.Close()
	page, err := DecodeSearchPage(resp.Body)
	if err != nil {
		return page, fmt.Errorf("jira site %s: search page: %w", r.cfg.Name, err)
	}
	return page, nil
}

// DecodeSearchPage reads a page of either search endpoint.
func DecodeSearchPage(rd io.Reader) (searchPage, error) {
	var p searchPage
	dec := json.NewDecoder(rd)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return p, fmt.Errorf("not a JSON object (%v)", err)
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return p, err
		}
		key, _ := t.(string)
		switch key {
		case "issues":
			if t, err := dec.Token(); err != nil || t != json.Delim('[') {
				return p, fmt.Errorf("issues: not an array (%v)", err)
			}
			for dec.More() {
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					return p, fmt.Errorf("issue %d: %w", len(p.Issues)+1, err)
				}
				p.Issues = append(p.Issues, raw)
			}
			if _, err := dec.Token(); err != nil {
				return p, err
			}
		case "isLast":
			err = dec.Decode(&p.IsLast)
		case "nextPageToken":
			err = dec.Decode(&p.NextPageToken)
		case "startAt":
			err = dec.Decode(&p.StartAt)
		case "maxResults":
			err = dec.Decode(&p.MaxResults)
		case "total":
			err = dec.Decode(&p.Total)
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return p, fmt.Errorf("%s: %w", key, err)
		}
	}
	_, err := dec.Token()
	return p, err
}

// approximateCount asks Jira Cloud how many issues a search holds, for the
// progress line; -1 when it cannot tell.
func (r *run) approximateCount(ctx context.Context, jql string) int {
	if !r.meta.cloud {
		return -1
	}
	req, err := r.c.NewRequestWithContext(ctx, "POST", "rest/api/3/search/approximate-count", map[string]string{"jql": jql})
	if err != nil {
		return -1
	}
	var out struct {
		Count int `json:"count"`
	}
	if _, err := r.c.Do(req, &out); err != nil {
		return -1
	}
	return out.Count
}

// issues fetches, completes, extracts and stores the issues of a project.
func (r *run) issues(ctx context.Context, project string, since time.Time) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jql := r.jql(project, since)
	prog := Progress{Site: r.cfg.Name, Project: project, Total: -1, Started: r.s.Now()}
	if r.s.Progress != nil {
		prog.Total = r.approximateCount(ctx, jql)
	}
	// Three stages overlap: fetching pages, extracting rows, writing them.
	pages := make(chan searchPage, 2)
	errc := make(chan error, 1)
	go func() { errc <- r.pages(ctx, jql, pages) }()
	batches := make(chan *batch, 1)
	werr := make(chan error, 1)
	go func() {
		var err error
		for b := range batches {
			if err == nil {
				if err = r.flush(ctx, b); err != nil {
					cancel()
				}
			}
		}
		werr <- err
	}()
	stop := func(err error) error {
		cancel()
		close(batches)
		<-errc
		// The writer's error comes first: a cancelled fetch is its consequence.
		if werrV := <-werr; werrV != nil && (err == nil || errors.Is(err, context.Canceled)) {
			err = werrV
		}
		return err
	}
	cur := &batch{}
	for page := range pages {
		if prog.Total < 0 && !r.meta.cloud {
			prog.Total = page.Total
		}
		rows, err := r.extractPage(ctx, page.Issues)
		if err != nil {
			return stop(err)
		}
		for _, rw := range rows {
			r.seen[rw.Issue.IssueID] = true
			if r.desks[rw.Issue.ProjectKey] && rw.Issue.DoneAt != nil {
				r.resolved[rw.Issue.IssueKey] = *rw.Issue.DoneAt
			}
			cur.add(rw)
		}
		r.sum.Fetched += len(page.Issues)
		prog.Fetched += len(page.Issues)
		if cur.len() >= r.s.FlushIssues {
			select {
			case batches <- cur:
			case <-ctx.Done():
				return stop(ctx.Err())
			}
			cur = &batch{}
		}
		if r.s.Progress != nil {
			r.s.Progress(prog)
		}
	}
	if err := <-errc; err != nil {
		close(batches)
		<-werr
		return err
	}
	batches <- cur
	close(batches)
	if err := <-werr; err != nil {
		return err
	}
	if r.s.Progress != nil {
		prog.Done = true
		r.s.Progress(prog)
	}
	return nil
}

// extractPage turns a page of issues into rows, decoding each issue once;
// the few whose inline changelog was capped get their full history fetched
// (concurrently) and are extracted again. An issue that cannot be stored is
// skipped and recorded, never a reason to fail the others.
func (r *run) extractPage(ctx context.Context, issues []json.RawMessage) ([]Rows, error) {
	out := make([]Rows, 0, len(issues))
	var capped []int
	for _, raw := range issues {
		rows, err := Extract(raw, r.mapping)
		if err != nil {
			r.skip(err)
			continue
		}
		if rows.ChangelogIncomplete {
			capped = append(capped, len(out))
		}
		out = append(out, rows)
	}
	skipped := make([]error, len(capped))
	err := r.fanOut(ctx, len(capped), func(ctx context.Context, n int) error {
		k := capped[n]
		key := out[k].Issue.IssueKey
		hist, err := r.fullChangelog(ctx, key)
		if err != nil {
			return fmt.Errorf("changelog of %s: %w", key, err)
		}
		merged, err := withChangelog(json.RawMessage(out[k].Raw.JSON), hist)
		if err != nil {
			return fmt.Errorf("changelog of %s: %w", key, err)
		}
		rows, err := Extract(merged, r.mapping)
		if err != nil {
			skipped[n] = err
			return nil
		}
		out[k] = rows // each k is written by one call only
		return nil
	})
	if err != nil {
		return nil, err
	}
	kept := out[:0]
	for i, rw := range out {
		if n := indexOf(capped, i); n >= 0 && skipped[n] != nil {
			r.skip(skipped[n])
			continue
		}
		kept = append(kept, rw)
	}
	return kept, nil
}

func indexOf(xs []int, v int) int {
	for i, x := range xs {
		if x == v {
			return i
		}
	}
	return -1
}

// skip records an issue Extract could not store, with its key and reason.
func (r *run) skip(err error) {
	se := &SkipError{Reason: err.Error()}
	errors.As(err, &se)
	r.mu.Lock()
	defer r.mu.Unlock()
	key := se.Key
	if key == "" {
		key = fmt.Sprintf("(no key, #%d)", len(r.skipped)+1)
	}
	r.skipped = append(r.skipped, evident.SkippedIssue{Site: r.cfg.Name, IssueKey: key, IssueID: se.ID, Reason: se.Reason,
		SeenAt: r.s.Now().UTC().Truncate(time.Second), Skipped: 1, Version: r.version})
	r.s.Log.Warn("jira issue skipped", "site", r.cfg.Name, "issue", key, "reason", se.Reason)
}

// fullChangelog returns every history of an issue: Cloud's paged changelog
// endpoint, or Data Center's issue with its whole changelog.
func (r *run) fullChangelog(ctx context.Context, key string) ([]json.RawMessage, error) {
	if !r.meta.cloud {
		var is struct {
			Changelog struct {
				Histories []json.RawMessage `json:"histories"`
			} `json:"changelog"`
		}
		err := r.c.get(ctx, "rest/api/2/issue/"+url.PathEscape(key)+"?fields=created&expand=changelog", &is)
		return is.Changelog.Histories, err
	}
	var all []json.RawMessage
	for start := 0; ; {
		var page struct {
			Values []json.RawMessage `json:"values"`
			IsLast bool              `json:"isLast"`
			Total  int               `json:"total"`
		}
		if err := r.c.get(ctx, fmt.Sprintf("rest/api/2/issue/%s/changelog?startAt=%d&maxResults=100", url.PathEscape(key), start), &page); err != nil {
			return nil, err
		}
		all = append(all, page.Values...)
		start += len(page.Values)
		if page.IsLast || len(page.Values) == 0 || start >= page.Total {
			return all, nil
		}
	}
}

// withChangelog replaces an issue's inline changelog with the complete one,
// leaving every other key as Jira sent it.
func withChangelog(raw json.RawMessage, histories []json.RawMessage) (json.RawMessage, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, err
	}
	cl, err := json.Marshal(map[string]any{"startAt": 0, "maxResults": len(histories), "total": len(histories), "histories": histories})
	if err != nil {
		return nil, err
	}
	top["changelog"] = cl
	return json.Marshal(top)
}

// batch accumulates the rows of many issues.
type batch struct {
	rows []Rows
}

func (b *batch) add(r Rows) { b.rows = append(b.rows, r) }
func (b *batch) len() int   { return len(b.rows) }

// flush writes the issues whose JSON changed since it was last stored.
func (r *run) flush(ctx context.Context, b *batch) error {
	if len(b.rows) == 0 {
		return nil
	}
	ids := make([]uint64, len(b.rows))
	for i, rw := range b.rows {
		ids[i] = rw.Issue.IssueID
	}
	stored, err := r.s.Store.StoredHashes(ctx, r.cfg.Name, ids)
	if err != nil {
		return err
	}
	var t tables
	for _, rw := range b.rows {
		h, ok := stored[rw.Issue.IssueID]
		switch {
		case !ok:
			r.sum.New++
		case h != rw.Raw.ContentHash:
			r.sum.Changed++
		default:
			r.sum.Unchanged++
			continue
		}
		t.add(rw)
		r.stored(rw)
	}
	b.rows = b.rows[:0]
	return t.write(ctx, r.s.Store)
}

// stored notes what the run learns from an issue it writes: its findings,
// and that it is no longer skipped.
func (r *run) stored(rw Rows) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(rw.Findings) > 0 {
		r.sum.Findings++
	}
	if r.wasSkipped[rw.Issue.IssueKey] {
		r.unskipped = append(r.unskipped, rw.Issue.IssueKey)
	}
}

// WriteRows stores the rows of issues as a sync does, each in its tables.
func WriteRows(ctx context.Context, st Store, rows []Rows) error {
	var t tables
	for _, rw := range rows {
		t.add(rw)
	}
	return t.write(ctx, st)
}

// tables sorts the rows of many issues into the tables they are stored in.
type tables struct {
	issues    []evident.Issue
	trans     []evident.Transition
	sprints   []evident.SprintChange
	fields    []evident.FieldChange
	backlog   []evident.BacklogFacts
	timelines []evident.IssueTimeline
	raws      []evident.RawIssue
}

func (t *tables) add(rw Rows) {
	t.issues = append(t.issues, rw.Issue)
	t.trans = append(t.trans, rw.Transitions...)
	t.sprints = append(t.sprints, rw.SprintChange...)
	t.fields = append(t.fields, rw.FieldChanges...)
	t.backlog = append(t.backlog, rw.Backlog)
	t.timelines = append(t.timelines, rw.StoredTimeline())
	t.raws = append(t.raws, rw.Raw)
}

// write stores the rows. The raw JSON is written last: it marks an issue as
// completely stored, so a run killed halfway rewrites the issue next time
// instead of skipping it as unchanged.
func (t *tables) write(ctx context.Context, st Store) error {
	if err := st.InsertIssues(ctx, t.issues); err != nil {
		return err
	}
	if err := st.InsertBacklogFacts(ctx, t.backlog); err != nil {
		return err
	}
	if err := st.InsertTransitions(ctx, t.trans); err != nil {
		return err
	}
	if err := st.InsertSprintChanges(ctx, t.sprints); err != nil {
		return err
	}
	if err := st.InsertFieldChanges(ctx, t.fields); err != nil {
		return err
	}
	if err := st.InsertTimelines(ctx, t.timelines); err != nil {
		return err
	}
	return st.InsertRawIssues(ctx, t.raws)
}

// markDeleted marks stored issues of the configured projects that this full
// run did not see.
func (r *run) markDeleted(ctx context.Context) error {
	live, err := r.s.Store.LiveIssueIDs(ctx, r.cfg.Name, r.cfg.Projects)
	if err != nil {
		return err
	}
	var gone []uint64
	for _, id := range live {
		if !r.seen[id] {
			gone = append(gone, id)
		}
	}
	r.sum.Deleted = len(gone)
	return r.s.Store.MarkDeleted(ctx, r.cfg.Name, gone, r.version)
}

// rebuild re-extracts every stored raw issue with the current mappings.
func (r *run) rebuild(ctx context.Context) error {
	site, ok, err := r.s.Store.Site(ctx, r.cfg.Name)
	if err != nil {
		return err
	}
	if !ok {
		return evident.Errorf(evident.ENOTFOUND, "site %s was never synced: nothing to rebuild", r.cfg.Name)
	}
	var fields FieldIDs
	if err := json.Unmarshal([]byte(site.FieldIDs), &fields); err != nil {
		return fmt.Errorf("site %s: stored field ids: %w", r.cfg.Name, err)
	}
	statuses, err := r.s.Store.Statuses(ctx, r.cfg.Name)
	if err != nil {
		return err
	}
	cats := map[string]string{}
	for _, s := range statuses {
		cats[s.StatusID] = s.Category
	}
	r.mapping = Mapping{Site: r.cfg.Name, Version: r.version, Fields: fields, StatusCategory: cats, CategoryByName: categoryByName(statuses),
		Projects: r.cfg.ProjectSettings}
	var t tables
	n := 0
	err = r.s.Store.EachRawIssue(ctx, r.cfg.Name, func(raw evident.RawIssue) error {
		rows, err := Extract([]byte(raw.JSON), r.mapping)
		if err != nil {
			r.skip(err)
			return nil
		}
		r.sum.Fetched++
		r.sum.Changed++
		t.add(rows)
		r.stored(rows)
		if n++; n >= r.s.FlushIssues {
			err, t, n = t.write(ctx, r.s.Store), tables{}, 0
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return t.write(ctx, r.s.Store)
}

// categoryByName maps each status name to its category when all listed
// statuses of that name share one.
func categoryByName(statuses []evident.Status) map[string]string {
	out := map[string]string{}
	ambiguous := map[string]bool{}
	for _, st := range statuses {
		if c, ok := out[st.Name]; ok && c != st.Category {
			ambiguous[st.Name] = true
		}
		out[st.Name] = st.Category
	}
	for name := range ambiguous {
		delete(out, name)
	}
	return out
}

// findServiceDesks learns which configured projects are Jira Service
// Management desks; a site without JSM answers 404 and has none.
func (r *run) findServiceDesks(ctx context.Context) error {
	r.desks, r.resolved = map[string]bool{}, map[string]time.Time{}
	if r.cfg.ServiceDeskFeedback != nil && !*r.cfg.ServiceDeskFeedback {
		return nil
	}
	var page struct {
		Values []struct {
			ProjectKey string `json:"projectKey"`
		} `json:"values"`
	}
	if err := r.c.get(ctx, "rest/servicedeskapi/servicedesk?limit=100", &page); err != nil {
		var e *evident.Error
		if errors.As(err, &e) && (e.Code == evident.ENOTFOUND || e.Code == evident.EFORBIDDEN) {
			return nil
		}
		return err
	}
	for _, d := range page.Values {
		for _, key := range r.cfg.Projects {
			if key == d.ProjectKey {
				r.desks[key] = true
			}
		}
	}
	return nil
}

// serviceDeskFeedback fetches the CSAT feedback of the resolved requests
// this run fetched and stores it as survey answers (scale csat), keyed by
// site and issue so that a re-sync replaces, never duplicates.
func (r *run) serviceDeskFeedback(ctx context.Context) error {
	if len(r.resolved) == 0 {
		return nil
	}
	keys := make([]string, 0, len(r.resolved))
	for k := range r.resolved {
		keys = append(keys, k)
	}
	var mu sync.Mutex
	var rows []evident.SatisfactionResponse
	err := r.fanOut(ctx, len(keys), func(ctx context.Context, n int) error {
		key := keys[n]
		var fb struct {
			Type    string `json:"type"`
			Rating  int    `json:"rating"`
			Comment struct {
				Body string `json:"body"`
			} `json:"comment"`
		}
		err := r.c.get(ctx, "rest/servicedeskapi/request/"+url.PathEscape(key)+"/feedback", &fb)
		var e *evident.Error
		switch {
		case errors.As(err, &e) && e.Code == evident.ENOTFOUND:
			return nil // no feedback given
		case err != nil:
			return err
		case fb.Rating < 1 || fb.Rating > 5:
			r.problem(key, "feedback", fmt.Sprintf("rating %d is not on the 1–5 CSAT scale", fb.Rating))
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		rows = append(rows, evident.SatisfactionResponse{ResponseID: "jsm:" + r.cfg.Name + ":" + key, RespondedAt: r.resolved[key].UTC(),
			Scale: "csat", Score: int16(fb.Rating), Product: strings.SplitN(key, "-", 2)[0], Comment: fb.Comment.Body,
			Source: "jira-service-management", Version: r.version})
		return nil
	})
	r.resolved = map[string]time.Time{}
	if err != nil {
		return err
	}
	return r.s.Store.InsertSatisfaction(ctx, rows)
}

// fanOut calls fn for 0 … n−1 with at most Concurrency calls in flight;
// the first error cancels the others and is returned.
func (r *run) fanOut(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	if n == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, max(1, r.cfg.Concurrency))
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(ctx, i); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}(i)
	}
	wg.Wait()
	return first
}
