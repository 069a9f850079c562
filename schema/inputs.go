package schema

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/evident-ebm/evident"
)

// The SQL of the inputs Jira does not hold: imported survey answers and
// value records, goals and experiments. Package inputs checks them; this is
// how they are stored.

// CreateStaging creates an empty private table shaped like target, ordered
// by orderBy, for a file's rows to wait in until every row passed, and
// returns its name. DropStaging removes it.
func (s *Store) CreateStaging(ctx context.Context, target, orderBy string) (string, error) {
	if err := s.dropStaleStaging(ctx, time.Now().Add(-StagingMaxAge)); err != nil {
		return "", err
	}
	var b [8]byte
	rand.Read(b[:])
	table := fmt.Sprintf("import_%s_%d_%s", target, time.Now().Unix(), hex.EncodeToString(b[:]))
	if err := s.Exec(ctx, "CREATE TABLE "+table+" AS "+target+" ENGINE = MergeTree ORDER BY "+orderBy); err != nil {
		return "", fmt.Errorf("staging table: %w", err)
	}
	return table, nil
}

// StagingMaxAge is how old a staging table is when it is taken for the
// leftover of an import killed halfway (an import of the largest file
// takes seconds).
const StagingMaxAge = time.Hour

// dropStaleStaging drops the staging tables created before cutoff: their
// import was killed before it could drop them. The creation time is in the
// name (import_TARGET_UNIX_RANDOM).
func (s *Store) dropStaleStaging(ctx context.Context, cutoff time.Time) error {
	var names []string
	rows, cancel, err := s.Query(ctx, `SELECT name FROM system.tables WHERE database = currentDatabase() AND startsWith(name, 'import_')`)
	if err != nil {
		return fmt.Errorf("staging tables: %w", err)
	}
	defer cancel()
	defer rows.Close()
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return fmt.Errorf("staging tables: %w", err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("staging tables: %w", err)
	}
	for _, n := range names {
		parts := strings.Split(n, "_")
		if len(parts) < 4 {
			continue
		}
		created, err := strconv.ParseInt(parts[len(parts)-2], 10, 64)
		if err != nil || !time.Unix(created, 0).Before(cutoff) {
			continue
		}
		if err := s.Exec(ctx, "DROP TABLE IF EXISTS `"+n+"`"); err != nil {
			return fmt.Errorf("drop the leftover staging table %s: %w", n, err)
		}
	}
	return nil
}

// DropStaging drops a staging table, whatever became of the context that
// created it.
func (s *Store) DropStaging(table string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.Exec(ctx, "DROP TABLE IF EXISTS "+table)
}

// Duplicate is a key that several staged rows share: the lines of those
// rows, first one first (a staged row's version holds its line).
type Duplicate struct {
	Lines []uint64 `ch:"lines"`
}

// StagedDuplicates lists the keys (keyExpr) that more than one staged row
// has, at most 51, in the order of their first line.
func (s *Store) StagedDuplicates(ctx context.Context, table, keyExpr string) ([]Duplicate, error) {
	var dups []Duplicate
	q := "SELECT arraySort(groupArray(version)) AS lines FROM " + table + " GROUP BY " + keyExpr +
		" HAVING count() > 1 ORDER BY min(version) LIMIT 51"
	if err := s.Select(ctx, &dups, q); err != nil {
		return nil, fmt.Errorf("duplicate check: %w", err)
	}
	return dups, nil
}

// CommitSatisfaction moves staged survey answers into
// satisfaction_responses at version, leaving out those already there (by
// response id), and returns how many were.
func (s *Store) CommitSatisfaction(ctx context.Context, table string, version uint64) (existing int, err error) {
	var n uint64
	if err := s.QueryRow(ctx, "SELECT count() FROM "+table+" WHERE response_id IN (SELECT response_id FROM satisfaction_responses)", nil, &n); err != nil {
		return 0, err
	}
	cols := "response_id, responded_at, scale, score, product, respondent_hash, comment, source"
	if err := s.Exec(ctx, "INSERT INTO satisfaction_responses ("+cols+", version) SELECT "+cols+", toUInt64(?) FROM "+table+
		" WHERE response_id NOT IN (SELECT response_id FROM satisfaction_responses)", version); err != nil {
		return 0, fmt.Errorf("import into satisfaction_responses: %w", err)
	}
	return int(n), nil
}

// CommitValues moves staged value records into value_records at version,
// leaving out those already there with the same value (so they keep their
// version and re-importing a file writes nothing), and returns how many
// were.
func (s *Store) CommitValues(ctx context.Context, table string, version uint64) (unchanged int, err error) {
	const same = `(product, measure, period_start, period_end, value, unit) IN
		(SELECT product, measure, period_start, period_end, value, unit FROM value_records FINAL)`
	var n uint64
	if err := s.QueryRow(ctx, `SELECT count() FROM `+table+` WHERE `+same, nil, &n); err != nil {
		return 0, err
	}
	if err := s.Exec(ctx, `INSERT INTO value_records (product, measure, period_start, period_end, value, unit, source, version)
		SELECT product, measure, period_start, period_end, value, unit, source, toUInt64(?) FROM `+table+` WHERE NOT `+same, version); err != nil {
		return 0, fmt.Errorf("import value records: %w", err)
	}
	return int(n), nil
}

// ImportedMeasure says whether any value record names the measure.
func (s *Store) ImportedMeasure(ctx context.Context, measure string) (bool, error) {
	var n uint64
	if err := s.QueryRow(ctx, `SELECT count() FROM value_records WHERE measure = ?`, []any{measure}, &n); err != nil {
		return false, fmt.Errorf("value records: %w", err)
	}
	return n > 0, nil
}

// Annotations lists the live annotations of a product and those of every
// product ("" lists all), by date.
func (s *Store) Annotations(ctx context.Context, product string) ([]evident.Annotation, error) {
	var out []evident.Annotation
	q, args := "SELECT * FROM annotations FINAL WHERE deleted = 0", []any{}
	if product != "" {
		q += " AND (product = ? OR product = '')"
		args = append(args, product)
	}
	if err := s.Select(ctx, &out, q+" ORDER BY at, annotation_id", args...); err != nil {
		return nil, fmt.Errorf("annotations: %w", err)
	}
	return out, nil
}

// Annotation reads a live annotation; ok is false when there is none.
func (s *Store) Annotation(ctx context.Context, id string) (evident.Annotation, bool, error) {
	return live[evident.Annotation](ctx, s, "annotations", "annotation_id", id)
}

// Goals lists the live goals of a product ("" for all), oldest first.
func (s *Store) Goals(ctx context.Context, product string) ([]evident.Goal, error) {
	var out []evident.Goal
	q, args := "SELECT * FROM goals FINAL WHERE deleted = 0", []any{}
	if product != "" {
		q += " AND product = ?"
		args = append(args, product)
	}
	if err := s.Select(ctx, &out, q+" ORDER BY created_at, goal_id", args...); err != nil {
		return nil, fmt.Errorf("goals: %w", err)
	}
	return out, nil
}

// Goal reads a live goal; ok is false when there is none.
func (s *Store) Goal(ctx context.Context, id string) (g evident.Goal, ok bool, err error) {
	return live[evident.Goal](ctx, s, "goals", "goal_id", id)
}

// GoalChildren counts the live goals under a goal.
func (s *Store) GoalChildren(ctx context.Context, id string) (uint64, error) {
	var n uint64
	err := s.QueryRow(ctx, "SELECT count() FROM goals FINAL WHERE parent_id = ? AND deleted = 0", []any{id}, &n)
	return n, err
}

// Experiments lists the live experiments of a product ("" for all).
func (s *Store) Experiments(ctx context.Context, product string) ([]evident.Experiment, error) {
	var out []evident.Experiment
	q, args := "SELECT * FROM experiments FINAL WHERE deleted = 0", []any{}
	if product != "" {
		q += " AND product = ?"
		args = append(args, product)
	}
	if err := s.Select(ctx, &out, q+" ORDER BY started_at, experiment_id", args...); err != nil {
		return nil, fmt.Errorf("experiments: %w", err)
	}
	return out, nil
}

// Experiment reads a live experiment; ok is false when there is none.
func (s *Store) Experiment(ctx context.Context, id string) (e evident.Experiment, ok bool, err error) {
	return live[evident.Experiment](ctx, s, "experiments", "experiment_id", id)
}

// live reads the current, undeleted row of a table by its id.
func live[T any](ctx context.Context, st *Store, table, idCol, id string) (T, bool, error) {
	var out []T
	var zero T
	if err := st.Select(ctx, &out, "SELECT * FROM "+table+" FINAL WHERE "+idCol+" = ? AND deleted = 0", id); err != nil {
		return zero, false, err
	}
	if len(out) == 0 {
		return zero, false, nil
	}
	return out[0], true, nil
}

// importLock is the table whose existence is the import lock: a CREATE
// TABLE succeeds for one caller only, in whatever process.
const importLock = "evident_import_lock"

// ImportLockMaxWait is how long a commit waits for the import lock before
// it takes the holder for an import killed while holding it (a commit
// takes seconds) and breaks the lock.
var ImportLockMaxWait = 5 * time.Minute

// LockImports takes the database's import lock, which serialises the
// commits of imports across processes (the CLI and servers alike), so
// that two identical files imported at once do not both count their rows
// as new. It polls until it has the lock or ctx ends; unlock drops it.
func (s *Store) LockImports(ctx context.Context) (unlock func(), err error) {
	start := time.Now()
	for {
		err := s.Exec(ctx, "CREATE TABLE "+importLock+" (at DateTime) ENGINE = TinyLog")
		if err == nil {
			return func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				s.Exec(ctx, "DROP TABLE IF EXISTS "+importLock)
			}, nil
		}
		if !isTableExists(err) {
			return nil, fmt.Errorf("import lock: %w", err)
		}
		if time.Since(start) > ImportLockMaxWait {
			// Break it: the rename succeeds for one waiter only.
			var b [8]byte
			rand.Read(b[:])
			broken := importLock + "_broken_" + hex.EncodeToString(b[:])
			if s.Exec(ctx, "RENAME TABLE "+importLock+" TO "+broken) == nil {
				s.Exec(ctx, "DROP TABLE IF EXISTS "+broken)
			}
			start = time.Now()
			continue
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// isTableExists says whether a CREATE failed because the table is there,
// or being created by another query at this moment.
func isTableExists(err error) bool {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		return ex.Code == 57 || strings.Contains(ex.Message, "right now") // TABLE_ALREADY_EXISTS, or being created
	}
	return false
}
