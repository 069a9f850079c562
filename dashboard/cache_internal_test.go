package dashboard

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// Expired entries are dropped by the sweep, not only when asked for again.
func TestCacheSweepDropsExpiredEntries(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	rc := newResponseCache(nil, 1<<20, func() time.Time { return now })
	for _, k := range []string{"a", "b", "c"} {
		key := rc.ver + "\x00" + k
		rc.lookup(key)
		rc.done(key, &cacheEntry{key: key, body: []byte("body"), at: now})
	}
	if _, n, b := rc.snapshot(); n != 3 || b == 0 {
		t.Fatalf("%d entries, %d bytes", n, b)
	}
	now = now.Add(rc.ttl - time.Second)
	rc.sweep()
	if _, n, _ := rc.snapshot(); n != 3 {
		t.Fatalf("swept %d fresh entries", 3-n)
	}
	now = now.Add(time.Second)
	rc.sweep()
	if _, n, b := rc.snapshot(); n != 0 || b != 0 {
		t.Fatalf("after the time to live: %d entries, %d bytes", n, b)
	}
}

// The responses in use are recomputed before they expire, most recently
// used first and each once at a time; a response nobody asked for in
// keepWarm is let go; a recomputation keeps the reader's last use and
// place; those recomputed after a change come back in the order of use.
func TestCacheKeepsTheViewsInUseComputed(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	rc := newResponseCache(nil, 1<<20, func() time.Time { return now })
	ask := func(k string) *cacheEntry {
		t.Helper()
		key := rc.ver + "\x00" + k
		if e, _ := rc.lookup(key); e != nil {
			return e
		}
		rc.done(key, &cacheEntry{key: key, body: []byte("body of " + k), at: now, asked: true, req: warmRequest{uri: k, used: now}})
		return nil
	}
	due := func() []warmRequest {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return rc.dueNow()
	}
	uris := func(reqs []warmRequest) []string {
		var out []string
		for _, r := range reqs {
			out = append(out, r.uri)
		}
		return out
	}
	order := func() []string {
		var out []string
		for el := rc.lru.Front(); el != nil; el = el.Next() {
			out = append(out, el.Value.(*cacheEntry).req.uri)
		}
		return out
	}
	ask("a")
	ask("b")
	now = now.Add(10 * time.Second)
	ask("c")
	if due := due(); len(due) != 0 {
		t.Fatalf("fresh entries due: %v", uris(due))
	}
	// 45 s on (a quarter of a minute before a and b expire): a and b are
	// due; a read since, so first; c (computed 10 s later) not yet.
	now = now.Add(35 * time.Second)
	if e := ask("a"); e == nil {
		t.Fatal("a is not held")
	}
	if due := uris(due()); !slices.Equal(due, []string{"a", "b"}) {
		t.Fatalf("due %v, want [a b]", due)
	}
	if due := due(); len(due) != 0 {
		t.Fatalf("handed out twice: %v", uris(due))
	}
	// a comes back recomputed: its last use and place stay; b's never
	// comes back (a failed request) and b expires as before.
	key := rc.ver + "\x00a"
	rc.refreshed(key, &cacheEntry{key: key, body: []byte("a again"), at: now, req: warmRequest{uri: "a"}})
	if o := order(); !slices.Equal(o, []string{"a", "c", "b"}) {
		t.Fatalf("order after the refresh %v, want [a c b]", o)
	}
	if e := rc.entries[key].Value.(*cacheEntry); !e.req.used.Equal(now) || string(e.body) != "a again" {
		t.Fatalf("refreshed a: used %v, body %q", e.req.used, e.body)
	}
	// Nobody reads for keepWarm: nothing is due any more, and all expire.
	now = now.Add(rc.keepWarm)
	if due := due(); len(due) != 0 {
		t.Fatalf("due %v after %v without a reader", uris(due), rc.keepWarm)
	}
	rc.sweep()
	if _, n, _ := rc.snapshot(); n != 0 {
		t.Fatalf("%d entries held after %v without a reader", n, rc.keepWarm)
	}

	// After a change: the entries read within keepWarm are asked for
	// again, most recently used first; a second change while the first's
	// are being asked for asks again for those not done yet and for the
	// one in hand (computed on the data just replaced); they come back in
	// that order behind whatever readers asked for meanwhile, with their
	// readers' last use.
	ask("x")
	now = now.Add(time.Minute)
	ask("y")
	now = now.Add(time.Second)
	ask("z")
	now = now.Add(time.Second)
	ask("y")
	ver := "v2"
	rc.versioner = versionFunc(func() string { return ver })
	got, proceed := make(chan string), make(chan struct{})
	rc.warm = func(r warmRequest, refresh bool) {
		rc.mu.Lock()
		key := rc.ver + "\x00" + r.uri // as the middleware: the version when the request began
		rc.mu.Unlock()
		got <- r.uri
		<-proceed
		rc.lookup(key)
		rc.done(key, &cacheEntry{key: key, body: []byte("new " + r.uri), at: now, req: r})
	}
	changed := func() {
		t.Helper()
		rc.mu.Lock()
		rc.verAt = time.Time{}
		rc.mu.Unlock()
		if _, err := rc.version(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	next := func() string {
		select {
		case uri := <-got:
			return uri
		case <-time.After(5 * time.Second):
			return "(nothing asked)"
		}
	}
	changed()
	asked := []string{next()}
	ver = "v3"
	changed()
	ask("w")
	for len(asked) < 4 && asked[len(asked)-1] != "(nothing asked)" {
		proceed <- struct{}{}
		asked = append(asked, next())
	}
	if asked[len(asked)-1] != "(nothing asked)" {
		proceed <- struct{}{}
	}
	if !slices.Equal(asked, []string{"y", "y", "z", "x"}) {
		t.Fatalf("asked again %v, want [y y z x]", asked)
	}
	for rc.mu.Lock(); rc.working; rc.mu.Lock() {
		rc.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	rc.mu.Unlock()
	if o := order(); !slices.Equal(o, []string{"w", "y", "z", "x"}) {
		t.Fatalf("order after the changes %v, want [w y z x]", o)
	}
	if d := uris(due()); len(d) != 0 {
		t.Fatalf("due at once after the change: %v", d)
	}
	now = now.Add(50 * time.Second)
	if d := uris(due()); !slices.Equal(d, []string{"w", "y", "z", "x"}) {
		t.Fatalf("due after the change %v, want [w y z x]: the last use was kept", d)
	}
}

type versionFunc func() string

func (f versionFunc) DataVersion(context.Context) (string, error) { return f(), nil }

// While this process stores data, the recomputations after a change wait
// for it (a new read model follows), but never longer than busyWait.
func TestCacheRecomputesAfterThisProcessStoredData(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	rc := newResponseCache(versionFunc(func() string { return "v1" }), 1<<20, func() time.Time { return now })
	var busy atomic.Bool
	busy.Store(true)
	rc.busy, rc.busyWait = busy.Load, time.Hour
	asked := make(chan string, 4)
	rc.warm = func(r warmRequest, refresh bool) { asked <- r.uri }
	for _, k := range []string{"a", "b"} {
		key := rc.ver + "\x00" + k
		rc.lookup(key)
		rc.done(key, &cacheEntry{key: key, body: []byte(k), at: now, asked: true, req: warmRequest{uri: k, used: now}})
	}
	if _, err := rc.version(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case uri := <-asked:
		t.Fatalf("%s asked for while this process stores data", uri)
	case <-time.After(300 * time.Millisecond):
	}
	busy.Store(false)
	for _, want := range []string{"b", "a"} {
		select {
		case uri := <-asked:
			if uri != want {
				t.Fatalf("asked for %s, want %s", uri, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s not asked for once the data was stored", want)
		}
	}
	// Busy for longer than busyWait: asked for anyway.
	busy.Store(true)
	rc.mu.Lock()
	rc.busyWait = 200 * time.Millisecond
	rc.mu.Unlock()
	rc.versioner = versionFunc(func() string { return "v2" })
	rc.mu.Lock()
	rc.verAt = time.Time{}
	rc.mu.Unlock()
	key := rc.ver + "\x00c"
	rc.lookup(key)
	rc.done(key, &cacheEntry{key: key, body: []byte("c"), at: now, asked: true, req: warmRequest{uri: "c", used: now}})
	if _, err := rc.version(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case uri := <-asked:
		if uri != "c" {
			t.Fatalf("asked for %s, want c", uri)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("never asked while busy past busyWait")
	}
}

// changeLog is a Versioner and Changer whose versions are set by hand:
// each change lists the projects it reached (none: all).
type changeLog struct {
	ver     string
	reached map[string][]string // version → projects its change reached
}

func (c *changeLog) DataVersion(context.Context) (string, error) { return c.ver, nil }

func (c *changeLog) Changes(_ context.Context, from, to string) ([]string, bool, error) {
	p, ok := c.reached[to]
	return p, !ok, nil
}

// A change that reaches some projects removes their responses and those
// of no one project, and asks again for them; the responses of the other
// projects are kept, still hits, and so is the version of their pages. A
// change that reaches everything removes everything.
func TestCacheKeepsTheViewsOfOtherProjects(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	log := &changeLog{ver: "v1", reached: map[string][]string{"v2": {"APP"}}}
	rc := newResponseCache(log, 1<<20, func() time.Time { return now })
	asked := make(chan string, 16)
	rc.warm = func(r warmRequest, refresh bool) { asked <- r.uri }
	ctx := t.Context()
	ask := func(uri, project string) bool {
		t.Helper()
		v, err := rc.version(ctx)
		if err != nil {
			t.Fatal(err)
		}
		key := v + "\x00" + uri
		if e, _ := rc.lookup(key); e != nil {
			return true
		}
		rc.done(key, &cacheEntry{key: key, body: []byte(uri), at: now, asked: true, project: project, req: warmRequest{uri: uri, used: now}})
		return false
	}
	views := map[string]string{"/flow?project=SHOP": "SHOP", "/flow?project=APP": "APP", "/flow": ""}
	for uri, p := range views {
		ask(uri, p)
	}
	shop, err := rc.scoped(ctx, "SHOP")
	if err != nil || shop != "v1" {
		t.Fatalf("SHOP's version %q, %v", shop, err)
	}
	now = now.Add(10 * time.Second)
	log.ver = "v2"
	rc.expire()
	hits := map[string]bool{}
	for uri, p := range views {
		hits[uri] = ask(uri, p)
	}
	if !hits["/flow?project=SHOP"] || hits["/flow?project=APP"] || hits["/flow"] {
		t.Fatalf("after a change reaching APP, hits %v: want SHOP's only", hits)
	}
	var again []string
	for range 2 {
		select {
		case u := <-asked:
			again = append(again, u)
		case <-time.After(5 * time.Second):
			t.Fatalf("asked again for %v only", again)
		}
	}
	if slices.Sort(again); !slices.Equal(again, []string{"/flow", "/flow?project=APP"}) {
		t.Fatalf("asked again for %v, want the two removed", again)
	}
	if st, _, _ := rc.snapshot(); st.Kept != 1 {
		t.Fatalf("kept %d entries, want 1", st.Kept)
	}
	if v, _ := rc.scoped(ctx, "SHOP"); v != "v1" {
		t.Fatalf("SHOP's version moved to %q on a change that reached APP only", v)
	}
	if v, _ := rc.scoped(ctx, "APP"); v != "v2" {
		t.Fatalf("APP's version %q after a change that reached it", v)
	}
	if v, _ := rc.scoped(ctx, ""); v != "v2" {
		t.Fatalf("the version of all views %q", v)
	}
	// The kept entry keeps its bytes counted once, under its new key.
	rc.mu.Lock()
	bytes := 0
	for el := rc.lru.Front(); el != nil; el = el.Next() {
		bytes += el.Value.(*cacheEntry).size()
	}
	if bytes != rc.bytes {
		t.Errorf("entries hold %d bytes, the cache counts %d", bytes, rc.bytes)
	}
	rc.mu.Unlock()
	now = now.Add(10 * time.Second)
	log.ver = "v3" // not in reached: everything
	rc.expire()
	if ask("/flow?project=SHOP", "SHOP") {
		t.Fatal("a change that reached everything kept SHOP's response")
	}
	if v, _ := rc.scoped(ctx, "SHOP"); v != "v3" {
		t.Fatalf("SHOP's version %q after a change of everything", v)
	}
}

// errVersion is a Versioner that fails while down.
type errVersion struct{ down atomic.Bool }

func (e *errVersion) DataVersion(context.Context) (string, error) {
	if e.down.Load() {
		return "", errors.New("i/o timeout")
	}
	return "v1", nil
}

// While the version cannot be read, responses are looked up by the
// version last read for up to one time to live after that read, not
// after it; and a failed read is tried again only after a poll.
func TestCacheLooksUpByTheLastVersionReadForATimeToLive(t *testing.T) {
	var clock atomic.Int64
	start := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	clock.Store(start.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	v := &errVersion{}
	rc := newResponseCache(v, 1<<20, now)
	if got, err := rc.version(t.Context()); err != nil || got != "v1" {
		t.Fatalf("version: %q, %v", got, err)
	}
	v.down.Store(true)
	for _, c := range []struct {
		after time.Duration
		ok    bool
	}{{2 * time.Second, true}, {rc.ttl - time.Second, true}, {rc.ttl, false}, {2 * rc.ttl, false}} {
		clock.Store(start.Add(c.after).UnixNano())
		if _, err := rc.version(t.Context()); err == nil {
			t.Fatalf("%v after the last read, the database down: no error", c.after)
		}
		if last, ok := rc.lastRead(); ok != c.ok || ok && last != "v1" {
			t.Fatalf("%v after the last read: lastRead %q %v, want %v", c.after, last, ok, c.ok)
		}
	}
	// Back: the next poll after the failed read reads it.
	v.down.Store(false)
	if _, err := rc.version(t.Context()); err == nil {
		t.Fatal("read again within a poll of the failed read")
	}
	clock.Store(start.Add(2*rc.ttl + rc.poll).UnixNano())
	if got, err := rc.version(t.Context()); err != nil || got != "v1" {
		t.Fatalf("a poll after the failed read, the database back: %q, %v", got, err)
	}
}
