package metrics_test

import (
	"context"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/evident-ebm/evident/internal/chtest"
	"github.com/evident-ebm/evident/metrics"
)

func TestMain(m *testing.M) { chtest.Main(m) }

func TestNearestRank(t *testing.T) {
	for _, c := range []struct {
		vals []float64
		p    int
		want float64
	}{
		{[]float64{7}, 50, 7}, {[]float64{7}, 95, 7},
		{[]float64{1, 2}, 50, 1}, {[]float64{1, 2}, 70, 2},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 70, 7}, {[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 85, 9},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 50, 5}, {[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 95, 10},
	} {
		if got := metrics.NearestRank(c.vals, c.p); got != c.want {
			t.Errorf("p%d of %v = %v, want %v", c.p, c.vals, got, c.want)
		}
	}
}

// The quantile levels given to ClickHouse pick exactly the nearest-rank
// element for every n from 1 to 300.
func TestClickHouseQuantilesAreNearestRank(t *testing.T) {
	st := chtest.Store(t)
	r := rand.New(rand.NewPCG(1, 2))
	for n := 1; n <= 300; n++ {
		vals := make([]int64, n)
		for i := range vals {
			vals[i] = int64(r.IntN(1000))
		}
		var qs []int64
		if err := st.QueryRow(context.Background(), "SELECT quantilesExact(0.49999999999, 0.69999999999, 0.84999999999, 0.94999999999)(x) FROM (SELECT arrayJoin(?) AS x)", []any{vals}, &qs); err != nil {
			t.Fatal(err)
		}
		sorted := make([]float64, n)
		for i, v := range vals {
			sorted[i] = float64(v)
		}
		sort.Float64s(sorted)
		for i, p := range []int{50, 70, 85, 95} {
			if want := metrics.NearestRank(sorted, p); float64(qs[i]) != want {
				t.Fatalf("n=%d p%d: ClickHouse %d, nearest rank %v", n, p, qs[i], want)
			}
		}
	}
}

func TestMonteCarlo(t *testing.T) {
	start := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	daily := []int{2, 2, 2, 2, 2}
	// Constant throughput: 2 a day. By March 11 (10 days): exactly 20 in every trial.
	fc := metrics.MonteCarlo(daily, start, metrics.ForecastRequest{Until: start.AddDate(0, 0, 10)}, 1)
	if fc.HowMany["p50"] != 20 || fc.HowMany["p85"] != 20 || fc.HowMany["p95"] != 20 || fc.Trials != 10000 {
		t.Fatalf("how many: %+v", fc.HowMany)
	}
	// 7 items at 2 a day take 4 days: done on the 4th day, March 4.
	fc = metrics.MonteCarlo(daily, start, metrics.ForecastRequest{Items: 7}, 1)
	if fc.When["p50"] != "2024-03-04" || fc.When["p95"] != "2024-03-04" {
		t.Fatalf("when: %+v", fc.When)
	}
	// Half the days 0, half 4: the 85% "how many in 10 days" is below the median.
	fc = metrics.MonteCarlo([]int{0, 4}, start, metrics.ForecastRequest{Until: start.AddDate(0, 0, 10)}, 7)
	if !(fc.HowMany["p85"] < fc.HowMany["p50"] && fc.HowMany["p95"] <= fc.HowMany["p85"]) {
		t.Fatalf("85%% must be a more cautious count than 50%%: %+v", fc.HowMany)
	}
	// Same seed, same forecast.
	a := metrics.MonteCarlo([]int{0, 1, 3}, start, metrics.ForecastRequest{Items: 40}, 9)
	b := metrics.MonteCarlo([]int{0, 1, 3}, start, metrics.ForecastRequest{Items: 40}, 9)
	if a.When["p85"] != b.When["p85"] {
		t.Fatal("the forecast is not repeatable")
	}
	// No throughput at all: no date, and it says why.
	fc = metrics.MonteCarlo([]int{0, 0, 0}, start, metrics.ForecastRequest{Items: 3}, 1)
	if fc.When["p50"] != nil || fc.When["reason"] == nil || !fc.LowConfidence {
		t.Fatalf("zero history: %+v", fc)
	}
}

func TestPeriodBuckets(t *testing.T) {
	from := time.Date(2024, 1, 3, 0, 0, 0, 0, time.UTC) // a Wednesday
	to := time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC)
	if b := metrics.Week.Buckets(from, to); b[0].Format("2006-01-02") != "2024-01-01" || len(b) != 13 {
		t.Errorf("weeks: %d from %v", len(b), b[0])
	}
	if b := metrics.Month.Buckets(from, to); len(b) != 3 {
		t.Errorf("months: %d", len(b))
	}
	if b := metrics.Quarter.Buckets(from, to); len(b) != 1 || b[0].Month() != time.January {
		t.Errorf("quarters: %v", b)
	}
}

func BenchmarkNearestRank(b *testing.B) {
	vals := make([]float64, 100000)
	for i := range vals {
		vals[i] = float64((i * 7919) % 100000)
	}
	sort.Float64s(vals)
	for b.Loop() {
		metrics.NearestRank(vals, 85)
	}
}

// BenchmarkMonteCarlo measures one forecast: 10,000 trials over 90 days of history.
func BenchmarkMonteCarlo(b *testing.B) {
	daily := make([]int, 90)
	for i := range daily {
		daily[i] = i % 7
	}
	start := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		metrics.MonteCarlo(daily, start, metrics.ForecastRequest{Items: 200}, 1)
	}
}

// A forecast whose items are not done within ten years in some trials says
// so: those percentiles are null, low confidence, a reason, and the
// distribution's last bar is "after" the horizon (before: the last day of
// ten years, with low_confidence false).
func TestMonteCarloBeyondTheHorizon(t *testing.T) {
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	daily := make([]int, 90)
	for i := 0; i < 90; i += 3 {
		daily[i] = 1 // 30 done in 90 days: enough history, a third of an item a day
	}
	fc := metrics.MonteCarlo(daily, start, metrics.ForecastRequest{Items: 1200}, 1)
	reason, _ := fc.When["reason"].(string)
	if !fc.LowConfidence || fc.When["p95"] != nil || !strings.Contains(reason, "not done within ten years") {
		t.Fatalf("1,200 items at a third a day: %+v", fc.When)
	}
	if last := fc.Distribution[len(fc.Distribution)-1].Value; !strings.HasPrefix(last, "after 2036-01-02") {
		t.Fatalf("last bar %q", last)
	}
	if p50, ok := fc.When["p50"].(string); !ok || p50 == "" {
		t.Fatalf("p50 %v: most trials finish within ten years", fc.When["p50"])
	}
}
