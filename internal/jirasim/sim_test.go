package jirasim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	jira "github.com/andygrunwald/go-jira"
)

const (
	testEmail = "po@example.com"
	testToken = "cloud-token"
	testPAT   = "dc-pat"
)

// newSim serves a simulated site over HTTP and returns a real go-jira
// client for it.
func newSim(t testing.TB, cloud bool, issues int, faults Faults) (*Sim, *jira.Client, string) {
	t.Helper()
	sim, err := New(Options{Config: Config{Seed: 7, Issues: issues, Cloud: cloud}, Email: testEmail, APIToken: testToken, PAT: testPAT, Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim.Handler())
	t.Cleanup(ts.Close)
	sim.SetBaseURL(ts.URL)
	return sim, clientFor(t, ts.URL, cloud, ""), ts.URL
}

func clientFor(t testing.TB, url string, cloud bool, secret string) *jira.Client {
	var hc *http.Client
	if cloud {
		if secret == "" {
			secret = testToken
		}
		hc = (&jira.BasicAuthTransport{Username: testEmail, Password: secret}).Client()
	} else {
		if secret == "" {
			secret = testPAT
		}
		hc = (&jira.BearerAuthTransport{Token: secret}).Client()
	}
	c, err := jira.NewClient(hc, url)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var searchFields = []string{"summary", "status", "issuetype", "created", "updated", "resolutiondate", "labels", "customfield_10016", "customfield_10020"}

func TestCloudSearchPagesEveryIssueOnce(t *testing.T) {
	_, c, _ := newSim(t, true, 500, Faults{})
	ctx := context.Background()
	seen := map[string]bool{}
	token := ""
	pages := 0
	for {
		issues, resp, err := c.Issue.SearchV2JQLWithContext(ctx, "project in (SHOP, APP, OPS) ORDER BY created ASC",
			&jira.SearchOptionsV2{NextPageToken: token, MaxResults: 1000, Fields: searchFields, Expand: "changelog"})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(issues) > 100 {
			t.Fatalf("page of %d issues: the server must lower maxResults to 100 with fields", len(issues))
		}
		for _, is := range issues {
			if seen[is.Key] {
				t.Fatalf("%s served twice", is.Key)
			}
			seen[is.Key] = true
			if is.Fields == nil || is.Fields.Summary == "" || is.Fields.Status == nil || is.Changelog == nil {
				t.Fatalf("%s lacks the fields asked for: %+v", is.Key, is.Fields)
			}
		}
		if resp.IsLast {
			break
		}
		if resp.NextPageToken == "" {
			t.Fatal("isLast false without nextPageToken")
		}
		token = resp.NextPageToken
	}
	if len(seen) != 500 || pages != 5 {
		t.Fatalf("paged %d issues in %d pages, want 500 in 5", len(seen), pages)
	}
}

func TestCloudSearchWithoutFieldsReturnsOnlyIDs(t *testing.T) {
	_, _, url := newSim(t, true, 20, Faults{})
	body := get(t, url+"/rest/api/2/search/jql?jql=project%3DSHOP", true, 200)
	var page struct {
		Issues []map[string]any `json:"issues"`
		IsLast bool             `json:"isLast"`
		Total  *int             `json:"total"`
	}
	json.Unmarshal(body, &page)
	if len(page.Issues) != 7 || !page.IsLast || page.Total != nil {
		t.Fatalf("got %d issues, isLast %v, total %v", len(page.Issues), page.IsLast, page.Total)
	}
	if _, has := page.Issues[0]["fields"]; has {
		t.Fatalf("fields returned without being asked: %v", page.Issues[0])
	}
}

func get(t testing.TB, url string, cloud bool, want int) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if cloud {
		req.SetBasicAuth(testEmail, testToken)
	} else {
		req.Header.Set("Authorization", "Bearer "+testPAT)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %d, want %d: %s", url, resp.StatusCode, want, b)
	}
	return b
}

func jiraErr(t *testing.T, err error) string {
	t.Helper()
	var je *jira.Error
	if !errors.As(err, &je) {
		t.Fatalf("error %v is not a Jira error body", err)
	}
	return strings.Join(je.ErrorMessages, " ")
}

func TestCloudOldSearchAnswers410(t *testing.T) {
	_, c, _ := newSim(t, true, 10, Faults{})
	_, resp, err := c.Issue.SearchWithContext(context.Background(), "project = SHOP", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusGone {
		t.Fatalf("old search: %v, %v", resp, err)
	}
	if msg := jiraErr(t, err); !strings.Contains(msg, "CHANGE-2046") {
		t.Fatalf("410 body %q does not point at the migration", msg)
	}
}

func TestBadJQLAnswers400NamingTheProblem(t *testing.T) {
	for _, cloud := range []bool{true, false} {
		_, c, _ := newSim(t, cloud, 10, Faults{})
		for jql, want := range map[string]string{
			"project = SHOP OR project = APP":       "OR is not supported",
			"status = Done":                         "Field 'status' does not exist",
			"project = NOPE":                        "The value 'NOPE' does not exist for the field 'project'",
			`updated >= "yesterday"`:                "Date value 'yesterday' for field 'updated' is invalid",
			"project = SHOP ORDER BY summary":       "Not able to sort using field 'summary'",
			`project in (SHOP, APP`:                 "Expecting ')'",
			`project = "SHOP`:                       "not terminated",
			"project = SHOP AND updated >= 2024/03": "is invalid",
		} {
			var err error
			var resp *jira.Response
			if cloud {
				_, resp, err = c.Issue.SearchV2JQLWithContext(context.Background(), jql, &jira.SearchOptionsV2{Fields: []string{"summary"}})
			} else {
				_, resp, err = c.Issue.SearchWithContext(context.Background(), jql, nil)
			}
			if err == nil || resp.StatusCode != 400 {
				t.Errorf("cloud=%v %q: %v", cloud, jql, err)
				continue
			}
			if msg := jiraErr(t, err); !strings.Contains(msg, want) {
				t.Errorf("cloud=%v %q: message %q lacks %q", cloud, jql, msg, want)
			}
		}
	}
}

func TestWrongCredentialsAnswer401(t *testing.T) {
	for _, cloud := range []bool{true, false} {
		_, _, url := newSim(t, cloud, 10, Faults{})
		c := clientFor(t, url, cloud, "wrong")
		_, resp, err := c.User.GetSelfWithContext(context.Background())
		if err == nil || resp == nil || resp.StatusCode != 401 {
			t.Fatalf("cloud=%v: %v", cloud, err)
		}
		if msg := jiraErr(t, err); !strings.Contains(msg, "not authenticated") {
			t.Errorf("401 body: %q", msg)
		}
		// The other mode's scheme is refused too.
		other := clientFor(t, url, !cloud, "")
		if _, resp, _ := other.User.GetSelfWithContext(context.Background()); resp == nil || resp.StatusCode != 401 {
			t.Errorf("cloud=%v accepted the other mode's credentials", cloud)
		}
	}
}

func TestRateLimitAnswers429WithRetryAfter(t *testing.T) {
	_, c, _ := newSim(t, true, 10, Faults{RateLimitRate: 1, RetryAfter: 3})
	_, resp, err := c.Issue.SearchV2JQLWithContext(context.Background(), "project = SHOP", nil)
	if err == nil || resp == nil || resp.StatusCode != 429 {
		t.Fatalf("want 429, got %v", err)
	}
	h := resp.Header
	if h.Get("Retry-After") != "3" || h.Get("X-RateLimit-Remaining") != "0" || h.Get("X-RateLimit-Limit") == "" || h.Get("X-RateLimit-Reset") == "" || h.Get("RateLimit-Reason") == "" {
		t.Fatalf("429 headers: %v", h)
	}
}

func TestRequestBudgetRecoversAfterTheWindow(t *testing.T) {
	sim, c, _ := newSim(t, true, 10, Faults{Budget: 3, BudgetWindow: 300 * time.Millisecond})
	ctx := context.Background()
	codes := []int{}
	for i := 0; i < 5; i++ {
		_, resp, _ := c.User.GetSelfWithContext(ctx)
		codes = append(codes, resp.StatusCode)
	}
	if fmt.Sprint(codes) != "[200 200 200 429 429]" {
		t.Fatalf("codes %v", codes)
	}
	time.Sleep(350 * time.Millisecond)
	if _, resp, _ := c.User.GetSelfWithContext(ctx); resp.StatusCode != 200 {
		t.Fatalf("after the window: %d", resp.StatusCode)
	}
	if sim.Stats().RateLimited != 2 {
		t.Fatalf("stats: %+v", sim.Stats())
	}
}

func TestConnectionResetsAndTruncatedBodiesFailTheClient(t *testing.T) {
	for name, f := range map[string]Faults{"reset": {ResetRate: 1}, "truncate": {TruncateRate: 1}} {
		_, c, _ := newSim(t, true, 50, f)
		_, _, err := c.Issue.SearchV2JQLWithContext(context.Background(), "project = SHOP", &jira.SearchOptionsV2{Fields: searchFields})
		if err == nil {
			t.Errorf("%s: the client saw no error", name)
		}
	}
}

func longChangelogIssue(t testing.TB, sim *Sim) *Issue {
	for i := 0; i < sim.gen.Len(); i++ {
		if is := sim.Issue(i); len(is.Histories) > 60 {
			return is
		}
	}
	t.Fatal("no issue with a long changelog generated")
	return nil
}

func TestChangelogIsCappedInlineAndPagedInFull(t *testing.T) {
	sim, c, _ := newSim(t, true, 600, Faults{})
	ctx := context.Background()
	want := longChangelogIssue(t, sim)
	issues, _, err := c.Issue.SearchV2JQLWithContext(ctx, "key = "+want.Key, &jira.SearchOptionsV2{Fields: []string{"summary"}, Expand: "changelog"})
	if err != nil || len(issues) != 1 {
		t.Fatal(err)
	}
	if got := len(issues[0].Changelog.Histories); got != 40 {
		t.Fatalf("inline changelog holds %d histories, want the cap of 40", got)
	}
	type page struct {
		StartAt, MaxResults, Total int
		IsLast                     bool
		Values                     []jira.ChangelogHistory
	}
	var all []jira.ChangelogHistory
	for start := 0; ; {
		req, err := c.NewRequestWithContext(ctx, "GET", fmt.Sprintf("rest/api/2/issue/%s/changelog?startAt=%d&maxResults=25", want.Key, start), nil)
		if err != nil {
			t.Fatal(err)
		}
		var p page
		if _, err := c.Do(req, &p); err != nil {
			t.Fatal(err)
		}
		if p.Total != len(want.Histories) {
			t.Fatalf("total %d, want %d", p.Total, len(want.Histories))
		}
		all = append(all, p.Values...)
		if p.IsLast {
			break
		}
		start += len(p.Values)
	}
	if len(all) != len(want.Histories) {
		t.Fatalf("paged %d histories, want %d", len(all), len(want.Histories))
	}
	for k, h := range all {
		if h.Id != fmt.Sprint(want.Histories[k].ID) {
			t.Fatalf("history %d is %s, want %d", k, h.Id, want.Histories[k].ID)
		}
	}
}

func TestDataCenterSearchPagesWithStartAtAndTotal(t *testing.T) {
	sim, c, url := newSim(t, false, 250, Faults{})
	ctx := context.Background()
	var keys []string
	for start := 0; ; {
		issues, resp, err := c.Issue.SearchWithContext(ctx, "project = APP ORDER BY created ASC", &jira.SearchOptions{StartAt: start, MaxResults: 500, Expand: "changelog",
			Fields: []string{"summary", "status", "customfield_10104", "customfield_10106"}})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Total != 83 || resp.MaxResults != 100 {
			t.Fatalf("total %d maxResults %d, want 83 and the server's cap of 100", resp.Total, resp.MaxResults)
		}
		for _, is := range issues {
			keys = append(keys, is.Key)
		}
		start += len(issues)
		if len(issues) == 0 || start >= resp.Total {
			break
		}
	}
	if len(keys) != 83 || keys[0] != "APP-1" || keys[82] != "APP-83" {
		t.Fatalf("keys %d: %v … %v", len(keys), keys[0], keys[len(keys)-1])
	}
	// Data Center: no enhanced search, no changelog endpoint, the full
	// changelog on the issue, sprints as strings, items without fieldId.
	get(t, url+"/rest/api/2/search/jql?jql=project%3DAPP", false, 404)
	is := longChangelogIssue(t, sim)
	get(t, url+"/rest/api/2/issue/"+is.Key+"/changelog", false, 404)
	body := get(t, url+"/rest/api/2/issue/"+is.Key+"?expand=changelog", false, 200)
	var full jsonIssue
	json.Unmarshal(body, &full)
	if len(full.Changelog.Histories) != len(is.Histories) {
		t.Fatalf("issue changelog %d of %d histories", len(full.Changelog.Histories), len(is.Histories))
	}
	if strings.Contains(string(body), `"fieldId"`) {
		t.Fatal("Data Center changelog items carry fieldId")
	}
	for i := 0; i < sim.gen.Len(); i++ {
		if s := sim.Issue(i); len(s.Sprints) > 0 {
			b := get(t, url+"/rest/api/2/issue/"+s.Key+"?fields=customfield_10104", false, 200)
			if !strings.Contains(string(b), "com.atlassian.greenhopper.service.sprint.Sprint@") {
				t.Fatalf("sprint field not in the Server string form: %s", b)
			}
			return
		}
	}
	t.Fatal("no issue in a sprint")
}

func TestAgileBoardsSprintsAndSprintIssues(t *testing.T) {
	sim, c, _ := newSim(t, true, 2000, Faults{})
	ctx := context.Background()
	// APP's issues are on two boards: its scrum board and the delivery
	// board over SHOP and APP.
	boards, _, err := c.Board.GetAllBoardsWithContext(ctx, &jira.BoardListOptions{ProjectKeyOrID: "APP"})
	if err != nil || len(boards.Values) != 2 || boards.Values[0].Type != "scrum" || boards.Values[1].ID != crossBoardID || boards.Values[1].Type != "kanban" {
		t.Fatalf("boards of APP: %+v, %v", boards, err)
	}
	all, _, err := c.Board.GetAllBoardsWithContext(ctx, nil)
	if err != nil || len(all.Values) != 4 {
		t.Fatalf("all boards: %d, %v", len(all.Values), err)
	}
	var onCross struct {
		Total  int `json:"total"`
		Issues []struct {
			Key string `json:"key"`
		} `json:"issues"`
	}
	req, _ := c.NewRequestWithContext(ctx, "GET", "rest/agile/1.0/board/99/issue?fields=summary&maxResults=50", nil)
	if _, err := c.Do(req, &onCross); err != nil {
		t.Fatal(err)
	}
	projects := map[string]bool{}
	for _, is := range onCross.Issues {
		projects[strings.SplitN(is.Key, "-", 2)[0]] = true
	}
	if !projects["SHOP"] || !projects["APP"] || projects["OPS"] || onCross.Total < 1000 {
		t.Fatalf("the delivery board holds %d issues of %v", onCross.Total, projects)
	}
	boardID := boards.Values[0].ID
	var sprints []jira.Sprint
	pages := 0
	for start := 0; ; pages++ {
		list, _, err := c.Board.GetAllSprintsWithOptionsWithContext(ctx, boardID, &jira.GetAllSprintsOptions{SearchOptions: jira.SearchOptions{StartAt: start}})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Values) > 50 {
			t.Fatalf("sprint page of %d", len(list.Values))
		}
		sprints = append(sprints, list.Values...)
		start += len(list.Values)
		if list.IsLast {
			break
		}
	}
	if want := len(sim.gen.Sprints(boardID)); len(sprints) != want || pages < 1 {
		t.Fatalf("%d sprints in %d pages, want %d over more than one page", len(sprints), pages+1, want)
	}
	closed, _, err := c.Board.GetAllSprintsWithOptionsWithContext(ctx, boardID, &jira.GetAllSprintsOptions{State: "active"})
	if err != nil || len(closed.Values) != 1 {
		t.Fatalf("active sprints: %v %v", closed, err)
	}
	// Sprint issues: page them (go-jira's GetIssuesForSprint stops at 50).
	sp := sprints[len(sprints)-6]
	want := 0
	for i := 0; i < sim.gen.Len(); i++ {
		for _, id := range sim.Issue(i).Sprints {
			if id == sp.ID {
				want++
			}
		}
	}
	got := 0
	for start := 0; ; {
		req, _ := c.NewRequestWithContext(ctx, "GET", fmt.Sprintf("rest/agile/1.0/sprint/%d/issue?startAt=%d&maxResults=20&fields=summary", sp.ID, start), nil)
		var p struct {
			Total  int
			Issues []jira.Issue
		}
		if _, err := c.Do(req, &p); err != nil {
			t.Fatal(err)
		}
		got += len(p.Issues)
		start += len(p.Issues)
		if start >= p.Total || len(p.Issues) == 0 {
			break
		}
	}
	if got != want || want == 0 {
		t.Fatalf("sprint %d: paged %d issues, want %d", sp.ID, got, want)
	}
}

func TestMetadataEndpointsThroughGoJira(t *testing.T) {
	_, c, url := newSim(t, true, 100, Faults{})
	ctx := context.Background()
	fields, _, err := c.Field.GetListWithContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string][]jira.Field{}
	for _, f := range fields {
		byName[f.Name] = append(byName[f.Name], f)
	}
	if len(byName["Sprint"]) != 1 || byName["Sprint"][0].Schema.Custom != "com.pyxis.greenhopper.jira:gh-sprint" || len(byName["Story point estimate"]) != 1 || len(byName["Business Value"]) != 1 {
		t.Fatalf("fields: %+v", byName)
	}
	statuses, _, err := c.Status.GetAllStatusesWithContext(ctx)
	if err != nil || len(statuses) != len(Statuses) {
		t.Fatalf("statuses: %v", err)
	}
	waiting := map[string]bool{}
	for _, s := range statuses {
		if s.Name == "Waiting" {
			waiting[s.StatusCategory.Key] = true
		}
	}
	if !waiting["new"] || !waiting["indeterminate"] {
		t.Fatalf("the two Waiting statuses: %v", waiting)
	}
	projects, _, err := c.Project.GetListWithContext(ctx)
	if err != nil || len(*projects) != 3 {
		t.Fatalf("projects: %v", err)
	}
	if _, resp, err := c.Project.GetWithContext(ctx, "NOPE"); err == nil || resp.StatusCode != 404 {
		t.Fatalf("unknown project: %v", err)
	}
	var versions []jira.Version
	req, _ := c.NewRequestWithContext(ctx, "GET", "rest/api/2/project/SHOP/versions", nil)
	if _, err := c.Do(req, &versions); err != nil || len(versions) < 40 {
		t.Fatalf("versions: %d, %v", len(versions), err)
	}
	released := 0
	for _, v := range versions {
		if v.Released != nil && *v.Released {
			released++
		}
	}
	if released == 0 || released == len(versions) {
		t.Fatalf("%d of %d versions released", released, len(versions))
	}
	var info map[string]any
	json.Unmarshal(get(t, url+"/rest/api/2/serverInfo", true, 200), &info)
	if info["deploymentType"] != "Cloud" {
		t.Fatalf("serverInfo: %v", info)
	}
	me, _, err := c.User.GetSelfWithContext(ctx)
	if err != nil || me.TimeZone != "Europe/Berlin" {
		t.Fatalf("myself: %+v %v", me, err)
	}
}

func TestSameSeedSameData(t *testing.T) {
	page := func(seed uint64) string {
		sim, _ := New(Options{Config: Config{Seed: seed, Issues: 300, Cloud: true}})
		var b strings.Builder
		for i := 0; i < 300; i += 7 {
			j, _ := json.Marshal(sim.issueJSON(sim.Issue(i), parseFields("*all", false), true, 40, false))
			b.Write(j)
		}
		return b.String()
	}
	a, b, c := page(7), page(7), page(8)
	if a != b {
		t.Fatal("the same seed gave different data")
	}
	if a == c {
		t.Fatal("another seed gave the same data")
	}
}

func TestUpdatedFilterSeesMutations(t *testing.T) {
	sim, c, _ := newSim(t, true, 400, Faults{})
	ctx := context.Background()
	at := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	touched := []string{"SHOP-3", "APP-10", "OPS-7", "SHOP-100", "APP-1"}
	for _, k := range touched {
		if err := sim.Touch(k, at); err != nil {
			t.Fatal(err)
		}
	}
	if err := sim.Transition("OPS-7", "10005", at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	since := at.Add(-time.Minute).In(sim.gen.loc).Format("2006/01/02 15:04")
	issues, _, err := c.Issue.SearchV2JQLWithContext(ctx, fmt.Sprintf(`project in (SHOP, APP, OPS) AND updated >= "%s" ORDER BY created ASC`, since),
		&jira.SearchOptionsV2{Fields: []string{"status", "updated"}, Expand: "changelog"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, is := range issues {
		got = append(got, is.Key)
		if is.Key == "OPS-7" && is.Fields.Status.Name != "Done" {
			t.Errorf("OPS-7 status %s after the transition", is.Fields.Status.Name)
		}
	}
	sort.Strings(got)
	sort.Strings(touched)
	if fmt.Sprint(got) != fmt.Sprint(touched) {
		t.Fatalf("updated >= %s found %v, want %v", since, got, touched)
	}
	if err := sim.Delete("APP-10"); err != nil {
		t.Fatal(err)
	}
	issues, _, _ = c.Issue.SearchV2JQLWithContext(ctx, fmt.Sprintf(`updated >= "%s"`, since), &jira.SearchOptionsV2{Fields: []string{"status"}})
	if len(issues) != 4 {
		t.Fatalf("after deleting APP-10: %d issues", len(issues))
	}
}

// The generated data has the shapes the metrics must handle.
func TestGeneratedDataIsRealistic(t *testing.T) {
	sim, err := New(Options{Config: Config{Seed: 7, Issues: 3000, Cloud: true}})
	if err != nil {
		t.Fatal(err)
	}
	var reopened, skipped, carried, removed, readyNotLast, waitingNew, waitingIP, long, html, created, unstarted int
	var cycles []float64
	for i := 0; i < 3000; i++ {
		is := sim.Issue(i)
		if strings.Contains(is.Summary, "<script>") {
			html++
		}
		var seenDone, seenIP bool
		var start, done time.Time
		for _, h := range is.Histories {
			for _, it := range h.Items {
				switch it.Field {
				case "status":
					to := statusByID[*it.To]
					from := statusByID[*it.From]
					if to.Category == "done" && from.Category != "done" && seenDone {
						reopened++
					}
					if to.Category == "done" && !seenIP && from.Category == "new" {
						skipped++
					}
					if to.Category == "indeterminate" {
						if !seenIP {
							start = h.Created
						}
						seenIP = true
					}
					if to.Category == "done" && from.Category != "done" {
						seenDone = true
						done = h.Created
					}
					if from.ID == stReady.ID && to.ID == stReleased.ID {
						readyNotLast++
					}
					if to.ID == stWaitingNew.ID {
						waitingNew++
					}
					if to.ID == stWaitingIP.ID {
						waitingIP++
					}
				case "Sprint":
					if strings.Count(*it.To, ",") > strings.Count(*it.From, ",") && *it.From != "" {
						carried++
					}
					if *it.To == "" {
						removed++
					}
				}
			}
		}
		if is.initial.Category == "indeterminate" {
			created++
		}
		if !seenIP && is.Status.Category == "new" {
			unstarted++
		}
		if len(is.Histories) > 40 {
			long++
		}
		if !start.IsZero() && !done.IsZero() && is.Status.Category == "done" {
			cycles = append(cycles, done.Sub(start).Hours()/24)
		}
	}
	sort.Float64s(cycles)
	p50, p95 := cycles[len(cycles)/2], cycles[len(cycles)*95/100]
	t.Logf("reopened %d, skipped %d, carried %d, removed %d, ready→released %d, waiting new/ip %d/%d, long %d, created in progress %d, unstarted %d, cycle p50 %.1f p95 %.1f",
		reopened, skipped, carried, removed, readyNotLast, waitingNew, waitingIP, long, created, unstarted, p50, p95)
	for name, n := range map[string]int{"reopened": reopened, "skipped": skipped, "carried over": carried, "removed from sprint": removed,
		"ready→released": readyNotLast, "waiting (new)": waitingNew, "waiting (in progress)": waitingIP, "long changelogs": long,
		"HTML summaries": html, "created in progress": created, "never started": unstarted} {
		if n == 0 {
			t.Errorf("no %s in 3000 issues", name)
		}
	}
	if p95/p50 < 3 {
		t.Errorf("cycle times are not heavy-tailed: p50 %.1f p95 %.1f", p50, p95)
	}
}

// shape compares the JSON of a real sample and of the simulator: every key
// the simulator writes must exist in the sample with the same JSON type
// (null matches anything), and every key of the sample named in required
// must be written by the simulator.
func shape(t *testing.T, path string, real, sim any, extra map[string]bool) {
	t.Helper()
	if real == nil || sim == nil {
		return
	}
	switch r := real.(type) {
	case map[string]any:
		s, ok := sim.(map[string]any)
		if !ok {
			t.Errorf("%s: real is an object, simulator wrote %T", path, sim)
			return
		}
		for k, sv := range s {
			rv, has := r[k]
			if !has {
				if !extra[k] && !strings.HasPrefix(k, "customfield_") {
					t.Errorf("%s.%s: written by the simulator, absent from the real sample", path, k)
				}
				continue
			}
			shape(t, path+"."+k, rv, sv, extra)
		}
	case []any:
		s, ok := sim.([]any)
		if !ok {
			t.Errorf("%s: real is an array, simulator wrote %T", path, sim)
			return
		}
		if len(r) > 0 && len(s) > 0 {
			shape(t, path+"[0]", r[0], s[0], extra)
		}
	default:
		if fmt.Sprintf("%T", real) != fmt.Sprintf("%T", sim) {
			t.Errorf("%s: real is %T (%v), simulator wrote %T (%v)", path, real, real, sim, sim)
		}
	}
}

func TestResponsesMatchRealSamples(t *testing.T) {
	cloud, _, cloudURL := newSim(t, true, 3000, Faults{})
	dc, _, dcURL := newSim(t, false, 300, Faults{})
	long := longChangelogIssue(t, cloud)
	var sprintKey string
	for i := 0; i < 300; i++ {
		if is := dc.Issue(i); len(is.Sprints) > 0 && len(is.Histories) > 2 {
			sprintKey = is.Key
			break
		}
	}
	all := "summary,description,issuetype,status,priority,labels,components,fixVersions,project,created,updated,resolutiondate,resolution"
	for _, c := range []struct {
		sample string
		url    string
		cloud  bool
		extra  map[string]bool // keys Jira writes that the sample happens not to show
	}{
		{"statuses.json", cloudURL + "/rest/api/2/status", true, nil},
		{"board_sprints.json", cloudURL + "/rest/agile/1.0/board/1/sprint", true, map[string]bool{"goal": true, "createdDate": true}},
		{"boards.json", cloudURL + "/rest/agile/1.0/board", true, map[string]bool{"location": true}},
		{"sprint_issues.json", cloudURL + "/rest/agile/1.0/sprint/1030/issue?fields=" + all, true, map[string]bool{"summary": true, "components": true, "hierarchyLevel": true, "projectTypeKey": true, "simplified": true, "description": true}},
		{"project.json", cloudURL + "/rest/api/2/project/SHOP", true, map[string]bool{"projectTypeKey": true, "simplified": true, "style": true, "isPrivate": true}},
		{"changelog_cloud.json", cloudURL + "/rest/api/2/issue/" + long.Key + "/changelog?startAt=2&maxResults=2", true, nil},
		{"search_jql_cloud.json", cloudURL + "/rest/api/2/search/jql?jql=project%3DSHOP&maxResults=2&expand=changelog&fields=" + all + ",customfield_10016,customfield_10014,customfield_10019,customfield_10020", true, nil},
		{"search_dc.json", dcURL + "/rest/api/2/search?jql=key%3D" + sprintKey + "&expand=changelog&fields=summary,status,created,updated,customfield_10104", false, nil},
		{"fields_cloud.json", cloudURL + "/rest/api/2/field", true, nil},
		{"server_info_cloud.json", cloudURL + "/rest/api/2/serverInfo", true, nil},
		{"error_410.json", cloudURL + "/rest/api/2/search?jql=project%3DSHOP", true, nil},
	} {
		t.Run(c.sample, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "real", c.sample))
			if err != nil {
				t.Fatal(err)
			}
			var real, sim any
			if err := json.Unmarshal(raw, &real); err != nil {
				t.Fatal(err)
			}
			want := 200
			if c.sample == "error_410.json" {
				want = 410
			}
			if err := json.Unmarshal(get(t, c.url, c.cloud, want), &sim); err != nil {
				t.Fatal(err)
			}
			shape(t, strings.TrimSuffix(c.sample, ".json"), real, sim, c.extra)
		})
	}
}

// TestRealWorldShapes: the generator gives about one issue in nine a shape
// of real sites, at its rate and in the form real Jira writes it.
func TestRealWorldShapes(t *testing.T) {
	const n = 20000
	g, err := NewGenerator(Config{Seed: 7, Issues: n, Cloud: true})
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, st := range Statuses {
		listed[st.ID] = true
	}
	counts := map[string]int{}
	for i := 0; i < n; i++ {
		is := g.Issue(i)
		if is.Shape == "" {
			continue
		}
		counts[is.Shape]++
		var items []Item
		for _, h := range is.Histories {
			items = append(items, h.Items...)
		}
		has := func(field string, ok func(Item) bool) bool {
			for _, it := range items {
				if it.Field == field && ok(it) {
					return true
				}
			}
			return false
		}
		var lastStatus string
		for _, it := range items {
			if it.Field == "status" {
				lastStatus = *it.To
			}
		}
		if lastStatus != "" && !listed[lastStatus] {
			t.Fatalf("%s (%s) is in the deleted status %s", is.Key, is.Shape, lastStatus)
		}
		bad := ""
		switch is.Shape {
		case ShapeCreatedDone:
			if len(is.Histories) > 0 || is.Status.Category != "done" || is.Resolution.Before(is.Created) {
				bad = "not created done without a changelog"
			}
		case ShapeResolvedBeforeCreated:
			if len(is.Histories) > 0 || is.Status.Category != "done" || !is.Resolution.Before(is.Created) {
				bad = "not resolved before its creation"
			}
		case ShapeChangelogBeforeCreated:
			if !is.Histories[0].Created.Before(is.Created) {
				bad = "its changelog starts after its creation"
			}
		case ShapeMoved:
			first := is.Histories[0].Items
			if len(first) != 4 || first[0].Field != "project" || first[1].Field != "Key" || *first[1].FromString != is.OldKey ||
				*first[1].ToString != is.Key || first[2].Field != "Workflow" || *first[3].From != stTriage.ID {
				bad = "no move history"
			}
		case ShapeDeletedStatus:
			if !has("status", func(it Item) bool { return !listed[*it.To] }) {
				bad = "no deleted status"
			}
		case ShapeResolvedOpen:
			last := is.Histories[len(is.Histories)-1].Items
			reopenedResolved := len(last) == 1 && last[0].Field == "status" && statusByID[*last[0].From].Category == "done"
			wontDo := has("resolution", func(it Item) bool { return it.ToString != nil && *it.ToString == "Won't Do" })
			if is.Status.Category == "done" || is.Resolution.IsZero() || !(reopenedResolved || wontDo) {
				bad = "not resolved while open"
			}
		case ShapeTypeChanged:
			if !has("issuetype", func(it Item) bool { return *it.ToString == is.Type && *it.FromString != is.Type }) {
				bad = "no type change"
			}
		case ShapeSubtask:
			parent := g.Issue(i - len(g.projects))
			if is.Type != "Sub-task" || is.ParentKey != parent.Key || (parent.Type != "Story" && parent.Type != "Task") || len(is.Sprints) > 0 || is.EpicKey != "" {
				bad = "not a sub-task of the story before it"
			}
		case ShapeBackwards:
			if !has("status", func(it Item) bool {
				from, to := statusByID[*it.From], statusByID[*it.To]
				return (from.Category == "indeterminate" && to.Category == "new") || (from.ID == stReview.ID && to.ID == stInProgress.ID)
			}) {
				bad = "no backwards move"
			}
		case ShapeCreatedOutOfRange:
			if is.Created.Year() != 20 || is.Updated.Year() < 2020 {
				bad = "not created in the year 20"
			}
		case ShapeDueOutOfRange:
			if is.Due.Year() != 20 || is.Created.Year() < 2020 {
				bad = "not due in the year 20"
			}
		}
		if bad != "" {
			t.Fatalf("%s (%s): %s: %+v", is.Key, is.Shape, bad, is)
		}
	}
	t.Logf("shapes in %d issues: %v", n, counts)
	for _, s := range shapeRates {
		want := float64(s.per) * n / 100000
		// Shapes that need something of the issue (a changelog, an open
		// status, a parent, a review) apply to part of those drawn.
		if got := float64(counts[s.shape]); got < want*0.2 || got > want*1.5 {
			t.Errorf("%s: %v issues, want about %v", s.shape, got, want)
		}
	}
}
