package metrics

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/evident-ebm/evident"
)

// Retrospective is what a team reviews of one sprint: its report, the
// reports of up to five sprints before it, the five items of the sprint
// done slowest (cycle time), and the items that stayed in progress longer
// than the 85th percentile of the cycle time done in the 90 days before
// the sprint's end.
type Retrospective struct {
	Board    uint64         `json:"board"`
	Sprint   SprintReport   `json:"sprint"`
	Previous []SprintReport `json:"previous"`
	Slowest  []IssueRow     `json:"slowest"`
	Aged     []IssueRow     `json:"aged"`
	P85      *float64       `json:"cycle_p85"`
	// Burndown replays the sprint's scope every day from its start.
	Burndown []BurnPoint `json:"burndown"`
	// Issues are the sprint's issues as they are now (summary, type,
	// status), for the scopes' keys; the filter's type narrows them.
	Issues []IssueRow `json:"issues"`
	// Impeded are the sprint's issues that were blocked or stalled while
	// the sprint ran, most blocked first.
	Impeded []SprintImpeded `json:"impeded"`
}

// SprintImpeded is an issue's impediments within a sprint: from the later
// of its start and the sprint's, to the earlier of its completion and the
// sprint's end.
type SprintImpeded struct {
	Key     string `json:"key"`
	Summary string `json:"summary"`
	Status  string `json:"status"`
	Impediments
}

// Retrospective reviews a started sprint of a board (f.Board; f's other
// dimensions narrow the items). The sprint's end is its completion, else
// its planned end, else now, whichever comes first.
func (s *Service) Retrospective(ctx context.Context, f Filter, sprintID uint64) (Retrospective, error) {
	reports, rep, err := s.sprints(ctx, f.Site, f.Board, 0)
	if err != nil {
		return Retrospective{}, err
	}
	idx := -1
	for i, r := range reports {
		if r.ID == sprintID {
			idx = i
		}
	}
	if idx < 0 {
		return Retrospective{}, evident.Errorf(evident.ENOTFOUND, "sprint %d is not a started sprint of board %d", sprintID, f.Board)
	}
	out := Retrospective{Board: f.Board, Sprint: reports[idx], Previous: reports[max(0, idx-5):idx]}
	sp := out.Sprint
	end := sprintEnd(rep.rows[idx], rep.now)
	out.Burndown = rep.h.burndown(rep.rows[idx], rep.now)
	keys := map[string]bool{}
	for _, sc := range []SprintScope{sp.Committed, sp.Added, sp.Completed, sp.NotCompleted, sp.Removed} {
		for _, k := range sc.Keys {
			keys[k] = true
		}
	}
	recent := f
	recent.From, recent.To = end.AddDate(0, 0, -90), end.Add(time.Second)
	items := f
	items.From, items.To = time.Time{}, time.Time{}
	items.Keys = make([]string, 0, len(keys))
	for k := range keys {
		items.Keys = append(items.Keys, k)
	}
	sort.Strings(items.Keys)
	var flow Flow
	var page IssuePage
	var rows []impRow
	var hs []WorkHistory
	err = parallel(
		func() (err error) { flow, err = s.flow(ctx, recent, false); return },
		func() (err error) { page, err = s.Issues(ctx, items, 1000, 0); return },
		func() (err error) {
			if len(items.Keys) > 0 {
				rows, hs, err = s.workHistories(ctx, items, everyStarted)
			}
			return
		},
	)
	if err != nil {
		return out, err
	}
	out.Impeded = []SprintImpeded{}
	if sp.StartAt != nil {
		rules := f.Rules.WithDefaults()
		for i, h := range hs {
			if h.Start.Before(*sp.StartAt) {
				h.Start = sp.StartAt.UTC()
			}
			if h.End.After(end) {
				h.End = end
			}
			if !h.End.After(h.Start) {
				continue
			}
			h.InProgress = false
			if imp := Impede(h, rules); imp.BlockedDays > 0 || imp.StalledDays > 0 {
				out.Impeded = append(out.Impeded, SprintImpeded{Key: rows[i].Key, Summary: rows[i].Summary, Status: rows[i].Status, Impediments: imp})
			}
		}
		sort.SliceStable(out.Impeded, func(a, b int) bool {
			x, y := out.Impeded[a], out.Impeded[b]
			return moreImpeded(x.Impediments, y.Impediments, x.Key, y.Key)
		})
	}
	out.P85 = flow.CycleTime.P85
	out.Issues = page.Issues
	if out.Issues == nil {
		out.Issues = []IssueRow{}
	}
	var done []IssueRow
	for _, is := range page.Issues {
		if is.CycleTimeDays != nil && is.DoneAt != nil && !is.DoneAt.After(end) {
			done = append(done, is)
		}
		if out.P85 != nil && is.StartedAt != nil && is.StartedAt.Before(end) {
			stop := end
			if is.DoneAt != nil && is.DoneAt.Before(end) {
				stop = *is.DoneAt
			}
			if stop.Sub(*is.StartedAt).Hours()/24 > *out.P85 {
				out.Aged = append(out.Aged, is)
			}
		}
	}
	sort.SliceStable(done, func(a, b int) bool { return *done[a].CycleTimeDays > *done[b].CycleTimeDays })
	out.Slowest = done[:min(len(done), 5)]
	if out.Aged == nil {
		out.Aged = []IssueRow{}
	}
	return out, nil
}

// SprintBoard finds the board of a sprint (on site, "" for any): a sprint
// id is unique within a Jira site, so a link to a sprint needs no board.
// It is ENOTFOUND for an unknown sprint and EINVALID when sprints of that
// id on several sites make it ambiguous.
func (s *Service) SprintBoard(ctx context.Context, site string, sprintID uint64) (string, uint64, error) {
	var rows []struct {
		Site  string `ch:"site"`
		Board uint64 `ch:"board_id"`
	}
	cond, args := "sprint_id = ?", []any{sprintID}
	if site != "" {
		cond, args = cond+" AND site = ?", append(args, site)
	}
	if err := s.DB.Select(ctx, &rows, "SELECT DISTINCT site, board_id FROM sprints FINAL WHERE "+cond+" LIMIT 2", args...); err != nil {
		return "", 0, fmt.Errorf("sprint board: %w", err)
	}
	switch len(rows) {
	case 0:
		return "", 0, evident.Errorf(evident.ENOTFOUND, "sprint %d is not a sprint Evident knows", sprintID)
	case 1:
		return rows[0].Site, rows[0].Board, nil
	}
	return "", 0, evident.Errorf(evident.EINVALID, "board: sprint %d exists on several sites or boards; name the board", sprintID)
}
