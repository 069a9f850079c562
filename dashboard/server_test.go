package dashboard_test

import (
	"context"
	_ "embed"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/dashboard"
	"github.com/evident-ebm/evident/internal/jirasim"
	"github.com/evident-ebm/evident/metrics"
)

func do(t *testing.T, app *fiber.App, method, path, token, body string, header ...string) (int, string, http.Header) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := app.Test(req, 60000)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

var pagePaths = []string{"/", "/flow", "/standup", "/sprints", "/value", "/forecast", "/forecast?items=40", "/forecast?until=2027-03-01", "/health", "/backlog"}

var filterSets = []string{"", "project=SHOP", "project=APP&type=Story", "period=week", "period=quarter", "from=2025-06-01&to=2025-09-01",
	"project=OPS&category=incident", "label=security", "board=1"}

func TestEveryPageRendersUnderEveryFilter(t *testing.T) {
	e := sharedEnv(t)
	app := e.server(nil, nil).App
	for _, p := range pagePaths {
		for _, f := range filterSets {
			path := p
			if f != "" {
				sep := "?"
				if strings.Contains(p, "?") {
					sep = "&"
				}
				path += sep + f
			}
			status, body, h := do(t, app, "GET", path, "", "")
			if status != 200 {
				t.Errorf("GET %s: %d\n%.400s", path, status, body)
				continue
			}
			if !strings.Contains(h.Get("Content-Type"), "text/html") || !strings.Contains(body, "</html>") || strings.Contains(body, "Internal error") {
				t.Errorf("GET %s: not a whole page", path)
			}
		}
	}
	// The pages hold the charts they promise.
	for path, ids := range map[string][]string{
		"/flow":                      {"cycle_scatter", "lead_histogram", "throughput", "cfd", "aging", "time_in_status"},
		"/sprints?board=1":           {"velocity", "say_do"},
		"/value?project=SHOP":        {"value_delivered", "satisfaction", "value_effort"},
		"/forecast?items=30":         {"forecast"},
		"/?project=SHOP&period=week": {"spark_SHOP_current_value", "spark_SHOP_time_to_market"},
		"/backlog?project=APP":       {"backlog_age", "backlog_value_effort", "rank_wsjf", "backlog_emergent"},
	} {
		_, body, _ := do(t, app, "GET", path, "", "")
		for _, id := range ids {
			if !strings.Contains(body, `id="`+id+`"`) || !strings.Contains(body, "echarts.init(document.getElementById('"+id+"')") {
				t.Errorf("%s lacks a drawn chart %s", path, id)
			}
		}
	}
}

func TestRetrospectivePage(t *testing.T) {
	e := sharedEnv(t)
	app := e.server(nil, nil).App
	sprints, err := e.ms.Sprints(context.Background(), "", 1)
	if err != nil || len(sprints) < 7 {
		t.Fatalf("%d sprints, %v", len(sprints), err)
	}
	sp := sprints[len(sprints)-3]
	// A sprint id is unique in a site: the board is found without ?board=.
	if status, body, _ := do(t, app, "GET", fmt.Sprintf("/sprints/%d", sp.ID), "", ""); status != 200 || !strings.Contains(body, "Retrospective: "+sp.Name) {
		t.Fatalf("retro page without ?board=: %d\n%.300s", status, body)
	}
	if status, _, _ := do(t, app, "GET", "/sprints/999999", "", ""); status != 404 {
		t.Errorf("unknown sprint without ?board=: %d, want 404", status)
	}
	status, body, _ := do(t, app, "GET", fmt.Sprintf("/sprints/%d?board=1", sp.ID), "", "")
	if status != 200 || !strings.Contains(body, "Retrospective: "+sp.Name) || !strings.Contains(body, "Slowest completed items") ||
		!strings.Contains(body, "aged past the 85th percentile") || !strings.Contains(body, `id="velocity"`) {
		t.Fatalf("retro page: %d\n%.500s", status, body)
	}
	// Cycle times to a tenth of a day, not 31.429 or 20.8171.
	slowest, _, _ := strings.Cut(body[strings.Index(body, "Slowest completed items"):], "</table>")
	if m := regexp.MustCompile(`<td>\d+\.\d{2,}</td>`).FindString(slowest); m != "" {
		t.Errorf("retro page prints %s", m)
	}
	for _, k := range sp.Committed.Keys[:min(3, len(sp.Committed.Keys))] {
		if !strings.Contains(body, k) {
			t.Errorf("retro page does not list committed %s", k)
		}
	}
}

func TestPagesOnEmptyData(t *testing.T) {
	st := openDB(t, "dashboard_empty")
	ms := metrics.New(st)
	app := dashboard.New(dashboard.Config{Measures: ms, Pinger: st}).App
	for _, p := range append(pagePaths, "/sprints?board=1") {
		status, body, _ := do(t, app, "GET", p, "", "")
		wantStatus := 200
		if p == "/sprints?board=1" {
			wantStatus = 400 // no such board
		}
		if status != wantStatus {
			t.Errorf("GET %s on an empty database: %d\n%.300s", p, status, body)
		}
	}
	_, body, _ := do(t, app, "GET", "/", "", "")
	if !strings.Contains(body, "No product has been synced yet") {
		t.Error("empty overview does not say why it is empty")
	}
	_, body, _ = do(t, app, "GET", "/flow", "", "")
	if !strings.Contains(body, "No issue was started and done in this period") {
		t.Error("empty flow page does not say so")
	}
	_, body, _ = do(t, app, "GET", "/api/v1/flow", "", "")
	if !strings.Contains(body, `"lead_time_days":{"n":0,"mean":null,"p50":null`) {
		t.Errorf("empty flow API: %s", body)
	}
}

func TestBadParametersShowAClearMessage(t *testing.T) {
	e := sharedEnv(t)
	app := e.server(nil, nil).App
	for path, want := range map[string]string{
		"/flow?from=2024-99-01":               "from: &#34;2024-99-01&#34; is not a date",
		"/flow?project=NOPE":                  "project: unknown project &#34;NOPE&#34;",
		"/value?period=fortnight":             "period: &#34;fortnight&#34; is not week, month or quarter",
		"/flow?from=2025-02-01&to=2025-01-01": "is not before to",
		"/sprints/abc?board=1":                "sprint: &#34;abc&#34; is not a sprint id",
		"/forecast?items=-3":                  "items: &#34;-3&#34; must be a whole number",
		"/forecast?until=1999-01-01":          "must be after today",
		"/flow?board=x":                       "board: &#34;x&#34; is not a positive whole number",
	} {
		status, body, _ := do(t, app, "GET", path, "", "")
		if status != 400 || !strings.Contains(body, want) || !strings.Contains(body, `class="error"`) {
			t.Errorf("GET %s: %d, want 400 with %q on the page\n%.300s", path, status, want, body)
		}
	}
	if status, body, _ := do(t, app, "GET", "/sprints/999999?board=1", "", ""); status != 404 || !strings.Contains(body, "is not a started sprint of board 1") {
		t.Errorf("unknown sprint: %d", status)
	}
	if status, _, _ := do(t, app, "GET", "/nope", "", ""); status != 404 {
		t.Errorf("unknown page: %d", status)
	}
}

func TestJiraTextIsEscapedEverywhere(t *testing.T) {
	e := sharedEnv(t)
	app := e.server(nil, nil).App
	is := e.issueWith(t, "<script>alert(1)</script>")
	raw := "<script>alert(1)</script>"
	from := is.Resolution.AddDate(0, 0, -3).Format("2006-01-02")
	to := is.Resolution.AddDate(0, 0, 3).Format("2006-01-02")
	checked := 0
	for _, path := range []string{"/flow?from=" + from + "&to=" + to, "/flow?project=" + is.Project.Key + "&from=" + from + "&to=" + to,
		"/value?from=" + from + "&to=" + to} {
		_, body, _ := do(t, app, "GET", path, "", "")
		if strings.Contains(body, raw) {
			t.Errorf("%s carries the summary's script unescaped", path)
		}
		if strings.Contains(body, is.Key) {
			checked++
			if !strings.Contains(body, `\u003cscript>alert(1)\u003c/script>`) && !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
				t.Errorf("%s shows %s without its summary as text", path, is.Key)
			}
		}
	}
	if checked == 0 {
		t.Fatalf("no page showed %s (done %v)", is.Key, is.Resolution)
	}
	_, body, _ := do(t, app, "GET", "/api/v1/issues?project="+is.Project.Key+"&limit=100000&format=csv", "", "")
	if !strings.Contains(body, raw) {
		t.Error("CSV lost the summary's text")
	}
}

func TestCSVNeutralisesFormulas(t *testing.T) {
	e := sharedEnv(t)
	app := e.server(nil, nil).App
	is := e.issueWith(t, "=HYPERLINK(")
	_, body, h := do(t, app, "GET", "/api/v1/issues?project="+is.Project.Key+"&limit=100000", "", "", "Accept", "text/csv")
	if !strings.HasPrefix(h.Get("Content-Type"), "text/csv") {
		t.Fatalf("Accept: text/csv gave %s", h.Get("Content-Type"))
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range rows[1:] {
		for _, cell := range r {
			if cell != "" && strings.ContainsRune("=+@", rune(cell[0])) {
				t.Fatalf("cell %q starts a formula", cell)
			}
		}
		if r[0] == is.Key {
			found = strings.HasPrefix(r[3], "'=HYPERLINK(")
		}
	}
	if !found {
		t.Fatalf("%s's summary not neutralised", is.Key)
	}
	// A chart's data as CSV.
	status, body, _ := do(t, app, "GET", "/flow?csv=throughput", "", "")
	if status != 200 || !strings.HasPrefix(body, "week,done,partial\n") {
		t.Fatalf("chart CSV: %d %q", status, body[:min(40, len(body))])
	}
}

func TestSecurityHeadersAndHealth(t *testing.T) {
	e := sharedEnv(t)
	app := e.server(nil, nil).App
	_, _, h := do(t, app, "GET", "/flow", "", "")
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	if h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers %v", h)
	}
	if status, body, _ := do(t, app, "GET", "/healthz", "", ""); status != 200 || body != "ok" {
		t.Errorf("healthz %d %q", status, body)
	}
	if status, _, _ := do(t, app, "GET", "/readyz", "", ""); status != 200 {
		t.Errorf("readyz %d", status)
	}
	do(t, app, "GET", "/api/v1/flow", "", "")
	if status, body, _ := do(t, app, "GET", "/metrics", "", ""); status != 200 || !strings.Contains(body, `evident_http_requests_total{method="GET",route="/api/v1/flow",status="200"}`) {
		t.Errorf("metrics %d\n%s", status, body)
	}
	status, body, _ := do(t, app, "GET", "/api/v1/health/data", "", "")
	var hd metrics.DataHealth
	json.Unmarshal([]byte(body), &hd)
	if status != 200 || len(hd.Sites) != 1 || hd.Sites[0].Issues != 1500 || hd.Sites[0].LastStatus != "ok" || hd.Sites[0].LastSync == nil {
		t.Errorf("data health: %d %+v", status, hd)
	}
}

func TestReadyzWhenTheDatabaseIsAway(t *testing.T) {
	st := openDB(t, "dashboard_gone")
	ms := metrics.New(st)
	srv := dashboard.New(dashboard.Config{Measures: ms, Pinger: st})
	st.Close()
	if status, _, _ := do(t, srv.App, "GET", "/readyz", "", ""); status != 503 {
		t.Errorf("readyz with a closed database: %d", status)
	}
	status, body, _ := do(t, srv.App, "GET", "/api/v1/flow", "", "")
	if status != 503 || !strings.Contains(body, "unavailable") {
		t.Errorf("API with a closed database: %d %s", status, body)
	}
	status, body, _ = do(t, srv.App, "GET", "/flow", "", "")
	if status != 503 || !strings.Contains(body, "The database is not answering") {
		t.Errorf("page with a closed database: %d %.300s", status, body)
	}
}

// Every registered route, walked with no token, a viewer token and an
// admin token: viewers read, admins write, nobody else gets in.
func TestEveryRouteEnforcesRoles(t *testing.T) {
	e := sharedEnv(t)
	// Every route with a wrong token, from one address: more than the
	// default limit of wrong tokens a minute.
	srv := dashboard.New(dashboard.Config{Measures: e.ms, Pinger: e.store, Inputs: e.in, Now: e.ms.Now,
		ViewerTokens: []string{"viewer-secret"}, AdminTokens: []string{"admin-secret"}, WrongTokenLimit: 10000})
	// Jira's webhooks carry a signature, not a token (TestWebhookRoute…).
	public := map[string]bool{"/healthz": true, "/readyz": true, "/login": true, "/logout": true, "/assets/*": true,
		"/api/v1/jira/webhook": true, "/api/v1/jira/webhook/:site": true}
	seen := map[string]bool{}
	for _, r := range srv.App.GetRoutes(true) {
		if r.Method == "HEAD" || r.Method == "TRACE" || r.Method == "OPTIONS" || r.Method == "CONNECT" || r.Method == "PATCH" {
			continue
		}
		key := r.Method + " " + r.Path
		if seen[key] {
			continue
		}
		seen[key] = true
		path := strings.NewReplacer(":id", "1", "*", "evident.css").Replace(r.Path)
		if public[r.Path] {
			continue
		}
		body := ""
		if r.Method != "GET" {
			body = "{}"
		}
		status, _, h := do(t, srv.App, r.Method, path, "", body, "Content-Type", "application/json")
		if r.Method == "GET" && !strings.HasPrefix(r.Path, "/api/") && r.Path != "/metrics" {
			if status != 303 || !strings.HasPrefix(h.Get("Location"), "/login") {
				t.Errorf("%s without a token: %d, want a redirect to /login", key, status)
			}
		} else if status != 401 {
			t.Errorf("%s without a token: %d, want 401", key, status)
		}
		status, _, _ = do(t, srv.App, r.Method, path, "wrong-token", body, "Content-Type", "application/json")
		if status != 401 && status != 303 {
			t.Errorf("%s with a wrong token: %d", key, status)
		}
		status, _, _ = do(t, srv.App, r.Method, path, "viewer-secret", body, "Content-Type", "application/json")
		if r.Method == "GET" {
			if status == 401 || status == 403 {
				t.Errorf("%s refused a viewer: %d", key, status)
			}
		} else if status != 403 {
			t.Errorf("%s let a viewer write: %d", key, status)
		}
		status, _, _ = do(t, srv.App, r.Method, path, "admin-secret", body, "Content-Type", "application/json")
		if status == 401 || status == 403 {
			t.Errorf("%s refused an admin: %d", key, status)
		}
	}
	if len(seen) < 25 {
		t.Fatalf("walked only %d routes", len(seen))
	}
}

func TestLoginSetsACookieAndNeverRedirectsAway(t *testing.T) {
	e := sharedEnv(t)
	srv := e.server([]string{"viewer-secret"}, nil)
	status, _, h := do(t, srv.App, "POST", "/login", "", "token=viewer-secret&next=//evil.example/x", "Content-Type", "application/x-www-form-urlencoded")
	if status != 303 || h.Get("Location") != "/" {
		t.Fatalf("login: %d to %q", status, h.Get("Location"))
	}
	cookie := h.Get("Set-Cookie")
	if !strings.Contains(cookie, "evident_token=viewer-secret") || !strings.Contains(strings.ToLower(cookie), "httponly") || !strings.Contains(strings.ToLower(cookie), "samesite=strict") {
		t.Fatalf("cookie %q", cookie)
	}
	if status, _, h := do(t, srv.App, "POST", "/login", "", "token=viewer-secret&next=/flow%3Fproject%3DSHOP", "Content-Type", "application/x-www-form-urlencoded"); status != 303 || h.Get("Location") != "/flow?project=SHOP" {
		t.Fatalf("login with a local next: %d %q", status, h.Get("Location"))
	}
	if status, body, _ := do(t, srv.App, "POST", "/login", "", "token=nope", "Content-Type", "application/x-www-form-urlencoded"); status != 401 || !strings.Contains(body, "That token is not valid") {
		t.Fatalf("bad login: %d", status)
	}
	req := httptest.NewRequest("GET", "/flow", nil)
	req.AddCookie(&http.Cookie{Name: "evident_token", Value: "viewer-secret"})
	resp, _ := srv.App.Test(req, 60000)
	if resp.StatusCode != 200 {
		t.Fatalf("cookie session: %d", resp.StatusCode)
	}
}

func TestGoalsAndExperimentsAPI(t *testing.T) {
	e := sharedEnv(t)
	app := e.server([]string{"v"}, []string{"a"}).App
	status, body, _ := do(t, app, "POST", "/api/v1/goals", "a", `{"level":"strategic","title":"Happy app users","product":"APP","measure":"csat","baseline":40,"target":80,"target_date":"2026-12-31"}`, "Content-Type", "application/json")
	if status != 201 {
		t.Fatalf("create goal: %d %s", status, body)
	}
	var g struct{ ID string }
	json.Unmarshal([]byte(body), &g)
	status, body, _ = do(t, app, "GET", "/api/v1/goals?product=APP&project=APP&from=2025-01-05&to=2026-01-05", "v", "")
	var list struct {
		Goals []metrics.GoalProgress `json:"goals"`
	}
	json.Unmarshal([]byte(body), &list)
	if status != 200 || len(list.Goals) != 1 || list.Goals[0].Current == nil || list.Goals[0].Progress == nil {
		t.Fatalf("goals with progress: %d %s", status, body)
	}
	gp := list.Goals[0]
	if want := (*gp.Current - 40) / 40; *gp.Progress < want-0.001 || *gp.Progress > want+0.001 {
		t.Fatalf("progress %v, want (current %v − 40)/(80 − 40)", *gp.Progress, *gp.Current)
	}
	for body, want := range map[string]string{
		`{"level":"strategic","title":"x","measure":"csat","baseline":1,"target":2,"target_date":"31.12.2026"}`:                `target_date: \"31.12.2026\" is not a date`,
		`{"level":"strategic","title":"x","measure":"csat","baseline":"one","target":2,"target_date":"2026-12-31"}`:            "baseline: want float64",
		`{"level":"strategic","title":"x","measure":"csat","baseline":1,"target":2,"target_date":"2026-12-31","colour":"red"}`: `unknown field \"colour\"`,
		`{"id":"x","level":"strategic","title":"x","measure":"csat","baseline":1,"target":2,"target_date":"2026-12-31"}`:       "POST creates a goal",
	} {
		status, got, _ := do(t, app, "POST", "/api/v1/goals", "a", body, "Content-Type", "application/json")
		if status != 400 || !strings.Contains(got, want) {
			t.Errorf("POST %s: %d %s, want 400 with %q", body, status, got, want)
		}
	}
	// A goal is measured on its own product and measure: the same whatever
	// the request filters, and equal to the measure over the goal window.
	window := metrics.Filter{Project: "APP", From: testNow.AddDate(0, 0, 1-metrics.GoalWindowDays), To: testNow.AddDate(0, 0, 1)}
	own, err := e.ms.EBM(context.Background(), window, "APP", metrics.Month)
	if err != nil {
		t.Fatal(err)
	}
	csat, _ := own.Measure("csat")
	if csat.Value == nil || *gp.Current != *csat.Value || gp.N != csat.N || gp.MeasureName != csat.Name {
		t.Fatalf("goal's current %v (n=%d %q), the product's csat over the goal window %v (n=%d)", *gp.Current, gp.N, gp.MeasureName, csat.Value, csat.N)
	}
	for _, q := range []string{"/api/v1/goals?project=APP", "/api/v1/goals?product=APP&type=Bug", "/api/v1/ebm?project=APP&from=2025-10-01&to=2025-11-01&period=week",
		"/api/v1/ebm?project=APP", "/api/v1/ebm?product=APP&category=defect", "/api/v1/ebm?product=APP&project=SHOP"} {
		status, body, _ := do(t, app, "GET", q, "v", "")
		var got struct {
			Goals []metrics.GoalProgress `json:"goals"`
		}
		json.Unmarshal([]byte(body), &got)
		if status != 200 || len(got.Goals) != 1 || got.Goals[0].ID != g.ID || got.Goals[0].Progress == nil || *got.Goals[0].Progress != *gp.Progress {
			t.Errorf("GET %s: %d %s, want the APP goal at progress %v", q, status, body, *gp.Progress)
		}
	}
	if _, body, _ := do(t, app, "GET", "/api/v1/goals?project=SHOP", "v", ""); strings.Contains(body, g.ID) {
		t.Errorf("the goals of SHOP list APP's goal: %s", body)
	}
	// Only known measures; an empty KVA is the measure's; a computed
	// measure's KVA cannot be changed.
	for body, want := range map[string]string{
		`{"level":"strategic","title":"x","measure":"happiness","baseline":1,"target":2,"target_date":"2026-12-31"}`:                  `measure: \"happiness\" is not a measure Evident computes`,
		`{"level":"strategic","title":"x","measure":"nps","kva":"time_to_market","baseline":1,"target":2,"target_date":"2026-12-31"}`: "kva: nps is a measure of current_value, not time_to_market",
	} {
		status, got, _ := do(t, app, "POST", "/api/v1/goals", "a", body, "Content-Type", "application/json")
		if status != 400 || !strings.Contains(got, want) {
			t.Errorf("POST %s: %d %s, want 400 with %q", body, status, got, want)
		}
	}
	status, body, _ = do(t, app, "POST", "/api/v1/goals", "a", `{"level":"strategic","title":"Faster","product":"SHOP","measure":"lead_time_p85_days","baseline":30,"target":10,"target_date":"2026-12-31"}`, "Content-Type", "application/json")
	var lt evident.Goal
	json.Unmarshal([]byte(body), &lt)
	if status != 201 || lt.KVA != evident.KVATimeToMarket {
		t.Fatalf("goal without a KVA: %d %s, want kva time_to_market", status, body)
	}
	// PATCH changes what it names and keeps the rest.
	status, body, _ = do(t, app, "PATCH", "/api/v1/goals/"+lt.ID, "a", `{"target":12}`, "Content-Type", "application/json")
	var patched evident.Goal
	json.Unmarshal([]byte(body), &patched)
	if status != 200 || patched.Target != 12 || patched.Title != "Faster" || patched.Baseline != 30 || patched.Product != "SHOP" || !patched.CreatedAt.Equal(lt.CreatedAt) {
		t.Fatalf("PATCH target: %d %s", status, body)
	}
	for body, want := range map[string]string{`{"measure":"happiness"}`: "measure:", `{"target":30}`: "target: equals the baseline", `{"id":"other"}`: "id:", `{"colour":1}`: "colour"} {
		if status, got, _ := do(t, app, "PATCH", "/api/v1/goals/"+lt.ID, "a", body, "Content-Type", "application/json"); status != 400 || !strings.Contains(got, want) {
			t.Errorf("PATCH %s: %d %s, want 400 with %q", body, status, got, want)
		}
	}
	if status, _, _ := do(t, app, "PATCH", "/api/v1/goals/nope", "a", `{"target":1}`, "Content-Type", "application/json"); status != 404 {
		t.Errorf("PATCH an unknown goal: %d", status)
	}
	if status, _, _ := do(t, app, "PATCH", "/api/v1/goals/"+lt.ID, "v", `{"target":1}`, "Content-Type", "application/json"); status != 403 {
		t.Errorf("PATCH as a viewer: %d", status)
	}
	if status, _, _ := do(t, app, "DELETE", "/api/v1/goals/"+lt.ID, "a", ""); status != 204 {
		t.Fatalf("DELETE goal: %d", status)
	}
	status, body, _ = do(t, app, "PUT", "/api/v1/goals/"+g.ID, "a", `{"level":"strategic","title":"Delighted app users","product":"APP","measure":"csat","baseline":40,"target":90,"target_date":"2026-12-31"}`, "Content-Type", "application/json")
	if status != 200 || !strings.Contains(body, "Delighted") {
		t.Fatalf("PUT goal: %d %s", status, body)
	}
	if status, _, _ := do(t, app, "DELETE", "/api/v1/goals/"+g.ID, "a", ""); status != 204 {
		t.Fatalf("DELETE goal: %d", status)
	}
	if status, _, _ := do(t, app, "DELETE", "/api/v1/goals/"+g.ID, "a", ""); status != 404 {
		t.Fatalf("DELETE twice: %d", status)
	}
	// The demo experiment on SHOP: lead time p85 before and during, with a verdict.
	status, body, _ = do(t, app, "GET", "/api/v1/experiments?product=SHOP", "v", "")
	var exps struct {
		Experiments []metrics.ExperimentResult `json:"experiments"`
	}
	json.Unmarshal([]byte(body), &exps)
	if status != 200 || len(exps.Experiments) != 1 {
		t.Fatalf("experiments: %d %s", status, body)
	}
	x := exps.Experiments[0]
	if !x.Measured || x.Before == nil || x.After == nil || x.Change == nil || *x.Change != *x.After-*x.Before || x.BeforeN == 0 || x.Verdict == "" {
		t.Fatalf("experiment result %+v", x)
	}
	// It is measured from the data: the same as the EBM measure over its window.
	start, end := x.StartedAt, *x.EndedAt
	ebm, _ := e.ms.EBM(context.Background(), metrics.Filter{Project: "SHOP", From: start, To: end}, "SHOP", metrics.Month)
	if lt, _ := ebm.Measure("lead_time_p85_days"); lt.Value == nil || *lt.Value != *x.After {
		t.Fatalf("experiment's after %v differs from the measure over its window %v", *x.After, lt.Value)
	}
	// Signal or noise: the weeks since the start are judged against the
	// limits of the 20 weeks before it, recomputed here from the weekly
	// measure, and the verdict follows the signals, not the means.
	w := x.Weekly
	if w.Baseline == nil || w.AfterN == 0 || len(w.Points) != w.AfterN+20 {
		t.Fatalf("weekly evidence %+v", w)
	}
	weekly, _ := e.ms.EBM(context.Background(), metrics.Filter{Project: "SHOP", From: metrics.Week.Start(start).AddDate(0, 0, -140), To: end}, "SHOP", metrics.Week)
	m, _ := weekly.Measure("lead_time_p85_days")
	var vals []*float64
	for _, tp := range m.Trend {
		if !tp.Partial {
			vals = append(vals, tp.Value)
		}
	}
	sum, n := 0.0, 0
	for _, v := range vals[:20] {
		if v != nil {
			sum += *v
			n++
		}
	}
	if len(vals) != len(w.Points) || math.Abs(sum/float64(n)-w.Baseline.Centre) > 0.01 {
		t.Fatalf("baseline centre %v, the 20 weeks before the start average %v (%d of %d weeks)", w.Baseline.Centre, sum/float64(n), n, len(vals))
	}
	flagged := 0
	for _, p := range w.Points[20:] {
		if p.Value != nil && (*p.Value > w.Baseline.Upper || *p.Value < w.Baseline.Lower) && len(p.Rules) == 0 {
			t.Errorf("week %s at %v outside %v–%v but not flagged", p.Period, *p.Value, w.Baseline.Lower, w.Baseline.Upper)
		}
		if len(p.Rules) > 0 {
			flagged++
		}
	}
	if flagged != w.Signals || (w.Signals == 0) != strings.Contains(x.Verdict, "noise") {
		t.Fatalf("%d weeks flagged, signals %d, verdict %q", flagged, w.Signals, x.Verdict)
	}
	t.Logf("experiment %q: %d of %d weeks flagged %s; verdict %q", x.Title, w.Signals, w.AfterN, w.Direction, x.Verdict)
	_ = time.Second
}

func TestImportThroughTheAPI(t *testing.T) {
	st := openDB(t, "dashboard_import")
	e := sharedEnv(t)
	srv := dashboard.New(dashboard.Config{Measures: metrics.New(st), Pinger: st, Inputs: e.inputsFor(st), AdminTokens: []string{"a"}})
	file := "responded_at,scale,score,product,respondent,comment\n2025-12-01,nps,10,SHOP,x,\n2025-12-02,csat,9,SHOP,y,\n"
	status, body, _ := do(t, srv.App, "POST", "/api/v1/satisfaction", "a", file, "Content-Type", "text/csv")
	if status != 400 || !strings.Contains(body, "line 3, column score: 9 is out of range for csat (1 to 5)") {
		t.Fatalf("bad import: %d %s", status, body)
	}
	file = strings.Replace(file, "csat,9", "csat,4", 1)
	status, body, _ = do(t, srv.App, "POST", "/api/v1/satisfaction", "a", file, "Content-Type", "text/csv")
	if status != 201 || !strings.Contains(body, `"new":2`) {
		t.Fatalf("import: %d %s", status, body)
	}
	status, body, _ = do(t, srv.App, "POST", "/api/v1/value", "a", `[{"product":"SHOP","measure":"revenue","period_start":"2025-12-01","period_end":"2025-12-31","value":5,"unit":"EUR"}]`, "Content-Type", "application/json")
	if status != 201 || !strings.Contains(body, `"new":1`) {
		t.Fatalf("value import: %d %s", status, body)
	}
	if status, body, _ := do(t, srv.App, "POST", "/api/v1/value", "a", "x", "Content-Type", "application/xml"); status != 400 || !strings.Contains(body, "Content-Type") {
		t.Fatalf("xml import: %d %s", status, body)
	}
}

//go:embed openapi.json
var openapiDoc []byte

// The OpenAPI document is checked against real responses: every property
// it declares has the declared type, every required property is there.
func TestResponsesMatchTheOpenAPIDocument(t *testing.T) {
	e := sharedEnv(t)
	app := e.server(nil, nil).App
	var doc map[string]any
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		t.Fatal(err)
	}
	status, served, _ := do(t, app, "GET", "/api/v1/openapi.json", "", "")
	if status != 200 || served != string(openapiDoc) {
		t.Fatal("the served OpenAPI document differs from the embedded one")
	}
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	queries := map[string]string{
		"/api/v1/issues": "?project=SHOP&limit=20", "/api/v1/flow": "?project=SHOP&from=2025-06-01&to=2026-01-01", "/api/v1/cfd": "?from=2025-12-01&to=2026-01-01",
		"/api/v1/sprints": "?board=1", "/api/v1/releases": "?from=2025-01-01&to=2026-01-01", "/api/v1/quality": "?from=2025-01-01&to=2026-01-01",
		"/api/v1/value": "?project=SHOP&from=2025-01-01&to=2026-01-01", "/api/v1/satisfaction": "?project=SHOP&from=2025-01-01&to=2026-01-01",
		"/api/v1/ebm": "?project=SHOP&from=2025-01-01&to=2026-01-01", "/api/v1/signals": "?project=SHOP&from=2024-01-01&to=2026-01-01&split=2025-01-15", "/api/v1/forecast": "?items=25", "/api/v1/epics": "?project=SHOP", "/api/v1/standup": "?project=SHOP", "/api/v1/impediments": "?project=SHOP&from=2025-06-01&to=2026-01-01", "/api/v1/columns": "?board=3&from=2025-12-01&to=2026-01-05", "/api/v1/forecast/scores": "?project=SHOP", "/api/v1/health/data": "", "/api/v1/catalog": "", "/api/v1/version": "",
		"/api/v1/goals": "?product=SHOP", "/api/v1/annotations": "?product=SHOP", "/api/v1/experiments": "?product=SHOP", "/api/v1/backlog": "?project=SHOP", "/api/v1/time-in-status": "?project=SHOP&from=2025-06-01&to=2026-01-01",
	}
	paths := doc["paths"].(map[string]any)
	checked := 0
	for path, item := range paths {
		get, ok := item.(map[string]any)["get"].(map[string]any)
		if !ok || strings.Contains(path, "{") {
			continue
		}
		q, ok := queries[path]
		if !ok {
			t.Errorf("no query for %s: add it to the test", path)
			continue
		}
		status, body, _ := do(t, app, "GET", path+q, "", "")
		if status != 200 {
			t.Errorf("GET %s%s: %d %s", path, q, status, body)
			continue
		}
		schema := get["responses"].(map[string]any)["200"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"]
		var v any
		json.Unmarshal([]byte(body), &v)
		for _, problem := range validate(schemas, schema, v, path) {
			t.Error(problem)
		}
		checked++
	}
	// An error body has the documented shape too.
	_, body, _ := do(t, app, "GET", "/api/v1/flow?from=x", "", "")
	var v any
	json.Unmarshal([]byte(body), &v)
	for _, problem := range validate(schemas, map[string]any{"$ref": "#/components/schemas/Error"}, v, "error") {
		t.Error(problem)
	}
	if checked < 20 {
		t.Fatalf("checked %d endpoints", checked)
	}
}

var refRe = regexp.MustCompile(`^#/components/schemas/(\w+)$`)

func validate(schemas map[string]any, schema any, v any, at string) []string {
	s := schema.(map[string]any)
	if ref, ok := s["$ref"].(string); ok {
		return validate(schemas, schemas[refRe.FindStringSubmatch(ref)[1]], v, at)
	}
	if all, ok := s["allOf"].([]any); ok {
		var out []string
		for _, sub := range all {
			for _, p := range validate(schemas, sub, v, at) {
				if !strings.Contains(p, "is not in the document") { // checked below against every part
					out = append(out, p)
				}
			}
		}
		if x, ok := v.(map[string]any); ok {
			props := propertiesOf(schemas, s)
			for k := range x {
				if !props[k] {
					out = append(out, fmt.Sprintf("%s: property %s is not in the document", at, k))
				}
			}
		}
		return out
	}
	types := []string{}
	switch tt := s["type"].(type) {
	case string:
		types = []string{tt}
	case []any:
		for _, x := range tt {
			types = append(types, x.(string))
		}
	}
	kind := map[bool]string{}[false]
	switch x := v.(type) {
	case nil:
		kind = "null"
	case bool:
		kind = "boolean"
	case float64:
		kind = "number"
		if x == float64(int64(x)) {
			kind = "integer"
		}
	case string:
		kind = "string"
	case []any:
		kind = "array"
	case map[string]any:
		kind = "object"
	}
	okType := len(types) == 0
	for _, t := range types {
		if t == kind || (t == "number" && kind == "integer") {
			okType = true
		}
	}
	if !okType {
		return []string{fmt.Sprintf("%s: %s, want %v", at, kind, types)}
	}
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			if e == v {
				found = true
			}
		}
		if !found {
			return []string{fmt.Sprintf("%s: %v is not one of %v", at, v, enum)}
		}
	}
	var out []string
	switch x := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		for _, r := range asStrings(s["required"]) {
			if _, ok := x[r]; !ok {
				out = append(out, fmt.Sprintf("%s: required property %s missing", at, r))
			}
		}
		for k, sub := range props {
			if val, ok := x[k]; ok {
				out = append(out, validate(schemas, sub, val, at+"."+k)...)
			}
		}
		if ap, ok := s["additionalProperties"].(map[string]any); ok {
			for k, val := range x {
				out = append(out, validate(schemas, ap, val, at+"."+k)...)
			}
		} else if props != nil {
			for k := range x {
				if _, ok := props[k]; !ok {
					out = append(out, fmt.Sprintf("%s: property %s is not in the document", at, k))
				}
			}
		}
	case []any:
		if items, ok := s["items"]; ok && len(x) > 0 {
			out = append(out, validate(schemas, items, x[0], at+"[0]")...)
		}
	}
	return out
}

// propertiesOf is every property a schema declares, through $ref and allOf.
func propertiesOf(schemas map[string]any, schema any) map[string]bool {
	s := schema.(map[string]any)
	if ref, ok := s["$ref"].(string); ok {
		return propertiesOf(schemas, schemas[refRe.FindStringSubmatch(ref)[1]])
	}
	out := map[string]bool{}
	for _, sub := range asAny(s["allOf"]) {
		for k := range propertiesOf(schemas, sub) {
			out[k] = true
		}
	}
	props, _ := s["properties"].(map[string]any)
	for k := range props {
		out[k] = true
	}
	return out
}

func asAny(v any) []any {
	arr, _ := v.([]any)
	return arr
}

func asStrings(v any) []string {
	var out []string
	if arr, ok := v.([]any); ok {
		for _, x := range arr {
			out = append(out, x.(string))
		}
	}
	return out
}

var _ = os.Getenv

// A query past the deadline (clickhouse.query_timeout) is abandoned: the
// API answers 503 with the error code, pages the friendly message, and the
// connections stay usable for the next request.
func TestQueriesPastTheDeadlineAnswer503(t *testing.T) {
	e := sharedEnv(t)
	slow := *e.store
	slow.QueryTimeout = time.Nanosecond
	ms := metrics.New(&slow)
	ms.Now = e.ms.Now
	srv := dashboard.New(dashboard.Config{Measures: ms, Pinger: &slow, Now: e.ms.Now})
	status, body, _ := do(t, srv.App, "GET", "/api/v1/flow?project=SHOP", "", "")
	if status != 503 || !strings.Contains(body, `"code":"unavailable"`) {
		t.Errorf("API past the deadline: %d %s", status, body)
	}
	status, body, _ = do(t, srv.App, "GET", "/flow?project=SHOP", "", "")
	if status != 503 || !strings.Contains(body, "The database is not answering") {
		t.Errorf("page past the deadline: %d %.300s", status, body)
	}
	status, body, _ = do(t, e.server(nil, nil).App, "GET", "/api/v1/flow?project=SHOP", "", "")
	if status != 200 {
		t.Errorf("the next request with the normal deadline: %d %.300s", status, body)
	}
}

// The signals API and the overview's verdicts are the same XmR charts:
// each measure's behaviour in /api/v1/ebm equals the last point of its
// chart in /api/v1/signals; a split starts a second set of limits.
func TestSignalsAgreeWithTheOverviewVerdicts(t *testing.T) {
	e := sharedEnv(t)
	app := e.server(nil, nil).App
	q := "?project=SHOP&from=2024-01-01&to=2026-01-01&period=month"
	_, body, _ := do(t, app, "GET", "/api/v1/signals"+q, "", "")
	var sig struct {
		Series []struct {
			Key   string      `json:"key"`
			Chart metrics.XmR `json:"chart"`
		} `json:"series"`
	}
	if err := json.Unmarshal([]byte(body), &sig); err != nil || len(sig.Series) < 3 || sig.Series[0].Key != "throughput_weekly" || !sig.Series[0].Chart.Enough {
		t.Fatalf("signals: %v %.300s", err, body)
	}
	_, body, _ = do(t, app, "GET", "/api/v1/ebm"+q, "", "")
	var ebm struct {
		KVAs []metrics.KVA `json:"kvas"`
	}
	json.Unmarshal([]byte(body), &ebm)
	byKey := map[string]metrics.Measure{}
	for _, k := range ebm.KVAs {
		for _, m := range k.Measures {
			byKey[m.Key] = m
		}
	}
	// The overview draws the chart of exactly the measures it marks
	// "signal", and counts the others judged noise.
	_, page, _ := do(t, app, "GET", "/"+q, "", "")
	signals, noise := 0, 0
	for key, m := range byKey {
		if m.Behaviour == nil {
			continue
		}
		has := strings.Contains(page, `id="signals_SHOP_`+key+`"`)
		if has != m.Behaviour.Signal {
			t.Errorf("%s: signal %v, chart on the overview %v", key, m.Behaviour.Signal, has)
		}
		if m.Behaviour.Signal {
			signals++
		} else {
			noise++
		}
	}
	if want := fmt.Sprintf("%d measure(s) changed beyond what their own variation explains", signals); !strings.Contains(page, want) || !strings.Contains(page, fmt.Sprintf("%d moved within their limits", noise)) {
		t.Errorf("overview: want %q and %d within their limits", want, noise)
	}
	compared := 0
	for _, s := range sig.Series[1:] {
		m, ok := byKey[s.Key]
		if !ok || m.Behaviour == nil {
			t.Errorf("%s has a chart but no verdict in /api/v1/ebm", s.Key)
			continue
		}
		seg := s.Chart.Segments[len(s.Chart.Segments)-1]
		if m.Behaviour.Signal != s.Chart.Signal || m.Behaviour.Upper != seg.Upper || m.Behaviour.Lower != seg.Lower || m.Behaviour.Centre != seg.Centre {
			t.Errorf("%s: ebm says %+v, the chart %v %+v", s.Key, *m.Behaviour, s.Chart.Signal, seg)
		}
		compared++
	}
	if compared < 3 {
		t.Fatalf("only %d measures compared", compared)
	}
	_, body, _ = do(t, app, "GET", "/api/v1/signals"+q+"&split=2025-03-10", "", "")
	json.Unmarshal([]byte(body), &sig)
	if segs := sig.Series[0].Chart.Segments; len(segs) != 2 || segs[1].From != "2025-03-10" {
		t.Fatalf("a split at 2025-03-10 (a Monday) gives segments %+v", segs)
	}
	if status, body, _ := do(t, app, "GET", "/api/v1/signals"+q+"&split=2027-01-01", "", ""); status != 400 || !strings.Contains(body, "split:") {
		t.Fatalf("a split outside the range: %d %s", status, body)
	}
	// An annotation is where the limits start again when no split is given.
	status, body, _ := do(t, app, "POST", "/api/v1/annotations", "", `{"product":"SHOP","at":"2025-06-04","text":"Team split in two"}`, "Content-Type", "application/json")
	var a evident.Annotation
	json.Unmarshal([]byte(body), &a)
	if status != 201 || a.ID == "" || a.At.Format("2006-01-02") != "2025-06-04" {
		t.Fatalf("annotation: %d %s", status, body)
	}
	defer do(t, app, "DELETE", "/api/v1/annotations/"+a.ID, "", "")
	_, body, _ = do(t, app, "GET", "/api/v1/signals"+q, "", "")
	var split struct {
		Split  string `json:"split"`
		Series []struct {
			Chart metrics.XmR `json:"chart"`
		} `json:"series"`
	}
	json.Unmarshal([]byte(body), &split)
	if segs := split.Series[0].Chart.Segments; split.Split != "2025-06-04" || len(segs) != 2 || segs[1].From != "2025-06-02" {
		t.Fatalf("split at the annotation: %q %+v", split.Split, segs)
	}
	for body, want := range map[string]string{`{"at":"2025-06-04"}`: "text: required", `{"text":"x"}`: "at: required", `{"text":"x","at":"2300-01-01"}`: "at:", `{"text":"x","at":"2025-01-01","colour":1}`: "colour"} {
		if status, got, _ := do(t, app, "POST", "/api/v1/annotations", "", body, "Content-Type", "application/json"); status != 400 || !strings.Contains(got, want) {
			t.Errorf("POST annotation %s: %d %s, want 400 with %q", body, status, got, want)
		}
	}
	if _, body, _ := do(t, app, "GET", "/api/v1/annotations?project=SHOP", "", ""); !strings.Contains(body, "Team split in two") {
		t.Errorf("annotations of SHOP: %s", body)
	}
}

// Epic forecasts: every open epic of the project in rank order, later
// epics never before earlier ones (they are done one after the other), and
// the project is required.
func TestEpicForecasts(t *testing.T) {
	e := sharedEnv(t)
	app := e.server(nil, nil).App
	status, body, _ := do(t, app, "GET", "/api/v1/epics?project=SHOP", "", "")
	var out metrics.EpicForecasts
	if err := json.Unmarshal([]byte(body), &out); status != 200 || err != nil || len(out.Epics) < 1 || out.HistoryDone == 0 {
		t.Fatalf("epics: %d %v %.300s", status, err, body)
	}
	prev := ""
	for i, ep := range out.Epics {
		if ep.Position != i+1 || (!ep.Estimated && ep.Remaining != ep.Children-ep.Done) || ep.Remaining < 0 {
			t.Errorf("epic %s: position %d, %d children, %d done, %d remaining", ep.Key, ep.Position, ep.Children, ep.Done, ep.Remaining)
		}
		p50 := ep.When["p50"]
		if p50 == nil || *p50 < prev || *ep.When["p85"] < *p50 || *ep.When["p95"] < *ep.When["p85"] {
			t.Errorf("epic %s (position %d): %v after %q", ep.Key, ep.Position, ep.When, prev)
			continue
		}
		prev = *p50
		// The chance of meeting the due date agrees with the dates: due on
		// or after the 95% date means at least 95%, before the 50% date
		// less than half.
		if ep.Due == nil || ep.OnTime == nil || *ep.OnTime < 0 || *ep.OnTime > 1 {
			t.Errorf("epic %s: due %v, on time %v", ep.Key, ep.Due, ep.OnTime)
			continue
		}
		if (*ep.Due >= *ep.When["p95"] && *ep.OnTime < 0.95) || (*ep.Due < *p50 && *ep.OnTime >= 0.5) {
			t.Errorf("epic %s: due %s, dates %v, on time %v", ep.Key, *ep.Due, ep.When, *ep.OnTime)
		}
	}
	if status, body, _ := do(t, app, "GET", "/api/v1/epics", "", ""); status != 400 || !strings.Contains(body, "project: required") {
		t.Fatalf("without a project: %d %s", status, body)
	}
}

// An epic not split into items yet counts as many items as the median done
// epic of its project had (from the simulator's own issues), or as many as
// the unsplit parameter says; with a WIP of several epics, later epics can
// finish before earlier ones, and the first epic no earlier than alone.
func TestEpicEstimatesAndWIP(t *testing.T) {
	e := sharedEnv(t)
	app := e.server(nil, nil).App
	get := func(q string) metrics.EpicForecasts {
		t.Helper()
		status, body, _ := do(t, app, "GET", "/api/v1/epics?project=SHOP"+q, "", "")
		var out metrics.EpicForecasts
		if err := json.Unmarshal([]byte(body), &out); status != 200 || err != nil {
			t.Fatalf("epics%s: %d %v %.300s", q, status, err, body)
		}
		return out
	}
	// Ground truth: the done SHOP epics' sizes in the simulator.
	g := e.sim.Generator()
	size, doneEpic := map[string]int{}, map[string]bool{}
	for i := range g.Len() {
		is := e.sim.Issue(i)
		if is == nil || is.Deleted || is.Project.Key != "SHOP" {
			continue
		}
		if is.Type == "Epic" && is.Status.Category == "done" {
			doneEpic[is.Key] = true
		}
		if is.EpicKey != "" {
			size[is.EpicKey]++
		}
	}
	var sizes []int
	for k := range doneEpic {
		if size[k] > 0 {
			sizes = append(sizes, size[k])
		}
	}
	sort.Ints(sizes)
	if len(sizes) == 0 {
		t.Fatal("the simulator has no done SHOP epic with items")
	}
	median := get("")
	if median.UnsplitFrom != len(sizes) || median.UnsplitEstimate != sizes[(len(sizes)-1)/2] {
		t.Errorf("estimate %d from %d epics, want %d from %d (%v)", median.UnsplitEstimate, median.UnsplitFrom, sizes[(len(sizes)-1)/2], len(sizes), sizes)
	}
	given := get("&unsplit=7")
	if given.UnsplitEstimate != 7 || given.UnsplitFrom != 0 {
		t.Errorf("unsplit=7: estimate %d from %d", given.UnsplitEstimate, given.UnsplitFrom)
	}
	for _, out := range []metrics.EpicForecasts{median, given} {
		unsplit := 0
		for _, ep := range out.Epics {
			if ep.Estimated != (ep.Children == 0) || (ep.Estimated && ep.Remaining != out.UnsplitEstimate) {
				t.Errorf("epic %s: %d children, estimated %v, remaining %d (estimate %d)", ep.Key, ep.Children, ep.Estimated, ep.Remaining, out.UnsplitEstimate)
			}
			if ep.Estimated {
				unsplit++
			}
		}
		if unsplit != out.Unsplit {
			t.Errorf("%d estimated epics, unsplit %d", unsplit, out.Unsplit)
		}
	}

	// Initiatives: the parents of the open epics, as the simulator holds
	// them, each done no earlier than any of its epics at every percentile.
	byKey := map[string]metrics.EpicForecast{}
	for _, ep := range median.Epics {
		byKey[ep.Key] = ep
		if want := e.sim.Issue(e.sim.IndexOf(ep.Key)).ParentKey; ep.Initiative != want {
			t.Errorf("epic %s: initiative %q, Jira %q", ep.Key, ep.Initiative, want)
		}
	}
	if len(median.Initiatives) == 0 {
		t.Fatal("no initiative above SHOP's open epics")
	}
	for _, in := range median.Initiatives {
		rem := 0
		for _, k := range in.Epics {
			ep := byKey[k]
			rem += ep.Remaining
			for _, p := range []string{"p50", "p85", "p95"} {
				if ep.Initiative != in.Key || in.When[p] == nil || ep.When[p] == nil || *in.When[p] < *ep.When[p] {
					t.Errorf("initiative %s %s %v before its epic %s %v", in.Key, p, in.When, k, ep.When)
				}
			}
		}
		if rem != in.Remaining || len(in.Epics) == 0 || in.Summary == "" || in.Due == nil || in.OnTime == nil {
			t.Errorf("initiative %+v: remaining of its epics %d", in, rem)
		}
	}

	one, three := get("&wip=1"), get("&wip=3")
	if one.WIP != 1 || three.WIP != 3 || len(one.Epics) != len(three.Epics) || len(one.Epics) < 2 {
		t.Fatalf("wip 1: %d epics, wip 3: %d epics (%d, %d)", len(one.Epics), len(three.Epics), one.WIP, three.WIP)
	}
	if *three.Epics[0].When["p50"] < *one.Epics[0].When["p50"] {
		t.Errorf("the first epic among three (%s) before it alone (%s)", *three.Epics[0].When["p50"], *one.Epics[0].When["p50"])
	}
	if status, body, _ := do(t, app, "GET", "/api/v1/epics?project=SHOP&wip=0", "", ""); status != 400 || !strings.Contains(body, "wip") {
		t.Errorf("wip=0: %d %s", status, body)
	}

	// The same forecast as CSV, one row per epic.
	status, body, hdr := do(t, app, "GET", "/api/v1/epics?project=SHOP&unsplit=7&format=csv", "", "")
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if status != 200 || err != nil || !strings.HasPrefix(hdr.Get("Content-Type"), "text/csv") || len(rows) != len(given.Epics)+1 {
		t.Fatalf("csv: %d %v %d rows for %d epics", status, err, len(rows), len(given.Epics))
	}
	for i, ep := range given.Epics {
		if r := rows[i+1]; r[1] != ep.Key || r[6] != strconv.Itoa(ep.Remaining) || r[9] != *ep.When["p85"] {
			t.Errorf("csv row %d: %v, epic %+v", i+1, r, ep)
		}
	}
}

// A forecast made in the past is scored against what was done since: its
// actual count equals the issues whose done_at falls in its window (read
// through the issues list, not the throughput query the scores use), and
// a forecast asked now is kept with its outcome unknown.
func TestForecastsAreKeptAndScored(t *testing.T) {
	e := sharedEnv(t)
	app := e.server(nil, nil).App
	made, until := testNow.AddDate(0, 0, -60), testNow.AddDate(0, 0, -30)
	rec, _ := metrics.Record(metrics.Filter{Project: "APP"}, metrics.Forecast{Until: until.Format("2006-01-02"), HistoryDays: 90,
		HowMany: map[string]int{"p50": 1000, "p85": 5, "p95": 1}}, made)
	if err := e.in.RecordForecast(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	page, err := e.ms.Issues(context.Background(), metrics.Filter{Project: "APP"}, 100000, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, is := range page.Issues {
		if is.DoneAt != nil && !is.DoneAt.Before(made) && is.DoneAt.Before(until) {
			want++
		}
	}
	if status, _, _ := do(t, app, "GET", "/api/v1/forecast?project=APP&items=30", "", ""); status != 200 {
		t.Fatalf("forecast: %d", status)
	}
	_, body, _ := do(t, app, "GET", "/api/v1/forecast/scores?project=APP", "", "")
	var out metrics.ForecastScores
	json.Unmarshal([]byte(body), &out)
	var past, now *metrics.Score
	for i := range out.Forecasts {
		switch sc := &out.Forecasts[i]; {
		case sc.ID == rec.ID:
			past = sc
		case sc.Kind == "when" && sc.Items == 30:
			now = sc
		}
	}
	if past == nil || !past.Known || int(past.Actual) != want || past.Hit["p50"] || past.Hit["p85"] != (want >= 5) || !past.Hit["p95"] {
		t.Fatalf("the past forecast (want actual %d): %+v", want, past)
	}
	if now == nil || now.Known || len(now.Hit) != 0 {
		t.Fatalf("the forecast asked now: %+v", now)
	}
	var p50 metrics.Calibration
	for _, c := range out.Calibration {
		if c.Level == "p50" {
			p50 = c
		}
	}
	if p50.N < 1 || p50.Kept > p50.N-1 {
		t.Fatalf("calibration of the 50%% level: %+v", p50)
	}

	// Over time: a second past forecast, made in another month and kept at
	// every level (at least 0 done), gives APP a month of its own.
	early := testNow.AddDate(0, 0, -120)
	rec2, _ := metrics.Record(metrics.Filter{Project: "APP"}, metrics.Forecast{Until: early.AddDate(0, 0, 20).Format("2006-01-02"), HistoryDays: 90,
		HowMany: map[string]int{"p50": 0, "p85": 0, "p95": 0}}, early)
	if err := e.in.RecordForecast(context.Background(), rec2); err != nil {
		t.Fatal(err)
	}
	_, body, _ = do(t, app, "GET", "/api/v1/forecast/scores?project=APP", "", "")
	out = metrics.ForecastScores{}
	json.Unmarshal([]byte(body), &out)
	months := map[string]metrics.MonthlyCalibration{}
	for _, m := range out.Monthly {
		if m.Project != "APP" {
			t.Errorf("scores of APP hold a month of %s", m.Project)
		}
		months[m.Month] = m
	}
	first, second := months[early.Format("2006-01")], months[made.Format("2006-01")]
	if len(first.Levels) != 3 || first.Levels[0].N != 1 || first.Levels[0].Kept != 1 || *first.Levels[1].Rate != 1 {
		t.Fatalf("the month of the early forecast: %+v (%s)", first, body)
	}
	if len(second.Levels) != 3 || second.Levels[0].N < 1 || second.Levels[0].Kept != second.Levels[0].N-1 {
		t.Fatalf("the month of the later forecast: %+v", second)
	}
	// The forecast page draws the rate per month.
	if _, page, _ := do(t, app, "GET", "/forecast?project=APP&items=30", "", ""); !strings.Contains(page, `id="forecast_calibration"`) || !strings.Contains(page, early.Format("2006-01")) {
		t.Fatalf("no calibration chart on the forecast page")
	}
}

// The data health report shows each board's columns as the simulator
// configures them, statuses by name, limits, and the statuses no column
// holds (Blocked on the scrum boards).
func TestBoardColumnsOnTheDataHealthReport(t *testing.T) {
	e := sharedEnv(t)
	app := e.server(nil, nil).App
	status, body, _ := do(t, app, "GET", "/api/v1/health/data", "", "")
	var h metrics.DataHealth
	if err := json.Unmarshal([]byte(body), &h); status != 200 || err != nil || len(h.Boards) != 4 {
		t.Fatalf("health: %d %v, %d boards", status, err, len(h.Boards))
	}
	names := map[string]string{}
	for _, st := range jirasim.Statuses {
		names[st.ID] = st.Name
	}
	for _, b := range h.Boards {
		want := e.sim.Generator().BoardColumns(int(b.BoardID))
		if len(b.Columns) != len(want) {
			t.Fatalf("board %d: %d columns, Jira %d", b.BoardID, len(b.Columns), len(want))
		}
		held := map[string]bool{}
		for i, c := range want {
			var sts []string
			for _, id := range c.Statuses {
				sts = append(sts, names[id])
				held[names[id]] = true
			}
			got := b.Columns[i]
			if got.Name != c.Name || fmt.Sprint(got.Statuses) != fmt.Sprint(sts) || (got.Max == nil) != (c.Max < 0) || (got.Max != nil && int(*got.Max) != c.Max) {
				t.Errorf("board %d column %d: %+v, Jira %+v", b.BoardID, i, got, c)
			}
		}
		var unmapped []string
		for _, st := range jirasim.Statuses {
			if !held[st.Name] {
				unmapped = append(unmapped, st.Name)
			}
		}
		if len(unmapped) != len(b.Unmapped) {
			t.Errorf("board %d: unmapped %v, want %v", b.BoardID, b.Unmapped, unmapped)
		}
	}
	if _, page, _ := do(t, app, "GET", "/health", "", ""); !strings.Contains(page, `data-board="1"`) || !strings.Contains(page, "Blocked") {
		t.Errorf("the health page has no board columns")
	}
}

// The stand-up list agrees with the simulator's ground truth: an item is
// blocked exactly when Jira has it flagged, in Blocked, or linked as
// blocked by an issue still open; stalled exactly when, not blocked,
// nothing about it changed for 5 days; and it lists exactly the aging
// chart's items.
func TestStandupAgreesWithTheSimulator(t *testing.T) {
	e := sharedEnv(t)
	app := e.server(nil, nil).App
	status, body, _ := do(t, app, "GET", "/api/v1/standup", "", "")
	var su metrics.Standup
	if err := json.Unmarshal([]byte(body), &su); status != 200 || err != nil {
		t.Fatalf("standup: %d %v %s", status, err, body)
	}
	status, body, _ = do(t, app, "GET", "/api/v1/flow", "", "")
	var flow metrics.Flow
	if err := json.Unmarshal([]byte(body), &flow); status != 200 || err != nil {
		t.Fatalf("flow: %d %v", status, err)
	}
	if len(su.Items) != len(flow.Aging) || len(su.Items) < 10 {
		t.Fatalf("%d stand-up items, %d aging items", len(su.Items), len(flow.Aging))
	}
	aging := map[string]metrics.AgingItem{}
	for _, a := range flow.Aging {
		aging[a.Key] = a
	}
	kinds := map[string]int{}
	for k, it := range su.Items {
		is := e.sim.Issue(e.sim.IndexOf(it.Key))
		wantBlocked := is.Flagged || is.Status.Name == "Blocked"
		for _, j := range is.BlockedBy {
			wantBlocked = wantBlocked || e.sim.Issue(j).Status.Category != "done"
		}
		wantStalled := !wantBlocked && testNow.Sub(is.Updated) > 5*24*time.Hour
		if it.Blocked != wantBlocked || it.Stalled != wantStalled {
			t.Errorf("%s: blocked %v stalled %v; Jira: flagged %v, status %s, blocked by %v, updated %s: want blocked %v stalled %v",
				it.Key, it.Blocked, it.Stalled, is.Flagged, is.Status.Name, is.BlockedBy, is.Updated, wantBlocked, wantStalled)
		}
		if a, ok := aging[it.Key]; !ok || a.Blocked != it.Blocked || a.Stalled != it.Stalled {
			t.Errorf("%s: on the stand-up %+v, on the aging chart %+v", it.Key, it, a)
		}
		if it.Expedited != (is.Priority == "Highest") {
			t.Errorf("%s: expedited %v with priority %s", it.Key, it.Expedited, is.Priority)
		}
		for _, b := range it.Blockers {
			if b.Now {
				kinds[b.Reason]++
			}
		}
		if k > 0 && it.Blocked && !su.Items[k-1].Blocked {
			t.Errorf("%s is blocked but listed after %s, which is not", it.Key, su.Items[k-1].Key)
		}
		if it.Blocked && (len(it.Reasons) == 0 || !strings.HasPrefix(it.Reasons[0], "blocked (")) {
			t.Errorf("%s: blocked, reasons %q", it.Key, it.Reasons)
		}
	}
	if kinds[metrics.BlockedByStatus] == 0 || su.Stalled == 0 || su.Expedited == 0 {
		t.Errorf("the simulator's work in progress lacks a kind of attention: blockers now %v, %d stalled, %d expedited", kinds, su.Stalled, su.Expedited)
	}
	t.Logf("%d in progress: %d blocked (%v), %d stalled, %d aged, %d expedited", len(su.Items), su.Blocked, kinds, su.Stalled, su.Aged, su.Expedited)
	// The period's done work was blocked for every reason.
	status, body, _ = do(t, app, "GET", "/api/v1/impediments", "", "")
	var imp metrics.PeriodImpediments
	if err := json.Unmarshal([]byte(body), &imp); status != 200 || err != nil {
		t.Fatalf("impediments: %d %v", status, err)
	}
	reasons := map[string]bool{}
	for _, b := range imp.TopBlockers {
		reasons[b.Reason] = true
	}
	if imp.BlockedShare == nil || *imp.BlockedShare <= 0 || !reasons[metrics.BlockedByStatus] || imp.N != flow.CycleTime.N || imp.Sampled {
		t.Errorf("impediments %+v (cycle time n = %d)", imp.FlowImpediments, flow.CycleTime.N)
	}
	status, csv, _ := do(t, app, "GET", "/api/v1/impediments?format=csv", "", "")
	if status != 200 || strings.Count(csv, "\n") != imp.N+1 {
		t.Errorf("impediments CSV: %d, %d lines for %d issues", status, strings.Count(csv, "\n"), imp.N)
	}
	status, page, _ := do(t, app, "GET", "/standup?type=all", "", "")
	if status != 200 || !strings.Contains(page, `data-key="`+su.Items[0].Key+`"`) || !strings.Contains(page, "blocked (") {
		t.Errorf("stand-up page: %d", status)
	}
	status, csv, _ = do(t, app, "GET", "/api/v1/standup?format=csv", "", "")
	if status != 200 || strings.Count(csv, "\n") != len(su.Items)+1 || !strings.HasPrefix(csv, "key,summary,status") {
		t.Errorf("stand-up CSV: %d, %d lines", status, strings.Count(csv, "\n"))
	}
}

// The data quality checks run on the read model agree with the
// simulator's ground truth, issue by issue.
func TestDataQualityChecksAgreeWithTheSimulator(t *testing.T) {
	e := sharedEnv(t)
	app := e.server(nil, nil).App
	status, body, _ := do(t, app, "GET", "/api/v1/health/data", "", "")
	var h metrics.DataHealth
	if err := json.Unmarshal([]byte(body), &h); status != 200 || err != nil {
		t.Fatalf("health: %d %v", status, err)
	}
	got := map[string]metrics.QualityCheck{}
	for _, c := range h.Quality {
		got[c.Code] = c
		t.Logf("%-32s %5d %v", c.Code, c.Issues, c.Examples[:min(2, len(c.Examples))])
	}
	// Ground truth from the simulator's own issues.
	want := map[string]map[string]bool{}
	mark := func(check, key string) {
		if want[check] == nil {
			want[check] = map[string]bool{}
		}
		want[check][key] = true
	}
	g := e.sim.Generator()
	// The simulator's boards: each project's own, and the Delivery board
	// (99) over SHOP and APP, whose issues are so on two boards.
	boardsOf := map[string][]int{}
	for i := 0; i < g.Len(); i++ {
		if is := e.sim.Issue(i); is != nil && !slices.Contains(boardsOf[is.Project.Key], is.Project.BoardID) {
			boardsOf[is.Project.Key] = append(boardsOf[is.Project.Key], is.Project.BoardID)
		}
	}
	boardsOf["SHOP"], boardsOf["APP"] = append(boardsOf["SHOP"], 99), append(boardsOf["APP"], 99)
	held := map[string]map[string]bool{}     // project → status ids its boards hold
	firstCol := map[string]map[string]bool{} // project → status ids of its boards' first columns
	// The column of a status: its column on the project's first board (by
	// id) that holds it, 1 on. By id: the two "Waiting"s sit in two columns.
	colOf := map[string]map[string]int{}
	for project, boards := range boardsOf {
		held[project], firstCol[project], colOf[project] = map[string]bool{}, map[string]bool{}, map[string]int{}
		slices.Sort(boards)
		for _, b := range boards {
			for k, c := range g.BoardColumns(b) {
				for _, id := range c.Statuses {
					held[project][id] = true
					if k == 0 {
						firstCol[project][id] = true
					}
					if colOf[project][id] == 0 {
						colOf[project][id] = k + 1
					}
				}
			}
		}
	}
	started := map[string]bool{}
	var subtasks []*jirasim.Issue
	for i := 0; i < g.Len(); i++ {
		is := e.sim.Issue(i)
		if is == nil {
			continue
		}
		initial := is.Status
		first := true
		for _, hs := range is.Histories {
			for _, it := range hs.Items {
				if it.Field != "status" || it.From == nil || it.To == nil {
					continue
				}
				from, to := jirasim.StatusByID(*it.From), jirasim.StatusByID(*it.To)
				if first {
					initial, first = from, false
				}
				if from.Category == "done" && to.Category != "done" {
					mark(evident.CheckChangedAfterDone, is.Key)
				}
				if from.Category == "indeterminate" && to.Category == "new" {
					mark(evident.CheckMovedBackwards, is.Key)
				}
				if to.Category == "indeterminate" {
					started[is.Key] = true
				}
				if c := colOf[is.Project.Key]; from.Category == to.Category && c[to.ID] > 0 && c[from.ID] > c[to.ID] {
					mark(evident.CheckMovedBackColumn, is.Key)
				}
			}
		}
		if initial.Category == "indeterminate" {
			started[is.Key] = true
		}
		if hb := held[is.Project.Key]; hb != nil && !hb[is.Status.ID] {
			mark(evident.CheckStatusOffBoard, is.Key)
		}
		if fc := firstCol[is.Project.Key]; fc != nil && !fc[initial.ID] {
			mark(evident.CheckCreatedOffColumn, is.Key)
		}
		if is.Status.Category != "done" && started[is.Key] {
			for _, j := range is.BlockedBy {
				if e.sim.Issue(j).Status.Category == "done" {
					mark(evident.CheckBlockedByClosed, is.Key)
				}
			}
		}
		if len(boardsOf[is.Project.Key]) > 1 {
			mark(evident.CheckOnSeveralBoards, is.Key)
		}
		if is.Status.Category == "done" && !started[is.Key] {
			mark(evident.CheckDoneNeverStarted, is.Key)
		}
		if is.Type == "Sub-task" {
			subtasks = append(subtasks, is)
		}
	}
	for _, st := range subtasks {
		parent := e.sim.Issue(e.sim.IndexOf(st.ParentKey))
		if parent == nil {
			continue
		}
		if parent.Status.Category == "done" && st.Status.Category != "done" {
			mark(evident.CheckSubtaskAfterParent, st.Key)
		}
		if started[st.Key] && !started[parent.Key] && parent.Status.Category != "done" {
			mark(evident.CheckParentNotStarted, parent.Key)
		}
	}
	for _, check := range []string{evident.CheckOnSeveralBoards, evident.CheckDoneNeverStarted, evident.CheckMovedBackColumn, evident.CheckChangedAfterDone, evident.CheckMovedBackwards, evident.CheckStatusOffBoard, evident.CheckCreatedOffColumn,
		evident.CheckBlockedByClosed, evident.CheckSubtaskAfterParent, evident.CheckParentNotStarted} {
		if int(got[check].Issues) != len(want[check]) || len(want[check]) == 0 {
			t.Errorf("%s: %d issues, the simulator has %d", check, got[check].Issues, len(want[check]))
		}
		for _, ex := range got[check].Examples {
			if !want[check][ex.Key] {
				t.Errorf("%s: %s (%s) is not one in the simulator", check, ex.Key, ex.Note)
			}
		}
	}
}

// A board's columns on the last day hold exactly the board's project's
// issues the simulator has in the columns' statuses; the flow page of a
// board draws them and groups its aging chart by them.
func TestBoardColumnsWIPAgreesWithTheSimulator(t *testing.T) {
	e := sharedEnv(t)
	app := e.server(nil, nil).App
	g := e.sim.Generator()
	for _, board := range []int{1, 3} {
		status, body, _ := do(t, app, "GET", fmt.Sprintf("/api/v1/columns?board=%d&from=2025-12-01&to=2026-01-05", board), "", "")
		var bw metrics.BoardWIP
		if err := json.Unmarshal([]byte(body), &bw); status != 200 || err != nil {
			t.Fatalf("board %d: %d %v %s", board, status, err, body)
		}
		want := g.BoardColumns(board)
		if len(bw.Columns) != len(want) || len(bw.Days) != 35 {
			t.Fatalf("board %d: %d columns (Jira %d), %d days", board, len(bw.Columns), len(want), len(bw.Days))
		}
		// Statuses are replayed by name: a name two columns hold (the
		// simulator's two "Waiting" statuses) counts in the first only,
		// and the answer says so.
		counts := map[string]int{}
		for i := 0; i < g.Len(); i++ {
			if is := e.sim.Issue(i); is != nil && is.Project.Key == bw.Project && !is.Created.After(testNow) {
				counts[is.Status.Name]++
			}
		}
		if !strings.Contains(bw.Cycle, "Jira's categories") {
			t.Errorf("board %d: cycle %q, want Jira's categories (no boards setting)", board, bw.Cycle)
		}
		if fmt.Sprint(bw.Ambiguous) != "[Waiting]" {
			t.Errorf("board %d: ambiguous %v, want [Waiting]", board, bw.Ambiguous)
		}
		taken := map[string]bool{}
		counted := 0
		for k, c := range want {
			n := 0
			for _, id := range c.Statuses {
				name := jirasim.StatusByID(id).Name
				if !taken[name] {
					n += counts[name]
					taken[name] = true
				}
			}
			got := bw.Columns[k]
			if got.Now != n || got.WIP[len(got.WIP)-1] != n {
				t.Errorf("board %d column %s: %d now, the simulator has %d", board, c.Name, got.Now, n)
			}
			if got.Counted {
				counted++
			}
			over := 0
			for _, v := range got.WIP {
				if got.Counted && got.Max != nil && v > int(*got.Max) {
					over++
				}
			}
			if over != got.DaysOverMax {
				t.Errorf("board %d column %s: %d days over, the series says %d", board, c.Name, got.DaysOverMax, over)
			}
		}
		if counted == 0 || counted == len(want) {
			t.Errorf("board %d: %d of %d columns counted", board, counted, len(want))
		}
		t.Logf("board %d (%s): %+v", board, bw.Name, bw.Columns[1])
	}
	status, page, _ := do(t, app, "GET", "/flow?board=3", "", "")
	if status != 200 || !strings.Contains(page, `id="section-columns"`) || !strings.Contains(page, "Columns are the board") {
		t.Errorf("flow page of board 3: %d, columns chart or aging by column missing", status)
	}
	if status, body, _ := do(t, app, "GET", "/api/v1/columns", "", ""); status != 400 || !strings.Contains(body, "board") {
		t.Errorf("columns without a board: %d %s", status, body)
	}
}

// A board over two projects (the simulator's Delivery board over SHOP and
// APP) measures the issues of both, and the health report lists both.
func TestABoardOverTwoProjectsMeasuresBoth(t *testing.T) {
	e := sharedEnv(t)
	app := e.server(nil, nil).App
	n := func(q string) int {
		status, body, _ := do(t, app, "GET", "/api/v1/flow?from=2025-06-01&to=2026-01-01&"+q, "", "")
		var f metrics.Flow
		if err := json.Unmarshal([]byte(body), &f); status != 200 || err != nil {
			t.Fatalf("%s: %d %v", q, status, err)
		}
		return f.LeadTime.N
	}
	shop, appN, board := n("project=SHOP"), n("project=APP"), n("board=99")
	if board != shop+appN || shop == 0 || appN == 0 {
		t.Fatalf("board 99: %d issues done, SHOP %d + APP %d", board, shop, appN)
	}
	_, body, _ := do(t, app, "GET", "/api/v1/health/data", "", "")
	var h metrics.DataHealth
	json.Unmarshal([]byte(body), &h)
	for _, b := range h.Boards {
		if b.BoardID == 99 && fmt.Sprint(b.Projects) != "[APP SHOP]" {
			t.Fatalf("board 99 is listed for %v", b.Projects)
		}
	}
}

// The issues list pages through every issue once, oldest first: pages of
// 7 put together are the whole list, in order, and each says the total.
func TestIssuesPagesThroughEveryIssueOnce(t *testing.T) {
	e := sharedEnv(t)
	app := e.server(nil, nil).App
	type page struct {
		Total  int `json:"total"`
		Issues []struct {
			Key     string    `json:"key"`
			Created time.Time `json:"created_at"`
		} `json:"issues"`
	}
	get := func(q string) page {
		t.Helper()
		status, body, _ := do(t, app, "GET", "/api/v1/issues?project=SHOP&"+q, "", "")
		if status != 200 {
			t.Fatalf("%s: %d %s", q, status, body)
		}
		var p page
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	all := get("limit=100000")
	if all.Total != len(all.Issues) || all.Total < 30 {
		t.Fatalf("all: total %d, %d issues", all.Total, len(all.Issues))
	}
	var joined []string
	for off := 0; off < all.Total+7; off += 7 {
		p := get(fmt.Sprintf("limit=7&offset=%d", off))
		if p.Total != all.Total || len(p.Issues) != min(7, max(0, all.Total-off)) {
			t.Fatalf("offset %d: total %d, %d issues of %d", off, p.Total, len(p.Issues), all.Total)
		}
		for i, is := range p.Issues {
			if i > 0 && is.Created.Before(p.Issues[i-1].Created) {
				t.Fatalf("offset %d: %s created before %s, listed after it", off, is.Key, p.Issues[i-1].Key)
			}
			joined = append(joined, is.Key)
		}
	}
	for i := range all.Issues {
		if joined[i] != all.Issues[i].Key {
			t.Fatalf("issue %d: pages give %s, the whole list %s", i, joined[i], all.Issues[i].Key)
		}
	}
}
