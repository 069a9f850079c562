package collector

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/evident-ebm/evident"
)

// BoardCycle names the board columns where cycle time starts and ends
// (site setting boards.<id>). Empty names take the defaults: the first
// column holding an in-progress status, and the done category.
type BoardCycle struct {
	StartColumn string `yaml:"start_column"`
	EndColumn   string `yaml:"end_column"`
}

// Cycle is a project's cycle as the columns of its board define it: the
// statuses that start the clock and the categories that end it. The
// project's own settings win over it (docs/metrics.md, "Board columns").
type Cycle struct {
	Board       uint64 `json:"board"`
	StartColumn string `json:"start_column"`
	EndColumn   string `json:"end_column,omitempty"`
	// Start holds the ids of the statuses of the columns from the start
	// column up to the end column (the done category when none).
	Start []string `json:"start"`
	// Category maps status ids to the category the cycle gives them when
	// an end column is set: done from it on, in progress before it.
	Category map[string]string `json:"category,omitempty"`

	start map[string]bool
}

func (c *Cycle) starts(id string) bool { return c.start[id] }

// category is the category the cycle gives a status, if any (none on a
// nil cycle).
func (c *Cycle) category(id string) (string, bool) {
	if c == nil || id == "" {
		return "", false
	}
	v, ok := c.Category[id]
	return v, ok
}

// Cycles derives each project's cycle from the boards configured for it.
// A board over several projects sets the cycle of each; two configured
// boards for one project, a board Evident did not collect, and a column
// the board does not have are errors naming the setting.
func Cycles(site string, want map[uint64]BoardCycle, boards []evident.Board, configs []evident.BoardConfig, category map[string]string) (map[string]*Cycle, error) {
	if len(want) == 0 {
		return nil, nil
	}
	config := map[uint64]evident.BoardConfig{}
	for _, c := range configs {
		config[c.BoardID] = c
	}
	projects := map[uint64][]string{}
	for _, b := range boards {
		if !evident.OneOf(b.ProjectKey, projects[b.BoardID]) {
			projects[b.BoardID] = append(projects[b.BoardID], b.ProjectKey)
		}
	}
	ids := make([]uint64, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	out := map[string]*Cycle{}
	for _, id := range ids {
		setting := fmt.Sprintf("jira site %q: boards.%d", site, id)
		if len(projects[id]) == 0 {
			return nil, fmt.Errorf("%s: no board %d among the boards of the configured projects", setting, id)
		}
		cfg, ok := config[id]
		if !ok || len(cfg.ColumnNames) == 0 {
			return nil, fmt.Errorf("%s: the board's column configuration could not be read (see the log), so its columns cannot set cycle time", setting)
		}
		c, err := boardCycle(cfg, want[id], category)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", setting, err)
		}
		for _, p := range projects[id] {
			if other, ok := out[p]; ok {
				return nil, fmt.Errorf("%s: project %s already takes its cycle time from board %d; an issue has one cycle time, so configure one board per project", setting, p, other.Board)
			}
			out[p] = c
		}
	}
	return out, nil
}

func boardCycle(cfg evident.BoardConfig, want BoardCycle, category map[string]string) (*Cycle, error) {
	column := func(field, name string) (int, error) {
		for i, n := range cfg.ColumnNames {
			if strings.EqualFold(strings.TrimSpace(n), strings.TrimSpace(name)) {
				return i, nil
			}
		}
		return 0, fmt.Errorf("%s %q is not a column of the board (its columns: %s)", field, name, strings.Join(cfg.ColumnNames, ", "))
	}
	start := -1
	if want.StartColumn == "" {
		for i, sts := range cfg.ColumnStatuses {
			for _, s := range sts {
				if category[s] == evident.CategoryIndeterminate && start < 0 {
					start = i
				}
			}
		}
		if start < 0 {
			return nil, fmt.Errorf("no column holds an in-progress status: set start_column")
		}
	} else {
		var err error
		if start, err = column("start_column", want.StartColumn); err != nil {
			return nil, err
		}
	}
	end := len(cfg.ColumnNames)
	if want.EndColumn != "" {
		var err error
		if end, err = column("end_column", want.EndColumn); err != nil {
			return nil, err
		}
		if end <= start {
			return nil, fmt.Errorf("end_column %q does not come after start_column %q on the board", cfg.ColumnNames[end], cfg.ColumnNames[start])
		}
	}
	c := &Cycle{Board: cfg.BoardID, StartColumn: cfg.ColumnNames[start], Start: []string{}}
	for i := start; i < end; i++ {
		for _, s := range cfg.ColumnStatuses[i] {
			if want.EndColumn != "" || category[s] != evident.CategoryDone {
				c.Start = append(c.Start, s)
			}
		}
	}
	if len(c.Start) == 0 {
		return nil, fmt.Errorf("start_column %q holds only done statuses: nothing would start the clock (set an end_column after it)", c.StartColumn)
	}
	if want.EndColumn != "" {
		c.EndColumn = cfg.ColumnNames[end]
		c.Category = map[string]string{}
		for i, sts := range cfg.ColumnStatuses {
			for _, s := range sts {
				switch {
				case i >= end:
					c.Category[s] = evident.CategoryDone
				case category[s] == evident.CategoryDone:
					c.Category[s] = evident.CategoryIndeterminate
				}
			}
		}
	}
	sort.Strings(c.Start)
	c.start = map[string]bool{}
	for _, s := range c.Start {
		c.start[s] = true
	}
	return c, nil
}

// cyclesKey is the stored form of the cycles, to notice a change: the
// issues stored before it are re-extracted.
func cyclesKey(c map[string]*Cycle) string {
	if len(c) == 0 {
		return ""
	}
	b, _ := json.Marshal(c)
	return string(b)
}
