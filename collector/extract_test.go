package collector

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	jira "github.com/andygrunwald/go-jira"

	"github.com/evident-ebm/evident"
)

// checkTimeline asserts what every timeline Extract builds must hold: no
// change before the creation, times never going back, each change starting
// where the one before ended and the last ending in the issue's status, no
// negative stay, no negative lead or cycle time.
func checkTimeline(t *testing.T, rows Rows) {
	t.Helper()
	tl, is := rows.Timeline, rows.Issue
	if !tl.Created.Equal(is.CreatedAt) {
		t.Errorf("timeline created %s, issue %s", tl.Created, is.CreatedAt)
	}
	prev, cur := tl.Created, tl.Initial
	for i, c := range tl.Changes {
		if c.At.Before(prev) {
			t.Errorf("change %d at %s goes back before %s", i, c.At, prev)
		}
		if c.From != cur {
			t.Errorf("change %d from %+v, the issue was in %+v", i, c.From, cur)
		}
		prev, cur = c.At, c.To
	}
	if len(tl.Changes) > 0 && is.StatusID != "" && cur.ID != is.StatusID {
		t.Errorf("timeline ends in %+v, the issue is in %s", cur, is.StatusID)
	}
	for _, st := range tl.Stays() {
		if st.Seconds < 0 {
			t.Errorf("negative stay %+v", st)
		}
	}
	if is.DoneAt != nil && is.DoneAt.Before(is.CreatedAt) {
		t.Errorf("lead time negative: created %s done %s", is.CreatedAt, *is.DoneAt)
	}
	if is.DoneAt != nil && is.StartedAt != nil && is.DoneAt.Before(*is.StartedAt) {
		t.Errorf("cycle time negative: started %s done %s", *is.StartedAt, *is.DoneAt)
	}
	if len(rows.Transitions) != len(tl.Changes) {
		t.Errorf("%d transitions for %d timeline changes", len(rows.Transitions), len(tl.Changes))
	}
}

// Statuses of the fixtures: two named "Waiting" in different categories,
// and a done-category "Ready for Release" before "Released".
var testStatuses = map[string]string{
	"10000": "new", "3": "indeterminate", "10002": "indeterminate", "10003": "done", "10004": "done",
	"10005": "done", "10007": "new", "10008": "indeterminate", "10001": "new",
}

var statusNames = map[string]string{
	"10000": "Backlog", "3": "In Progress", "10002": "In Review", "10003": "Ready for Release", "10004": "Released",
	"10005": "Done", "10007": "Waiting", "10008": "Waiting", "10001": "Selected for Development", "999": "Gone",
	"998": "In Progress", // deleted from the site, named like a listed status
}

func testMapping() Mapping {
	return Mapping{Site: "s", Version: 1, StatusCategory: testStatuses,
		Fields: FieldIDs{StoryPoints: "customfield_10016", Sprint: "customfield_10020", EpicLink: "customfield_10014", BusinessValue: "customfield_10030", Rank: "customfield_10019",
			ParentLink: "customfield_10400"}}
}

// h is a status change history: "id@time:from>to".
func h(spec string) string {
	id, rest, _ := strings.Cut(spec, "@")
	at, change, _ := strings.Cut(rest, "|")
	from, to, _ := strings.Cut(change, ">")
	return fmt.Sprintf(`{"id":%q,"created":%q,"items":[{"field":"status","fieldtype":"jira","fieldId":"status","from":%q,"fromString":%q,"to":%q,"toString":%q}]}`,
		id, at, from, statusNames[from], to, statusNames[to])
}

func sprintH(id, at, from, to string) string {
	return fmt.Sprintf(`{"id":%q,"created":%q,"items":[{"field":"Sprint","fieldtype":"custom","fieldId":"customfield_10020","from":%q,"fromString":"","to":%q,"toString":""}]}`, id, at, from, to)
}

func issueJSON(status string, extraFields string, histories ...string) []byte {
	cat := testStatuses[status]
	fields := fmt.Sprintf(`"summary":"S","issuetype":{"name":"Story"},"project":{"key":"EV"},"created":"2024-03-01T10:00:00.000+0100","updated":"2024-03-20T10:00:00.000+0100",
		"status":{"id":%q,"name":%q,"statusCategory":{"key":%q}}`, status, statusNames[status], cat)
	if extraFields != "" {
		fields += "," + extraFields
	}
	return []byte(fmt.Sprintf(`{"id":"42","key":"EV-1","fields":{%s},"changelog":{"startAt":0,"maxResults":%d,"total":%d,"histories":[%s]}}`,
		fields, len(histories), len(histories), strings.Join(histories, ",")))
}

func ts(s string) *time.Time {
	t, err := ParseJiraTime(s)
	if err != nil {
		panic(err)
	}
	return &t
}

func eqTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func fmtT(t *time.Time) string {
	if t == nil {
		return "null"
	}
	return t.Format(time.RFC3339)
}

func TestExtractDerivesStartAndDone(t *testing.T) {
	created := "2024-03-01T10:00:00.000+0100"
	for _, c := range []struct {
		name          string
		raw           []byte
		mapping       func(*Mapping)
		started, done *time.Time
		findings      []string // the checks it must raise, in order
	}{
		{
			name: "a reopened issue counts once, at its final completion",
			raw: issueJSON("10005", "",
				h("1@2024-03-02T10:00:00.000+0100|10000>3"), h("2@2024-03-04T10:00:00.000+0100|3>10005"),
				h("3@2024-03-06T10:00:00.000+0100|10005>3"), h("4@2024-03-08T12:30:00.000+0100|3>10005")),
			started: ts("2024-03-02T10:00:00.000+0100"), done: ts("2024-03-08T12:30:00.000+0100"),
		},
		{
			name:    "an issue that skips In Progress is done but never started",
			raw:     issueJSON("10005", "", h("1@2024-03-02T10:00:00.000+0100|10000>10005")),
			started: nil, done: ts("2024-03-02T10:00:00.000+0100"),
		},
		{
			name: "a move between two done statuses does not change done_at",
			raw: issueJSON("10004", "", h("1@2024-03-02T10:00:00.000+0100|10000>3"),
				h("2@2024-03-05T10:00:00.000+0100|3>10003"), h("3@2024-03-09T10:00:00.000+0100|10003>10004")),
			started: ts("2024-03-02T10:00:00.000+0100"), done: ts("2024-03-05T10:00:00.000+0100"),
		},
		{
			name: "statuses are told apart by id, not by their shared name",
			raw: issueJSON("10005", "", h("1@2024-03-02T10:00:00.000+0100|10000>10007"),
				h("2@2024-03-03T10:00:00.000+0100|10007>10008"), h("3@2024-03-05T10:00:00.000+0100|10008>10005")),
			started: ts("2024-03-03T10:00:00.000+0100"), done: ts("2024-03-05T10:00:00.000+0100"),
		},
		{
			name:    "an issue created in progress started at creation",
			raw:     issueJSON("3", ""),
			started: ts(created), done: nil,
		},
		{
			name:    "an issue created in progress and moved on started at creation",
			raw:     issueJSON("10005", "", h("1@2024-03-04T10:00:00.000+0100|3>10005")),
			started: ts(created), done: ts("2024-03-04T10:00:00.000+0100"),
		},
		{
			name:    "a done issue without status changes is done at its resolution date",
			raw:     issueJSON("10005", `"resolutiondate":"2024-03-07T09:00:00.000+0000"`),
			started: nil, done: ts("2024-03-07T09:00:00.000+0000"),
		},
		{
			name:    "a done issue without status changes or resolution date is done at creation",
			raw:     issueJSON("10005", ""),
			started: nil, done: ts(created),
		},
		{
			name: "an issue reopened and still open is not done",
			raw: issueJSON("3", "", h("1@2024-03-02T10:00:00.000+0100|10000>3"), h("2@2024-03-04T10:00:00.000+0100|3>10005"),
				h("3@2024-03-06T10:00:00.000+0100|10005>3")),
			started: ts("2024-03-02T10:00:00.000+0100"), done: nil,
		},
		{
			name: "histories out of order in the JSON are replayed by time, ties by id",
			raw: issueJSON("10005", "", h("7@2024-03-04T10:00:00.000+0100|3>10005"), h("5@2024-03-02T10:00:00.000+0100|10000>10002"),
				h("6@2024-03-02T10:00:00.000+0100|10002>3")),
			started: ts("2024-03-02T10:00:00.000+0100"), done: ts("2024-03-04T10:00:00.000+0100"),
		},
		{
			name:    "timezone offsets are converted to UTC",
			raw:     issueJSON("10005", "", h("1@2024-03-02T10:00:00.000+0530|10000>3"), h("2@2024-03-02T23:30:00.000-0800|3>10005")),
			started: ts("2024-03-02T04:30:00.000+0000"), done: ts("2024-03-03T07:30:00.000+0000"),
		},
		{
			name: "a project may count Ready for Release as not done and Selected as a start",
			raw: issueJSON("10004", "", h("1@2024-03-02T10:00:00.000+0100|10000>10001"), h("2@2024-03-03T10:00:00.000+0100|10001>3"),
				h("3@2024-03-05T10:00:00.000+0100|3>10003"), h("4@2024-03-09T10:00:00.000+0100|10003>10004")),
			mapping: func(m *Mapping) {
				m.Projects = map[string]ProjectSettings{"EV": {StatusCategories: map[string]string{"Ready for Release": "indeterminate"}, StartStatuses: []string{"Selected for Development"}}}
			},
			started: ts("2024-03-02T10:00:00.000+0100"), done: ts("2024-03-09T10:00:00.000+0100"),
		},
		{
			name:    "a status the site no longer has is counted as new and reported",
			raw:     issueJSON("10005", "", h("1@2024-03-02T10:00:00.000+0100|999>3"), h("2@2024-03-04T10:00:00.000+0100|3>10005")),
			started: ts("2024-03-02T10:00:00.000+0100"), done: ts("2024-03-04T10:00:00.000+0100"), findings: []string{evident.CheckStatusUnknown},
		},
		{
			name: "a deleted status takes the category of a listed status of its name",
			raw:  issueJSON("10005", "", h("1@2024-03-02T10:00:00.000+0100|10000>998"), h("2@2024-03-04T10:00:00.000+0100|998>10005")),
			mapping: func(m *Mapping) {
				m.CategoryByName = map[string]string{"In Progress": "indeterminate"}
			},
			started: ts("2024-03-02T10:00:00.000+0100"), done: ts("2024-03-04T10:00:00.000+0100"), findings: []string{evident.CheckStatusUnknown},
		},
		{
			name:    "created done, resolved before created: done at creation, lead time 0",
			raw:     issueJSON("10005", `"resolutiondate":"2024-02-20T09:00:00.000+0000"`),
			started: nil, done: ts(created), findings: []string{evident.CheckResolvedBeforeCreated},
		},
		{
			name:    "changes dated before the creation count at the creation",
			raw:     issueJSON("10005", "", h("1@2024-02-01T10:00:00.000+0100|10000>3"), h("2@2024-02-02T10:00:00.000+0100|3>10005")),
			started: ts(created), done: ts(created), findings: []string{evident.CheckChangeBeforeCreated},
		},
		{
			name:    "a change from a status the issue was not in counts from where it was",
			raw:     issueJSON("10005", "", h("1@2024-03-02T10:00:00.000+0100|10000>3"), h("2@2024-03-04T10:00:00.000+0100|10002>10005")),
			started: ts("2024-03-02T10:00:00.000+0100"), done: ts("2024-03-04T10:00:00.000+0100"), findings: []string{evident.CheckChangelogGap},
		},
		{
			name:    "a changelog that ends elsewhere than the issue: the issue's own status from the last change",
			raw:     issueJSON("10005", "", h("1@2024-03-02T10:00:00.000+0100|10000>3")),
			started: ts("2024-03-02T10:00:00.000+0100"), done: ts("2024-03-02T10:00:00.000+0100"), findings: []string{evident.CheckChangelogDisagrees},
		},
		{
			name:    "a resolution on an open issue is reported and ignored",
			raw:     issueJSON("10000", `"resolutiondate":"2024-03-07T09:00:00.000+0000"`),
			started: nil, done: nil, findings: []string{evident.CheckResolvedNotDone},
		},
		{
			name: "a start status configured after done: started clamped to done",
			raw:  issueJSON("10004", "", h("1@2024-03-02T10:00:00.000+0100|10000>10003"), h("2@2024-03-05T10:00:00.000+0100|10003>10004")),
			mapping: func(m *Mapping) {
				m.Projects = map[string]ProjectSettings{"EV": {StartStatuses: []string{"Released"}}}
			},
			started: ts("2024-03-02T10:00:00.000+0100"), done: ts("2024-03-02T10:00:00.000+0100"), findings: []string{evident.CheckDoneBeforeStarted},
		},
		{
			name:    "a history dated in 1900 is left out: the issue starts where the next one moves from",
			raw:     issueJSON("10005", "", h("1@1900-03-02T10:00:00.000+0100|10000>3"), h("2@2024-03-04T10:00:00.000+0100|3>10005")),
			started: ts(created), done: ts("2024-03-04T10:00:00.000+0100"), findings: []string{evident.CheckDateOutOfRange},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := testMapping()
			if c.mapping != nil {
				c.mapping(&m)
			}
			rows, err := Extract(c.raw, m)
			if err != nil {
				t.Fatal(err)
			}
			if !eqTime(rows.Issue.StartedAt, c.started) || !eqTime(rows.Issue.DoneAt, c.done) {
				t.Errorf("started %s done %s, want %s and %s", fmtT(rows.Issue.StartedAt), fmtT(rows.Issue.DoneAt), fmtT(c.started), fmtT(c.done))
			}
			var got []string
			for _, f := range rows.Findings {
				got = append(got, f.Check)
				if f.IssueKey != "EV-1" || f.Note == "" {
					t.Errorf("finding without the issue key or a note: %+v", f)
				}
			}
			if strings.Join(got, ",") != strings.Join(c.findings, ",") {
				t.Errorf("findings %v, want %v", rows.Findings, c.findings)
			}
			checkTimeline(t, rows)
		})
	}
}

func TestExtractFields(t *testing.T) {
	raw := issueJSON("10005", `"labels":["a","b"],"components":[{"name":"Checkout"}],"fixVersions":[{"name":"1.2"}],"priority":{"name":"High"},
		"customfield_10016":5,"customfield_10030":"120","customfield_10014":"EV-9","customfield_10019":"0|i0001:","description":"x",
		"customfield_10020":[{"id":7,"name":"S7","state":"closed"},{"id":8,"name":"S8","state":"active"}],"resolutiondate":"2024-03-04T10:00:00.000+0100"`,
		h("1@2024-03-04T10:00:00.000+0100|10000>10005"))
	rows, err := Extract(raw, testMapping())
	if err != nil || len(rows.Findings) != 0 {
		t.Fatal(err, rows.Findings)
	}
	is := rows.Issue
	if is.IssueID != 42 || is.IssueKey != "EV-1" || is.ProjectKey != "EV" || is.IssueType != "Story" || is.WorkCategory != "feature" ||
		is.Priority != "High" || fmt.Sprint(is.Labels) != "[a b]" || fmt.Sprint(is.Components) != "[Checkout]" || fmt.Sprint(is.FixVersions) != "[1.2]" ||
		*is.StoryPoints != 5 || *is.BusinessValue != 120 || is.EpicKey != "EV-9" || is.Rank != "0|i0001:" || is.HasDescription != 1 ||
		fmt.Sprint(is.SprintIDs) != "[7 8]" || is.StatusCategory != "done" || !is.CreatedAt.Equal(*ts("2024-03-01T09:00:00.000+0000")) {
		t.Fatalf("issue %+v", is)
	}
	if rows.Raw.JSON != string(raw) || rows.Raw.ContentHash == 0 {
		t.Fatal("raw JSON not kept as received")
	}
	if len(rows.Transitions) != 1 || rows.Transitions[0].FromCategory != "new" || rows.Transitions[0].ToCategory != "done" {
		t.Fatalf("transitions %+v", rows.Transitions)
	}
}

func TestParseSprintFieldBothForms(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{`[{"id":7,"name":"A","state":"closed","boardId":8},{"id":12,"name":"B"}]`, "[7 12]", ""},
		{`["com.atlassian.greenhopper.service.sprint.Sprint@1a2b[id=266,rapidViewId=174,state=CLOSED,name=Sprint, with comma,startDate=2020-06-12T00:38:51.882Z,endDate=<null>,completeDate=<null>,sequence=266,goal=<null>]"]`, "[266]", ""},
		{`null`, "[]", ""},
		{`[]`, "[]", ""},
		{`"7"`, "[]", "want an array"},
		{`["garbage"]`, "[]", "no id="},
		{`[{"name":"no id"}]`, "[]", "has no id"},
	} {
		ids, err := ParseSprintField(json.RawMessage(c.in))
		if fmt.Sprint(append([]uint64{}, ids...)) != c.want || (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("ParseSprintField(%s) = %v, %v; want %s, %q", c.in, ids, err, c.want, c.err)
		}
	}
}

func TestExtractSprintChanges(t *testing.T) {
	raw := issueJSON("10005", `"customfield_10020":[{"id":102}]`,
		sprintH("10", "2024-03-02T10:00:00.000+0100", "101", "101, 102"),
		sprintH("11", "2024-03-03T10:00:00.000+0100", "101, 102", "102"),
		h("12@2024-03-04T10:00:00.000+0100|10000>10005"))
	rows, err := Extract(raw, testMapping())
	if err != nil || len(rows.Findings) != 0 {
		t.Fatal(err, rows.Findings)
	}
	var got []string
	for _, s := range rows.SprintChange {
		got = append(got, fmt.Sprintf("%d:%d:%d@%s", s.HistoryID, s.SprintID, s.Added, s.ChangedAt.Format("02T15")))
	}
	// In 101 from creation, 102 added, 101 removed.
	want := "[0:101:1@01T09 10:102:1@02T09 11:101:0@03T09]"
	if fmt.Sprint(got) != want {
		t.Fatalf("sprint changes %v, want %s", got, want)
	}
}

func TestExtractSprintItemsWithoutFieldID(t *testing.T) {
	// Data Center changelog items carry no fieldId: matched by name.
	raw := issueJSON("3", "", `{"id":"9","created":"2024-03-02T10:00:00.000+0100","items":[{"field":"Sprint","fieldtype":"custom","from":"","fromString":"","to":"266","toString":"S"}]}`)
	rows, err := Extract(raw, testMapping())
	if err != nil || len(rows.SprintChange) != 1 || rows.SprintChange[0].SprintID != 266 {
		t.Fatalf("%+v %v", rows.SprintChange, err)
	}
}

func TestExtractBadFieldsAreReportedNotFatal(t *testing.T) {
	raw := []byte(`{"id":"43","key":"EV-2","fields":{"summary":12,"labels":"oops","customfield_10016":"abc","created":"yesterday",
		"updated":"2024-03-20T10:00:00.000+0100","status":{"id":"3","name":"In Progress","statusCategory":{"key":"sideways"}},"customfield_10020":"x"},
		"changelog":{"startAt":0,"maxResults":1,"total":1,"histories":[{"id":"x","created":"2024-03-02T10:00:00.000+0100","items":[]}]}}`)
	rows, err := Extract(raw, testMapping())
	if err != nil {
		t.Fatal(err)
	}
	problems := rows.Findings
	fields := map[string]bool{}
	for _, p := range problems {
		fields[p.Field] = true
		if p.IssueKey != "EV-2" {
			t.Errorf("problem without the issue key: %+v", p)
		}
	}
	for _, f := range []string{"summary", "labels", "customfield_10016", "created", "status", "customfield_10020", "changelog"} {
		if !fields[f] {
			t.Errorf("no problem reported for %s; got %v", f, problems)
		}
	}
	if rows.Issue.IssueKey != "EV-2" || rows.Issue.StoryPoints != nil || rows.Issue.CreatedAt.IsZero() {
		t.Errorf("issue not kept with what could be read: %+v", rows.Issue)
	}
	for _, c := range []struct{ name, raw, key, reason string }{
		{"no id", `{"key":"EV-3"}`, "EV-3", "is not a number"},
		{"malformed JSON", `{"id":"4`, "", "not an issue's JSON"},
		{"no date at all", `{"id":"44","key":"EV-4","fields":{}}`, "EV-4", "no readable creation date"},
		{"created in 1900", `{"id":"45","key":"EV-5","fields":{"created":"1900-01-01T00:00:00.000+0000"}}`, "EV-5", "no readable creation date"},
	} {
		_, err := Extract([]byte(c.raw), testMapping())
		var se *SkipError
		if !errors.As(err, &se) || se.Key != c.key || !strings.Contains(se.Reason, c.reason) {
			t.Errorf("%s: %v, want a skip of %q saying %q", c.name, err, c.key, c.reason)
		}
	}
}

func TestExtractMissingFields(t *testing.T) {
	rows, err := Extract([]byte(`{"id":"44","key":"EV-4","fields":{"created":"2024-03-01T10:00:00.000+0100"}}`), testMapping())
	if err != nil {
		t.Fatal(err)
	}
	if rows.Issue.ProjectKey != "EV" || rows.Issue.StartedAt != nil || rows.Issue.DoneAt != nil || len(rows.Findings) != 0 {
		t.Fatalf("%+v %v", rows.Issue, rows.Findings)
	}
}

func TestExtractParentIsTheEpicOnlyWhenItIsOne(t *testing.T) {
	for _, c := range []struct{ name, fields, epic, parent string }{
		{"a team-managed story under an epic", `"parent":{"key":"EV-9","fields":{"issuetype":{"name":"Epic","hierarchyLevel":1}}}`, "EV-9", "EV-9"},
		{"a parent without its type (older data)", `"parent":{"key":"EV-9"}`, "EV-9", "EV-9"},
		{"a sub-task under a story", `"issuetype":{"name":"Sub-task","subtask":true},"parent":{"key":"EV-7","fields":{"issuetype":{"name":"Story","hierarchyLevel":0}}}`, "", "EV-7"},
		{"a story whose parent is a story", `"parent":{"key":"EV-7","fields":{"issuetype":{"name":"Story","hierarchyLevel":0}}}`, "", "EV-7"},
		{"the epic link field wins", `"customfield_10014":"EV-3","parent":{"key":"EV-7","fields":{"issuetype":{"name":"Story"}}}`, "EV-3", "EV-7"},
		// Above epics: Cloud's parent of an epic is its initiative (level
		// 2), Data Center's is Advanced Roadmaps' Parent Link.
		{"an epic under an initiative (Cloud)", `"issuetype":{"name":"Epic","hierarchyLevel":1},"parent":{"key":"EV-2","fields":{"issuetype":{"name":"Initiative","hierarchyLevel":2}}}`, "", "EV-2"},
		{"an epic with an untyped parent", `"issuetype":{"name":"Epic"},"parent":{"key":"EV-2"}`, "", "EV-2"},
		{"an epic with a Parent Link (Data Center)", `"issuetype":{"name":"Epic"},"customfield_10400":{"hasEpicLinkFieldDependency":false,"showField":true,"data":{"id":10001,"key":"EV-2","keyNum":2,"summary":"i","projectId":10000,"issueType":{"id":"10013"}}}`, "", "EV-2"},
		{"an empty Parent Link", `"issuetype":{"name":"Epic"},"customfield_10400":null`, "", ""},
	} {
		rows, err := Extract(issueJSON("10000", c.fields), testMapping())
		if err != nil || rows.Issue.EpicKey != c.epic || rows.Issue.ParentKey != c.parent {
			t.Errorf("%s: epic %q, parent %q (%v), want %q, %q", c.name, rows.Issue.EpicKey, rows.Issue.ParentKey, err, c.epic, c.parent)
		}
	}
}
func TestDiscoverFieldsByNameAndSchema(t *testing.T) {
	var fields []jira.Field
	add := func(id, name, typ, custom string) {
		fields = append(fields, jira.Field{ID: id, Name: name, Schema: jira.FieldSchema{Type: typ, Custom: custom}})
	}
	add("customfield_1", "Sprint", "array", "com.pyxis.greenhopper.jira:gh-sprint")
	add("customfield_2", "Story Points", "string", "")         // a text field: not the estimate
	add("customfield_3", "Story point estimate", "number", "") // Cloud's estimate
	add("customfield_4", "Story Points", "number", "")
	add("customfield_5", "Business Value", "number", "")
	add("customfield_6", "Time Criticality", "number", "")
	add("customfield_7", "Risk Reduction / Opportunity Enablement", "number", "")
	add("customfield_8", "Job Size", "number", "")
	add("customfield_9", "Rank", "any", "com.pyxis.greenhopper.jira:gh-lexo-rank")
	ids := DiscoverFields(fields, FieldOverrides{})
	if ids.Sprint != "customfield_1" || ids.StoryPoints != "customfield_3" || ids.BusinessValue != "customfield_5" || ids.TimeCriticality != "customfield_6" ||
		ids.RiskReduction != "customfield_7" || ids.JobSize != "customfield_8" || ids.Rank != "customfield_9" {
		t.Fatalf("discovered %+v", ids)
	}
	ids = DiscoverFields(fields, FieldOverrides{StoryPoints: "customfield_4", JobSize: "customfield_99"})
	if ids.StoryPoints != "customfield_4" || ids.JobSize != "customfield_99" {
		t.Fatalf("overrides ignored: %+v", ids)
	}
}
