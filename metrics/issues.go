package metrics

// The issues list: a page of issues with their derived times.

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// IssueRow is one issue with its derived timestamps, for the issues API.
type IssueRow struct {
	Key            string     `json:"key" ch:"issue_key"`
	Project        string     `json:"project" ch:"project_key"`
	Type           string     `json:"type" ch:"issue_type"`
	Summary        string     `json:"summary" ch:"summary"`
	Status         string     `json:"status" ch:"status_name"`
	StatusCategory string     `json:"status_category" ch:"status_category"`
	CreatedAt      time.Time  `json:"created_at" ch:"created_at"`
	StartedAt      *time.Time `json:"started_at" ch:"started_at"`
	DoneAt         *time.Time `json:"done_at" ch:"done_at"`
	ResolvedAt     *time.Time `json:"resolved_at" ch:"resolved_at"`
	LeadTimeDays   *float64   `json:"lead_time_days" ch:"-"`
	CycleTimeDays  *float64   `json:"cycle_time_days" ch:"-"`
	StoryPoints    *float64   `json:"story_points" ch:"story_points"`
	BusinessValue  *float64   `json:"business_value" ch:"business_value"`
	SprintIDs      []uint64   `json:"sprint_ids" ch:"sprint_ids"`
}

// IssuePage is a page of issues and how many match.
type IssuePage struct {
	Total  int        `json:"total"`
	Issues []IssueRow `json:"issues"`
}

// Issues lists issues matching f (From/To, when set, bound created_at),
// oldest first.
func (s *Service) Issues(ctx context.Context, f Filter, limit, offset int) (IssuePage, error) {
	where, args := f.where()
	if !f.From.IsZero() {
		where += " AND created_at >= toDateTime(?)"
		args = append(args, unix(f.From))
	}
	if !f.To.IsZero() {
		where += " AND created_at < toDateTime(?)"
		args = append(args, unix(f.To))
	}
	var total uint64
	var rows []IssueRow
	// The page's issues are chosen on the two columns they are ordered by,
	// then read whole: the summaries and sprints of every issue that
	// matches are not read to keep a hundred.
	q := `SELECT issue_key, project_key, issue_type, summary, status_name, status_category, created_at, started_at, done_at, resolved_at,
		story_points, business_value, sprint_ids FROM issues_current WHERE ` + where + ` AND (site, issue_id) IN
		(SELECT site, issue_id FROM issues_current WHERE ` + where + ` ORDER BY created_at, issue_id LIMIT ? OFFSET ?)
		ORDER BY created_at, issue_id`
	err := parallel(
		func() error {
			// Without a label or key, over whole days: the cumulative-flow
			// changes by category, which sum to the issues created (each
			// move is −1 and +1 on one day).
			if !f.perIssue() && (f.From.IsZero() || onMidnight(f.From)) && (f.To.IsZero() || onMidnight(f.To)) {
				conds, cargs := f.dimConds()
				if !f.From.IsZero() {
					conds, cargs = append(conds, "day >= toDate(?)"), append(cargs, day(f.From))
				}
				if !f.To.IsZero() {
					conds, cargs = append(conds, "day < toDate(?)"), append(cargs, day(f.To))
				}
				q := "SELECT toUInt64(sum(delta)) FROM cfd_daily WHERE " + strings.Join(conds, " AND ") + " AND kind = 'category'"
				if err := s.DB.QueryRow(ctx, q, cargs, &total); err != nil {
					return fmt.Errorf("count issues: %w", err)
				}
				return nil
			}
			if err := s.DB.QueryRow(ctx, "SELECT count() FROM issues_current WHERE "+where, args, &total); err != nil {
				return fmt.Errorf("count issues: %w", err)
			}
			return nil
		},
		func() error {
			if err := s.DB.Select(ctx, &rows, q, append(append(append([]any{}, args...), args...), limit, offset)...); err != nil {
				return fmt.Errorf("list issues: %w", err)
			}
			return nil
		},
	)
	if err != nil {
		return IssuePage{}, err
	}
	for i := range rows {
		r := &rows[i]
		r.CreatedAt = r.CreatedAt.UTC()
		if r.DoneAt != nil {
			r.LeadTimeDays = ptr(round(r.DoneAt.Sub(r.CreatedAt).Seconds() / 86400))
			if r.StartedAt != nil {
				r.CycleTimeDays = ptr(round(r.DoneAt.Sub(*r.StartedAt).Seconds() / 86400))
			}
		}
		if r.SprintIDs == nil {
			r.SprintIDs = []uint64{}
		}
	}
	if rows == nil {
		rows = []IssueRow{}
	}
	return IssuePage{Total: int(total), Issues: rows}, nil
}
