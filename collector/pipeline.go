package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/evident-ebm/evident"
)

// issues fetches, completes, extracts and stores the issues of a project.
func (r *run) issues(ctx context.Context, project, jql string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	prog := Progress{Site: r.cfg.Name, Project: project, Total: -1, Started: r.s.Now()}
	if r.s.Progress != nil {
		prog.Total = r.site.count(ctx, jql)
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
		if prog.Total < 0 {
			prog.Total = r.site.pageTotal(page)
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
		hist, err := r.site.fullChangelog(ctx, key)
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

// batch accumulates the rows of many issues.
type batch struct {
	rows []Rows
}

func (b *batch) add(r Rows) { b.rows = append(b.rows, r) }

func (b *batch) len() int { return len(b.rows) }

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
