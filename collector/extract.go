// Package collector pulls issues, changelogs, boards, sprints and versions
// from Jira (Cloud and Data Center) into storage. Collection has two steps:
// the raw issue JSON is kept, then the pure function Extract turns it into
// rows, so that a mapping change can be replayed without calling Jira.
package collector

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
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
	// CategoryByName maps a status name to its category when every listed
	// status of that name is in the same one: the category of a status
	// deleted from the site but still in changelogs.
	CategoryByName map[string]string
	// Projects holds per-project overrides by project key.
	Projects map[string]ProjectSettings
	// Cycles holds the cycle a board's columns give a project, by key.
	Cycles map[string]*Cycle
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
	// ParentLink is Advanced Roadmaps' "Parent Link" (Data Center): an
	// epic's initiative. Cloud uses the parent field instead.
	ParentLink string `json:",omitempty"`
	// Flagged is Jira Software's "Flagged" checkbox field (Impediment).
	Flagged string `json:",omitempty"`
}

// Rows are what one raw issue becomes.
type Rows struct {
	Raw          evident.RawIssue
	Issue        evident.Issue
	Transitions  []evident.Transition
	SprintChange []evident.SprintChange
	FieldChanges []evident.FieldChange
	Backlog      evident.BacklogFacts
	// Timeline is the status history every measure reads, consistent
	// whatever the changelog says; Findings say where Jira's data had to be
	// read around (each names the issue key).
	Timeline evident.Timeline
	Findings []evident.Finding
	// ChangelogIncomplete says the JSON held fewer histories than the
	// changelog's total: the rest must be fetched before the rows are right.
	ChangelogIncomplete bool
}

// StoredTimeline is the row of Rows.Timeline and Rows.Findings.
func (r Rows) StoredTimeline() evident.IssueTimeline {
	return evident.StoredTimeline(r.Issue.Site, r.Issue.IssueID, r.Timeline, r.Findings, r.Issue.Version)
}

// SkipError says an issue cannot be stored at all: its JSON is not an issue
// with a numeric id, or nothing dates it within the years Evident stores.
type SkipError struct {
	Key    string
	ID     uint64
	Reason string
}

func (e *SkipError) Error() string {
	key := e.Key
	if key == "" {
		key = "without a key"
	}
	return fmt.Sprintf("issue %s skipped: %s", key, e.Reason)
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
	findings []evident.Finding
	settings ProjectSettings
	cycle    *Cycle
}

// find records a data quality finding of the issue (at most one per check
// and field: the first occurrence is the one a person looks up).
func (x *extractor) find(check, field, format string, args ...any) {
	for _, f := range x.findings {
		if f.Check == check && f.Field == field {
			return
		}
	}
	x.findings = append(x.findings, evident.Finding{IssueKey: x.key, Check: check, Field: field, Note: fmt.Sprintf(format, args...)})
}

// Extract turns one issue's JSON (with its complete changelog) into rows.
// It never fails on a field: what cannot be read is left empty and reported
// as a Finding naming the issue key, the check and the field; timestamps
// that disagree are clamped as docs/metrics.md says. It fails, with a
// *SkipError, only when the issue cannot be stored at all: the JSON is not
// an issue with a numeric id, or nothing dates it within 1970–2105.
func Extract(raw []byte, m Mapping) (Rows, error) {
	var ri rawIssue
	if err := json.Unmarshal(raw, &ri); err != nil {
		return Rows{}, &SkipError{Reason: fmt.Sprintf("not an issue's JSON: %v", err)}
	}
	id, err := strconv.ParseUint(ri.ID, 10, 64)
	if err != nil {
		return Rows{}, &SkipError{Key: ri.Key, Reason: fmt.Sprintf("its id %q is not a number", ri.ID)}
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
	x.settings, x.cycle = m.Projects[is.ProjectKey], m.Cycles[is.ProjectKey]
	var issueType struct {
		Name           string
		Subtask        bool
		HierarchyLevel *int `json:"hierarchyLevel"` // Cloud only
	}
	if x.decode(f, "issuetype", &issueType) {
		is.IssueType = issueType.Name
	}
	is.WorkCategory = x.workCategory(is.IssueType)
	x.decode(f, "summary", &is.Summary)
	var named struct{ Name string }
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
	var parent struct {
		Key    string
		Fields struct {
			IssueType *struct {
				Name           string
				HierarchyLevel int
			} `json:"issuetype"`
		}
	}
	if x.decode(f, "parent", &parent) {
		is.ParentKey = parent.Key
	}
	if m.Fields.EpicLink != "" {
		x.decode(f, m.Fields.EpicLink, &is.EpicKey)
	}
	if m.Fields.ParentLink != "" && is.ParentKey == "" {
		var link struct {
			Data *struct{ Key string } `json:"data"`
		}
		if x.decode(f, m.Fields.ParentLink, &link) && link.Data != nil {
			is.ParentKey = link.Data.Key
		}
	}
	// An epic's parent is the initiative above it, not an epic of its own.
	epicLevel := (issueType.HierarchyLevel != nil && *issueType.HierarchyLevel >= 1) || slices.ContainsFunc(evident.EpicTypes, func(t string) bool { return strings.EqualFold(t, issueType.Name) })
	if is.EpicKey == "" && is.ParentKey != "" && !issueType.Subtask && !epicLevel {
		// Team-managed projects link epics as parents; a sub-task's parent
		// is the story it splits, and a parent Jira says is no epic is none.
		pt := parent.Fields.IssueType
		if pt == nil || pt.HierarchyLevel >= 1 || strings.EqualFold(pt.Name, "epic") {
			is.EpicKey = is.ParentKey
		}
	}
	if m.Fields.Rank != "" {
		x.decode(f, m.Fields.Rank, &is.Rank)
	}
	if m.Fields.Flagged != "" {
		var flags []json.RawMessage
		if x.decode(f, m.Fields.Flagged, &flags) && len(flags) > 0 {
			is.Flagged = 1
		}
	}
	is.BlockedBy, is.BlockedByOpen = x.blockers(f)
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
	if t := x.date(f, "duedate"); !t.IsZero() {
		is.DueDate = &t
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
		default:
			return Rows{}, &SkipError{Key: ri.Key, ID: id, Reason: "no readable creation date, update date or changelog date within " + evident.StorableRange}
		}
	}
	if is.UpdatedAt.IsZero() {
		is.UpdatedAt = is.CreatedAt
	}
	rows := Rows{ChangelogIncomplete: ri.Changelog != nil && ri.Changelog.Total > len(ri.Changelog.Histories), Backlog: backlog}
	x.replay(&is, histories, &rows)
	rows.Issue = is
	rows.Raw = evident.RawIssue{Site: m.Site, IssueID: id, IssueKey: ri.Key, ProjectKey: is.ProjectKey, UpdatedAt: is.UpdatedAt,
		JSON: string(raw), ContentHash: ContentHash(raw), Version: m.Version}
	rows.Findings = x.findings
	return rows, nil
}

func (x *extractor) decode(f map[string]json.RawMessage, field string, v any) bool {
	b, ok := f[field]
	if !ok || len(b) == 0 || string(b) == "null" {
		return false
	}
	if err := json.Unmarshal(b, v); err != nil {
		x.find(evident.CheckFieldUnreadable, field, "cannot read %s: %v", abbreviate(b), typeError(err))
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
	x.find(evident.CheckFieldUnreadable, field, "want a number, got %s", abbreviate(b))
	return nil
}

func (x *extractor) time(f map[string]json.RawMessage, field string) time.Time {
	var s string
	if !x.decode(f, field, &s) || s == "" {
		return time.Time{}
	}
	t, err := ParseJiraTime(s)
	if err != nil {
		x.find(evident.CheckFieldUnreadable, field, "%v", err)
		return time.Time{}
	}
	if !evident.StorableTime(t) {
		x.find(evident.CheckDateOutOfRange, field, "%s is outside %s; left empty", s, evident.StorableRange)
		return time.Time{}
	}
	return t
}

// blockers reads the issues this one "is blocked by" from its issue links
// (a link whose type's inward name says so, or Jira's Blocks type, with the
// other issue as inwardIssue) and whether each was still open (its status
// not done) when Jira answered.
func (x *extractor) blockers(f map[string]json.RawMessage) (keys []string, open []uint8) {
	var links []struct {
		Type struct {
			Name, Inward string
		}
		InwardIssue *struct {
			Key    string
			Fields struct {
				Status struct {
					StatusCategory struct{ Key string }
				}
			}
		}
	}
	keys, open = []string{}, []uint8{}
	if !x.decode(f, "issuelinks", &links) {
		return keys, open
	}
	for _, l := range links {
		blocks := strings.EqualFold(l.Type.Inward, "is blocked by") || (l.Type.Inward == "" && strings.EqualFold(l.Type.Name, "Blocks"))
		if !blocks || l.InwardIssue == nil || l.InwardIssue.Key == "" || slices.Contains(keys, l.InwardIssue.Key) {
			continue
		}
		keys = append(keys, l.InwardIssue.Key)
		o := uint8(1)
		if l.InwardIssue.Fields.Status.StatusCategory.Key == evident.CategoryDone {
			o = 0
		}
		open = append(open, o)
	}
	return keys, open
}

// date reads a date field (YYYY-MM-DD, as Jira writes a due date); an
// unreadable or unstorable one is a finding and stays empty.
func (x *extractor) date(f map[string]json.RawMessage, field string) time.Time {
	var s string
	if !x.decode(f, field, &s) || s == "" {
		return time.Time{}
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		x.find(evident.CheckFieldUnreadable, field, "%q is not a date (want YYYY-MM-DD)", s)
		return time.Time{}
	}
	if !evident.StorableTime(t) {
		x.find(evident.CheckDateOutOfRange, field, "%s is outside %s; left empty", s, evident.StorableRange)
		return time.Time{}
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
	if c, ok := x.cycle.category(id); ok {
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
		x.find(evident.CheckCategoryUnknown, "status", "status %q (id %s) has the category %q; counted as new", name, id, c)
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
