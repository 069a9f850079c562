package dashboard_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// zeros is an endless body that costs the client nothing.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// Sixteen 60 MB POSTs without a token, at once: the server decides the
// body limit from the headers and reads at most 16 KiB of each, so its
// allocations stay a few MiB (before: each body read whole, about 1 GB in
// all, then answered 401). An admin's import limit is untouched.
func TestLargeBodiesWithoutAnAdminTokenAreNotRead(t *testing.T) {
	e := sharedEnv(t)
	srv := e.server([]string{"v"}, []string{"a"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.App.Listener(ln)
	defer srv.App.Shutdown()
	url := "http://" + ln.Addr().String()

	post := func(path, token string, size int64) (int, error) {
		req, _ := http.NewRequest("POST", url+path, io.LimitReader(zeros{}, size))
		req.ContentLength = size
		req.Header.Set("Content-Type", "text/csv")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	start := ms.TotalAlloc
	var wg sync.WaitGroup
	statuses := make([]string, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			token := map[bool]string{true: "v"}[i%2 == 0] // half as viewers, half without a token
			code, err := post("/api/v1/satisfaction", token, 60<<20)
			statuses[i] = fmt.Sprint(code)
			if err != nil {
				statuses[i] = "closed" // the server stopped reading: the client cannot finish its upload
			}
		}()
	}
	wg.Wait()
	runtime.ReadMemStats(&ms)
	alloc := ms.TotalAlloc - start
	for _, s := range statuses {
		if s != "413" && s != "401" && s != "403" && s != "closed" {
			t.Fatalf("answers %v: one was served", statuses)
		}
	}
	if alloc > 64<<20 {
		t.Fatalf("%d MiB allocated for 16 refused 60 MB bodies (%v)", alloc>>20, statuses)
	}
	t.Logf("16 × 60 MB without an admin token: %d MiB allocated in all; answers %s", alloc>>20, strings.Join(statuses, " "))

	// An admin's import is streamed up to 1 GiB, and one byte more is
	// refused from its Content-Length; an admin's other writes get 1 MiB.
	if code, err := post("/api/v1/satisfaction", "a", 2<<20); err != nil || code != 400 {
		t.Fatalf("an admin's 2 MiB of zeros: %d %v, want 400 (read, then rejected as CSV)", code, err)
	}
	if code, err := post("/api/v1/satisfaction", "a", 1<<30+1); err == nil && code != 413 {
		t.Fatalf("an admin's 1 GiB + 1: %d, want 413", code)
	}
	if code, err := post("/api/v1/goals", "a", 1<<20+1); err == nil && code != 413 {
		t.Fatalf("an admin's goal of 1 MiB + 1: %d, want 413", code)
	}
}

// An admin's import is streamed through the server as the CLI streams it:
// a file whose header is wrong is refused while the client is still
// sending the rest of its 60 MB (before: the server read all of it first).
func TestImportsAreStreamed(t *testing.T) {
	e := sharedEnv(t)
	srv := e.server(nil, []string{"a"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.App.Listener(ln)
	defer srv.App.Shutdown()
	for _, chunked := range []bool{false, true} {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		head := "POST /api/v1/satisfaction HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\r\nContent-Type: text/csv\r\n"
		// fasthttp reads the first 8 KiB before the handler runs.
		first := "when,scale,score,product,respondent,comment\n" + strings.Repeat("2024-01-05,nps,9,EV,,\n", 1000)
		if chunked {
			fmt.Fprintf(conn, "%sTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", head, len(first), first)
		} else {
			fmt.Fprintf(conn, "%sContent-Length: %d\r\n\r\n%s", head, 60<<20, first)
		}
		conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			conn.Close()
			t.Fatalf("chunked %v: no answer while the body is unfinished: %v", chunked, err)
		}
		b, _ := io.ReadAll(resp.Body)
		conn.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), "line 1, column when: unknown column") {
			t.Fatalf("chunked %v: %d %s", chunked, resp.StatusCode, b)
		}
	}
}

// After signing in, the server redirects only to a path of its own: what
// a browser would read as another origin (a tab or newline it drops, a
// backslash it reads as a slash, a scheme, //host) goes to / instead, and
// the sign-in form never carries it either.
func TestLoginRedirectsOnlyToOwnPaths(t *testing.T) {
	e := sharedEnv(t)
	app := e.server([]string{"v"}, nil).App
	for next, want := range map[string]string{
		"/%09/evil.example":     "/",
		"/%0A/evil.example":     "/",
		"/%5Cevil.example":      "/",
		"%2F%2Fevil.example":    "/",
		"https://evil.example":  "/",
		"javascript:alert(1)":   "/",
		"/\u00a0/evil.example":  "/\u00a0/evil.example", // a path, not a host: browsers keep it
		"/flow?project=SHOP":    "/flow?project=SHOP",
		"/sprints/7?board=1&x=": "/sprints/7?board=1&x=",
	} {
		body := "token=v&next=" + strings.NewReplacer("&", "%26", "?", "%3F").Replace(next)
		req := httptest.NewRequest("POST", "/login", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := app.Test(req, 10000)
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Header.Get("Location"); resp.StatusCode != 303 || got != want {
			t.Errorf("next=%q: %d Location %q, want %q", next, resp.StatusCode, got, want)
		}
		resp, err = app.Test(httptest.NewRequest("GET", "/login?next="+strings.NewReplacer("&", "%26", "?", "%3F").Replace(next), nil), 10000)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		if want == "/" && strings.Contains(string(page), "evil.example") {
			t.Errorf("GET /login?next=%q renders the target into the form", next)
		}
	}
}

// Dates ClickHouse's DateTime cannot hold would wrap around (2200-01-01
// stored as 2020-07-27, 1900-01-01 as 2079-06-07): every place a date
// enters refuses them with 400 naming the field (imports: line and
// column), and nothing is stored.
func TestDatesOutsideTheStorableRangeAreRefused(t *testing.T) {
	e := sharedEnv(t)
	app := e.server([]string{"v"}, []string{"a"}).App
	for _, c := range []struct{ path, ctype, body, want string }{
		{"/api/v1/goals", "application/json", `{"level":"strategic","title":"x","measure":"csat","baseline":1,"target":2,"target_date":"2200-01-01"}`, "target_date: 2200-01-01 is outside"},
		{"/api/v1/goals", "application/json", `{"level":"strategic","title":"x","measure":"csat","baseline":1,"target":2,"baseline_date":"1900-01-01","target_date":"2026-12-31"}`, "baseline_date: 1900-01-01 is outside"},
		{"/api/v1/experiments", "application/json", `{"title":"x","hypothesis":"h","measure":"csat","started_at":"1900-01-01"}`, "started_at: 1900-01-01 is outside"},
		{"/api/v1/experiments", "application/json", `{"title":"x","hypothesis":"h","measure":"csat","started_at":"2026-01-01","ended_at":"2200-01-01"}`, "ended_at: 2200-01-01 is outside"},
		{"/api/v1/value", "text/csv", "product,measure,period_start,period_end,value,unit\nSHOP,revenue,2200-01-01,2200-01-31,5,EUR\n", "line 2, column period_start: 2200-01-01 is outside"},
		{"/api/v1/value", "text/csv", "product,measure,period_start,period_end,value,unit\nSHOP,revenue,1900-01-01,1900-01-31,5,EUR\n", "line 2, column period_start: 1900-01-01 is outside"},
	} {
		status, got, _ := do(t, app, "POST", c.path, "a", c.body, "Content-Type", c.ctype)
		if status != 400 || !strings.Contains(got, c.want) {
			t.Errorf("POST %s %s: %d %s, want 400 with %q", c.path, c.body, status, got, c.want)
		}
	}
	for _, q := range []string{"/api/v1/flow?to=0000-01-01", "/api/v1/flow?from=1900-01-01", "/api/v1/issues?to=0001-01-01", "/api/v1/forecast?until=2200-01-01"} {
		status, got, _ := do(t, app, "GET", q, "v", "")
		if status != 400 || !strings.Contains(got, "outside the dates Evident holds") {
			t.Errorf("GET %s: %d %s, want 400 naming the range", q, status, got)
		}
	}
}

// A page on another site cannot use a signed-in user's cookie to change
// anything (a form post, a text/plain fetch): Sec-Fetch-Site or Origin
// must be this site. Bearer-token clients and clients that send neither
// header (not browsers) are unaffected.
func TestCrossSiteWritesWithTheCookieAreRefused(t *testing.T) {
	e := sharedEnv(t)
	app := e.server([]string{"v"}, []string{"a"}).App
	goal := `{"level":"strategic","title":"csrf","measure":"csat","baseline":1,"target":2,"target_date":"2026-12-31"}`
	for _, c := range []struct {
		name   string
		header []string
		want   int
	}{
		{"foreign Origin, text/plain", []string{"Cookie", "evident_token=a", "Origin", "https://evil.example", "Content-Type", "text/plain"}, 403},
		{"cross-site fetch metadata", []string{"Cookie", "evident_token=a", "Sec-Fetch-Site", "cross-site", "Content-Type", "application/json"}, 403},
		{"same-site but another origin", []string{"Cookie", "evident_token=a", "Sec-Fetch-Site", "same-site", "Content-Type", "application/json"}, 403},
		{"same origin", []string{"Cookie", "evident_token=a", "Origin", "http://example.com", "Content-Type", "application/json"}, 201},
		{"same-origin fetch metadata", []string{"Cookie", "evident_token=a", "Sec-Fetch-Site", "same-origin", "Content-Type", "application/json"}, 201},
		{"a bearer token from anywhere", []string{"Authorization", "Bearer a", "Origin", "https://evil.example", "Content-Type", "application/json"}, 201},
	} {
		status, body, _ := do(t, app, "POST", "/api/v1/goals", "", goal, c.header...)
		if status != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, status, body, c.want)
		}
	}
	status, _, _ := do(t, app, "POST", "/logout", "", "", "Cookie", "evident_token=v", "Origin", "https://evil.example")
	if status != 403 {
		t.Errorf("cross-site logout: %d, want 403", status)
	}
}

// A JSON body with keys that differ only in case is refused: which one
// would win is not something a client should have to guess.
func TestCaseTwinKeysAreRefused(t *testing.T) {
	e := sharedEnv(t)
	app := e.server(nil, []string{"a"}).App
	status, body, _ := do(t, app, "POST", "/api/v1/goals", "a", `{"level":"strategic","title":"a","Title":"b","measure":"csat","baseline":1,"target":2,"target_date":"2026-12-31"}`, "Content-Type", "application/json")
	if status != 400 || !strings.Contains(body, `title: given twice (as \"Title\" and \"title\")`) {
		t.Fatalf("case twins: %d %s", status, body)
	}
}

// Errors Fiber raises itself keep the API's error shape and a client's
// code: a wrong method is 405 "invalid" (before: "internal").
func TestFrameworkErrorsKeepTheAPIShape(t *testing.T) {
	e := sharedEnv(t)
	app := e.server(nil, []string{"a"}).App
	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{"PUT", "/api/v1/flow", "", 405},
		{"DELETE", "/api/v1/issues", "", 405},
	} {
		status, body, h := do(t, app, c.method, c.path, "a", c.body)
		if status != c.status || !strings.HasPrefix(h.Get("Content-Type"), "application/json") || !strings.Contains(body, `"code":"invalid"`) {
			t.Errorf("%s %s: %d %s %s", c.method, c.path, status, h.Get("Content-Type"), body)
		}
	}
	// Headers over the server's buffer never reach a route (the path is
	// not even parsed): the answer is the API's JSON error, 431.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go app.Listener(ln)
	defer app.Shutdown()
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/api/v1/flow", nil)
	req.Header.Set("X-Padding", strings.Repeat("x", 10000))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 431 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || !strings.Contains(string(b), `"code":"invalid"`) {
		t.Errorf("oversized headers: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
}

// The API never ignores part of a question: a parameter it does not know
// (project[]=, a typo) or one given twice (project=A&project=B, which used
// A alone) is a 400 naming it.
func TestUnknownAndRepeatedParametersAreRefused(t *testing.T) {
	e := sharedEnv(t)
	app := e.server([]string{"v"}, nil).App
	for q, want := range map[string]string{
		"/api/v1/flow?project=SHOP&project=APP": "project: given more than once",
		"/api/v1/flow?project[]=SHOP":           "project[]: not a parameter",
		"/api/v1/issues?projcet=SHOP":           "projcet: not a parameter",
	} {
		status, body, _ := do(t, app, "GET", q, "v", "")
		if status != 400 || !strings.Contains(body, want) {
			t.Errorf("GET %s: %d %s, want 400 with %q", q, status, body, want)
		}
	}
	if status, body, _ := do(t, app, "GET", "/api/v1/flow?project=SHOP&from=2025-01-01&to=2025-06-01", "v", ""); status != 200 {
		t.Errorf("a good question: %d %s", status, body)
	}
}

// Tokens cannot be guessed at the server's speed: after 20 wrong tokens
// in a minute an address gets 429 (right tokens included) until the minute
// ends; the sign-in form counts the same way.
func TestWrongTokensAreRateLimited(t *testing.T) {
	e := sharedEnv(t)
	app := e.server([]string{"v"}, nil).App
	for i := range 20 {
		if status, _, _ := do(t, app, "GET", "/api/v1/catalog", fmt.Sprintf("guess-%d", i), ""); status != 401 {
			t.Fatalf("wrong token %d: %d, want 401", i+1, status)
		}
	}
	status, body, h := do(t, app, "GET", "/api/v1/catalog", "guess-21", "")
	if status != 429 || h.Get("Retry-After") == "" || !strings.Contains(body, "too many wrong tokens") {
		t.Fatalf("21st wrong token: %d %s", status, body)
	}
	if status, _, _ := do(t, app, "GET", "/api/v1/catalog", "v", ""); status != 429 {
		t.Fatalf("the right token during the block: %d, want 429", status)
	}
	login := e.server([]string{"v"}, nil).App
	for i := range 21 {
		req := httptest.NewRequest("POST", "/login", strings.NewReader(fmt.Sprintf("token=guess-%d&next=/", i)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := login.Test(req, 10000)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: 429, false: 401}[i == 20]; resp.StatusCode != want {
			t.Fatalf("sign-in attempt %d: %d, want %d", i+1, resp.StatusCode, want)
		}
	}
}
