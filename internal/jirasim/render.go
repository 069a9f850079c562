package jirasim

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

const jiraTimeLayout = "2006-01-02T15:04:05.000-0700"

// jiraTime formats an issue field date as Jira does: the user's zone, an
// offset without a colon.
func (g *Generator) jiraTime(t time.Time) string { return t.In(g.loc).Format(jiraTimeLayout) }

// agileTime formats a date of the agile API: UTC with a Z.
func agileTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// fieldSet is the parsed `fields` parameter.
type fieldSet struct {
	all     bool
	only    map[string]bool
	exclude map[string]bool
}

func parseFields(param string, defaultAll bool) fieldSet {
	fs := fieldSet{only: map[string]bool{}, exclude: map[string]bool{}}
	if strings.TrimSpace(param) == "" {
		fs.all = defaultAll
		return fs
	}
	for _, f := range strings.Split(param, ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "*all" || f == "*navigable":
			fs.all = true
		case strings.HasPrefix(f, "-"):
			fs.exclude[f[1:]] = true
		case f != "" && f != "id" && f != "key":
			fs.only[f] = true
		}
	}
	return fs
}

func (fs fieldSet) want(name string) bool {
	if fs.exclude[name] {
		return false
	}
	return fs.all || fs.only[name]
}

func (fs fieldSet) none() bool { return !fs.all && len(fs.only) == 0 }

type jsonUser struct {
	Self         string `json:"self"`
	AccountID    string `json:"accountId,omitempty"`
	Name         string `json:"name,omitempty"`
	Key          string `json:"key,omitempty"`
	DisplayName  string `json:"displayName"`
	Active       bool   `json:"active"`
	TimeZone     string `json:"timeZone"`
	EmailAddress string `json:"emailAddress,omitempty"`
}

type jsonItem struct {
	Field      string  `json:"field"`
	FieldType  string  `json:"fieldtype"`
	FieldID    string  `json:"fieldId,omitempty"`
	From       *string `json:"from"`
	FromString *string `json:"fromString"`
	To         *string `json:"to"`
	ToString   *string `json:"toString"`
}

type jsonHistory struct {
	ID      string     `json:"id"`
	Author  jsonUser   `json:"author"`
	Created string     `json:"created"`
	Items   []jsonItem `json:"items"`
}

type jsonChangelog struct {
	StartAt    int           `json:"startAt"`
	MaxResults int           `json:"maxResults"`
	Total      int           `json:"total"`
	Histories  []jsonHistory `json:"histories"`
}

type jsonIssue struct {
	Expand    string         `json:"expand"`
	ID        string         `json:"id"`
	Self      string         `json:"self"`
	Key       string         `json:"key"`
	Fields    map[string]any `json:"fields,omitempty"`
	Changelog *jsonChangelog `json:"changelog,omitempty"`
}

var authors = []string{"Ada Lovelace", "Grace Hopper", "Jörg Müller", "李雷", "Amara Okafor", "Sam O'Neill"}

func (s *Sim) user(n int) jsonUser {
	name := authors[n%len(authors)]
	u := jsonUser{Self: s.base + "/rest/api/2/user?accountId=5b10a2844c20165700ede21" + strconv.Itoa(n%len(authors)),
		DisplayName: name, Active: true, TimeZone: s.gen.cfg.TimeZone}
	if s.gen.cfg.Cloud {
		u.AccountID = "5b10a2844c20165700ede21" + strconv.Itoa(n%len(authors))
	} else {
		u.Name = fmt.Sprintf("user%d", n%len(authors))
		u.Key = "JIRAUSER1000" + strconv.Itoa(n%len(authors))
	}
	return u
}

func (s *Sim) histories(is *Issue, from, n int) []jsonHistory {
	out := make([]jsonHistory, 0, max(0, min(n, len(is.Histories)-from)))
	for k := from; k < len(is.Histories) && len(out) < n; k++ {
		h := is.Histories[k]
		jh := jsonHistory{ID: strconv.FormatInt(h.ID, 10), Author: s.user(int(h.ID)), Created: s.gen.jiraTime(h.Created)}
		for _, it := range h.Items {
			ji := jsonItem{Field: it.Field, FieldType: it.FieldType, From: it.From, FromString: it.FromString, To: it.To, ToString: it.ToString}
			if s.gen.cfg.Cloud { // Data Center's changelog items carry no fieldId
				ji.FieldID = it.FieldID
			}
			jh.Items = append(jh.Items, ji)
		}
		out = append(out, jh)
	}
	return out
}

func (s *Sim) sprintValue(ids []int) any {
	if len(ids) == 0 {
		return nil
	}
	g := s.gen
	if g.cfg.Cloud {
		out := make([]map[string]any, 0, len(ids))
		for _, id := range ids {
			sp := g.SprintByID(id)
			if sp == nil {
				continue
			}
			m := map[string]any{"id": sp.ID, "name": sp.Name, "state": sp.State, "boardId": sp.BoardID, "goal": sp.Goal,
				"startDate": agileTime(sp.Start), "endDate": agileTime(sp.End)}
			if !sp.Complete.IsZero() {
				m["completeDate"] = agileTime(sp.Complete)
			}
			out = append(out, m)
		}
		return out
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		sp := g.SprintByID(id)
		if sp == nil {
			continue
		}
		complete, goal := "<null>", "<null>"
		if !sp.Complete.IsZero() {
			complete = agileTime(sp.Complete)
		}
		if sp.Goal != "" {
			goal = sp.Goal
		}
		out = append(out, fmt.Sprintf("com.atlassian.greenhopper.service.sprint.Sprint@%x[id=%d,rapidViewId=%d,state=%s,name=%s,startDate=%s,endDate=%s,completeDate=%s,activatedDate=%s,sequence=%d,goal=%s]",
			0x1a2b00+sp.ID, sp.ID, sp.BoardID, strings.ToUpper(sp.State), sp.Name, agileTime(sp.Start), agileTime(sp.End), complete, agileTime(sp.Start), sp.ID, goal))
	}
	return out
}

var typeIDs = map[string]string{"Story": "10001", "Bug": "10004", "Task": "10002", "Tech Debt": "10010", "Incident": "10011", "Spike": "10012", "Epic": "10000",
	"Sub-task": "10003", "Initiative": "10013"}

// hierarchyLevel is Jira's level of an issue type: 2 initiatives (a level
// of Jira Premium's or Advanced Roadmaps' hierarchy), 1 epics, 0 standard
// types, -1 sub-tasks.
func hierarchyLevel(typ string) int {
	switch typ {
	case "Initiative":
		return 2
	case "Epic":
		return 1
	case "Sub-task":
		return -1
	}
	return 0
}

var priorityIDs = map[string]string{"Highest": "1", "High": "2", "Medium": "3", "Low": "4", "Lowest": "5"}

func (s *Sim) statusJSON(st Status) map[string]any {
	c := categoryInfo[st.Category]
	return map[string]any{
		"self": s.base + "/rest/api/2/status/" + st.ID, "description": "", "iconUrl": s.base + "/images/icons/statuses/generic.png",
		"name": st.Name, "id": st.ID,
		"statusCategory": map[string]any{"self": s.base + "/rest/api/2/statuscategory/" + strconv.Itoa(c.ID), "id": c.ID, "key": st.Category, "colorName": c.Color, "name": c.Name},
	}
}

func (s *Sim) versionJSON(p *Project, id int) map[string]any {
	for _, r := range s.gen.Releases(p) {
		if r.ID == id {
			s.mu.RLock()
			if at, ok := s.releasedVersions[id]; ok {
				r.Released, r.Date = true, at
			}
			s.mu.RUnlock()
			m := map[string]any{"self": s.base + "/rest/api/2/version/" + strconv.Itoa(r.ID), "id": strconv.Itoa(r.ID), "name": r.Name,
				"archived": false, "released": r.Released, "description": ""}
			m["releaseDate"] = r.Date.In(s.gen.loc).Format("2006-01-02")
			return m
		}
	}
	return nil
}

// linksJSON renders the issue's "is blocked by" links as Jira does: the
// blocker is the inwardIssue, with its current status. A link to a
// deleted issue is gone, as in Jira.
func (s *Sim) linksJSON(is *Issue) []map[string]any {
	out := []map[string]any{}
	for k, j := range is.BlockedBy {
		b := s.Issue(j)
		if b == nil {
			continue
		}
		out = append(out, map[string]any{"id": strconv.FormatInt(is.ID*10+int64(k), 10),
			"self": s.base + "/rest/api/2/issueLink/" + strconv.FormatInt(is.ID*10+int64(k), 10),
			"type": map[string]any{"id": "10000", "name": "Blocks", "inward": "is blocked by", "outward": "blocks", "self": s.base + "/rest/api/2/issueLinkType/10000"},
			"inwardIssue": map[string]any{"id": strconv.FormatInt(b.ID, 10), "key": b.Key, "self": s.base + "/rest/api/2/issue/" + strconv.FormatInt(b.ID, 10),
				"fields": map[string]any{"summary": b.Summary, "status": s.statusJSON(b.Status),
					"priority":  map[string]any{"id": priorityIDs[b.Priority], "name": b.Priority},
					"issuetype": map[string]any{"id": typeIDs[b.Type], "name": b.Type, "subtask": b.Type == "Sub-task"}}}})
	}
	return out
}

// issueJSON renders an issue as the search and issue endpoints return it.
func (s *Sim) issueJSON(is *Issue, fs fieldSet, changelog bool, changelogCap int, agileSelf bool) jsonIssue {
	g := s.gen
	self := s.base + "/rest/api/2/issue/" + strconv.FormatInt(is.ID, 10)
	if agileSelf {
		self = s.base + "/rest/agile/1.0/issue/" + strconv.FormatInt(is.ID, 10)
	}
	out := jsonIssue{Expand: "operations,versionedRepresentations,editmeta,changelog,renderedFields", ID: strconv.FormatInt(is.ID, 10), Self: self, Key: is.Key}
	if !fs.none() {
		f := map[string]any{}
		put := func(name string, v func() any) {
			if fs.want(name) {
				f[name] = v()
			}
		}
		put("summary", func() any { return is.Summary })
		put("issuetype", func() any {
			return map[string]any{"self": s.base + "/rest/api/2/issuetype/" + typeIDs[is.Type], "id": typeIDs[is.Type], "name": is.Type,
				"subtask": is.Type == "Sub-task", "hierarchyLevel": hierarchyLevel(is.Type)}
		})
		put("parent", func() any {
			if is.ParentKey == "" || (is.ParentType == "Initiative" && !g.cfg.Cloud) {
				return nil // Data Center links an epic to its initiative with the Parent Link
			}
			return map[string]any{"key": is.ParentKey, "self": s.base + "/rest/api/2/issue/" + is.ParentKey,
				"fields": map[string]any{"summary": "Parent of " + is.Key, "issuetype": map[string]any{"id": typeIDs[is.ParentType], "name": is.ParentType,
					"subtask": false, "hierarchyLevel": hierarchyLevel(is.ParentType)}}}
		})
		put("status", func() any { return s.statusJSON(is.Status) })
		put("priority", func() any {
			return map[string]any{"self": s.base + "/rest/api/2/priority/" + priorityIDs[is.Priority], "id": priorityIDs[is.Priority], "name": is.Priority}
		})
		put("labels", func() any { return append([]string{}, is.Labels...) })
		put("components", func() any {
			cs := []map[string]any{}
			for k, c := range is.Components {
				cs = append(cs, map[string]any{"self": s.base + "/rest/api/2/component/" + strconv.Itoa(11000+k), "id": strconv.Itoa(11000 + k), "name": c})
			}
			return cs
		})
		put("fixVersions", func() any {
			vs := []map[string]any{}
			for _, id := range is.FixVersions {
				if v := s.versionJSON(is.Project, id); v != nil {
					vs = append(vs, v)
				}
			}
			return vs
		})
		put("project", func() any {
			return map[string]any{"self": s.base + "/rest/api/2/project/" + strconv.Itoa(is.Project.ID), "id": strconv.Itoa(is.Project.ID), "key": is.Project.Key, "name": is.Project.Name, "projectTypeKey": "software", "simplified": false}
		})
		put("created", func() any { return g.jiraTime(is.Created) })
		put("updated", func() any { return g.jiraTime(is.Updated) })
		put("resolutiondate", func() any {
			if is.Resolution.IsZero() {
				return nil
			}
			return g.jiraTime(is.Resolution)
		})
		put("duedate", func() any {
			if is.Due.IsZero() {
				return nil
			}
			return is.Due.Format("2006-01-02")
		})
		put("resolution", func() any {
			if is.Resolution.IsZero() {
				return nil
			}
			if is.ResolutionName != "Done" {
				return map[string]any{"self": s.base + "/rest/api/2/resolution/10001", "id": "10001", "name": is.ResolutionName, "description": "This issue won't be actioned."}
			}
			return map[string]any{"self": s.base + "/rest/api/2/resolution/10000", "id": "10000", "name": "Done", "description": "Work has been completed on this issue."}
		})
		put("description", func() any {
			if is.Description == "" {
				return nil
			}
			return is.Description
		})
		num := func(v float64) any {
			if v == 0 {
				return nil
			}
			return v
		}
		if g.fields.parentLink != "" {
			put(g.fields.parentLink, func() any {
				if is.ParentType != "Initiative" {
					return nil
				}
				// As Advanced Roadmaps writes it (Atlassian's deprecation notice of 2022).
				i := s.IndexOf(is.ParentKey)
				return map[string]any{"hasEpicLinkFieldDependency": false, "showField": true, "data": map[string]any{
					"id": 10000 + i, "key": is.ParentKey, "keyNum": i/len(g.projects) + 1, "summary": "Initiative " + is.ParentKey,
					"projectId": is.Project.ID, "issueType": map[string]any{"id": typeIDs["Initiative"], "iconUrl": "/secure/viewavatar?size=medium&avatarId=10307&avatarType=issuetype"}}}
			})
		}
		put(g.fields.points, func() any { return num(is.StoryPoints) })
		put(g.fields.decoyPoints, func() any { return nil })
		put(g.fields.sprint, func() any { return s.sprintValue(is.Sprints) })
		put(g.fields.epic, func() any {
			if is.EpicKey == "" {
				return nil
			}
			return is.EpicKey
		})
		put(g.fields.rank, func() any { return is.Rank })
		put(g.fields.business, func() any { return num(is.Business) })
		put(g.fields.timeCrit, func() any { return num(is.TimeCrit) })
		put(g.fields.riskOpp, func() any { return num(is.RiskOpp) })
		put(g.fields.jobSize, func() any { return num(is.JobSize) })
		put(g.fields.flagged, func() any {
			if !is.Flagged {
				return nil
			}
			return []map[string]any{{"self": s.base + "/rest/api/2/customFieldOption/10019", "value": "Impediment", "id": "10019"}}
		})
		put("issuelinks", func() any { return s.linksJSON(is) })
		out.Fields = f
	}
	if changelog {
		n := len(is.Histories)
		if changelogCap > 0 && n > changelogCap {
			n = changelogCap
		}
		out.Changelog = &jsonChangelog{StartAt: 0, MaxResults: n, Total: len(is.Histories), Histories: s.histories(is, 0, n)}
	}
	return out
}
