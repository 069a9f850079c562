package dashboard_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/evident-ebm/evident/dashboard"
	"github.com/evident-ebm/evident/internal/chserver"
	"github.com/evident-ebm/evident/metrics"
	"github.com/evident-ebm/evident/schema"
)

// TestClickHouseRestartDuringServe: while the database is away the server
// answers 503 on /readyz and a friendly error on pages; when it is back the
// server recovers without a restart.
func TestClickHouseRestartDuringServe(t *testing.T) {
	if _, err := chserver.Find(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	ch, err := chserver.Start(ctx, dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { ch.Stop() }()
	st, err := schema.Open(ctx, ch.DSN("restart"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(ctx, ""); err != nil {
		t.Fatal(err)
	}
	st.QueryTimeout = 3 * time.Second
	app := dashboard.New(dashboard.Config{Measures: metrics.New(st), Pinger: st}).App
	if status, _, _ := do(t, app, "GET", "/readyz", "", ""); status != 200 {
		t.Fatalf("readyz before: %d", status)
	}
	port := ch.TCPPort
	ch.Stop()
	if status, _, _ := do(t, app, "GET", "/readyz", "", ""); status != 503 {
		t.Fatalf("readyz while ClickHouse is stopped: %d", status)
	}
	status, body, _ := do(t, app, "GET", "/flow", "", "")
	if status != 503 || !strings.Contains(body, "The database is not answering") || !strings.Contains(body, "</html>") {
		t.Fatalf("page while ClickHouse is stopped: %d %.200s", status, body)
	}
	if status, body, _ := do(t, app, "GET", "/api/v1/flow", "", ""); status != 503 || !strings.Contains(body, `"code":"unavailable"`) {
		t.Fatalf("API while ClickHouse is stopped: %d %s", status, body)
	}
	ch, err = chserver.Start(ctx, dir, port)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, _, _ := do(t, app, "GET", "/readyz", "", "")
		if status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz still %d 30 s after ClickHouse came back", status)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if status, body, _ := do(t, app, "GET", "/api/v1/flow", "", ""); status != 200 {
		t.Fatalf("API after ClickHouse came back: %d %s", status, body)
	}
	if status, _, _ := do(t, app, "GET", "/flow", "", ""); status != 200 {
		t.Fatalf("page after ClickHouse came back: %d", status)
	}
}
