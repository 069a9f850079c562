// Package dashboard is Evident's HTTP face: the JSON API (/api/v1) and the
// server-rendered pages with go-echarts charts, on Fiber. Handlers parse,
// call the metrics and render; errors go to one error handler.
package dashboard

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/metrics"
	"github.com/evident-ebm/evident/schema"
)

// Pinger reports whether storage answers, for /readyz.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Role is what a token may do.
type Role int

// Roles, weakest first.
const (
	RoleNone Role = iota
	RoleViewer
	RoleAdmin
)

// Config configures a Server.
type Config struct {
	Measures *metrics.Service
	Pinger   Pinger
	Inputs   Inputs // may be nil: the input routes then answer 503
	Log      *slog.Logger
	// ViewerTokens and AdminTokens grant access; with none, everyone is an
	// admin and the server must listen on loopback only.
	ViewerTokens []string
	AdminTokens  []string
	// Now is the clock of default date ranges.
	Now func() time.Time
	// JiraURL, when set, turns issue keys into links to Jira.
	JiraURL string
	// WaitStatuses are each project's wait statuses (flow efficiency),
	// from the sites' project_settings; a request's wait= overrides them.
	WaitStatuses map[string][]string
	// Rules are each project's rules for blocked, stalled and expedited
	// work, from the sites' project_settings (defaults otherwise).
	Rules map[string]metrics.Rules
	// Versioner, when set with CacheBytes > 0, turns on the response cache
	// of the API and the pages (see responseCache), holding up to
	// CacheBytes of responses.
	Versioner  Versioner
	CacheBytes int
	// Busy, when set, says this process is storing data (a sync or a
	// webhook's fetch): the cache's recomputations wait for it (up to
	// 15 s each), since a new read model follows.
	Busy func() bool
	// Webhooks, when set, takes Jira's webhook deliveries at
	// /api/v1/jira/webhook/<site>.
	Webhooks WebhookReceiver
	// WrongTokenLimit is how many wrong tokens one address may present in a
	// minute before it gets 429 for the rest of it (default 20).
	WrongTokenLimit int
}

// Server is the dashboard and API.
type Server struct {
	App  *fiber.App
	cfg  Config
	log  *slog.Logger
	auth bool

	viewer [][32]byte
	admin  [][32]byte

	stats        *requestStats
	guesses      guessCounter
	catalogCache catalogCache
	cache        *responseCache // nil: off
	warmKey      string         // marks the server's own requests for responses again
	stop         chan struct{}  // closed by Shutdown
	closing      atomic.Bool
}

// New builds the Fiber app with every route.
func New(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.WrongTokenLimit <= 0 {
		cfg.WrongTokenLimit = 20
	}
	s := &Server{cfg: cfg, log: cfg.Log, stats: newRequestStats()}
	s.guesses.limit = cfg.WrongTokenLimit
	for _, t := range cfg.ViewerTokens {
		s.viewer = append(s.viewer, sha256.Sum256([]byte(t)))
	}
	for _, t := range cfg.AdminTokens {
		s.admin = append(s.admin, sha256.Sum256([]byte(t)))
	}
	s.auth = len(s.viewer)+len(s.admin) > 0
	s.stop = make(chan struct{})
	if cfg.Versioner != nil && cfg.CacheBytes > 0 {
		s.cache = newResponseCache(cfg.Versioner, cfg.CacheBytes, time.Now)
		s.cache.warm = s.ask
		s.cache.busy = cfg.Busy
		s.warmKey = rand.Text()
		go s.cache.watch(s.stop)
	}
	s.App = fiber.New(fiber.Config{
		ErrorHandler:          s.handleError,
		DisableStartupMessage: true,
		// Bodies are streamed and limited per request by limitBody, from
		// the headers, before any of the body is read.
		StreamRequestBody: true,
		BodyLimit:         adminBodyLimit,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
	})
	s.App.Use(recover.New(recover.Config{EnableStackTrace: false}))
	s.App.Use(s.observe)
	s.App.Use(s.limitBody)
	s.App.Use(securityHeaders)
	s.App.Use(sameOrigin)
	s.routes()
	return s
}

func (s *Server) routes() {
	a := s.App
	a.Get("/healthz", func(c *fiber.Ctx) error { return c.SendString("ok") })
	a.Get("/readyz", s.readyz)
	a.Get("/metrics", s.requireRole(RoleViewer), s.prometheus)
	a.Get("/login", s.loginPage)
	a.Post("/login", s.login)
	a.Post("/logout", s.logout)
	a.Get("/assets/*", s.assets)
	// Jira's webhooks carry no token: a signature of the body instead.
	a.Post(webhookPath, s.webhook)
	a.Post(webhookPath+"/:site", s.webhook)

	api := a.Group("/api/v1", s.requireRole(RoleViewer), checkParams, s.cached)
	api.Get("/openapi.json", s.openAPI)
	api.Get("/issues", s.apiIssues)
	api.Get("/flow", s.apiFlow)
	api.Get("/standup", s.apiStandup)
	api.Get("/impediments", s.apiImpediments)
	api.Get("/columns", s.apiColumns)
	api.Get("/cfd", s.apiCFD)
	api.Get("/time-in-status", s.apiStatusTimes)
	api.Get("/sprints", s.apiSprints)
	api.Get("/sprints/:id", s.apiRetrospective)
	api.Get("/releases", s.apiReleases)
	api.Get("/quality", s.apiQuality)
	api.Get("/value", s.apiValue)
	api.Get("/satisfaction", s.apiSatisfaction)
	api.Get("/ebm", s.apiEBM)
	api.Get("/signals", s.apiSignals)
	api.Get("/forecast", s.apiForecast)
	api.Get("/epics", s.apiEpics)
	api.Get("/forecast/scores", s.apiForecastScores)
	api.Get("/health/data", s.apiHealth)
	api.Get("/catalog", s.apiCatalog)
	api.Get("/version", s.apiVersion)
	api.Get("/backlog", s.apiBacklog)
	s.inputRoutes(api)

	s.pageRoutes()
	s.editRoutes()
}

// statusOf is the HTTP status of each error code, for the API and the pages.
var statusOf = map[string]int{
	evident.EINVALID: 400, evident.EUNAUTHORIZED: 401, evident.EFORBIDDEN: 403, evident.ENOTFOUND: 404,
	evident.ECONFLICT: 409, evident.EUNAVAILABLE: 503, evident.EINTERNAL: 500,
}

// handleError maps an error to a status: evident.Error codes to theirs,
// Fiber's own errors to theirs, anything else to 500, logged without
// internals reaching the user.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	code := evident.ErrorCode(err)
	status := statusOf[code]
	msg := evident.ErrorMessage(err)
	var fe *fiber.Error
	if errors.As(err, &fe) {
		status, msg = fe.Code, fe.Message
		code = map[int]string{400: evident.EINVALID, 401: evident.EUNAUTHORIZED, 403: evident.EFORBIDDEN, 404: evident.ENOTFOUND,
			405: evident.EINVALID, 413: evident.EINVALID, 429: evident.EUNAVAILABLE, 431: evident.EINVALID}[fe.Code]
		if code == "" {
			code = evident.EINTERNAL
		}
	}
	if status >= 500 {
		s.log.Error("request failed", "method", c.Method(), "path", c.Path(), "status", status, "err", err.Error())
	}
	// A 431 comes before the request line is parsed: the path is unknown,
	// and no page ever sends such headers, so it is the API's answer.
	if strings.HasPrefix(c.Path(), "/api/") || strings.Contains(c.Get("Accept"), "application/json") || status == fiber.StatusRequestHeaderFieldsTooLarge {
		return c.Status(status).JSON(fiber.Map{"error": fiber.Map{"code": code, "message": msg}})
	}
	return s.renderError(c, status, msg)
}

func (s *Server) readyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if s.cfg.Pinger != nil {
		if err := s.cfg.Pinger.Ping(ctx); err != nil {
			return c.Status(503).SendString("database unavailable")
		}
	}
	return c.SendString("ready")
}

// securityHeaders allows only the server's own origin: no CDN, no inline
// script from elsewhere, no framing.
func securityHeaders(c *fiber.Ctx) error {
	h := &c.Response().Header
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	return c.Next()
}

// tokenRole returns the role of the request's token, compared in constant
// time against every configured token.
func (s *Server) tokenRole(c *fiber.Ctx) Role {
	return s.roleOf(c.Get("Authorization"), c.Cookies(cookieName))
}

// presentsToken says whether a request carries a token at all.
func (s *Server) presentsToken(c *fiber.Ctx) bool {
	return s.auth && (strings.HasPrefix(c.Get("Authorization"), "Bearer ") || c.Cookies(cookieName) != "")
}

func tooManyGuesses(c *fiber.Ctx) error {
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(guessWindow/time.Second)))
	return fiber.NewError(fiber.StatusTooManyRequests, "too many wrong tokens from this address: try again in a minute")
}

// Wrong tokens: after Config.WrongTokenLimit from one address within
// guessWindow, the address gets 429 until the window ends, right tokens
// included, so that tokens cannot be guessed at the server's speed.
const guessWindow = time.Minute

// guessCounter counts wrong tokens per client address in fixed windows.
type guessCounter struct {
	mu    sync.Mutex
	limit int
	start time.Time
	by    map[string]int
}

func (g *guessCounter) roll(now time.Time) {
	if now.Sub(g.start) >= guessWindow || g.by == nil || len(g.by) > 100000 {
		g.start, g.by = now, map[string]int{}
	}
}

func (g *guessCounter) failed(ip string, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.roll(now)
	g.by[ip]++
}

func (g *guessCounter) blocked(ip string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.roll(now)
	return g.by[ip] >= g.limit
}

// roleOf is the role the token of a request grants: its bearer token, else
// its session cookie.
func (s *Server) roleOf(authorization, cookie string) Role {
	if !s.auth {
		return RoleAdmin
	}
	tok := cookie
	if strings.HasPrefix(authorization, "Bearer ") {
		tok = strings.TrimSpace(strings.TrimPrefix(authorization, "Bearer "))
	}
	if tok == "" {
		return RoleNone
	}
	sum := sha256.Sum256([]byte(tok))
	role := RoleNone
	for _, a := range s.admin {
		if subtle.ConstantTimeCompare(sum[:], a[:]) == 1 {
			role = RoleAdmin
		}
	}
	for _, v := range s.viewer {
		if subtle.ConstantTimeCompare(sum[:], v[:]) == 1 && role == RoleNone {
			role = RoleViewer
		}
	}
	return role
}

// Request body limits: an admin's file import (streamed, never held
// whole), an admin's other writes, and everyone else (a login form; a
// viewer writes nothing).
const (
	importBodyLimit = 1 << 30
	adminBodyLimit  = 1 << 20
	otherBodyLimit  = 16 << 10
)

// isImport says whether a request is a file import, whose body its
// handler streams (apiImport).
func isImport(c *fiber.Ctx) bool {
	p := c.Path()
	return c.Method() == fiber.MethodPost && (p == "/api/v1/satisfaction" || p == "/api/v1/value")
}

// limitBody decides, from a request's headers alone, how much body the
// server will read, and reads it (bodies are streamed: fasthttp itself has
// read at most 8 KiB). Without an admin token that is 16 KiB, so that
// nobody can make the server hold megabytes before it answers 401; an
// admin's writes get 1 MiB; an admin's import is left to its handler,
// which streams it. A refused body is not read: the connection closes.
func (s *Server) limitBody(c *fiber.Ctx) error {
	body := c.Context().RequestBodyStream()
	if body == nil {
		return c.Next()
	}
	limit, hint := otherBodyLimit, " (a larger one needs an admin token)"
	if strings.HasPrefix(c.Path(), webhookPath) && s.cfg.Webhooks != nil {
		// Jira sends the issue with the event: signed, not authenticated.
		limit, hint = adminBodyLimit, ""
	} else if s.roleOf(c.Get(fiber.HeaderAuthorization), c.Cookies(cookieName)) == RoleAdmin {
		limit, hint = adminBodyLimit, ""
		if isImport(c) {
			limit = importBodyLimit
		}
	}
	tooLarge := func() error {
		c.Context().SetConnectionClose()
		return fiber.NewError(fiber.StatusRequestEntityTooLarge, "the request body is over "+sizeOf(limit)+hint)
	}
	if c.Request().Header.ContentLength() > limit {
		return tooLarge()
	}
	if limit == importBodyLimit {
		return c.Next()
	}
	b, err := io.ReadAll(io.LimitReader(body, int64(limit)+1))
	if err != nil {
		c.Context().SetConnectionClose()
		return fiber.NewError(fiber.StatusBadRequest, "the request body could not be read")
	}
	if len(b) > limit {
		return tooLarge()
	}
	c.Request().SetBody(b)
	return c.Next()
}

// sizeOf writes a byte count the way the limits are set: 16 KiB, 1 MiB, 1 GiB.
func sizeOf(n int) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

const cookieName = "evident_token"

func (s *Server) requireRole(min Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if s.guesses.blocked(c.IP(), time.Now()) {
			return tooManyGuesses(c)
		}
		role := s.tokenRole(c)
		if role == RoleNone && s.presentsToken(c) {
			s.guesses.failed(c.IP(), time.Now())
		}
		if role >= min {
			c.Locals("role", role)
			return c.Next()
		}
		if role == RoleNone {
			if !strings.HasPrefix(c.Path(), "/api/") && c.Method() == fiber.MethodGet && c.Path() != "/metrics" {
				return c.Redirect("/login?next="+safeNext(c.OriginalURL()), fiber.StatusSeeOther)
			}
			return evident.Errorf(evident.EUNAUTHORIZED, "a token is required: send Authorization: Bearer <token>")
		}
		return evident.Errorf(evident.EFORBIDDEN, "this needs an admin token")
	}
}

// sameOrigin refuses a state-changing request that a browser made for
// another site (cross-site request forgery through the session cookie):
// Sec-Fetch-Site other than same-origin or none, or else an Origin whose
// host is not this one. Requests with a bearer token are not ambient
// (a page on another site cannot add the header), and requests without
// either header do not come from a browser; both pass.
func sameOrigin(c *fiber.Ctx) error {
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		return c.Next()
	}
	if strings.HasPrefix(c.Get("Authorization"), "Bearer ") {
		return c.Next()
	}
	if site := c.Get("Sec-Fetch-Site"); site != "" {
		if site != "same-origin" && site != "none" {
			return evident.Errorf(evident.EFORBIDDEN, "a request from another site (Sec-Fetch-Site: %s) cannot change anything here", site)
		}
		return c.Next()
	}
	if origin := c.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host != string(c.Request().Host()) {
			return evident.Errorf(evident.EFORBIDDEN, "a request from another site (Origin: %s) cannot change anything here", origin)
		}
	}
	return c.Next()
}

// checkParams answers 400 to a query parameter no route reads (a typo, or
// project[]=) and to a parameter given more than once (project=A&project=B
// would silently measure A): the API never ignores part of a question.
func checkParams(c *fiber.Ctx) error {
	var err error
	seen := map[string]bool{}
	c.Request().URI().QueryArgs().VisitAll(func(k, _ []byte) {
		name := string(k)
		switch {
		case err != nil:
		case !knownParams[name]:
			err = evident.Errorf(evident.EINVALID, "%s: not a parameter of this API (see /api/v1/openapi.json)", name)
		case seen[name]:
			err = evident.Errorf(evident.EINVALID, "%s: given more than once; name one (each measure takes one %s)", name, name)
		}
		seen[name] = true
	})
	if err != nil {
		return err
	}
	return c.Next()
}

// safeNext keeps a redirect target on this server: a local path only.
func safeNext(next string) string {
	// Browsers drop tabs and newlines from URLs and read \ as /, so
	// "/\t/evil.example" would leave the site: any control character or
	// backslash, and anything with a scheme or a host, goes home instead.
	for _, r := range next {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	return next
}

// requestStats counts requests for the Prometheus endpoint.
type requestStats struct {
	mu       sync.Mutex
	counts   map[string]int64 // route|status
	duration map[string]float64
	buckets  map[string][]int64
}

var latencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

func newRequestStats() *requestStats {
	return &requestStats{counts: map[string]int64{}, duration: map[string]float64{}, buckets: map[string][]int64{}}
}

// observe logs each request (path only: queries may carry nothing secret,
// but tokens never travel in them) and counts it.
func (s *Server) observe(c *fiber.Ctx) error {
	start := time.Now()
	// Every query of the request reads one generation of the read model,
	// looked up once, when the first one needs it.
	c.SetUserContext(schema.PinCurrent(c.UserContext()))
	err := c.Next()
	if err != nil {
		if herr := s.App.Config().ErrorHandler(c, err); herr != nil {
			c.Status(500)
		}
	}
	status := c.Response().StatusCode()
	route := c.Route().Path
	elapsed := time.Since(start).Seconds()
	s.stats.mu.Lock()
	s.stats.counts[fmt.Sprintf("%s|%s|%d", c.Method(), route, status)]++
	key := c.Method() + "|" + route
	s.stats.duration[key] += elapsed
	b := s.stats.buckets[key]
	if b == nil {
		b = make([]int64, len(latencyBuckets)+1)
		s.stats.buckets[key] = b
	}
	for i, le := range latencyBuckets {
		if elapsed <= le {
			b[i]++
		}
	}
	b[len(latencyBuckets)]++
	s.stats.mu.Unlock()
	s.log.Debug("request", "method", c.Method(), "path", c.Path(), "status", status, "ms", time.Since(start).Milliseconds())
	return nil
}

func (s *Server) prometheus(c *fiber.Ctx) error {
	var b strings.Builder
	s.stats.mu.Lock()
	b.WriteString("# HELP evident_http_requests_total HTTP requests by method, route and status.\n# TYPE evident_http_requests_total counter\n")
	for k, n := range s.stats.counts {
		p := strings.SplitN(k, "|", 3)
		fmt.Fprintf(&b, "evident_http_requests_total{method=%q,route=%q,status=%q} %d\n", p[0], p[1], p[2], n)
	}
	b.WriteString("# HELP evident_http_request_duration_seconds Time to answer, by method and route.\n# TYPE evident_http_request_duration_seconds histogram\n")
	for k, bs := range s.stats.buckets {
		p := strings.SplitN(k, "|", 2)
		for i, le := range latencyBuckets {
			fmt.Fprintf(&b, "evident_http_request_duration_seconds_bucket{method=%q,route=%q,le=\"%g\"} %d\n", p[0], p[1], le, bs[i])
		}
		fmt.Fprintf(&b, "evident_http_request_duration_seconds_bucket{method=%q,route=%q,le=\"+Inf\"} %d\n", p[0], p[1], bs[len(latencyBuckets)])
		fmt.Fprintf(&b, "evident_http_request_duration_seconds_sum{method=%q,route=%q} %g\n", p[0], p[1], s.stats.duration[k])
		fmt.Fprintf(&b, "evident_http_request_duration_seconds_count{method=%q,route=%q} %d\n", p[0], p[1], bs[len(latencyBuckets)])
	}
	s.stats.mu.Unlock()
	if s.cache != nil {
		st, n, bytes := s.cache.snapshot()
		b.WriteString("# HELP evident_cache_requests_total Cached GET requests: served from the cache (hit), computed (miss), or waited for an identical one (wait).\n# TYPE evident_cache_requests_total counter\n")
		fmt.Fprintf(&b, "evident_cache_requests_total{result=\"hit\"} %d\nevident_cache_requests_total{result=\"miss\"} %d\nevident_cache_requests_total{result=\"wait\"} %d\n", st.Hits, st.Misses, st.Waits)
		fmt.Fprintf(&b, "# HELP evident_cache_prewarmed_total Responses recomputed after the data changed, before anyone asked again.\n# TYPE evident_cache_prewarmed_total counter\nevident_cache_prewarmed_total %d\n", st.Warmed)
		fmt.Fprintf(&b, "# HELP evident_cache_refreshed_total Responses in use recomputed before they expired, before anyone asked again.\n# TYPE evident_cache_refreshed_total counter\nevident_cache_refreshed_total %d\n", st.Refreshed)
		fmt.Fprintf(&b, "# HELP evident_cache_kept_total Responses kept across a change of the data that reached only other projects.\n# TYPE evident_cache_kept_total counter\nevident_cache_kept_total %d\n", st.Kept)
		fmt.Fprintf(&b, "# HELP evident_cache_evictions_total Responses evicted to stay within the cache's size.\n# TYPE evident_cache_evictions_total counter\nevident_cache_evictions_total %d\n", st.Evictions)
		fmt.Fprintf(&b, "# HELP evident_cache_entries Responses held.\n# TYPE evident_cache_entries gauge\nevident_cache_entries %d\n", n)
		fmt.Fprintf(&b, "# HELP evident_cache_bytes Bytes of responses held.\n# TYPE evident_cache_bytes gauge\nevident_cache_bytes %d\n", bytes)
	}
	if s.cfg.Webhooks != nil {
		counts := s.cfg.Webhooks.Counts()
		b.WriteString("# HELP evident_webhooks_total Jira webhook deliveries by result (accepted, refused: bad signature or replay, duplicate), issues fetched for them and failed fetches.\n# TYPE evident_webhooks_total counter\n")
		for _, k := range slices.Sorted(maps.Keys(counts)) {
			fmt.Fprintf(&b, "evident_webhooks_total{result=%q} %d\n", k, counts[k])
		}
	}
	c.Set("Content-Type", "text/plain; version=0.0.4")
	return c.SendString(b.String())
}

// Shutdown stops the server, waiting up to timeout for requests in flight.
func (s *Server) Shutdown(timeout time.Duration) error {
	if s.closing.CompareAndSwap(false, true) {
		close(s.stop)
	}
	return s.App.ShutdownWithTimeout(timeout)
}
