// Package schema is Evident's ClickHouse adapter: the DDL (embedded .sql
// migrations), the migration runner, and the Store that writes and reads the
// domain records. The SQL runs on ClickHouse 18.16 and on current releases.
package schema

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Options decides how the DDL is rendered.
type Options struct {
	// Database is the database the tables live in.
	Database string
	// Cluster, when set, adds ON CLUSTER to every statement and uses
	// Replicated* engines, for a ClickHouse cluster with ZooKeeper/Keeper and
	// the {shard} and {replica} macros configured.
	Cluster string
}

// Migration is one embedded .sql file, rendered for the given Options.
type Migration struct {
	Version    uint32
	Name       string
	Statements []string
	Checksum   string
}

var migrationName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// Migrations returns the embedded migrations in order, rendered for opts.
func Migrations(opts Options) ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %q: name must be NNNN_name.sql", e.Name())
		}
		src, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		rendered, err := render(e.Name(), string(src), opts)
		if err != nil {
			return nil, err
		}
		v, _ := strconv.ParseUint(m[1], 10, 32)
		sum := sha256.Sum256([]byte(rendered))
		out = append(out, Migration{
			Version:    uint32(v),
			Name:       m[2],
			Statements: splitStatements(rendered),
			Checksum:   hex.EncodeToString(sum[:]),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

func render(name, src string, opts Options) (string, error) {
	engine := func(kind, table, args string) string {
		if opts.Cluster == "" {
			return kind + "(" + args + ")"
		}
		path := fmt.Sprintf("'/clickhouse/tables/{shard}/%s.%s', '{replica}'", opts.Database, table)
		if args != "" {
			path += ", " + args
		}
		return "Replicated" + kind + "(" + path + ")"
	}
	funcs := template.FuncMap{
		"on_cluster": func() string {
			if opts.Cluster == "" {
				return ""
			}
			return "ON CLUSTER " + quoteIdent(opts.Cluster)
		},
		"replacing": func(table string) string { return engine("ReplacingMergeTree", table, "version") },
		"mergetree": func(table string) string { return engine("MergeTree", table, "") },
	}
	t, err := template.New(name).Funcs(funcs).Parse(src)
	if err != nil {
		return "", fmt.Errorf("parse migration %s: %w", name, err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, nil); err != nil {
		return "", fmt.Errorf("render migration %s: %w", name, err)
	}
	return buf.String(), nil
}

// splitStatements cuts a file at semicolons that end a line, dropping
// comment lines; the DDL holds no semicolons inside strings.
func splitStatements(src string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(src, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(strings.TrimRight(line, " \t"))
		cur.WriteString("\n")
		if strings.HasSuffix(trimmed, ";") {
			stmt := strings.TrimSuffix(strings.TrimSpace(cur.String()), ";")
			out = append(out, stmt)
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

func quoteIdent(s string) string {
	return "`" + strings.ReplaceAll(s, "`", "\\`") + "`"
}

// MigrationResult says what Migrate did with one migration.
type MigrationResult struct {
	Version uint32
	Name    string
	Applied bool // false: it was already recorded
}

// Migrate creates the database if needed and applies every migration not yet
// recorded in schema_migrations. Every statement is idempotent (IF NOT
// EXISTS), so two processes migrating at once both succeed and a migration
// cut short is completed by the next run. A recorded migration whose
// checksum differs from the embedded file is an error: DDL is never edited
// after it has shipped.
func Migrate(ctx context.Context, conn driver.Conn, opts Options) ([]MigrationResult, error) {
	migs, err := Migrations(opts)
	if err != nil {
		return nil, err
	}
	onCluster := ""
	if opts.Cluster != "" {
		onCluster = " ON CLUSTER " + quoteIdent(opts.Cluster)
	}
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+quoteIdent(opts.Database)+onCluster); err != nil {
		return nil, fmt.Errorf("create database %s: %w", opts.Database, err)
	}
	engine := "ReplacingMergeTree(applied_at)"
	if opts.Cluster != "" {
		engine = fmt.Sprintf("ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/%s.schema_migrations', '{replica}', applied_at)", opts.Database)
	}
	ddl := "CREATE TABLE IF NOT EXISTS " + quoteIdent(opts.Database) + ".schema_migrations" + onCluster +
		" (version UInt32, name String, checksum String, applied_at DateTime('UTC')) ENGINE = " + engine + " ORDER BY version"
	if err := conn.Exec(ctx, ddl); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	applied := map[uint32]string{}
	rows, err := conn.Query(ctx, "SELECT version, argMax(checksum, applied_at) FROM "+quoteIdent(opts.Database)+".schema_migrations GROUP BY version")
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	for rows.Next() {
		var v uint32
		var sum string
		if err := rows.Scan(&v, &sum); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		applied[v] = sum
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}

	var results []MigrationResult
	for _, m := range migs {
		if sum, ok := applied[m.Version]; ok {
			if sum != m.Checksum {
				return results, fmt.Errorf("migration %04d_%s was changed after it was applied (checksum %s, recorded %s): add a new migration instead", m.Version, m.Name, m.Checksum[:12], sum[:min(12, len(sum))])
			}
			results = append(results, MigrationResult{Version: m.Version, Name: m.Name})
			continue
		}
		for i, stmt := range m.Statements {
			if err := conn.Exec(ctx, useDatabase(stmt, opts.Database)); err != nil && !columnExists(stmt, err) {
				return results, fmt.Errorf("migration %04d_%s statement %d: %w%s", m.Version, m.Name, i+1, err, clusterHint(opts, err))
			}
		}
		if err := recordMigration(ctx, conn, opts.Database, m); err != nil {
			return results, fmt.Errorf("record migration %04d_%s: %w", m.Version, m.Name, err)
		}
		results = append(results, MigrationResult{Version: m.Version, Name: m.Name, Applied: true})
	}
	return results, nil
}

var (
	createTable = regexp.MustCompile(`^CREATE TABLE IF NOT EXISTS ([a-z_]+)`)
	alterTable  = regexp.MustCompile(`^ALTER TABLE ([a-z_]+)`)
)

// useDatabase qualifies the table a CREATE or ALTER TABLE names with the
// database, so that migrations do not depend on the connection's default
// database.
func useDatabase(stmt, db string) string {
	stmt = createTable.ReplaceAllString(stmt, "CREATE TABLE IF NOT EXISTS "+quoteIdent(db)+".$1")
	return alterTable.ReplaceAllString(stmt, "ALTER TABLE "+quoteIdent(db)+".$1")
}

// columnExists says an ADD COLUMN failed only because the column is there:
// ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS, and a migration cut
// short, or run by two processes at once, meets its own column (code 44).
func columnExists(stmt string, err error) bool {
	var ex *clickhouse.Exception
	return strings.Contains(stmt, " ADD COLUMN ") && errors.As(err, &ex) && ex.Code == 44 && strings.Contains(ex.Message, "already exists")
}

// clusterHint says what to do when an ON CLUSTER statement timed out
// (code 159): a server of the cluster down, or, on old ClickHouse releases,
// a server whose DDL worker stopped after a ZooKeeper race between its
// replicas ("Unexpected ZooKeeper error ... Terminating" in its log; the
// server itself goes on serving). Restarting it and migrating again
// completes the migration: every statement is idempotent.
func clusterHint(opts Options, err error) string {
	var ex *clickhouse.Exception
	if opts.Cluster == "" || !errors.As(err, &ex) || ex.Code != 159 {
		return ""
	}
	return "\nA server of cluster " + opts.Cluster + " did not run it in time: one is down, or its DDL worker stopped (old ClickHouse releases such as 18.16: " +
		"\"Unexpected ZooKeeper error ... Terminating\" in its log). Restart that server and run the migration again: it completes what was cut short."
}

func recordMigration(ctx context.Context, conn driver.Conn, db string, m Migration) error {
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+quoteIdent(db)+".schema_migrations (version, name, checksum, applied_at)")
	if err != nil {
		return err
	}
	defer batch.Abort()
	if err := batch.Append(m.Version, m.Name, m.Checksum, time.Now().UTC()); err != nil {
		return err
	}
	return batch.Send()
}
