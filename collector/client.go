package collector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jira "github.com/andygrunwald/go-jira"
	"golang.org/x/time/rate"

	"github.com/evident-ebm/evident"
)

// politeTransport rate-limits requests to a site and retries 429, 5xx,
// network errors and truncated bodies, honouring Retry-After and
// X-RateLimit-Reset, with exponential backoff and jitter in between. It
// reads every body in full so that a page cut short is retried, never
// decoded halfway.
type politeTransport struct {
	next     http.RoundTripper
	limiter  *rate.Limiter
	maxTries int
	maxBody  int64 // bytes of one answer at most
	log      *slog.Logger
	maxWait  time.Duration

	requests atomic.Int64
	retries  atomic.Int64

	mu          sync.Mutex
	pausedUntil time.Time // a 429 pauses every worker, not only the one that got it
}

func newPoliteTransport(next http.RoundTripper, rps float64, burst, maxTries int, maxBody int64, log *slog.Logger) *politeTransport {
	lim := rate.NewLimiter(rate.Limit(rps), burst)
	if rps <= 0 {
		lim = rate.NewLimiter(rate.Inf, 0)
	}
	if maxBody <= 0 {
		maxBody = 128 << 20
	}
	return &politeTransport{next: next, limiter: lim, maxTries: maxTries, maxBody: maxBody, log: log, maxWait: 5 * time.Minute}
}

func (t *politeTransport) pause(d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if until := time.Now().Add(d); until.After(t.pausedUntil) {
		t.pausedUntil = until
	}
}

func (t *politeTransport) waitPause(ctx context.Context) error {
	t.mu.Lock()
	d := time.Until(t.pausedUntil)
	t.mu.Unlock()
	return sleep(ctx, d)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// backoff is exponential with full jitter: 0.5 s, 1 s, 2 s … at most 30 s.
func backoff(attempt int) time.Duration {
	d := 500 * time.Millisecond << min(attempt-1, 6)
	if d > 30*time.Second {
		d = 30 * time.Second
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// retryDelay reads how long the server asked us to wait.
func (t *politeTransport) retryDelay(h http.Header, attempt int) time.Duration {
	d := backoff(attempt)
	if ra := h.Get("Retry-After"); ra != "" {
		if secs, err := strconv.Atoi(strings.TrimSpace(ra)); err == nil && secs >= 0 {
			d = time.Duration(secs) * time.Second
		} else if at, err := http.ParseTime(ra); err == nil {
			d = time.Until(at)
		}
	} else if reset := h.Get("X-RateLimit-Reset"); reset != "" {
		for _, layout := range []string{time.RFC3339, "2006-01-02T15:04Z", "2006-01-02T15:04:05Z"} {
			if at, err := time.Parse(layout, reset); err == nil {
				d = max(d, time.Until(at))
				break
			}
		}
	}
	if d > t.maxWait {
		d = t.maxWait
	}
	return d
}

func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusBadGateway ||
		status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout || status == http.StatusInternalServerError
}

// RoundTrip implements http.RoundTripper.
func (t *politeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	var lastErr error
	for attempt := 1; ; attempt++ {
		if err := t.waitPause(ctx); err != nil {
			return nil, err
		}
		if err := t.limiter.Wait(ctx); err != nil {
			return nil, err
		}
		t.requests.Add(1)
		resp, err := t.next.RoundTrip(req.Clone(ctx))
		var delay time.Duration
		if err == nil {
			body, rerr := io.ReadAll(io.LimitReader(resp.Body, t.maxBody+1))
			resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(body))
			switch {
			case int64(len(body)) > t.maxBody:
				// Not retried: the same request gets the same answer.
				return nil, &ErrTooLarge{URL: redactURL(req.URL), Limit: t.maxBody}
			case rerr != nil:
				err = fmt.Errorf("read body of %s: %w", redactURL(req.URL), rerr)
			case retryable(resp.StatusCode):
				delay = t.retryDelay(resp.Header, attempt)
				lastErr = fmt.Errorf("%s answered %s", redactURL(req.URL), resp.Status)
				if resp.StatusCode == http.StatusTooManyRequests {
					t.pause(delay)
				}
				if attempt >= t.maxTries {
					return resp, nil // the caller reports the status and Jira's body
				}
			default:
				return resp, nil
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			lastErr = err
			delay = backoff(attempt)
			if attempt >= t.maxTries {
				return nil, fmt.Errorf("giving up after %d tries: %w", attempt, lastErr)
			}
		}
		t.retries.Add(1)
		t.log.Debug("jira request retried", "url", redactURL(req.URL), "attempt", attempt, "wait", delay.String(), "reason", lastErr.Error())
		if err := sleep(ctx, delay); err != nil {
			return nil, err
		}
	}
}

// ErrRedirected is a redirect from Jira to another origin, which the
// collector does not follow: the credentials would go along.
type ErrRedirected struct {
	From, To string
}

func (e *ErrRedirected) Error() string { return e.From + " redirected to " + e.To }

// ErrTooLarge is an answer from Jira larger than max_page_mb.
type ErrTooLarge struct {
	URL   string
	Limit int64
}

func (e *ErrTooLarge) Error() string {
	return fmt.Sprintf("%s answered more than %d MiB", e.URL, e.Limit>>20)
}

// redactURL drops the query, which may hold JQL but never credentials; the
// path is enough to say what failed.
func redactURL(u *url.URL) string {
	return u.Scheme + "://" + u.Host + u.Path
}

// jiraClient is a go-jira client for one site with the polite transport.
type jiraClient struct {
	*jira.Client
	transport *politeTransport
	site      SiteConfig
}

func newJiraClient(cfg SiteConfig, log *slog.Logger) (*jiraClient, error) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = max(cfg.Concurrency, 2) + 2
	base.ResponseHeaderTimeout = 2 * time.Minute
	pt := newPoliteTransport(base, cfg.RequestsPerSecond, cfg.Burst, cfg.MaxRetries, int64(cfg.MaxPageMB)<<20, log)
	var rt http.RoundTripper
	if cfg.PAT != "" {
		rt = &jira.BearerAuthTransport{Token: cfg.PAT, Transport: pt}
	} else {
		rt = &jira.BasicAuthTransport{Username: cfg.Email, Password: cfg.APIToken, Transport: pt}
	}
	// The auth transports add the credentials to every request, redirected
	// ones included: a redirect to another origin is refused, not followed.
	hc := &http.Client{Transport: rt, Timeout: 5 * time.Minute, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		from := via[0].URL
		if req.URL.Scheme != from.Scheme || req.URL.Host != from.Host {
			return &ErrRedirected{From: redactURL(from), To: req.URL.Scheme + "://" + req.URL.Host}
		}
		if len(via) >= 5 {
			return fmt.Errorf("%s: more than 5 redirects", redactURL(from))
		}
		return nil
	}}
	c, err := jira.NewClient(hc, cfg.URL)
	if err != nil {
		return nil, evident.Errorf(evident.EINVALID, "jira site %s: url %q: %v", cfg.Name, cfg.URL, err)
	}
	return &jiraClient{Client: c, transport: pt, site: cfg}, nil
}

// get fetches a path into v and turns failures into errors that say what to
// check, never echoing credentials.
func (c *jiraClient) get(ctx context.Context, path string, v any) error {
	req, err := c.NewRequestWithContext(ctx, http.MethodGet, path, nil)
	if err != nil {
		return fmt.Errorf("jira request %s: %w", path, err)
	}
	resp, err := c.Do(req, v)
	return c.explain(path, resp, err)
}

// explain maps a go-jira failure to an error naming the site, the call and
// what to check.
func (c *jiraClient) explain(path string, resp *jira.Response, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	site := c.site.Name
	var redirected *ErrRedirected
	if errors.As(err, &redirected) {
		return evident.Errorf(evident.EINVALID, "jira site %s: %s redirected to another origin (%s); Evident does not follow it, the credentials would go along: check the url (EVIDENT_JIRA_URL)",
			site, redirected.From, redirected.To)
	}
	var large *ErrTooLarge
	if errors.As(err, &large) {
		return evident.Errorf(evident.EINVALID, "jira site %s: %s; stopped (max_page_mb: %d)", site, large.Error(), large.Limit>>20)
	}
	if resp == nil {
		var ne net.Error
		var oe *net.OpError
		if errors.As(err, &oe) || errors.As(err, &ne) {
			return evident.Errorf(evident.EUNAVAILABLE, "jira site %s: cannot reach %s (%v): check the url (EVIDENT_JIRA_URL) and the network", site, c.site.URL, rootCause(err))
		}
		return fmt.Errorf("jira site %s: %s: %w", site, path, err)
	}
	msg := jiraMessage(resp, err)
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		if c.site.PAT != "" {
			return evident.Errorf(evident.EUNAUTHORIZED, "jira site %s rejected the credentials (401): check the personal access token (EVIDENT_JIRA_PAT) and that it has not expired", site)
		}
		return evident.Errorf(evident.EUNAUTHORIZED, "jira site %s rejected the credentials (401): check the e-mail and API token (EVIDENT_JIRA_EMAIL, EVIDENT_JIRA_API_TOKEN)", site)
	case http.StatusForbidden:
		return evident.Errorf(evident.EFORBIDDEN, "jira site %s refused %s (403): the account needs the Browse Projects permission on the configured projects%s", site, path, msg)
	case http.StatusNotFound:
		return evident.Errorf(evident.ENOTFOUND, "jira site %s: %s not found (404)%s", site, path, msg)
	case http.StatusGone:
		return evident.Errorf(evident.EINVALID, "jira site %s: %s is gone (410)%s", site, path, msg)
	case http.StatusBadRequest:
		return evident.Errorf(evident.EINVALID, "jira site %s: bad request (400) for %s%s", site, path, msg)
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return evident.Errorf(evident.EUNAVAILABLE, "jira site %s still answered %d after %d tries: lower requests_per_second or retry later%s", site, resp.StatusCode, c.transport.maxTries, msg)
	}
	return fmt.Errorf("jira site %s: %s: status %d%s", site, path, resp.StatusCode, msg)
}

func jiraMessage(resp *jira.Response, err error) string {
	var e *jira.Error
	if !errors.As(err, &e) { // go-jira's search methods already read the body
		err = jira.NewJiraError(resp, err)
	}
	if errors.As(err, &e) {
		var parts []string
		parts = append(parts, e.ErrorMessages...)
		for k, v := range e.Errors {
			parts = append(parts, k+": "+v)
		}
		if len(parts) > 0 {
			return ": " + strings.Join(parts, "; ")
		}
	}
	return ""
}

func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}
