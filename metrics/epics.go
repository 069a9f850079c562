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
	// Estimated says the epic has no child yet: its remaining items are
	// the forecast's estimate for an unsplit epic.
	Estimated bool `json:"estimated"`
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
	// WIP is how many epics the team works on at once.
	WIP int `json:"wip"`
	// Unsplit counts open epics without any child: their work is not
	// known yet, so each counts UnsplitEstimate items (given, or else the
	// median number of items of the project's done epics, UnsplitFrom of
	// them; 0 when there is none).
	Unsplit         int  `json:"unsplit"`
	UnsplitEstimate int  `json:"unsplit_estimate"`
	UnsplitFrom     int  `json:"unsplit_from_epics"`
	LowConfidence   bool `json:"low_confidence"`
}

// EpicOptions are the assumptions of an epic forecast.
type EpicOptions struct {
	// HistoryDays is how many days before today the throughput is taken from.
	HistoryDays int
	// WIP is how many epics the team works on at once (default 1: one
	// after the other, in rank order).
	WIP int
	// Unsplit, when set, is the number of items assumed for an open epic
	// with no child yet; else the median of the project's done epics.
	Unsplit *int
}

// Epics forecasts the open epics of a project from its daily throughput
// over the o.HistoryDays days before today: the team works through them in
// rank order, o.WIP at a time (1: an epic is done when its remaining items
// and those of every epic ranked above it are).
func (s *Service) Epics(ctx context.Context, f Filter, o EpicOptions) (EpicForecasts, error) {
	o.WIP = max(o.WIP, 1)
	out := EpicForecasts{Project: f.Project, Trials: Trials, Epics: []EpicForecast{}, WIP: o.WIP}
	ef := f
	ef.From, ef.To, ef.Types = time.Time{}, time.Time{}, nil
	from, args := ef.issues()
	var epics []struct {
		Key     string     `ch:"issue_key"`
		Summary string     `ch:"summary"`
		Status  string     `ch:"status_name"`
		Rank    string     `ch:"rank"`
		Due     *time.Time `ch:"due"`
		Done    uint8      `ch:"done"`
	}
	var children []struct {
		Epic string `ch:"epic_key"`
		N    uint64 `ch:"n"`
		Done uint64 `ch:"done"`
	}
	err := parallel(
		func() error {
			q := `SELECT issue_key, summary, status_name, rank, toDateTime(due_date) AS due, toUInt8(status_category = 'done') AS done FROM ` + from + ` WHERE has(?, issue_type) ORDER BY rank, issue_key`
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
	hf.From, hf.To = today.AddDate(0, 0, -o.HistoryDays), today
	daily, err := s.DailyThroughput(ctx, hf)
	if err != nil {
		return out, err
	}
	out.HistoryFrom, out.HistoryDays = day(hf.From), len(daily)
	for _, d := range daily {
		out.HistoryDone += d
	}
	out.LowConfidence = out.HistoryDone < MinConfidentN
	// The size of an epic not split yet: given, or the median of the done
	// epics that had items.
	var sizes []int
	for _, e := range epics {
		if c := byEpic[e.Key]; e.Done == 1 && c[0] > 0 {
			sizes = append(sizes, c[0])
		}
	}
	out.UnsplitFrom = len(sizes)
	if o.Unsplit != nil {
		out.UnsplitEstimate, out.UnsplitFrom = *o.Unsplit, 0
	} else if len(sizes) > 0 {
		sort.Ints(sizes)
		out.UnsplitEstimate = sizes[(len(sizes)-1)/2]
	}
	var remaining []int
	open := epics[:0]
	for _, e := range epics {
		if e.Done == 0 {
			open = append(open, e)
		}
	}
	epics = open
	for i, e := range epics {
		c := byEpic[e.Key]
		ep := EpicForecast{Key: e.Key, Summary: e.Summary, Status: e.Status, Children: c[0], Done: c[1], Remaining: c[0] - c[1], Position: i + 1}
		if c[0] == 0 {
			out.Unsplit++
			ep.Estimated, ep.Remaining = true, out.UnsplitEstimate
		}
		out.Epics = append(out.Epics, ep)
		remaining = append(remaining, ep.Remaining)
	}
	trials := epicTrials(daily, remaining, o.WIP, s.Seed)
	for i, when := range finishPercentiles(trials) {
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

// EpicFinish runs Trials Monte Carlo trials of a team doing the remaining
// items of several pieces of work in rank order, wip of them at a time
// (1: one after the other), each day finishing a number of items drawn
// from its daily history. For each piece it returns the day (0 = the first
// day) by which 50, 85 and 95% of trials had finished it; −1 when not
// within MaxForecastDays.
func EpicFinish(daily []int, remaining []int, wip int, seed uint64) []map[string]int {
	return finishPercentiles(epicTrials(daily, remaining, wip, seed))
}

// finishPercentiles reads the 50, 85 and 95th percentile days off each
// piece's sorted finishing days (−1 when not within MaxForecastDays).
func finishPercentiles(finish [][]int) []map[string]int {
	out := make([]map[string]int, len(finish))
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

// sequentialTrials returns, per piece of work done one after the other,
// the sorted finishing day of each trial (MaxForecastDays when not within it).
func sequentialTrials(daily []int, remaining []int, seed uint64) [][]int {
	return epicTrials(daily, remaining, 1, seed)
}

// epicTrials returns, per piece of work, the sorted finishing day of each
// trial (MaxForecastDays when not within it) when the team works on wip
// pieces at a time in rank order: each day's finished items go one by one
// to the pieces in progress in turn, and when one is done the next in rank
// takes its place. With wip 1 that is one piece after the other.
func epicTrials(daily []int, remaining []int, wip int, seed uint64) [][]int {
	wip = max(wip, 1)
	sum := 0
	for _, d := range daily {
		sum += d
	}
	finish := make([][]int, len(remaining))
	if len(daily) == 0 || sum == 0 {
		// Nothing is ever finished: only the empty pieces at the head of
		// the queue are done (at once).
		head := true
		for i, r := range remaining {
			head = head && r == 0
			finish[i] = []int{MaxForecastDays}
			if head {
				finish[i] = []int{0}
			}
		}
		return finish
	}
	for i := range finish {
		finish[i] = make([]int, Trials)
	}
	rng := rand.New(rand.NewPCG(seed, 0xE91C))
	left := make([]int, len(remaining))
	active := make([]int, 0, wip)
	for t := 0; t < Trials; t++ {
		copy(left, remaining)
		active, next, pos := active[:0], 0, 0
		// fill starts the next pieces in rank order; an empty one is done
		// the day it starts.
		fill := func(d int) {
			for len(active) < wip && next < len(left) {
				if left[next] == 0 {
					finish[next][t] = d
				} else {
					active = append(active, next)
				}
				next++
			}
		}
		fill(0)
		d := 0
		for len(active) > 0 && d < MaxForecastDays {
			for k := daily[rng.IntN(len(daily))]; k > 0 && len(active) > 0; k-- {
				pos %= len(active)
				i := active[pos]
				if left[i]--; left[i] == 0 {
					finish[i][t] = d
					active = append(active[:pos], active[pos+1:]...)
					fill(d)
				} else {
					pos++
				}
			}
			d++
		}
		for _, i := range active {
			finish[i][t] = MaxForecastDays
		}
		for ; next < len(left); next++ {
			finish[next][t] = MaxForecastDays
		}
	}
	for i := range finish {
		sort.Ints(finish[i])
	}
	return finish
}
