package collector

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evident-ebm/evident"
)

// Webhooks receives Jira's webhook deliveries for the sites that have a
// webhook secret, and fetches what they name through the API: each
// delivery only adds its issue to a pending set, so a storm of deliveries
// for the same issues ends in one fetch of each. Duplicate and
// out-of-order deliveries converge, since the fetch reads Jira's state
// now; a delivery that never comes is caught by the next scheduled sync.
type Webhooks struct {
	Syncer *Syncer
	Sites  []SiteConfig
	// Debounce is how long the worker waits after a delivery for more
	// before fetching (default 500 ms).
	Debounce time.Duration
	// Window is how old a delivery may be (Jira's timestamp in it) before
	// it is refused as a replay (default 1 hour); delivery identifiers are
	// remembered as long, to drop a second delivery of the same one.
	Window time.Duration
	// Retry is how long the worker waits before fetching again after a
	// failed fetch (default 30 s); the issues stay pending.
	Retry time.Duration
	Now   func() time.Time
	// Lock serializes fetches with the process's scheduled syncs.
	Lock sync.Locker
	// Synced is called after each fetch that stored something.
	Synced func(Summary)
	Log    *slog.Logger

	mu        sync.Mutex
	pending   map[string]*pendingWork
	delivered map[string]time.Time
	wake      chan struct{}
	stats     struct{ accepted, refused, duplicates, fetched, failed atomic.Int64 }
}

type pendingWork struct {
	ids   map[uint64]bool
	agile bool
}

// WebhookStats counts deliveries and fetches since the start.
type WebhookStats struct {
	Accepted, Refused, Duplicates, IssuesFetched, FailedFetches int64
	Pending                                                     int
}

func (w *Webhooks) init() {
	if w.wake == nil {
		w.wake = make(chan struct{}, 1)
		w.pending = map[string]*pendingWork{}
		w.delivered = map[string]time.Time{}
	}
	if w.Now == nil {
		w.Now = time.Now
	}
	if w.Debounce == 0 {
		w.Debounce = 500 * time.Millisecond
	}
	if w.Window == 0 {
		w.Window = time.Hour
	}
	if w.Retry == 0 {
		w.Retry = 30 * time.Second
	}
	if w.Log == nil {
		w.Log = slog.New(slog.DiscardHandler)
	}
}

// Receive checks one delivery to a site (its X-Hub-Signature and, when
// Jira sends one, its X-Atlassian-Webhook-Identifier) and queues what it
// names. Errors carry evident codes: ENOTFOUND for a site without a
// webhook secret, EUNAUTHORIZED for a missing or wrong signature or a
// replay, EINVALID for a body that is not a Jira webhook.
func (w *Webhooks) Receive(site, signature, delivery string, body []byte) error {
	w.mu.Lock()
	w.init()
	w.mu.Unlock()
	var cfg *SiteConfig
	n := 0
	for i := range w.Sites {
		if w.Sites[i].WebhookSecret == "" {
			continue
		}
		n++
		// Without a site in the path, the one site that takes webhooks.
		if w.Sites[i].Name == site || site == "" {
			cfg = &w.Sites[i]
		}
	}
	switch {
	case site == "" && n > 1:
		return evident.Errorf(evident.ENOTFOUND, "several Jira sites take webhooks here: post to /api/v1/jira/webhook/<site>")
	case cfg == nil:
		return evident.Errorf(evident.ENOTFOUND, "no Jira site %q takes webhooks here (set webhook_secret for it)", site)
	}
	site = cfg.Name
	if err := VerifyWebhook(cfg.WebhookSecret, body, signature); err != nil {
		w.stats.refused.Add(1)
		return evident.Errorf(evident.EUNAUTHORIZED, "%v", err)
	}
	h, err := ParseWebhook(body)
	if err != nil {
		w.stats.refused.Add(1)
		return evident.Errorf(evident.EINVALID, "%v", err)
	}
	now := w.Now()
	if !h.At.IsZero() && now.Sub(h.At) > w.Window {
		w.stats.refused.Add(1)
		return evident.Errorf(evident.EUNAUTHORIZED, "%v (sent %s)", ErrStale, h.At.Format(time.RFC3339))
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, at := range w.delivered {
		if now.Sub(at) > w.Window {
			delete(w.delivered, id)
		}
	}
	if delivery != "" {
		if _, ok := w.delivered[site+"|"+delivery]; ok {
			w.stats.duplicates.Add(1)
			return nil
		}
		w.delivered[site+"|"+delivery] = now
	}
	w.stats.accepted.Add(1)
	if h.IssueID == 0 && !h.Agile {
		return nil // an event Evident does not read (a comment, a user)
	}
	p := w.pending[site]
	if p == nil {
		p = &pendingWork{ids: map[uint64]bool{}}
		w.pending[site] = p
	}
	if h.IssueID != 0 {
		p.ids[h.IssueID] = true
	}
	p.agile = p.agile || h.Agile
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return nil
}

// Stats returns the counts so far.
func (w *Webhooks) Stats() WebhookStats {
	w.mu.Lock()
	n := 0
	for _, p := range w.pending {
		n += len(p.ids)
	}
	w.mu.Unlock()
	return WebhookStats{Accepted: w.stats.accepted.Load(), Refused: w.stats.refused.Load(), Duplicates: w.stats.duplicates.Load(),
		IssuesFetched: w.stats.fetched.Load(), FailedFetches: w.stats.failed.Load(), Pending: n}
}

// Counts are the Stats as named counters, for /metrics.
func (w *Webhooks) Counts() map[string]int64 {
	st := w.Stats()
	return map[string]int64{"accepted": st.Accepted, "refused": st.Refused, "duplicate": st.Duplicates,
		"issues_fetched": st.IssuesFetched, "failed_fetches": st.FailedFetches}
}

// Run fetches what deliveries name until ctx ends: Debounce after the
// first of a burst, then everything pending at once.
func (w *Webhooks) Run(ctx context.Context) {
	w.mu.Lock()
	w.init()
	wake := w.wake
	w.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(w.Debounce):
		}
		if err := w.Drain(ctx); err != nil && ctx.Err() == nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(w.Retry):
			}
			select {
			case wake <- struct{}{}:
			default:
			}
		}
	}
}

// Drain fetches everything pending now, site by site. Issues of a fetch
// that failed stay pending; the first error is returned.
func (w *Webhooks) Drain(ctx context.Context) error {
	w.mu.Lock()
	w.init()
	work := w.pending
	w.pending = map[string]*pendingWork{}
	w.mu.Unlock()
	sites := make([]string, 0, len(work))
	for s := range work {
		sites = append(sites, s)
	}
	sort.Strings(sites)
	var first error
	for k, site := range sites {
		p := work[site]
		ids := make([]uint64, 0, len(p.ids))
		for id := range p.ids {
			ids = append(ids, id)
		}
		var cfg SiteConfig
		for _, c := range w.Sites {
			if c.Name == site {
				cfg = c
			}
		}
		if w.Lock != nil {
			w.Lock.Lock()
		}
		sum, err := w.Syncer.SyncIssues(ctx, cfg, ids, p.agile)
		if w.Lock != nil {
			w.Lock.Unlock()
		}
		if err != nil && ctx.Err() != nil {
			// Stopping (the server shuts down): not a failure. This site's
			// issues and those of the sites not reached yet stay pending;
			// the next scheduled sync reads them if this process does not.
			for _, rest := range sites[k:] {
				w.requeue(rest, work[rest])
			}
			w.Log.Info("webhook fetches stopped; what they named stays pending", "sites", len(sites)-k)
			return err
		}
		w.stats.fetched.Add(int64(len(ids)))
		if err != nil {
			w.stats.failed.Add(1)
			msg := evident.ErrorMessage(err)
			if evident.ErrorCode(err) == evident.EINTERNAL {
				msg = err.Error() // a storage or program error: the log is the operator's
			}
			w.Log.Error("fetching what webhooks named failed; kept for the next try", "site", site, "issues", len(ids), "err", msg)
			w.requeue(site, p)
			if first == nil {
				first = err
			}
			continue
		}
		w.Log.Info("webhooks", "site", site, "issues", len(ids), "changed", sum.New+sum.Changed, "deleted", sum.Deleted, "seconds", sum.Duration.Seconds())
		if w.Synced != nil {
			w.Synced(sum)
		}
	}
	return first
}

func (w *Webhooks) requeue(site string, p *pendingWork) {
	w.mu.Lock()
	defer w.mu.Unlock()
	q := w.pending[site]
	if q == nil {
		w.pending[site] = p
		return
	}
	for id := range p.ids {
		q.ids[id] = true
	}
	q.agile = q.agile || p.agile
}
