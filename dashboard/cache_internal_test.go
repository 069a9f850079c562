package dashboard

import (
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
