// Package collector pulls issues, changelogs, boards, sprints and versions
// from Jira (Cloud and Data Center) into storage. Collection has two steps:
// the raw issue JSON is kept, then the pure function Extract turns it into
// rows, so that a mapping change can be replayed without calling Jira.
package collector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/evident-ebm/evident"
)

// Mapping is what Extract needs to know about a site besides the issue.
type Mapping struct {
	Site    string
	Version uint64
	Fields  FieldIDs
	// StatusCategory maps status ids to category keys, from /rest/api/2/status.
	StatusCategory map[string]string
	// Projects holds per-project overrides by project key.
	Projects map[string]ProjectSettings
}

// FieldIDs are the ids of the custom fields Extract reads.
type FieldIDs struct {
	StoryPoints     string
	Sprint          string
	EpicLink        string
	BusinessValue   string
	Rank            string
	TimeCriticality string `json:",omitempty"`
	RiskReduction   string `json:",omitempty"`
	JobSize         string `json:",omitempty"`
	Acceptance      string `json:",omitempty"` // a field holding acceptance criteria, if the site has one
}

// Problem is one thing wrong with an issue's data that Extract stepped over.
type Problem struct {
	IssueKey string
	Field    string
	Message  string
}

func (p Problem) String() string { return fmt.Sprintf("%s: %s: %s", p.IssueKey, p.Field, p.Message) }

// Rows are what one raw issue becomes.
type Rows struct {
	Raw          evident.RawIssue
	Issue        evident.Issue
	Transitions  []evident.Transition
	SprintChange []evident.SprintChange
	FieldChanges []evident.FieldChange
	Backlog      evident.BacklogFacts
	// ChangelogIncomplete says the JSON held fewer histories than the
	// changelog's total: the rest must be fetched before the rows are right.
	ChangelogIncomplete bool
}

// rawIssue is the part of Jira's issue JSON Extract reads.
type rawIssue struct {
	ID        string                     `json:"id"`
	Key       string                     `json:"key"`
	Fields    map[string]json.RawMessage `json:"fields"`
	Changelog *rawChangelog              `json:"changelog"`
}

type rawChangelog struct {
	StartAt    int          `json:"startAt"`
	MaxResults int          `json:"maxResults"`
	Total      int          `json:"total"`
	Histories  []rawHistory `json:"histories"`
}

type rawHistory struct {
	ID      string    `json:"id"`
	Created string    `json:"created"`
	Items   []rawItem `json:"items"`
}

type rawItem struct {
	Field      string  `json:"field"`
	FieldType  string  `json:"fieldtype"`
	FieldID    string  `json:"fieldId"`
	From       *string `json:"from"`
	FromString *string `json:"fromString"`
	To         *string `json:"to"`
	ToString   *string `json:"toString"`
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

var timeLayouts = []string{
	"2006-01-02T15:04:05.000-0700",
	"2006-01-02T15:04:05-0700",
	"2006-01-02T15:04:05.000Z07:00",
	time.RFC3339Nano,
	"2006-01-02T15:04:05.000Z",
}

// ParseJiraTime reads a Jira timestamp (2024-03-05T14:03:11.000+0100 and
// the ISO forms of the agile API) and returns it in UTC, whole seconds.
func ParseJiraTime(s string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC().Truncate(time.Second), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a Jira date-time (want 2024-03-05T14:03:11.000+0100)", s)
}

// ContentHash identifies an issue's JSON.
func ContentHash(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

// extractor carries the state of one Extract call.
type extractor struct {
	m        Mapping
	key      string
	problems []Problem
	settings ProjectSettings
}

func (x *extractor) problem(field, format string, args ...any) {
	x.problems = append(x.problems, Problem{IssueKey: x.key, Field: field, Message: fmt.Sprintf(format, args...)})
}

// Extract turns one issue's JSON (with its complete changelog) into rows.
// It never fails on a field: what cannot be read is left empty and reported
// as a Problem naming the issue key and field. It fails only when the JSON
// is not an issue at all (no id).
func Extract(raw []byte, m Mapping) (Rows, []Problem, error) {
	var ri rawIssue
	if err := json.Unmarshal(raw, &ri); err != nil {
		return Rows{}, nil, fmt.Errorf("issue JSON: %w", err)
	}
	id, err := strconv.ParseUint(ri.ID, 10, 64)
	if err != nil {
		return Rows{}, nil, fmt.Errorf("issue %q: id %q is not a number", ri.Key, ri.ID)
	}
	x := &extractor{m: m, key: ri.Key}
	f := ri.Fields
	is := evident.Issue{Site: m.Site, IssueID: id, IssueKey: ri.Key, Version: m.Version}

	var project struct{ Key string }
	x.decode(f, "project", &project)
	is.ProjectKey = project.Key
	if is.ProjectKey == "" {
		if k, _, ok := strings.Cut(ri.Key, "-"); ok {
			is.ProjectKey = k
		}
	}
	x.settings = m.Projects[is.ProjectKey]
	var named struct{ Name string }
	if x.decode(f, "issuetype", &named) {
		is.IssueType = named.Name
	}
	is.WorkCategory = x.workCategory(is.IssueType)
	x.decode(f, "summary", &is.Summary)
	named.Name = ""
	if x.decode(f, "priority", &named) {
		is.Priority = named.Name
	}
	x.decode(f, "labels", &is.Labels)
	var nameList []struct{ Name string }
	if x.decode(f, "components", &nameList) {
		for _, c := range nameList {
			is.Components = append(is.Components, c.Name)
		}
	}
	nameList = nil
	if x.decode(f, "fixVersions", &nameList) {
		for _, c := range nameList {
			is.FixVersions = append(is.FixVersions, c.Name)
		}
	}
	if is.Labels == nil {
		is.Labels = []string{}
	}
	if is.Components == nil {
		is.Components = []string{}
	}
	if is.FixVersions == nil {
		is.FixVersions = []string{}
	}
	var parent struct{ Key string }
	if x.decode(f, "parent", &parent) {
		is.ParentKey = parent.Key
	}
	if m.Fields.EpicLink != "" {
		x.decode(f, m.Fields.EpicLink, &is.EpicKey)
	}
	if is.EpicKey == "" && is.ParentKey != "" {
		is.EpicKey = is.ParentKey // team-managed projects link epics as parents
	}
	if m.Fields.Rank != "" {
		x.decode(f, m.Fields.Rank, &is.Rank)
	}
	var desc json.RawMessage
	if x.decode(f, "description", &desc) && len(desc) > 0 && string(desc) != "null" && string(desc) != `""` {
		is.HasDescription = 1
	}
	backlog := evident.BacklogFacts{Site: m.Site, IssueID: id, Version: m.Version,
		TimeCriticality: x.number(f, m.Fields.TimeCriticality), RiskReduction: x.number(f, m.Fields.RiskReduction), JobSize: x.number(f, m.Fields.JobSize)}
	// Acceptance criteria: a configured field with content, or a section of
	// the description (wiki markup or ADF text alike contain the words).
	if m.Fields.Acceptance != "" {
		var ac json.RawMessage
		if x.decode(f, m.Fields.Acceptance, &ac) && string(ac) != `""` {
			backlog.HasAcceptance = 1
		}
	} else if strings.Contains(strings.ToLower(string(desc)), "acceptance criteria") {
		backlog.HasAcceptance = 1
	}
	is.StoryPoints = x.number(f, m.Fields.StoryPoints)
	is.BusinessValue = x.number(f, m.Fields.BusinessValue)

	var status struct {
		ID             string
		Name           string
		StatusCategory struct{ Key string }
	}
	x.decode(f, "status", &status)
	is.StatusID, is.StatusName = status.ID, status.Name
	is.StatusCategory = x.category(status.ID, status.Name, status.StatusCategory.Key)

	is.CreatedAt = x.time(f, "created")
	is.UpdatedAt = x.time(f, "updated")
	if t := x.time(f, "resolutiondate"); !t.IsZero() {
		is.ResolvedAt = &t
	}
	if m.Fields.Sprint != "" {
		is.SprintIDs = x.sprintIDs(f[m.Fields.Sprint])
	}
	if is.SprintIDs == nil {
		is.SprintIDs = []uint64{}
	}

	histories := x.histories(ri.Changelog)
	if is.CreatedAt.IsZero() {
		// Keep the issue: date it by its first known event.
		switch {
		case len(histories) > 0:
			is.CreatedAt = histories[0].at
		case !is.UpdatedAt.IsZero():
			is.CreatedAt = is.UpdatedAt
		}
	}
	rows := Rows{ChangelogIncomplete: ri.Changelog != nil && ri.Changelog.Total > len(ri.Changelog.Histories), Backlog: backlog}
	x.replay(&is, histories, status.ID, &rows)
	rows.Issue = is
	rows.Raw = evident.RawIssue{Site: m.Site, IssueID: id, IssueKey: ri.Key, ProjectKey: is.ProjectKey, UpdatedAt: is.UpdatedAt,
		JSON: string(raw), ContentHash: ContentHash(raw), Version: m.Version}
	return rows, x.problems, nil
}

func (x *extractor) decode(f map[string]json.RawMessage, field string, v any) bool {
	b, ok := f[field]
	if !ok || len(b) == 0 || string(b) == "null" {
		return false
	}
	if err := json.Unmarshal(b, v); err != nil {
		x.problem(field, "cannot read %s: %v", abbreviate(b), typeError(err))
		return false
	}
	return true
}

func typeError(err error) string {
	var te *json.UnmarshalTypeError
	if ok := asType(err, &te); ok {
		return fmt.Sprintf("want %s, got JSON %s", te.Type, te.Value)
	}
	return err.Error()
}

func asType(err error, te **json.UnmarshalTypeError) bool {
	t, ok := err.(*json.UnmarshalTypeError)
	if ok {
		*te = t
	}
	return ok
}

func abbreviate(b []byte) string {
	s := string(b)
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

// number reads a numeric custom field; numbers sent as strings ("5") are
// accepted, anything else is a problem.
func (x *extractor) number(f map[string]json.RawMessage, field string) *float64 {
	if field == "" {
		return nil
	}
	b, ok := f[field]
	if !ok || string(b) == "null" || len(b) == 0 {
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err == nil {
		return &v
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		if s = strings.TrimSpace(s); s == "" {
			return nil
		}
		if v, err := strconv.ParseFloat(s, 64); err == nil {
			return &v
		}
	}
	x.problem(field, "want a number, got %s", abbreviate(b))
	return nil
}

func (x *extractor) time(f map[string]json.RawMessage, field string) time.Time {
	var s string
	if !x.decode(f, field, &s) || s == "" {
		return time.Time{}
	}
	t, err := ParseJiraTime(s)
	if err != nil {
		x.problem(field, "%v", err)
	}
	return t
}

// category returns the category of a status: the per-project override by
// name or id first, then what the issue or /status says.
func (x *extractor) category(id, name, fromIssue string) string {
	if c, ok := x.settings.StatusCategories[name]; ok && name != "" {
		return c
	}
	if c, ok := x.settings.StatusCategories[id]; ok && id != "" {
		return c
	}
	c := fromIssue
	if c == "" {
		c = x.m.StatusCategory[id]
	}
	switch c {
	case evident.CategoryNew, evident.CategoryIndeterminate, evident.CategoryDone:
		return c
	case "":
		return ""
	default:
		x.problem("status", "status %q (id %s) has unknown category %q; counted as new", name, id, c)
		return evident.CategoryNew
	}
}

func (x *extractor) workCategory(issueType string) string {
	if c, ok := x.settings.WorkCategories[issueType]; ok {
		return c
	}
	switch strings.ToLower(issueType) {
	case "bug", "defect":
		return evident.WorkDefect
	case "incident", "problem", "outage":
		return evident.WorkIncident
	case "tech debt", "technical debt", "debt":
		return evident.WorkDebt
	case "story", "feature", "new feature", "epic", "improvement", "user story":
		return evident.WorkFeature
	}
	return evident.WorkOther
}

var serverSprintID = regexp.MustCompile(`\bid=(\d+)`)

// ParseSprintField reads the Sprint field in both forms: Cloud's objects
// and older Server's "com.atlassian.greenhopper.service.sprint.Sprint@…[id=…]" strings.
func ParseSprintField(b json.RawMessage) ([]uint64, error) {
	if len(b) == 0 || string(b) == "null" {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(b, &items); err != nil {
		return nil, fmt.Errorf("want an array of sprints, got %s", abbreviate(b))
	}
	var out []uint64
	for _, it := range items {
		it = bytes.TrimSpace(it)
		if len(it) > 0 && it[0] == '"' {
			var s string
			json.Unmarshal(it, &s)
			m := serverSprintID.FindStringSubmatch(s)
			if m == nil {
				return out, fmt.Errorf("sprint %q has no id=", abbreviate([]byte(s)))
			}
			id, err := strconv.ParseUint(m[1], 10, 64)
			if err != nil {
				return out, fmt.Errorf("sprint id %q: %v", m[1], err)
			}
			out = append(out, id)
			continue
		}
		var obj struct {
			ID json.Number `json:"id"`
		}
		if err := json.Unmarshal(it, &obj); err != nil || obj.ID == "" {
			return out, fmt.Errorf("sprint %s has no id", abbreviate(it))
		}
		id, err := strconv.ParseUint(obj.ID.String(), 10, 64)
		if err != nil {
			return out, fmt.Errorf("sprint id %q is not a number", obj.ID)
		}
		out = append(out, id)
	}
	return out, nil
}

func (x *extractor) sprintIDs(b json.RawMessage) []uint64 {
	ids, err := ParseSprintField(b)
	if err != nil {
		x.problem(x.m.Fields.Sprint, "%v", err)
	}
	return ids
}

// parseIDList reads a changelog's comma-separated sprint id list.
func parseIDList(s string) ([]uint64, error) {
	var out []uint64
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, err := strconv.ParseUint(part, 10, 64)
		if err != nil {
			return out, fmt.Errorf("sprint id %q is not a number", part)
		}
		out = append(out, id)
	}
	return out, nil
}

type history struct {
	id    uint64
	at    time.Time
	items []rawItem
}

// histories sorts the changelog by time, ties by history id.
func (x *extractor) histories(cl *rawChangelog) []history {
	if cl == nil {
		return nil
	}
	if cl.Total > len(cl.Histories) {
		x.problem("changelog", "only %d of %d histories present", len(cl.Histories), cl.Total)
	}
	out := make([]history, 0, len(cl.Histories))
	for _, h := range cl.Histories {
		id, err := strconv.ParseUint(h.ID, 10, 64)
		if err != nil {
			x.problem("changelog", "history id %q is not a number; history skipped", h.ID)
			continue
		}
		at, err := ParseJiraTime(h.Created)
		if err != nil {
			x.problem("changelog", "history %s: %v; history skipped", h.ID, err)
			continue
		}
		out = append(out, history{id: id, at: at, items: h.Items})
	}
	sort.SliceStable(out, func(a, b int) bool {
		if !out[a].at.Equal(out[b].at) {
			return out[a].at.Before(out[b].at)
		}
		return out[a].id < out[b].id
	})
	return out
}

func (x *extractor) isSprintItem(it rawItem) bool {
	if x.m.Fields.Sprint != "" && it.FieldID == x.m.Fields.Sprint {
		return true
	}
	return it.FieldID == "" && it.Field == "Sprint"
}

func (x *extractor) isStart(id, name, category string) bool {
	if category == evident.CategoryIndeterminate {
		return true
	}
	for _, s := range x.settings.StartStatuses {
		if s == id || s == name {
			return true
		}
	}
	return false
}

// replay walks the status and sprint history and derives started_at and
// done_at as docs/metrics.md defines them.
func (x *extractor) replay(is *evident.Issue, hs []history, currentStatusID string, rows *Rows) {
	// The category of a status in the changelog: /status by id, else the
	// category the issue carries when it is the current status.
	cat := func(id, name string) string {
		if id == currentStatusID && id != "" {
			return is.StatusCategory
		}
		if c := x.category(id, name, ""); c != "" {
			return c
		}
		x.problem("status", "status %q (id %s) in the changelog is unknown to /rest/api/2/status; counted as new", name, id)
		return evident.CategoryNew
	}
	var firstStatus *rawItem
	var firstSprint *rawItem
	for _, h := range hs {
		for k := range h.items {
			it := h.items[k]
			if it.Field == "status" && firstStatus == nil {
				firstStatus = &it
			}
			if x.isSprintItem(it) && firstSprint == nil {
				firstSprint = &it
			}
		}
	}
	// Status at creation.
	curID, curName, curCat := is.StatusID, is.StatusName, is.StatusCategory
	if firstStatus != nil {
		curID, curName = str(firstStatus.From), str(firstStatus.FromString)
		curCat = cat(curID, curName)
	}
	var started, done *time.Time
	created := is.CreatedAt
	if x.isStart(curID, curName, curCat) {
		started = &created
	}
	if curCat == evident.CategoryDone {
		done = &created
	}
	// Sprints at creation: the "from" of the first Sprint change, or the
	// current value when the field never changed.
	var initialSprints []uint64
	if firstSprint != nil {
		ids, err := parseIDList(str(firstSprint.From))
		if err != nil {
			x.problem("Sprint", "%v", err)
		}
		initialSprints = ids
	} else {
		initialSprints = is.SprintIDs
	}
	for _, id := range initialSprints {
		rows.SprintChange = append(rows.SprintChange, evident.SprintChange{Site: is.Site, IssueID: is.IssueID, HistoryID: 0, SprintID: id,
			IssueKey: is.IssueKey, ProjectKey: is.ProjectKey, ChangedAt: created, Added: 1, Version: is.Version})
	}
	statusChanges := 0
	for _, h := range hs {
		for k, it := range h.items {
			switch {
			case it.Field == "status":
				statusChanges++
				toID, toName := str(it.To), str(it.ToString)
				toCat := cat(toID, toName)
				rows.Transitions = append(rows.Transitions, evident.Transition{Site: is.Site, IssueID: is.IssueID, HistoryID: h.id, ItemIndex: uint16(k),
					IssueKey: is.IssueKey, ProjectKey: is.ProjectKey, ChangedAt: h.at,
					FromStatusID: str(it.From), ToStatusID: toID, FromStatus: str(it.FromString), ToStatus: toName,
					FromCategory: curCat, ToCategory: toCat, Version: is.Version})
				at := h.at
				if started == nil && x.isStart(toID, toName, toCat) {
					started = &at
				}
				if toCat == evident.CategoryDone && curCat != evident.CategoryDone {
					done = &at
				}
				curID, curName, curCat = toID, toName, toCat
			case x.isSprintItem(it):
				from, err1 := parseIDList(str(it.From))
				to, err2 := parseIDList(str(it.To))
				if err1 != nil || err2 != nil {
					x.problem("Sprint", "history %d: sprint ids %q → %q unreadable", h.id, str(it.From), str(it.To))
				}
				for _, id := range diff(to, from) {
					rows.SprintChange = append(rows.SprintChange, evident.SprintChange{Site: is.Site, IssueID: is.IssueID, HistoryID: h.id, SprintID: id,
						IssueKey: is.IssueKey, ProjectKey: is.ProjectKey, ChangedAt: h.at, Added: 1, Version: is.Version})
				}
				for _, id := range diff(from, to) {
					rows.SprintChange = append(rows.SprintChange, evident.SprintChange{Site: is.Site, IssueID: is.IssueID, HistoryID: h.id, SprintID: id,
						IssueKey: is.IssueKey, ProjectKey: is.ProjectKey, ChangedAt: h.at, Added: 0, Version: is.Version})
				}
			default:
				rows.FieldChanges = append(rows.FieldChanges, evident.FieldChange{Site: is.Site, IssueID: is.IssueID, HistoryID: h.id, ItemIndex: uint16(k),
					IssueKey: is.IssueKey, ChangedAt: h.at, Field: it.Field, FieldID: it.FieldID,
					FromValue: str(it.From), FromString: str(it.FromString), ToValue: str(it.To), ToString: str(it.ToString), Version: is.Version})
			}
		}
	}
	is.StartedAt = started
	switch {
	case is.StatusCategory != evident.CategoryDone:
		is.DoneAt = nil
	case statusChanges == 0:
		// Done without any status change on record: Jira's resolution date.
		if is.ResolvedAt != nil {
			t := *is.ResolvedAt
			is.DoneAt = &t
		} else {
			is.DoneAt = &created
		}
	default:
		if curCat != evident.CategoryDone {
			// The changelog's last status disagrees with the issue's own:
			// trust the issue, date completion at the last change.
			x.problem("status", "changelog ends in %q but the issue is done", curName)
			if n := len(rows.Transitions); n > 0 {
				t := rows.Transitions[n-1].ChangedAt
				done = &t
			}
		}
		is.DoneAt = done
	}
}

func diff(a, b []uint64) []uint64 {
	var out []uint64
	for _, x := range a {
		found := false
		for _, y := range b {
			if x == y {
				found = true
				break
			}
		}
		if !found {
			out = append(out, x)
		}
	}
	return out
}
