package dashboard_test

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"github.com/evident-ebm/evident/metrics"
)

// The EBM comparison with the period before gives each measure's value of
// that period, as the EBM view of it gives it (the comparison leaves out
// the queries only trends read), and the current period's view unchanged:
// for several filters, windows and bucket sizes, and the change from one
// to the other. In a view of every product each product's imported
// measure is compared with its own value before (before: with the first
// product's).
func TestEBMComparesWithThePeriodBefore(t *testing.T) {
	e := sharedEnv(t)
	ctx := t.Context()
	day := func(y, m, d int) metrics.Filter {
		return metrics.Filter{From: testNow.AddDate(y, m, d)}
	}
	cases := []struct {
		f       metrics.Filter
		product string
		p       metrics.Period
	}{
		{metrics.Filter{Project: "SHOP"}, "SHOP", metrics.Month},
		{metrics.Filter{Project: "APP"}, "APP", metrics.Quarter},
		{metrics.Filter{}, "", metrics.Week},
		{metrics.Filter{Project: "SHOP", WorkCategory: "defect"}, "SHOP", metrics.Month},
		{metrics.Filter{Project: "OPS", Types: []string{"Bug", "Story"}}, "OPS", metrics.Month},
	}
	windows := []metrics.Filter{day(0, -3, 1), day(0, -1, 0), day(-1, 0, 1), day(0, 0, -45)}
	measured := 0
	for _, c := range cases {
		for _, w := range windows {
			f := c.f
			f.From, f.To = w.From, testNow.AddDate(0, 0, 1)
			name := fmt.Sprintf("project %q product %q category %q types %v, by %s from %s", c.f.Project, c.product, c.f.WorkCategory, c.f.Types, c.p, f.From.Format("2006-01-02"))
			cmp, err := e.ms.EBMCompared(ctx, f, c.product, c.p)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			cur, err := e.ms.EBM(ctx, f, c.product, c.p)
			if err != nil {
				t.Fatal(err)
			}
			prevF := f
			prevF.From, prevF.To = f.From.Add(-f.To.Sub(f.From)), f.From
			prev, err := e.ms.EBM(ctx, prevF, c.product, c.p)
			if err != nil {
				t.Fatal(err)
			}
			if cmp.PreviousFrom != prev.From || cmp.PreviousTo != prev.To {
				t.Fatalf("%s: previous period %s to %s, want %s to %s", name, cmp.PreviousFrom, cmp.PreviousTo, prev.From, prev.To)
			}
			seen := map[string]bool{}
			for _, k := range cmp.KVAs {
				for _, m := range k.Measures {
					if seen[m.Key+"/"+m.Product] {
						t.Fatalf("%s: two measures %s of product %q: which is which?", name, m.Key, m.Product)
					}
					seen[m.Key+"/"+m.Product] = true
					now, _ := measureOf(cur, m.Key, m.Product)
					before, ok := measureOf(prev, m.Key, m.Product)
					want := now
					if ok {
						want.Previous = before.Value
						if before.Value != nil {
							measured++
						}
					}
					if got := m; !sameMeasure(got, want) {
						g, _ := json.Marshal(got)
						w, _ := json.Marshal(want)
						t.Fatalf("%s, %s:\ncompared %s\nwant     %s", name, m.Key, g, w)
					}
					if ok && before.Value != nil && m.Value != nil && (m.Change == nil || *m.Change != round2(*m.Value-*before.Value)) {
						t.Fatalf("%s, %s: change %v from %v to %v", name, m.Key, m.Change, *before.Value, *m.Value)
					}
				}
			}
		}
	}
	if measured < 100 {
		t.Fatalf("only %d measures had a value in the period before: the comparison was hardly checked", measured)
	}
	t.Logf("%d measures compared with their value in the period before", measured)
}

// sameMeasure compares a compared measure with the current one given the
// value before (the change fields follow from the two, checked apart).
func sameMeasure(got, want metrics.Measure) bool {
	got.Change, got.ChangePct, got.Improved = nil, nil, nil
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	return string(g) == string(w)
}

// round2 is the change's rounding (metrics: four decimals).
func round2(v float64) float64 { return math.Round(v*10000) / 10000 }

// measureOf finds a measure of a view by key and product (the product of
// an imported measure in a view of every product).
func measureOf(e metrics.EBM, key, product string) (metrics.Measure, bool) {
	for _, k := range e.KVAs {
		for _, m := range k.Measures {
			if m.Key == key && m.Product == product {
				return m, true
			}
		}
	}
	return metrics.Measure{}, false
}

// The EBM view's lead and cycle time (85th percentile) equal the flow
// view's for the same issues, and each period of their trend equals the
// EBM view of that period alone: the whole period, the trend and the
// flow come from different queries.
func TestEBMLeadTimesAgreeWithTheFlowAndTheirPeriods(t *testing.T) {
	e := sharedEnv(t)
	ctx := t.Context()
	checked := 0
	for _, c := range []struct {
		f metrics.Filter
		p metrics.Period
	}{
		{metrics.Filter{Project: "SHOP", From: testNow.AddDate(0, -5, 3)}, metrics.Month},
		{metrics.Filter{From: testNow.AddDate(0, -2, 0)}, metrics.Week},
		{metrics.Filter{Project: "APP", WorkCategory: "defect", From: testNow.AddDate(-1, 0, 0)}, metrics.Quarter},
	} {
		f := c.f
		f.To = testNow.AddDate(0, 0, 1)
		name := fmt.Sprintf("project %q category %q from %s by %s", f.Project, f.WorkCategory, f.From.Format("2006-01-02"), c.p)
		v, err := e.ms.EBM(ctx, f, f.Project, c.p)
		if err != nil {
			t.Fatal(err)
		}
		flow, err := e.ms.Flow(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		lead, _ := v.Measure("lead_time_p85_days")
		cycle, _ := v.Measure("cycle_time_p85_days")
		if !sameValue(lead.Value, flow.LeadTime.P85) || lead.N != flow.LeadTime.N || !sameValue(cycle.Value, flow.CycleTime.P85) || cycle.N != flow.CycleTime.N {
			t.Fatalf("%s: EBM lead %v (n=%d), cycle %v (n=%d); flow lead %v (n=%d), cycle %v (n=%d)", name, lead.Value, lead.N, cycle.Value, cycle.N,
				flow.LeadTime.P85, flow.LeadTime.N, flow.CycleTime.P85, flow.CycleTime.N)
		}
		buckets := c.p.Buckets(f.From, f.To)
		for i, b := range buckets {
			one := f
			one.From, one.To = b, f.To
			if b.Before(f.From) {
				one.From = f.From
			}
			if i+1 < len(buckets) {
				one.To = buckets[i+1]
			}
			alone, err := e.ms.EBM(ctx, one, f.Project, c.p)
			if err != nil {
				t.Fatal(err)
			}
			l, _ := alone.Measure("lead_time_p85_days")
			cy, _ := alone.Measure("cycle_time_p85_days")
			lt, ct := lead.Trend[i], cycle.Trend[i]
			if !sameValue(lt.Value, l.Value) || lt.N != l.N || !sameValue(ct.Value, cy.Value) || ct.N != cy.N {
				t.Fatalf("%s, the period of %s: trend lead %v (n=%d), cycle %v (n=%d); alone lead %v (n=%d), cycle %v (n=%d)", name, lt.Period,
					lt.Value, lt.N, ct.Value, ct.N, l.Value, l.N, cy.Value, cy.N)
			}
			if lt.N > 0 {
				checked++
			}
		}
	}
	if checked < 15 {
		t.Fatalf("only %d periods with done issues: the trend was hardly checked", checked)
	}
	t.Logf("%d periods with done issues checked", checked)
}

func sameValue(a, b *float64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
