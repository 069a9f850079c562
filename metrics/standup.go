package metrics

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/evident-ebm/evident/schema"
)

// Standup is the daily view of the work in progress: each item with what
// needs attention, the items needing most first.
type Standup struct {
	At    time.Time `json:"at"`
	Rules Rules     `json:"rules"`
	// P85CycleDays is the 85th percentile cycle time of the period's done
	// issues (null with fewer than MinConfidentN): older items are "aged".
	P85CycleDays *float64      `json:"p85_cycle_days"`
	CycleN       int           `json:"cycle_n"`
	Items        []StandupItem `json:"items"`
	// Counts of items per attention reason.
	Blocked   int  `json:"blocked"`
	Stalled   int  `json:"stalled"`
	Aged      int  `json:"aged"`
	Expedited int  `json:"expedited"`
	Truncated bool `json:"truncated"`
}

// StandupItem is an item in progress with the reasons it needs attention.
type StandupItem struct {
	ImpededIssue
	Aged bool `json:"aged"`
	// Reasons say in words why it needs attention, most urgent first.
	Reasons []string `json:"reasons"`
}

// Standup lists the items in progress now by what needs attention:
// blocked, then stalled, then aged past the 85th percentile cycle time of
// the period, then expedited; within each, the oldest first.
func (s *Service) Standup(ctx context.Context, f Filter) (Standup, error) {
	out := Standup{At: s.Now().UTC(), Rules: f.Rules.WithDefaults(), Items: []StandupItem{}}
	var items []ImpededIssue
	var n uint64
	var p85 int64
	err := parallel(
		func() (err error) {
			items, err = s.impeded(ctx, f, inProgressNow)
			return err
		},
		func() error {
			// The flow's 85th percentile cycle time (nearest rank), selected
			// in ClickHouse: the values are not sent. From the times per
			// day as the flow's (flowPass).
			if f.wholeDays() {
				conds, cargs := f.timesConds()
				q := `SELECT sum(length(cycles)), toInt64(quantileExactArray(` + levelOf(85) + `)(cycles)) FROM done_times WHERE ` + conds
				if err := s.DB.QueryRow(ctx, q, cargs, &n, &p85); err != nil {
					return fmt.Errorf("standup cycle times: %w", err)
				}
			}
			if n == 0 {
				sel := cat(`SELECT count(), toInt64(quantileExact(`+levelOf(85)+`)(`+schema.CycleSeconds+`)) FROM `, f.doneIssuesFrom(),
					" WHERE started_at IS NOT NULL")
				if err := s.DB.QueryRow(ctx, sel.text, sel.args, &n, &p85); err != nil {
					return fmt.Errorf("standup cycle times: %w", err)
				}
			}
			return nil
		},
	)
	if err != nil {
		return out, err
	}
	out.CycleN = int(n)
	if n >= MinConfidentN {
		p := round(float64(p85) / 86400)
		out.P85CycleDays = &p
	}
	out.Truncated = len(items) >= MaxImpededIssues
	for _, is := range items {
		it := StandupItem{ImpededIssue: is, Reasons: []string{}}
		if is.Blocked {
			var why []string
			for _, b := range is.Blockers {
				if !b.Now {
					continue
				}
				switch b.Reason {
				case BlockedByFlag:
					why = append(why, "flagged")
				case BlockedByStatus:
					why = append(why, "in "+b.Name)
				case BlockedByLink:
					why = append(why, "by "+b.Name)
				}
			}
			it.Reasons = append(it.Reasons, "blocked ("+strings.Join(why, ", ")+")")
			out.Blocked++
		}
		if is.Stalled {
			it.Reasons = append(it.Reasons, fmt.Sprintf("stalled: no change for %s days", trimDays(is.IdleDays)))
			out.Stalled++
		}
		if out.P85CycleDays != nil && is.Days > *out.P85CycleDays {
			it.Aged = true
			it.Reasons = append(it.Reasons, fmt.Sprintf("aged: %s days in progress, past the 85th percentile (%s days)", trimDays(is.Days), trimDays(*out.P85CycleDays)))
			out.Aged++
		}
		if is.Expedited {
			it.Reasons = append(it.Reasons, "expedited: priority "+is.Priority)
			out.Expedited++
		}
		out.Items = append(out.Items, it)
	}
	rank := func(it StandupItem) int {
		switch {
		case it.Blocked:
			return 0
		case it.Stalled:
			return 1
		case it.Aged:
			return 2
		case it.Expedited:
			return 3
		}
		return 4
	}
	sort.SliceStable(out.Items, func(a, b int) bool {
		x, y := out.Items[a], out.Items[b]
		if rx, ry := rank(x), rank(y); rx != ry {
			return rx < ry
		}
		if x.Days != y.Days {
			return x.Days > y.Days
		}
		return x.Key < y.Key
	})
	return out, nil
}

// trimDays writes days with one decimal at most.
func trimDays(d float64) string { return strconv.FormatFloat(math.Round(d*10)/10, 'f', -1, 64) }
