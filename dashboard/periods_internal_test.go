package dashboard

import (
	"testing"
	"time"

	"github.com/evident-ebm/evident/metrics"
)

// The overview's default range on every day of 2028 (a leap year) and at
// the turns of years: it starts on a period start, holds exactly 52 weeks,
// 12 months or 8 quarters, and only its last period can be partial.
func TestWholePeriodsOnEveryDay(t *testing.T) {
	want := map[metrics.Period]int{metrics.Week: 52, metrics.Month: 12, metrics.Quarter: 8}
	var days []time.Time
	for d := time.Date(2027, 12, 25, 0, 0, 0, 0, time.UTC); d.Before(time.Date(2029, 1, 8, 0, 0, 0, 0, time.UTC)); d = d.AddDate(0, 0, 1) {
		days = append(days, d)
	}
	for _, today := range days {
		to := today.AddDate(0, 0, 1) // the default "to": tomorrow
		for p, n := range want {
			from := wholePeriodsFrom(p, to)
			if !from.Equal(p.Start(from)) || !from.Before(to) {
				t.Fatalf("%s, %s: from %s", today.Format("2006-01-02"), p, from.Format("2006-01-02"))
			}
			buckets := p.Buckets(from, to)
			if len(buckets) != n {
				t.Fatalf("%s, %s: %d periods, want %d", today.Format("2006-01-02"), p, len(buckets), n)
			}
			for i, b := range buckets {
				if partial := p.Partial(b.Format("2006-01-02"), from, to); partial != (i == n-1 && !p.Next(b).Equal(to)) {
					t.Fatalf("%s, %s: period %s partial=%v", today.Format("2006-01-02"), p, b.Format("2006-01-02"), partial)
				}
			}
		}
	}
}
