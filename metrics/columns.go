package metrics

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/evident-ebm/evident"
)

// BoardWIP is a board's columns in its order with the work in progress in
// each at the end of every day of the period, replayed from the changelog
// (the cumulative flow by status, summed over a column's statuses), against
// the column's limits.
type BoardWIP struct {
	Board   uint64      `json:"board"`
	Name    string      `json:"name"`
	Project string      `json:"project"`
	Days    []string    `json:"days"`
	Columns []ColumnWIP `json:"columns"`
	// Unmapped are the statuses no column holds that held issues in the
	// period, with the issues in each on the last day: the board does not
	// show them.
	Unmapped []UnmappedWIP `json:"unmapped"`
	// Ambiguous are status names that several columns hold (different
	// statuses of the same name): the replay knows statuses by name, so
	// their issues count in the first of those columns only.
	Ambiguous []string `json:"ambiguous"`
	// Cycle says where cycle time starts and ends on the board's project.
	Cycle string `json:"cycle"`
}

// ColumnWIP is one column's work in progress each day.
type ColumnWIP struct {
	BoardColumn
	// Counted says the column holds work in progress: not the first column
	// when it holds only to-do statuses (the backlog), not a column of done
	// statuses only. The others have WIP but no limit figures.
	Counted bool  `json:"counted"`
	WIP     []int `json:"wip"`
	Now     int   `json:"now"`
	Peak    int   `json:"peak"`
	// DaysOverMax and DaysUnderMin count the days whose WIP at the end
	// was above the maximum, below the minimum (0 without a limit).
	DaysOverMax  int `json:"days_over_max"`
	DaysUnderMin int `json:"days_under_min"`
}

// UnmappedWIP is a status outside every column, with its issues on the
// period's last day and its peak.
type UnmappedWIP struct {
	Status string `json:"status"`
	Now    int    `json:"now"`
	Peak   int    `json:"peak"`
}

// BoardWIP replays the work in progress of the board's columns (f.Board).
func (s *Service) BoardWIP(ctx context.Context, f Filter) (BoardWIP, error) {
	if f.Board == 0 {
		return BoardWIP{}, evident.Errorf(evident.EINVALID, "board: name the board whose columns to replay (board=ID)")
	}
	var boards []BoardHealth
	var cfd CFD
	var cats []struct {
		Name     string `ch:"name"`
		Category string `ch:"category"`
	}
	err := parallel(
		func() (err error) { boards, err = s.boardHealth(ctx); return },
		func() (err error) { cfd, err = s.CumulativeFlow(ctx, f, "status"); return },
		func() error {
			return s.DB.Select(ctx, &cats, "SELECT name, any(category) AS category FROM statuses FINAL GROUP BY name")
		},
	)
	if err != nil {
		return BoardWIP{}, fmt.Errorf("board columns: %w", err)
	}
	var b *BoardHealth
	for i := range boards {
		if boards[i].BoardID == f.Board && (f.Site == "" || boards[i].Site == f.Site) {
			b = &boards[i]
			break
		}
	}
	if b == nil {
		return BoardWIP{}, evident.Errorf(evident.ENOTFOUND, "board %d: its column configuration was not collected (a sync reads it)", f.Board)
	}
	category := map[string]string{}
	for _, c := range cats {
		category[c.Name] = c.Category
	}
	out := BoardWIP{Board: b.BoardID, Name: b.Name, Project: b.Project, Days: cfd.Days, Columns: []ColumnWIP{}, Unmapped: []UnmappedWIP{}, Ambiguous: []string{}, Cycle: b.Cycle}
	held := map[string]bool{}
	n := len(cfd.Days)
	for i, col := range b.Columns {
		c := ColumnWIP{BoardColumn: col, WIP: make([]int, n)}
		only := func(cat string) bool {
			for _, st := range col.Statuses {
				if category[st] != cat {
					return false
				}
			}
			return len(col.Statuses) > 0
		}
		c.Counted = !(i == 0 && only(evident.CategoryNew)) && !only(evident.CategoryDone)
		for _, st := range col.Statuses {
			if held[st] {
				if !slices.Contains(out.Ambiguous, st) {
					out.Ambiguous = append(out.Ambiguous, st)
				}
				continue
			}
			held[st] = true
			for d, v := range cfd.Series[st] {
				c.WIP[d] += v
			}
		}
		for _, v := range c.WIP {
			c.Peak = max(c.Peak, v)
			if c.Counted && c.Max != nil && v > int(*c.Max) {
				c.DaysOverMax++
			}
			if c.Counted && c.Min != nil && v < int(*c.Min) {
				c.DaysUnderMin++
			}
		}
		if n > 0 {
			c.Now = c.WIP[n-1]
		}
		out.Columns = append(out.Columns, c)
	}
	for _, st := range slices.Sorted(maps.Keys(cfd.Series)) {
		if held[st] {
			continue
		}
		u := UnmappedWIP{Status: st}
		for _, v := range cfd.Series[st] {
			u.Peak = max(u.Peak, v)
		}
		if n > 0 {
			u.Now = cfd.Series[st][n-1]
		}
		if u.Peak > 0 || u.Now > 0 {
			out.Unmapped = append(out.Unmapped, u)
		}
	}
	return out, nil
}
