package schema

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// CurrentGen is the SQL of the generation of the read model that readers
// use: the newest one whose build finished. ClickHouse runs the scalar
// subquery first and prunes the other generations' partitions.
const CurrentGen = "(SELECT max(gen) FROM derived_generations)"

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

// Generation is one build of the read model.
type Generation struct {
	Gen     uint64        `json:"gen"`
	BuiltAt time.Time     `json:"built_at"`
	Took    time.Duration `json:"-"`
	// Steps is how long each table took, in build order.
	Steps []StepTime `json:"-"`
	// sources is the newest issue row version of each site when the build
	// started: a newer one means the read model is behind.
	sources     map[string]uint64
	Issues      uint64 `json:"issues"`
	Transitions uint64 `json:"transitions"`
}

const issueColumns = `site, issue_id, issue_key, project_key, issue_type, work_category, summary, status_id, status_name,
	status_category, priority, labels, components, fix_versions, parent_key, epic_key, story_points, business_value,
	sprint_ids, rank, has_description, created_at, updated_at, started_at, done_at, resolved_at, due_date, flagged, blocked_by, blocked_by_open, deleted, version`

// issueRange is the placeholder of a step built in ranges of issue ids:
// BuildReadModel runs such a step once per range, binding its bounds.
const issueRange = "issue_id >= {lo} AND issue_id < {hi}"

// DefaultReadModelChunk is how many issues one range of the read model
// build holds at most (Store.ReadModelChunk overrides it). The
// issues_current step holds a range's issues and grouped transitions in
// memory: at a million issues in one go ClickHouse peaked at 3.3 GB.
const DefaultReadModelChunk = 250000

// buildSteps fill one generation (bound as every ?) of the read model, in
// order: each step reads what the ones before it wrote.
var buildSteps = []struct{ name, sql string }{
	// Live issues with the timeline and findings the collector stored for
	// them, and the backlog evidence (WSJF inputs, acceptance criteria).
	// An issue stored before timelines were (none joined: tl_version 0)
	// counts as created in its current status, until the collector
	// re-extracts it.
	{"issues_current", `INSERT INTO issues_current (gen, ` + issueColumns + `, initial_status_id, initial_status, initial_category,
		history_at, history_id, history_from_status, history_to_status, history_to_status_id, history_from_category, history_to_category,
		time_criticality, risk_reduction, job_size, has_acceptance, findings, finding_notes)
	SELECT toUInt64(?), ` + issueColumns + `, if(tl_version = 0, status_id, initial_status_id), if(tl_version = 0, status_name, initial_status),
		if(tl_version = 0, status_category, initial_category),
		history_at, history_id, history_from_status, history_to_status, history_to_status_id, history_from_category, history_to_category,
		time_criticality, risk_reduction, job_size, has_acceptance, findings, finding_notes
	FROM (SELECT ` + issueColumns + `, time_criticality, risk_reduction, job_size, has_acceptance
		FROM (SELECT * FROM issues FINAL WHERE deleted = 0 AND ` + issueRange + `)
		ALL LEFT JOIN (SELECT site, issue_id, time_criticality, risk_reduction, job_size, has_acceptance FROM issue_backlog FINAL
			WHERE ` + issueRange + `) USING (site, issue_id))
	ALL LEFT JOIN (SELECT site, issue_id, version AS tl_version, initial_status_id, initial_status, initial_category, history_at, history_id, history_from_status,
			history_to_status, history_to_status_id, history_from_category, history_to_category, findings, finding_notes
		FROM issue_timelines FINAL WHERE ` + issueRange + `) USING (site, issue_id)`},
	// The cumulative flow as daily changes per state (FlowEvents summed).
	{"cfd_daily", `INSERT INTO cfd_daily (gen, site, project_key, issue_type, work_category, kind, day, state, delta)
	SELECT toUInt64(?), site, project_key, issue_type, work_category, tupleElement(e, 1) AS kind, tupleElement(e, 2) AS day,
		tupleElement(e, 3) AS state, sum(tupleElement(e, 4))
	FROM issues_current ARRAY JOIN ` + FlowEvents + ` AS e WHERE gen = ?
	GROUP BY site, project_key, issue_type, work_category, kind, day, state`},
	// Stays of done issues by the day they were done.
	{"status_stays", `INSERT INTO status_stays (gen, site, project_key, issue_type, work_category, day, status, category, visits, seconds_total, seconds)
	SELECT toUInt64(?), site, project_key, issue_type, work_category, day, st, cat, count(), sum(secs), groupArray(secs) FROM (
		SELECT site, project_key, issue_type, work_category, day, tupleElement(stay, 1) AS st, tupleElement(stay, 2) AS cat, tupleElement(stay, 3) AS secs
		FROM (SELECT site, project_key, issue_type, work_category, toDate(assumeNotNull(done_at)) AS day, arrayJoin(` + Stays + `) AS stay
			FROM issues_current WHERE gen = ? AND done_at IS NOT NULL))
	GROUP BY site, project_key, issue_type, work_category, day, st, cat`},
	{"status_usage", `INSERT INTO status_usage (gen, site, status_id, status, uses)
	SELECT toUInt64(?), site, status_id, status, count() FROM issues_current
	ARRAY JOIN history_to_status_id AS status_id, history_to_status AS status WHERE gen = ?
	GROUP BY site, status_id, status`},
	{"sprint_members", `INSERT INTO sprint_members (gen, site, sprint_id, issue_id, issue_key, status_category, story_points, created_at,
		event_at, event_history, event_added, history_at, history_id, history_from_category, history_to_category)
	SELECT toUInt64(?), site, sprint_id, issue_id, issue_key, status_category, story_points, created_at,
		arrayMap(x -> tupleElement(x, 1), ev), arrayMap(x -> tupleElement(x, 2), ev), arrayMap(x -> tupleElement(x, 3), ev),
		history_at, history_id, history_from_category, history_to_category
	FROM (SELECT site, issue_id, issue_key, status_category, story_points, created_at, history_at, history_id, history_from_category, history_to_category
		FROM issues_current WHERE gen = ? AND (site, issue_id) IN (SELECT site, issue_id FROM sprint_changes))
	ALL INNER JOIN (SELECT site, issue_id, sprint_id, arraySort(x -> (tupleElement(x, 1), tupleElement(x, 2)), groupArray((changed_at, history_id, added))) AS ev
		FROM sprint_changes FINAL GROUP BY site, issue_id, sprint_id) USING (site, issue_id)`},
	{"refinement_days", `INSERT INTO refinement_days (gen, site, project_key, issue_type, work_category, issue_id, day)
	SELECT toUInt64(?), site, project_key, issue_type, work_category, issue_id, day
	FROM (SELECT DISTINCT site, issue_id, toDate(changed_at) AS day FROM field_changes FINAL WHERE field != 'Rank')
	ALL INNER JOIN (SELECT site, issue_id, project_key, issue_type, work_category FROM issues_current WHERE gen = ?) USING (site, issue_id)`},
}

// BuildReadModel builds a new generation of the read model from the Jira
// tables and switches readers to it. Readers keep the previous generation
// until the new one is complete, so they never see a half-built one; a
// refresh cut short leaves its partial partitions behind, to be dropped by
// the next successful one. Two refreshes at once are safe: the one that
// started later (and so read more) wins.
func (s *Store) BuildReadModel(ctx context.Context) (Generation, error) {
	start := time.Now()
	// The start time orders generations; random low digits keep two
	// processes starting in the same microsecond apart.
	g := Generation{Gen: uint64(start.UnixMicro())*1000 + uint64(rand.IntN(1000)), BuiltAt: start.UTC().Truncate(time.Second)}
	var err error
	if g.sources, err = s.sourceVersions(ctx); err != nil {
		return g, err
	}
	ranges, err := s.issueRanges(ctx)
	if err != nil {
		return g, err
	}
	for _, st := range buildSteps {
		t := time.Now()
		if !strings.Contains(st.sql, issueRange) {
			if err := s.Exec(ctx, st.sql, genArgs(st.sql, g.Gen)...); err != nil {
				return g, fmt.Errorf("build %s: %w", st.name, err)
			}
		}
		for _, r := range ranges {
			if !strings.Contains(st.sql, issueRange) {
				break
			}
			q := strings.NewReplacer("{lo}", strconv.FormatUint(r[0], 10), "{hi}", strconv.FormatUint(r[1], 10)).Replace(st.sql)
			if err := s.Exec(ctx, q, genArgs(q, g.Gen)...); err != nil {
				return g, fmt.Errorf("build %s (issue ids %d to %d): %w", st.name, r[0], r[1], err)
			}
		}
		g.Steps = append(g.Steps, StepTime{st.name, time.Since(t)})
	}
	if err := s.QueryRow(ctx, "SELECT count() FROM issues_current WHERE gen = ?", []any{g.Gen}, &g.Issues); err != nil {
		return g, fmt.Errorf("count issues_current: %w", err)
	}
	if err := s.QueryRow(ctx, "SELECT sum(uses) FROM status_usage WHERE gen = ?", []any{g.Gen}, &g.Transitions); err != nil {
		return g, fmt.Errorf("count transitions: %w", err)
	}
	g.Took = time.Since(start)
	row := generationRow{Gen: g.Gen, BuiltAt: g.BuiltAt, Seconds: g.Took.Seconds(), Issues: g.Issues, Transitions: g.Transitions}
	for site, v := range g.sources {
		row.Sites, row.Versions = append(row.Sites, site), append(row.Versions, v)
	}
	if err := insert(ctx, s, "derived_generations", []generationRow{row}); err != nil {
		return g, fmt.Errorf("record generation: %w", err)
	}
	return g, s.dropGenerationsBefore(ctx, g.Gen)
}

func genArgs(sql string, gen uint64) []any {
	args := make([]any, strings.Count(sql, "?"))
	for i := range args {
		args[i] = gen
	}
	return args
}

// issueRanges cuts the issue ids into ranges [lo, hi) of at most about
// ReadModelChunk issues each, at exact quantiles of the ids.
func (s *Store) issueRanges(ctx context.Context) ([][2]uint64, error) {
	chunkIssues := uint64(DefaultReadModelChunk)
	if s.ReadModelChunk > 0 {
		chunkIssues = uint64(s.ReadModelChunk)
	}
	var n, hi uint64
	if err := s.QueryRow(ctx, "SELECT count(), max(issue_id) FROM issues", nil, &n, &hi); err != nil {
		return nil, fmt.Errorf("issue ranges: %w", err)
	}
	k := int((n + chunkIssues - 1) / chunkIssues)
	if k <= 1 {
		return [][2]uint64{{0, hi + 1}}, nil
	}
	levels := make([]string, k-1)
	for i := range levels {
		levels[i] = strconv.FormatFloat(float64(i+1)/float64(k), 'f', 6, 64)
	}
	var bounds []uint64
	if err := s.QueryRow(ctx, "SELECT quantilesExact("+strings.Join(levels, ", ")+")(issue_id) FROM issues", nil, &bounds); err != nil {
		return nil, fmt.Errorf("issue ranges: %w", err)
	}
	out := [][2]uint64{}
	lo := uint64(0)
	for _, b := range bounds {
		if b > lo {
			out = append(out, [2]uint64{lo, b})
			lo = b
		}
	}
	return append(out, [2]uint64{lo, hi + 1}), nil
}

// dropGenerationsBefore drops the partitions of older generations. Queries
// already reading them finish on the parts they hold.
func (s *Store) dropGenerationsBefore(ctx context.Context, gen uint64) error {
	var parts []struct {
		Table     string `ch:"table"`
		Partition string `ch:"partition"`
	}
	q := `SELECT DISTINCT table, partition FROM system.parts
		WHERE database = currentDatabase() AND active AND has(?, table)`
	tables := make([]string, len(buildSteps)) // each step fills one table
	for i, st := range buildSteps {
		tables[i] = st.name
	}
	if err := s.Select(ctx, &parts, q, tables); err != nil {
		return fmt.Errorf("list generations: %w", err)
	}
	for _, p := range parts {
		old, err := strconv.ParseUint(strings.Trim(p.Partition, "'"), 10, 64)
		if err != nil || old >= gen {
			continue
		}
		if err := s.Exec(ctx, "ALTER TABLE "+p.Table+" DROP PARTITION "+strconv.FormatUint(old, 10)); err != nil {
			return fmt.Errorf("drop generation %d of %s: %w", old, p.Table, err)
		}
	}
	return nil
}

// StepTime is how long one table of the read model took to build.
type StepTime struct {
	Table string
	Took  time.Duration
}

type generationRow struct {
	Gen         uint64    `ch:"gen"`
	Sites       []string  `ch:"sites"`
	Versions    []uint64  `ch:"site_versions"`
	BuiltAt     time.Time `ch:"built_at"`
	Seconds     float64   `ch:"seconds"`
	Issues      uint64    `ch:"issues"`
	Transitions uint64    `ch:"transitions"`
}

// CurrentGeneration returns the generation readers use; ok is false before
// the first build.
func (s *Store) CurrentGeneration(ctx context.Context) (g Generation, ok bool, err error) {
	var rows []generationRow
	if err := s.Select(ctx, &rows, "SELECT gen, sites, site_versions, built_at, seconds, issues, transitions FROM derived_generations ORDER BY gen DESC LIMIT 1"); err != nil {
		return g, false, fmt.Errorf("current generation: %w", err)
	}
	if len(rows) == 0 {
		return g, false, nil
	}
	r := rows[0]
	g = Generation{Gen: r.Gen, BuiltAt: r.BuiltAt.UTC(), Took: time.Duration(r.Seconds * float64(time.Second)), Issues: r.Issues, Transitions: r.Transitions,
		sources: map[string]uint64{}}
	for i, site := range r.Sites {
		if i < len(r.Versions) {
			g.sources[site] = r.Versions[i]
		}
	}
	return g, true, nil
}

// sourceVersions is the newest issue row version of each site. Every write
// of the collector (a page of issues with their transitions, a deletion
// mark, a rebuild) carries its run's version, and runs of one site do not
// overlap (the sync lock), so a site's versions only grow. Per site, not
// overall: two sites syncing at once write their versions out of order.
func (s *Store) sourceVersions(ctx context.Context) (map[string]uint64, error) {
	var rows []struct {
		Site    string `ch:"site"`
		Version uint64 `ch:"v"`
	}
	if err := s.Select(ctx, &rows, "SELECT site, max(version) AS v FROM issues GROUP BY site"); err != nil {
		return nil, fmt.Errorf("source versions: %w", err)
	}
	out := make(map[string]uint64, len(rows))
	for _, r := range rows {
		out[r.Site] = r.Version
	}
	return out, nil
}

// BuildReadModelIfStale builds a new generation when a site has issue rows
// newer than the current generation read, or when there is none yet. When
// the read model is current it costs two small reads.
func (s *Store) BuildReadModelIfStale(ctx context.Context) (Generation, bool, error) {
	cur, ok, err := s.CurrentGeneration(ctx)
	if err != nil {
		return cur, false, err
	}
	if ok {
		now, err := s.sourceVersions(ctx)
		if err != nil {
			return cur, false, err
		}
		stale := false
		for site, v := range now {
			if v > cur.sources[site] {
				stale = true
			}
		}
		if !stale {
			return cur, false, nil
		}
	}
	g, err := s.BuildReadModel(ctx)
	return g, err == nil, err
}

// RefreshReadModel is BuildReadModelIfStale for the collector: how long a
// build took, and whether there was one.
func (s *Store) RefreshReadModel(ctx context.Context) (time.Duration, bool, error) {
	g, built, err := s.BuildReadModelIfStale(ctx)
	if !built {
		return 0, false, err
	}
	return g.Took, true, err
}

// DataVersion is a token that changes with every insert into the database
// (a sync's pages, an import, a saved goal, a new read model generation)
// and with dropped partitions, but not with background merges: it hashes
// each table's highest block number, which a merge keeps. The dashboard's
// response cache keys on it. It reads system.parts, a few hundred rows.
// The forecast log is left out: every forecast computed is recorded, and
// counting that as new data made each forecast empty the whole cache
// (under load, every request was computed). Its reader, the forecast
// scores, is not cached.
func (s *Store) DataVersion(ctx context.Context) (string, error) {
	var n, sum uint64
	q := `SELECT count(), sum(cityHash64(table, m)) FROM (SELECT table, max(max_block_number) AS m FROM system.parts
		WHERE database = currentDatabase() AND active AND table != 'forecast_log' GROUP BY table)`
	if err := s.QueryRow(ctx, q, nil, &n, &sum); err != nil {
		return "", fmt.Errorf("data version: %w", err)
	}
	return strconv.FormatUint(n, 36) + "." + strconv.FormatUint(sum, 36), nil
}
