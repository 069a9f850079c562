package metrics

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func series(vs ...float64) ([]string, []*float64) {
	ps := make([]string, len(vs))
	out := make([]*float64, len(vs))
	for i := range vs {
		ps[i] = fmt.Sprintf("p%02d", i)
		v := vs[i]
		out[i] = &v
	}
	return ps, out
}

// rulesAt lists, for each point, the rules that flag it (nil for none).
func rulesAt(x XmR) map[int][]int {
	out := map[int][]int{}
	for i, p := range x.Points {
		if len(p.Rules) > 0 {
			out[i] = p.Rules
		}
	}
	return out
}

// Each rule on a series worked out by hand.
func TestXmRRulesOnHandMadeSeries(t *testing.T) {
	// Rule 1. Mean 97/12 = 8.0833; moving ranges 2×9 + 23×2 = 64 over 11,
	// mR̄ 5.8182; limits 8.0833 ± 15.4764 = [−7.3930, 23.5597]: 30 is out.
	// No run of 8 (30 breaks it), nothing else beyond 2/3 of a limit.
	ps, vs := series(5, 7, 5, 7, 5, 7, 30, 7, 5, 7, 5, 7)
	x := XmRChart(ps, vs, nil)
	seg := x.Segments[0]
	if seg.Centre != 8.0833 || seg.MovingRange != 5.8182 || seg.Upper != 23.5597 || seg.Lower != -7.393 || seg.RangeLimit != 19.0138 {
		t.Fatalf("rule 1 limits %+v", seg)
	}
	if got := rulesAt(x); !reflect.DeepEqual(got, map[int][]int{6: {1}}) || x.Signal || !x.Enough {
		t.Fatalf("rule 1: %v signal %v", got, x.Signal)
	}

	// Rule 2. Mean 170/14 = 12.1429 (12 is below it); mR̄ 11/13 = 0.8462;
	// limits [9.8921, 14.3937]. The eight 13s (6–13) are above the centre.
	ps, vs = series(10, 12, 10, 12, 10, 12, 13, 13, 13, 13, 13, 13, 13, 13)
	x = XmRChart(ps, vs, nil)
	want := map[int][]int{}
	for i := 6; i <= 13; i++ {
		want[i] = []int{2}
	}
	if got := rulesAt(x); !reflect.DeepEqual(got, want) || !x.Signal || x.Direction != "up" {
		t.Fatalf("rule 2: %v signal %v %s; limits %+v", got, x.Signal, x.Direction, x.Segments)
	}

	// Rule 3. Twenty points alternating 8 and 12 (the baseline: mean 10,
	// mR̄ 4, limits [−0.64, 20.64], two thirds of the way up 17.0933), then
	// 19, 19, 10, 19: three of four beyond it, none beyond the limit; 10
	// is on the centre line, so no run either.
	vals := []float64{}
	for i := 0; i < 20; i++ {
		vals = append(vals, []float64{8, 12}[i%2])
	}
	ps, vs = series(append(vals, 19, 19, 10, 19)...)
	x = XmRChart(ps, vs, nil)
	if seg := x.Segments[0]; seg.Centre != 10 || seg.MovingRange != 4 || seg.Upper != 20.64 || seg.N != 20 {
		t.Fatalf("rule 3 baseline %+v", seg)
	}
	if got := rulesAt(x); !reflect.DeepEqual(got, map[int][]int{20: {3}, 21: {3}, 23: {3}}) || !x.Signal || x.Direction != "up" {
		t.Fatalf("rule 3: %v signal %v; limits %+v", got, x.Signal, x.Segments)
	}
}

// An annotated change splits the limits: the same series is a signal
// against one set of limits and noise against its own after the change.
func TestXmRSplitAtAnAnnotation(t *testing.T) {
	ps, vs := series(10, 12, 10, 12, 10, 12, 10, 12, 20, 22, 20, 22, 20, 22, 20, 22)
	whole := XmRChart(ps, vs, nil)
	if !whole.Signal || len(whole.Segments) != 1 || whole.Segments[0].Centre != 16 {
		t.Fatalf("unsplit: signal %v, %+v", whole.Signal, whole.Segments)
	}
	split := XmRChart(ps, vs, []int{8})
	if split.Signal || len(split.Segments) != 2 || len(rulesAt(split)) != 0 {
		t.Fatalf("split: signal %v, rules %v, %+v", split.Signal, rulesAt(split), split.Segments)
	}
	a, b := split.Segments[0], split.Segments[1]
	if a.Centre != 11 || a.MovingRange != 2 || a.Upper != 16.32 || a.Lower != 5.68 || a.From != "p00" ||
		b.Centre != 21 || b.Upper != 26.32 || b.Lower != 15.68 || b.From != "p08" || b.N != 8 {
		t.Fatalf("split limits %+v %+v", a, b)
	}
}

// Fewer than six points give no limits and no verdict; gaps are skipped.
func TestXmRNeedsSixPointsAndSkipsGaps(t *testing.T) {
	ps, vs := series(1, 2, 3, 4, 5)
	if x := XmRChart(ps, vs, nil); x.Enough || x.Signal || len(x.Segments) != 0 {
		t.Fatalf("five points: %+v", x)
	}
	ps, vs = series(5, 7, 5, 7, 5, 7, 30, 7, 5, 7, 5, 7)
	vs = append(vs[:3], append([]*float64{nil}, vs[3:]...)...)
	ps = append(ps, "p12")
	x := XmRChart(ps, vs, nil)
	if got := rulesAt(x); !reflect.DeepEqual(got, map[int][]int{7: {1}}) || x.Segments[0].N != 12 || x.Segments[0].Centre != 8.0833 {
		t.Fatalf("with a gap: %v %+v", got, x.Segments)
	}
}

// A shift late in a long series is judged against the limits of the first
// 20 values (mean 11, mR̄ 2, lower limit 5.68): the first shifted value
// is already a signal.
func TestXmRBaselineCatchesALateShiftAtOnce(t *testing.T) {
	vals := []float64{}
	for i := 0; i < 30; i++ {
		vals = append(vals, []float64{10, 12}[i%2])
	}
	ps, vs := series(append(vals, 4, 5, 4, 5)...)
	x := XmRChart(ps, vs, nil)
	if seg := x.Segments[0]; seg.Centre != 11 || seg.Lower != 5.68 || seg.N != 20 {
		t.Fatalf("baseline %+v", seg)
	}
	if got := rulesAt(x); len(got[30]) == 0 || got[30][0] != 1 || len(got) != 4 || !x.Signal || x.Direction != "down" {
		t.Fatalf("late shift: %v", got)
	}
}

// An item's 85% expected finish comes from the finished items that lasted
// at least as long as it has: of cycle times 1…10 days, an item 6.5 days
// old is judged by 7, 8, 9, 10 (four: too few), one 5.5 days old by 6…10
// (the 85th percentile by nearest rank: rank ceil(4.25) = 5, so 10 days
// from its start), one a day old by 1…10 (rank ceil(8.5) = 9: 9 days).
func TestExpectFinishFromTheLongerCycles(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	items := []AgingItem{{Key: "A", StartedAt: start, AgeDays: 6.5}, {Key: "B", StartedAt: start, AgeDays: 5.5}, {Key: "C", StartedAt: start, AgeDays: 1}}
	ExpectFinish(items, []float64{10, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	got := []string{"nil", "nil", "nil"}
	for i, it := range items {
		if it.ExpectedFinishP85 != nil {
			got[i] = *it.ExpectedFinishP85
		}
	}
	if want := []string{"nil", "2026-01-11", "2026-01-10"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("expected finishes %v, want %v", got, want)
	}
	// At risk: due before its 85% finish (B due Jan 10 < Jan 11); C due
	// Jan 10 finishes by then. A (6.5 days old on Jan 7, older than almost
	// everything) is at risk once due on Jan 5, not when due on Jan 10.
	due, past := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	items[0].Due, items[1].Due, items[2].Due = &due, &due, &due
	ExpectFinish(items, []float64{10, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	if items[0].AtRisk || !items[1].AtRisk || items[2].AtRisk {
		t.Fatalf("at risk: %v %v %v", items[0].AtRisk, items[1].AtRisk, items[2].AtRisk)
	}
	items[0].Due = &past
	ExpectFinish(items, []float64{10, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	if !items[0].AtRisk {
		t.Fatal("an item older than almost everything, past its due date, is at risk")
	}
}

// A change judged against the limits from before it: 20 weeks around 10
// (moving range 2: limits 10 ± 5.32), then 8 weeks at 12 (inside the limits,
// but 8 in a row above the centre: rule 2) is a signal up; 8 weeks
// alternating 9 and 11 is noise; 3 weeks of 4 are each outside the lower
// limit (rule 1); fewer than XmRMinPoints weeks before gives no verdict.
func TestShiftAgainstTheLimitsFromBefore(t *testing.T) {
	series := func(after ...float64) ([]string, []*float64) {
		var ps []string
		var vs []*float64
		for i := range 20 {
			ps, vs = append(ps, fmt.Sprintf("b%02d", i)), append(vs, ptr(float64(9+2*(i%2))))
		}
		for i, v := range after {
			ps, vs = append(ps, fmt.Sprintf("a%02d", i)), append(vs, ptr(v))
		}
		return ps, vs
	}
	ps, vs := series(12, 12, 12, 12, 12, 12, 12, 12)
	s := ShiftAt(ps, vs, 20)
	if s.Baseline == nil || s.Baseline.Centre != 10 || s.Baseline.MovingRange != 2 || s.Baseline.Upper != 15.32 || s.Signals != 8 || s.Direction != "up" || *s.AfterMean != 12 || s.AfterN != 8 {
		t.Fatalf("eight weeks at 12: %+v baseline %+v", s, s.Baseline)
	}
	for _, p := range s.Points[:20] {
		if len(p.Rules) > 0 {
			t.Fatalf("a week before the change flagged: %+v", p)
		}
	}
	ps, vs = series(9, 11, 9, 11, 9, 11, 9, 11)
	if s := ShiftAt(ps, vs, 20); s.Signals != 0 || s.Direction != "" || *s.AfterMean != 10 {
		t.Fatalf("noise: %+v", s)
	}
	ps, vs = series(4, 4, 4)
	if s := ShiftAt(ps, vs, 20); s.Signals != 3 || s.Direction != "down" {
		t.Fatalf("three weeks of 4: %+v", s)
	}
	if s := ShiftAt(ps[15:], vs[15:], 5); s.Baseline != nil || s.Signals != 0 || s.AfterN != 3 {
		t.Fatalf("five weeks before: %+v", s)
	}
}

// An experiment is confirmed only by a signal in the expected direction.
func TestExperimentVerdicts(t *testing.T) {
	base := &XmRSegment{Centre: 10, Lower: 5, Upper: 15}
	for _, c := range []struct {
		expected, change float64
		w                Shift
		want             string
	}{
		{2, 3, Shift{}, "too few weeks"},
		{2, 3, Shift{Baseline: base}, "no whole week since the start"},
		{2, 3, Shift{Baseline: base, AfterN: 4}, "within the noise"},
		{2, 3, Shift{Baseline: base, AfterN: 8, Signals: 8, Direction: "up"}, "confirmed: a signal in the expected direction, as large"},
		{2, 1, Shift{Baseline: base, AfterN: 8, Signals: 8, Direction: "up"}, "partly"},
		{-2, 1, Shift{Baseline: base, AfterN: 8, Signals: 8, Direction: "up"}, "not confirmed: a signal against"},
		{0, 1, Shift{Baseline: base, AfterN: 8, Signals: 8, Direction: "up"}, "a signal up since the start"},
	} {
		if got := experimentVerdict(c.expected, c.change, c.w); !strings.Contains(got, c.want) {
			t.Errorf("expected %v, change %v, %+v: %q, want %q", c.expected, c.change, c.w, got, c.want)
		}
	}
}
