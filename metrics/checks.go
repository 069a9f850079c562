package metrics

// The data quality checks that look across an issue's history, its
// sub-tasks and its project's boards, run on the read model.

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/schema"
)

// qualitySample is about how many of the issues that failed a check the
// examples are chosen from (the first MaxQualityExamples by key).
const qualitySample = 1000

// derivedCheck is the result of a check run on the read model.
type derivedCheck struct {
	check    string
	n        uint64
	examples []QualityIssue
}

// derivedChecks runs the data quality checks that look across an issue's
// history, its sub-tasks and its project's boards on the read model
// (docs/metrics.md, "When Jira's data disagrees"): the per-issue ones in
// one pass, the sub-task ones by joining sub-tasks to their parents.
func (s *Service) derivedChecks(ctx context.Context, boards []BoardHealth) ([]derivedCheck, error) {
	// Board statuses by "PROJECT|status": those a column holds, and those
	// of the first column; only projects with a board are checked. The
	// column of a status (1 on) is its place in the first of the
	// project's boards that holds it.
	var projects, held, first, heldIDs []string
	var colIndex []uint32
	for _, b := range boards {
		for _, p := range b.Projects {
			projects = append(projects, p)
			for i, c := range b.Columns {
				for _, st := range c.Statuses {
					held = append(held, p+"|"+st)
					if i == 0 {
						first = append(first, p+"|"+st)
					}
				}
				for _, id := range c.ids {
					// The first board's column only: a status's column is
					// looked up by transform, which takes one per key.
					if k := p + "|" + id; !slices.Contains(heldIDs, k) {
						heldIDs = append(heldIDs, k)
						colIndex = append(colIndex, uint32(i+1))
					}
				}
			}
		}
	}
	// The projects on several boards, with the boards' names.
	onBoards := map[string][]string{}
	for _, b := range boards {
		for _, p := range b.Projects {
			onBoards[p] = append(onBoards[p], fmt.Sprintf("%s (%d)", b.Name, b.BoardID))
		}
	}
	several, severalNames := []string{""}, []string{""}
	for _, p := range slices.Sorted(maps.Keys(onBoards)) {
		if len(onBoards[p]) > 1 {
			several, severalNames = append(several, p), append(severalNames, strings.Join(onBoards[p], ", "))
		}
	}
	// A list is never empty: ClickHouse cannot type an empty array literal
	// in has(); "" matches no project.
	heldIDs, colIndex = append(heldIDs, ""), append(colIndex, 0)
	projects, held, first = uniq(append(projects, "")), uniq(append(held, "")), uniq(append(first, ""))
	g := schema.Current
	// The per-issue checks: each a condition on a row of issues_current.
	// They are counted in one pass without arrays; the examples are drawn
	// in a second pass, each check's from a uniform sample of its issues.
	conds := []struct {
		code string
		cond sqlf
	}{
		{evident.CheckDoneNeverStarted, frag("done_at IS NOT NULL AND started_at IS NULL")},
		{evident.CheckMovedBackwards, frag("mb > 0")},
		{evident.CheckMovedBackColumn, frag("mbc > 0")},
		{evident.CheckChangedAfterDone, frag("cad > 0")},
		{evident.CheckDoneUnresolved, frag("status_category = 'done' AND resolved_at IS NULL")},
		{evident.CheckBlockedByClosed, frag("started_at IS NOT NULL AND done_at IS NULL AND status_category != 'done' AND arrayExists(o -> o = 0, blocked_by_open)")},
		{evident.CheckStatusOffBoard, frag("has(?, project_key) AND concat(project_key, '|', status_name) NOT IN (SELECT arrayJoin(?))", projects, held)},
		{evident.CheckCreatedOffColumn, frag("has(?, project_key) AND concat(project_key, '|', initial_status) NOT IN (SELECT arrayJoin(?))", projects, first)},
		{evident.CheckOnSeveralBoards, frag("has(?, project_key)", several)},
	}
	// mbc: the first change to an earlier column of the same category.
	// Each status the issue entered (and the one it was created in) is
	// looked up once (ClickHouse computes the same expression once): its
	// board column (by id, 1 on; 0 when no column holds it), by transform,
	// a hash lookup (indexOf searched the list, one entry per board and
	// status: 460 at 1,000,000 issues, most repeated); the change k
	// goes from column cols[k] to cols[k+1]. Not the constant 0 without
	// boards: the note's history_from_status[mbc] would be refused as
	// index 0 before any row is read.
	mbc := frag("0 * length(history_from_category)")
	if len(heldIDs) > 1 {
		cols := func() sqlf {
			return frag("arrayMap(s -> transform(concat(project_key, '|', s), ?, ?, toUInt32(0)), arrayConcat([initial_status_id], history_to_status_id))", heldIDs, colIndex)
		}
		mbc = cat(`arrayFirstIndex((f, t, a, b) -> a = b AND t > 0 AND f > t, arrayPopBack(`, cols(), `), arrayPopFront(`, cols(), `),
			history_from_category, history_to_category)`)
	}
	rows := func(extra string) sqlf {
		return cat(`(SELECT site, issue_key, project_key, status_name, status_category, initial_status, resolved_at, started_at, done_at, blocked_by_open`+extra+`,
			arrayFirstIndex(`+schema.MovedBack+`, history_from_category, history_to_category) AS mb,
			arrayFirstIndex(`+schema.Reopened+`, history_from_category, history_to_category) AS cad, `, mbc, ` AS mbc
			FROM issues_current WHERE `+g+`)`)
	}
	countSQL := frag(`SELECT `)
	for i, c := range conds {
		if i > 0 {
			countSQL = cat(countSQL, ", ")
		}
		countSQL = cat(countSQL, "countIf(", c.cond, ")")
	}
	countSQL = cat(countSQL, ` FROM `, rows(""))
	// codes lists a row's failed checks, each kept when the row's hash
	// falls in the check's sample (every[i]: 1 in every[i] issues).
	codes := func(every []uint64) sqlf {
		found := frag("")
		for i, c := range conds {
			if i > 0 {
				found = cat(found, ", ")
			}
			found = cat(found, "if((", c.cond, fmt.Sprintf(") AND cityHash64(site, issue_key) %% %d = 0, '%s', '')", every[i], c.code))
		}
		return cat(`SELECT *, arrayFilter(x -> x != '', [`, found, `]) AS found FROM `,
			rows(", history_at, history_from_status, history_to_status, blocked_by"), ` WHERE notEmpty(found)`)
	}
	note := `multiIf(
		check = '` + evident.CheckDoneNeverStarted + `', concat('done (', status_name, ') without a start on record'),
		check = '` + evident.CheckMovedBackwards + `', concat(history_from_status[mb], ' → ', history_to_status[mb], ' on ', toString(toDate(history_at[mb]))),
		check = '` + evident.CheckMovedBackColumn + `', concat(history_from_status[mbc], ' → ', history_to_status[mbc], ' on ', toString(toDate(history_at[mbc])), ', an earlier column'),
		check = '` + evident.CheckChangedAfterDone + `', concat(history_from_status[cad], ' → ', history_to_status[cad], ' on ', toString(toDate(history_at[cad])), ' after done'),
		check = '` + evident.CheckDoneUnresolved + `', concat('in ', status_name, ' with no resolution'),
		check = '` + evident.CheckBlockedByClosed + `', concat('in progress, blocked by ', arrayStringConcat(arrayFilter((k, o) -> o = 0, blocked_by, blocked_by_open), ', '), ', already done'),
		check = '` + evident.CheckStatusOffBoard + `', concat('in ', status_name, ', which no column of a ', project_key, ' board holds'),
		check = '` + evident.CheckCreatedOffColumn + `', concat('created in ', initial_status),
		concat('on ', arrayElement(?, indexOf(?, project_key))))`
	// A sub-task: an issue with a parent that is not its epic, not itself
	// an epic-level issue.
	subtasks := `parent_key != '' AND parent_key != epic_key AND NOT has(?, issue_type)`
	// The join's right side holds only issues some sub-task names as its
	// parent: ClickHouse builds it in memory.
	parents := `issue_key IN (SELECT parent_key FROM issues_current WHERE ` + g + ` AND ` + subtasks + `)`
	// Both sub-task checks from one join of the sub-tasks that fail
	// either to their parents.
	family := frag(`SELECT site, issue_key, parent_key, status_name, status_category, started_at, p_cat, p_started FROM
		(SELECT site, issue_key, parent_key, status_name, status_category, started_at FROM issues_current WHERE `+g+` AND `+subtasks+`)
		ALL INNER JOIN (SELECT site, issue_key AS parent_key, status_category AS p_cat, started_at AS p_started FROM issues_current
			WHERE `+g+` AND (status_category = 'done' OR started_at IS NULL) AND `+parents+`) USING (site, parent_key)
		WHERE (p_cat = 'done' AND status_category != 'done') OR (p_started IS NULL AND p_cat != 'done' AND started_at IS NOT NULL)
		ORDER BY site, issue_key`, evident.EpicTypes, evident.EpicTypes)
	type row struct {
		Check string `ch:"check"`
		Site  string `ch:"site"`
		Key   string `ch:"issue_key"`
		Note  string `ch:"note"`
		N     uint64 `ch:"n"`
	}
	var counts, examples []row
	limit := strconv.Itoa(MaxQualityExamples)
	fns := []func() error{
		func() error {
			n := make([]uint64, len(conds))
			dest := make([]any, len(n))
			for i := range n {
				dest[i] = &n[i]
			}
			if err := s.DB.QueryRow(ctx, countSQL.text, countSQL.args, dest...); err != nil {
				return err
			}
			// The examples: the first by key of each check among a uniform
			// sample (by a hash of the issue) of about qualitySample of
			// its issues, so that no more than that are sorted.
			every := make([]uint64, len(n))
			failed := false
			for i, c := range conds {
				every[i] = max(1, n[i]/qualitySample)
				if n[i] > 0 {
					counts = append(counts, row{Check: c.code, N: n[i]})
					failed = true
				}
			}
			if !failed {
				return nil
			}
			q := cat(`SELECT check, site, issue_key, `, frag(note, severalNames, several), ` AS note FROM (`, codes(every), `) ARRAY JOIN found AS check
				ORDER BY check, site, issue_key LIMIT `+limit+` BY check`)
			return s.DB.Select(ctx, &examples, q.text, q.args...)
		},
	}
	// The join's rows (as many as sub-tasks at most) become both checks
	// here: a sub-task open under a done parent, a parent not started
	// under started sub-tasks (once per parent).
	type familyRow struct {
		Site      string     `ch:"site"`
		Key       string     `ch:"issue_key"`
		Parent    string     `ch:"parent_key"`
		Status    string     `ch:"status_name"`
		Category  string     `ch:"status_category"`
		Started   *time.Time `ch:"started_at"`
		PCategory string     `ch:"p_cat"`
		PStarted  *time.Time `ch:"p_started"`
	}
	var fam []familyRow
	fns = append(fns, func() error { return s.DB.Select(ctx, &fam, family.text, family.args...) })
	if err := parallel(fns...); err != nil {
		return nil, fmt.Errorf("data quality checks: %w", err)
	}
	byCheck := map[string]*derivedCheck{}
	var out []derivedCheck
	for _, c := range conds {
		out = append(out, derivedCheck{check: c.code})
	}
	out = append(out, derivedCheck{check: evident.CheckSubtaskAfterParent}, derivedCheck{check: evident.CheckParentNotStarted})
	for i := range out {
		byCheck[out[i].check] = &out[i]
	}
	for _, c := range counts {
		byCheck[c.Check].n = c.N
	}
	for _, e := range examples {
		byCheck[e.Check].examples = append(byCheck[e.Check].examples, QualityIssue{Site: e.Site, Key: e.Key, Note: e.Note})
	}
	type parentRef struct{ site, key string }
	notStarted := map[parentRef]*struct {
		n     int
		first time.Time
	}{}
	var parentsInOrder []parentRef
	after := byCheck[evident.CheckSubtaskAfterParent]
	for _, r := range fam {
		if r.PCategory == evident.CategoryDone && r.Category != evident.CategoryDone {
			after.n++
			if len(after.examples) < MaxQualityExamples {
				after.examples = append(after.examples, QualityIssue{Site: r.Site, Key: r.Key, Note: fmt.Sprintf("open (%s) while its parent %s is done", r.Status, r.Parent)})
			}
		}
		if r.PStarted == nil && r.PCategory != evident.CategoryDone && r.Started != nil {
			k := parentRef{r.Site, r.Parent}
			p := notStarted[k]
			if p == nil {
				p = &struct {
					n     int
					first time.Time
				}{first: *r.Started}
				notStarted[k] = p
				parentsInOrder = append(parentsInOrder, k)
			}
			p.n++
			if r.Started.Before(p.first) {
				p.first = *r.Started
			}
		}
	}
	sort.Slice(parentsInOrder, func(a, b int) bool {
		if parentsInOrder[a].site != parentsInOrder[b].site {
			return parentsInOrder[a].site < parentsInOrder[b].site
		}
		return parentsInOrder[a].key < parentsInOrder[b].key
	})
	pns := byCheck[evident.CheckParentNotStarted]
	pns.n = uint64(len(parentsInOrder))
	for _, k := range parentsInOrder[:min(len(parentsInOrder), MaxQualityExamples)] {
		p := notStarted[k]
		pns.examples = append(pns.examples, QualityIssue{Site: k.site, Key: k.key, Note: fmt.Sprintf("%d sub-task(s) started, the first on %s", p.n, p.first.UTC().Format("2006-01-02"))})
	}
	return out, nil
}
