package metrics

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"time"
)

// Trials is the number of Monte Carlo trials of a forecast.
const Trials = 10000

// Forecast answers "how many by a date" or "when will K be done" from the
// daily throughput of the last HistoryDays days.
type Forecast struct {
	HistoryDays   int            `json:"history_days"`
	HistoryFrom   string         `json:"history_from"`
	HistoryDone   int            `json:"history_done"`
	Trials        int            `json:"trials"`
	Until         string         `json:"until,omitempty"`
	Items         int            `json:"items,omitempty"`
	HowMany       map[string]int `json:"how_many,omitempty"`
	When          map[string]any `json:"when,omitempty"`
	Distribution  []Bucket       `json:"distribution"`
	LowConfidence bool           `json:"low_confidence"`
}

// Bucket is one bar of a forecast's probability distribution.
type Bucket struct {
	Value  string  `json:"value"`
	Trials int     `json:"trials"`
	Share  float64 `json:"share"`
}

// ForecastRequest says what to forecast: Items (when will K be done) or
// Until (how many by that date), from HistoryDays of throughput.
type ForecastRequest struct {
	Items       int
	Until       time.Time
	HistoryDays int
	// HistoryFrom, when set, starts the history there instead (it then
	// runs HistoryDays days): a page's From/To.
	HistoryFrom time.Time
}

// Forecast runs 10,000 seeded trials, sampling daily throughput uniformly
// from the history.
func (s *Service) Forecast(ctx context.Context, f Filter, req ForecastRequest) (Forecast, error) {
	if req.HistoryDays <= 0 {
		req.HistoryDays = 90
	}
	now := s.Now().UTC()
	today := now.Truncate(24 * time.Hour)
	hf := f
	hf.From, hf.To = today.AddDate(0, 0, -req.HistoryDays), today
	if !req.HistoryFrom.IsZero() {
		hf.From = req.HistoryFrom.UTC().Truncate(24 * time.Hour)
		hf.To = hf.From.AddDate(0, 0, req.HistoryDays)
	}
	daily, err := s.DailyThroughput(ctx, hf)
	if err != nil {
		return Forecast{}, err
	}
	return MonteCarlo(daily, today, req, s.Seed), nil
}

// MonteCarlo is the pure forecast: daily is the throughput of each past
// day, start the first forecast day.
func MonteCarlo(daily []int, start time.Time, req ForecastRequest, seed uint64) Forecast {
	out := Forecast{HistoryDays: len(daily), HistoryFrom: day(start.AddDate(0, 0, -len(daily))), Trials: Trials, Distribution: []Bucket{}}
	total := 0
	for _, d := range daily {
		total += d
	}
	out.HistoryDone = total
	out.LowConfidence = total < MinConfidentN
	if len(daily) == 0 {
		return out
	}
	rng := rand.New(rand.NewPCG(seed, 0x5EED))
	if !req.Until.IsZero() {
		days := int(req.Until.Sub(start).Hours() / 24)
		out.Until = day(req.Until)
		results := make([]int, Trials)
		for t := range results {
			n := 0
			for d := 0; d < days; d++ {
				n += daily[rng.IntN(len(daily))]
			}
			results[t] = n
		}
		sort.Ints(results)
		// "85%: at least that many in 85% of trials" is the 15th percentile.
		at := func(p int) int { return results[(Trials*(100-p))/100] }
		out.HowMany = map[string]int{"p50": at(50), "p85": at(85), "p95": at(95)}
		out.Distribution = histogram(results, func(v int) string { return itoa(v) })
		return out
	}
	out.Items = req.Items
	if total == 0 {
		out.When = map[string]any{"p50": nil, "p85": nil, "p95": nil, "reason": "no item was done in the history: the forecast never completes"}
		return out
	}
	// A trial not done within MaxForecastDays stops there and counts as
	// "later": never as done on the last day.
	results := make([]int, Trials)
	unfinished := 0
	for t := range results {
		done, d := 0, 0
		for done < req.Items && d < MaxForecastDays {
			done += daily[rng.IntN(len(daily))]
			d++
		}
		if done < req.Items {
			d, unfinished = MaxForecastDays+1, unfinished+1
		}
		results[t] = d
	}
	sort.Ints(results)
	later := "after " + day(start.AddDate(0, 0, MaxForecastDays-1))
	// "85%: done by that date in 85% of trials" is the 85th percentile.
	at := func(p int) any {
		if v := results[(Trials*p+99)/100-1]; v <= MaxForecastDays {
			return day(start.AddDate(0, 0, v-1))
		}
		return nil
	}
	out.When = map[string]any{"p50": at(50), "p85": at(85), "p95": at(95)}
	if unfinished > 0 {
		out.LowConfidence = true
		out.When["reason"] = fmt.Sprintf("in %d of %d trials the %d items are not done within ten years (%s): a percentile beyond that is null",
			unfinished, Trials, req.Items, later)
	}
	out.Distribution = histogram(results, func(v int) string {
		if v > MaxForecastDays {
			return later
		}
		return day(start.AddDate(0, 0, v-1))
	})
	return out
}

// MaxForecastDays is how far a "when" forecast looks: ten years.
const MaxForecastDays = 3650

func histogram(sorted []int, label func(int) string) []Bucket {
	var out []Bucket
	for i := 0; i < len(sorted); {
		j := i
		for j < len(sorted) && sorted[j] == sorted[i] {
			j++
		}
		out = append(out, Bucket{Value: label(sorted[i]), Trials: j - i, Share: round(float64(j-i) / float64(len(sorted)))})
		i = j
	}
	return out
}

func itoa(v int) string { return strconv.Itoa(v) }

func sortFloats(v []float64) { sort.Float64s(v) }
