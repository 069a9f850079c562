package schema

// The SQL the metrics read the read model with, and the pinning of a
// request to one generation.

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"github.com/evident-ebm/evident"
)

// Current is the SQL condition on a read-model table that selects the rows
// readers use: the pieces of the newest generation whose build finished (a
// generation of an earlier version is one piece numbered as itself).
// ClickHouse builds the set first and prunes every other partition.
const Current = `gen IN (SELECT arrayJoin(` + piecesOf + `) FROM derived_generations
	WHERE gen = (SELECT max(gen) FROM derived_generations))`

// piecesOf is the SQL of a row of derived_generations' pieces (Go:
// Generation.pieces).
const piecesOf = "if(empty(pieces), [gen], pieces)"

// OpenIssues stands for the table a query of the issues not done reads
// in place of issues_current, with the Current condition: issues_open
// when the pinned generation's pieces all have rows there (its format),
// else issues_current itself. issues_open holds the rows of issues_current
// that meet openCond, so a query whose conditions imply openCond ("in
// progress now", the open backlog) gets the same rows from either, and
// reads a few thousand where the other holds every issue.
const OpenIssues = "{open_issues}"

// DoneIssues stands for the table a query of the issues done in a range
// reads in place of issues_current, with the Current condition and
// conditions on assumeNotNull(done_at), the table's sorting key, inside
// the same subquery (18.16 does not move an outer WHERE into it):
// issues_done when the pinned generation's pieces all have rows there
// (its format), else issues_current. issues_done holds the rows of
// issues_current with a completion, so a query whose conditions imply
// done_at IS NOT NULL gets the same rows from either, and reads the
// range's granules where the other reads every issue of the project.
const DoneIssues = "{done_issues}"

// WholePieces stands for a condition true when the generation readers use
// has every piece's rows in every read-model table (its format): a reader
// of the per-day counts (done_daily) adds it, so that over a generation an
// earlier version recorded, whose pieces may lack those rows, it reads
// none and counts the issues instead. Pinned, it is the constant the
// pinned generation's format gives; else the SQL asks derived_generations.
const WholePieces = "{whole_pieces}"

// WholeTimes is WholePieces for the lead and cycle times per day
// (done_times).
const WholeTimes = "{whole_times}"

// formatAtLeast is the SQL of "the newest generation's format is at least
// format" (NULL, so false, without a generation).
func formatAtLeast(format int) string {
	return `((SELECT format FROM derived_generations WHERE gen = (SELECT max(gen) FROM derived_generations)) >= ` + strconv.Itoa(format) + `)`
}

// unpinned puts in a query that no pin serves what stands for the open
// and done issues and the format's answers.
var unpinned = strings.NewReplacer(OpenIssues, "issues_current", DoneIssues, "issues_current",
	WholePieces, formatAtLeast(FormatDaily), WholeTimes, formatAtLeast(FormatTimes))

// Stays is the SQL of an issue's closed stays in its statuses, on a row of
// issues_current: (status, category, seconds) from entering each status
// (the first at creation) to leaving it; the stay in the current status is
// open and left out. It is evident.Timeline.Stays in SQL (the differential
// test holds them equal): the k-th stay runs from the k-th of [created_at]
// ++ history_at to the k-th change, in the k-th status of [initial] ++ the
// statuses changed to. Every array is cut to the number of changes, so an
// issue without any has no stays (arrayMap needs equal sizes).
const Stays = `arrayMap((s, c, a, b) -> (s, c, toInt64(b) - toInt64(a)),
	arraySlice(arrayConcat([initial_status], history_to_status), 1, length(history_at)),
	arraySlice(arrayConcat([initial_category], history_to_category), 1, length(history_at)),
	arraySlice(arrayConcat([created_at], history_at), 1, length(history_at)),
	history_at)`

// FlowEvents is the SQL of an issue's contributions to the cumulative flow,
// on a row of issues_current: (kind, day, state, delta) tuples, +1 into the
// initial state on the day of creation, then −1 out of and +1 into a state
// on the day of each change, by category and by status. It is
// evident.Timeline.FlowEvents in SQL.
const FlowEvents = `arrayConcat(
	[('category', toDate(created_at), initial_category, toInt64(1)), ('status', toDate(created_at), initial_status, toInt64(1))],
	arrayMap((at, c) -> ('category', toDate(at), c, toInt64(-1)), history_at, history_from_category),
	arrayMap((at, c) -> ('category', toDate(at), c, toInt64(1)), history_at, history_to_category),
	arrayMap((at, st) -> ('status', toDate(at), st, toInt64(-1)), history_at, history_from_status),
	arrayMap((at, st) -> ('status', toDate(at), st, toInt64(1)), history_at, history_to_status))`

// BoardProjects is a table expression of every (board, project) pair: the
// board_projects rows, and for a board no sync has written there yet (data
// of an earlier version) its one row in boards.
const BoardProjects = `(SELECT site, board_id, name, type, project_key FROM board_projects FINAL
	UNION ALL
	SELECT site, board_id, name, type, project_key FROM boards FINAL WHERE (site, board_id) NOT IN (SELECT site, board_id FROM board_projects))`

// LeadSeconds and CycleSeconds are a done issue's lead and cycle time in
// seconds on a row of issues_current (docs/metrics.md): from creation, or
// from the start of work, to done. Cycle time means something only when
// started_at is set. The collector's clamps keep both from being negative;
// Go computes them as DoneAt − CreatedAt and DoneAt − StartedAt.
const (
	LeadSeconds  = `toInt64(toUInt32(assumeNotNull(done_at))) - toInt64(toUInt32(created_at))`
	CycleSeconds = `toInt64(toUInt32(assumeNotNull(done_at))) - toInt64(toUInt32(ifNull(started_at, toDateTime(0))))`
)

// MovedBack and Reopened are the status changes (from category a to b)
// of the moved_backwards and changed_after_done checks, which the flow's
// trust caveats count too.
const (
	MovedBack = "(a, b) -> a = 'indeterminate' AND b = 'new'"
	Reopened  = "(a, b) -> a = 'done' AND b != 'done'"
)

// FlowCaveats are the columns of a done issue, on a row of
// issues_current, that say whether a data quality check questions its
// lead or cycle time (the flow's trust caveats), in the order of
// done_times' counts: resolved before created, a change dated before the
// creation, done before started, reopened, moved back to to-do.
const FlowCaveats = `has(findings, '` + evident.CheckResolvedBeforeCreated + `') AS rbc, has(findings, '` + evident.CheckChangeBeforeCreated + `') AS cbc,
	has(findings, '` + evident.CheckDoneBeforeStarted + `') AS dbs,
	arrayExists(` + Reopened + `, history_from_category, history_to_category) AS reo,
	arrayExists(` + MovedBack + `, history_from_category, history_to_category) AS mbk`

// PinCurrent returns a context whose queries read one generation of the
// read model: the first query with the Current condition looks the
// generation up, and it and every later one name its pieces by number
// (gen IN (…)) instead of asking derived_generations themselves. A request
// pins once and so reads one generation throughout, however many queries
// it runs (before, each query took the newest, and a request that spanned
// a refresh could mix two); and the lookup is paid once: under 8 clients
// the subquery cost each query 5 to 10 ms at 1,000,000 issues. The
// generation's pieces outlive it by two more builds (dropUnusedPieces).
// Without a pin, or when the lookup fails, queries keep the subquery.
func PinCurrent(ctx context.Context) context.Context {
	return context.WithValue(ctx, pinKey{}, &pin{})
}

type pinKey struct{}

type pin struct {
	once   sync.Once
	cond   string
	format uint32 // what the generation's pieces all have rows in
}

// pinned returns query with the Current condition replaced by the pieces
// pinned in ctx, looking them up on first use, OpenIssues and DoneIssues
// by the tables that hold them for that generation, and WholePieces and
// WholeTimes by its format's answers. Unpinned, both tables are
// issues_current and the answers ask.
func (s *Store) pinned(ctx context.Context, query string) string {
	p, ok := ctx.Value(pinKey{}).(*pin)
	if !ok || !strings.Contains(query, Current) {
		return unpinned.Replace(query)
	}
	p.once.Do(func() {
		g, ok, err := s.CurrentGeneration(ctx)
		if err != nil || !ok {
			return // no generation yet (or no answer): the subquery says so itself
		}
		pieces := g.pieces()
		list := make([]string, len(pieces))
		for i, v := range pieces {
			list[i] = strconv.FormatUint(v, 10)
		}
		p.cond = "gen IN (" + strings.Join(list, ", ") + ")"
		p.format = g.Format
	})
	if p.cond == "" {
		return unpinned.Replace(query)
	}
	open, done, whole, times := "issues_current", "issues_current", "0", "0"
	if p.format >= FormatDaily {
		open, whole = "issues_open", "1"
	}
	if p.format >= FormatDone {
		done = "issues_done"
	}
	if p.format >= FormatTimes {
		times = "1"
	}
	return strings.NewReplacer(Current, p.cond, OpenIssues, open, DoneIssues, done, WholePieces, whole, WholeTimes, times).Replace(query)
}
