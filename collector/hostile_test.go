package collector_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/collector"
	"github.com/evident-ebm/evident/internal/jirasim"
)

// A Jira (or a proxy in front of it) that redirects the search to another
// origin: the credentials never reach that origin, the sync fails naming
// the redirect, and no checkpoint is saved (a later incremental sync would
// otherwise skip the history). Both deployments: Basic and Bearer auth.
func TestRedirectToAnotherOriginGetsNoCredentials(t *testing.T) {
	for _, cloud := range []bool{true, false} {
		t.Run(map[bool]string{true: "cloud", false: "datacenter"}[cloud], func(t *testing.T) {
			var hits, withAuth atomic.Int64
			evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				if r.Header.Get("Authorization") != "" {
					withAuth.Add(1)
				}
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(`{"isLast":true,"issues":[],"startAt":0,"maxResults":100,"total":0}`))
			}))
			defer evil.Close()
			e := setup(t, cloud, 300, jirasim.Faults{RedirectSearchTo: evil.URL})
			_, err := e.sync.Sync(context.Background(), e.cfg, collector.Full)
			if err == nil || !strings.Contains(evident.ErrorMessage(err), "redirected to another origin") {
				t.Fatalf("sync through a redirect: %v", err)
			}
			if withAuth.Load() > 0 || hits.Load() > 0 {
				t.Fatalf("the other origin got %d requests, %d with credentials", hits.Load(), withAuth.Load())
			}
			if _, ok, _ := e.store.Checkpoint(context.Background(), "sim", "SHOP"); ok {
				t.Fatal("checkpoint saved by a failed run")
			}
		})
	}
}

// A search that suddenly finds nothing for a project whose issues are
// stored (a lost permission, a proxy answering empty pages) stops a full
// sync before it marks everything deleted or saves a checkpoint.
func TestEmptySearchOfAProjectWithIssuesIsAnError(t *testing.T) {
	e := setup(t, true, 300, jirasim.Faults{})
	e.run(t, collector.Full)
	ctx := context.Background()
	before := fingerprint(t, e.store)
	cp, _, _ := e.store.Checkpoint(ctx, "sim", "SHOP")
	e.cfg.JQL = `created < "1990/01/01"` // what a lost permission looks like: nothing
	_, err := e.sync.Sync(ctx, e.cfg, collector.Full)
	if err == nil || !strings.Contains(evident.ErrorMessage(err), "found no issues, but Evident holds issues of it") {
		t.Fatalf("empty full sync: %v", err)
	}
	if after := fingerprint(t, e.store); after != before {
		t.Fatalf("an empty search changed the stored data:\n%s\n%s", before, after)
	}
	if cp2, _, _ := e.store.Checkpoint(ctx, "sim", "SHOP"); !cp2.Equal(cp) {
		t.Fatalf("checkpoint moved from %s to %s", cp, cp2)
	}
}

// isLast false with the same nextPageToken forever: the sync stops with an
// error after a handful of requests instead of paging without end.
func TestEndlessPagingStops(t *testing.T) {
	e := setup(t, true, 300, jirasim.Faults{EndlessPaging: true})
	e.cfg.PageSize = 20
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before := e.sim.Stats().Search
	_, err := e.sync.Sync(ctx, e.cfg, collector.Full)
	if err == nil || !strings.Contains(evident.ErrorMessage(err)+err.Error(), "paging in a circle") {
		t.Fatalf("endless paging: %v", err)
	}
	n := e.sim.Stats().Search - before
	if n > 5 {
		t.Fatalf("%d search requests before stopping", n)
	}
	t.Logf("stopped after %d search requests", n)
	if _, ok, _ := e.store.Checkpoint(context.Background(), "sim", "SHOP"); ok {
		t.Fatal("checkpoint saved by a failed run")
	}
}

// A search page far larger than max_page_mb fails with an error naming the
// limit, after reading no more than the limit: memory stays bounded.
func TestHugeSearchPageFailsWithinTheLimit(t *testing.T) {
	e := setup(t, false, 300, jirasim.Faults{HugePageBytes: 300 << 20})
	e.cfg.MaxPageMB = 8
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	start := ms.TotalAlloc
	_, err := e.sync.Sync(context.Background(), e.cfg, collector.Full)
	if err == nil || !strings.Contains(evident.ErrorMessage(err), "more than 8 MiB") || !strings.Contains(evident.ErrorMessage(err), "max_page_mb") {
		t.Fatalf("huge page: %v", err)
	}
	runtime.ReadMemStats(&ms)
	alloc := ms.TotalAlloc - start
	if alloc > 100<<20 {
		t.Fatalf("%d MiB allocated while refusing a 300 MiB page with an 8 MiB limit", alloc>>20)
	}
	t.Logf("refused a 300 MiB page with max_page_mb 8 after allocating %d MiB in all", alloc>>20)
}

// The error says how many tries were really made: the preflight gives up
// after 2 (a wrong URL should fail fast), not the configured max_retries.
func TestRateLimitErrorCountsTheTriesMade(t *testing.T) {
	e := setup(t, true, 50, jirasim.Faults{RateLimitRate: 1, RetryAfter: 0})
	e.cfg.MaxRetries = 8
	_, err := e.sync.Sync(context.Background(), e.cfg, collector.Full)
	if err == nil || !strings.Contains(evident.ErrorMessage(err), "still answered 429 after 2 tries") {
		t.Fatalf("rate limited preflight: %v", err)
	}
}
