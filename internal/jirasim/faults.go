package jirasim

import (
	"bytes"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Faults are the failures the simulator injects into /rest/ requests, each
// at a share of requests drawn from a seeded source.
type Faults struct {
	Seed uint64
	// RateLimitRate answers that share of requests 429 with Retry-After.
	RateLimitRate float64
	// RetryAfter is the Retry-After of 429 and 503 answers, in seconds (default 1).
	RetryAfter int
	// Budget, when set, allows that many requests per BudgetWindow (default
	// 1 s) and answers 429 past it until the window turns.
	Budget       int
	BudgetWindow time.Duration
	// UnavailableRate answers that share 503 with Retry-After.
	UnavailableRate float64
	// SlowRate delays that share by SlowDelay.
	SlowRate  float64
	SlowDelay time.Duration
	// ResetRate resets the connection of that share without an answer.
	ResetRate float64
	// TruncateRate cuts that share's body in half.
	TruncateRate float64
	// RevokeAfter, when set, rejects every request after that many with 401,
	// as when a token is revoked mid-sync.
	RevokeAfter int64

	// Hostile answers to the issue searches (/rest/api/2/search and
	// /search/jql), every time:
	// RedirectSearchTo redirects them (302) to the same path on another
	// origin, as a compromised or misconfigured proxy would.
	RedirectSearchTo string
	// EndlessPaging ignores the page token, so that Cloud's search gives the
	// first page, isLast false and the same nextPageToken forever.
	EndlessPaging bool
	// HugePageBytes answers with a syntactically valid page of that many
	// bytes (whitespace inside the issue list), streamed.
	HugePageBytes int64
}

type faultState struct {
	f     Faults
	mu    sync.Mutex
	rng   *rand.Rand
	count atomic.Int64

	windowStart time.Time
	inWindow    int

	rateLimited, unavailable, resets, truncated, slow, unauthorized atomic.Int64
}

func newFaultState(f Faults) *faultState {
	if f.RetryAfter == 0 {
		f.RetryAfter = 1
	}
	if f.BudgetWindow == 0 {
		f.BudgetWindow = time.Second
	}
	return &faultState{f: f, rng: rand.New(rand.NewPCG(f.Seed, 0xFA17))}
}

func (fs *faultState) revoked() bool {
	return fs.f.RevokeAfter > 0 && fs.count.Load() > fs.f.RevokeAfter
}

type faultKind int

const (
	faultNone faultKind = iota
	fault429
	faultBudget
	fault503
	faultReset
	faultTruncate
	faultSlow
)

func (fs *faultState) draw() (faultKind, time.Duration) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f := fs.f
	if f.Budget > 0 {
		now := time.Now()
		if now.Sub(fs.windowStart) >= f.BudgetWindow {
			fs.windowStart = now
			fs.inWindow = 0
		}
		fs.inWindow++
		if fs.inWindow > f.Budget {
			return faultBudget, f.BudgetWindow - now.Sub(fs.windowStart)
		}
	}
	x := fs.rng.Float64()
	for _, c := range []struct {
		rate float64
		kind faultKind
	}{{f.RateLimitRate, fault429}, {f.UnavailableRate, fault503}, {f.ResetRate, faultReset}, {f.TruncateRate, faultTruncate}, {f.SlowRate, faultSlow}} {
		if x < c.rate {
			return c.kind, 0
		}
		x -= c.rate
	}
	return faultNone, 0
}

// bufferedWriter holds a response so that it can be cut short.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header         { return b.header }
func (b *bufferedWriter) WriteHeader(status int)      { b.status = status }
func (b *bufferedWriter) Write(p []byte) (int, error) { return b.body.Write(p) }

func (s *Sim) withFaults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs := s.faults.Load()
		s.stats.requests.Add(1)
		fs.count.Add(1)
		if !strings.HasPrefix(r.URL.Path, "/rest/") {
			next.ServeHTTP(w, r)
			return
		}
		if p := r.URL.Path; p == "/rest/api/2/search" || p == "/rest/api/2/search/jql" {
			switch {
			case fs.f.RedirectSearchTo != "":
				http.Redirect(w, r, strings.TrimRight(fs.f.RedirectSearchTo, "/")+r.URL.RequestURI(), http.StatusFound)
				return
			case fs.f.HugePageBytes > 0:
				writeHugePage(w, fs.f.HugePageBytes)
				return
			case fs.f.EndlessPaging:
				q := r.URL.Query()
				q.Del("nextPageToken")
				r.URL.RawQuery = q.Encode()
			}
		}
		kind, wait := fs.draw()
		switch kind {
		case fault429, faultBudget:
			fs.rateLimited.Add(1)
			retry := fs.f.RetryAfter
			if kind == faultBudget {
				retry = max(1, int((wait+time.Second-1)/time.Second))
			}
			h := w.Header()
			h.Set("Retry-After", strconv.Itoa(retry))
			h.Set("X-RateLimit-Limit", "100")
			h.Set("X-RateLimit-Remaining", "0")
			h.Set("X-RateLimit-Reset", time.Now().UTC().Add(time.Duration(retry)*time.Second).Format("2006-01-02T15:04Z"))
			h.Set("RateLimit-Reason", "jira-burst-based")
			writeError(w, http.StatusTooManyRequests, "Rate limit exceeded.")
		case fault503:
			fs.unavailable.Add(1)
			w.Header().Set("Retry-After", strconv.Itoa(fs.f.RetryAfter))
			writeError(w, http.StatusServiceUnavailable, "Service Unavailable")
		case faultReset:
			fs.resets.Add(1)
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					if tc, ok := conn.(*net.TCPConn); ok {
						tc.SetLinger(0)
					}
					conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		case faultTruncate:
			fs.truncated.Add(1)
			bw := &bufferedWriter{header: w.Header(), status: 200}
			next.ServeHTTP(bw, r)
			w.Header().Set("Content-Length", strconv.Itoa(bw.body.Len()))
			w.WriteHeader(bw.status)
			w.Write(bw.body.Bytes()[:bw.body.Len()/2])
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			panic(http.ErrAbortHandler)
		case faultSlow:
			fs.slow.Add(1)
			select {
			case <-time.After(fs.f.SlowDelay):
			case <-r.Context().Done():
				return
			}
			next.ServeHTTP(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// writeHugePage streams a search page of n bytes: an empty issue list
// padded with whitespace, so that only its size is wrong.
func writeHugePage(w http.ResponseWriter, n int64) {
	head, tail := []byte(`{"isLast":true,"issues":[`), []byte(`]}`)
	w.Header().Set("Content-Type", "application/json")
	w.Write(head)
	pad := bytes.Repeat([]byte(" "), 64<<10)
	for left := n - int64(len(head)+len(tail)); left > 0; left -= int64(len(pad)) {
		if _, err := w.Write(pad[:min(int64(len(pad)), left)]); err != nil {
			return
		}
	}
	w.Write(tail)
}
