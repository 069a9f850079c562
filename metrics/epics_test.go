package metrics

import (
	"reflect"
	"testing"
)

// A tiny throughput history whose finishing days are known exactly: each
// day finishes 0, 1 or 2 items with equal chance. Three items are done by
// day index k (0 = the first day) with probability P(S(k+1) ≥ 3), S(n) the
// sum of n days: 0, 3/9 = .333, 17/27 = .630, 66/81 = .815, 222/243 = .914,
// 701/729 = .962 for k = 0…5, so the 50th percentile is day 2, the 85th
// day 4, the 95th day 5 (each at least 1.2 points from its bound). One item
// first: 2/3 = .667 by day 0, 8/9 = .889 by day 1, 26/27 = .963 by day 2.
// Two epics in rank order, 1 item then 2: the second is done when 3 are.
func TestEpicsInSequenceAgainstTheExactDistribution(t *testing.T) {
	got := EpicFinish([]int{0, 1, 2}, []int{3}, 1, 1)
	if want := []map[string]int{{"p50": 2, "p85": 4, "p95": 5}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("three items: %v, want %v", got, want)
	}
	got = EpicFinish([]int{0, 1, 2}, []int{1, 2}, 1, 7)
	want := []map[string]int{{"p50": 0, "p85": 1, "p95": 2}, {"p50": 2, "p85": 4, "p95": 5}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("two epics in sequence: %v, want %v", got, want)
	}
	// An epic with nothing left is done as soon as those above it are; a
	// history without throughput never finishes anything left.
	got = EpicFinish([]int{2}, []int{3, 0, 4, 1}, 1, 1)
	want = []map[string]int{{"p50": 1, "p85": 1, "p95": 1}, {"p50": 1, "p85": 1, "p95": 1}, {"p50": 3, "p85": 3, "p95": 3}, {"p50": 3, "p85": 3, "p95": 3}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("steady two a day: %v, want %v", got, want)
	}
	got = EpicFinish([]int{0, 0}, []int{0, 2}, 1, 1)
	want = []map[string]int{{"p50": 0, "p85": 0, "p95": 0}, {"p50": -1, "p85": -1, "p95": -1}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("no throughput: %v, want %v", got, want)
	}
}

// The chance of meeting a due date is the share of trials done by it:
// three items at 0, 1 or 2 a day are done by day 2 with probability
// 17/27 = .630 and by day 4 with 222/243 = .914 (exact, see above).
func TestChanceByADueDate(t *testing.T) {
	trials := sequentialTrials([]int{0, 1, 2}, []int{3}, 3)[0]
	for _, c := range []struct {
		day  int
		want float64
	}{{0, 0}, {1, 3.0 / 9}, {2, 17.0 / 27}, {4, 222.0 / 243}} {
		if got := ChanceBy(trials, c.day); got < c.want-0.015 || got > c.want+0.015 {
			t.Errorf("by day %d: %.4f, exact %.4f", c.day, got, c.want)
		}
	}
	if got := ChanceBy(sequentialTrials([]int{2}, []int{3}, 1)[0], 1); got != 1 {
		t.Errorf("steady: %v", got)
	}
}

// Epics in parallel: each day's items go to the epics in progress in turn.
// At one item a day, epics of 2 and 2 items with a WIP of 2 take items
// A, B, A, B: done on days 2 and 3 (in sequence: 1 and 3); with 2, 2 and 1
// and a WIP of 3 the items go A, B, C (done day 2), A (done day 3), B
// (done day 4).
func TestEpicsInParallel(t *testing.T) {
	got := EpicFinish([]int{1}, []int{2, 2}, 2, 1)
	want := []map[string]int{{"p50": 2, "p85": 2, "p95": 2}, {"p50": 3, "p85": 3, "p95": 3}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("two at a time: %v, want %v", got, want)
	}
	got = EpicFinish([]int{1}, []int{2, 2, 1}, 3, 1)
	want = []map[string]int{{"p50": 3, "p85": 3, "p95": 3}, {"p50": 4, "p85": 4, "p95": 4}, {"p50": 2, "p85": 2, "p95": 2}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("three at a time: %v, want %v", got, want)
	}
	// 0, 1 or 2 items a day, epics of 2 and 1 with a WIP of 2: the second
	// is done with the second item, P(S(k+1) ≥ 2) = 1/3, 6/9, 23/27,
	// 76/81 by day k = 0…3; the first with the third, P(S(k+1) ≥ 3) = 0,
	// 3/9, 17/27, 66/81 (exact, by enumeration).
	trials := epicTrials([]int{0, 1, 2}, []int{2, 1}, 2, 5)
	for i, exact := range [][]float64{{0, 3.0 / 9, 17.0 / 27, 66.0 / 81}, {1.0 / 3, 6.0 / 9, 23.0 / 27, 76.0 / 81}} {
		for day, want := range exact {
			if got := ChanceBy(trials[i], day); got < want-0.015 || got > want+0.015 {
				t.Errorf("epic %d by day %d: %.4f, exact %.4f", i+1, day, got, want)
			}
		}
	}
}

// An initiative is done when the last of its epics is, in each trial: with
// epics of 2, 2 and 1 items three at a time at one item a day (done on days
// 3, 4 and 2), an initiative over the first and third is done on day 3,
// one over all three on day 4. At 0, 1 or 2 a day, epics of 1 and 1 item
// one after the other and an initiative over both: it is done with the
// second item, P(S(k+1) ≥ 2) = 1/3, 6/9, 23/27 by day k = 0…2 (exact),
// while the first epic alone is done by day 0 with 2/3.
func TestInitiativesAreDoneWithTheirLastEpic(t *testing.T) {
	runs := epicRuns([]int{1}, []int{2, 2, 1}, 3, 1)
	if got := latest(runs, []int{0, 2}); got[0] != 3 || got[len(got)-1] != 3 {
		t.Errorf("first and third: %d…%d, want day 3", got[0], got[len(got)-1])
	}
	if got := latest(runs, []int{0, 1, 2}); got[0] != 4 || got[len(got)-1] != 4 {
		t.Errorf("all three: %d…%d, want day 4", got[0], got[len(got)-1])
	}
	runs = epicRuns([]int{0, 1, 2}, []int{1, 1}, 1, 9)
	both := latest(runs, []int{0, 1})
	for day, want := range []float64{1.0 / 3, 6.0 / 9, 23.0 / 27} {
		if got := ChanceBy(both, day); got < want-0.015 || got > want+0.015 {
			t.Errorf("initiative by day %d: %.4f, exact %.4f", day, got, want)
		}
	}
	if got := ChanceBy(sortedRuns(runs)[0], 0); got < 2.0/3-0.015 || got > 2.0/3+0.015 {
		t.Errorf("first epic by day 0: %.4f, exact %.4f", got, 2.0/3)
	}
}
