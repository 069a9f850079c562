// Package chtest gives tests a real ClickHouse: one private server per test
// binary, started from the installed binary on free ports in a temporary
// directory, and a fresh database per test. EVIDENT_TEST_CLICKHOUSE_DSN
// points the tests at an existing server instead.
//
// Outside CI, a machine without ClickHouse skips these tests with a message
// that says how to install it; with CI=true they fail.
package chtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evident-ebm/evident/internal/chserver"
	"github.com/evident-ebm/evident/schema"
)

var (
	once     sync.Once
	server   *chserver.Server
	baseDSN  string
	startErr error
	tmpDir   string
)

// Main runs a package's tests and stops the shared server afterwards. Use it
// from TestMain: `func TestMain(m *testing.M) { chtest.Main(m) }`.
func Main(m *testing.M) {
	code := m.Run()
	if server != nil {
		server.Stop()
	}
	if tmpDir != "" {
		os.RemoveAll(tmpDir)
	}
	os.Exit(code)
}

func start() {
	if dsn := os.Getenv("EVIDENT_TEST_CLICKHOUSE_DSN"); dsn != "" {
		baseDSN = dsn
		return
	}
	dir, err := os.MkdirTemp("", "evident-chtest-")
	if err != nil {
		startErr = err
		return
	}
	tmpDir = dir
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	server, startErr = chserver.Start(ctx, dir, 0)
	if startErr == nil {
		baseDSN = server.DSN("default")
	}
}

// Require makes sure a server is available, skipping the test (or failing
// it under CI=true) when none can be had. It returns the server's DSN for the
// default database.
func Require(t testing.TB) string {
	t.Helper()
	once.Do(start)
	if startErr != nil {
		if errors.Is(startErr, chserver.ErrNoBinary) && os.Getenv("CI") != "true" {
			t.Skipf("skipping ClickHouse integration test: %v (or set EVIDENT_TEST_CLICKHOUSE_DSN)", startErr)
		}
		t.Fatalf("ClickHouse for tests: %v", startErr)
	}
	return baseDSN
}

// DSN returns a DSN for a new, empty database on the test server, dropped
// when the test ends.
func DSN(t testing.TB) string {
	t.Helper()
	base := Require(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("test DSN: %v", err)
	}
	var b [6]byte
	rand.Read(b[:])
	db := "t_" + sanitize(t.Name()) + "_" + hex.EncodeToString(b[:])
	u.Path = "/" + db
	dsn := u.String()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		u.Path = "/default"
		st, err := schema.Open(ctx, u.String())
		if err != nil {
			return
		}
		defer st.Close()
		st.Exec(ctx, "DROP DATABASE IF EXISTS `"+db+"`")
	})
	return dsn
}

// Store opens a migrated store on a new database of the test server.
func Store(t testing.TB) *schema.Store {
	t.Helper()
	return StoreAt(t, DSN(t))
}

// StoreAt opens a migrated store on the database of dsn (from DSN): one
// more connection to it, as another process would have.
func StoreAt(t testing.TB, dsn string) *schema.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := schema.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open test store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx, ""); err != nil {
		t.Fatalf("migrate test store: %v", err)
	}
	return st
}

func sanitize(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := b.String()
	if len(s) > 40 {
		s = s[:40]
	}
	return fmt.Sprint(s)
}
