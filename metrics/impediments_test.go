package metrics_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/evident-ebm/evident/metrics"
)

// The impediment replay of random histories, judged at 300 "now"s from
// before the start to long after it: never more blocked or stalled time
// than the cycle so far, an episode exactly when some time was blocked,
// "now" states only for work in progress, and as now moves on, neither
// the blocked time nor the blocked and stalled time together shrinks.
func TestImpedimentsAcrossDates(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 17))
	day := func(d float64) time.Duration { return time.Duration(d * 24 * float64(time.Hour)) }
	for trial := 0; trial < 200; trial++ {
		start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(day(r.Float64() * 400))
		h := metrics.WorkHistory{Start: start, FlaggedNow: r.IntN(5) == 0}
		at := start
		status := "In Progress"
		for k := r.IntN(8); k > 0; k-- {
			next := at.Add(day(r.ExpFloat64() * 4))
			h.Statuses = append(h.Statuses, metrics.StatusSpan{Status: status, From: at, To: next})
			h.Activity = append(h.Activity, next)
			status = []string{"In Progress", "Blocked", "In Review", "On Hold"}[r.IntN(4)]
			at = next
		}
		h.Statuses = append(h.Statuses, metrics.StatusSpan{Status: status, From: at})
		for k := r.IntN(5); k > 0; k-- {
			h.Flags = append(h.Flags, metrics.FlagChange{At: start.Add(day(r.Float64() * 60)), On: r.IntN(2) == 0})
		}
		if r.IntN(3) == 0 {
			l := metrics.BlockLink{Key: "X-1", Since: start.Add(day(r.Float64() * 20)), Open: r.IntN(2) == 0}
			if !l.Open {
				l.Until = l.Since.Add(day(r.Float64() * 20))
			}
			h.Links = append(h.Links, l)
		}
		rules := metrics.Rules{StalledStatuses: []string{"On Hold"}, StallDays: 1 + r.Float64()*6}
		var last metrics.Impediments
		for k := 0; k < 300; k++ {
			now := start.Add(day(float64(k)/2 - 10))
			h.End, h.InProgress = now, r.IntN(4) != 0
			got := metrics.Impede(h, rules)
			cycle := max(0, now.Sub(start).Hours()/24)
			if got.BlockedDays < 0 || got.StalledDays < 0 || got.BlockedDays+got.StalledDays > cycle+0.001 {
				t.Fatalf("trial %d at %s: blocked %v + stalled %v over a cycle of %v days", trial, now, got.BlockedDays, got.StalledDays, cycle)
			}
			if (got.Episodes > 0) != (got.BlockedDays > 0) {
				t.Fatalf("trial %d at %s: %d episodes, %v days blocked", trial, now, got.Episodes, got.BlockedDays)
			}
			if (got.Blocked || got.Stalled) && !h.InProgress || got.Blocked && got.Stalled {
				t.Fatalf("trial %d at %s: blocked %v stalled %v in progress %v", trial, now, got.Blocked, got.Stalled, h.InProgress)
			}
			for _, b := range got.Blockers {
				if b.Days > got.BlockedDays+0.001 {
					t.Fatalf("trial %d at %s: %s %s %v days of %v blocked", trial, now, b.Reason, b.Name, b.Days, got.BlockedDays)
				}
			}
			if got.BlockedDays < last.BlockedDays-0.001 || got.BlockedDays+got.StalledDays < last.BlockedDays+last.StalledDays-0.001 {
				t.Fatalf("trial %d at %s: blocked %v, stalled %v after %v, %v the half day before", trial, now, got.BlockedDays, got.StalledDays, last.BlockedDays, last.StalledDays)
			}
			last = got
		}
	}
}
