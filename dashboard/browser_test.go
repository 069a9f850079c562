package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/dashboard"
)

// chromium returns the browser binary, skipping the test outside CI when
// there is none.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium: .ci/run installs Debian's chromium")
	}
	t.Skip("skipping browser test: no Chromium (apt-get install -y chromium)")
	return ""
}

// browserPage is what a page load saw.
type browserPage struct {
	errors   []string
	foreign  []string
	dialogs  []string
	requests int
}

// TestPagesInAHeadlessBrowser loads every page of a real server in
// Chromium: every chart's canvas is drawn, no console error, no request to
// another origin, no script from Jira text runs, and a filter change
// updates the charts. Screenshots go to ../screenshots/.
func TestPagesInAHeadlessBrowser(t *testing.T) {
	bin := chromium(t)
	e := sharedEnv(t)
	srv := e.server(nil, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.App.Listener(ln)
	defer srv.Shutdown(5 * time.Second)
	base := "http://" + ln.Addr().String()
	shots := filepath.Join("..", "screenshots")
	os.MkdirAll(shots, 0o755)

	// Not t.TempDir: Chromium may still write its profile while the test
	// cleans up; remove it after the browser is gone, ignoring stragglers.
	profile, err := os.MkdirTemp("", "evident-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(profile)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true), chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(profile), chromedp.WindowSize(1440, 1800))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()

	var mu sync.Mutex
	cur := &browserPage{}
	chromedp.ListenTarget(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value))
				}
				cur.errors = append(cur.errors, strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			cur.errors = append(cur.errors, ev.ExceptionDetails.Error())
		case *network.EventRequestWillBeSent:
			cur.requests++
			u, err := url.Parse(ev.Request.URL)
			if err == nil && u.Scheme != "data" && u.Host != ln.Addr().String() {
				cur.foreign = append(cur.foreign, ev.Request.URL)
			}
		case *page.EventJavascriptDialogOpening:
			cur.dialogs = append(cur.dialogs, ev.Message)
			go chromedp.Run(ctx, page.HandleJavaScriptDialog(false))
		}
	})
	if err := chromedp.Run(ctx, network.Enable()); err != nil {
		t.Fatal(err)
	}
	xss := e.issueWith(t, "<script>alert(1)</script>")
	xssRange := fmt.Sprintf("from=%s&to=%s", xss.Resolution.AddDate(0, 0, -7).Format("2006-01-02"), xss.Resolution.AddDate(0, 0, 7).Format("2006-01-02"))
	sprints, _ := e.ms.Sprints(context.Background(), "", 1)
	for _, pg := range []struct {
		name, path string
		charts     int
	}{
		{"overview", "/?project=SHOP", 4},
		// OPS has no imported records: its Unrealized Value says "no trend yet".
		{"overview-all", "/", 11},
		{"flow", "/flow", 6},
		{"flow-xss", "/flow?" + xssRange, 4},
		{"sprints", "/sprints?board=1", 2},
		{"retrospective", fmt.Sprintf("/sprints/%d?board=1", sprints[len(sprints)-3].ID), 2},
		{"value", "/value?project=SHOP", 3},
		{"forecast", "/forecast?items=60", 1},
		{"backlog", "/backlog?project=SHOP", 4},
		{"health", "/health", 0},
		{"docs", "/docs/metrics", 0},
		{"initiatives", "/initiatives", 0},
	} {
		t.Run(pg.name, func(t *testing.T) {
			mu.Lock()
			cur = &browserPage{}
			mu.Unlock()
			var canvases int
			var png []byte
			err := chromedp.Run(ctx,
				chromedp.Navigate(base+pg.path),
				chromedp.WaitReady("footer", chromedp.ByQuery),
				chromedp.Sleep(700*time.Millisecond),
				chromedp.Evaluate(`Array.from(document.querySelectorAll("div.item canvas")).filter(c => c.width > 0 && c.height > 0).length`, &canvases),
				chromedp.FullScreenshot(&png, 100),
			)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(shots, pg.name+".png"), png, 0o644)
			mu.Lock()
			defer mu.Unlock()
			if canvases < pg.charts {
				t.Errorf("%d charts drawn, want %d", canvases, pg.charts)
			}
			if len(cur.errors) > 0 {
				t.Errorf("console errors: %v", cur.errors)
			}
			if len(cur.foreign) > 0 {
				t.Errorf("requests to other origins: %v", cur.foreign)
			}
			if len(cur.dialogs) > 0 {
				t.Errorf("a script from Jira text ran: dialogs %v", cur.dialogs)
			}
		})
	}

	t.Run("a filter change updates the charts", func(t *testing.T) {
		var before, after string
		var loc string
		err := chromedp.Run(ctx,
			chromedp.Navigate(base+"/flow"),
			chromedp.WaitReady("footer", chromedp.ByQuery),
			chromedp.Evaluate(`document.querySelector(".card .big").textContent`, &before),
			// Choosing a type submits the filter form (its onchange).
			chromedp.SetValue(`select[name="type"]`, "Bug", chromedp.ByQuery),
		)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 50 && !strings.Contains(loc, "type=Bug"); i++ {
			time.Sleep(200 * time.Millisecond)
			chromedp.Run(ctx, chromedp.Location(&loc))
		}
		err = chromedp.Run(ctx, chromedp.WaitReady("footer", chromedp.ByQuery),
			chromedp.Evaluate(`document.querySelector(".card .big").textContent`, &after))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(loc, "type=Bug") {
			t.Fatalf("the filter is not kept in the URL: %s", loc)
		}
		if before == after {
			t.Fatalf("lead time stayed %q after filtering to bugs", before)
		}
		var canvases int
		chromedp.Run(ctx, chromedp.Sleep(500*time.Millisecond),
			chromedp.Evaluate(`Array.from(document.querySelectorAll("div.item canvas")).filter(c => c.width > 0).length`, &canvases))
		if canvases < 4 {
			t.Fatalf("%d charts after the filter change", canvases)
		}
	})

	// New data (here: a new build of the read model) is offered to a
	// reader, not forced on them; the link shows the new numbers.
	t.Run("new data is offered, not forced", func(t *testing.T) {
		live := dashboard.New(dashboard.Config{Measures: e.ms, Pinger: e.store, Versioner: e.store, Now: e.ms.Now})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go live.App.Listener(ln)
		defer live.Shutdown(5 * time.Second)
		var drawn, bar, after string
		if err := chromedp.Run(ctx, chromedp.Navigate("http://"+ln.Addr().String()+"/flow"), chromedp.WaitReady("footer", chromedp.ByQuery),
			chromedp.Evaluate(`document.body.dataset.version || ""`, &drawn)); err != nil || drawn == "" {
			t.Fatalf("the page carries no data version (%q, %v)", drawn, err)
		}
		if _, err := e.store.BuildReadModel(context.Background()); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 50 && bar == ""; i++ {
			time.Sleep(200 * time.Millisecond)
			chromedp.Run(ctx, chromedp.Evaluate(`document.dispatchEvent(new Event("visibilitychange")), (document.querySelector(".newdata") || {}).textContent || ""`, &bar))
		}
		if !strings.Contains(bar, "Show the new numbers") {
			t.Fatalf("no offer of the new data: %q", bar)
		}
		if err := chromedp.Run(ctx, chromedp.Click(".newdata a", chromedp.ByQuery), chromedp.Sleep(500*time.Millisecond), chromedp.WaitReady("footer", chromedp.ByQuery),
			chromedp.Evaluate(`document.body.dataset.version + "|" + ((document.querySelector(".newdata") || {}).textContent || "")`, &after)); err != nil {
			t.Fatal(err)
		}
		if v, rest, _ := strings.Cut(after, "|"); v == drawn || rest != "" {
			t.Fatalf("after the link: version %q (was %q), bar %q", v, drawn, rest)
		}
	})

	// A page of one project asks for the version of that project's views
	// (a change reaching only others offers nothing), and carries it.
	t.Run("a page polls the version of its project", func(t *testing.T) {
		live := dashboard.New(dashboard.Config{Measures: e.ms, Pinger: e.store, Versioner: e.store, CacheBytes: 8 << 20, Now: e.ms.Now})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go live.App.Listener(ln)
		defer live.Shutdown(5 * time.Second)
		var polled []string
		var drawn string
		if err := chromedp.Run(ctx, chromedp.Navigate("http://"+ln.Addr().String()+"/flow?project=SHOP"), chromedp.WaitReady("footer", chromedp.ByQuery),
			chromedp.Evaluate(`document.dispatchEvent(new Event("visibilitychange"))`, nil), chromedp.Sleep(500*time.Millisecond),
			chromedp.Evaluate(`performance.getEntriesByType("resource").map(e => e.name).filter(n => n.includes("/api/v1/version"))`, &polled),
			chromedp.Evaluate(`document.body.dataset.version || ""`, &drawn)); err != nil {
			t.Fatal(err)
		}
		if len(polled) == 0 || !strings.HasSuffix(polled[0], "/api/v1/version?project=SHOP") {
			t.Fatalf("the page polled %v", polled)
		}
		_, body, _ := do(t, live.App, "GET", "/api/v1/version?project=SHOP", "", "")
		if drawn == "" || !strings.Contains(body, `"`+drawn+`"`) {
			t.Fatalf("the page carries version %q, SHOP's is %s", drawn, body)
		}
	})

	// A goal's progress is its own: the same on the overview, the value
	// page and the API, whatever the page's filters.
	t.Run("goal progress is the same on every page and filter", func(t *testing.T) {
		_, body, _ := do(t, srv.App, "GET", "/api/v1/goals?product=SHOP", "", "")
		var api struct {
			Goals []struct {
				ID       string   `json:"id"`
				Progress *float64 `json:"progress"`
			} `json:"goals"`
		}
		if err := json.Unmarshal([]byte(body), &api); err != nil || len(api.Goals) == 0 {
			t.Fatalf("the demo's SHOP goals: %v %s", err, body)
		}
		want := map[string]string{}
		for _, g := range api.Goals {
			want[g.ID] = "–"
			if g.Progress != nil {
				want[g.ID] = strconv.FormatFloat(*g.Progress, 'f', -1, 64)
			}
		}
		for _, path := range []string{"/", "/?project=SHOP", "/?project=SHOP&period=quarter", "/?project=SHOP&from=2025-10-01&to=2025-11-01&period=week",
			"/?type=Bug", "/value", "/value?project=SHOP", "/value?project=SHOP&from=2025-06-01&to=2025-09-01", "/value?project=SHOP&category=defect"} {
			var got map[string]string
			err := chromedp.Run(ctx, chromedp.Navigate(base+path), chromedp.WaitReady("footer", chromedp.ByQuery),
				chromedp.Evaluate(`Object.fromEntries(Array.from(document.querySelectorAll("li.goal")).map(li => [li.dataset.goal, li.dataset.progress]))`, &got))
			if err != nil {
				t.Fatal(err)
			}
			for id, p := range want {
				if strings.HasPrefix(path, "/value") && !strings.Contains(path, "SHOP") {
					break // the value page without a product lists the goals of all products
				}
				if got[id] != p {
					t.Errorf("%s: goal %s at progress %q, the API says %q", path, id, got[id], p)
				}
			}
		}
	})

	t.Run("a goal is created and edited through the page form", func(t *testing.T) {
		var loc string
		err := chromedp.Run(ctx,
			chromedp.Navigate(base+"/value?project=SHOP"),
			chromedp.WaitReady("footer", chromedp.ByQuery),
			chromedp.Click(`#new-goal summary`, chromedp.ByQuery),
			chromedp.SetValue(`#new-goal input[name="title"]`, "Customers rate support higher", chromedp.ByQuery),
			chromedp.SetValue(`#new-goal select[name="measure"]`, "csat", chromedp.ByQuery),
			chromedp.SetValue(`#new-goal input[name="baseline"]`, "50", chromedp.ByQuery),
			chromedp.SetValue(`#new-goal input[name="target"]`, "80", chromedp.ByQuery),
			chromedp.SetValue(`#new-goal input[name="target_date"]`, "2026-09-30", chromedp.ByQuery),
			chromedp.Submit(`#new-goal form`, chromedp.ByQuery),
		)
		if err != nil {
			t.Fatal(err)
		}
		waitFor := func(sel string) {
			for i := 0; i < 150; i++ {
				var n int
				chromedp.Run(ctx, chromedp.Location(&loc), chromedp.Evaluate(`document.querySelectorAll(`+strconv.Quote(sel)+`).length`, &n))
				if n > 0 {
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
			var text string
			chromedp.Run(ctx, chromedp.Text("main", &text, chromedp.ByQuery))
			t.Fatalf("%s never appeared at %s: %.400s", sel, loc, text)
		}
		var api struct{ Goals []evident.Goal }
		var body string
		for i := 0; i < 150 && !strings.Contains(body, "Customers rate support higher"); i++ {
			time.Sleep(200 * time.Millisecond)
			_, body, _ = do(t, srv.App, "GET", "/api/v1/goals?product=SHOP", "", "")
		}
		json.Unmarshal([]byte(body), &api)
		var id string
		for _, g := range api.Goals {
			if g.Title == "Customers rate support higher" {
				id = g.ID
				if g.Measure != "csat" || g.Baseline != 50 || g.Target != 80 || g.KVA != evident.KVACurrentValue || g.Product != "SHOP" {
					t.Fatalf("saved from the form: %+v", g)
				}
			}
		}
		if id == "" {
			t.Fatalf("the goal from the form was not saved: %s", body)
		}
		sel := `li.goal[data-goal="` + id + `"]`
		waitFor(sel)
		if !strings.Contains(loc, "/value?project=SHOP") {
			t.Errorf("after saving, the page is %s", loc)
		}
		// Edit: raise the target; the page shows it.
		edit := `details.edit:has(input[name="id"][value="` + id + `"])`
		err = chromedp.Run(ctx,
			chromedp.Click(edit+` summary`, chromedp.ByQuery),
			chromedp.SetValue(edit+` input[name="target"]`, "90", chromedp.ByQuery),
			chromedp.Submit(edit+` form.editform`, chromedp.ByQuery),
			chromedp.Sleep(300*time.Millisecond),
		)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(sel)
		var detail string
		for i := 0; i < 150 && !strings.Contains(detail, "to 90"); i++ {
			chromedp.Run(ctx, chromedp.Evaluate(`(document.querySelector(`+strconv.Quote(sel+" .gdetail")+`) || {}).textContent || ""`, &detail))
			time.Sleep(200 * time.Millisecond)
		}
		if !strings.Contains(detail, "to 90") {
			t.Fatalf("after editing the target, the goal reads %q", detail)
		}
		// A form with a wrong value is refused with the field named.
		err = chromedp.Run(ctx,
			chromedp.Navigate(base+"/value?project=SHOP"), chromedp.WaitReady("footer", chromedp.ByQuery),
			chromedp.Click(edit+` summary`, chromedp.ByQuery),
			chromedp.SetValue(edit+` input[name="target"]`, "50", chromedp.ByQuery),
			chromedp.Submit(edit+` form.editform`, chromedp.ByQuery),
		)
		if err != nil {
			t.Fatal(err)
		}
		var msg string
		for i := 0; i < 100 && !strings.Contains(msg, "target:"); i++ {
			time.Sleep(150 * time.Millisecond)
			chromedp.Run(ctx, chromedp.Evaluate(`(document.querySelector("p.error") || {}).textContent || ""`, &msg))
		}
		if !strings.Contains(msg, "target: equals the baseline") {
			t.Fatalf("refused form says %q", msg)
		}
		if status, _, _ := do(t, srv.App, "DELETE", "/api/v1/goals/"+id, "", ""); status != 204 {
			t.Fatalf("cleanup: %d", status)
		}
	})

	// Sprints follow the product; velocity counts closed sprints only; the
	// retrospective names every carried-over issue.
	t.Run("sprints follow the product, velocity leaves out the active sprint", func(t *testing.T) {
		_, body, _ := do(t, srv.App, "GET", "/api/v1/catalog", "", "")
		var cat struct {
			Projects []struct{ Key string } `json:"projects"`
			Boards   []struct {
				ID      uint64 `json:"id"`
				Type    string `json:"type"`
				Project string `json:"project"`
			} `json:"boards"`
		}
		json.Unmarshal([]byte(body), &cat)
		checkedActive, checkedCarried := false, false
		for _, p := range cat.Projects {
			var options []string
			var notice string
			err := chromedp.Run(ctx, chromedp.Navigate(base+"/sprints?project="+p.Key), chromedp.WaitReady("footer", chromedp.ByQuery),
				chromedp.Evaluate(`Array.from(document.querySelectorAll("select[name=board] option")).map(o => o.value)`, &options),
				chromedp.Evaluate(`(document.querySelector(".notice") || {}).textContent || ""`, &notice))
			if err != nil {
				t.Fatal(err)
			}
			var own []string
			for _, b := range cat.Boards {
				if b.Type == "scrum" && b.Project == p.Key {
					own = append(own, strconv.FormatUint(b.ID, 10))
				}
			}
			if strings.Join(options, ",") != strings.Join(own, ",") {
				t.Errorf("/sprints?project=%s offers boards %v, its scrum boards are %v", p.Key, options, own)
			}
			if len(own) == 0 {
				if !strings.Contains(notice, p.Key+" has no scrum board") {
					t.Errorf("/sprints?project=%s without a scrum board says %q", p.Key, notice)
				}
				continue
			}
			_, body, _ := do(t, srv.App, "GET", "/api/v1/sprints?board="+own[0], "", "")
			var api struct {
				Sprints []struct {
					ID          uint64   `json:"id"`
					Name        string   `json:"name"`
					State       string   `json:"state"`
					Velocity    *float64 `json:"velocity"`
					CarriedOver struct {
						Keys []string `json:"keys"`
					} `json:"carried_over"`
				} `json:"sprints"`
			}
			json.Unmarshal([]byte(body), &api)
			var names []string
			err = chromedp.Run(ctx, chromedp.Evaluate(`echarts.getInstanceByDom(document.getElementById("velocity")).getOption().xAxis[0].data`, &names))
			if err != nil {
				t.Fatal(err)
			}
			shown := map[string]bool{}
			for _, n := range names {
				shown[n] = true
			}
			for _, sp := range api.Sprints {
				if sp.State == "active" {
					checkedActive = true
					if shown[sp.Name] || sp.Velocity != nil {
						t.Errorf("the active sprint %s is in the velocity chart (%v) or has a velocity (%v)", sp.Name, shown[sp.Name], sp.Velocity)
					}
				}
			}
			// The most recent sprint with carried-over issues: each is named.
			for i := len(api.Sprints) - 1; i >= 0; i-- {
				sp := api.Sprints[i]
				if len(sp.CarriedOver.Keys) == 0 {
					continue
				}
				var carried []string
				err := chromedp.Run(ctx, chromedp.Navigate(fmt.Sprintf("%s/sprints/%d", base, sp.ID)), chromedp.WaitReady("footer", chromedp.ByQuery),
					chromedp.Evaluate(`Array.from(document.querySelectorAll("tr[data-key]")).filter(tr => tr.querySelector(".carried")).map(tr => tr.dataset.key)`, &carried))
				if err != nil {
					t.Fatal(err)
				}
				named := map[string]bool{}
				for _, k := range carried {
					named[k] = true
				}
				for _, k := range sp.CarriedOver.Keys {
					if !named[k] {
						t.Errorf("the retrospective of %s does not name carried-over %s (named: %v)", sp.Name, k, carried)
					}
				}
				checkedCarried = true
				break
			}
		}
		if !checkedActive || !checkedCarried {
			t.Errorf("the test data has no active sprint (%v) or no carried-over issue (%v) to check", checkedActive, checkedCarried)
		}
	})

	// Percentile labels never overlap each other: their lines are drawn
	// where echarts puts them, and every labelled pair is at least a label
	// apart (14 px); epics are left out unless asked for, and said so.
	t.Run("percentile labels never overlap", func(t *testing.T) {
		checked := 0
		for _, path := range []string{"/flow", "/flow?project=SHOP", "/flow?type=all", "/flow?from=2025-06-01&to=2025-07-01", "/flow?type=Bug"} {
			var gaps []float64
			var notice string
			err := chromedp.Run(ctx, chromedp.Navigate(base+path), chromedp.WaitReady("footer", chromedp.ByQuery), chromedp.Sleep(300*time.Millisecond),
				chromedp.Evaluate(`(function () {
					var out = [];
					["cycle_scatter", "aging"].forEach(function (id) {
						var el = document.getElementById(id);
						if (!el) { return; }
						var ch = echarts.getInstanceByDom(el);
						ch.getOption().series.forEach(function (s) {
							if (!s.markLine) { return; }
							var ys = s.markLine.data.filter(function (d) { return d.name; }).map(function (d) { return ch.convertToPixel({yAxisIndex: 0}, d.yAxis); });
							ys.sort(function (a, b) { return a - b; });
							for (var i = 1; i < ys.length; i++) { out.push(ys[i] - ys[i - 1]); }
							out.push(1000); // a chart with lines was checked
						});
					});
					return out;
				})()`, &gaps),
				chromedp.Evaluate(`(document.querySelector(".notice") || {}).textContent || ""`, &notice))
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range gaps {
				if g < 14 {
					t.Errorf("%s: two percentile labels are %.1f px apart", path, g)
				}
				if g == 1000 {
					checked++
				}
			}
			if path == "/flow" && !strings.Contains(notice, "left out") {
				t.Errorf("/flow does not say that epics are left out: %q", notice)
			}
			if path == "/flow?type=all" && strings.Contains(notice, "left out") {
				t.Errorf("/flow?type=all still leaves epics out: %q", notice)
			}
		}
		if checked < 5 {
			t.Errorf("only %d charts with percentile lines were checked", checked)
		}
	})
}
