package schema

// What a reader can see change: the data version the dashboard keys its
// cache on, and the projects each read model refresh reaches.

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// maxChangedIssues is how many changed issues a refresh looks up the
// projects of; more change what may be every project (a bulk edit, a
// sync after a pause), and the lookup's cost grows with them.
const maxChangedIssues = 2000

// changedProjects lists the projects whose views the changes of a refresh
// from base reach: each changed issue's project before and after (an
// issue moved or deleted), the projects of the issues it names as parent,
// epic or blocker (a Jira key names its project), and those of the issues
// that name it or one of those (the other epics of its initiative). ok is
// false with more than maxChangedIssues changed.
func (s *Store) changedProjects(ctx context.Context, g *Generation, which []int, base *Generation) (projects []string, ok bool, err error) {
	var rebuilt []string
	for _, i := range which {
		rebuilt = append(rebuilt, strconv.FormatUint(g.Pieces[i], 10), strconv.FormatUint(base.Pieces[i], 10))
	}
	var rows []struct {
		Key       string   `ch:"issue_key"`
		Project   string   `ch:"project_key"`
		Parent    string   `ch:"parent_key"`
		Epic      string   `ch:"epic_key"`
		BlockedBy []string `ch:"blocked_by"`
	}
	q := `SELECT issue_key, project_key, parent_key, epic_key, blocked_by FROM issues_current WHERE gen IN (` + strings.Join(rebuilt, ", ") + `)
		AND (site, issue_id) IN (SELECT site, issue_id FROM issues WHERE version > ` + sourceVersion(base.sources) + `) LIMIT ` + strconv.Itoa(2*maxChangedIssues+1)
	if err := s.Select(ctx, &rows, q); err != nil {
		return nil, false, fmt.Errorf("changed projects: %w", err)
	}
	if len(rows) > 2*maxChangedIssues {
		return nil, false, nil
	}
	// keys: the changed issues and those they name; the issues naming
	// any of them show something of them (an initiative's view counts
	// its epics in other projects).
	set := map[string]bool{}
	var keys []string
	for _, r := range rows {
		set[r.Project] = true
		keys = append(keys, r.Key)
		for _, k := range append([]string{r.Parent, r.Epic}, r.BlockedBy...) {
			if p, _, found := strings.Cut(k, "-"); found && p != "" {
				set[p] = true
				keys = append(keys, k)
			}
		}
	}
	if len(keys) > 0 {
		var pieces []string
		for _, p := range g.Pieces {
			pieces = append(pieces, strconv.FormatUint(p, 10))
		}
		in := "gen IN (" + strings.Join(pieces, ", ") + ")"
		var naming []struct {
			Project string `ch:"project_key"`
		}
		q := `SELECT DISTINCT project_key FROM (
			SELECT project_key FROM issues_current WHERE ` + in + ` AND (parent_key IN (SELECT arrayJoin(?)) OR epic_key IN (SELECT arrayJoin(?)))
			UNION ALL
			SELECT project_key FROM issues_current ARRAY JOIN blocked_by AS b WHERE ` + in + ` AND b IN (SELECT arrayJoin(?)))`
		if err := s.Select(ctx, &naming, q, keys, keys, keys); err != nil {
			return nil, false, fmt.Errorf("projects naming the changed issues: %w", err)
		}
		for _, p := range naming {
			set[p.Project] = true
		}
	}
	delete(set, "")
	return slices.Sorted(maps.Keys(set)), true, nil
}

// DataVersion is a token that changes when a reader can see new data: a
// new read model generation recorded, or an insert into a table the
// metrics read directly (sprints, goals, an import, a sync run's outcome),
// or a dropped partition of one; not with background merges: it hashes
// each such table's highest block number, which a merge keeps, the
// tables only views of no one project read (unscoped) apart, and ends
// with the current generation (Changes reads the three apart). The
// dashboard's response cache keys on it, and pages offer the new numbers
// when it changes. It reads system.parts, a few hundred rows.
//
// Left out (notSeenAlone): the Jira issue tables, which readers see only
// through the next generation; the read model's own tables, whose pieces
// are written and dropped around that generation; the sync checkpoints;
// and the forecast log. Counting those made a sync of 1,000 issues change
// the version with every page stored and every piece written, each time
// emptying the cache on data about to be replaced; and every forecast
// computed, which is recorded, emptied it (under load, every request was
// computed). A row of them a reader does see before the generation (a
// sprint's field changes) is at most one time to live of the cache late.
func (s *Store) DataVersion(ctx context.Context) (string, error) {
	var shared, alone, gen uint64
	q := `SELECT sumIf(h, NOT has(?, table)), sumIf(h, has(?, table)), (SELECT max(gen) FROM derived_generations)
		FROM (SELECT table, cityHash64(table, max(max_block_number)) AS h FROM system.parts
		WHERE database = currentDatabase() AND active AND NOT has(?, table) GROUP BY table)`
	if err := s.QueryRow(ctx, q, []any{unscoped, unscoped, notSeenAlone()}, &shared, &alone, &gen); err != nil {
		return "", fmt.Errorf("data version: %w", err)
	}
	return strconv.FormatUint(shared, 36) + "." + strconv.FormatUint(alone, 36) + "." + strconv.FormatUint(gen, 36), nil
}

// unscoped are the tables only views of no one project read (the data
// health report): a change to them changes no project's views.
var unscoped = []string{"sync_runs", "sync_problems", "skipped_issues"}

// Changes says what changed from one data version to a later one: all
// (every view may differ), or only the views of no one project (the
// unscoped tables) and those of the projects the refreshes in between
// list. All when a table every view may read changed, when a full build
// is among the refreshes, or when they do not lead back to from's
// generation (a build that started from an older one).
func (s *Store) Changes(ctx context.Context, from, to string) (projects []string, all bool, err error) {
	f, t := strings.Split(from, "."), strings.Split(to, ".")
	if len(f) != 3 || len(t) != 3 || f[0] != t[0] {
		return nil, true, nil
	}
	fg, err1 := strconv.ParseUint(f[2], 36, 64)
	tg, err2 := strconv.ParseUint(t[2], 36, 64)
	if err1 != nil || err2 != nil || tg < fg {
		return nil, true, nil
	}
	var rows []struct {
		Gen     uint64   `ch:"gen"`
		Base    uint64   `ch:"base"`
		Changed []string `ch:"changed"`
	}
	if err := s.Select(ctx, &rows, "SELECT gen, base, changed FROM derived_generations WHERE gen > ? AND gen <= ?", fg, tg); err != nil {
		return nil, true, fmt.Errorf("generation changes: %w", err)
	}
	byGen := map[uint64]int{}
	for i, r := range rows {
		byGen[r.Gen] = i
	}
	set := map[string]bool{}
	for g := tg; g != fg; {
		i, ok := byGen[g]
		if !ok || rows[i].Base == 0 {
			return nil, true, nil
		}
		for _, p := range rows[i].Changed {
			set[p] = true
		}
		g = rows[i].Base
	}
	return slices.Sorted(maps.Keys(set)), false, nil
}

// notSeenAlone lists the tables whose inserts DataVersion leaves out.
func notSeenAlone() []string {
	out := []string{"issues", "raw_issues", "issue_timelines", "field_changes", "status_transitions", "sprint_changes",
		"issue_backlog", "sync_checkpoints", "forecast_log", "derived_generations"}
	for _, st := range buildSteps {
		out = append(out, st.name)
	}
	return out
}
