package jirasim

import (
	"bytes"
	"crypto/subtle"
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

	hook             webhook
	closedSprints    map[int]time.Time // sprints CloseSprint completed
	releasedVersions map[int]time.Time // versions ReleaseVersion released
	unindexed        map[int]bool      // issues the search leaves out (SetUnindexed); replaced, never changed
	servedMu         sync.Mutex
	served           map[string]int

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

// change mutates an issue and posts the webhook delivery of the change.
func (s *Sim) change(key, event string, f func(i int, is *Issue, o *overlay)) error {
	if err := s.mutate(key, f); err != nil {
		return err
	}
	i := s.IndexOf(key)
	is := s.Issue(i)
	if is == nil { // deleted: Jira sends the issue as it was
		is = s.gen.Issue(i)
	}
	s.deliver(event, is)
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
	return s.change(key, "jira:issue_updated", func(i int, is *Issue, o *overlay) {
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
	return s.change(key, "jira:issue_updated", func(i int, is *Issue, o *overlay) {
		id := is.ID*200 + 150 + int64(len(o.extra))
		from := is.Status
		o.extra = append(o.extra, History{ID: id, Created: at, Items: []Item{{Field: "status", FieldType: "jira", FieldID: "status",
			From: ptrS(from.ID), FromString: ptrS(from.Name), To: ptrS(to.ID), ToString: ptrS(to.Name)}}})
		o.status = &to
		o.updated = at
	})
}

// SetUnindexed makes the search leave the issue out (on) or find it again
// (off), while GET /issue serves it: Jira's search index behind its
// database, as on a busy site just after a change.
func (s *Sim) SetUnindexed(key string, on bool) error {
	i := s.IndexOf(key)
	if i < 0 {
		return fmt.Errorf("no issue %s", key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	next := make(map[int]bool, len(s.unindexed)+1)
	for k := range s.unindexed {
		next[k] = true
	}
	if on {
		next[i] = true
	} else {
		delete(next, i)
	}
	s.unindexed = next
	s.mutGen++
	return nil
}

// Delete removes an issue from the site.
func (s *Sim) Delete(key string) error {
	return s.change(key, "jira:issue_deleted", func(i int, is *Issue, o *overlay) { o.deleted = true })
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
	gen, unindexed := s.mutGen, s.unindexed
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
		if q.ids != nil && !q.ids[int64(i)+10000] {
			continue
		}
		if unindexed[i] {
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
	mux.HandleFunc("GET /rest/agile/1.0/board/{id}/configuration", s.boardConfig)
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
