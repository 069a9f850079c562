package jirasim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

func (s *Sim) serverInfo(w http.ResponseWriter, r *http.Request) {
	s.stats.other.Add(1)
	info := map[string]any{"baseUrl": s.base, "serverTime": s.gen.jiraTime(time.Now()), "scmInfo": "5a4b3c2d1e", "serverTitle": "Evident Jira simulator"}
	if s.gen.cfg.Cloud {
		info["version"] = "1001.0.0-SNAPSHOT"
		info["versionNumbers"] = []int{1001, 0, 0}
		info["deploymentType"] = "Cloud"
		info["buildNumber"] = 100265
		info["buildDate"] = "2026-11-01T00:00:00.000+0000"
	} else {
		info["version"] = "9.12.2"
		info["versionNumbers"] = []int{9, 12, 2}
		info["deploymentType"] = "Server"
		info["buildNumber"] = 9120002
		info["buildDate"] = "2024-02-20T00:00:00.000+0000"
	}
	writeJSON(w, 200, info)
}

func (s *Sim) myself(w http.ResponseWriter, r *http.Request) {
	s.stats.other.Add(1)
	u := s.user(0)
	u.EmailAddress = s.opts.Email
	writeJSON(w, 200, map[string]any{"self": u.Self, "accountId": u.AccountID, "name": u.Name, "key": u.Key, "emailAddress": u.EmailAddress,
		"displayName": u.DisplayName, "active": true, "timeZone": s.gen.cfg.TimeZone, "locale": "en_US"})
}

func (s *Sim) fieldList(w http.ResponseWriter, r *http.Request) {
	s.stats.other.Add(1)
	writeJSON(w, 200, s.gen.Fields())
}

func (s *Sim) statusList(w http.ResponseWriter, r *http.Request) {
	s.stats.other.Add(1)
	out := make([]map[string]any, 0, len(Statuses))
	for _, st := range Statuses {
		out = append(out, s.statusJSON(st))
	}
	writeJSON(w, 200, out)
}

func (s *Sim) projectJSON(p *Project) map[string]any {
	return map[string]any{"expand": "description,lead,issueTypes,url,projectKeys,permissions,insight", "self": s.base + "/rest/api/2/project/" + strconv.Itoa(p.ID),
		"id": strconv.Itoa(p.ID), "key": p.Key, "name": p.Name, "projectTypeKey": "software", "simplified": false, "style": "classic", "isPrivate": false}
}

func (s *Sim) projectByKey(key string) *Project {
	for _, p := range s.gen.projects {
		if strings.EqualFold(p.Key, key) || strconv.Itoa(p.ID) == key {
			return p
		}
	}
	return nil
}

func (s *Sim) projectList(w http.ResponseWriter, r *http.Request) {
	s.stats.other.Add(1)
	out := []map[string]any{}
	for _, p := range s.gen.projects {
		out = append(out, s.projectJSON(p))
	}
	writeJSON(w, 200, out)
}

func (s *Sim) project(w http.ResponseWriter, r *http.Request) {
	s.stats.other.Add(1)
	p := s.projectByKey(r.PathValue("key"))
	if p == nil {
		writeError(w, 404, fmt.Sprintf("No project could be found with key '%s'.", r.PathValue("key")))
		return
	}
	writeJSON(w, 200, s.projectJSON(p))
}

func (s *Sim) versions(w http.ResponseWriter, r *http.Request) {
	s.stats.other.Add(1)
	p := s.projectByKey(r.PathValue("key"))
	if p == nil {
		writeError(w, 404, fmt.Sprintf("No project could be found with key '%s'.", r.PathValue("key")))
		return
	}
	out := []map[string]any{}
	for _, rel := range s.gen.Releases(p) {
		m := s.versionJSON(p, rel.ID)
		m["projectId"] = p.ID
		m["overdue"] = !rel.Released && rel.Date.Before(s.gen.cfg.Now)
		out = append(out, m)
	}
	writeJSON(w, 200, out)
}

func intParam(r *http.Request, name string, def int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("The '%s' parameter must be a non-negative number, got '%s'.", name, v)
	}
	return n, nil
}

// compile parses the jql parameter and checks its projects exist, answering
// 400 like Jira when not.
func (s *Sim) compile(w http.ResponseWriter, jql string) (*query, bool) {
	q, err := parseJQL(jql, s.gen.loc)
	if err != nil {
		writeError(w, 400, err.Error())
		return nil, false
	}
	for k := range q.projects {
		if s.projectByKey(k) == nil {
			writeError(w, 400, fmt.Sprintf("The value '%s' does not exist for the field 'project'.", k))
			return nil, false
		}
	}
	return q, true
}

func (s *Sim) pageSize(asked int, fs fieldSet) int {
	limit := s.opts.MaxPage
	if fs.none() {
		limit = 5000
	}
	if asked <= 0 {
		asked = 50
	}
	return min(asked, limit)
}

func (s *Sim) renderIssues(indices []int32, fs fieldSet, changelog bool, agile bool) []jsonIssue {
	out := make([]jsonIssue, 0, len(indices))
	for _, i := range indices {
		if is := s.Issue(int(i)); is != nil {
			out = append(out, s.issueJSON(is, fs, changelog, s.opts.ChangelogCap, agile))
			if !agile {
				s.countServed(is.Key)
			}
		}
	}
	return out
}

func hasExpand(r *http.Request, what string) bool {
	for _, e := range strings.Split(r.URL.Query().Get("expand"), ",") {
		if strings.TrimSpace(e) == what {
			return true
		}
	}
	return false
}

// searchDC is Data Center's /rest/api/2/search; Cloud removed it (410).
func (s *Sim) searchDC(w http.ResponseWriter, r *http.Request) {
	s.stats.search.Add(1)
	if s.gen.cfg.Cloud {
		writeError(w, http.StatusGone, "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046")
		return
	}
	qp := r.URL.Query()
	startAt, err := intParam(r, "startAt", 0)
	if err != nil {
		writeError(w, 400, err.Error())
		return
	}
	maxResults, err := intParam(r, "maxResults", 50)
	if err != nil {
		writeError(w, 400, err.Error())
		return
	}
	q, ok := s.compile(w, qp.Get("jql"))
	if !ok {
		return
	}
	fs := parseFields(qp.Get("fields"), true)
	size := s.pageSize(maxResults, fs)
	all := s.match(qp.Get("jql"), q)
	end := min(startAt+size, len(all))
	var page []int32
	if startAt < len(all) {
		page = all[startAt:end]
	}
	writeJSON(w, 200, map[string]any{"expand": "schema,names", "startAt": startAt, "maxResults": size, "total": len(all),
		"issues": s.renderIssues(page, fs, hasExpand(r, "changelog"), false)})
}

// searchCloud is Cloud's enhanced search with nextPageToken.
func (s *Sim) searchCloud(w http.ResponseWriter, r *http.Request) {
	s.stats.search.Add(1)
	if !s.gen.cfg.Cloud {
		writeError(w, 404, "null for uri: "+r.URL.Path)
		return
	}
	qp := r.URL.Query()
	maxResults, err := intParam(r, "maxResults", 50)
	if err != nil {
		writeError(w, 400, err.Error())
		return
	}
	jql := qp.Get("jql")
	if strings.TrimSpace(jql) == "" {
		writeError(w, 400, "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.")
		return
	}
	q, ok := s.compile(w, jql)
	if !ok {
		return
	}
	pos := 0
	if tok := qp.Get("nextPageToken"); tok != "" {
		pos, ok = decodeToken(tok, jql)
		if !ok {
			writeError(w, 400, "The provided next page token is invalid or expired.")
			return
		}
	}
	fs := parseFields(qp.Get("fields"), false)
	size := s.pageSize(maxResults, fs)
	all := s.match(jql, q)
	end := min(pos+size, len(all))
	var page []int32
	if pos < len(all) {
		page = all[pos:end]
	}
	resp := map[string]any{"issues": s.renderIssues(page, fs, hasExpand(r, "changelog"), false), "isLast": end >= len(all)}
	if end < len(all) {
		resp["nextPageToken"] = encodeToken(end, jql)
	}
	writeJSON(w, 200, resp)
}

func tokenTag(jql string) uint32 {
	var h uint32 = 2166136261
	for i := 0; i < len(jql); i++ {
		h = (h ^ uint32(jql[i])) * 16777619
	}
	return h
}

func encodeToken(pos int, jql string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("v1:%08x:%d", tokenTag(jql), pos)))
}

func decodeToken(tok, jql string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, false
	}
	var tag uint32
	var pos int
	if _, err := fmt.Sscanf(string(b), "v1:%08x:%d", &tag, &pos); err != nil || tag != tokenTag(jql) || pos < 0 {
		return 0, false
	}
	return pos, true
}

func (s *Sim) issue(w http.ResponseWriter, r *http.Request) {
	s.stats.issue.Add(1)
	is := s.issueByKey(r.PathValue("key"))
	if is == nil {
		writeError(w, 404, "Issue does not exist or you do not have permission to see it.")
		return
	}
	s.countServed(is.Key)
	limit := 0 // Data Center returns the whole changelog on the issue
	if s.gen.cfg.Cloud {
		limit = 100
	}
	writeJSON(w, 200, s.issueJSON(is, parseFields(r.URL.Query().Get("fields"), true), hasExpand(r, "changelog"), limit, false))
}

// changelog is Cloud's paged changelog of one issue.
func (s *Sim) changelog(w http.ResponseWriter, r *http.Request) {
	s.stats.changelog.Add(1)
	if !s.gen.cfg.Cloud {
		writeError(w, 404, "null for uri: "+r.URL.Path)
		return
	}
	is := s.issueByKey(r.PathValue("key"))
	if is == nil {
		writeError(w, 404, "Issue does not exist or you do not have permission to see it.")
		return
	}
	startAt, err := intParam(r, "startAt", 0)
	if err != nil {
		writeError(w, 400, err.Error())
		return
	}
	maxResults, err := intParam(r, "maxResults", 100)
	if err != nil {
		writeError(w, 400, err.Error())
		return
	}
	if maxResults == 0 || maxResults > 100 {
		maxResults = 100
	}
	values := s.histories(is, startAt, maxResults)
	writeJSON(w, 200, map[string]any{
		"self":       s.base + r.URL.RequestURI(),
		"maxResults": maxResults, "startAt": startAt, "total": len(is.Histories),
		"isLast": startAt+len(values) >= len(is.Histories), "values": values,
	})
}

// approximateCount is Cloud's POST /rest/api/3/search/approximate-count.
func (s *Sim) approximateCount(w http.ResponseWriter, r *http.Request) {
	s.stats.search.Add(1)
	if !s.gen.cfg.Cloud {
		writeError(w, 404, "null for uri: "+r.URL.Path)
		return
	}
	var body struct {
		JQL string `json:"jql"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body); err != nil {
		writeError(w, 400, "Invalid request payload. Refer to the REST API documentation and try again.")
		return
	}
	q, ok := s.compile(w, body.JQL)
	if !ok {
		return
	}
	writeJSON(w, 200, map[string]int{"count": len(s.match(body.JQL, q))})
}

// serviceDesks is Jira Service Management's list of desks.
func (s *Sim) serviceDesks(w http.ResponseWriter, r *http.Request) {
	s.stats.other.Add(1)
	if !s.opts.ServiceDesk {
		writeError(w, 404, "null for uri: "+r.URL.Path)
		return
	}
	values := []map[string]any{}
	for _, p := range s.gen.projects {
		if p.Kanban {
			values = append(values, map[string]any{"id": strconv.Itoa(p.ID - 9999), "projectId": strconv.Itoa(p.ID), "projectName": p.Name, "projectKey": p.Key})
		}
	}
	writeJSON(w, 200, map[string]any{"size": len(values), "start": 0, "limit": 50, "isLastPage": true, "values": values})
}

// Feedback returns the customer feedback of a resolved request, if any:
// about a third of the resolved requests of a desk have one.
func (s *Sim) Feedback(is *Issue) (rating int, comment string, ok bool) {
	if !s.opts.ServiceDesk || !is.Project.Kanban || is.Resolution.IsZero() {
		return 0, "", false
	}
	r := s.gen.rngFor(is.Index, 9)
	if r.IntN(3) != 0 {
		return 0, "", false
	}
	rating = []int{5, 5, 4, 4, 4, 3, 2, 1}[r.IntN(8)]
	comment = []string{"", "Quick and friendly", "Took too long", "Solved, thanks!", "<b>great</b> support"}[r.IntN(5)]
	return rating, comment, true
}

func (s *Sim) feedback(w http.ResponseWriter, r *http.Request) {
	s.stats.other.Add(1)
	is := s.issueByKey(r.PathValue("key"))
	if is == nil {
		writeError(w, 404, "Request does not exist or you do not have permission to see it.")
		return
	}
	rating, comment, ok := s.Feedback(is)
	if !ok {
		writeError(w, 404, "No feedback found for this request.")
		return
	}
	writeJSON(w, 200, map[string]any{"type": "csat", "rating": rating, "comment": map[string]string{"body": comment}})
}
