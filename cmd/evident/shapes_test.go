package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/internal/chtest"
	"github.com/evident-ebm/evident/internal/jirasim"
	"github.com/evident-ebm/evident/schema"
)

// shapeChecks are the data quality checks an issue of each real-world
// shape must fail (the shapes without one are ordinary issues that used
// to break or skew something).
var shapeChecks = map[string]string{
	jirasim.ShapeResolvedBeforeCreated:  evident.CheckResolvedBeforeCreated,
	jirasim.ShapeChangelogBeforeCreated: evident.CheckChangeBeforeCreated,
	jirasim.ShapeDeletedStatus:          evident.CheckStatusUnknown,
	jirasim.ShapeMoved:                  evident.CheckStatusUnknown,
	jirasim.ShapeResolvedOpen:           evident.CheckResolvedNotDone,
	jirasim.ShapeCreatedOutOfRange:      evident.CheckDateOutOfRange,
	jirasim.ShapeDueOutOfRange:          evident.CheckDateOutOfRange,
}

// TestSyncOfASiteWithEveryShape: `evident sync` of a Cloud and a Data
// Center site holding every shape of real sites exits 0; each issue is in
// the measures or named on the data-health API with its reason; the issues
// of each shape carry its finding; and no duration or count any endpoint
// answers is negative.
func TestSyncOfASiteWithEveryShape(t *testing.T) {
	const issues = 2500
	for _, cloud := range []bool{true, false} {
		t.Run(map[bool]string{true: "cloud", false: "datacenter"}[cloud], func(t *testing.T) {
			dsn := chtest.DSN(t)
			sim, err := jirasim.New(jirasim.Options{Config: jirasim.Config{Seed: 23, Issues: issues, Cloud: cloud},
				Email: "shape@example.com", APIToken: simToken, PAT: simToken})
			if err != nil {
				t.Fatal(err)
			}
			ts := httptest.NewServer(sim.Handler())
			defer ts.Close()
			sim.SetBaseURL(ts.URL)
			auth := "    email: shape@example.com\n"
			if !cloud {
				auth = ""
			}
			cfg := filepath.Join(t.TempDir(), "evident.yaml")
			yaml := fmt.Sprintf("clickhouse:\n  dsn: %s\nsites:\n  - name: shapes\n    url: %s\n%s    projects: [SHOP, APP, OPS]\n    requests_per_second: 2000\n    burst: 100\n",
				dsn, ts.URL, auth)
			if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			env := map[string]string{"EVIDENT_JIRA_API_TOKEN": simToken}
			if !cloud {
				env = map[string]string{"EVIDENT_JIRA_PAT": simToken}
			}
			now := func() time.Time { return jirasim.DefaultNow }
			m := &Main{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return env[k] }, Now: now}
			var stderr strings.Builder
			m.Stderr = &stderr
			if code := m.Run(context.Background(), []string{"sync", "--config", cfg}); code != 0 {
				t.Fatalf("sync exit %d:\n%s", code, stderr.String())
			}

			// Every issue is in the read model or skipped with a reason.
			ctx := context.Background()
			st, err := schema.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var rows []struct {
				Key      string   `ch:"issue_key"`
				Findings []string `ch:"findings"`
				Lead     int64    `ch:"lead"`
				Cycle    int64    `ch:"cycle"`
				NegStay  uint8    `ch:"neg_stay"`
			}
			if err := st.Select(ctx, &rows, `SELECT issue_key, findings,
				if(done_at IS NULL, toInt64(0), `+schema.LeadSeconds+`) AS lead,
				if(done_at IS NULL OR started_at IS NULL, toInt64(0), `+schema.CycleSeconds+`) AS cycle,
				arrayExists(s -> tupleElement(s, 3) < 0, `+schema.Stays+`) AS neg_stay
				FROM issues_current WHERE `+schema.Current); err != nil {
				t.Fatal(err)
			}
			inModel := map[string][]string{}
			for _, r := range rows {
				inModel[r.Key] = r.Findings
				if r.Lead < 0 || r.Cycle < 0 || r.NegStay != 0 {
					t.Errorf("%s: lead %d s, cycle %d s, a negative stay: %v", r.Key, r.Lead, r.Cycle, r.NegStay != 0)
				}
			}
			var skipped []struct {
				Key    string `ch:"issue_key"`
				Reason string `ch:"reason"`
			}
			if err := st.Select(ctx, &skipped, "SELECT issue_key, reason FROM skipped_issues FINAL WHERE skipped = 1"); err != nil {
				t.Fatal(err)
			}
			skippedKeys := map[string]string{}
			for _, s := range skipped {
				skippedKeys[s.Key] = s.Reason
			}
			shapes, flagged := map[string]int{}, map[string]int{}
			for i := range issues {
				is := sim.Issue(i)
				findings, in := inModel[is.Key]
				reason, out := skippedKeys[is.Key]
				switch {
				case in && out:
					t.Errorf("%s (%s) is both in the measures and skipped (%s)", is.Key, is.Shape, reason)
				case !in && !out:
					t.Errorf("%s (%s) is neither in the measures nor named as skipped", is.Key, is.Shape)
				case out && reason == "":
					t.Errorf("%s skipped without a reason", is.Key)
				}
				if is.Shape == "" {
					continue
				}
				shapes[is.Shape]++
				if check, ok := shapeChecks[is.Shape]; ok && in {
					for _, f := range findings {
						if f == check {
							flagged[is.Shape]++
							break
						}
					}
				}
			}
			for _, s := range []string{jirasim.ShapeCreatedDone, jirasim.ShapeResolvedBeforeCreated, jirasim.ShapeChangelogBeforeCreated,
				jirasim.ShapeMoved, jirasim.ShapeDeletedStatus, jirasim.ShapeResolvedOpen, jirasim.ShapeTypeChanged, jirasim.ShapeSubtask,
				jirasim.ShapeBackwards, jirasim.ShapeCreatedOutOfRange, jirasim.ShapeDueOutOfRange} {
				if shapes[s] == 0 {
					t.Errorf("the site holds no issue of the shape %s: the test proves nothing about it", s)
				}
				if _, ok := shapeChecks[s]; ok && flagged[s] != shapes[s] {
					t.Errorf("%d of %d issues of the shape %s carry the finding %s", flagged[s], shapes[s], s, shapeChecks[s])
				}
			}
			t.Logf("%d issues in the measures, %d skipped; shapes %v", len(rows), len(skipped), shapes)

			// The dashboard's answers: the health API names the findings,
			// and no endpoint answers a negative number.
			base := serveForTest(t, dsn, now)
			var health struct {
				Quality []struct {
					Check    string `json:"check"`
					Issues   uint64 `json:"issues"`
					Examples []struct {
						Key, Note string
					} `json:"examples"`
				} `json:"quality"`
				IssuesChecked uint64 `json:"issues_checked"`
				SkippedCount  int    `json:"skipped_count"`
			}
			getJSON(t, base+"/api/v1/health/data", &health)
			if health.IssuesChecked != uint64(len(rows)) || health.SkippedCount != len(skipped) {
				t.Errorf("health API: %d issues checked, %d skipped; the read model holds %d, %d skipped", health.IssuesChecked, health.SkippedCount, len(rows), len(skipped))
			}
			byCheck := map[string]uint64{}
			for _, q := range health.Quality {
				byCheck[q.Check] = q.Issues
				if q.Issues > 0 && (len(q.Examples) == 0 || q.Examples[0].Key == "" || q.Examples[0].Note == "") {
					t.Errorf("health API: check %s counts %d issues but names none", q.Check, q.Issues)
				}
			}
			for s, check := range shapeChecks {
				if byCheck[check] < uint64(flagged[s]) {
					t.Errorf("health API: %s counts %d issues, %d of the shape %s alone", check, byCheck[check], flagged[s], s)
				}
			}
			span := "from=" + jirasim.DefaultNow.AddDate(-2, 0, -7).Format("2006-01-02") + "&to=" + jirasim.DefaultNow.AddDate(0, 0, 1).Format("2006-01-02")
			for _, path := range []string{"/api/v1/flow?" + span, "/api/v1/cfd?" + span, "/api/v1/cfd?by=status&" + span,
				"/api/v1/time-in-status?" + span, "/api/v1/backlog?project=SHOP", "/api/v1/backlog?project=OPS", "/api/v1/issues?limit=1000&" + span, "/api/v1/quality?" + span} {
				var v any
				getJSON(t, base+path, &v)
				for _, neg := range negatives(v, "") {
					t.Errorf("GET %s: %s", path, neg)
				}
			}
		})
	}
}

// serveForTest serves the dashboard on dsn at a free port until the test
// ends and returns its address.
func serveForTest(t *testing.T, dsn string, now func() time.Time) string {
	t.Helper()
	env := map[string]string{"EVIDENT_CLICKHOUSE_DSN": dsn, "EVIDENT_LISTEN": "127.0.0.1:0"}
	c, err := LoadConfig("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	st, err := schema.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	m := &Main{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return env[k] }, Now: now}
	ready := make(chan string, 1)
	done := make(chan struct{})
	go func() { m.serve(ctx, st, c, slog.New(slog.DiscardHandler), ready); close(done) }()
	t.Cleanup(func() { cancel(); <-done; st.Close() })
	select {
	case base := <-ready:
		return base
	case <-done:
		t.Fatal("serve stopped before it started")
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not start")
	}
	return ""
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// negatives lists the negative numbers in a JSON value by path: every
// duration, age and count Evident answers is zero or more.
func negatives(v any, at string) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out = append(out, negatives(x[k], at+"."+k)...)
		}
	case []any:
		for i, e := range x {
			out = append(out, negatives(e, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case float64:
		if x < 0 {
			out = append(out, fmt.Sprintf("%s = %v", at, x))
		}
	}
	if len(out) > 5 {
		out = append(out[:5], fmt.Sprintf("… and %d more", len(out)-5))
	}
	return out
}
