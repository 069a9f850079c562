package collector

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // sites name time zones the machine may lack

	jira "github.com/andygrunwald/go-jira"

	"github.com/evident-ebm/evident"
)

// siteMeta is what the preflight learned about a site.
type siteMeta struct {
	deploy   string
	loc      *time.Location
	fields   FieldIDs
	statuses map[string]string
	named    []evident.Status // /rest/api/2/status with names
	projects map[string]jira.Project
}

// preflight learns the deployment, time zone, fields and statuses, and
// checks that every configured project exists, before anything is written.
func (r *run) preflight(ctx context.Context) error {
	var info struct {
		DeploymentType string `json:"deploymentType"`
		Version        string `json:"version"`
	}
	// A wrong URL should fail fast, not after the full retry budget.
	tries := r.c.transport.maxTries
	r.c.transport.maxTries = min(tries, 2)
	err := r.c.get(ctx, "rest/api/2/serverInfo", &info)
	r.c.transport.maxTries = tries
	if err != nil {
		var e *evident.Error
		if errors.As(err, &e) && e.Code == evident.ENOTFOUND {
			return evident.Errorf(evident.EINVALID, "jira site %s: %s does not answer /rest/api/2/serverInfo: check that the url (EVIDENT_JIRA_URL) is the Jira base URL", r.cfg.Name, r.cfg.URL)
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return evident.Errorf(evident.EINVALID, "jira site %s: %s does not answer like Jira (not JSON): check the url (EVIDENT_JIRA_URL)", r.cfg.Name, r.cfg.URL)
		}
		return err
	}
	r.meta.deploy = info.DeploymentType
	r.site = newDeployment(r.c, info.DeploymentType)
	r.sum.Deployment = info.DeploymentType
	var me struct {
		TimeZone string `json:"timeZone"`
	}
	if err := r.c.get(ctx, "rest/api/2/myself", &me); err != nil {
		return err
	}
	r.meta.loc = time.UTC
	if me.TimeZone != "" {
		if loc, err := time.LoadLocation(me.TimeZone); err == nil {
			r.meta.loc = loc
		} else {
			r.s.Log.Warn("unknown Jira user time zone; JQL dates in UTC", "site", r.cfg.Name, "time_zone", me.TimeZone)
		}
	}
	r.meta.projects = map[string]jira.Project{}
	for _, key := range r.cfg.Projects {
		var p jira.Project
		if err := r.c.get(ctx, "rest/api/2/project/"+url.PathEscape(key), &p); err != nil {
			var e *evident.Error
			if errors.As(err, &e) && e.Code == evident.ENOTFOUND {
				return evident.Errorf(evident.EINVALID, "jira site %s: project %q does not exist or the account cannot browse it: check EVIDENT_JIRA_PROJECTS and the account's permissions", r.cfg.Name, key)
			}
			return err
		}
		r.meta.projects[key] = p
	}
	var fields []jira.Field
	if err := r.c.get(ctx, "rest/api/2/field", &fields); err != nil {
		return err
	}
	r.meta.fields = DiscoverFields(fields, r.cfg.Fields)
	var statuses []jira.Status
	if err := r.c.get(ctx, "rest/api/2/status", &statuses); err != nil {
		return err
	}
	r.meta.statuses = map[string]string{}
	for _, st := range statuses {
		r.meta.statuses[st.ID] = st.StatusCategory.Key
		r.meta.named = append(r.meta.named, evident.Status{Site: r.cfg.Name, StatusID: st.ID, Name: st.Name, Category: st.StatusCategory.Key})
	}
	// A fetch of named issues finds a broken search out by itself.
	if r.sum.Mode != Live {
		if err := r.site.checkSearch(ctx, r.jql(r.cfg.Projects[0], time.Time{})); err != nil {
			return err
		}
	}
	r.mapping = Mapping{Site: r.cfg.Name, Version: r.version, Fields: r.meta.fields, StatusCategory: r.meta.statuses,
		CategoryByName: categoryByName(r.meta.named), Projects: r.cfg.ProjectSettings}
	return nil
}

// DiscoverFields finds the custom fields the metrics need by name and
// schema; configured ids win.
func DiscoverFields(fields []jira.Field, override FieldOverrides) FieldIDs {
	var ids FieldIDs
	for _, f := range fields {
		name := strings.ToLower(f.Name)
		switch {
		case f.Schema.Custom == "com.pyxis.greenhopper.jira:gh-sprint" || (name == "sprint" && ids.Sprint == ""):
			ids.Sprint = f.ID
		case f.Schema.Custom == "com.pyxis.greenhopper.jira:gh-epic-link" || (name == "epic link" && ids.EpicLink == ""):
			ids.EpicLink = f.ID
		case f.Schema.Custom == "com.pyxis.greenhopper.jira:gh-lexo-rank" || (name == "rank" && ids.Rank == ""):
			ids.Rank = f.ID
		case (name == "story points" || name == "story point estimate") && f.Schema.Type == "number":
			// Jira Cloud's "Story point estimate" is what boards use; prefer it.
			if ids.StoryPoints == "" || name == "story point estimate" {
				ids.StoryPoints = f.ID
			}
		case name == "business value" && f.Schema.Type == "number":
			ids.BusinessValue = f.ID
		case name == "time criticality" && f.Schema.Type == "number":
			ids.TimeCriticality = f.ID
		case (name == "risk reduction / opportunity enablement" || name == "risk reduction-opportunity enablement value" || name == "rr/oe") && f.Schema.Type == "number":
			ids.RiskReduction = f.ID
		case name == "job size" && f.Schema.Type == "number":
			ids.JobSize = f.ID
		case name == "acceptance criteria" && (f.Schema.Type == "string" || f.Schema.Type == "any"):
			ids.Acceptance = f.ID
		case f.Schema.Custom == "com.atlassian.jpo:jpo-custom-field-parent" || (name == "parent link" && ids.ParentLink == ""):
			ids.ParentLink = f.ID
		case name == "flagged" && (f.Schema.Custom == "com.atlassian.jira.plugin.system.customfieldtypes:multicheckboxes" || ids.Flagged == ""):
			ids.Flagged = f.ID
		}
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&ids.StoryPoints, override.StoryPoints)
	set(&ids.Sprint, override.Sprint)
	set(&ids.EpicLink, override.EpicLink)
	set(&ids.BusinessValue, override.BusinessValue)
	set(&ids.Rank, override.Rank)
	set(&ids.TimeCriticality, override.TimeCriticality)
	set(&ids.RiskReduction, override.RiskReduction)
	set(&ids.JobSize, override.JobSize)
	set(&ids.Acceptance, override.Acceptance)
	set(&ids.ParentLink, override.ParentLink)
	set(&ids.Flagged, override.Flagged)
	return ids
}

func (r *run) storeMetadata(ctx context.Context) error {
	fieldJSON, _ := json.Marshal(r.meta.fields)
	if err := r.s.Store.InsertSites(ctx, []evident.Site{{Site: r.cfg.Name, URL: r.cfg.URL, DeploymentType: r.meta.deploy,
		TimeZone: r.meta.loc.String(), FieldIDs: string(fieldJSON), Cycles: r.prev.Cycles, Version: r.version}}); err != nil {
		return err
	}
	var projects []evident.Project
	for key, p := range r.meta.projects {
		id, _ := strconv.ParseUint(p.ID, 10, 64)
		projects = append(projects, evident.Project{Site: r.cfg.Name, ProjectID: id, Key: key, Name: p.Name, Version: r.version})
	}
	if err := r.s.Store.InsertProjects(ctx, projects); err != nil {
		return err
	}
	statuses := make([]evident.Status, len(r.meta.named))
	for i, st := range r.meta.named {
		st.Version = r.version
		statuses[i] = st
	}
	return r.s.Store.InsertStatuses(ctx, statuses)
}

// categoryByName maps each status name to its category when all listed
// statuses of that name share one.
func categoryByName(statuses []evident.Status) map[string]string {
	out := map[string]string{}
	ambiguous := map[string]bool{}
	for _, st := range statuses {
		if c, ok := out[st.Name]; ok && c != st.Category {
			ambiguous[st.Name] = true
		}
		out[st.Name] = st.Category
	}
	for name := range ambiguous {
		delete(out, name)
	}
	return out
}
