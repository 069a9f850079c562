package metrics

import (
	"reflect"
	"testing"
	"time"
)

func d(s string) time.Time {
	t, _ := time.Parse("2006-01-02", s)
	return t
}

// Forecasts scored by hand: a hit and a miss of each kind.
func TestScoreOfHitsAndMisses(t *testing.T) {
	// "How many by Jan 8", made Jan 1: at least 10 (50%), 7 (85%), 5 (95%).
	// Done Jan 1–7: 1+2+1+0+2+1+1 = 8: the 50% missed, 85% and 95% kept.
	hm := ForecastRecord{Kind: "how_many", MadeOn: d("2026-01-01"), Until: d("2026-01-08"), P50: 10, P85: 7, P95: 5}
	done := []int{1, 2, 1, 0, 2, 1, 1, 5, 5}
	s := ScoreOf(hm, done, d("2026-01-09"))
	if !s.Known || s.Actual != 8 || !reflect.DeepEqual(s.Hit, map[string]bool{"p50": false, "p85": true, "p95": true}) {
		t.Fatalf("how many: %+v", s)
	}
	if s := ScoreOf(hm, done[:4], d("2026-01-05")); s.Known || len(s.Hit) != 0 {
		t.Fatalf("before its date: %+v", s)
	}
	// "When will 5 be done", made Jan 1: day 3 (50%), 5 (85%), 8 (95%).
	// Cumulative 1, 2, 4, 4, 5: done on day 4: the 50% missed.
	w := ForecastRecord{Kind: "when", Items: 5, MadeOn: d("2026-01-01"), P50: 3, P85: 5, P95: 8}
	s = ScoreOf(w, []int{1, 1, 2, 0, 1, 3}, d("2026-01-07"))
	if !s.Known || s.Actual != 4 || !reflect.DeepEqual(s.Hit, map[string]bool{"p50": false, "p85": true, "p95": true}) {
		t.Fatalf("when: %+v", s)
	}
	// 50 items, 95% by day 3: four days later only 5 are done, every
	// level has missed and the outcome is known; a day earlier it is not.
	w = ForecastRecord{Kind: "when", Items: 50, MadeOn: d("2026-01-01"), P50: 1, P85: 2, P95: 3}
	s = ScoreOf(w, []int{1, 1, 1, 1, 1}, d("2026-01-05"))
	if !s.Known || s.Actual != -1 || !reflect.DeepEqual(s.Hit, map[string]bool{"p50": false, "p85": false, "p95": false}) {
		t.Fatalf("when, missed: %+v", s)
	}
	if s := ScoreOf(w, []int{1, 1, 1}, d("2026-01-03")); s.Known {
		t.Fatalf("when, before its 95%% date: %+v", s)
	}
}

// A forecast is recorded with its answer as days after the day it was made.
func TestRecordOfAForecast(t *testing.T) {
	fc := Forecast{Items: 5, HistoryDays: 90, When: map[string]any{"p50": "2026-01-04", "p85": "2026-01-06", "p95": nil}}
	r, ok := Record(Filter{Project: "SHOP", Types: []string{"Story", "Bug"}}, fc, time.Date(2026, 1, 1, 15, 4, 0, 0, time.UTC))
	if !ok || r.Kind != "when" || r.P50 != 3 || r.P85 != 5 || r.P95 != -1 || r.Types != "Story,Bug" || r.ID == "" || !r.MadeOn.Equal(d("2026-01-01")) {
		t.Fatalf("record: %+v", r)
	}
	again, _ := Record(Filter{Project: "SHOP", Types: []string{"Story", "Bug"}}, fc, time.Date(2026, 1, 1, 18, 0, 0, 0, time.UTC))
	if again.ID != r.ID {
		t.Fatal("the same question on the same day must replace the record")
	}
	hm := Forecast{Until: "2026-02-01", HistoryDays: 90, HowMany: map[string]int{"p50": 20, "p85": 15, "p95": 12}}
	if r, ok := Record(Filter{}, hm, d("2026-01-01")); !ok || r.Kind != "how_many" || r.P85 != 15 || !r.Until.Equal(d("2026-02-01")) {
		t.Fatalf("how many record: %+v", r)
	}
}
