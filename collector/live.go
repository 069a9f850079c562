package collector

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/evident-ebm/evident"
)

// Live fetches what webhooks name: SyncIssues reads the named issues (with
// their complete changelogs) through the API, as a sync does, and stores
// them; those Jira no longer has are marked deleted.
const Live Mode = "live"

// liveBatch is how many issue ids one search asks for.
const liveBatch = 100

// SyncIssues fetches the issues with the given ids from a site and stores
// them, then rebuilds the read model if anything changed. agile also reads
// versions, boards, their columns and sprints again. An id Jira does not
// find is marked deleted when Jira answers 404 for it, or when it is now in
// a project Evident does not collect; an issue the search has not indexed
// yet is read on its own. Checkpoints are not moved: the next scheduled
// sync still reads everything updated since the last one.
func (s *Syncer) SyncIssues(ctx context.Context, cfg SiteConfig, ids []uint64, agile bool) (Summary, error) {
	r := s.newRun(cfg, Live)
	return r.finish(ctx, r.live(ctx, ids, agile))
}

func (r *run) live(ctx context.Context, ids []uint64, agile bool) error {
	if err := r.cfg.Validate(); err != nil {
		return evident.Errorf(evident.EINVALID, "%v", err)
	}
	var ok bool
	var err error
	if r.prev.Site, ok, err = r.s.Store.Site(ctx, r.cfg.Name); err != nil {
		return err
	}
	if !ok {
		return evident.Errorf(evident.ECONFLICT, "jira site %s was never synced: run a sync before webhooks can name issues", r.cfg.Name)
	}
	r.prev.ok = true
	if r.c, err = newJiraClient(r.cfg, r.s.Log); err != nil {
		return err
	}
	if err := r.preflight(ctx); err != nil {
		return err
	}
	if err := r.storeMetadata(ctx); err != nil {
		return err
	}
	if agile {
		if err := r.agile(ctx); err != nil {
			return err
		}
	} else {
		boards, configs, err := r.s.Store.Boards(ctx, r.cfg.Name)
		if err != nil {
			return err
		}
		if r.mapping.Cycles, err = Cycles(r.cfg.Name, r.cfg.Boards, boards, configs, r.meta.statuses); err != nil {
			return evident.Errorf(evident.EINVALID, "%v", err)
		}
	}
	if err := r.findServiceDesks(ctx); err != nil {
		return err
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	projects := make([]string, len(r.cfg.Projects))
	for i, p := range r.cfg.Projects {
		projects[i] = quoteJQL(p)
	}
	for start := 0; start < len(ids); start += liveBatch {
		batch := ids[start:min(start+liveBatch, len(ids))]
		list := make([]string, len(batch))
		for i, id := range batch {
			list[i] = strconv.FormatUint(id, 10)
		}
		jql := "project in (" + strings.Join(projects, ", ") + ") AND id in (" + strings.Join(list, ", ") + ")"
		if r.cfg.JQL != "" {
			jql += " AND (" + r.cfg.JQL + ")"
		}
		if err := r.issues(ctx, "webhook", jql+" ORDER BY created ASC"); err != nil {
			return err
		}
	}
	var gone []uint64
	for _, id := range ids {
		if r.seen[id] {
			continue
		}
		deleted, err := r.unseen(ctx, id)
		if err != nil {
			return err
		}
		if deleted {
			gone = append(gone, id)
		}
	}
	if err := r.serviceDeskFeedback(ctx); err != nil {
		return err
	}
	if err := r.cyclesChanged(ctx); err != nil {
		return err
	}
	if len(gone) == 0 {
		return nil
	}
	stored, err := r.s.Store.StoredHashes(ctx, r.cfg.Name, gone)
	if err != nil {
		return err
	}
	var marked []uint64
	for _, id := range gone {
		if _, ok := stored[id]; ok {
			marked = append(marked, id)
		}
	}
	r.sum.Deleted = len(marked)
	return r.s.Store.MarkDeleted(ctx, r.cfg.Name, marked, r.version)
}

// unseen settles an issue the search did not return: deleted when Jira
// says 404 or the issue is in a project Evident does not collect; read on
// its own and stored when it is in one (the search index lags behind).
func (r *run) unseen(ctx context.Context, id uint64) (bool, error) {
	var probe struct {
		Fields struct {
			Project struct{ Key string } `json:"project"`
		} `json:"fields"`
	}
	path := "rest/api/2/issue/" + strconv.FormatUint(id, 10)
	err := r.c.get(ctx, path+"?fields=project", &probe)
	var e *evident.Error
	switch {
	case errors.As(err, &e) && e.Code == evident.ENOTFOUND:
		return true, nil
	case err != nil:
		return false, err
	case !slices.Contains(r.cfg.Projects, probe.Fields.Project.Key):
		return true, nil
	}
	var raw json.RawMessage
	if err := r.c.get(ctx, path+"?fields="+url.QueryEscape(r.searchFields())+"&expand=changelog", &raw); err != nil {
		return false, err
	}
	return false, r.store(ctx, []json.RawMessage{raw})
}

// store extracts and writes issues read one by one.
func (r *run) store(ctx context.Context, issues []json.RawMessage) error {
	rows, err := r.extractPage(ctx, issues)
	if err != nil {
		return err
	}
	b := &batch{}
	for _, rw := range rows {
		r.seen[rw.Issue.IssueID] = true
		b.add(rw)
	}
	r.sum.Fetched += len(issues)
	return r.flush(ctx, b)
}
