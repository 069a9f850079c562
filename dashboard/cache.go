package dashboard

import (
	"container/list"
	"context"
	"crypto/subtle"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Versioner reports a token that changes whenever stored data changes (a
// sync, an import, a goal saved by another process).
type Versioner interface {
	DataVersion(ctx context.Context) (string, error)
}

// Changer, when the Versioner is one too, says what changed from one data
// version to the next: anything (all), or only what the views of the
// projects listed show. The cache keeps the responses of the other
// projects across the change.
type Changer interface {
	Changes(ctx context.Context, from, to string) (projects []string, all bool, err error)
}

// responseCache keeps successful GET responses of the API and the pages
// for the data they were computed from. An entry is served only while the
// data version it was computed on is current (read at most every poll), and
// for at most ttl (measures relative to "now", such as the age of work in
// progress, move on). Identical requests that arrive together are computed
// once: the others wait for the first. A write through this server reads
// the version again at once.
//
// The views in use stay computed: after the data changed, the most
// recently used responses are recomputed before anyone asks again; and a
// response someone used in the last keepWarm is recomputed before its
// time to live runs out, so that a page read every few minutes is never
// computed while its reader waits.
type responseCache struct {
	versioner Versioner
	maxBytes  int
	ttl, poll time.Duration
	keepWarm  time.Duration
	now       func() time.Time
	// warm, when set, asks again for a response (see Server.ask): after
	// the data changed, or (refresh) because it is about to expire. One
	// worker at a time asks for what is queued: first what a change
	// dropped (a newer change replaces that queue), then what is due.
	warm         func(r warmRequest, refresh bool)
	changed, due []warmRequest
	working      bool
	asking       *warmRequest // the request the worker is on
	// busy, when set, says this process is storing data (a sync, or the
	// fetch a webhook asked for): the worker holds off, up to busyWait
	// for each request, rather than compute on data about to be
	// replaced and slow the read model build down.
	busy     func() bool
	busyWait time.Duration

	pollMu sync.Mutex // one version read at a time

	mu       sync.Mutex
	entries  map[string]*list.Element // → *cacheEntry, most recent first in lru
	lru      *list.List
	bytes    int
	inflight map[string]chan struct{}
	ver      string
	verAt    time.Time
	// failAt and failErr: the last read of the version that failed; no
	// other is tried within a poll of it (see version).
	failAt  time.Time
	failErr error
	// since is the data version at which the views of each project last
	// changed, when a change since sinceAll reached it; sinceAll that of
	// the last change that reached every view (see scoped).
	since    map[string]string
	sinceAll string
	stats    cacheStats
}

type cacheStats struct {
	Hits, Misses, Waits, Evictions, Warmed, Refreshed, Kept uint64
}

type cacheEntry struct {
	key, contentType, disposition string
	body                          []byte
	at                            time.Time // when the response was computed
	// project is the one project the response shows ("": any, or all):
	// a change that reaches only other projects keeps it.
	project string
	req     warmRequest // how to ask for it again, and when a reader last did
	// asked: computed for a reader, not recomputed ahead of one.
	asked      bool
	refreshing bool // handed to a refresh, not yet back
}

// entryOverhead is what an entry costs besides its strings and body: the
// struct, its list element and map slot.
const entryOverhead = 256

// size is what the entry holds in memory, all of it: a long URL costs as
// much as a long body.
func (e *cacheEntry) size() int {
	return entryOverhead + 2*len(e.key) + len(e.contentType) + len(e.disposition) + len(e.body) + len(e.req.uri) + len(e.req.accept)
}

// warmRequest is what it takes to ask for a response again, and when a
// reader last asked for it.
type warmRequest struct {
	uri, accept string
	role        Role
	used        time.Time
}

// warmMax is how many of the most recently used responses are recomputed
// at once: after the data changed, or before they expire.
const warmMax = 32

// keepWarm is how long after its last reader a response is kept computed
// by default: a product owner going through the views of a review.
const keepWarm = 10 * time.Minute

func newResponseCache(v Versioner, maxBytes int, now func() time.Time) *responseCache {
	return &responseCache{versioner: v, maxBytes: maxBytes, ttl: time.Minute, poll: time.Second, keepWarm: keepWarm, busyWait: 15 * time.Second, now: now,
		entries: map[string]*list.Element{}, lru: list.New(), inflight: map[string]chan struct{}{}, since: map[string]string{}}
}

// version returns the current data version, reading it when the last read
// is older than poll.
func (rc *responseCache) version(ctx context.Context) (string, error) {
	rc.mu.Lock()
	if !rc.verAt.IsZero() && rc.now().Sub(rc.verAt) < rc.poll {
		v := rc.ver
		rc.mu.Unlock()
		return v, nil
	}
	rc.mu.Unlock()
	rc.pollMu.Lock()
	defer rc.pollMu.Unlock()
	rc.mu.Lock()
	if !rc.verAt.IsZero() && rc.now().Sub(rc.verAt) < rc.poll { // read by another request meanwhile
		v := rc.ver
		rc.mu.Unlock()
		return v, nil
	}
	// A read that failed within a poll is not tried again: under a slow
	// database every request would otherwise wait its turn here for a
	// read of its own, two seconds each.
	if rc.failErr != nil && rc.now().Sub(rc.failAt) < rc.poll {
		err := rc.failErr
		rc.mu.Unlock()
		return "", err
	}
	rc.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	v, err := rc.versioner.DataVersion(ctx)
	if err != nil {
		rc.mu.Lock()
		rc.failAt, rc.failErr = rc.now(), err
		rc.mu.Unlock()
		return "", err
	}
	// rc.ver changes only here, under pollMu.
	rc.mu.Lock()
	old := rc.ver
	rc.mu.Unlock()
	projects, all := []string(nil), true
	if ch, ok := rc.versioner.(Changer); ok && old != "" && v != old {
		if p, a, err := ch.Changes(ctx, old, v); err == nil {
			projects, all = p, a
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if v != old {
		if all {
			rc.since, rc.sinceAll = map[string]string{}, v
		}
		for _, p := range projects {
			rc.since[p] = v
		}
		rc.changed = rc.again(rc.invalidate(old, v, projects, all))
		rc.due = nil
		rc.work()
	}
	rc.ver, rc.verAt, rc.failErr = v, rc.now(), nil
	return v, nil
}

// lastRead is the version last read, when that was within the time to
// live: what the responses are looked up by while the version cannot be
// read (a slow or restarting database). They are then up to one time to
// live late, as a response is anyway; computing every request instead
// would add load to a database already slow to answer.
func (rc *responseCache) lastRead() (string, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.ver, rc.ver != "" && rc.now().Sub(rc.verAt) < rc.ttl
}

// scoped is the data version of the views of one project ("": of all):
// that of the last change that reached them, so that a page of one
// project offers new numbers only when its own changed.
func (rc *responseCache) scoped(ctx context.Context, project string) (string, error) {
	v, err := rc.version(ctx)
	if err != nil || project == "" {
		return v, err
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if s, ok := rc.since[project]; ok {
		return s, nil
	}
	return rc.sinceAll, nil
}

// invalidate removes the entries a change from data version old to v may
// have changed: every one (all), or those of the projects listed and
// those that show no one project. The others are kept for v. It returns
// how to ask again for those removed. rc.mu held.
func (rc *responseCache) invalidate(old, v string, projects []string, all bool) []warmRequest {
	var out []warmRequest
	for el := rc.lru.Front(); el != nil; {
		next := el.Next()
		e := el.Value.(*cacheEntry)
		if all || e.project == "" || slices.Contains(projects, e.project) || !strings.HasPrefix(e.key, old+"\x00") {
			out = append(out, e.req)
			rc.remove(el)
		} else {
			delete(rc.entries, e.key)
			rc.bytes -= e.size()
			e.key = v + strings.TrimPrefix(e.key, old)
			// A refresh handed out for the old key is lost: due again.
			e.refreshing = false
			rc.entries[e.key] = el
			rc.bytes += e.size()
			rc.stats.Kept++
		}
		el = next
	}
	return out
}

// again is what to ask for after a change: the responses it removed that
// were read within keepWarm, with those of an earlier change not asked
// for yet (or being asked for: computed on the data just replaced), most
// recently used first, at most warmMax.
func (rc *responseCache) again(removed []warmRequest) []warmRequest {
	now := rc.now()
	var out []warmRequest
	seen := map[warmRequest]bool{}
	add := func(r warmRequest) {
		k := r
		k.used = time.Time{}
		if now.Sub(r.used) < rc.keepWarm && !seen[k] {
			seen[k] = true
			out = append(out, r)
		}
	}
	for _, r := range removed {
		add(r)
	}
	if rc.asking != nil {
		add(*rc.asking)
	}
	for _, r := range rc.changed {
		add(r)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].used.After(out[j].used) })
	return out[:min(len(out), warmMax)]
}

// work starts the worker unless it runs (rc.mu held).
func (rc *responseCache) work() {
	if rc.warm == nil || rc.working || len(rc.changed)+len(rc.due) == 0 {
		return
	}
	rc.working = true
	go func() {
		for {
			rc.mu.Lock()
			var r warmRequest
			refresh := false
			switch {
			case len(rc.changed) > 0:
				r, rc.changed = rc.changed[0], rc.changed[1:]
			case len(rc.due) > 0:
				r, rc.due, refresh = rc.due[0], rc.due[1:], true
			default:
				rc.working, rc.asking = false, nil
				rc.mu.Unlock()
				return
			}
			rc.asking = &r
			rc.mu.Unlock()
			for start := time.Now(); rc.busy != nil && rc.busy() && time.Since(start) < rc.busyWait; {
				time.Sleep(50 * time.Millisecond)
			}
			rc.warm(r, refresh)
		}
	}()
}

// refreshLead is how long before an entry expires it is recomputed: a
// quarter of the time to live, and never less than three polls (the
// watcher looks every two, and the computation takes time).
func (rc *responseCache) refreshLead() time.Duration {
	return max(rc.ttl/4, 3*rc.poll)
}

// dueNow lists the entries to recompute before they expire: computed for
// the current data version more than ttl - refreshLead ago, asked for by a
// reader within keepWarm, most recently used first, at most warmMax. They
// are marked as handed out until they come back (refreshed). rc.mu held.
func (rc *responseCache) dueNow() []warmRequest {
	now := rc.now()
	var out []warmRequest
	for el := rc.lru.Front(); el != nil && len(out) < warmMax; el = el.Next() {
		e := el.Value.(*cacheEntry)
		if e.refreshing || now.Sub(e.req.used) >= rc.keepWarm || now.Sub(e.at) < rc.ttl-rc.refreshLead() || !strings.HasPrefix(e.key, rc.ver+"\x00") {
			continue
		}
		e.refreshing = true
		out = append(out, e.req)
	}
	return out
}

// refresh queues the entries due for a recomputation and starts the
// worker.
func (rc *responseCache) refresh() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.due = append(rc.due, rc.dueNow()...)
	rc.work()
}

// watch reads the data version every two polls until stop closes, so that
// a change (a sync's new read model) is noticed, and the recent responses
// recomputed, without waiting for a request; and recomputes the responses
// in use that are about to expire.
func (rc *responseCache) watch(stop <-chan struct{}) {
	t := time.NewTicker(2 * rc.poll)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			rc.version(context.Background())
			rc.sweep()
			rc.refresh()
		}
	}
}

// sweep drops the entries older than the time to live, so that memory is
// given back when requests stop, not only when one asks again.
func (rc *responseCache) sweep() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	now := rc.now()
	for el := rc.lru.Back(); el != nil; {
		prev := el.Prev()
		if now.Sub(el.Value.(*cacheEntry).at) >= rc.ttl {
			rc.remove(el)
		}
		el = prev
	}
}

// expire makes the next request read the data version again.
func (rc *responseCache) expire() {
	rc.mu.Lock()
	rc.verAt = time.Time{}
	rc.mu.Unlock()
}

// lookup returns a fresh entry, or a channel to wait on while another
// request computes the same key, or neither: the caller computes it and
// must call done.
func (rc *responseCache) lookup(key string) (*cacheEntry, chan struct{}) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if el, ok := rc.entries[key]; ok {
		e := el.Value.(*cacheEntry)
		if rc.now().Sub(e.at) < rc.ttl {
			rc.lru.MoveToFront(el)
			e.req.used = rc.now()
			rc.stats.Hits++
			return e, nil
		}
		rc.remove(el)
	}
	if ch, ok := rc.inflight[key]; ok {
		rc.stats.Waits++
		return nil, ch
	}
	rc.inflight[key] = make(chan struct{})
	rc.stats.Misses++
	return nil, nil
}

// done stores the leader's response (nil: nothing to keep) and wakes the
// requests waiting for it.
func (rc *responseCache) done(key string, e *cacheEntry) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.put(key, e)
	if ch, ok := rc.inflight[key]; ok {
		close(ch)
		delete(rc.inflight, key)
	}
}

// refreshed stores a response recomputed ahead of its readers (nil:
// nothing to keep); the requests that arrived meanwhile were served the
// entry it replaces.
func (rc *responseCache) refreshed(key string, e *cacheEntry) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.put(key, e)
}

// put stores an entry computed for the current data version. One computed
// for a reader goes first in the order of use; one recomputed ahead of its
// readers carries its reader's last use (or the later one of the entry it
// replaces, read meanwhile) and takes that entry's place, or goes last:
// those recomputed after a change arrive most recently used first.
func (rc *responseCache) put(key string, e *cacheEntry) {
	if e == nil || e.size() > rc.maxBytes/8 || !strings.HasPrefix(key, rc.ver+"\x00") {
		return
	}
	var next *list.Element
	if el, ok := rc.entries[key]; ok {
		if !e.asked {
			if old := el.Value.(*cacheEntry).req.used; old.After(e.req.used) {
				e.req.used = old // read meanwhile
			}
			next = el.Next()
		}
		rc.remove(el)
	}
	switch {
	case e.asked:
		rc.entries[key] = rc.lru.PushFront(e)
	case next != nil:
		rc.entries[key] = rc.lru.InsertBefore(e, next)
	default:
		rc.entries[key] = rc.lru.PushBack(e)
	}
	rc.bytes += e.size()
	for rc.bytes > rc.maxBytes {
		rc.remove(rc.lru.Back())
		rc.stats.Evictions++
	}
}

func (rc *responseCache) remove(el *list.Element) {
	e := el.Value.(*cacheEntry)
	rc.lru.Remove(el)
	delete(rc.entries, e.key)
	rc.bytes -= e.size()
}

func (rc *responseCache) snapshot() (cacheStats, int, int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.stats, len(rc.entries), rc.bytes
}

// uncached are the GET routes read fresh every time: the forecast scores
// read the forecast log, which the data version leaves out (every
// forecast computed writes to it); the version is what the cache reads
// anyway, and says when it cannot be read (cached, it would answer the
// version last read while the database does not answer).
var uncached = map[string]bool{"/api/v1/forecast/scores": true, "/api/v1/version": true}

// cached is the middleware of the cached routes. The key holds the data
// version, the caller's role (pages differ by it), today's date (default
// date ranges), the Accept header (CSV or JSON) and the full request URI.
func (s *Server) cached(c *fiber.Ctx) error {
	rc := s.cache
	if rc == nil {
		return c.Next()
	}
	if c.Method() != fiber.MethodGet {
		err := c.Next()
		rc.expire()
		return err
	}
	if uncached[c.Path()] {
		c.Set("X-Evident-Cache", "bypass")
		return c.Next()
	}
	ctx := c.UserContext()
	ver, err := rc.version(ctx)
	if err != nil {
		last, ok := rc.lastRead()
		if !ok {
			return c.Next() // the handler reports the database's state
		}
		ver = last
	}
	// A parameter no route reads cannot change the answer: caching it would
	// let junk parameters fill the cache with copies.
	unknown := false
	c.Request().URI().QueryArgs().VisitAll(func(k, _ []byte) {
		if !knownParams[string(k)] {
			unknown = true
		}
	})
	if unknown {
		c.Set("X-Evident-Cache", "bypass")
		return c.Next()
	}
	uri, accept := string(c.Request().URI().RequestURI()), c.Get(fiber.HeaderAccept)
	role := s.tokenRole(c)
	key := strings.Join([]string{ver, strconv.Itoa(int(role)), s.cfg.Now().UTC().Format("2006-01-02"), accept, uri}, "\x00")
	warm, refresh, used := s.warmRequest(c)
	if refresh {
		// Recomputed before the entry expires: readers meanwhile are
		// served the entry, not made to wait.
		var keep *cacheEntry
		defer func() { rc.refreshed(key, keep) }()
		c.Set("X-Evident-Cache", "refresh")
		if err := c.Next(); err != nil {
			return err
		}
		keep = s.entry(c, key, warmRequest{uri: uri, accept: accept, role: role, used: used}, false)
		return nil
	}
	for {
		e, wait := rc.lookup(key)
		if e != nil {
			c.Set(fiber.HeaderContentType, e.contentType)
			if e.disposition != "" {
				c.Set(fiber.HeaderContentDisposition, e.disposition)
			}
			c.Set("X-Evident-Cache", "hit")
			return c.Status(fiber.StatusOK).Send(e.body)
		}
		if wait == nil {
			break
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var keep *cacheEntry
	defer func() { rc.done(key, keep) }()
	c.Set("X-Evident-Cache", "miss")
	if err := c.Next(); err != nil {
		return err
	}
	if !warm {
		used = rc.now()
	}
	keep = s.entry(c, key, warmRequest{uri: uri, accept: accept, role: role, used: used}, !warm)
	return nil
}

// entry is the response to keep (nil: not a success).
func (s *Server) entry(c *fiber.Ctx, key string, req warmRequest, asked bool) *cacheEntry {
	resp := c.Response()
	if resp.StatusCode() != fiber.StatusOK {
		return nil
	}
	return &cacheEntry{key: key, contentType: string(resp.Header.ContentType()), disposition: string(resp.Header.Peek(fiber.HeaderContentDisposition)),
		body: append([]byte(nil), resp.Body()...), at: s.cache.now(), asked: asked, req: req, project: queryProject(c)}
}

// The headers of the server's own requests for responses again: the
// server's warm key (random, never sent out), when a reader last asked
// (Unix nanoseconds), and whether to recompute a response still held.
const (
	hdrWarm        = "X-Evident-Warm"
	hdrWarmUsed    = "X-Evident-Warm-Used"
	hdrWarmRefresh = "X-Evident-Warm-Refresh"
)

// warmRequest tells the server's own requests for responses again from
// readers': warm, refresh (recompute though held), and the reader's last
// use it carries.
func (s *Server) warmRequest(c *fiber.Ctx) (warm, refresh bool, used time.Time) {
	k := c.Get(hdrWarm)
	if k == "" || subtle.ConstantTimeCompare([]byte(k), []byte(s.warmKey)) != 1 {
		return false, false, time.Time{}
	}
	if n, err := strconv.ParseInt(c.Get(hdrWarmUsed), 10, 64); err == nil && n > 0 {
		used = time.Unix(0, n)
	}
	return true, c.Get(hdrWarmRefresh) == "1", used
}

// ask asks again for a response that was in use: after the data changed,
// or (refresh) before it expires. It runs through the whole middleware
// chain as the role that asked, with that role's first token.
func (s *Server) ask(r warmRequest, refresh bool) {
	if s.closing.Load() {
		return
	}
	var tok string
	switch {
	case !s.auth:
	case r.role == RoleAdmin && len(s.cfg.AdminTokens) > 0:
		tok = s.cfg.AdminTokens[0]
	case r.role == RoleViewer && len(s.cfg.ViewerTokens) > 0:
		tok = s.cfg.ViewerTokens[0]
	default:
		return
	}
	req, err := http.NewRequest(fiber.MethodGet, "http://evident.internal"+r.uri, nil)
	if err != nil {
		return
	}
	if r.accept != "" {
		req.Header.Set(fiber.HeaderAccept, r.accept)
	}
	if tok != "" {
		req.Header.Set(fiber.HeaderAuthorization, "Bearer "+tok)
	}
	req.Header.Set(hdrWarm, s.warmKey)
	if refresh {
		req.Header.Set(hdrWarmRefresh, "1")
	}
	if !r.used.IsZero() {
		req.Header.Set(hdrWarmUsed, strconv.FormatInt(r.used.UnixNano(), 10))
	}
	resp, err := s.App.Test(req, -1)
	if err != nil {
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	how := resp.Header.Get("X-Evident-Cache")
	s.cache.mu.Lock()
	switch {
	case how == "miss":
		s.cache.stats.Warmed++
	case how == "refresh" && resp.StatusCode == fiber.StatusOK:
		s.cache.stats.Refreshed++
	}
	s.cache.mu.Unlock()
}
