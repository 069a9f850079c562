package dashboard

import (
	"container/list"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Versioner reports a token that changes whenever stored data changes (a
// sync, an import, a goal saved by another process).
type Versioner interface {
	DataVersion(ctx context.Context) (string, error)
}

// responseCache keeps successful GET responses of the API and the pages
// for the data they were computed from. An entry is served only while the
// data version it was computed on is current (read at most every poll), and
// for at most ttl (measures relative to "now", such as the age of work in
// progress, move on). Identical requests that arrive together are computed
// once: the others wait for the first. A write through this server reads
// the version again at once.
type responseCache struct {
	versioner Versioner
	maxBytes  int
	ttl, poll time.Duration
	now       func() time.Time
	// warm, when set, recomputes the most recently used responses after
	// the data changed, so that the views people look at are ready before
	// they ask again (see Server.prewarm).
	warm    func([]warmRequest)
	warming atomic.Bool

	pollMu sync.Mutex // one version read at a time

	mu       sync.Mutex
	entries  map[string]*list.Element // → *cacheEntry, most recent first in lru
	lru      *list.List
	bytes    int
	inflight map[string]chan struct{}
	ver      string
	verAt    time.Time
	stats    cacheStats
}

type cacheStats struct {
	Hits, Misses, Waits, Evictions, Warmed uint64
}

type cacheEntry struct {
	key, contentType, disposition string
	body                          []byte
	at                            time.Time
	req                           warmRequest
}

// entryOverhead is what an entry costs besides its strings and body: the
// struct, its list element and map slot.
const entryOverhead = 256

// size is what the entry holds in memory, all of it: a long URL costs as
// much as a long body.
func (e *cacheEntry) size() int {
	return entryOverhead + 2*len(e.key) + len(e.contentType) + len(e.disposition) + len(e.body) + len(e.req.uri) + len(e.req.accept)
}

// warmRequest is what it takes to ask for a response again.
type warmRequest struct {
	uri, accept string
	role        Role
}

// warmMax is how many of the most recently used responses are recomputed
// after the data changed.
const warmMax = 32

func newResponseCache(v Versioner, maxBytes int, now func() time.Time) *responseCache {
	return &responseCache{versioner: v, maxBytes: maxBytes, ttl: time.Minute, poll: time.Second, now: now,
		entries: map[string]*list.Element{}, lru: list.New(), inflight: map[string]chan struct{}{}}
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
	rc.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	v, err := rc.versioner.DataVersion(ctx)
	if err != nil {
		return "", err
	}
	rc.mu.Lock()
	var again []warmRequest
	if v != rc.ver {
		for el := rc.lru.Front(); el != nil && len(again) < warmMax; el = el.Next() {
			again = append(again, el.Value.(*cacheEntry).req)
		}
		rc.dropAll()
	}
	rc.ver, rc.verAt = v, rc.now()
	rc.mu.Unlock()
	if len(again) > 0 && rc.warm != nil && rc.warming.CompareAndSwap(false, true) {
		go func() {
			defer rc.warming.Store(false)
			rc.warm(again)
		}()
	}
	return v, nil
}

// watch reads the data version every poll until stop closes, so that a
// change (a sync's new read model) is noticed, and the recent responses
// recomputed, without waiting for a request.
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

func (rc *responseCache) dropAll() {
	rc.entries = map[string]*list.Element{}
	rc.lru.Init()
	rc.bytes = 0
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
	if e != nil && e.size() <= rc.maxBytes/8 && strings.HasPrefix(key, rc.ver+"\x00") {
		if el, ok := rc.entries[key]; ok {
			rc.remove(el)
		}
		rc.entries[key] = rc.lru.PushFront(e)
		rc.bytes += e.size()
		for rc.bytes > rc.maxBytes {
			rc.remove(rc.lru.Back())
			rc.stats.Evictions++
		}
	}
	if ch, ok := rc.inflight[key]; ok {
		close(ch)
		delete(rc.inflight, key)
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
// forecast computed writes to it).
var uncached = map[string]bool{"/api/v1/forecast/scores": true}

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
		return c.Next() // the handler reports the database's state
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
	key := strings.Join([]string{ver, strconv.Itoa(int(s.tokenRole(c))), s.cfg.Now().UTC().Format("2006-01-02"), accept, uri}, "\x00")
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
	role := s.tokenRole(c)
	var keep *cacheEntry
	defer func() { rc.done(key, keep) }()
	c.Set("X-Evident-Cache", "miss")
	if err := c.Next(); err != nil {
		return err
	}
	if resp := c.Response(); resp.StatusCode() == fiber.StatusOK {
		keep = &cacheEntry{key: key, contentType: string(resp.Header.ContentType()), disposition: string(resp.Header.Peek(fiber.HeaderContentDisposition)),
			body: append([]byte(nil), resp.Body()...), at: rc.now(), req: warmRequest{uri: uri, accept: accept, role: role}}
	}
	return nil
}

// prewarm asks again, one at a time, for responses that were in use before
// the data changed. It runs through the whole middleware chain as the
// role that asked, with that role's first token.
func (s *Server) prewarm(reqs []warmRequest) {
	for _, r := range reqs {
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
			continue
		}
		req, err := http.NewRequest(fiber.MethodGet, "http://evident.internal"+r.uri, nil)
		if err != nil {
			continue
		}
		if r.accept != "" {
			req.Header.Set(fiber.HeaderAccept, r.accept)
		}
		if tok != "" {
			req.Header.Set(fiber.HeaderAuthorization, "Bearer "+tok)
		}
		if resp, err := s.App.Test(req, -1); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.Header.Get("X-Evident-Cache") == "miss" {
				s.cache.mu.Lock()
				s.cache.stats.Warmed++
				s.cache.mu.Unlock()
			}
		}
	}
}
