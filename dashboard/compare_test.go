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
