package metrics

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/evident-ebm/evident/schema"
)

// Flow is the flow measures of a period.
type Flow struct {
	From       string       `json:"from"`
	To         string       `json:"to"`
	LeadTime   Stats        `json:"lead_time_days"`
	CycleTime  Stats        `json:"cycle_time_days"`
	Throughput []WeekCount  `json:"throughput"`
	WIP        int          `json:"wip"`
	Aging      []AgingItem  `json:"aging"`
	Points     []CyclePoint `json:"cycle_points"`
	// PointsSampled says the points are a uniform sample of the issues
	// done (more than MaxCyclePoints were).
	PointsSampled bool `json:"cycle_points_sampled"`
	// LeadHistogram counts done issues by whole days of lead time.
	LeadHistogram []DayBin `json:"lead_time_histogram"`
	// CycleTrust says what cycle time rests on: the done issues that were
	// started, of all done (the never started are left out). LeadTrust
	// and ThroughputTrust rest on every done issue; their caveats name
	// those whose dates a check questions.
	CycleTrust      Trust `json:"cycle_time_trust"`
	LeadTrust       Trust `json:"lead_time_trust"`
	ThroughputTrust Trust `json:"throughput_trust"`
	caveats         flowCaveats
}

// flowCaveats count the done issues of the period that data quality
// checks question (docs/metrics.md, "Trust").
type flowCaveats struct {
	resolvedBeforeCreated, changeBeforeCreated, doneBeforeStarted, reopened, movedBack uint64
}

func (c *flowCaveats) dest() []any {
	return []any{&c.resolvedBeforeCreated, &c.changeBeforeCreated, &c.doneBeforeStarted, &c.reopened, &c.movedBack}
}

// trust fills the trust figures of lead time, cycle time and throughput.
func (out *Flow) trust() {
	c := out.caveats
	reopened := LeftOut{Reason: "reopened: counted once, at the last completion", Issues: int(c.reopened)}
	out.LeadTrust = NewTrust(out.LeadTime.N).WithCaveats(
		LeftOut{Reason: "resolved before created: lead time 0", Issues: int(c.resolvedBeforeCreated)},
		LeftOut{Reason: "status changes dated before the creation: counted at the creation", Issues: int(c.changeBeforeCreated)},
		reopened)
	out.CycleTrust = NewTrust(out.CycleTime.N, LeftOut{Reason: "never started", Issues: out.LeadTime.N - out.CycleTime.N}).WithCaveats(
		LeftOut{Reason: "done before started: cycle time 0", Issues: int(c.doneBeforeStarted)},
		LeftOut{Reason: "moved back to to-do: counted from the first start", Issues: int(c.movedBack)},
		reopened)
	out.ThroughputTrust = NewTrust(out.LeadTime.N).WithCaveats(reopened)
}

// StatusTimes is where the issues done in a period spent their time, and
// their flow efficiency: the time in active statuses (in-progress category,
// not a wait status) over their cycle time.
type StatusTimes struct {
	From           string       `json:"from"`
	To             string       `json:"to"`
	TimeInStatus   []StatusTime `json:"time_in_status"`
	FlowEfficiency *float64     `json:"flow_efficiency"`
	ActiveDays     float64      `json:"active_days"`
	WaitDays       float64      `json:"wait_days"`
	CycleDays      float64      `json:"cycle_days"`
	WaitStatuses   []string     `json:"wait_statuses"`
}

// DayBin is how many issues took a whole number of days.
type DayBin struct {
	Days  int `json:"days"`
	Count int `json:"count"`
}

// WeekCount is the number of issues done in a week (starting Monday, UTC).
type WeekCount struct {
	Week  string `json:"week"`
	Count int    `json:"count"`
}

// AgingItem is an issue in progress and how long it has been.
type AgingItem struct {
	Key       string    `json:"key" ch:"issue_key"`
	Summary   string    `json:"summary" ch:"summary"`
	Status    string    `json:"status" ch:"status_name"`
	StartedAt time.Time `json:"started_at" ch:"started"`
	AgeDays   float64   `json:"age_days" ch:"-"`
	// ExpectedFinishP85 is the day by which it is done with 85% chance,
	// judged by the finished items of the period that lasted at least as
	// long (the 85th percentile of their cycle times); null when fewer
	// than 5 did: it is older than almost everything that finished.
	ExpectedFinishP85 *string `json:"expected_finish_p85"`
	// Due is the item's due date; AtRisk says its 85% expected finish is
	// after it (or, older than almost everything, its due date passed).
	Due    *time.Time `json:"due" ch:"due"`
	AtRisk bool       `json:"at_risk" ch:"-"`
	// Blocked, Stalled and Expedited say whether the item is so now;
	// BlockedDays and StalledDays count its time so far.
	Blocked     bool    `json:"blocked" ch:"-"`
	Stalled     bool    `json:"stalled" ch:"-"`
	Expedited   bool    `json:"expedited" ch:"-"`
	BlockedDays float64 `json:"blocked_days" ch:"-"`
	StalledDays float64 `json:"stalled_days" ch:"-"`
}

// ExpectFinish fills each item's 85% expected finish from the cycle times
// (days) of finished items: the 85th percentile of those at least as old
// as the item, counted from its start.
func ExpectFinish(items []AgingItem, cycles []float64) {
	sorted := append([]float64(nil), cycles...)
	sort.Float64s(sorted)
	for i := range items {
		at := sort.SearchFloat64s(sorted, items[i].AgeDays)
		longer := sorted[at:]
		if len(longer) < MinConfidentN {
			items[i].ExpectedFinishP85 = nil
			// Older than almost everything: at risk once its due date
			// passed, the history cannot say more.
			items[i].AtRisk = items[i].Due != nil && items[i].Due.Before(items[i].StartedAt.Add(time.Duration(items[i].AgeDays*24*float64(time.Hour))))
			continue
		}
		p85 := NearestRank(longer, 85)
		d := day(items[i].StartedAt.Add(time.Duration(p85 * 24 * float64(time.Hour))))
		items[i].ExpectedFinishP85 = &d
		items[i].AtRisk = items[i].Due != nil && d > day(*items[i].Due)
	}
}

// CyclePoint is one done issue on the cycle-time scatterplot.
type CyclePoint struct {
	Key       string    `json:"key" ch:"issue_key"`
	Summary   string    `json:"summary" ch:"summary"`
	Type      string    `json:"type" ch:"issue_type"`
	DoneAt    time.Time `json:"done_at" ch:"done"`
	CycleDays float64   `json:"cycle_time_days" ch:"cycle_days"`
}

// lastDateTime is the last second a ClickHouse DateTime holds (2106): a
// range to it has no end.
var lastDateTime = time.Unix(math.MaxUint32, 0).UTC()

// doneIn is the condition "done in the filter's range", on
// assumeNotNull(done_at): the sorting key of issues_done, whose index
// selects the range's granules (Filter.doneIssues).
func doneIn(f Filter) (string, []any) {
	return "done_at IS NOT NULL AND assumeNotNull(done_at) >= toDateTime(?) AND assumeNotNull(done_at) < toDateTime(?)", []any{unix(f.From), unix(f.To)}
}

// Flow computes lead and cycle time of the issues done in the period,
// weekly throughput and the lead-time histogram in one pass over the issues,
// and WIP, aging and the scatterplot's points in queries run alongside.
func (s *Service) Flow(ctx context.Context, f Filter) (Flow, error) { return s.flow(ctx, f, true) }

// flow computes the flow measures; impeded: with each aging item's
// impediments (a replay the callers that only want the statistics skip).
func (s *Service) flow(ctx context.Context, f Filter, impeded bool) (Flow, error) {
	from, args := f.doneIssues()
	out := Flow{From: day(f.From), To: day(f.To)}
	var inProgress []ImpededIssue
	err := parallel(
		func() error { return s.flowPass(ctx, f, from, args, &out) },
		func() (err error) { out.WIP, err = s.WIPAt(ctx, f, s.Now().UTC()); return },
		func() (err error) { out.Aging, err = s.Aging(ctx, f); return },
		func() (err error) {
			if impeded {
				inProgress, err = s.impeded(ctx, f, inProgressNow)
			}
			return
		},
		func() error {
			var pts []CyclePoint
			// Aliases must not reuse a column's name: ClickHouse would read
			// the alias (never null) in WHERE.
			// Beyond MaxCyclePoints, a uniform sample, not the first ones
			// done: the chart stays fair (and sorting only the sample halves
			// the cost at 500k issues).
			issues := cat(f.doneIssuesFrom(), " WHERE started_at IS NOT NULL")
			sel := cat(`SELECT issue_key, summary, issue_type, assumeNotNull(done_at) AS done,
				(`+schema.CycleSeconds+`) / 86400 AS cycle_days
				FROM `, issues, uniformSample(issues, MaxCyclePoints))
			if err := s.DB.Select(ctx, &pts, sel.text, sel.args...); err != nil {
				return fmt.Errorf("cycle points: %w", err)
			}
			for i := range pts {
				pts[i].CycleDays = round(pts[i].CycleDays)
				pts[i].DoneAt = pts[i].DoneAt.UTC()
			}
			if pts == nil {
				pts = []CyclePoint{}
			}
			sort.Slice(pts, func(i, j int) bool {
				if !pts[i].DoneAt.Equal(pts[j].DoneAt) {
					return pts[i].DoneAt.Before(pts[j].DoneAt)
				}
				return pts[i].Key < pts[j].Key
			})
			out.Points = pts
			return nil
		},
	)
	out.PointsSampled = out.CycleTime.N > len(out.Points)
	if err == nil {
		cycles := make([]float64, len(out.Points))
		for i, p := range out.Points {
			cycles[i] = p.CycleDays
		}
		ExpectFinish(out.Aging, cycles)
		out.trust()
		imp := map[string]ImpededIssue{}
		for _, is := range inProgress {
			imp[is.Key] = is
		}
		for i := range out.Aging {
			if is, ok := imp[out.Aging[i].Key]; ok {
				a := &out.Aging[i]
				a.Blocked, a.Stalled, a.Expedited, a.BlockedDays, a.StalledDays = is.Blocked, is.Stalled, is.Expedited, is.BlockedDays, is.StalledDays
			}
		}
	}
	return out, err
}

// inProgressCond is the condition "in progress now" on a started issue.
const inProgressCond = "done_at IS NULL AND status_category != 'done'"

// MaxCyclePoints is how many issues the cycle-time scatterplot shows at most.
const MaxCyclePoints = 5000

// StatusTimes replays where the issues done in the period spent their time
// and computes their flow efficiency. It reads every transition of those
// issues: slower than Flow, so it is a call of its own.
func (s *Service) StatusTimes(ctx context.Context, f Filter) (StatusTimes, error) {
	out := StatusTimes{From: day(f.From), To: day(f.To), WaitStatuses: append([]string{}, f.WaitStatuses...)}
	var cycle int64
	err := parallel(
		func() (err error) { out.TimeInStatus, err = s.TimeInStatus(ctx, f); return },
		func() error {
			from, args := f.doneIssues()
			q := "SELECT toInt64(sum(" + schema.CycleSeconds + ")) FROM " + from + " WHERE started_at IS NOT NULL"
			if err := s.DB.QueryRow(ctx, q, args, &cycle); err != nil {
				return fmt.Errorf("cycle time: %w", err)
			}
			return nil
		},
	)
	if err != nil {
		return out, err
	}
	wait := map[string]bool{}
	for _, w := range f.WaitStatuses {
		wait[strings.ToLower(w)] = true
	}
	var active, waiting int64
	for _, st := range out.TimeInStatus {
		if st.Category != "indeterminate" {
			continue
		}
		if wait[strings.ToLower(st.Status)] {
			waiting += st.Total
		} else {
			active += st.Total
		}
	}
	out.ActiveDays, out.WaitDays, out.CycleDays = round(float64(active)/86400), round(float64(waiting)/86400), round(float64(cycle)/86400)
	if cycle > 0 {
		out.FlowEfficiency = ptr(round(float64(active) / float64(cycle)))
	}
	return out, nil
}

// flowPass computes the lead and cycle time, weekly throughput, the
// lead-time histogram and the caveats of the issues done in the period in
// one query: over whole days from the times per day (done_times), else, or
// when none are there, from the issues (from).
func (s *Service) flowPass(ctx context.Context, f Filter, from string, args []any, out *Flow) error {
	var lc leadCycle
	var weeks, hist []any
	dest := append(append(lc.dest(), &weeks, &hist), out.caveats.dest()...)
	if f.wholeDays() {
		conds, cargs := f.timesConds()
		q := `SELECT ` + timesAggregates + `,
			sumMap([toMonday(day)], [toUInt64(length(leads))]) AS weeks,
			sumMap(arrayMap(l -> intDiv(l, 86400), leads), arrayMap(l -> toUInt64(1), leads)) AS hist,
			sum(resolved_before_created), sum(change_before_created), sum(done_before_started), sum(reopened), sum(moved_back)
			FROM done_times WHERE ` + conds
		if err := s.DB.QueryRow(ctx, q, cargs, dest...); err != nil {
			return fmt.Errorf("flow: %w", err)
		}
	}
	if lc.n == 0 {
		q := `SELECT ` + leadCycleAggregates + `,
			sumMap([wk], [toUInt64(1)]) AS weeks, sumMap([intDiv(lead, 86400)], [toUInt64(1)]) AS hist,
			countIf(rbc), countIf(cbc), countIf(dbs), countIf(reo), countIf(mbk)
			FROM (` + doneRows(from, "toMonday(assumeNotNull(done_at)) AS wk, "+schema.FlowCaveats) + `)`
		if err := s.DB.QueryRow(ctx, q, args, dest...); err != nil {
			return fmt.Errorf("flow: %w", err)
		}
	}
	out.LeadTime, out.CycleTime = lc.stats()
	counts := map[string]int{}
	if len(weeks) == 2 {
		ws, _ := weeks[0].([]time.Time)
		ns, _ := weeks[1].([]uint64)
		for i := range ws {
			if i < len(ns) {
				counts[day(ws[i])] = int(ns[i])
			}
		}
	}
	out.Throughput = []WeekCount{}
	for _, w := range Week.Buckets(f.From, f.To) {
		out.Throughput = append(out.Throughput, WeekCount{Week: day(w), Count: counts[day(w)]})
	}
	out.LeadHistogram = []DayBin{}
	if len(hist) == 2 {
		ds, _ := hist[0].([]int64)
		ns, _ := hist[1].([]uint64)
		for i := range ds {
			if i < len(ns) {
				out.LeadHistogram = append(out.LeadHistogram, DayBin{Days: int(ds[i]), Count: int(ns[i])})
			}
		}
	}
	return nil
}

// doneRows is a subquery of the issues done (from: Filter.doneIssues)
// with their lead and cycle time in seconds and whether they were started
// (cycle time counts only then), and one more column, extra.
func doneRows(from, extra string) string {
	return `SELECT ` + schema.LeadSeconds + ` AS lead, started_at IS NOT NULL AS started, ` + schema.CycleSeconds + ` AS cyc,
		` + extra + ` FROM ` + from
}

// leadCycleAggregates are the statistics of lead and cycle time over
// doneRows, in the order leadCycle.dest scans them.
const leadCycleAggregates = `count() AS n, toInt64(sum(lead)) AS lead_sum, quantilesExact(` + nearestRankLevels + `)(lead) AS lead_q,
	countIf(started) AS cn, toInt64(sumIf(cyc, started)) AS cyc_sum, quantilesExactIf(` + nearestRankLevels + `)(cyc, started) AS cyc_q`

// timesAggregates are leadCycleAggregates over done_times.
const timesAggregates = `sum(length(leads)) AS n, toInt64(sum(arraySum(leads))) AS lead_sum, quantilesExactArray(` + nearestRankLevels + `)(leads) AS lead_q,
	sum(length(cycles)) AS cn, toInt64(sum(arraySum(cycles))) AS cyc_sum, quantilesExactArray(` + nearestRankLevels + `)(cycles) AS cyc_q`

// leadCycle receives leadCycleAggregates (or timesAggregates).
type leadCycle struct {
	n, cn           uint64
	leadSum, cycSum int64
	leadQ, cycQ     []int64
}

func (l *leadCycle) dest() []any {
	return []any{&l.n, &l.leadSum, &l.leadQ, &l.cn, &l.cycSum, &l.cycQ}
}

func (l *leadCycle) stats() (lead, cycle Stats) {
	return statsFromQuantiles(l.n, l.leadSum, l.leadQ), statsFromQuantiles(l.cn, l.cycSum, l.cycQ)
}

// parallel runs queries at once and returns the first error.
func parallel(fns ...func() error) error {
	errs := make(chan error, len(fns))
	for _, fn := range fns {
		go func(fn func() error) { errs <- fn() }(fn)
	}
	var first error
	for range fns {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// DailyThroughput counts issues done per day in [from, to), zeros included.
// Over whole days and the dimensions the read model's aggregates carry, it
// reads the per-day counts (done_daily); with a label or key filter, a
// range not on midnight UTC, or nothing counted there (none done, or a
// generation an earlier version recorded: schema.WholePieces), it counts
// the issues' done dates.
func (s *Service) DailyThroughput(ctx context.Context, f Filter) ([]int, error) {
	var rows []struct {
		Day   time.Time `ch:"d"`
		Count uint64    `ch:"n"`
	}
	if f.wholeDays() {
		conds, args := f.dailyConds()
		q := `SELECT day AS d, toUInt64(sum(done)) AS n FROM done_daily WHERE ` + conds + ` GROUP BY d`
		if err := s.DB.Select(ctx, &rows, q, args...); err != nil {
			return nil, fmt.Errorf("daily throughput: %w", err)
		}
	}
	if len(rows) == 0 {
		from, args := f.doneIssues()
		q := `SELECT toDate(assumeNotNull(done_at)) AS d, count() AS n FROM ` + from + ` GROUP BY d`
		if err := s.DB.Select(ctx, &rows, q, args...); err != nil {
			return nil, fmt.Errorf("daily throughput: %w", err)
		}
	}
	counts := map[string]int{}
	for _, r := range rows {
		counts[day(r.Day)] = int(r.Count)
	}
	var out []int
	for d := f.From.UTC().Truncate(24 * time.Hour); d.Before(f.To); d = d.AddDate(0, 0, 1) {
		out = append(out, counts[day(d)])
	}
	return out, nil
}

// WeeklyThroughput is the flow's weekly throughput (Flow.Throughput, the
// weeks of Week.Buckets) from the per-day counts (DailyThroughput): what
// the process behaviour chart of throughput needs, without the rest of
// the flow.
func (s *Service) WeeklyThroughput(ctx context.Context, f Filter) ([]WeekCount, error) {
	daily, err := s.DailyThroughput(ctx, f)
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	first := f.From.UTC().Truncate(24 * time.Hour)
	for i, n := range daily {
		counts[day(Week.Start(first.AddDate(0, 0, i)))] += n
	}
	out := []WeekCount{}
	for _, w := range Week.Buckets(f.From, f.To) {
		out = append(out, WeekCount{Week: day(w), Count: counts[day(w)]})
	}
	return out, nil
}

// WIPAt counts issues started at or before t and not done by t: those
// without a completion among the open issues, those done since among the
// done ones.
func (s *Service) WIPAt(ctx context.Context, f Filter, t time.Time) (int, error) {
	var n uint64
	started := frag(" WHERE started_at IS NOT NULL AND started_at <= toDateTime(?)", unix(t))
	q := cat("SELECT sum(n) FROM (SELECT count() AS n FROM ", f.openIssuesFrom(), started, " AND done_at IS NULL UNION ALL SELECT count() AS n FROM ",
		f.doneSince(t.Add(time.Second)), started, ")")
	if err := s.DB.QueryRow(ctx, q.text, q.args, &n); err != nil {
		return 0, fmt.Errorf("wip: %w", err)
	}
	return int(n), nil
}

// Aging lists the issues in progress now, oldest first.
func (s *Service) Aging(ctx context.Context, f Filter) ([]AgingItem, error) {
	from, args := f.openIssues()
	var items []AgingItem
	q := `SELECT issue_key, summary, status_name, assumeNotNull(started_at) AS started, toDateTime(due_date) AS due FROM ` + from +
		` WHERE started_at IS NOT NULL AND ` + inProgressCond + ` ORDER BY started, issue_key LIMIT 2000`
	if err := s.DB.Select(ctx, &items, q, args...); err != nil {
		return nil, fmt.Errorf("aging: %w", err)
	}
	now := s.Now().UTC()
	for i := range items {
		items[i].StartedAt = items[i].StartedAt.UTC()
		items[i].AgeDays = daysSince(now, items[i].StartedAt)
		if items[i].Due != nil {
			d := items[i].Due.UTC()
			items[i].Due = &d
		}
	}
	if items == nil {
		items = []AgingItem{}
	}
	return items, nil
}

// CFD is a cumulative flow diagram: per day, the issues in each category
// (or status) at the end of the day.
type CFD struct {
	Days   []string         `json:"days"`
	Series map[string][]int `json:"series"`
	By     string           `json:"by"`
}

// CumulativeFlow sums the daily changes of each state into counts per
// day. by is "category" or "status". The read model keeps the changes per
// day and dimension (cfd_daily); a filter on labels or keys replays the
// transitions of the matching issues instead.
func (s *Service) CumulativeFlow(ctx context.Context, f Filter, by string) (CFD, error) {
	kind := "category"
	if by == "status" {
		kind = "status"
	}
	var q string
	var qargs []any
	if !f.perIssue() {
		conds, args := f.dimConds()
		q = `SELECT day AS d, state, toInt64(sum(delta)) AS delta FROM cfd_daily WHERE ` + strings.Join(conds, " AND ") +
			` AND kind = ? AND day < toDate(?) GROUP BY d, state ORDER BY d`
		qargs = append(args, kind, day(f.To))
	} else {
		// The matching issues' own contributions (schema.FlowEvents, as
		// cfd_daily sums them for everyone).
		from, args := f.issues()
		q = `SELECT tupleElement(e, 2) AS d, tupleElement(e, 3) AS state, sum(tupleElement(e, 4)) AS delta
			FROM ` + from + ` ARRAY JOIN ` + schema.FlowEvents + ` AS e
			WHERE tupleElement(e, 1) = ? AND d < toDate(?) GROUP BY d, state ORDER BY d`
		qargs = append(append([]any{}, args...), kind, day(f.To))
	}
	var rows []struct {
		Day   time.Time `ch:"d"`
		State string    `ch:"state"`
		Delta int64     `ch:"delta"`
	}
	if err := s.DB.Select(ctx, &rows, q, qargs...); err != nil {
		return CFD{}, fmt.Errorf("cumulative flow: %w", err)
	}
	out := CFD{Series: map[string][]int{}, By: by}
	if by != "status" {
		out.By = "category"
	}
	var days []time.Time
	for d := f.From.UTC().Truncate(24 * time.Hour); d.Before(f.To); d = d.AddDate(0, 0, 1) {
		days = append(days, d)
		out.Days = append(out.Days, day(d))
	}
	states := map[string]bool{}
	for _, r := range rows {
		states[r.State] = true
	}
	names := make([]string, 0, len(states))
	for st := range states {
		names = append(names, st)
	}
	sort.Strings(names)
	running := map[string]int64{}
	k := 0
	for _, st := range names {
		out.Series[st] = make([]int, len(days))
	}
	for i, d := range days {
		for k < len(rows) && !rows[k].Day.UTC().After(d) {
			running[rows[k].State] += rows[k].Delta
			k++
		}
		for _, st := range names {
			out.Series[st][i] = int(running[st])
		}
	}
	return out, nil
}

// StatusTime is how long the issues done in a period spent in one status.
type StatusTime struct {
	Status     string  `json:"status" ch:"st"`
	Category   string  `json:"category" ch:"cat"`
	Visits     int     `json:"visits" ch:"-"`
	TotalDays  float64 `json:"total_days" ch:"-"`
	MeanDays   float64 `json:"mean_days" ch:"-"`
	MedianDays float64 `json:"median_days" ch:"-"`
	N          uint64  `json:"-" ch:"n"`
	Total      int64   `json:"-" ch:"total"`
	Median     int64   `json:"-" ch:"med"`
}

// TimeInStatus sums where the issues done in the period spent their time:
// every stay in a status, from entering it to leaving it (the first from
// creation), summed, averaged and its median (nearest rank). The read
// model keeps the stays by day (status_stays); a filter on labels or keys
// replays the matching issues' histories instead.
func (s *Service) TimeInStatus(ctx context.Context, f Filter) ([]StatusTime, error) {
	var q string
	var args []any
	if !f.perIssue() {
		conds, dargs := f.dimConds()
		q = `SELECT status AS st, category AS cat, toUInt64(sum(visits)) AS n, toInt64(sum(seconds_total)) AS total,
			toInt64(quantileExactArray(0.49999999999)(seconds)) AS med FROM status_stays
			WHERE ` + strings.Join(conds, " AND ") + ` AND day >= toDate(?) AND day < toDate(?)
			GROUP BY st, cat ORDER BY total DESC, st`
		args = append(dargs, day(f.From), day(f.To))
	} else {
		var from string
		from, args = f.doneIssues()
		q = `SELECT st, cat, count() AS n, toInt64(sum(secs)) AS total, toInt64(quantileExact(0.49999999999)(secs)) AS med FROM (
			SELECT tupleElement(stay, 1) AS st, tupleElement(stay, 2) AS cat, tupleElement(stay, 3) AS secs
			FROM (SELECT arrayJoin(` + schema.Stays + `) AS stay FROM ` + from + `))
			GROUP BY st, cat ORDER BY total DESC, st`
	}
	var rows []StatusTime
	if err := s.DB.Select(ctx, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("time in status: %w", err)
	}
	for i := range rows {
		r := &rows[i]
		r.Visits = int(r.N)
		r.TotalDays = round(float64(r.Total) / 86400)
		if r.N > 0 {
			r.MeanDays = round(float64(r.Total) / float64(r.N) / 86400)
		}
		r.MedianDays = round(float64(r.Median) / 86400)
	}
	if rows == nil {
		rows = []StatusTime{}
	}
	return rows, nil
}
