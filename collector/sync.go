package collector

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

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
	InsertBoardConfigs(ctx context.Context, rows []evident.BoardConfig) error
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
	// HasLiveIssues says whether a project has stored issues not deleted.
	HasLiveIssues(ctx context.Context, site, project string) (bool, error)
	SaveCheckpoint(ctx context.Context, site, scope string, at time.Time) error
	Checkpoint(ctx context.Context, site, scope string) (time.Time, bool, error)
	StoredHashes(ctx context.Context, site string, ids []uint64) (map[uint64]uint64, error)
	LiveIssueIDs(ctx context.Context, site string, projects []string) ([]uint64, error)
	MarkDeleted(ctx context.Context, site string, ids []uint64, version uint64) error
	EachRawIssue(ctx context.Context, site string, fn func(evident.RawIssue) error) error
	Statuses(ctx context.Context, site string) ([]evident.Status, error)
	Site(ctx context.Context, site string) (evident.Site, bool, error)
	// Boards returns a site's stored boards and column configurations.
	Boards(ctx context.Context, site string) ([]evident.Board, []evident.BoardConfig, error)
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

// run is the state of one sync of one site.
type run struct {
	s       *Syncer
	cfg     SiteConfig
	c       *jiraClient
	site    deployment // what Cloud and Data Center do differently
	meta    siteMeta
	mapping Mapping
	// prev is the site as the last run stored it (ok false: never).
	prev struct {
		evident.Site
		ok bool
	}
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
	r := s.newRun(cfg, mode)
	var err error
	var keys []string
	if keys, err = s.Store.SkippedIssues(ctx, r.cfg.Name); err == nil {
		r.wasSkipped = map[string]bool{}
		for _, k := range keys {
			r.wasSkipped[k] = true
		}
		var lacks bool
		lacks, err = s.Store.LacksTimelines(ctx, r.cfg.Name)
		switch {
		case err != nil:
		case mode == Rebuild:
			err = r.rebuild(ctx)
		case lacks:
			// Stored by a version that kept no timelines: re-extract
			// everything from the raw JSON first, then sync as asked.
			s.Log.Info("re-extracting the stored issues of an earlier version", "site", r.cfg.Name)
			if err = r.rebuild(ctx); err == nil {
				r.sum.Fetched, r.sum.Changed = 0, 0
				err = r.sync(ctx, mode)
			}
		default:
			err = r.sync(ctx, mode)
		}
	}
	return r.finish(ctx, err)
}

// newRun starts a run of a site. Row versions and the run id come from the
// wall clock, which only grows; the checkpoint is the started time of the
// clock the Syncer was handed (Jira's "now", which a test or the demo may
// set).
func (s *Syncer) newRun(cfg SiteConfig, mode Mode) *run {
	cfg.Defaults()
	wall := time.Now().UnixNano()
	r := &run{s: s, cfg: cfg, version: uint64(wall), started: s.Now().UTC(), seen: map[uint64]bool{}, runID: strconv.FormatInt(wall, 36)}
	r.sum = Summary{Site: cfg.Name, Mode: mode}
	return r
}

// finish rebuilds the read model after a run that succeeded (also after
// one that changed nothing: an earlier run may have failed after storing
// pages), fills the summary and records the run.
func (r *run) finish(ctx context.Context, err error) (Summary, error) {
	if err == nil {
		var built bool
		r.sum.ReadModel, built, err = r.s.Store.RefreshReadModel(ctx)
		if err != nil {
			err = fmt.Errorf("rebuild the read model: %w", err)
		} else if built {
			r.s.Log.Info("read model rebuilt", "site", r.cfg.Name, "seconds", r.sum.ReadModel.Seconds())
		}
	}
	r.sum.Duration = r.s.Now().Sub(r.started)
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
	if r.prev.Site, r.prev.ok, err = r.s.Store.Site(ctx, r.cfg.Name); err != nil {
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
		fetched := r.sum.Fetched
		if err := r.issues(ctx, key, r.jql(key, since)); err != nil {
			return err
		}
		// A whole search that finds nothing where issues were stored is not
		// an empty project but a changed site or filter (a permission, a
		// redirect, a JQL): saving the checkpoint, or marking everything
		// deleted, would lose history.
		if since.IsZero() && r.sum.Fetched == fetched {
			had, err := r.s.Store.HasLiveIssues(ctx, r.cfg.Name, key)
			if err != nil {
				return err
			}
			if had {
				return evident.Errorf(evident.EINVALID, "jira site %s: the search of project %s found no issues, but Evident holds issues of it: check the account's permissions, the url and the jql; nothing was marked deleted and no checkpoint saved", r.cfg.Name, key)
			}
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
	if err := r.cyclesChanged(ctx); err != nil {
		return err
	}
	for key, at := range checkpoints {
		if err := r.s.Store.SaveCheckpoint(ctx, r.cfg.Name, key, at); err != nil {
			return err
		}
	}
	return nil
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
