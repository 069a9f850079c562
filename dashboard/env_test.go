package dashboard_test

import (
	"context"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/collector"
	"github.com/evident-ebm/evident/dashboard"
	"github.com/evident-ebm/evident/inputs"
	"github.com/evident-ebm/evident/internal/chtest"
	"github.com/evident-ebm/evident/internal/demo"
	"github.com/evident-ebm/evident/internal/jirasim"
	"github.com/evident-ebm/evident/metrics"
	"github.com/evident-ebm/evident/schema"
)

// testNow is the clock of the shared environment: the simulator's now.
var testNow = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// env is a real ClickHouse filled by a real sync from the simulator, plus
// imported surveys, value records, goals and an experiment.
type env struct {
	store *schema.Store
	ms    *metrics.Service
	in    *inputs.Service
	sim   *jirasim.Sim
}

var (
	sharedOnce sync.Once
	shared     *env
	sharedErr  error
)

func TestMain(m *testing.M) { chtest.Main(m) }

// openDB opens a fresh database on the test server that lives until the
// test binary ends (shared by many tests).
func openDB(t *testing.T, name string) *schema.Store {
	t.Helper()
	base := chtest.Require(t)
	u, _ := url.Parse(base)
	u.Path = "/" + name + "_" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
	ctx := context.Background()
	st, err := schema.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Migrate(ctx, ""); err != nil {
		t.Fatal(err)
	}
	return st
}

func sharedEnv(t *testing.T) *env {
	t.Helper()
	chtest.Require(t)
	sharedOnce.Do(func() {
		st := openDB(t, "dashboard_shared")
		sim, err := jirasim.New(jirasim.Options{Config: jirasim.Config{Seed: 3, Issues: 1500, Cloud: true, Now: testNow}, Email: "t@example.com", APIToken: "tok"})
		if err != nil {
			sharedErr = err
			return
		}
		ts := httptest.NewServer(sim.Handler())
		sim.SetBaseURL(ts.URL)
		defer ts.Close()
		s := collector.NewSyncer(st, nil)
		ctx := context.Background()
		if _, err := s.Sync(ctx, collector.SiteConfig{Name: "sim", URL: ts.URL, Email: "t@example.com", APIToken: "tok",
			Projects: []string{"SHOP", "APP", "OPS"}, RequestsPerSecond: 5000, Burst: 100}, collector.Full); err != nil {
			sharedErr = err
			return
		}
		in := inputs.New(st, "salt")
		in.Now = func() time.Time { return testNow }
		products := []demo.Product{{Key: "SHOP", Name: "Webshop"}, {Key: "APP", Name: "Mobile App"}}
		from := testNow.AddDate(-1, 0, 0)
		if _, err := in.ImportSatisfaction(ctx, strings.NewReader(demo.SatisfactionCSV(3, products, from, testNow)), "csv", "test"); err != nil {
			sharedErr = err
			return
		}
		if _, err := in.ImportValue(ctx, strings.NewReader(demo.ValueCSV(3, products, from, testNow)), "csv", "test"); err != nil {
			sharedErr = err
			return
		}
		goals, exp := demo.Goals(products[0], testNow)
		parent := ""
		for _, g := range goals {
			g.ParentID = parent
			saved, err := in.SaveGoal(ctx, g)
			if err != nil {
				sharedErr = err
				return
			}
			parent = saved.ID
		}
		if _, err := in.SaveExperiment(ctx, exp); err != nil {
			sharedErr = err
			return
		}
		ms := metrics.New(st)
		ms.Now = func() time.Time { return testNow }
		shared = &env{store: st, ms: ms, in: in, sim: sim}
	})
	if sharedErr != nil {
		t.Fatalf("shared environment: %v", sharedErr)
	}
	return shared
}

func (e *env) server(viewer, admin []string) *dashboard.Server {
	return dashboard.New(dashboard.Config{Measures: e.ms, Pinger: e.store, Inputs: e.in, Now: e.ms.Now,
		ViewerTokens: viewer, AdminTokens: admin, JiraURL: "https://jira.example.com"})
}

// issueWith is the first done issue of the flow pages (no epic or
// initiative) whose summary contains s.
func (e *env) issueWith(t *testing.T, s string) *jirasim.Issue {
	for i := 0; i < e.sim.Generator().Len(); i++ {
		if is := e.sim.Issue(i); is != nil && strings.Contains(is.Summary, s) && !is.Resolution.IsZero() && !slices.Contains(evident.EpicTypes, is.Type) {
			return is
		}
	}
	t.Fatalf("no simulated issue with %q in its summary", s)
	return nil
}

var _ = evident.EINVALID

func (e *env) inputsFor(st *schema.Store) *inputs.Service { return inputs.New(st, "salt") }
