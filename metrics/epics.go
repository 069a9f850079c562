package metrics

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"
)

// EpicTypes are the issue types that group other issues' work.
var EpicTypes = []string{"Epic", "Initiative", "Theme", "Portfolio Epic"}

// EpicForecast is "when will this epic be done?" for one open epic.
type EpicForecast struct {
	Key       string `json:"key"`
	Summary   string `json:"summary"`
	Status    string `json:"status"`
	Children  int    `json:"children"`
	Done      int    `json:"done_children"`
	Remaining int    `json:"remaining"`
	// Position is the epic's place in the project's rank order of open
	// epics (1 first): the team finishes them in that order.
	Position int `json:"position"`
	// When holds the dates by which 50, 85 and 95% of trials had done this
	// epic's remaining items and those of every epic ranked above it; null
	// when not within MaxForecastDays.
	When map[string]*string `json:"when"`
	// Due is the epic's due date, and OnTime the share of trials done by
	// the end of it (null without a due date).
	Due    *string  `json:"due"`
	OnTime *float64 `json:"on_time"`
	// Overdue says the due date has passed with items left.
	Overdue bool `json:"overdue"`
}

// EpicForecasts is the forecast of a project's open epics.
type EpicForecasts struct {
	Project     string         `json:"project"`
	HistoryFrom string         `json:"history_from"`
	HistoryDays int            `json:"history_days"`
	HistoryDone int            `json:"history_done"`
	Trials      int            `json:"trials"`
	Epics       []EpicForecast `json:"epics"`
	// Unsplit counts open epics without any child: their work is not
	// known yet, so they are listed with remaining 0 and no forecast.
	Unsplit       int  `json:"unsplit"`
	LowConfidence bool `json:"low_confidence"`
}

// Epics forecasts the open epics of a project from its daily throughput
// over the historyDays days before today: the team works through them in
// rank order, so an epic is done when its remaining items and those of
// every epic ranked above it are.
func (s *Service) Epics(ctx context.Context, f Filter, historyDays int) (EpicForecasts, error) {
	out := EpicForecasts{Project: f.Project, Trials: Trials, Epics: []EpicForecast{}}
	ef := f
	ef.From, ef.To, ef.Types = time.Time{}, time.Time{}, nil
	from, args := ef.issues()
	var epics []struct {
		Key     string     `ch:"issue_key"`
		Summary string     `ch:"summary"`
		Status  string     `ch:"status_name"`
		Rank    string     `ch:"rank"`
		Due     *time.Time `ch:"due"`
	}
	var children []struct {
		Epic string `ch:"epic_key"`
		N    uint64 `ch:"n"`
		Done uint64 `ch:"done"`
	}
	err := parallel(
		func() error {
			q := `SELECT issue_key, summary, status_name, rank, toDateTime(due_date) AS due FROM ` + from + ` WHERE has(?, issue_type) AND status_category != 'done' ORDER BY rank, issue_key`
			if err := s.DB.Select(ctx, &epics, q, append(args, EpicTypes)...); err != nil {
				return fmt.Errorf("open epics: %w", err)
			}
			return nil
		},
		func() error {
			q := `SELECT epic_key, count() AS n, countIf(status_category = 'done') AS done FROM ` + from + ` WHERE epic_key != '' GROUP BY epic_key`
			if err := s.DB.Select(ctx, &children, q, args...); err != nil {
				return fmt.Errorf("epic children: %w", err)
			}
			return nil
		},
	)
	if err != nil {
		return out, err
	}
	byEpic := map[string][2]int{}
	for _, c := range children {
		byEpic[c.Epic] = [2]int{int(c.N), int(c.Done)}
	}
	today := s.Now().UTC().Truncate(24 * time.Hour)
	hf := f
	hf.Types = nil
	hf.From, hf.To = today.AddDate(0, 0, -historyDays), today
	daily, err := s.DailyThroughput(ctx, hf)
	if err != nil {
		return out, err
	}
	out.HistoryFrom, out.HistoryDays = day(hf.From), len(daily)
	for _, d := range daily {
		out.HistoryDone += d
	}
	out.LowConfidence = out.HistoryDone < MinConfidentN
	var remaining []int
	for i, e := range epics {
		c := byEpic[e.Key]
		ep := EpicForecast{Key: e.Key, Summary: e.Summary, Status: e.Status, Children: c[0], Done: c[1], Remaining: c[0] - c[1], Position: i + 1}
		if c[0] == 0 {
			out.Unsplit++
		}
		out.Epics = append(out.Epics, ep)
		remaining = append(remaining, ep.Remaining)
	}
	trials := sequentialTrials(daily, remaining, s.Seed)
	for i, when := range SequentialFinish(daily, remaining, s.Seed) {
		w := map[string]*string{}
		for _, p := range []string{"p50", "p85", "p95"} {
			if d, ok := when[p]; ok && d >= 0 {
				v := day(today.AddDate(0, 0, d))
				w[p] = &v
			} else {
				w[p] = nil
			}
		}
		out.Epics[i].When = w
		if due := epics[i].Due; due != nil {
			d := day(*due)
			out.Epics[i].Due = &d
			by := int(due.UTC().Sub(today).Hours() / 24)
			chance := 0.0
			if by >= 0 {
				chance = ChanceBy(trials[i], by)
			}
			out.Epics[i].Overdue = by < 0 && out.Epics[i].Remaining > 0
			out.Epics[i].OnTime = &chance
		}
	}
	return out, nil
}

// SequentialFinish runs Trials Monte Carlo trials of a team doing the
// remaining items of several pieces of work one after the other, each day
// finishing a number of items drawn from its daily history. For each
// piece it returns the day (0 = the first day) by which 50, 85 and 95% of
// trials had finished it and everything before it; −1 when not within
// MaxForecastDays.
func SequentialFinish(daily []int, remaining []int, seed uint64) []map[string]int {
	finish := sequentialTrials(daily, remaining, seed)
	out := make([]map[string]int, len(remaining))
	for i := range finish {
		m := map[string]int{}
		for _, p := range []struct {
			name string
			pct  int
		}{{"p50", 50}, {"p85", 85}, {"p95", 95}} {
			v := finish[i][(len(finish[i])*p.pct+99)/100-1]
			if v >= MaxForecastDays {
				v = -1
			}
			m[p.name] = v
		}
		out[i] = m
	}
	return out
}

// ChanceBy is the share of trials (sorted finishing days) done by day.
func ChanceBy(sorted []int, day int) float64 {
	n := sort.SearchInts(sorted, day+1)
	return round(float64(n) / float64(len(sorted)))
}

// sequentialTrials returns, per piece of work, the sorted finishing day of
// each trial (MaxForecastDays when not within it).
func sequentialTrials(daily []int, remaining []int, seed uint64) [][]int {
	total, cum := 0, make([]int, len(remaining))
	for i, r := range remaining {
		total += r
		cum[i] = total
	}
	sum := 0
	for _, d := range daily {
		sum += d
	}
	finish := make([][]int, len(remaining))
	if len(daily) == 0 || sum == 0 {
		for i := range finish {
			finish[i] = []int{MaxForecastDays}
			if cum[i] == 0 {
				finish[i] = []int{0}
			}
		}
		return finish
	}
	for i := range finish {
		finish[i] = make([]int, Trials)
	}
	rng := rand.New(rand.NewPCG(seed, 0xE91C))
	for t := 0; t < Trials; t++ {
		done, d, next := 0, 0, 0
		for next < len(cum) && cum[next] == 0 {
			finish[next][t] = 0
			next++
		}
		for next < len(cum) && d < MaxForecastDays {
			done += daily[rng.IntN(len(daily))]
			d++
			for next < len(cum) && done >= cum[next] {
				finish[next][t] = d - 1
				next++
			}
		}
		for ; next < len(cum); next++ {
			finish[next][t] = MaxForecastDays
		}
	}
	for i := range finish {
		sort.Ints(finish[i])
	}
	return finish
}
