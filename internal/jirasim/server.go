package jirasim

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a simulated site.
type Options struct {
	Config
	// Email and APIToken are the Basic credentials accepted in Cloud mode.
	Email    string
	APIToken string
	// PAT is the Bearer token accepted in Data Center mode.
	PAT string
	// ChangelogCap is how many histories a search result carries inline
	// (default 40, as Jira Cloud does today).
	ChangelogCap int
	// MaxPage is the largest page of issues with fields the server returns,
	// whatever maxResults asks (default 100).
	MaxPage int
	// Faults to inject.
	Faults Faults
	// ServiceDesk makes the kanban projects Jira Service Management desks
	// whose resolved requests carry customer feedback (CSAT 1–5).
	ServiceDesk bool
}

// Stats counts what the simulator served.
type Stats struct {
	Requests, Search, Changelog, Issue, Agile, Other  int64
	RateLimited, Unavailable, Resets, Truncated, Slow int64
	Unauthorized                                      int64
}

// Sim is a simulated Jira site.
type Sim struct {
	gen  *Generator
	opts Options
	base string

	mu       sync.RWMutex
	overlays map[int]*overlay
	mutGen   int64 // bumped on every mutation: invalidates cached matches
	byKey    map[string]int

	idxOnce  sync.Once
	updated  []int64 // generated updated time (unix seconds) by index
	bySprint map[int][]int32

	cacheMu sync.Mutex
	cache   map[string]cachedMatch

	faults atomic.Pointer[faultState] // swapped by SetFaults while requests run
	stats  struct {
		requests, search, changelog, issue, agile, other atomic.Int64
	}
}

type overlay struct {
	extra   []History
	status  *Status
	deleted bool
	updated time.Time
}

type cachedMatch struct {
	gen     int64
	indices []int32
	used    time.Time
}

// New returns a simulator for opts.
func New(opts Options) (*Sim, error) {
	gen, err := NewGenerator(opts.Config)
	if err != nil {
		return nil, err
	}
	opts.Config = gen.cfg
	if opts.ChangelogCap == 0 {
		opts.ChangelogCap = 40
	}
	if opts.MaxPage == 0 {
		opts.MaxPage = 100
	}
	s := &Sim{gen: gen, opts: opts, base: "http://jira.example", overlays: map[int]*overlay{}, cache: map[string]cachedMatch{}}
	s.faults.Store(newFaultState(opts.Faults))
	return s, nil
}

// Generator returns the simulator's data generator.
func (s *Sim) Generator() *Generator { return s.gen }

// SetBaseURL sets the address the simulator reports in self links.
func (s *Sim) SetBaseURL(u string) { s.base = strings.TrimRight(u, "/") }

// SetFaults replaces the faults injected from now on.
func (s *Sim) SetFaults(f Faults) { s.faults.Store(newFaultState(f)) }

// Stats returns counts of what was served so far.
func (s *Sim) Stats() Stats {
	f := s.faults.Load()
	return Stats{
		Requests: s.stats.requests.Load(), Search: s.stats.search.Load(), Changelog: s.stats.changelog.Load(),
		Issue: s.stats.issue.Load(), Agile: s.stats.agile.Load(), Other: s.stats.other.Load(),
		RateLimited: f.rateLimited.Load(), Unavailable: f.unavailable.Load(), Resets: f.resets.Load(),
		Truncated: f.truncated.Load(), Slow: f.slow.Load(), Unauthorized: f.unauthorized.Load(),
	}
}

// Issue returns issue i as the site holds it now (overlays applied), or nil
// when deleted or out of range.
func (s *Sim) Issue(i int) *Issue {
	if i < 0 || i >= s.gen.Len() {
		return nil
	}
	is := s.gen.Issue(i)
	s.mu.RLock()
	o := s.overlays[i]
	s.mu.RUnlock()
	if o != nil {
		if o.deleted {
			return nil
		}
		is.Histories = append(is.Histories, o.extra...)
		if o.status != nil {
			is.Status = *o.status
			if is.Status.Category == "done" && is.Resolution.IsZero() {
				is.Resolution = o.updated
			} else if is.Status.Category != "done" {
				is.Resolution = time.Time{}
			}
		}
		if o.updated.After(is.Updated) {
			is.Updated = o.updated
		}
	}
	return is
}

// IndexOf returns the index of an issue key or id, or -1.
func (s *Sim) IndexOf(keyOrID string) int {
	if id, err := strconv.ParseInt(keyOrID, 10, 64); err == nil {
		i := int(id - 10000)
		if i >= 0 && i < s.gen.Len() {
			return i
		}
		return -1
	}
	project, num, ok := strings.Cut(strings.ToUpper(keyOrID), "-")
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 {
		return -1
	}
	for p, pr := range s.gen.projects {
		if pr.Key == project {
			i := (n-1)*len(s.gen.projects) + p
			if i < s.gen.Len() {
				return i
			}
		}
	}
	return -1
}

func (s *Sim) mutate(key string, f func(i int, is *Issue, o *overlay)) error {
	i := s.IndexOf(key)
	if i < 0 {
		return fmt.Errorf("no issue %s", key)
	}
	is := s.Issue(i)
	if is == nil {
		return fmt.Errorf("issue %s is deleted", key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.overlays[i]
	if o == nil {
		o = &overlay{}
		s.overlays[i] = o
	}
	f(i, is, o)
	s.mutGen++
	return nil
}

// issueByKey returns the issue a key or id names, or nil when there is
// none or it was deleted.
func (s *Sim) issueByKey(keyOrID string) *Issue {
	if i := s.IndexOf(keyOrID); i >= 0 {
		return s.Issue(i)
	}
	return nil
}

// Touch edits an issue's labels at time at, as a person editing it would:
// a new changelog history and a new updated time.
func (s *Sim) Touch(key string, at time.Time) error {
	return s.mutate(key, func(i int, is *Issue, o *overlay) {
		id := is.ID*200 + 150 + int64(len(o.extra))
		before := strings.Join(is.Labels, " ")
		o.extra = append(o.extra, History{ID: id, Created: at, Items: []Item{{Field: "labels", FieldType: "jira", FieldID: "labels",
			FromString: ptrS(before), ToString: ptrS(strings.TrimSpace(before + " touched"))}}})
		o.updated = at
	})
}

// Transition moves an issue to a status at time at.
func (s *Sim) Transition(key, statusID string, at time.Time) error {
	to, ok := statusByID[statusID]
	if !ok {
		return fmt.Errorf("no status %s", statusID)
	}
	return s.mutate(key, func(i int, is *Issue, o *overlay) {
		id := is.ID*200 + 150 + int64(len(o.extra))
		from := is.Status
		o.extra = append(o.extra, History{ID: id, Created: at, Items: []Item{{Field: "status", FieldType: "jira", FieldID: "status",
			From: ptrS(from.ID), FromString: ptrS(from.Name), To: ptrS(to.ID), ToString: ptrS(to.Name)}}})
		o.status = &to
		o.updated = at
	})
}

// Delete removes an issue from the site.
func (s *Sim) Delete(key string) error {
	return s.mutate(key, func(i int, is *Issue, o *overlay) { o.deleted = true })
}

// buildIndex generates every issue once to learn its updated time and
// sprints, on all cores.
func (s *Sim) buildIndex() {
	n := s.gen.Len()
	s.updated = make([]int64, n)
	workers := runtime.GOMAXPROCS(0)
	sprintsOf := make([][]int, n)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += workers {
				is := s.gen.Issue(i)
				s.updated[i] = is.Updated.Unix()
				sprintsOf[i] = is.Sprints
			}
		}(w)
	}
	wg.Wait()
	s.bySprint = map[int][]int32{}
	for i, ids := range sprintsOf {
		for _, id := range ids {
			s.bySprint[id] = append(s.bySprint[id], int32(i))
		}
	}
}

func (s *Sim) updatedAt(i int) time.Time {
	s.idxOnce.Do(s.buildIndex)
	t := time.Unix(s.updated[i], 0)
	s.mu.RLock()
	o := s.overlays[i]
	s.mu.RUnlock()
	if o != nil && o.updated.After(t) {
		return o.updated
	}
	return t
}

func (s *Sim) isDeleted(i int) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	o := s.overlays[i]
	return o != nil && o.deleted
}

// match returns the indices of the issues a query selects, in its order.
func (s *Sim) match(jql string, q *query) []int32 {
	s.mu.RLock()
	gen := s.mutGen
	s.mu.RUnlock()
	s.cacheMu.Lock()
	if c, ok := s.cache[jql]; ok && c.gen == gen {
		c.used = time.Now()
		s.cache[jql] = c
		s.cacheMu.Unlock()
		return c.indices
	}
	s.cacheMu.Unlock()

	P := len(s.gen.projects)
	var out []int32
	for i := 0; i < s.gen.Len(); i++ {
		if q.projects != nil && !q.projects[s.gen.projects[i%P].Key] {
			continue
		}
		if q.keys != nil && !q.keys[fmt.Sprintf("%s-%d", s.gen.projects[i%P].Key, i/P+1)] {
			continue
		}
		if !q.createdMin.IsZero() || !q.createdMax.IsZero() {
			c := s.gen.createdAt(i)
			if (!q.createdMin.IsZero() && c.Before(q.createdMin)) || (!q.createdMax.IsZero() && c.After(q.createdMax)) {
				continue
			}
		}
		if !q.updatedMin.IsZero() || !q.updatedMax.IsZero() {
			u := s.updatedAt(i)
			if (!q.updatedMin.IsZero() && u.Before(q.updatedMin)) || (!q.updatedMax.IsZero() && u.After(q.updatedMax)) {
				continue
			}
		}
		if s.isDeleted(i) {
			continue
		}
		out = append(out, int32(i))
	}
	if q.orderBy == "updated" {
		sort.SliceStable(out, func(a, b int) bool { return s.updatedAt(int(out[a])).Before(s.updatedAt(int(out[b]))) })
	}
	if q.desc {
		for a, b := 0, len(out)-1; a < b; a, b = a+1, b-1 {
			out[a], out[b] = out[b], out[a]
		}
	}
	s.cacheMu.Lock()
	if len(s.cache) >= 8 {
		var oldest string
		for k, c := range s.cache {
			if oldest == "" || c.used.Before(s.cache[oldest].used) {
				oldest = k
			}
		}
		delete(s.cache, oldest)
	}
	s.cache[jql] = cachedMatch{gen: gen, indices: out, used: time.Now()}
	s.cacheMu.Unlock()
	return out
}

// Handler returns the simulator's HTTP handler.
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /rest/api/2/serverInfo", s.serverInfo)
	mux.HandleFunc("GET /rest/api/2/myself", s.myself)
	mux.HandleFunc("GET /rest/api/2/field", s.fieldList)
	mux.HandleFunc("GET /rest/api/2/status", s.statusList)
	mux.HandleFunc("GET /rest/api/2/project", s.projectList)
	mux.HandleFunc("GET /rest/api/2/project/{key}", s.project)
	mux.HandleFunc("GET /rest/api/2/project/{key}/versions", s.versions)
	mux.HandleFunc("GET /rest/api/2/search", s.searchDC)
	mux.HandleFunc("POST /rest/api/2/search", s.searchDC)
	mux.HandleFunc("GET /rest/api/3/search", s.searchDC)
	mux.HandleFunc("GET /rest/api/2/search/jql", s.searchCloud)
	mux.HandleFunc("GET /rest/api/3/search/jql", s.searchCloud)
	mux.HandleFunc("POST /rest/api/3/search/approximate-count", s.approximateCount)
	mux.HandleFunc("GET /rest/api/2/issue/{key}", s.issue)
	mux.HandleFunc("GET /rest/api/2/issue/{key}/changelog", s.changelog)
	mux.HandleFunc("GET /rest/servicedeskapi/servicedesk", s.serviceDesks)
	mux.HandleFunc("GET /rest/servicedeskapi/request/{key}/feedback", s.feedback)
	mux.HandleFunc("GET /rest/agile/1.0/board", s.boards)
	mux.HandleFunc("GET /rest/agile/1.0/board/{id}", s.board)
	mux.HandleFunc("GET /rest/agile/1.0/board/{id}/sprint", s.boardSprints)
	mux.HandleFunc("GET /rest/agile/1.0/board/{id}/issue", s.boardIssues)
	mux.HandleFunc("GET /rest/agile/1.0/sprint/{id}/issue", s.sprintIssues)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "null for uri: "+r.URL.Path)
	})
	return s.withFaults(s.withAuth(mux))
}

// Listen serves the simulator on addr (":0" picks a port) until the
// returned server is closed, and sets the base URL to match.
func (s *Sim) Listen(addr string) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", err
	}
	url := "http://" + ln.Addr().String()
	s.SetBaseURL(url)
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return srv, url, nil
}

// writeError writes Jira's error body.
func writeError(w http.ResponseWriter, status int, msgs ...string) {
	writeJSON(w, status, map[string]any{"errorMessages": msgs, "errors": map[string]string{}})
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (s *Sim) withAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok := false
		if s.gen.cfg.Cloud {
			user, pass, has := r.BasicAuth()
			ok = has && subtle.ConstantTimeCompare([]byte(user), []byte(s.opts.Email)) == 1 &&
				subtle.ConstantTimeCompare([]byte(pass), []byte(s.opts.APIToken)) == 1
		} else {
			tok, has := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			ok = has && subtle.ConstantTimeCompare([]byte(tok), []byte(s.opts.PAT)) == 1
		}
		if ok && s.faults.Load().revoked() {
			ok = false
		}
		if !ok {
			s.faults.Load().unauthorized.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="protected-area"`)
			writeError(w, http.StatusUnauthorized, "You are not authenticated. Authentication required to perform this operation.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

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
