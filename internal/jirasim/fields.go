package jirasim

import (
	"strconv"
	"strings"
)

// fieldIDs are the site-specific ids of the custom fields the collector
// must discover by name and schema.
type fieldIDs struct {
	points, pointsName, sprint, epic, rank, business, timeCrit, riskOpp, jobSize string
	decoyPoints                                                                  string // a text field also called "Story Points"
	// parentLink is Advanced Roadmaps' "Parent Link" (Data Center only:
	// Cloud links epics to their initiative with the parent field).
	parentLink string
	// flagged is Jira Software's "Flagged" checkbox (Impediment).
	flagged string
}

var cloudFields = fieldIDs{
	points: "customfield_10016", pointsName: "Story point estimate", sprint: "customfield_10020",
	epic: "customfield_10014", rank: "customfield_10019", business: "customfield_10030",
	timeCrit: "customfield_10031", riskOpp: "customfield_10032", jobSize: "customfield_10033",
	decoyPoints: "customfield_10060", flagged: "customfield_10021",
}

var dcFields = fieldIDs{
	points: "customfield_10106", pointsName: "Story Points", sprint: "customfield_10104",
	epic: "customfield_10100", rank: "customfield_10105", business: "customfield_10200",
	timeCrit: "customfield_10201", riskOpp: "customfield_10202", jobSize: "customfield_10203",
	decoyPoints: "customfield_10300", parentLink: "customfield_10400", flagged: "customfield_10000",
}

type fieldSchema struct {
	Type     string `json:"type"`
	Items    string `json:"items,omitempty"`
	System   string `json:"system,omitempty"`
	Custom   string `json:"custom,omitempty"`
	CustomID int    `json:"customId,omitempty"`
}

type fieldDef struct {
	ID          string       `json:"id"`
	Key         string       `json:"key"`
	Name        string       `json:"name"`
	Custom      bool         `json:"custom"`
	Orderable   bool         `json:"orderable"`
	Navigable   bool         `json:"navigable"`
	Searchable  bool         `json:"searchable"`
	ClauseNames []string     `json:"clauseNames"`
	Schema      *fieldSchema `json:"schema,omitempty"`
}

func sys(id, name, typ, items string) fieldDef {
	return fieldDef{ID: id, Key: id, Name: name, Orderable: true, Navigable: true, Searchable: true, ClauseNames: []string{id},
		Schema: &fieldSchema{Type: typ, Items: items, System: id}}
}

func custom(id, name, typ, items, plugin string) fieldDef {
	var n int
	for _, c := range id[len("customfield_"):] {
		n = n*10 + int(c-'0')
	}
	return fieldDef{ID: id, Key: id, Name: name, Custom: true, Orderable: true, Navigable: true, Searchable: true,
		ClauseNames: []string{"cf[" + id[len("customfield_"):] + "]", name},
		Schema:      &fieldSchema{Type: typ, Items: items, Custom: plugin, CustomID: n}}
}

// Fields returns what GET /rest/api/2/field answers.
func (g *Generator) Fields() []fieldDef {
	f := g.fields
	pointsPlugin := "com.atlassian.jira.plugin.system.customfieldtypes:float"
	if g.cfg.Cloud {
		pointsPlugin = "com.pyxis.greenhopper.jira:jsw-story-points"
	}
	defs := []fieldDef{
		{ID: "issuekey", Key: "issuekey", Name: "Key", Navigable: true, Searchable: true, ClauseNames: []string{"id", "issue", "issuekey", "key"}},
		sys("summary", "Summary", "string", ""),
		sys("issuetype", "Issue Type", "issuetype", ""),
		sys("status", "Status", "status", ""),
		sys("priority", "Priority", "priority", ""),
		sys("labels", "Labels", "array", "string"),
		sys("components", "Components", "array", "component"),
		sys("fixVersions", "Fix Version/s", "array", "version"),
		sys("project", "Project", "project", ""),
		sys("created", "Created", "datetime", ""),
		sys("updated", "Updated", "datetime", ""),
		sys("resolutiondate", "Resolved", "datetime", ""),
		sys("resolution", "Resolution", "resolution", ""),
		sys("duedate", "Due date", "date", ""),
		sys("description", "Description", "string", ""),
		sys("parent", "Parent", "issuelink", ""),
		custom(f.sprint, "Sprint", "array", "json", "com.pyxis.greenhopper.jira:gh-sprint"),
		custom(f.points, f.pointsName, "number", "", pointsPlugin),
		custom(f.decoyPoints, "Story Points", "string", "", "com.atlassian.jira.plugin.system.customfieldtypes:textfield"),
		custom(f.epic, "Epic Link", "any", "", "com.pyxis.greenhopper.jira:gh-epic-link"),
		custom(f.rank, "Rank", "any", "", "com.pyxis.greenhopper.jira:gh-lexo-rank"),
		custom(f.business, "Business Value", "number", "", "com.atlassian.jira.plugin.system.customfieldtypes:float"),
		custom(f.timeCrit, "Time Criticality", "number", "", "com.atlassian.jira.plugin.system.customfieldtypes:float"),
		custom(f.riskOpp, "Risk Reduction / Opportunity Enablement", "number", "", "com.atlassian.jira.plugin.system.customfieldtypes:float"),
		custom(f.jobSize, "Job Size", "number", "", "com.atlassian.jira.plugin.system.customfieldtypes:float"),
		custom(f.flagged, "Flagged", "array", "option", "com.atlassian.jira.plugin.system.customfieldtypes:multicheckboxes"),
		sys("issuelinks", "Linked Issues", "array", "issuelinks"),
	}
	if f.parentLink != "" {
		defs = append(defs, custom(f.parentLink, "Parent Link", "any", "", "com.atlassian.jpo:jpo-custom-field-parent"))
	}
	return defs
}

// rankNumber is the numeric id of the Rank field (customfield_10019 → 10019).
func (f fieldIDs) rankNumber() int {
	n, _ := strconv.Atoi(strings.TrimPrefix(f.rank, "customfield_"))
	return n
}
