package metrics_test

// Fixture tests in the spirit of Prometheus' promqltest: each file under
// metrics/testdata/ holds a small dataset and the values expected from it,
// computed by hand and explained in comments. The data goes through the
// collector's extraction into a real ClickHouse and is read back through the
// JSON API (in process, no network): an eval line is the API request a user
// would make, so a fixture also pins how parameters reach the service.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/collector"
	"github.com/evident-ebm/evident/dashboard"
	"github.com/evident-ebm/evident/internal/chtest"
	"github.com/evident-ebm/evident/metrics"
	"github.com/evident-ebm/evident/schema"
)

var fixtureStatuses = map[string]struct{ id, cat string }{
	"Backlog": {"10000", "new"}, "Selected for Development": {"10001", "new"}, "In Progress": {"3", "indeterminate"},
	"In Review": {"10002", "indeterminate"}, "Blocked": {"10006", "indeterminate"}, "Ready for Release": {"10003", "done"},
	"Released": {"10004", "done"}, "Done": {"10005", "done"},
}

var fixtureMapping = collector.Mapping{Site: "fx", Version: 1,
	Fields: collector.FieldIDs{StoryPoints: "customfield_10016", Sprint: "customfield_10020", BusinessValue: "customfield_10030", EpicLink: "customfield_10014",
		Rank: "customfield_10019", TimeCriticality: "customfield_10031", RiskReduction: "customfield_10032", JobSize: "customfield_10033",
		Flagged: "customfield_10021"}}

func init() {
	fixtureMapping.StatusCategory = map[string]string{}
	for _, s := range fixtureStatuses {
		fixtureMapping.StatusCategory[s.id] = s.cat
	}
}

// fixtureIssue is an issue being read from a fixture file.
type fixtureIssue struct {
	key, typ, created, status string
	attrs                     map[string]string
	histories                 []string
}

type fixture struct {
	now    time.Time
	issues []*fixtureIssue
	evals  []fixtureEval
	rows   struct {
		projects []evident.Project
		boards   []evident.Board
		columns  []evident.BoardConfig
		sprints  []evident.Sprint
		releases []evident.Release
		surveys  []evident.SatisfactionResponse
		values   []evident.ValueRecord
		snaps    []metrics.BacklogSnapshot
	}
}

type fixtureEval struct {
	line   int
	path   string
	status int
	expect []fixtureExpect
}

type fixtureExpect struct {
	line  int
	path  string
	value string
}

var tokenRe = regexp.MustCompile(`[^\s"]*"[^"]*"|\S+`)

func fields(s string) []string {
	toks := tokenRe.FindAllString(s, -1)
	for i, t := range toks {
		if strings.HasPrefix(t, `"`) {
			toks[i] = strings.Trim(t, `"`)
		}
	}
	return toks
}

func attrs(toks []string) map[string]string {
	m := map[string]string{}
	for _, t := range toks {
		if k, v, ok := strings.Cut(t, "="); ok {
			m[k] = strings.Trim(v, `"`)
		}
	}
	return m
}

func mustTime(t *testing.T, line int, s string) time.Time {
	t.Helper()
	for _, l := range []string{time.RFC3339, "2006-01-02"} {
		if v, err := time.Parse(l, s); err == nil {
			return v.UTC()
		}
	}
	t.Fatalf("line %d: %q is not a time", line, s)
	return time.Time{}
}

func jiraTime(t time.Time) string { return t.Format("2006-01-02T15:04:05.000-0700") }

func parseFixture(t *testing.T, path string) *fixture {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{}
	var cur *fixtureIssue
	var ev *fixtureEval
	hid := 100
	for n, raw := range strings.Split(string(b), "\n") {
		line := n + 1
		text := strings.TrimSpace(raw)
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		indented := raw != strings.TrimLeft(raw, " \t")
		toks := fields(text)
		if indented && ev != nil {
			if toks[0] == "status" && len(toks) == 2 && !strings.Contains(toks[1], ".") {
				ev.status, _ = strconv.Atoi(toks[1])
				continue
			}
			ev.expect = append(ev.expect, fixtureExpect{line: line, path: toks[0], value: strings.TrimSpace(strings.TrimPrefix(text, toks[0]))})
			continue
		}
		if indented && cur != nil {
			hid++
			at := jiraTime(mustTime(t, line, toks[1]))
			switch toks[0] {
			case "status": // status TIME FROM > TO
				from, to, ok := strings.Cut(strings.Join(toks[2:], " "), " > ")
				fs, fok := fixtureStatuses[strings.TrimSpace(from)]
				ts, tok := fixtureStatuses[strings.TrimSpace(to)]
				if !ok || !fok || !tok {
					t.Fatalf("%s:%d: status change %q: want FROM > TO with known statuses", path, line, text)
				}
				cur.histories = append(cur.histories, fmt.Sprintf(`{"id":"%d","created":%q,"items":[{"field":"status","fieldtype":"jira","fieldId":"status","from":%q,"fromString":%q,"to":%q,"toString":%q}]}`,
					hid, at, fs.id, strings.TrimSpace(from), ts.id, strings.TrimSpace(to)))
				cur.status = strings.TrimSpace(to)
			case "sprint": // sprint TIME "FROM" > "TO"
				if len(toks) != 5 || toks[3] != ">" {
					t.Fatalf("%s:%d: want sprint TIME \"ids\" > \"ids\"", path, line)
				}
				cur.histories = append(cur.histories, fmt.Sprintf(`{"id":"%d","created":%q,"items":[{"field":"Sprint","fieldtype":"custom","fieldId":"customfield_10020","from":%q,"fromString":"","to":%q,"toString":""}]}`,
					hid, at, toks[2], toks[4]))
			case "flag": // flag TIME on|off: Jira's Flagged field set or cleared
				item := `"from":null,"fromString":null,"to":"[10019]","toString":"Impediment"`
				if toks[2] == "off" {
					item = `"from":"[10019]","fromString":"Impediment","to":null,"toString":null`
				}
				cur.histories = append(cur.histories, fmt.Sprintf(`{"id":"%d","created":%q,"items":[{"field":"Flagged","fieldtype":"custom","fieldId":"customfield_10021",%s}]}`, hid, at, item))
			case "link": // link TIME KEY: linked as blocked by KEY
				cur.histories = append(cur.histories, fmt.Sprintf(`{"id":"%d","created":%q,"items":[{"field":"Link","fieldtype":"jira","from":null,"fromString":null,"to":%q,"toString":"This issue is blocked by %s"}]}`,
					hid, at, toks[2], toks[2]))
			case "touch": // touch TIME: an edit that changes no status (a label)
				cur.histories = append(cur.histories, fmt.Sprintf(`{"id":"%d","created":%q,"items":[{"field":"labels","fieldtype":"jira","fieldId":"labels","from":null,"fromString":"","to":null,"toString":"touched"}]}`, hid, at))
			case "points": // points TIME FROM > TO
				cur.histories = append(cur.histories, fmt.Sprintf(`{"id":"%d","created":%q,"items":[{"field":"Story point estimate","fieldtype":"custom","fieldId":"customfield_10016","from":null,"fromString":%q,"to":null,"toString":%q}]}`,
					hid, at, toks[2], toks[4]))
			default:
				t.Fatalf("%s:%d: unknown issue line %q", path, line, toks[0])
			}
			continue
		}
		cur, ev = nil, nil
		switch toks[0] {
		case "now":
			fx.now = mustTime(t, line, toks[1])
		case "project":
			fx.rows.projects = append(fx.rows.projects, evident.Project{Site: "fx", ProjectID: uint64(len(fx.rows.projects) + 1), Key: toks[1], Name: toks[2], Version: 1})
		case "board":
			id, _ := strconv.ParseUint(toks[1], 10, 64)
			fx.rows.boards = append(fx.rows.boards, evident.Board{Site: "fx", BoardID: id, ProjectKey: toks[2], Type: toks[3], Name: toks[4], Version: 1})
		case "columns": // columns BOARD "NAME=Status,Status" …: the board's columns in order
			id, _ := strconv.ParseUint(toks[1], 10, 64)
			bc := evident.BoardConfig{Site: "fx", BoardID: id, Version: 1}
			for _, col := range toks[2:] {
				// NAME=Status,Status[/MIN/MAX], "-" for no limit
				limits := strings.Split(col, "/")
				col = limits[0]
				limit := func(k int) int32 {
					if k >= len(limits) || limits[k] == "-" {
						return -1
					}
					v, err := strconv.Atoi(limits[k])
					if err != nil {
						t.Fatalf("%s:%d: column limit %q", path, line, limits[k])
					}
					return int32(v)
				}
				name, list, ok := strings.Cut(col, "=")
				if !ok {
					t.Fatalf("%s:%d: column %q: want NAME=Status,Status", path, line, col)
				}
				var ids []string
				for _, st := range strings.Split(list, ",") {
					fs, ok := fixtureStatuses[st]
					if !ok {
						t.Fatalf("%s:%d: unknown status %q", path, line, st)
					}
					ids = append(ids, fs.id)
				}
				bc.ColumnNames, bc.ColumnStatuses = append(bc.ColumnNames, name), append(bc.ColumnStatuses, ids)
				bc.ColumnMin, bc.ColumnMax = append(bc.ColumnMin, limit(1)), append(bc.ColumnMax, limit(2))
			}
			fx.rows.columns = append(fx.rows.columns, bc)
		case "sprint":
			id, _ := strconv.ParseUint(toks[1], 10, 64)
			a := attrs(toks[2:])
			board, _ := strconv.ParseUint(a["board"], 10, 64)
			sp := evident.Sprint{Site: "fx", SprintID: id, BoardID: board, Name: a["name"], State: a["state"], Version: 1}
			for k, dst := range map[string]**time.Time{"start": &sp.StartAt, "end": &sp.EndAt, "complete": &sp.CompleteAt} {
				if v, ok := a[k]; ok {
					tm := mustTime(t, line, v)
					*dst = &tm
				}
			}
			fx.rows.sprints = append(fx.rows.sprints, sp)
		case "release": // release PROJECT NAME DATE released|unreleased
			d := mustTime(t, line, toks[3])
			fx.rows.releases = append(fx.rows.releases, evident.Release{Site: "fx", VersionID: uint64(len(fx.rows.releases) + 1), ProjectKey: toks[1], Name: toks[2],
				Released: map[bool]uint8{true: 1}[toks[4] == "released"], ReleaseDate: &d, Version: 1})
		case "survey": // survey TIME SCALE SCORE PRODUCT
			score, _ := strconv.Atoi(toks[3])
			fx.rows.surveys = append(fx.rows.surveys, evident.SatisfactionResponse{ResponseID: fmt.Sprintf("r%d", line), RespondedAt: mustTime(t, line, toks[1]),
				Scale: toks[2], Score: int16(score), Product: toks[4], Version: 1})
		case "value": // value PRODUCT MEASURE START END VALUE UNIT
			v, _ := strconv.ParseFloat(toks[5], 64)
			fx.rows.values = append(fx.rows.values, evident.ValueRecord{Product: toks[1], Measure: toks[2], PeriodStart: mustTime(t, line, toks[3]),
				PeriodEnd: mustTime(t, line, toks[4]), Value: v, Unit: toks[6], Version: 1})
		case "snapshot": // snapshot PROJECT DAY top_estimated=X top_detailed=Y open=N
			a := attrs(toks[3:])
			snap := metrics.BacklogSnapshot{Site: "fx", Project: toks[1], TakenOn: mustTime(t, line, toks[2]), TopN: 20, Version: 1}
			for k, dst := range map[string]**float64{"top_estimated": &snap.TopEstimated, "top_detailed": &snap.TopDetailed} {
				if v, ok := a[k]; ok {
					f, _ := strconv.ParseFloat(v, 64)
					*dst = &f
				}
			}
			n, _ := strconv.Atoi(a["open"])
			snap.OpenItems = uint32(n)
			fx.rows.snaps = append(fx.rows.snaps, snap)
		case "issue": // issue KEY TYPE created=TIME [attr=value …]
			a := attrs(toks[3:])
			cur = &fixtureIssue{key: toks[1], typ: toks[2], created: a["created"], status: "Backlog", attrs: a}
			if s, ok := a["status"]; ok {
				cur.status = s
			}
			fx.issues = append(fx.issues, cur)
		case "eval":
			fx.evals = append(fx.evals, fixtureEval{line: line, path: toks[1], status: 200})
			ev = &fx.evals[len(fx.evals)-1]
		default:
			t.Fatalf("%s:%d: unknown line %q", path, line, toks[0])
		}
	}
	return fx
}

func (fx *fixture) load(t *testing.T, st *schema.Store) {
	ctx := context.Background()
	var extracted []collector.Rows
	for i, is := range fx.issues {
		created := mustTime(t, 0, is.created)
		st := fixtureStatuses[is.status]
		proj, _, _ := strings.Cut(is.key, "-")
		if p := is.attrs["project"]; p != "" {
			proj = p // a key that no longer names its project (moved, renamed)
		}
		f := map[string]any{"summary": is.attrs["summary"], "issuetype": map[string]any{"name": is.typ, "subtask": is.typ == "Sub-task"}, "project": map[string]string{"key": proj},
			"created": jiraTime(created), "updated": jiraTime(created),
			"status": map[string]any{"id": st.id, "name": is.status, "statusCategory": map[string]string{"key": st.cat}}}
		if f["summary"] == "" {
			f["summary"] = "Issue " + is.key
		}
		if v, ok := is.attrs["points"]; ok {
			f["customfield_10016"], _ = strconv.ParseFloat(v, 64)
		}
		if v, ok := is.attrs["value"]; ok {
			f["customfield_10030"], _ = strconv.ParseFloat(v, 64)
		}
		for attr, field := range map[string]string{"tc": "customfield_10031", "rr": "customfield_10032", "size": "customfield_10033"} {
			if v, ok := is.attrs[attr]; ok {
				f[field], _ = strconv.ParseFloat(v, 64)
			}
		}
		if v, ok := is.attrs["fix"]; ok {
			f["fixVersions"] = []map[string]string{{"name": v}}
		}
		if v, ok := is.attrs["rank"]; ok {
			f["customfield_10019"] = v
		}
		if v, ok := is.attrs["desc"]; ok {
			f["description"] = strings.ReplaceAll(v, "|", "\n")
		}
		if v, ok := is.attrs["priority"]; ok {
			f["priority"] = map[string]string{"name": v}
		}
		if v, ok := is.attrs["updated"]; ok {
			f["updated"] = jiraTime(mustTime(t, 0, v))
		}
		if v, ok := is.attrs["labels"]; ok {
			f["labels"] = strings.Split(v, ",")
		}
		if v, ok := is.attrs["resolved"]; ok {
			f["resolutiondate"] = jiraTime(mustTime(t, 0, v))
		}
		if v, ok := is.attrs["parent"]; ok { // the story a sub-task splits
			f["parent"] = map[string]any{"key": v, "fields": map[string]any{"issuetype": map[string]any{"name": "Story", "hierarchyLevel": 0}}}
		}
		if is.attrs["flagged"] == "1" {
			f["customfield_10021"] = []map[string]string{{"value": "Impediment", "id": "10019"}}
		}
		if v, ok := is.attrs["blocked_by"]; ok { // KEY[:done],…: "is blocked by" links
			var links []any
			for _, b := range strings.Split(v, ",") {
				key, state, _ := strings.Cut(b, ":")
				cat := "new"
				if state == "done" {
					cat = "done"
				}
				links = append(links, map[string]any{"type": map[string]string{"name": "Blocks", "inward": "is blocked by", "outward": "blocks"},
					"inwardIssue": map[string]any{"key": key, "fields": map[string]any{"status": map[string]any{"statusCategory": map[string]string{"key": cat}}}}},
					// the other direction, which must not count
					map[string]any{"type": map[string]string{"name": "Blocks", "inward": "is blocked by", "outward": "blocks"},
						"outwardIssue": map[string]any{"key": key + "0"}})
			}
			f["issuelinks"] = links
		}
		if v, ok := is.attrs["sprints"]; ok {
			var list []map[string]int
			for _, id := range strings.Split(v, ",") {
				n, _ := strconv.Atoi(id)
				list = append(list, map[string]int{"id": n})
			}
			f["customfield_10020"] = list
		}
		fj, _ := json.Marshal(f)
		raw := fmt.Sprintf(`{"id":"%d","key":%q,"fields":%s,"changelog":{"startAt":0,"maxResults":%d,"total":%d,"histories":[%s]}}`,
			1000+i, is.key, fj, len(is.histories), len(is.histories), strings.Join(is.histories, ","))
		rows, err := collector.Extract([]byte(raw), fixtureMapping)
		if err != nil || len(rows.Findings) > 0 {
			t.Fatalf("fixture issue %s: %v %v", is.key, err, rows.Findings)
		}
		extracted = append(extracted, rows)
	}
	check := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	check(collector.WriteRows(ctx, st, extracted))
	check(st.InsertProjects(ctx, fx.rows.projects))
	check(st.InsertBoards(ctx, fx.rows.boards))
	check(st.InsertBoardConfigs(ctx, fx.rows.columns))
	var statuses []evident.Status
	for name, fs := range fixtureStatuses {
		statuses = append(statuses, evident.Status{Site: "fx", StatusID: fs.id, Name: name, Category: fs.cat, Version: 1})
	}
	check(st.InsertStatuses(ctx, statuses))
	check(st.InsertSprints(ctx, fx.rows.sprints))
	check(st.InsertReleases(ctx, fx.rows.releases))
	check(st.InsertSatisfaction(ctx, fx.rows.surveys))
	check(st.InsertValueRecords(ctx, fx.rows.values))
	check(schema.InsertInto(ctx, st, "backlog_snapshots", fx.rows.snaps))
	_, err := st.BuildReadModel(ctx)
	check(err)
}

// lookup walks a path like a.b[2].c through decoded JSON.
func lookup(v any, path string) (any, error) {
	if path == "." {
		return v, nil
	}
	for _, part := range strings.Split(path, ".") {
		name, idx, hasIdx := strings.Cut(part, "[")
		if name != "" {
			m, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s: not an object", name)
			}
			if v, ok = m[name]; !ok {
				return nil, fmt.Errorf("%s: no such key", name)
			}
		}
		for hasIdx {
			var rest string
			idx, rest, _ = strings.Cut(idx, "]")
			i, _ := strconv.Atoi(idx)
			arr, ok := v.([]any)
			if !ok || i >= len(arr) {
				return nil, fmt.Errorf("[%d]: out of range", i)
			}
			v = arr[i]
			_, idx, hasIdx = strings.Cut(rest, "[")
		}
	}
	return v, nil
}

func matches(got any, want string) bool {
	switch {
	case want == "null":
		return got == nil
	case want == "true" || want == "false":
		b, ok := got.(bool)
		return ok && strconv.FormatBool(b) == want
	case strings.HasPrefix(want, "len "):
		n, _ := strconv.Atoi(strings.TrimPrefix(want, "len "))
		switch g := got.(type) {
		case []any:
			return len(g) == n
		case map[string]any:
			return len(g) == n
		}
		return false
	}
	if strings.HasPrefix(want, "[") { // a JSON array, compared whole
		var w any
		if err := json.Unmarshal([]byte(want), &w); err != nil {
			return false
		}
		return reflect.DeepEqual(got, w)
	}
	if f, err := strconv.ParseFloat(want, 64); err == nil {
		g, ok := got.(float64)
		return ok && math.Abs(g-f) < 1e-3
	}
	if u, err := strconv.Unquote(want); err == nil {
		want = u
	}
	s, ok := got.(string)
	return ok && s == want
}

func TestMetricFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.test")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			fx := parseFixture(t, file)
			st := chtest.Store(t)
			fx.load(t, st)
			ms := metrics.New(st)
			ms.Now = func() time.Time { return fx.now }
			srv := dashboard.New(dashboard.Config{Measures: ms, Pinger: st, Now: ms.Now, Log: slog.New(slog.NewTextHandler(os.Stderr, nil))})
			for _, ev := range fx.evals {
				resp, err := srv.App.Test(httptest.NewRequest("GET", ev.path, nil), 30000)
				if err != nil {
					t.Fatalf("line %d: %v", ev.line, err)
				}
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != ev.status {
					t.Errorf("line %d: GET %s: status %d, want %d: %s", ev.line, ev.path, resp.StatusCode, ev.status, body)
					continue
				}
				var got any
				if err := json.Unmarshal(body, &got); err != nil {
					t.Fatalf("line %d: %v: %s", ev.line, err, body)
				}
				for _, ex := range ev.expect {
					v, err := lookup(got, ex.path)
					if err != nil {
						t.Errorf("line %d: %s: %v", ex.line, ex.path, err)
						continue
					}
					if !matches(v, ex.value) {
						j, _ := json.Marshal(v)
						t.Errorf("line %d: %s = %s, want %s", ex.line, ex.path, j, ex.value)
					}
				}
			}
		})
	}
}
