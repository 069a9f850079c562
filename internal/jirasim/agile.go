package jirasim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

func (s *Sim) boardJSON(p *Project) map[string]any {
	typ := "scrum"
	if p.Kanban {
		typ = "kanban"
	}
	return map[string]any{"id": p.BoardID, "self": s.base + "/rest/agile/1.0/board/" + strconv.Itoa(p.BoardID),
		"name": p.Key + " board", "type": typ,
		"location": map[string]any{"projectId": p.ID, "displayName": p.Name + " (" + p.Key + ")", "projectName": p.Name,
			"projectKey": p.Key, "projectTypeKey": "software", "name": p.Name + " (" + p.Key + ")"}}
}

// crossBoardID is a kanban board over the first two scrum projects (a
// delivery team watching two teams' work), so their issues are on two
// boards, as on real sites. It exists when there are two scrum projects.
const crossBoardID = 99

// crossBoard returns the cross-project board as a pseudo project (its key
// is the first project's, its JQL spans both) and the keys it spans.
func (g *Generator) crossBoard() (*Project, []string) {
	var keys []string
	for _, p := range g.projects {
		if !p.Kanban && len(keys) < 2 {
			keys = append(keys, p.Key)
		}
	}
	if len(keys) < 2 {
		return nil, nil
	}
	first := g.projects[0]
	return &Project{ID: first.ID, Key: first.Key, Name: "Delivery", BoardID: crossBoardID, Kanban: true}, keys
}

func (s *Sim) crossBoardJSON(p *Project, keys []string) map[string]any {
	b := s.boardJSON(p)
	b["name"] = "Delivery (" + strings.Join(keys, ", ") + ")"
	return b
}

func (s *Sim) boardByID(w http.ResponseWriter, r *http.Request) *Project {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err == nil {
		for _, p := range s.gen.projects {
			if p.BoardID == id {
				return p
			}
		}
		if cb, _ := s.gen.crossBoard(); cb != nil && id == cb.BoardID {
			return cb
		}
	}
	writeError(w, 404, fmt.Sprintf("The requested board cannot be viewed because it either does not exist or you do not have permission to view it."))
	return nil
}

// agilePage reads startAt and maxResults (at most limit) of an agile call.
func agilePage(w http.ResponseWriter, r *http.Request, limit int) (int, int, bool) {
	startAt, err := intParam(r, "startAt", 0)
	if err == nil {
		var max int
		if max, err = intParam(r, "maxResults", limit); err == nil {
			if max == 0 || max > limit {
				max = limit
			}
			return startAt, max, true
		}
	}
	writeError(w, 400, err.Error())
	return 0, 0, false
}

func (s *Sim) boards(w http.ResponseWriter, r *http.Request) {
	s.stats.agile.Add(1)
	startAt, max, ok := agilePage(w, r, 50)
	if !ok {
		return
	}
	filter := r.URL.Query().Get("projectKeyOrId")
	typ := r.URL.Query().Get("type")
	var all []map[string]any
	for _, p := range s.gen.projects {
		if filter != "" && !strings.EqualFold(filter, p.Key) && filter != strconv.Itoa(p.ID) {
			continue
		}
		b := s.boardJSON(p)
		if typ != "" && b["type"] != typ {
			continue
		}
		all = append(all, b)
	}
	if cb, keys := s.gen.crossBoard(); cb != nil && (typ == "" || typ == "kanban") {
		for _, k := range keys {
			if p := s.projectByKey(k); filter == "" || strings.EqualFold(filter, k) || filter == strconv.Itoa(p.ID) {
				all = append(all, s.crossBoardJSON(cb, keys))
				break
			}
		}
	}
	if filter != "" && s.projectByKey(filter) == nil {
		writeError(w, 400, fmt.Sprintf("No project could be found with key or id '%s'.", filter))
		return
	}
	end := min(startAt+max, len(all))
	page := []map[string]any{}
	if startAt < len(all) {
		page = all[startAt:end]
	}
	writeJSON(w, 200, map[string]any{"maxResults": max, "startAt": startAt, "total": len(all), "isLast": end >= len(all), "values": page})
}

func (s *Sim) board(w http.ResponseWriter, r *http.Request) {
	s.stats.agile.Add(1)
	if p := s.boardByID(w, r); p != nil {
		if cb, keys := s.gen.crossBoard(); cb != nil && p.BoardID == cb.BoardID {
			writeJSON(w, 200, s.crossBoardJSON(cb, keys))
			return
		}
		writeJSON(w, 200, s.boardJSON(p))
	}
}

func (s *Sim) sprintJSON(sp *Sprint) map[string]any {
	m := map[string]any{"id": sp.ID, "self": s.base + "/rest/agile/1.0/sprint/" + strconv.Itoa(sp.ID), "state": sp.State,
		"name": sp.Name, "originBoardId": sp.BoardID, "goal": sp.Goal, "createdDate": agileTime(sp.Start.Add(-72 * 3600e9))}
	if sp.State != "future" {
		m["startDate"] = agileTime(sp.Start)
		m["endDate"] = agileTime(sp.End)
	}
	if !sp.Complete.IsZero() {
		m["completeDate"] = agileTime(sp.Complete)
	}
	return m
}

func (s *Sim) boardSprints(w http.ResponseWriter, r *http.Request) {
	s.stats.agile.Add(1)
	p := s.boardByID(w, r)
	if p == nil {
		return
	}
	if p.Kanban {
		writeError(w, 400, "The board does not support sprints")
		return
	}
	startAt, max, ok := agilePage(w, r, 50)
	if !ok {
		return
	}
	states := map[string]bool{}
	for _, st := range strings.Split(r.URL.Query().Get("state"), ",") {
		if st = strings.TrimSpace(st); st != "" {
			if st != "future" && st != "active" && st != "closed" {
				writeError(w, 400, fmt.Sprintf("The state '%s' is not valid. Valid states are: future, active, closed.", st))
				return
			}
			states[st] = true
		}
	}
	var all []*Sprint
	for _, sp := range s.gen.Sprints(p.BoardID) {
		sp = s.sprintNow(sp)
		if len(states) == 0 || states[sp.State] {
			all = append(all, sp)
		}
	}
	end := min(startAt+max, len(all))
	page := []map[string]any{}
	for k := startAt; k < end; k++ {
		page = append(page, s.sprintJSON(all[k]))
	}
	writeJSON(w, 200, map[string]any{"maxResults": max, "startAt": startAt, "isLast": end >= len(all), "values": page})
}

func (s *Sim) agileIssues(w http.ResponseWriter, r *http.Request, indices []int32) {
	startAt, max, ok := agilePage(w, r, 50)
	if !ok {
		return
	}
	fs := parseFields(r.URL.Query().Get("fields"), true)
	end := min(startAt+max, len(indices))
	var page []int32
	if startAt < len(indices) {
		page = indices[startAt:end]
	}
	writeJSON(w, 200, map[string]any{"expand": "schema,names", "startAt": startAt, "maxResults": max, "total": len(indices),
		"issues": s.renderIssues(page, fs, hasExpand(r, "changelog"), true)})
}

func (s *Sim) boardIssues(w http.ResponseWriter, r *http.Request) {
	s.stats.agile.Add(1)
	p := s.boardByID(w, r)
	if p == nil {
		return
	}
	jql := "project = " + p.Key
	if cb, keys := s.gen.crossBoard(); cb != nil && p.BoardID == cb.BoardID {
		jql = "project in (" + strings.Join(keys, ", ") + ")"
	}
	q, _ := parseJQL(jql, s.gen.loc)
	s.agileIssues(w, r, s.match(jql, q))
}

func (s *Sim) sprintIssues(w http.ResponseWriter, r *http.Request) {
	s.stats.agile.Add(1)
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || s.gen.SprintByID(id) == nil {
		writeError(w, 404, "The requested sprint cannot be viewed because it either does not exist or you do not have permission to view it.")
		return
	}
	s.idxOnce.Do(s.buildIndex)
	var live []int32
	for _, i := range s.bySprint[id] {
		if !s.isDeleted(int(i)) {
			live = append(live, i)
		}
	}
	s.agileIssues(w, r, live)
}

// Column is a board column: the statuses it holds (ids) and its WIP
// limits (−1: none).
type Column struct {
	Name     string
	Statuses []string
	Min, Max int
}

// BoardColumns is a board's column configuration, as real boards have
// them: several statuses in one column, a status no column holds (Blocked
// on the scrum boards: their issues vanish from the board), limits on some
// columns, and on the kanban board a Backlog column before the first one
// the team works in. The cross-project board has its own, coarser columns.
func (g *Generator) BoardColumns(boardID int) []Column {
	ids := func(sts ...Status) []string {
		out := make([]string, len(sts))
		for i, s := range sts {
			out[i] = s.ID
		}
		return out
	}
	if boardID == crossBoardID {
		return []Column{
			{"To Do", ids(stBacklog, stSelected, stOpenIdea, stWaitingNew), -1, -1},
			{"Doing", ids(stInProgress, stReview, stWaitingIP), -1, 12},
			{"Shipped", ids(stReady, stReleased, stDone), -1, -1},
		}
	}
	for _, p := range g.projects {
		if p.BoardID != boardID {
			continue
		}
		if p.Kanban {
			return []Column{
				{"Backlog", ids(stBacklog, stOpenIdea), -1, -1},
				{"Selected for Development", ids(stSelected, stWaitingNew), -1, 8},
				{"In Progress", ids(stInProgress, stBlocked, stWaitingIP), 1, 5},
				{"In Review", ids(stReview), -1, 3},
				{"Ready for Release", ids(stReady), -1, -1},
				{"Done", ids(stReleased, stDone), -1, -1},
			}
		}
		return []Column{
			{"To Do", ids(stBacklog, stSelected, stOpenIdea, stWaitingNew), -1, -1},
			{"In Progress", ids(stInProgress, stWaitingIP), -1, 6},
			{"Review", ids(stReview), -1, 3},
			{"Done", ids(stReady, stReleased, stDone), -1, -1},
		}
	}
	return nil
}

// boardConfig answers /rest/agile/1.0/board/{id}/configuration as Jira
// writes it: min and max only on columns that have them.
func (s *Sim) boardConfig(w http.ResponseWriter, r *http.Request) {
	s.stats.agile.Add(1)
	p := s.boardByID(w, r)
	if p == nil {
		return
	}
	var cols []map[string]any
	for _, c := range s.gen.BoardColumns(p.BoardID) {
		var sts []map[string]any
		for _, id := range c.Statuses {
			sts = append(sts, map[string]any{"id": id, "self": s.base + "/rest/api/2/status/" + id})
		}
		col := map[string]any{"name": c.Name, "statuses": sts}
		if c.Min >= 0 {
			col["min"] = c.Min
		}
		if c.Max >= 0 {
			col["max"] = c.Max
		}
		cols = append(cols, col)
	}
	b := s.boardJSON(p)
	out := map[string]any{"id": p.BoardID, "name": b["name"], "type": b["type"], "self": s.base + "/rest/agile/1.0/board/" + strconv.Itoa(p.BoardID) + "/configuration",
		"location":     map[string]any{"type": "project", "key": p.Key, "id": strconv.Itoa(p.ID), "self": s.base + "/rest/api/2/project/" + strconv.Itoa(p.ID), "name": p.Name},
		"filter":       map[string]any{"id": strconv.Itoa(10100 + p.BoardID), "self": s.base + "/rest/api/2/filter/" + strconv.Itoa(10100+p.BoardID)},
		"columnConfig": map[string]any{"columns": cols, "constraintType": "issueCount"},
		"estimation":   map[string]any{"type": "field", "field": map[string]any{"fieldId": s.gen.fields.points, "displayName": s.gen.fields.pointsName}},
		"ranking":      map[string]any{"rankCustomFieldId": s.gen.fields.rankNumber()},
	}
	if p.Kanban {
		out["subQuery"] = map[string]any{"query": "fixVersion in unreleasedVersions() OR fixVersion is EMPTY"}
	}
	writeJSON(w, 200, out)
}

// sprintNow is a sprint as the site holds it now: closed by CloseSprint,
// or as generated.
func (s *Sim) sprintNow(sp *Sprint) *Sprint {
	s.mu.RLock()
	at, ok := s.closedSprints[sp.ID]
	s.mu.RUnlock()
	if !ok {
		return sp
	}
	c := *sp
	c.State, c.Complete = "closed", at
	return &c
}

// CloseSprint completes an active sprint at time at, as its board's team
// would, and posts the sprint_closed webhook delivery.
func (s *Sim) CloseSprint(id int, at time.Time) error {
	sp := s.gen.SprintByID(id)
	if sp == nil || s.sprintNow(sp).State != "active" {
		return fmt.Errorf("no active sprint %d", id)
	}
	s.mu.Lock()
	if s.closedSprints == nil {
		s.closedSprints = map[int]time.Time{}
	}
	s.closedSprints[id] = at
	s.mutGen++
	s.mu.Unlock()
	body, _ := json.Marshal(map[string]any{"timestamp": time.Now().UnixMilli(), "webhookEvent": "sprint_closed", "sprint": s.sprintJSON(s.sprintNow(sp))})
	s.post(body, fmt.Sprintf("sim-sprint-%d", id))
	return nil
}

// ReleaseVersion releases an unreleased version of a project at time at,
// as its release manager would, and posts jira:version_released.
func (s *Sim) ReleaseVersion(project string, id int, at time.Time) error {
	p := s.projectByKey(project)
	if p == nil {
		return fmt.Errorf("no project %s", project)
	}
	v := s.versionJSON(p, id)
	if v == nil || v["released"] == true {
		return fmt.Errorf("no unreleased version %d in %s", id, project)
	}
	s.mu.Lock()
	if s.releasedVersions == nil {
		s.releasedVersions = map[int]time.Time{}
	}
	s.releasedVersions[id] = at
	s.mutGen++
	s.mu.Unlock()
	body, _ := json.Marshal(map[string]any{"timestamp": time.Now().UnixMilli(), "webhookEvent": "jira:version_released", "version": s.versionJSON(p, id)})
	s.post(body, fmt.Sprintf("sim-version-%d", id))
	return nil
}
