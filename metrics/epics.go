package metrics

import (
	"context"
	"fmt"
	"strings"

	"math/rand/v2"
	"sort"
	"time"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/schema"
)

// EpicTypes are the issue types that group other issues' work.
var EpicTypes = evident.EpicTypes

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
	Finish
	// Initiative is the key of the initiative above the epic ("" for none).
	Initiative string `json:"initiative"`
}

// Finish is when a piece of work (an epic, an initiative) will be done,
// and how that stands against its due date.
type Finish struct {
	// When holds the dates by which 50, 85 and 95% of trials had done its
	// remaining items; null when not within MaxForecastDays.
	When map[string]*string `json:"when"`
	// Due is its due date, and OnTime the share of trials done by the end
	// of it (null without a due date).
	Due    *string  `json:"due"`
	OnTime *float64 `json:"on_time"`
	// Overdue says the due date has passed with items left.
	Overdue bool `json:"overdue"`
}

// InitiativeForecast is "when will this initiative be done?": when the
// last of its open epics in the project is, trial by trial.
type InitiativeForecast struct {
	Key       string   `json:"key"`
	Summary   string   `json:"summary"`
	Status    string   `json:"status"`
	Epics     []string `json:"epics"`
	Remaining int      `json:"remaining"`
	Finish
	// OtherProjects counts its open epics in other projects, which this
	// forecast (one team's) leaves out.
	OtherProjects int `json:"other_projects_epics"`
}

// EpicForecasts is the forecast of a project's open epics.
type EpicForecasts struct {
	Project     string         `json:"project"`
	HistoryFrom string         `json:"history_from"`
	HistoryDays int            `json:"history_days"`
	HistoryDone int            `json:"history_done"`
	Trials      int            `json:"trials"`
	Epics       []EpicForecast `json:"epics"`
	// Initiatives are the parents of the open epics, in the rank order of
	// their first epic.
	Initiatives []InitiativeForecast `json:"initiatives"`
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
		Type    string     `ch:"issue_type"`
		Parent  string     `ch:"parent_key"`
	}
	var children []struct {
		Epic string `ch:"epic_key"`
		N    uint64 `ch:"n"`
		Done uint64 `ch:"done"`
	}
	err := parallel(
		func() error {
			q := `SELECT issue_key, summary, status_name, rank, toDateTime(due_date) AS due, toUInt8(status_category = 'done') AS done, issue_type, parent_key FROM ` + from + ` WHERE has(?, issue_type) ORDER BY rank, issue_key`
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
	// Initiatives are above epics: the parents of epics, and issues of
	// that type; they are forecast from their epics, not as epics.
	initiative := map[string]bool{}
	for _, e := range epics {
		if e.Parent != "" {
			initiative[e.Parent] = true
		}
		if strings.EqualFold(e.Type, "Initiative") {
			initiative[e.Key] = true
		}
	}
	kept := epics[:0]
	for _, e := range epics {
		if !initiative[e.Key] {
			kept = append(kept, e)
		}
	}
	epics = kept
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
		ep := EpicForecast{Key: e.Key, Summary: e.Summary, Status: e.Status, Children: c[0], Done: c[1], Remaining: c[0] - c[1], Position: i + 1, Initiative: e.Parent}
		if c[0] == 0 {
			out.Unsplit++
			ep.Estimated, ep.Remaining = true, out.UnsplitEstimate
		}
		out.Epics = append(out.Epics, ep)
		remaining = append(remaining, ep.Remaining)
	}
	runs := epicRuns(daily, remaining, o.WIP, s.Seed)
	trials := sortedRuns(runs)
	for i, when := range finishPercentiles(trials) {
		out.Epics[i].Finish = finishOf(when, trials[i], epics[i].Due, out.Epics[i].Remaining, today)
	}
	// Each initiative is done when the last of its open epics here is: per
	// trial, the latest of their finishing days.
	var parents []string
	members := map[string][]int{}
	for i, e := range epics {
		if e.Parent != "" {
			if members[e.Parent] == nil {
				parents = append(parents, e.Parent)
			}
			members[e.Parent] = append(members[e.Parent], i)
		}
	}
	out.Initiatives = []InitiativeForecast{}
	if len(parents) == 0 {
		return out, nil
	}
	info, err := s.initiativeInfo(ctx, f, parents)
	if err != nil {
		return out, err
	}
	for _, key := range parents {
		in := InitiativeForecast{Key: key, Epics: []string{}}
		for _, i := range members[key] {
			in.Epics = append(in.Epics, out.Epics[i].Key)
			in.Remaining += out.Epics[i].Remaining
		}
		last := latest(runs, members[key])
		var due *time.Time
		if x, ok := info[key]; ok {
			in.Summary, in.Status, in.OtherProjects, due = x.Summary, x.Status, int(x.Elsewhere), x.Due
		}
		in.Finish = finishOf(finishPercentiles([][]int{last})[0], last, due, in.Remaining, today)
		out.Initiatives = append(out.Initiatives, in)
	}
	return out, nil
}

// latest is, trial by trial, the last finishing day of the pieces idx
// (runs in trial order), sorted: when all of them are done.
func latest(runs [][]int, idx []int) []int {
	last := make([]int, len(runs[idx[0]]))
	for _, i := range idx {
		for t, d := range runs[i] {
			last[t] = max(last[t], d)
		}
	}
	sort.Ints(last)
	return last
}

// finishOf turns finishing days into dates (null beyond MaxForecastDays)
// and, with a due date, the chance of meeting it and whether it passed
// with work left.
func finishOf(when map[string]int, sorted []int, due *time.Time, remaining int, today time.Time) Finish {
	f := Finish{When: map[string]*string{}}
	for _, p := range []string{"p50", "p85", "p95"} {
		if d, ok := when[p]; ok && d >= 0 {
			v := day(today.AddDate(0, 0, d))
			f.When[p] = &v
		} else {
			f.When[p] = nil
		}
	}
	if due == nil {
		return f
	}
	d := day(*due)
	by := int(due.UTC().Sub(today).Hours() / 24)
	chance := 0.0
	if by >= 0 {
		chance = ChanceBy(sorted, by)
	}
	f.Due, f.OnTime, f.Overdue = &d, &chance, by < 0 && remaining > 0
	return f
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
// the sorted finishing day of each trial (MaxForecastDays when not within
// it).
func sequentialTrials(daily []int, remaining []int, seed uint64) [][]int {
	return epicTrials(daily, remaining, 1, seed)
}

// epicTrials returns, per piece of work, the sorted finishing day of each
// trial (MaxForecastDays when not within it) when the team works on wip
// pieces at a time in rank order: each day's finished items go one by one
// to the pieces in progress in turn, and when one is done the next in rank
// takes its place. With wip 1 that is one piece after the other.
func epicTrials(daily []int, remaining []int, wip int, seed uint64) [][]int {
	return sortedRuns(epicRuns(daily, remaining, wip, seed))
}

// sortedRuns sorts a copy of each piece's finishing days.
func sortedRuns(runs [][]int) [][]int {
	out := make([][]int, len(runs))
	for i, r := range runs {
		out[i] = append([]int(nil), r...)
		sort.Ints(out[i])
	}
	return out
}

// epicRuns is epicTrials with each piece's finishing days in trial order
// (unsorted): trial t of every piece is the same simulated future.
func epicRuns(daily []int, remaining []int, wip int, seed uint64) [][]int {
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
	return finish
}

type initiative struct {
	Key       string     `ch:"issue_key"`
	Summary   string     `ch:"summary"`
	Status    string     `ch:"status_name"`
	Due       *time.Time `ch:"due"`
	Elsewhere uint64     `ch:"elsewhere"`
}

// initiativeInfo reads the initiatives above a project's epics (they may
// live in another project) and counts their open epics in other projects,
// in the generation readers use (the read model keeps older ones' pieces).
func (s *Service) initiativeInfo(ctx context.Context, f Filter, keys []string) (map[string]initiative, error) {
	var rows []initiative
	q := `SELECT issue_key, any(summary) AS summary, any(status_name) AS status_name, any(toDateTime(due_date)) AS due,
		toUInt64(0) AS elsewhere FROM issues_current WHERE ` + schema.Current + ` AND has(?, issue_key) AND (? = '' OR site = ?) GROUP BY issue_key
		UNION ALL
		SELECT parent_key AS issue_key, '' AS summary, '' AS status_name, CAST(NULL AS Nullable(DateTime)) AS due, count() AS elsewhere
		FROM ` + schema.OpenIssues + ` WHERE ` + schema.Current + ` AND has(?, parent_key) AND has(?, issue_type) AND status_category != 'done' AND project_key != ? AND (? = '' OR site = ?)
		GROUP BY parent_key`
	if err := s.DB.Select(ctx, &rows, q, keys, f.Site, f.Site, keys, EpicTypes, f.Project, f.Site, f.Site); err != nil {
		return nil, fmt.Errorf("initiatives: %w", err)
	}
	out := map[string]initiative{}
	for _, r := range rows {
		x := out[r.Key]
		x.Key = r.Key
		if r.Summary != "" || r.Status != "" {
			x.Summary, x.Status, x.Due = r.Summary, r.Status, r.Due
		}
		x.Elsewhere += r.Elsewhere
		out[r.Key] = x
	}
	return out, nil
}
