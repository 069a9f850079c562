package dashboard_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/evident-ebm/evident/collector"
	"github.com/evident-ebm/evident/internal/jirasim"
	"github.com/evident-ebm/evident/metrics"
)

// A team whose throughput drops at a known date: the weekly throughput's
// process behaviour chart marks the signal from within a week of the date
// (looking back), a reader drawing it week by week knows within five
// weeks, and the unshifted teams' charts over the same two years raise no
// more than a few false alarms (logged; BENCHMARKS.md records them).
func TestAThroughputShiftIsASignal(t *testing.T) {
	st := openDB(t, "dashboard_shift")
	shiftAt := testNow.AddDate(0, 0, -7*30) // a Monday, 30 weeks before now
	sim, err := jirasim.New(jirasim.Options{Config: jirasim.Config{Seed: 11, Issues: 6000, Cloud: true, Now: testNow,
		Shift: jirasim.Shift{Project: "OPS", At: shiftAt, Stuck: 0.9}}, Email: "t@example.com", APIToken: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim.Handler())
	defer ts.Close()
	sim.SetBaseURL(ts.URL)
	ctx := context.Background()
	if _, err := collector.NewSyncer(st, nil).Sync(ctx, collector.SiteConfig{Name: "sim", URL: ts.URL, Email: "t@example.com", APIToken: "tok",
		Projects: []string{"SHOP", "APP", "OPS"}, RequestsPerSecond: 5000, Burst: 100}, collector.Full); err != nil {
		t.Fatal(err)
	}
	ms := &metrics.Service{DB: st, Now: func() time.Time { return testNow }}
	// Two years less the first twelve weeks, while the simulated history
	// fills up.
	from := testNow.AddDate(-2, 0, 7*12)
	for _, p := range []string{"OPS", "SHOP", "APP"} {
		series, err := ms.Signals(ctx, metrics.Filter{Project: p, From: from, To: testNow}, p, metrics.Month, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		x := series[0].Chart
		var flagged []string
		for _, pt := range x.Points {
			if len(pt.Rules) > 0 {
				flagged = append(flagged, pt.Period)
			}
		}
		seg := x.Segments[0]
		t.Logf("%s: %d weeks, centre %.1f, limits %.1f to %.1f, flagged %v", p, len(x.Points), seg.Centre, seg.Lower, seg.Upper, flagged)
		// When would a reader have known? The first week whose chart, drawn
		// with the data up to it, flags its own last point.
		known := ""
		for n := metrics.XmRMinPoints; n <= len(x.Points); n++ {
			var ps []string
			var vs []*float64
			for _, pt := range x.Points[:n] {
				ps, vs = append(ps, pt.Period), append(vs, pt.Value)
			}
			if metrics.XmRChart(ps, vs, nil).Signal {
				known = ps[n-1]
				break
			}
		}
		t.Logf("%s: first known as a signal in the week of %q", p, known)
		if p == "OPS" {
			// The drop shows gradually (work in flight still finishes):
			// measured 4 weeks on this seed.
			if known == "" || known < shiftAt.Format("2006-01-02") || known > shiftAt.AddDate(0, 0, 7*5).Format("2006-01-02") {
				t.Errorf("the drop at %s was first known in the week of %q", shiftAt.Format("2006-01-02"), known)
			}
			first := ""
			for _, w := range flagged {
				if w >= shiftAt.AddDate(0, 0, -7).Format("2006-01-02") {
					first = w
					break
				}
			}
			if first == "" || first > shiftAt.AddDate(0, 0, 7).Format("2006-01-02") || !x.Signal || x.Direction != "down" {
				t.Errorf("the drop at %s: first flagged week %q, signal now %v %s", shiftAt.Format("2006-01-02"), first, x.Signal, x.Direction)
			}
			continue
		}
		if len(flagged) > 3 {
			t.Errorf("%s has no shift but %d flagged weeks: %v", p, len(flagged), flagged)
		}
	}
}
