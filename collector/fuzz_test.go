package collector

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzExtract: any bytes either fail with an error or give rows; no panic,
// and every problem names the issue key it came from.
func FuzzExtract(f *testing.F) {
	f.Add([]byte(`{"id":"1","key":"A-1","fields":{"status":{"id":"3","statusCategory":{"key":"indeterminate"}},"created":"2024-03-05T14:03:11.000+0100"}}`))
	f.Add(issueJSON("10005", `"customfield_10020":["com.atlassian.greenhopper.service.sprint.Sprint@1[id=2,state=CLOSED]"]`, h("1@2024-03-02T10:00:00.000+0100|10000>3")))
	f.Add(issueJSON("3", `"customfield_10016":"5","labels":"x"`, sprintH("9", "2024-03-02T10:00:00.000+0100", "1, 2", "x")))
	f.Add([]byte(`{"id":"9","key":"B-9","fields":null,"changelog":{"total":5,"histories":[{"id":"1","created":"bad","items":[{"field":"status","from":null,"to":null}]}]}}`))
	f.Add([]byte(`[]`))
	m := testMapping()
	f.Fuzz(func(t *testing.T, raw []byte) {
		rows, err := Extract(raw, m)
		if err != nil {
			var se *SkipError
			if !errors.As(err, &se) {
				t.Fatalf("an error that is not a skip: %v", err)
			}
			return
		}
		checkTimeline(t, rows)
		for _, p := range rows.Findings {
			if p.IssueKey != rows.Issue.IssueKey {
				t.Fatalf("problem %v names %q, the issue is %q", p, p.IssueKey, rows.Issue.IssueKey)
			}
		}
		if rows.Issue.DoneAt != nil && rows.Issue.StatusCategory != "done" {
			t.Fatalf("done_at set on a %q issue", rows.Issue.StatusCategory)
		}
	})
}

// FuzzParseSprintField: the Sprint field parser never panics and returns
// only ids it read.
func FuzzParseSprintField(f *testing.F) {
	for _, s := range []string{`[{"id":7}]`, `["com.atlassian.greenhopper.service.sprint.Sprint@1a2b[id=266,rapidViewId=174,state=CLOSED,name=A, B]"]`, `null`, `[1]`, `["id="]`, `[{"id":-1}]`, `[{"id":1e3}]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids, err := ParseSprintField(json.RawMessage(s))
		if err == nil && !json.Valid([]byte(s)) && len(ids) > 0 {
			t.Fatalf("ids %v from invalid JSON %q", ids, s)
		}
	})
}

// FuzzJiraTime: a parsed time formats back into JQL without panicking, and
// JQL times never carry seconds (JQL would refuse them).
func FuzzJiraTime(f *testing.F) {
	for _, s := range []string{"2024-03-05T14:03:11.000+0100", "2024-03-05T14:03:11.000Z", "2024-03-05T14:03:11+05:30", "1970-01-01T00:00:00.000-1200", "9999-12-31T23:59:59.999+1400"} {
		f.Add(s)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := ParseJiraTime(s)
		if err != nil {
			return
		}
		if tm.Location() != time.UTC || tm.Nanosecond() != 0 {
			t.Fatalf("%q parsed to %v: want UTC, whole seconds", s, tm)
		}
		for _, loc := range []*time.Location{time.UTC, berlin} {
			j := FormatJQLTime(tm, loc)
			if strings.Count(j, ":") != 1 || len(j) != len("2006/01/02 15:04") && tm.Year() < 10000 && tm.Year() >= 0 {
				t.Fatalf("JQL time %q from %v", j, tm)
			}
		}
	})
}
