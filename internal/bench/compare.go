package bench

import (
	"context"
	"runtime"
	"sort"
	"time"

	"github.com/evident-ebm/evident/metrics"
	"github.com/evident-ebm/evident/schema"
)

func numCPU() int { return runtime.NumCPU() }

// compare computes the lead and cycle time percentiles of the last year
// twice: through Evident's metrics (SQL in ClickHouse), and the obvious way
// a script would: read every issue and every transition into Go, replay
// each issue's history, sort, pick the percentile.
func compare(ctx context.Context, dsn string, n int) (CompareFigure, error) {
	st, err := schema.Open(ctx, dsn)
	if err != nil {
		return CompareFigure{}, err
	}
	defer st.Close()
	to := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	from := to.AddDate(-1, 0, 0)
	ms := metrics.New(st)
	t0 := time.Now()
	flow, err := ms.Flow(ctx, metrics.Filter{From: from, To: to})
	if err != nil {
		return CompareFigure{}, err
	}
	evidentMs := float64(time.Since(t0).Microseconds()) / 1000

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	t0 = time.Now()
	type issue struct {
		ID      uint64    `ch:"issue_id"`
		Created time.Time `ch:"created_at"`
	}
	type transition struct {
		ID      uint64    `ch:"issue_id"`
		At      time.Time `ch:"changed_at"`
		History uint64    `ch:"history_id"`
		FromCat string    `ch:"from_category"`
		ToCat   string    `ch:"to_category"`
	}
	var issues []issue
	if err := st.Select(ctx, &issues, "SELECT issue_id, created_at FROM issues FINAL WHERE deleted = 0"); err != nil {
		return CompareFigure{}, err
	}
	var trans []transition
	if err := st.Select(ctx, &trans, "SELECT issue_id, changed_at, history_id, from_category, to_category FROM status_transitions FINAL"); err != nil {
		return CompareFigure{}, err
	}
	byIssue := map[uint64][]transition{}
	for _, t := range trans {
		byIssue[t.ID] = append(byIssue[t.ID], t)
	}
	var lead, cycle []float64
	for _, is := range issues {
		ts := byIssue[is.ID]
		sort.Slice(ts, func(a, b int) bool {
			if !ts[a].At.Equal(ts[b].At) {
				return ts[a].At.Before(ts[b].At)
			}
			return ts[a].History < ts[b].History
		})
		var started, done time.Time
		cur := ""
		for _, t := range ts {
			if t.ToCat == "indeterminate" && started.IsZero() {
				started = t.At
			}
			if t.ToCat == "done" && t.FromCat != "done" {
				done = t.At
			}
			cur = t.ToCat
		}
		if cur != "done" || done.Before(from) || !done.Before(to) {
			continue
		}
		lead = append(lead, float64(done.Sub(is.Created)/time.Second)/86400)
		if !started.IsZero() {
			cycle = append(cycle, float64(done.Sub(started)/time.Second)/86400)
		}
	}
	sort.Float64s(lead)
	sort.Float64s(cycle)
	var p85 float64
	if len(lead) > 0 {
		p85 = metrics.NearestRank(lead, 85)
	}
	naiveMs := float64(time.Since(t0).Microseconds()) / 1000
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	same := flow.LeadTime.P85 != nil && abs(*flow.LeadTime.P85-p85) < 0.001 && flow.LeadTime.N == len(lead) && flow.CycleTime.N == len(cycle)
	return CompareFigure{Issues: n, EvidentMs: round(evidentMs), NaiveMs: round(naiveMs), Ratio: round(naiveMs / evidentMs),
		NaiveHeapMiB: round(float64(after.TotalAlloc-before.TotalAlloc) / (1 << 20)), SameP85: same}, nil
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}
