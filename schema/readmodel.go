package schema

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Generation is one build of the read model: a set of pieces, each the
// rows of one range of issue ids in every read-model table (one partition
// per table, numbered in the gen column). A full build makes every piece;
// a refresh makes those holding an issue written since the generation
// before and takes the others from it.
type Generation struct {
	Gen     uint64        `json:"gen"`
	BuiltAt time.Time     `json:"built_at"`
	Took    time.Duration `json:"-"`
	// Bounds holds the lowest issue id of each piece's range, ascending;
	// the last range is open. Pieces holds each range's partition number.
	Bounds []uint64 `json:"-"`
	Pieces []uint64 `json:"-"`
	// Rebuilt is how many pieces this build made (the others it took from
	// the generation before).
	Rebuilt int `json:"-"`
	// Steps is how long each table took, in build order.
	Steps []StepTime `json:"-"`
	// Base is the generation a refresh started from (0 for a full
	// build), and Changed the projects whose views its changes reach
	// (see changedProjects).
	Base    uint64   `json:"-"`
	Changed []string `json:"-"`
	// sources is the newest issue row version of each site when the build
	// started: a newer one means the read model is behind.
	sources map[string]uint64
	start   time.Time
	// everyView: the build also changed pieces whose issues did not
	// change (their per-day counts were missing), so that its changes
	// are not only those of the changed issues' projects.
	everyView   bool
	Issues      uint64 `json:"issues"`
	Transitions uint64 `json:"transitions"`
	// Format is what the generation's pieces are known to hold: a
	// generation built by an earlier version may take pieces without
	// the rows of a table added after it.
	Format uint32 `json:"-"`
}

// The formats a generation records: which tables every one of its pieces
// has rows in (piecesLackingRows makes sure of it before a build records
// the format).
const (
	// FormatDaily: the per-day counts (done_daily, 0018) and the open
	// issues (issues_open, 0019); 0 is a generation of an earlier
	// version, whose pieces may lack them (WholePieces, OpenIssues).
	FormatDaily = 1
	// FormatDone: the done issues as well (issues_done, 0020; DoneIssues).
	FormatDone = 2
	// FormatTimes: and their lead and cycle times per day (done_times,
	// 0021; WholeTimes).
	FormatTimes = 3
	// FormatCurrent is the format of this version's builds.
	FormatCurrent = FormatTimes
)

const issueColumns = `site, issue_id, issue_key, project_key, issue_type, work_category, summary, status_id, status_name,
	status_category, priority, labels, components, fix_versions, parent_key, epic_key, story_points, business_value,
	sprint_ids, rank, has_description, created_at, updated_at, started_at, done_at, resolved_at, due_date, flagged, blocked_by, blocked_by_open, deleted, version`

// liveColumns are the columns of issues_current and issues_open after gen.
const liveColumns = issueColumns + `, initial_status_id, initial_status, initial_category,
	history_at, history_id, history_from_status, history_to_status, history_to_status_id, history_from_category, history_to_category,
	time_criticality, risk_reduction, job_size, has_acceptance, findings, finding_notes`

// openCond is the condition on a row of issues_current that puts it in
// issues_open as well: not done by either of the two marks a reader of
// open issues may ask about (no completion, a status outside done). A
// query of OpenIssues must imply it, so that both tables give it the same
// rows.
const openCond = "done_at IS NULL OR status_category != 'done'"

// issueRange is the condition of a step's reads of the Jira tables that
// keeps them to one piece's range of issue ids: buildPieces binds the
// bounds, and in a refresh adds "and written since the generation
// before". A step that holds it writes rows per issue (copied for the
// issues not written); a step without it aggregates the piece's live
// issues.
const issueRange = "issue_id >= {lo} AND issue_id < {hi}"

// DefaultReadModelChunk is about how many issues one piece of the read
// model holds when a full build cuts the issue ids into ranges
// (Store.ReadModelChunk overrides it). It trades a full build's cost per
// piece against what a refresh rebuilds for one changed issue. The
// issues_current step holds a piece's issues and grouped transitions in
// memory: at a million issues in one go ClickHouse peaked at 3.3 GB.
const DefaultReadModelChunk = 200000

// maxPieces bounds the pieces of a generation: piece numbers are the
// generation's number plus the piece's index, and generation numbers of
// builds started a microsecond apart are 1,000 apart.
const maxPieces = 100

// buildSteps fill one piece (its number bound as every ?) of the read
// model, in order: each step reads what the ones before it wrote.
var buildSteps = []struct{ name, sql string }{
	// Live issues with the timeline and findings the collector stored for
	// them, and the backlog evidence (WSJF inputs, acceptance criteria).
	// An issue stored before timelines were (none joined: tl_version 0)
	// counts as created in its current status, until the collector
	// re-extracts it.
	{"issues_current", `INSERT INTO issues_current (gen, ` + liveColumns + `)
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
	// The issues not done, as they are in issues_current (OpenIssues).
	{"issues_open", `INSERT INTO issues_open (gen, ` + liveColumns + `)
	SELECT toUInt64(?), ` + liveColumns + ` FROM issues_current WHERE gen = ? AND (` + openCond + `)`},
	// The issues done, as they are in issues_current, in order of
	// completion (DoneIssues).
	{"issues_done", `INSERT INTO issues_done (gen, ` + liveColumns + `)
	SELECT toUInt64(?), ` + liveColumns + ` FROM issues_current WHERE gen = ? AND done_at IS NOT NULL`},
	// The cumulative flow as daily changes per state (FlowEvents summed).
	{"cfd_daily", `INSERT INTO cfd_daily (gen, site, project_key, issue_type, work_category, kind, day, state, delta)
	SELECT toUInt64(?), site, project_key, issue_type, work_category, tupleElement(e, 1) AS kind, tupleElement(e, 2) AS day,
		tupleElement(e, 3) AS state, sum(tupleElement(e, 4))
	FROM issues_current ARRAY JOIN ` + FlowEvents + ` AS e WHERE gen = ?
	GROUP BY site, project_key, issue_type, work_category, kind, day, state`},
	// Issues done per day (by their last completion).
	{"done_daily", `INSERT INTO done_daily (gen, site, project_key, issue_type, work_category, day, done)
	SELECT toUInt64(?), site, project_key, issue_type, work_category, toDate(assumeNotNull(done_at)) AS day, count()
	FROM issues_current WHERE gen = ? AND done_at IS NOT NULL
	GROUP BY site, project_key, issue_type, work_category, day`},
	// Lead and cycle times of done issues by the day they were done, with
	// the counts of those a check questions.
	{"done_times", `INSERT INTO done_times (gen, site, project_key, issue_type, work_category, day, leads, cycles,
		resolved_before_created, change_before_created, done_before_started, reopened, moved_back)
	SELECT toUInt64(?), site, project_key, issue_type, work_category, day, groupArray(lead), groupArrayIf(cyc, started),
		countIf(rbc), countIf(cbc), countIf(dbs), countIf(reo), countIf(mbk)
	FROM (SELECT site, project_key, issue_type, work_category, toDate(assumeNotNull(done_at)) AS day, ` + LeadSeconds + ` AS lead,
			started_at IS NOT NULL AS started, ` + CycleSeconds + ` AS cyc, ` + FlowCaveats + `
		FROM issues_current WHERE gen = ? AND done_at IS NOT NULL)
	GROUP BY site, project_key, issue_type, work_category, day`},
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
		FROM issues_current WHERE gen = ? AND (site, issue_id) IN (SELECT site, issue_id FROM sprint_changes WHERE ` + issueRange + `))
	ALL INNER JOIN (SELECT site, issue_id, sprint_id, arraySort(x -> (tupleElement(x, 1), tupleElement(x, 2)), groupArray((changed_at, history_id, added))) AS ev
		FROM sprint_changes FINAL WHERE ` + issueRange + ` GROUP BY site, issue_id, sprint_id) USING (site, issue_id)`},
	{"refinement_days", `INSERT INTO refinement_days (gen, site, project_key, issue_type, work_category, issue_id, day)
	SELECT toUInt64(?), site, project_key, issue_type, work_category, issue_id, day
	FROM (SELECT DISTINCT site, issue_id, toDate(changed_at) AS day FROM field_changes FINAL WHERE field != 'Rank' AND ` + issueRange + `)
	ALL INNER JOIN (SELECT site, issue_id, project_key, issue_type, work_category FROM issues_current WHERE gen = ?) USING (site, issue_id)`},
}

// BuildReadModel builds a new generation of the read model from the Jira
// tables, every piece anew, and switches readers to it. Readers keep the
// previous generation until the new one is complete, so they never see a
// half-built one; a build cut short leaves its partial partitions behind,
// to be dropped by the next successful one. Two builds at once are safe:
// the one that started later (and so read more) wins.
func (s *Store) BuildReadModel(ctx context.Context) (Generation, error) {
	g, err := s.newGeneration(ctx)
	if err != nil {
		return g, err
	}
	if g.Bounds, err = s.pieceBounds(ctx); err != nil {
		return g, err
	}
	g.Pieces = make([]uint64, len(g.Bounds))
	all := make([]int, len(g.Bounds))
	for i := range all {
		all[i] = i
	}
	return g, s.buildPieces(ctx, &g, all, nil)
}

// newGeneration numbers a build by its start and reads the source versions
// it will cover. The start time orders generations; a random hundred keeps
// two processes starting in the same microsecond apart, and leaves room
// for the numbers of its pieces.
func (s *Store) newGeneration(ctx context.Context) (Generation, error) {
	start := time.Now()
	g := Generation{Gen: uint64(start.UnixMicro())*1000 + uint64(rand.IntN(1000/maxPieces))*maxPieces, BuiltAt: start.UTC().Truncate(time.Second),
		start: start}
	var err error
	g.sources, err = s.sourceVersions(ctx)
	return g, err
}

// updateReadModel builds a new generation from base: the pieces holding an
// issue written since base was built are made anew, the others are base's.
// A base of an earlier version (no pieces), or a changed piece grown to
// four times the size a full build gives one (new issues land in the last,
// open range), makes it a full build.
func (s *Store) updateReadModel(ctx context.Context, base Generation) (Generation, error) {
	if len(base.Bounds) == 0 || len(base.Bounds) != len(base.Pieces) || len(base.sources) == 0 {
		return s.BuildReadModel(ctx)
	}
	g, err := s.newGeneration(ctx)
	if err != nil {
		return g, err
	}
	var rows []struct {
		Piece   uint32 `ch:"piece"`
		Issues  uint64 `ch:"n"`
		Changed uint64 `ch:"changed"`
	}
	q := `SELECT toUInt32(arrayCount(b -> b <= issue_id, ?) - 1) AS piece, uniq(issue_id) AS n,
		countIf(version > ` + sourceVersion(base.sources) + `) AS changed
		FROM issues GROUP BY piece HAVING changed > 0`
	if err := s.Select(ctx, &rows, q, base.Bounds); err != nil {
		return g, fmt.Errorf("changed pieces: %w", err)
	}
	var changed []int
	for _, r := range rows {
		if r.Issues > 4*uint64(s.chunk()) {
			return s.BuildReadModel(ctx)
		}
		changed = append(changed, int(r.Piece))
	}
	lacking, err := s.piecesLackingRows(ctx, base.Pieces)
	if err != nil {
		return g, err
	}
	for _, i := range lacking {
		if !slices.Contains(changed, i) {
			changed = append(changed, i)
		}
		g.everyView = true
	}
	sort.Ints(changed)
	g.Bounds, g.Pieces = base.Bounds, slices.Clone(base.Pieces)
	return g, s.buildPieces(ctx, &g, changed, &base)
}

// buildPieces makes the pieces of g with the given indexes, every step of
// one before the next, then records g and drops what no recent generation
// uses. From a base generation, a piece's per-issue rows (live issues,
// sprint members, refinement days) are copied from base's piece for the
// issues not written since base, and computed for the others; its
// aggregates are computed from the piece's live issues.
func (s *Store) buildPieces(ctx context.Context, g *Generation, which []int, base *Generation) error {
	took := make([]time.Duration, len(buildSteps))
	for _, i := range which {
		piece := g.Gen + uint64(i)
		g.Pieces[i] = piece
		lo, hi := g.Bounds[i], uint64(math.MaxUint64)
		if i+1 < len(g.Bounds) {
			hi = g.Bounds[i+1]
		}
		inRange := strings.NewReplacer("{lo}", strconv.FormatUint(lo, 10), "{hi}", strconv.FormatUint(hi, 10)).Replace(issueRange)
		var changed string // the condition on (site, issue_id) of the issues written since base
		if base != nil {
			changed = "(site, issue_id) IN (SELECT site, issue_id FROM issues WHERE " + inRange + " AND version > " + sourceVersion(base.sources) + ")"
		}
		for k, st := range buildSteps {
			t := time.Now()
			q := strings.ReplaceAll(st.sql, issueRange, inRange)
			if base != nil && strings.Contains(st.sql, issueRange) {
				table, cols := insertColumns(st.sql)
				copyRows := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") SELECT toUInt64(?), " + strings.Join(cols[1:], ", ") +
					" FROM " + table + " WHERE gen = " + strconv.FormatUint(base.Pieces[i], 10) + " AND NOT " + changed
				if err := s.Exec(ctx, copyRows, piece); err != nil {
					return fmt.Errorf("build %s (issue ids %d to %d, unchanged issues): %w", st.name, lo, hi, err)
				}
				q = strings.ReplaceAll(st.sql, issueRange, inRange+" AND "+changed)
			}
			if err := s.Exec(ctx, q, genArgs(q, piece)...); err != nil {
				return fmt.Errorf("build %s (issue ids %d to %d): %w", st.name, lo, hi, err)
			}
			took[k] += time.Since(t)
		}
	}
	for k, st := range buildSteps {
		g.Steps = append(g.Steps, StepTime{st.name, took[k]})
	}
	g.Rebuilt = len(which)
	if base != nil && !g.everyView {
		changed, ok, err := s.changedProjects(ctx, g, which, base)
		if err != nil {
			return err
		}
		if ok {
			g.Base, g.Changed = base.Gen, changed
		}
	}
	if err := s.QueryRow(ctx, "SELECT count() FROM issues_current WHERE has(?, gen)", []any{g.Pieces}, &g.Issues); err != nil {
		return fmt.Errorf("count issues_current: %w", err)
	}
	if err := s.QueryRow(ctx, "SELECT sum(uses) FROM status_usage WHERE has(?, gen)", []any{g.Pieces}, &g.Transitions); err != nil {
		return fmt.Errorf("count transitions: %w", err)
	}
	g.Took, g.Format = time.Since(g.start), FormatCurrent
	row := generationRow{Gen: g.Gen, BuiltAt: g.BuiltAt, Seconds: g.Took.Seconds(), Issues: g.Issues, Transitions: g.Transitions,
		Pieces: g.Pieces, Bounds: g.Bounds, Base: g.Base, Changed: g.Changed, Format: g.Format}
	if row.Changed == nil {
		row.Changed = []string{}
	}
	for site, v := range g.sources {
		row.Sites, row.Versions = append(row.Sites, site), append(row.Versions, v)
	}
	if err := insert(ctx, s, "derived_generations", []generationRow{row}); err != nil {
		return fmt.Errorf("record generation: %w", err)
	}
	return s.dropUnusedPieces(ctx, g.Gen)
}

// sourceVersion is the SQL of the source version a row of issues is
// compared with: its site's in versions (0 for a site not in it).
func sourceVersion(versions map[string]uint64) string {
	var sites, vs []string
	for site, v := range versions {
		sites = append(sites, "'"+strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(site)+"'")
		vs = append(vs, strconv.FormatUint(v, 10))
	}
	return "transform(site, [" + strings.Join(sites, ", ") + "], [" + strings.Join(vs, ", ") + "], toUInt64(0))"
}

// insertColumns reads the table and the column list (gen first) of a
// build step's INSERT.
func insertColumns(sql string) (string, []string) {
	rest := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sql), "INSERT INTO "))
	table, rest, _ := strings.Cut(rest, " (")
	list, _, _ := strings.Cut(rest, ")")
	cols := strings.Split(list, ",")
	for i := range cols {
		cols[i] = strings.TrimSpace(cols[i])
	}
	return table, cols
}

func genArgs(sql string, gen uint64) []any {
	args := make([]any, strings.Count(sql, "?"))
	for i := range args {
		args[i] = gen
	}
	return args
}

func (s *Store) chunk() int {
	if s.ReadModelChunk > 0 {
		return s.ReadModelChunk
	}
	return DefaultReadModelChunk
}

// pieceBounds cuts the issue ids into ranges of about ReadModelChunk issues
// each (at most maxPieces ranges), at exact quantiles of the ids, and
// returns the lowest id of each: 0 first, the last range open.
func (s *Store) pieceBounds(ctx context.Context) ([]uint64, error) {
	var n uint64
	if err := s.QueryRow(ctx, "SELECT uniqExact(issue_id) FROM issues", nil, &n); err != nil {
		return nil, fmt.Errorf("issue ranges: %w", err)
	}
	k := min(int((n+uint64(s.chunk())-1)/uint64(s.chunk())), maxPieces)
	if k <= 1 {
		return []uint64{0}, nil
	}
	levels := make([]string, k-1)
	for i := range levels {
		levels[i] = strconv.FormatFloat(float64(i+1)/float64(k), 'f', 6, 64)
	}
	var cuts []uint64
	if err := s.QueryRow(ctx, "SELECT quantilesExact("+strings.Join(levels, ", ")+")(issue_id) FROM (SELECT DISTINCT issue_id FROM issues)", nil, &cuts); err != nil {
		return nil, fmt.Errorf("issue ranges: %w", err)
	}
	out := []uint64{0}
	for _, c := range cuts {
		if c > out[len(out)-1] {
			out = append(out, c)
		}
	}
	return out, nil
}

// dropUnusedPieces drops the read model's partitions numbered below gen
// that none of the three newest generations uses: older generations'
// pieces, and those of builds cut short. A build still running from an
// older generation (another process) finds its pieces kept unless three
// generations were recorded meanwhile; a build running from gen's own
// generation numbers its pieces above gen. Queries already reading a
// dropped partition finish on the parts they hold.
func (s *Store) dropUnusedPieces(ctx context.Context, gen uint64) error {
	var used []uint64
	if err := s.QueryRow(ctx, `SELECT groupArrayArray(p) FROM (SELECT `+piecesOf+` AS p FROM derived_generations ORDER BY gen DESC LIMIT 3)`,
		nil, &used); err != nil {
		return fmt.Errorf("pieces in use: %w", err)
	}
	keep := make(map[uint64]bool, len(used))
	for _, p := range used {
		keep[p] = true
	}
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
		if err != nil || old >= gen || keep[old] {
			continue
		}
		if err := s.Exec(ctx, "ALTER TABLE "+p.Table+" DROP PARTITION "+strconv.FormatUint(old, 10)); err != nil {
			return fmt.Errorf("drop piece %d of %s: %w", old, p.Table, err)
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
	Pieces      []uint64  `ch:"pieces"`
	Bounds      []uint64  `ch:"bounds"`
	Base        uint64    `ch:"base"`
	Changed     []string  `ch:"changed"`
	Format      uint32    `ch:"format"`
}

// pieces are the partition numbers of the generation's pieces: a
// generation of an earlier version is one piece numbered as itself.
func (g Generation) pieces() []uint64 {
	if len(g.Pieces) == 0 {
		return []uint64{g.Gen}
	}
	return g.Pieces
}

// CurrentGeneration returns the generation readers use; ok is false before
// the first build.
func (s *Store) CurrentGeneration(ctx context.Context) (g Generation, ok bool, err error) {
	var rows []generationRow
	if err := s.Select(ctx, &rows, "SELECT gen, sites, site_versions, built_at, seconds, issues, transitions, pieces, bounds, format FROM derived_generations ORDER BY gen DESC LIMIT 1"); err != nil {
		return g, false, fmt.Errorf("current generation: %w", err)
	}
	if len(rows) == 0 {
		return g, false, nil
	}
	r := rows[0]
	g = Generation{Gen: r.Gen, BuiltAt: r.BuiltAt.UTC(), Took: time.Duration(r.Seconds * float64(time.Second)), Issues: r.Issues, Transitions: r.Transitions,
		Pieces: r.Pieces, Bounds: r.Bounds, Format: r.Format, sources: map[string]uint64{}}
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
// newer than the current generation read (only the pieces holding them),
// or when there is none yet (all of it). When the read model is current it
// costs two small reads.
func (s *Store) BuildReadModelIfStale(ctx context.Context) (Generation, bool, error) {
	cur, ok, err := s.CurrentGeneration(ctx)
	if err != nil {
		return cur, false, err
	}
	if ok {
		behind, err := s.lacksTables(ctx, cur)
		if err != nil {
			return cur, false, err
		}
		if behind {
			g, err := s.BuildReadModel(ctx)
			if err == nil && s.tablesChecked != nil {
				s.tablesChecked.Store(true) // this build filled them
			}
			return g, err == nil, err
		}
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
	if !ok {
		g, err := s.BuildReadModel(ctx)
		return g, err == nil, err
	}
	g, err := s.updateReadModel(ctx, cur)
	return g, err == nil, err
}

// lacksTables says whether a generation was built before a read-model
// table existed (done_daily, 0018; issues_open, 0019; issues_done, 0020;
// done_times, 0021): some piece lacks
// its rows (piecesLackingRows). A refresh would copy such pieces as they
// are, so it takes a full build. Checked once per Store: every build
// after it fills them.
func (s *Store) lacksTables(ctx context.Context, g Generation) (bool, error) {
	if s.tablesChecked != nil && s.tablesChecked.Load() {
		return false, nil
	}
	lacking, err := s.piecesLackingRows(ctx, g.pieces())
	if err != nil {
		return false, err
	}
	if len(lacking) == 0 && s.tablesChecked != nil {
		s.tablesChecked.Store(true)
	}
	return len(lacking) > 0, nil
}

// piecesLackingRows lists the pieces (by index) that hold done issues but
// no per-day counts, times or rows in issues_done, or open issues but no rows
// in issues_open: built before the table existed, or by a process of an
// earlier version, as in a rolling upgrade, after this process checked
// the read model at start (lacksTables). A refresh builds them anew with
// its changed pieces; until then readers of the per-day counts count the
// issues' done dates, and readers of open or done issues read
// issues_current: the generation's format says its pieces may lack the
// rows (WholePieces, WholeTimes, OpenIssues, DoneIssues).
func (s *Store) piecesLackingRows(ctx context.Context, pieces []uint64) ([]int, error) {
	var rows []struct {
		Piece uint32 `ch:"piece"`
	}
	if err := s.Select(ctx, &rows, `SELECT DISTINCT toUInt32(indexOf(?, gen) - 1) AS piece FROM issues_current
		WHERE has(?, gen) AND (
			(done_at IS NOT NULL AND (gen NOT IN (SELECT DISTINCT gen FROM done_daily WHERE has(?, gen))
				OR gen NOT IN (SELECT DISTINCT gen FROM issues_done WHERE has(?, gen))
				OR gen NOT IN (SELECT DISTINCT gen FROM done_times WHERE has(?, gen))))
			OR ((`+openCond+`) AND gen NOT IN (SELECT DISTINCT gen FROM issues_open WHERE has(?, gen))))
		ORDER BY piece`,
		pieces, pieces, pieces, pieces, pieces, pieces); err != nil {
		return nil, fmt.Errorf("pieces without per-day counts, done or open issues: %w", err)
	}
	out := make([]int, len(rows))
	for i, r := range rows {
		out[i] = int(r.Piece)
	}
	return out, nil
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
