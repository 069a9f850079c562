package schema

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/evident-ebm/evident"
)

// DefaultQueryTimeout bounds every query that arrives without a deadline.
const DefaultQueryTimeout = 60 * time.Second

// BatchSize is how many rows one INSERT carries at most.
const BatchSize = 20000

// Store reads and writes Evident's tables in one ClickHouse database.
type Store struct {
	Conn     driver.Conn
	Database string
	// QueryTimeout applies to queries whose context has no deadline.
	QueryTimeout time.Duration
	// ReadModelChunk is how many issues one range of the read model build
	// holds (0: DefaultReadModelChunk).
	ReadModelChunk int
	// slots holds one token per connection of the driver's pool. A query
	// waits for one here, for as long as its own deadline allows: the
	// driver waits for a free connection only dial_timeout (5 s), and under
	// load (8 clients asking for uncached overviews at 1,000,000 issues)
	// queries failed with "acquire conn timeout" instead of waiting.
	slots chan struct{}
	// tablesChecked: the current generation was found to fill every
	// read-model table (see lacksTables); shared by copies of the Store.
	tablesChecked *atomic.Bool
}

// Open connects to the ClickHouse server a DSN names
// (clickhouse://user:password@host:9000/database?dial_timeout=5s), creating
// the database when it does not exist yet. Only the native protocol is
// supported: ClickHouse 18.16 does not speak clickhouse-go's HTTP dialect.
func Open(ctx context.Context, dsn string) (*Store, error) {
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return nil, evident.Errorf(evident.EINVALID, "ClickHouse DSN: %v (expected clickhouse://user:password@host:9000/database)", redactDSNError(err, dsn))
	}
	if opts.Protocol != clickhouse.Native {
		return nil, evident.Errorf(evident.EINVALID, "ClickHouse DSN: only the native protocol (clickhouse://host:9000) is supported")
	}
	db := opts.Auth.Database
	if db == "" {
		db = "default"
	}
	if opts.DialTimeout == 0 || opts.DialTimeout == 30*time.Second {
		opts.DialTimeout = 5 * time.Second
	}
	if db != "default" {
		boot := *opts
		boot.Auth.Database = "default"
		conn, err := clickhouse.Open(&boot)
		if err != nil {
			return nil, fmt.Errorf("connect to clickhouse at %s: %w", strings.Join(opts.Addr, ","), err)
		}
		err = conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+quoteIdent(db))
		conn.Close()
		if err != nil {
			return nil, fmt.Errorf("connect to clickhouse at %s: %w", strings.Join(opts.Addr, ","), err)
		}
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("connect to clickhouse at %s: %w", strings.Join(opts.Addr, ","), err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("connect to clickhouse at %s: %w", strings.Join(opts.Addr, ","), err)
	}
	pool := opts.MaxOpenConns
	if pool <= 0 {
		pool = 10 // clickhouse-go's default: 5 idle + 5
	}
	return &Store{Conn: conn, Database: db, QueryTimeout: DefaultQueryTimeout, slots: make(chan struct{}, pool), tablesChecked: new(atomic.Bool)}, nil
}

// redactDSNError keeps a DSN's password out of an error message.
func redactDSNError(err error, dsn string) string {
	msg := err.Error()
	if u, perr := url.Parse(dsn); perr == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "****")
		}
	}
	return msg
}

// Close closes the connection.
func (s *Store) Close() error { return s.Conn.Close() }

// Migrate applies the schema to the store's database.
func (s *Store) Migrate(ctx context.Context, cluster string) ([]MigrationResult, error) {
	return Migrate(ctx, s.Conn, Options{Database: s.Database, Cluster: cluster})
}

// Ping reports whether the server answers (without waiting for a slot:
// health checks must answer while queries queue).
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	return s.Conn.Ping(ctx)
}

// deadline gives ctx the store's query timeout when it has no deadline.
func (s *Store) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || s.QueryTimeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, s.QueryTimeout)
}

// begin gives a query its deadline (the store's, when ctx has none) and a
// connection slot, waiting for one until the deadline; done releases both.
func (s *Store) begin(ctx context.Context) (context.Context, context.CancelFunc, error) {
	ctx, cancel := s.deadline(ctx)
	if s.slots == nil {
		return ctx, cancel, nil
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		cancel()
		return ctx, func() {}, classify(ctx.Err())
	}
	var once sync.Once
	return ctx, func() { once.Do(func() { cancel(); <-s.slots }) }, nil
}

// Query runs a read with the store's deadline. Arguments are bound by the
// driver, never spliced into the SQL.
func (s *Store) Query(ctx context.Context, query string, args ...any) (driver.Rows, context.CancelFunc, error) {
	query = s.pinned(ctx, query) // before taking a connection: the lookup takes one
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return nil, func() {}, err
	}
	rows, err := s.Conn.Query(ctx, query, args...)
	if err != nil {
		cancel()
		return nil, func() {}, classify(err)
	}
	return rows, cancel, nil
}

// Select scans every row of a query into dest (a pointer to a slice of
// structs with ch tags).
func (s *Store) Select(ctx context.Context, dest any, query string, args ...any) error {
	query = s.pinned(ctx, query) // before taking a connection: the lookup takes one
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	return classify(s.Conn.Select(ctx, dest, query, args...))
}

// QueryRow scans one row.
func (s *Store) QueryRow(ctx context.Context, query string, args []any, dest ...any) error {
	query = s.pinned(ctx, query) // before taking a connection: the lookup takes one
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	return classify(s.Conn.QueryRow(ctx, query, args...).Scan(dest...))
}

// Exec runs a statement with the store's deadline.
func (s *Store) Exec(ctx context.Context, query string, args ...any) error {
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	return classify(s.Conn.Exec(ctx, query, args...))
}

// ErrUnavailable is in the chain of every error of a query that could not
// reach ClickHouse (refused, reset, closed, timed out): a user sees its
// message, the log the cause.
var ErrUnavailable = evident.Errorf(evident.EUNAVAILABLE, "The database is not answering; try again in a moment.")

// classify marks an error of ClickHouse being out of reach, recognised by
// its type, as ErrUnavailable; an error the server answered with (a
// *clickhouse.Exception) is a failed query, not an outage.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		return err
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, clickhouse.ErrAcquireConnTimeout) || errors.Is(err, clickhouse.ErrConnectionClosed) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

var columnCache sync.Map // reflect.Type → string

// columnsOf lists the ch-tagged fields of a struct type in order: the
// explicit column list that PrepareBatch needs on ClickHouse 18.16.
func columnsOf(t reflect.Type) string {
	if c, ok := columnCache.Load(t); ok {
		return c.(string)
	}
	var cols []string
	for i := 0; i < t.NumField(); i++ {
		if tag := t.Field(i).Tag.Get("ch"); tag != "" && tag != "-" {
			cols = append(cols, tag)
		}
	}
	c := strings.Join(cols, ", ")
	columnCache.Store(t, c)
	return c
}

// insert writes rows in batches of BatchSize, each batch one INSERT.
func insert[T any](ctx context.Context, s *Store, table string, rows []T) error {
	if len(rows) == 0 {
		return nil
	}
	var zero T
	cols := columnsOf(reflect.TypeOf(zero))
	for start := 0; start < len(rows); start += BatchSize {
		end := min(start+BatchSize, len(rows))
		if err := insertBatch(ctx, s, table, cols, rows[start:end]); err != nil {
			return fmt.Errorf("insert %s: %w", table, err)
		}
	}
	return nil
}

func insertBatch[T any](ctx context.Context, s *Store, table, cols string, rows []T) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// The batch gets a context that is never cancelled: clickhouse-go's
	// Send starts a watchdog that closes the connection when the context
	// is done, and when our cancel follows Send it can fire after the
	// connection went back to the pool, closing it under another query
	// ("use of closed network connection", seen under load). An insert is
	// at most BatchSize rows, so it is not worth interrupting.
	_, release, err := s.begin(ctx) // a connection slot, as every query
	if err != nil {
		return err
	}
	defer release()
	bctx := context.WithoutCancel(ctx)
	batch, err := s.Conn.PrepareBatch(bctx, "INSERT INTO "+table+" ("+cols+")")
	if err != nil {
		return err
	}
	defer batch.Abort()
	for i := range rows {
		if err := batch.AppendStruct(&rows[i]); err != nil {
			return err
		}
	}
	return batch.Send()
}

// changedRows returns the rows that differ from every row the table
// holds now (FINAL, of the rows' sites), their versions left out. A sync
// stores its site's metadata (projects, statuses, boards, sprints) again
// each time; writing the unchanged rows would change the data version,
// and with it empty the dashboard's cache, for nothing.
func changedRows[T any](ctx context.Context, s *Store, table string, rows []T) ([]T, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	sites := map[string]bool{}
	for i := range rows {
		sites[reflect.ValueOf(rows[i]).FieldByName("Site").String()] = true
	}
	var zero T
	var stored []T
	if err := s.Select(ctx, &stored, "SELECT "+columnsOf(reflect.TypeOf(zero))+" FROM "+table+" FINAL WHERE has(?, site)", slices.Collect(maps.Keys(sites))); err != nil {
		return nil, fmt.Errorf("read %s: %w", table, err)
	}
	have := map[string]bool{}
	for _, r := range stored {
		have[canonical(reflect.ValueOf(r))] = true
	}
	var out []T
	for _, r := range rows {
		if !have[canonical(reflect.ValueOf(r))] {
			out = append(out, r)
		}
	}
	return out, nil
}

// canonical prints a stored row's value for comparison: pointers
// followed, times as the seconds a DateTime keeps, the Version field
// left out.
func canonical(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return "nil"
		}
		return "&" + canonical(v.Elem())
	case reflect.Struct:
		if t, ok := v.Interface().(time.Time); ok {
			return strconv.FormatInt(t.Unix(), 10)
		}
		var b strings.Builder
		b.WriteString("{")
		for i := 0; i < v.NumField(); i++ {
			if f := v.Type().Field(i); f.Name != "Version" && f.Tag.Get("ch") != "" && f.Tag.Get("ch") != "-" {
				b.WriteString(canonical(v.Field(i)) + ",")
			}
		}
		return b.String() + "}"
	case reflect.Slice, reflect.Array:
		var b strings.Builder
		b.WriteString("[")
		for i := 0; i < v.Len(); i++ {
			b.WriteString(canonical(v.Index(i)) + ",")
		}
		return b.String() + "]"
	default:
		return fmt.Sprintf("%q", fmt.Sprint(v.Interface()))
	}
}

// insertChanged writes the rows changedRows finds changed.
func insertChanged[T any](ctx context.Context, s *Store, table string, rows []T) error {
	changed, err := changedRows(ctx, s, table, rows)
	if err != nil {
		return err
	}
	return insert(ctx, s, table, changed)
}

// InsertSites stores sites (those changed).
func (s *Store) InsertSites(ctx context.Context, rows []evident.Site) error {
	return insertChanged(ctx, s, "sites", rows)
}

// InsertProjects stores projects (those changed).
func (s *Store) InsertProjects(ctx context.Context, rows []evident.Project) error {
	return insertChanged(ctx, s, "projects", rows)
}

// InsertStatuses stores statuses (those changed).
func (s *Store) InsertStatuses(ctx context.Context, rows []evident.Status) error {
	return insertChanged(ctx, s, "statuses", rows)
}

// InsertRawIssues stores raw issue JSON.
func (s *Store) InsertRawIssues(ctx context.Context, rows []evident.RawIssue) error {
	return insert(ctx, s, "raw_issues", rows)
}

// InsertIssues stores issue rows.
func (s *Store) InsertIssues(ctx context.Context, rows []evident.Issue) error {
	return insert(ctx, s, "issues", rows)
}

// InsertBacklogFacts stores WSJF inputs and acceptance criteria.
func (s *Store) InsertBacklogFacts(ctx context.Context, rows []evident.BacklogFacts) error {
	return insert(ctx, s, "issue_backlog", rows)
}

// InsertTransitions stores status transitions.
func (s *Store) InsertTransitions(ctx context.Context, rows []evident.Transition) error {
	return insert(ctx, s, "status_transitions", rows)
}

// InsertSprintChanges stores sprint membership changes.
func (s *Store) InsertSprintChanges(ctx context.Context, rows []evident.SprintChange) error {
	return insert(ctx, s, "sprint_changes", rows)
}

// InsertFieldChanges stores other changelog items.
func (s *Store) InsertFieldChanges(ctx context.Context, rows []evident.FieldChange) error {
	return insert(ctx, s, "field_changes", rows)
}

// InsertTimelines stores issues' timelines with their findings.
func (s *Store) InsertTimelines(ctx context.Context, rows []evident.IssueTimeline) error {
	return insert(ctx, s, "issue_timelines", rows)
}

// InsertSkippedIssues records issues the collector could not store (and,
// with Skipped = 0, that it stored them after all).
func (s *Store) InsertSkippedIssues(ctx context.Context, rows []evident.SkippedIssue) error {
	return insert(ctx, s, "skipped_issues", rows)
}

// SkippedIssues returns the keys of a site's issues that are skipped now.
func (s *Store) SkippedIssues(ctx context.Context, site string) ([]string, error) {
	var rows []struct {
		Key string `ch:"issue_key"`
	}
	if err := s.Select(ctx, &rows, "SELECT issue_key FROM skipped_issues FINAL WHERE site = ? AND skipped = 1", site); err != nil {
		return nil, fmt.Errorf("read skipped issues: %w", err)
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Key
	}
	return out, nil
}

// LacksTimelines says a site has stored issues but not one timeline: data
// stored by a version before timelines, whose issues must be re-extracted
// from their raw JSON. (A run writes an issue's timeline before its raw
// JSON, so a run cut short never leaves a stored issue without one.)
func (s *Store) LacksTimelines(ctx context.Context, site string) (bool, error) {
	var issues, timelines uint64
	q := `SELECT (SELECT count() FROM (SELECT 1 FROM raw_issues WHERE site = ? LIMIT 1)),
		(SELECT count() FROM (SELECT 1 FROM issue_timelines WHERE site = ? LIMIT 1))`
	if err := s.QueryRow(ctx, q, []any{site, site}, &issues, &timelines); err != nil {
		return false, fmt.Errorf("read timelines: %w", err)
	}
	return issues > 0 && timelines == 0, nil
}

// HasLiveIssues says whether a project of a site has stored issues that
// are not marked deleted.
func (s *Store) HasLiveIssues(ctx context.Context, site, project string) (bool, error) {
	var n uint64
	q := `SELECT count() FROM (SELECT 1 FROM issues FINAL WHERE site = ? AND project_key = ? AND deleted = 0 LIMIT 1)`
	if err := s.QueryRow(ctx, q, []any{site, project}, &n); err != nil {
		return false, fmt.Errorf("stored issues of %s: %w", project, err)
	}
	return n > 0, nil
}

// Boards returns a site's stored boards and their column configurations.
func (s *Store) Boards(ctx context.Context, site string) ([]evident.Board, []evident.BoardConfig, error) {
	var boards []evident.Board
	var configs []evident.BoardConfig
	if err := s.Select(ctx, &boards, "SELECT site, board_id, name, type, project_key, toUInt64(0) AS version FROM "+BoardProjects+" WHERE site = ?", site); err != nil {
		return nil, nil, fmt.Errorf("read boards: %w", err)
	}
	if err := s.Select(ctx, &configs, "SELECT "+columnsOf(reflect.TypeOf(evident.BoardConfig{}))+" FROM board_config FINAL WHERE site = ?", site); err != nil {
		return nil, nil, fmt.Errorf("read board columns: %w", err)
	}
	return boards, configs, nil
}

// InsertBoards stores boards (those changed), one row per project each is
// listed for.
func (s *Store) InsertBoards(ctx context.Context, rows []evident.Board) error {
	rows, err := changedRows(ctx, s, "board_projects", rows)
	if err != nil {
		return err
	}
	if err := insert(ctx, s, "board_projects", rows); err != nil {
		return err
	}
	return insert(ctx, s, "boards", rows)
}

// InsertBoardConfigs stores boards' configurations (those changed).
func (s *Store) InsertBoardConfigs(ctx context.Context, rows []evident.BoardConfig) error {
	return insertChanged(ctx, s, "board_config", rows)
}

// InsertSprints stores sprints (those changed).
func (s *Store) InsertSprints(ctx context.Context, rows []evident.Sprint) error {
	return insertChanged(ctx, s, "sprints", rows)
}

// InsertReleases stores project versions (those changed).
func (s *Store) InsertReleases(ctx context.Context, rows []evident.Release) error {
	return insertChanged(ctx, s, "releases", rows)
}

// InsertSyncRuns records collector runs.
func (s *Store) InsertSyncRuns(ctx context.Context, rows []evident.SyncRun) error {
	return insert(ctx, s, "sync_runs", rows)
}

// InsertSyncProblems records bad input the collector stepped over.
func (s *Store) InsertSyncProblems(ctx context.Context, rows []evident.SyncProblem) error {
	return insert(ctx, s, "sync_problems", rows)
}

// InsertSatisfaction stores survey answers.
func (s *Store) InsertSatisfaction(ctx context.Context, rows []evident.SatisfactionResponse) error {
	return insert(ctx, s, "satisfaction_responses", rows)
}

// InsertValueRecords stores business value records.
func (s *Store) InsertValueRecords(ctx context.Context, rows []evident.ValueRecord) error {
	return insert(ctx, s, "value_records", rows)
}

// SaveCheckpoint records where the next incremental sync of a scope starts.
func (s *Store) SaveCheckpoint(ctx context.Context, site, scope string, at time.Time) error {
	return insert(ctx, s, "sync_checkpoints", []evident.Checkpoint{{
		Site: site, Scope: scope, Checkpoint: at.UTC().Truncate(time.Second), Version: uint64(time.Now().UnixNano()),
	}})
}

// Checkpoint returns the saved checkpoint of a scope; ok is false when the
// scope was never synced.
func (s *Store) Checkpoint(ctx context.Context, site, scope string) (at time.Time, ok bool, err error) {
	var n uint64
	err = s.QueryRow(ctx, "SELECT argMax(checkpoint, version), count() FROM sync_checkpoints WHERE site = ? AND scope = ?",
		[]any{site, scope}, &at, &n)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read checkpoint: %w", err)
	}
	return at.UTC(), n > 0, nil
}

// Count returns the number of current rows of a table (after replacement),
// optionally filtered by site. It is for tests, health pages and summaries.
func (s *Store) Count(ctx context.Context, table, site string) (uint64, error) {
	if !validTable[table] {
		return 0, fmt.Errorf("count: unknown table %q", table)
	}
	q := "SELECT count() FROM " + table + " FINAL"
	args := []any{}
	if site != "" {
		q += " WHERE site = ?"
		args = append(args, site)
	}
	var n uint64
	if err := s.QueryRow(ctx, q, args, &n); err != nil {
		return 0, fmt.Errorf("count %s: %w", table, err)
	}
	return n, nil
}

var validTable = map[string]bool{
	"sites": true, "projects": true, "statuses": true, "raw_issues": true, "issues": true,
	"status_transitions": true, "sprint_changes": true, "field_changes": true, "boards": true, "board_config": true,
	"sprints": true, "releases": true, "sync_checkpoints": true,
	"satisfaction_responses": true, "value_records": true, "goals": true, "experiments": true, "annotations": true, "forecast_log": true, "issue_backlog": true, "backlog_snapshots": true,
	"issue_timelines": true, "skipped_issues": true,
}

// StoredHashes returns, for the given issue ids of a site, the content hash
// of the stored raw JSON of each live (not deleted) issue. The ids go in as
// a set (IN), not has(array, id), which would compare every row with every id.
func (s *Store) StoredHashes(ctx context.Context, site string, ids []uint64) (map[uint64]uint64, error) {
	out := make(map[uint64]uint64, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, cancel, err := s.Query(ctx, `SELECT issue_id, argMax(content_hash, version), argMax(deleted, version)
		FROM raw_issues WHERE site = ? AND issue_id IN (SELECT toUInt64(arrayJoin(?))) GROUP BY issue_id`, site, ids)
	if err != nil {
		return nil, fmt.Errorf("read stored hashes: %w", err)
	}
	defer cancel()
	defer rows.Close()
	for rows.Next() {
		var id, hash uint64
		var deleted uint8
		if err := rows.Scan(&id, &hash, &deleted); err != nil {
			return nil, fmt.Errorf("read stored hashes: %w", err)
		}
		if deleted == 0 {
			out[id] = hash
		}
	}
	return out, rows.Err()
}

// LiveIssueIDs returns the ids of a site's stored issues that are not
// deleted, in the given projects.
func (s *Store) LiveIssueIDs(ctx context.Context, site string, projects []string) ([]uint64, error) {
	rows, cancel, err := s.Query(ctx, `SELECT issue_id FROM raw_issues WHERE site = ? GROUP BY issue_id
		HAVING argMax(deleted, version) = 0 AND has(?, argMax(project_key, version))`, site, projects)
	if err != nil {
		return nil, fmt.Errorf("read live issues: %w", err)
	}
	defer cancel()
	defer rows.Close()
	var out []uint64
	for rows.Next() {
		var id uint64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// MarkDeleted marks issues of a site as deleted in Jira: a newer version of
// their rows with deleted = 1, so that no measure counts a ghost.
func (s *Store) MarkDeleted(ctx context.Context, site string, ids []uint64, version uint64) error {
	if len(ids) == 0 {
		return nil
	}
	for _, table := range []string{"issues", "raw_issues"} {
		cols := columnsOf(reflect.TypeOf(evident.Issue{}))
		if table == "raw_issues" {
			cols = columnsOf(reflect.TypeOf(evident.RawIssue{}))
		}
		var sel []string
		for _, c := range strings.Split(cols, ", ") {
			switch c {
			case "deleted":
				sel = append(sel, "toUInt8(1)")
			case "version":
				sel = append(sel, strconv.FormatUint(version, 10))
			default:
				sel = append(sel, c)
			}
		}
		q := "INSERT INTO " + table + " (" + cols + ") SELECT " + strings.Join(sel, ", ") + " FROM " + table +
			" FINAL WHERE site = ? AND issue_id IN (SELECT toUInt64(arrayJoin(?)))"
		if err := s.Exec(ctx, q, site, ids); err != nil {
			return fmt.Errorf("mark deleted in %s: %w", table, err)
		}
	}
	return nil
}

// EachRawIssue calls fn with every live raw issue of a site, streaming.
func (s *Store) EachRawIssue(ctx context.Context, site string, fn func(evident.RawIssue) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rows, err := s.Conn.Query(ctx, "SELECT "+columnsOf(reflect.TypeOf(evident.RawIssue{}))+" FROM raw_issues FINAL WHERE site = ? AND deleted = 0", site)
	if err != nil {
		return fmt.Errorf("read raw issues: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r evident.RawIssue
		if err := rows.ScanStruct(&r); err != nil {
			return fmt.Errorf("read raw issues: %w", err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Statuses returns a site's stored statuses.
func (s *Store) Statuses(ctx context.Context, site string) ([]evident.Status, error) {
	var out []evident.Status
	err := s.Select(ctx, &out, "SELECT "+columnsOf(reflect.TypeOf(evident.Status{}))+" FROM statuses FINAL WHERE site = ?", site)
	return out, err
}

// Site returns a stored site, or ok = false.
func (s *Store) Site(ctx context.Context, site string) (evident.Site, bool, error) {
	var out []evident.Site
	if err := s.Select(ctx, &out, "SELECT "+columnsOf(reflect.TypeOf(evident.Site{}))+" FROM sites FINAL WHERE site = ?", site); err != nil {
		return evident.Site{}, false, err
	}
	if len(out) == 0 {
		return evident.Site{}, false, nil
	}
	return out[0], true, nil
}

// InsertInto writes rows of a ch-tagged struct type into a table, in
// batches; for tables without a typed method (imports, goals).
func InsertInto[T any](ctx context.Context, s *Store, table string, rows []T) error {
	return insert(ctx, s, table, rows)
}
