package metrics

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/evident-ebm/evident/schema"
)

// SprintScope is a set of issues and their story points.
type SprintScope struct {
	Issues int          `json:"issues"`
	Points float64      `json:"points"`
	Keys   []string     `json:"keys"`
	Items  []SprintItem `json:"items"`
}

// SprintItem is an issue of a scope with its estimate at the moment that
// counts for the scope (the start for committed, the change for added and
// removed, the end for completed and not completed).
type SprintItem struct {
	Key    string  `json:"key"`
	Points float64 `json:"points"`
	// AddedAfterStart marks an item of the completed or not completed
	// scope that joined after the start (Jira's asterisk).
	AddedAfterStart bool `json:"added_after_start"`
}

// SprintReport is one sprint measured as Jira's sprint report does, replayed
// from the Sprint field's changelog.
type SprintReport struct {
	ID         uint64      `json:"id"`
	Name       string      `json:"name"`
	State      string      `json:"state"`
	Goal       string      `json:"goal"`
	StartAt    *time.Time  `json:"start_at"`
	EndAt      *time.Time  `json:"end_at"`
	CompleteAt *time.Time  `json:"complete_at"`
	Committed  SprintScope `json:"committed"`
	Added      SprintScope `json:"added"`
	Removed    SprintScope `json:"removed"`
	Completed  SprintScope `json:"completed"`
	// NotCompleted are the members at the end that were not done; those
	// in a later sprint of the board are also CarriedOver.
	NotCompleted SprintScope `json:"not_completed"`
	CarriedOver  SprintScope `json:"carried_over"`
	// Velocity is the completed points of a closed sprint; null while the
	// sprint is active (as in Jira's velocity chart).
	Velocity    *float64 `json:"velocity"`
	SayDo       *float64 `json:"say_do_ratio"`
	ScopeChange *float64 `json:"scope_change"`
	// VelocityTrust and SayDoTrust say which issues those rest on: the
	// completed (committed) issues with an estimate; those without count
	// 0 points and are left out.
	VelocityTrust Trust `json:"velocity_trust"`
	SayDoTrust    Trust `json:"say_do_trust"`
}

type sprintRow struct {
	SprintID   uint64     `ch:"sprint_id"`
	Name       string     `ch:"name"`
	State      string     `ch:"state"`
	Goal       string     `ch:"goal"`
	StartAt    *time.Time `ch:"start_at"`
	EndAt      *time.Time `ch:"end_at"`
	CompleteAt *time.Time `ch:"complete_at"`
}

type memberEvent struct {
	IssueID   uint64    `ch:"issue_id"`
	SprintID  uint64    `ch:"sprint_id"`
	HistoryID uint64    `ch:"history_id"`
	ChangedAt time.Time `ch:"changed_at"`
	Added     uint8     `ch:"added"`
}

type sprintIssue struct {
	IssueID  uint64    `ch:"issue_id"`
	Key      string    `ch:"issue_key"`
	Category string    `ch:"status_category"`
	Points   *float64  `ch:"story_points"`
	Created  time.Time `ch:"created_at"`
}

type catEvent struct {
	IssueID   uint64    `ch:"issue_id"`
	ChangedAt time.Time `ch:"changed_at"`
	HistoryID uint64    `ch:"history_id"`
	From      string    `ch:"from_category"`
	To        string    `ch:"to_category"`
}

type pointEvent struct {
	IssueID   uint64    `ch:"issue_id"`
	HistoryID uint64    `ch:"history_id"`
	ItemIndex uint16    `ch:"item_index"`
	ChangedAt time.Time `ch:"changed_at"`
	From      string    `ch:"from_string"`
	To        string    `ch:"to_string"`
}

// sprintHistory holds what replaying a board's sprints needs.
type sprintHistory struct {
	issues  map[uint64]*sprintIssue
	members map[uint64]map[uint64][]memberEvent // sprint → issue → events in order
	cats    map[uint64][]catEvent
	points  map[uint64][]pointEvent
	start   map[uint64]time.Time // sprint → start
}

// Sprints reports every started sprint of a board, oldest first.
func (s *Service) Sprints(ctx context.Context, site string, board uint64) ([]SprintReport, error) {
	out, _, err := s.sprints(ctx, site, board, 0)
	return out, err
}

// replayed is a board's sprints with the history they were replayed from.
type replayed struct {
	rows []sprintRow
	h    *sprintHistory
	now  time.Time
}

// sprints reports a board's started sprints, or with lastClosed > 0 only
// its last closed ones (their carry-over then ignores later sprints).
func (s *Service) sprints(ctx context.Context, site string, board uint64, lastClosed int) ([]SprintReport, replayed, error) {
	siteCond, siteArgs := "1", []any{}
	if site != "" {
		siteCond, siteArgs = "site = ?", []any{site}
	}
	var sprints []sprintRow
	q := `SELECT sprint_id, name, state, goal, start_at, end_at, complete_at FROM sprints FINAL
		WHERE ` + siteCond + ` AND board_id = ? AND state != 'future' AND start_at IS NOT NULL ORDER BY start_at, sprint_id`
	if err := s.DB.Select(ctx, &sprints, q, append(siteArgs, board)...); err != nil {
		return nil, replayed{}, fmt.Errorf("sprints: %w", err)
	}
	if lastClosed > 0 {
		var closed []sprintRow
		for _, sp := range sprints {
			if sp.State == "closed" {
				closed = append(closed, sp)
			}
		}
		sprints = closed[max(0, len(closed)-lastClosed):]
	}
	if len(sprints) == 0 {
		return []SprintReport{}, replayed{}, nil
	}
	ids := make([]uint64, len(sprints))
	h := &sprintHistory{issues: map[uint64]*sprintIssue{}, members: map[uint64]map[uint64][]memberEvent{},
		cats: map[uint64][]catEvent{}, points: map[uint64][]pointEvent{}, start: map[uint64]time.Time{}}
	for i, sp := range sprints {
		ids[i] = sp.SprintID
		h.start[sp.SprintID] = *sp.StartAt
	}
	// The read model keeps each issue once per sprint with its Sprint field
	// events for that sprint and its category history (sprint_members);
	// estimate changes come from field_changes, read without FINAL (which
	// ClickHouse runs in one stream) and deduplicated here: a history item
	// stored twice is the same item.
	var issues []struct {
		sprintIssue
		SprintID     uint64      `ch:"sprint_id"`
		EventAt      []time.Time `ch:"event_at"`
		EventHistory []uint64    `ch:"event_history"`
		EventAdded   []uint8     `ch:"event_added"`
		At           []time.Time `ch:"history_at"`
		History      []uint64    `ch:"history_id"`
		From         []string    `ch:"history_from_category"`
		To           []string    `ch:"history_to_category"`
	}
	var pts []pointEvent
	idSet := `(SELECT toUInt64(arrayJoin(?)))`
	err := parallel(
		func() error {
			q := `SELECT sprint_id, issue_id, issue_key, status_category, story_points, created_at, event_at, event_history, event_added,
				history_at, history_id, history_from_category, history_to_category
				FROM sprint_members WHERE ` + schema.Current + ` AND ` + siteCond + ` AND sprint_id IN ` + idSet
			if err := s.DB.Select(ctx, &issues, q, append(append([]any{}, siteArgs...), ids)...); err != nil {
				return fmt.Errorf("sprint issues: %w", err)
			}
			return nil
		},
		func() error {
			site, set := frag(siteCond, siteArgs...), frag(idSet, ids)
			sel := cat(`SELECT issue_id, history_id, item_index, changed_at, from_string, to_string FROM field_changes
				WHERE `, site, frag(` AND site IN (SELECT site FROM boards FINAL WHERE board_id = ?)`, board), `
				AND issue_id IN (SELECT issue_id FROM sprint_members WHERE `+schema.Current+` AND `, site, ` AND sprint_id IN `, set, `)
				AND (field IN ('Story Points', 'Story point estimate') OR field_id IN (SELECT visitParamExtractString(field_ids, 'StoryPoints') FROM sites FINAL))`)
			if err := s.DB.Select(ctx, &pts, sel.text, sel.args...); err != nil {
				return fmt.Errorf("estimate changes: %w", err)
			}
			return nil
		},
	)
	if err != nil {
		return nil, replayed{}, err
	}
	for i := range issues {
		is := &issues[i]
		if h.members[is.SprintID] == nil {
			h.members[is.SprintID] = map[uint64][]memberEvent{}
		}
		for k := range is.EventAt {
			if k < len(is.EventHistory) && k < len(is.EventAdded) {
				h.members[is.SprintID][is.IssueID] = append(h.members[is.SprintID][is.IssueID],
					memberEvent{IssueID: is.IssueID, SprintID: is.SprintID, HistoryID: is.EventHistory[k], ChangedAt: is.EventAt[k], Added: is.EventAdded[k]})
			}
		}
		if h.issues[is.IssueID] != nil {
			continue // seen in another sprint of the board
		}
		h.issues[is.IssueID] = &is.sprintIssue
		for k := range is.At {
			if k < len(is.History) && k < len(is.From) && k < len(is.To) {
				h.cats[is.IssueID] = append(h.cats[is.IssueID], catEvent{IssueID: is.IssueID, ChangedAt: is.At[k], HistoryID: is.History[k], From: is.From[k], To: is.To[k]})
			}
		}
	}
	sort.Slice(pts, func(i, j int) bool {
		a, b := pts[i], pts[j]
		if !a.ChangedAt.Equal(b.ChangedAt) {
			return a.ChangedAt.Before(b.ChangedAt)
		}
		if a.HistoryID != b.HistoryID {
			return a.HistoryID < b.HistoryID
		}
		return a.ItemIndex < b.ItemIndex
	})
	for k, p := range pts {
		if k > 0 && pts[k-1].IssueID == p.IssueID && pts[k-1].HistoryID == p.HistoryID && pts[k-1].ItemIndex == p.ItemIndex {
			continue // the same history item stored twice
		}
		h.points[p.IssueID] = append(h.points[p.IssueID], p)
	}
	now := s.Now().UTC()
	out := make([]SprintReport, 0, len(sprints))
	for _, sp := range sprints {
		out = append(out, h.report(sp, now))
	}
	return out, replayed{rows: sprints, h: h, now: now}, nil
}

// member says whether an issue is in a sprint at t.
func (h *sprintHistory) member(sprint, issue uint64, t time.Time) bool {
	in := false
	for _, e := range h.members[sprint][issue] {
		if e.ChangedAt.After(t) {
			break
		}
		in = e.Added == 1
	}
	return in
}

// categoryAt is an issue's status category at t ("" before it existed).
func (h *sprintHistory) categoryAt(id uint64, t time.Time) string {
	is := h.issues[id]
	if is == nil || is.Created.After(t) {
		return ""
	}
	evs := h.cats[id]
	if len(evs) == 0 {
		return is.Category
	}
	cat := evs[0].From
	for _, e := range evs {
		if e.ChangedAt.After(t) {
			break
		}
		cat = e.To
	}
	return cat
}

// pointsAt is an issue's estimate at t, replayed from estimate changes.
func (h *sprintHistory) pointsAt(id uint64, t time.Time) float64 {
	is := h.issues[id]
	if is == nil {
		return 0
	}
	evs := h.points[id]
	if len(evs) == 0 {
		if is.Points == nil {
			return 0
		}
		return *is.Points
	}
	val := evs[0].From
	for _, e := range evs {
		if e.ChangedAt.After(t) {
			break
		}
		val = e.To
	}
	f, _ := strconv.ParseFloat(val, 64)
	return f
}

func (sc *SprintScope) add(key string, points float64, addedAfterStart bool) {
	sc.Issues++
	sc.Points += points
	sc.Keys = append(sc.Keys, key)
	sc.Items = append(sc.Items, SprintItem{Key: key, Points: points, AddedAfterStart: addedAfterStart})
}

func (h *sprintHistory) report(sp sprintRow, now time.Time) SprintReport {
	r := SprintReport{ID: sp.SprintID, Name: sp.Name, State: sp.State, Goal: sp.Goal, StartAt: sp.StartAt, EndAt: sp.EndAt, CompleteAt: sp.CompleteAt}
	start, end := sp.StartAt.UTC(), sprintEnd(sp, now)
	var ids []uint64
	for id := range h.members[sp.SprintID] {
		if h.issues[id] != nil {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(a, b int) bool { return h.issues[ids[a]].Key < h.issues[ids[b]].Key })
	committedDone := 0.0
	for _, id := range ids {
		is := h.issues[id]
		committed := h.member(sp.SprintID, id, start)
		atEnd := h.member(sp.SprintID, id, end)
		var addedAt, removedAt time.Time
		for _, e := range h.members[sp.SprintID][id] {
			if e.ChangedAt.After(start) && !e.ChangedAt.After(end) {
				if e.Added == 1 && addedAt.IsZero() {
					addedAt = e.ChangedAt
				}
				if e.Added == 0 && e.ChangedAt.Before(end) {
					removedAt = e.ChangedAt
				}
			}
		}
		added := !committed && !addedAt.IsZero()
		if committed {
			r.Committed.add(is.Key, h.pointsAt(id, start), false)
		}
		if added {
			r.Added.add(is.Key, h.pointsAt(id, addedAt), true)
		}
		if (committed || added) && !atEnd && !removedAt.IsZero() {
			r.Removed.add(is.Key, h.pointsAt(id, removedAt), added)
		}
		if !atEnd {
			continue
		}
		if h.categoryAt(id, end) == "done" {
			pts := h.pointsAt(id, end)
			r.Completed.add(is.Key, pts, added)
			if committed {
				committedDone += h.pointsAt(id, start)
			}
			continue
		}
		r.NotCompleted.add(is.Key, h.pointsAt(id, end), added)
		// Not done at the end: carried over when it is in a later sprint.
		for other, byIssue := range h.members {
			if other == sp.SprintID || !h.start[other].After(start) {
				continue
			}
			if _, ok := byIssue[id]; ok {
				r.CarriedOver.add(is.Key, h.pointsAt(id, end), added)
				break
			}
		}
	}
	if sp.State == "closed" {
		r.Velocity = ptr(r.Completed.Points)
	}
	estimated := func(sc SprintScope) (n, none int) {
		for _, it := range sc.Items {
			if it.Points > 0 {
				n++
			} else {
				none++
			}
		}
		return n, none
	}
	n, none := estimated(r.Completed)
	r.VelocityTrust = NewTrust(n, LeftOut{Reason: "no estimate", Issues: none})
	n, none = estimated(r.Committed)
	r.SayDoTrust = NewTrust(n, LeftOut{Reason: "no estimate", Issues: none})
	if r.Committed.Points > 0 {
		r.SayDo = ptr(round(committedDone / r.Committed.Points))
		r.ScopeChange = ptr(round((r.Added.Points + r.Removed.Points) / r.Committed.Points))
	}
	for _, sc := range []*SprintScope{&r.Committed, &r.Added, &r.Removed, &r.Completed, &r.NotCompleted, &r.CarriedOver} {
		if sc.Keys == nil {
			sc.Keys, sc.Items = []string{}, []SprintItem{}
		}
	}
	return r
}

// sprintEnd is when a sprint's report is taken: its completion, else its
// planned end once passed, else now.
func sprintEnd(sp sprintRow, now time.Time) time.Time {
	switch {
	case sp.CompleteAt != nil:
		return sp.CompleteAt.UTC()
	case sp.EndAt != nil && sp.EndAt.Before(now):
		return sp.EndAt.UTC()
	}
	return now
}

// BurnPoint is a sprint's scope at one moment: its members' points, the
// done ones among them, and what remains.
type BurnPoint struct {
	At        time.Time `json:"at"`
	Scope     float64   `json:"scope_points"`
	Done      float64   `json:"done_points"`
	Remaining float64   `json:"remaining_points"`
	Issues    int       `json:"issues"`
	DoneN     int       `json:"done_issues"`
}

// burndown replays a sprint every 24 hours from its start, and at its end:
// the estimates, membership and status categories at each moment.
func (h *sprintHistory) burndown(sp sprintRow, now time.Time) []BurnPoint {
	start, end := sp.StartAt.UTC(), sprintEnd(sp, now)
	var at []time.Time
	for t := start; !t.After(end) && len(at) < 400; t = t.Add(24 * time.Hour) {
		at = append(at, t)
	}
	if len(at) == 0 || !at[len(at)-1].Equal(end) {
		at = append(at, end)
	}
	out := make([]BurnPoint, 0, len(at))
	for _, t := range at {
		bp := BurnPoint{At: t}
		for id := range h.members[sp.SprintID] {
			if h.issues[id] == nil || !h.member(sp.SprintID, id, t) {
				continue
			}
			pts := h.pointsAt(id, t)
			bp.Scope += pts
			bp.Issues++
			if h.categoryAt(id, t) == "done" {
				bp.Done += pts
				bp.DoneN++
			}
		}
		bp.Scope, bp.Done = round(bp.Scope), round(bp.Done)
		bp.Remaining = round(bp.Scope - bp.Done)
		out = append(out, bp)
	}
	return out
}
