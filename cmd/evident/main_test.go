package main

import (
	"bytes"
	"context"
	"fmt"
	"github.com/evident-ebm/evident/collector"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/internal/chtest"
	"github.com/evident-ebm/evident/schema"
)

func TestMain(m *testing.M) { chtest.Main(m) }

func run(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }}
	code := m.Run(context.Background(), args)
	return code, out.String(), errb.String()
}

func TestUnknownCommandAndHelp(t *testing.T) {
	if code, _, stderr := run(t, nil, "frobnicate"); code != 2 || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Errorf("exit %d, %q", code, stderr)
	}
	code, _, stderr := run(t, nil, "--help")
	if code != 0 {
		t.Errorf("--help exit %d", code)
	}
	for _, want := range []string{"migrate", "serve", "sync", "demo", "import", "bench", "EVIDENT_CLICKHOUSE_DSN", "EVIDENT_JIRA_PAT", "EVIDENT_JIRA_PROJECTS"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("--help does not mention %s", want)
		}
	}
	if code, _, stderr := run(t, nil, "migrate", "--help"); code != 0 || !strings.Contains(stderr, "-config") || !strings.Contains(stderr, "EVIDENT_CLICKHOUSE_DSN") {
		t.Errorf("migrate --help: exit %d, %q", code, stderr)
	}
	if code, _, stderr := run(t, nil, "import", "satisfaction", "--help"); code != 0 || !strings.Contains(stderr, "-format") {
		t.Errorf("import satisfaction --help: exit %d, %q", code, stderr)
	}
}

func TestConfigUnknownYAMLKeyIsNamed(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "evident.yaml")
	os.WriteFile(p, []byte("listen: 127.0.0.1:9999\nclickhouse:\n  dsn: clickhouse://x@h:9000/db\n  clusterr: x\n"), 0o600)
	_, err := LoadConfig(p, func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "clusterr") || !strings.Contains(err.Error(), "line 4") {
		t.Fatalf("LoadConfig = %v, want an error naming clusterr on line 4", err)
	}
}

func TestConfigLayers(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "evident.yaml")
	os.WriteFile(p, []byte("listen: 127.0.0.1:9999\nsites:\n  - url: https://a.example\n    projects: [A]\n"), 0o600)
	env := map[string]string{
		"EVIDENT_LISTEN": "127.0.0.1:7000", "EVIDENT_JIRA_PROJECTS": "b, c", "EVIDENT_JIRA_PAT": "pat-secret",
		"EVIDENT_AUTH_TOKENS": "viewer:v1,admin:a1",
	}
	c, err := LoadConfig(p, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:7000" || c.Sites[0].URL != "https://a.example" || strings.Join(c.Sites[0].Projects, ",") != "B,C" ||
		c.Sites[0].PAT != "pat-secret" || c.Sites[0].Name != "a.example" || len(c.Auth.AdminTokens) != 1 {
		t.Fatalf("config = %+v", c)
	}
	if err := c.Sites[0].Validate(); err != nil {
		t.Fatal(err)
	}
	_, out, _ := run(t, env, "config", "--config", p)
	if strings.Contains(out, "pat-secret") || strings.Contains(out, "v1") && strings.Contains(out, "viewer:v1") {
		t.Fatalf("config output leaks a secret: %s", out)
	}
	if _, err := LoadConfig(filepath.Join(dir, "missing.yaml"), func(string) string { return "" }); err == nil {
		t.Fatal("an explicit missing config file must be an error")
	}
	env["EVIDENT_AUTH_TOKENS"] = "owner:x"
	if _, err := LoadConfig(p, func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "owner") {
		t.Fatalf("bad token role: %v", err)
	}
}

func TestMigrateCommand(t *testing.T) {
	dsn := chtest.DSN(t)
	env := map[string]string{"EVIDENT_CLICKHOUSE_DSN": dsn}
	migs, err := schema.Migrations(schema.Options{Database: "x"})
	if err != nil {
		t.Fatal(err)
	}
	n := len(migs)
	code, out, stderr := run(t, env, "migrate")
	if code != 0 || !strings.Contains(out, "0001_jira: applied") || !strings.Contains(out, fmt.Sprintf("%d migration(s) applied", n)) {
		t.Fatalf("first migrate: exit %d\n%s\n%s", code, out, stderr)
	}
	code, out, _ = run(t, env, "migrate")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("0 migration(s) applied, %d already present", n)) {
		t.Fatalf("second migrate: exit %d\n%s", code, out)
	}
	code, _, stderr = run(t, map[string]string{"EVIDENT_CLICKHOUSE_DSN": "clickhouse://default:pw-secret@127.0.0.1:1/x?dial_timeout=1s"}, "migrate")
	if code != 1 || !strings.Contains(stderr, "127.0.0.1:1") || strings.Contains(stderr, "pw-secret") {
		t.Fatalf("migrate against nothing: exit %d, %q", code, stderr)
	}
}

// Data stored before the read model existed (an upgrade), or by a process
// that died before building it, is built when serve starts.
func TestServeBuildsAMissingReadModel(t *testing.T) {
	dsn := chtest.DSN(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := schema.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(ctx, ""); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	var issues []evident.Issue
	for i := 1; i <= 3; i++ {
		issues = append(issues, evident.Issue{Site: "s", IssueID: uint64(i), IssueKey: fmt.Sprintf("UP-%d", i), ProjectKey: "UP", IssueType: "Story",
			StatusName: "To Do", StatusCategory: "new", Labels: []string{}, Components: []string{}, FixVersions: []string{}, SprintIDs: []uint64{},
			CreatedAt: at, UpdatedAt: at, Version: 1})
	}
	if err := st.InsertIssues(ctx, issues); err != nil {
		t.Fatal(err)
	}
	if err := st.InsertProjects(ctx, []evident.Project{{Site: "s", ProjectID: 1, Key: "UP", Name: "Upgrade", Version: 1}}); err != nil {
		t.Fatal(err)
	}
	base := serveForTest(t, dsn, time.Now)
	resp, err := http.Get(base + "/api/v1/issues?project=UP")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"total":3`) {
		t.Fatalf("issues after serve started on data without a read model: %d %s", resp.StatusCode, body)
	}
}

// `evident config` hides every password, wherever a DSN or a Jira URL
// carries it, and a Jira URL with credentials in it is refused (they would
// reach the site name, errors and sync_runs) without being echoed.
func TestConfigNeverPrintsPasswords(t *testing.T) {
	for _, dsn := range []string{
		"clickhouse://u:sekret1@h:9000/db",
		"clickhouse://u:sek%40ret1@h:9000/db",
		"clickhouse://u:sek@ret1@h:9000/db",
		"clickhouse://h:9000/db?username=u&password=sekret1",
	} {
		env := map[string]string{"EVIDENT_CLICKHOUSE_DSN": dsn, "EVIDENT_JIRA_URL": "https://bob:hunter2@jira.example.com",
			"EVIDENT_JIRA_PROJECTS": "A", "EVIDENT_JIRA_PAT": "p"}
		code, out, stderr := run(t, env, "config")
		if code != 0 || strings.Contains(out+stderr, "sekret1") || strings.Contains(out+stderr, "ret1") || strings.Contains(out+stderr, "hunter2") {
			t.Errorf("config with %s: exit %d\n%s%s", dsn, code, out, stderr)
		}
	}
	c, err := LoadConfig("", func(k string) string {
		return map[string]string{"EVIDENT_JIRA_URL": "https://bob:hunter2@jira.example.com", "EVIDENT_JIRA_PROJECTS": "A", "EVIDENT_JIRA_PAT": "p"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Sites[0].Validate()
	if c.Sites[0].Name != "jira.example.com" || err == nil || !strings.Contains(err.Error(), "carries credentials") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("site %q, validate: %v", c.Sites[0].Name, err)
	}
}

// A project's stall threshold outside 0–365 days is refused, naming the
// setting.
func TestStallDaysAreChecked(t *testing.T) {
	for _, days := range []float64{-1, 366} {
		c := collector.SiteConfig{Name: "s", URL: "https://jira.example.com", PAT: "p", Projects: []string{"SHOP"},
			ProjectSettings: map[string]collector.ProjectSettings{"SHOP": {StallDays: days}}}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "project_settings.SHOP.stall_days") {
			t.Errorf("stall_days %v: %v", days, err)
		}
	}
	ok := collector.SiteConfig{Name: "s", URL: "https://jira.example.com", PAT: "p", Projects: []string{"SHOP"},
		ProjectSettings: map[string]collector.ProjectSettings{"SHOP": {StallDays: 3, BlockedStatuses: []string{"Blocked"}}}}
	if err := ok.Validate(); err != nil {
		t.Errorf("stall_days 3: %v", err)
	}
}

// TestConfigExampleOfTheREADMELoads keeps the README's example
// configuration in step with the settings: an unknown key in it fails.
func TestConfigExampleOfTheREADMELoads(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "more sites go in the YAML file:\n\n```yaml\n")
	example, _, closed := strings.Cut(rest, "```")
	if !ok || !closed {
		t.Fatal("README: the example configuration is not where this test looks for it")
	}
	p := filepath.Join(t.TempDir(), "evident.yaml")
	os.WriteFile(p, []byte(example), 0o600)
	c, err := LoadConfig(p, func(string) string { return "" })
	if err != nil {
		t.Fatalf("README example: %v", err)
	}
	if b := c.Sites[0].Boards[42]; b.StartColumn != "In Progress" || b.EndColumn != "Done" {
		t.Fatalf("README example: boards %+v", c.Sites[0].Boards)
	}
}
