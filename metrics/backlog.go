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

// BacklogRequest says which backlog to measure.
type BacklogRequest struct {
	TopN          int // the items at the top of the rank order (default 20)
	UntouchedDays int // items not updated for this long are stale (default 90)
}

// BacklogItem is one open item of the backlog.
type BacklogItem struct {
	Key           string    `json:"key" ch:"issue_key"`
	Summary       string    `json:"summary" ch:"summary"`
	Type          string    `json:"type" ch:"issue_type"`
	Priority      string    `json:"priority" ch:"priority"`
	Rank          string    `json:"-" ch:"rank"`
	Position      int       `json:"rank" ch:"-"`
	Points        *float64  `json:"story_points" ch:"story_points"`
	Value         *float64  `json:"business_value" ch:"business_value"`
	TimeCrit      *float64  `json:"time_criticality" ch:"time_criticality"`
	RiskRed       *float64  `json:"risk_reduction" ch:"risk_reduction"`
	JobSize       *float64  `json:"job_size" ch:"job_size"`
	WSJF          *float64  `json:"wsjf" ch:"-"`
	HasDesc       uint8     `json:"-" ch:"has_description"`
	HasAccept     uint8     `json:"-" ch:"has_acceptance"`
	Labels        []string  `json:"labels" ch:"labels"`
	Created       time.Time `json:"created_at" ch:"created_at"`
	Updated       time.Time `json:"updated_at" ch:"updated_at"`
	AgeDays       float64   `json:"age_days" ch:"-"`
	UntouchedDays float64   `json:"untouched_days" ch:"-"`
	Detailed      bool      `json:"detailed" ch:"-"`
}

// NamedCount is a count with a name.
type NamedCount struct {
	Name  string `json:"name" ch:"name"`
	Count int    `json:"count" ch:"-"`
	N     uint64 `json:"-" ch:"n"`
}

// BacklogFlow is how the backlog changed in one period.
type BacklogFlow struct {
	Period  string `json:"period"`
	Created int    `json:"created"`
	Refined int    `json:"refined"`
	Removed int    `json:"removed"`
}

// Backlog is the health of a product backlog: its size and age, and the
// DEEP qualities (detailed appropriately, estimated, emergent, prioritised).
type Backlog struct {
	Project         string        `json:"project"`
	TopN            int           `json:"top_n"`
	UntouchedAfter  int           `json:"untouched_after_days"`
	Open            int           `json:"open_items"`
	ByType          []NamedCount  `json:"by_type"`
	ByCategory      []NamedCount  `json:"by_work_category"`
	Age             Stats         `json:"age_days"`
	Untouched       int           `json:"untouched_items"`
	TopEstimated    *float64      `json:"top_estimated_share"`
	AllEstimated    *float64      `json:"all_estimated_share"`
	TopDescribed    *float64      `json:"top_with_description_share"`
	TopAcceptance   *float64      `json:"top_with_acceptance_share"`
	TopDetailed     *float64      `json:"top_detailed_share"`
	Emergent        []BacklogFlow `json:"emergent"`
	ReadyItems      int           `json:"ready_items"`
	ReadyPoints     float64       `json:"ready_points"`
	Velocity        *float64      `json:"recent_velocity"`
	ReadySprints    *float64      `json:"ready_sprints"`
	WSJFItems       int           `json:"wsjf_items"`
	RankVsWSJF      *float64      `json:"rank_wsjf_correlation"`
	PriorityMix     []NamedCount  `json:"top_priority_mix"`
	MoSCoW          []NamedCount  `json:"moscow_mix"`
	Top             []BacklogItem `json:"top_items"`
	OldestUntouched []BacklogItem `json:"oldest_untouched"`
	Unestimated     []BacklogItem `json:"unestimated_near_top"`
	HighWSJFLow     []BacklogItem `json:"high_wsjf_far_down"`
	Items           []BacklogItem `json:"items"`
	Truncated       bool          `json:"truncated"`
	// Trend holds the daily snapshots taken after syncs within [from, to).
	Trend []BacklogSnapshot `json:"trend"`
	// NextRelease is the project's next unreleased version, and the
	// priority and MoSCoW mix of the open items planned for it.
	NextRelease         string       `json:"next_release"`
	NextReleaseItems    int          `json:"next_release_items"`
	NextReleasePriority []NamedCount `json:"next_release_priority_mix"`
	NextReleaseMoSCoW   []NamedCount `json:"next_release_moscow_mix"`
}

// BacklogSnapshot is a backlog's DEEP shares on one day, stored after a sync.
type BacklogSnapshot struct {
	Site         string    `json:"-" ch:"site"`
	Project      string    `json:"-" ch:"project_key"`
	TakenOn      time.Time `json:"day" ch:"taken_on"`
	TopN         uint16    `json:"top_n" ch:"top_n"`
	OpenItems    uint32    `json:"open_items" ch:"open_items"`
	TopEstimated *float64  `json:"top_estimated_share" ch:"top_estimated"`
	TopDetailed  *float64  `json:"top_detailed_share" ch:"top_detailed"`
	AllEstimated *float64  `json:"all_estimated_share" ch:"all_estimated"`
	ReadyPoints  float64   `json:"ready_points" ch:"ready_points"`
	Version      uint64    `json:"-" ch:"version"`
}

// Snapshot is the row a sync stores for this backlog today.
func (b Backlog) Snapshot(site string, now time.Time) BacklogSnapshot {
	return BacklogSnapshot{Site: site, Project: b.Project, TakenOn: now.UTC().Truncate(24 * time.Hour), TopN: uint16(b.TopN),
		OpenItems: uint32(b.Open), TopEstimated: b.TopEstimated, TopDetailed: b.TopDetailed, AllEstimated: b.AllEstimated,
		ReadyPoints: b.ReadyPoints, Version: uint64(now.UnixNano())}
}

const backlogLimit = 10000

// Backlog measures the to-do items of a project (status category new,
// epics excluded from the "top" measures), in rank order.
func (s *Service) Backlog(ctx context.Context, f Filter, board uint64, req BacklogRequest, p Period) (Backlog, error) {
	if req.TopN <= 0 {
		req.TopN = 20
	}
	if req.UntouchedDays <= 0 {
		req.UntouchedDays = 90
	}
	out := Backlog{Project: f.Project, TopN: req.TopN, UntouchedAfter: req.UntouchedDays}
	base := f
	base.From, base.To = time.Time{}, time.Time{}
	where, args := base.where()
	open := where + " AND status_category = 'new'"
	now := s.Now().UTC()
	var items []BacklogItem
	// The velocity of the board's last three closed sprints, replayed
	// while the backlog is read.
	var recent []SprintReport
	recentDone := make(chan error, 1)
	if board != 0 {
		go func() {
			var err error
			recent, _, err = s.sprints(ctx, f.Site, board, 3)
			recentDone <- err
		}()
	} else {
		recentDone <- nil
	}
	err := parallel(
		func() error {
			q := `SELECT issue_key, summary, issue_type, priority, rank, story_points, business_value, time_criticality, risk_reduction, job_size,
				has_description, has_acceptance, labels, created_at, updated_at
				FROM ` + schema.OpenIssues + ` WHERE ` + open + ` ORDER BY rank, issue_key LIMIT ` + fmt.Sprint(backlogLimit+1)
			return s.DB.Select(ctx, &items, q, args...)
		},
		func() error {
			var rows []NamedCount
			if err := s.DB.Select(ctx, &rows, "SELECT issue_type AS name, count() AS n FROM "+schema.OpenIssues+" WHERE "+open+" GROUP BY name ORDER BY n DESC, name", args...); err != nil {
				return fmt.Errorf("backlog by type: %w", err)
			}
			out.ByType = finishCounts(rows)
			return nil
		},
		func() error {
			var rows []NamedCount
			if err := s.DB.Select(ctx, &rows, "SELECT work_category AS name, count() AS n FROM "+schema.OpenIssues+" WHERE "+open+" GROUP BY name ORDER BY n DESC, name", args...); err != nil {
				return fmt.Errorf("backlog by category: %w", err)
			}
			out.ByCategory = finishCounts(rows)
			return nil
		},
		func() (err error) {
			out.Age, err = s.stats(ctx, "toUInt32(toDateTime(?)) - toUInt32(created_at)", schema.OpenIssues, append([]any{unix(now)}, args...), open)
			return
		},
		func() (err error) {
			out.Emergent, err = s.backlogFlow(ctx, f, p)
			return
		},
		func() error { return s.nextRelease(ctx, base, &out) },
		func() error {
			site := frag("1")
			if f.Site != "" {
				site = frag("site = ?", f.Site)
			}
			sel := cat(`SELECT site, project_key, taken_on, top_n, open_items, top_estimated, top_detailed, all_estimated, ready_points, version
				FROM backlog_snapshots FINAL WHERE `, site, frag(` AND project_key = ? AND taken_on >= toDate(toDateTime(?)) AND taken_on < toDate(toDateTime(?))`,
				f.Project, unix(f.From), unix(f.To)), ` ORDER BY taken_on`)
			if err := s.DB.Select(ctx, &out.Trend, sel.text, sel.args...); err != nil {
				return fmt.Errorf("backlog trend: %w", err)
			}
			if out.Trend == nil {
				out.Trend = []BacklogSnapshot{}
			}
			return nil
		},
	)
	if err != nil {
		return out, fmt.Errorf("backlog: %w", err)
	}
	if len(items) > backlogLimit {
		items, out.Truncated = items[:backlogLimit], true
	}
	for i := range items {
		it := &items[i]
		it.Position = i + 1
		it.Created, it.Updated = it.Created.UTC(), it.Updated.UTC()
		it.AgeDays = daysSince(now, it.Created)
		it.UntouchedDays = daysSince(now, it.Updated)
		it.Detailed = it.HasDesc == 1 && it.HasAccept == 1 && it.Type != "Epic"
		if it.Value != nil && it.TimeCrit != nil && it.RiskRed != nil && it.JobSize != nil && *it.JobSize > 0 {
			w := round((*it.Value + *it.TimeCrit + *it.RiskRed) / *it.JobSize)
			it.WSJF = &w
		}
		if it.Labels == nil {
			it.Labels = []string{}
		}
	}
	out.Items = items
	out.Open = len(items)
	var estimated, wsjfN int
	moscow := map[string]int{}
	for _, it := range items {
		if it.Points != nil {
			estimated++
		}
		if it.UntouchedDays > float64(req.UntouchedDays) {
			out.Untouched++
		}
		if it.WSJF != nil {
			wsjfN++
		}
		for _, l := range it.Labels {
			switch strings.ToLower(l) {
			case "must-have", "should-have", "could-have", "wont-have", "won't-have":
				moscow[strings.ToLower(l)]++
			}
		}
	}
	out.WSJFItems = wsjfN
	if len(items) > 0 {
		out.AllEstimated = ptr(round(float64(estimated) / float64(len(items))))
	}
	// The top N: the first N non-epic items in rank order.
	var top []BacklogItem
	for _, it := range items {
		if it.Type != "Epic" && len(top) < req.TopN {
			top = append(top, it)
		}
	}
	out.Top = top
	if len(top) > 0 {
		var est, desc, acc, det int
		prio := map[string]int{}
		for _, it := range top {
			if it.Points != nil {
				est++
			}
			if it.HasDesc == 1 {
				desc++
			}
			if it.HasAccept == 1 {
				acc++
			}
			if it.Detailed {
				det++
			}
			prio[it.Priority]++
		}
		n := float64(len(top))
		out.TopEstimated, out.TopDescribed = ptr(round(float64(est)/n)), ptr(round(float64(desc)/n))
		out.TopAcceptance, out.TopDetailed = ptr(round(float64(acc)/n)), ptr(round(float64(det)/n))
		out.PriorityMix = mapCounts(prio)
	}
	out.MoSCoW = mapCounts(moscow)
	// Ready work: estimated and detailed items, in sprints of recent velocity.
	for _, it := range items {
		if it.Detailed && it.Points != nil {
			out.ReadyItems++
			out.ReadyPoints += *it.Points
		}
	}
	if board != 0 {
		if err := <-recentDone; err != nil {
			return out, err
		}
		closed := recent
		if len(closed) > 0 {
			sum := 0.0
			for _, sp := range closed {
				if sp.Velocity != nil {
					sum += *sp.Velocity
				}
			}
			v := round(sum / float64(len(closed)))
			out.Velocity = &v
			if v > 0 {
				out.ReadySprints = ptr(round(out.ReadyPoints / v))
			}
		}
	}
	out.RankVsWSJF = rankCorrelation(items)
	out.OldestUntouched = pickItems(items, func(it BacklogItem) bool { return it.UntouchedDays > float64(req.UntouchedDays) },
		func(a, b BacklogItem) bool { return a.UntouchedDays > b.UntouchedDays })
	out.Unestimated = pickItems(top, func(it BacklogItem) bool { return it.Points == nil }, nil)
	half := len(items) / 2
	var wsjfs []float64
	for _, it := range items {
		if it.WSJF != nil {
			wsjfs = append(wsjfs, *it.WSJF)
		}
	}
	sort.Float64s(wsjfs)
	if len(wsjfs) > 0 {
		p85 := NearestRank(wsjfs, 85)
		out.HighWSJFLow = pickItems(items, func(it BacklogItem) bool { return it.Position > half && it.WSJF != nil && *it.WSJF >= p85 },
			func(a, b BacklogItem) bool { return *a.WSJF > *b.WSJF })
	} else {
		out.HighWSJFLow = []BacklogItem{}
	}
	return out, nil
}

func finishCounts(rows []NamedCount) []NamedCount {
	for i := range rows {
		rows[i].Count = int(rows[i].N)
	}
	if rows == nil {
		return []NamedCount{}
	}
	return rows
}

func mapCounts(m map[string]int) []NamedCount {
	out := []NamedCount{}
	for k, v := range m {
		out = append(out, NamedCount{Name: k, Count: v})
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Count != out[b].Count {
			return out[a].Count > out[b].Count
		}
		return out[a].Name < out[b].Name
	})
	return out
}

func pickItems(items []BacklogItem, keep func(BacklogItem) bool, less func(a, b BacklogItem) bool) []BacklogItem {
	out := []BacklogItem{}
	for _, it := range items {
		if keep(it) {
			out = append(out, it)
		}
	}
	if less != nil {
		sort.SliceStable(out, func(a, b int) bool { return less(out[a], out[b]) })
	}
	if len(out) > 15 {
		out = out[:15]
	}
	return out
}

// rankCorrelation is Spearman's correlation between the backlog's rank
// order and WSJF order (highest WSJF first), over the items that have a
// WSJF score: 1 when the backlog is ordered by WSJF, −1 when reversed.
// Ties get their average position (Pearson's r on positions).
func rankCorrelation(items []BacklogItem) *float64 {
	var xs, ws []float64
	for _, it := range items {
		if it.WSJF != nil {
			xs = append(xs, float64(len(xs)+1))
			ws = append(ws, -*it.WSJF) // higher WSJF ranks first
		}
	}
	if len(xs) < 2 {
		return nil
	}
	ys := averageRanks(ws)
	r := pearson(xs, ys)
	if math.IsNaN(r) {
		return nil
	}
	return ptr(round(r))
}

func averageRanks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
	ranks := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && v[idx[j]] == v[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2 // positions i+1 … j, averaged
		for k := i; k < j; k++ {
			ranks[idx[k]] = avg
		}
		i = j
	}
	return ranks
}

func pearson(x, y []float64) float64 {
	n := float64(len(x))
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx, my = mx/n, my/n
	var sxy, sxx, syy float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
		syy += (y[i] - my) * (y[i] - my)
	}
	return sxy / math.Sqrt(sxx*syy)
}

// backlogFlow counts, per period, the items created, refined (changed while
// in the backlog: any change but a rank move) and removed (closed straight
// from to-do, never started).
func (s *Service) backlogFlow(ctx context.Context, f Filter, p Period) ([]BacklogFlow, error) {
	base := f
	base.From, base.To = time.Time{}, time.Time{}
	from := base.issuesFrom()
	dims, dargs := base.readModelWhere()
	start := p.sqlStart()
	in := func(col string) sqlf {
		return frag(col+" >= toDateTime(?) AND "+col+" < toDateTime(?)", unix(f.From), unix(f.To))
	}
	sel := cat(`SELECT p, sum(c) AS created, sum(r) AS refined, sum(x) AS removed FROM (
		SELECT `+start+`(created_at) AS p, toUInt64(1) AS c, toUInt64(0) AS r, toUInt64(0) AS x FROM `, from, `
			WHERE `, in("created_at"), `
		UNION ALL
		SELECT p, toUInt64(0) AS c, toUInt64(uniqExact(issue_id)) AS r, toUInt64(0) AS x FROM (
			SELECT `+start+`(day) AS p, issue_id FROM refinement_days
			WHERE `, frag(dims, dargs...), ` AND `, frag("day >= toDate(toDateTime(?)) AND day < toDate(toDateTime(?))", unix(f.From), unix(f.To)), `)
			GROUP BY p
		UNION ALL
		SELECT `+start+`(at) AS p, toUInt64(0) AS c, toUInt64(0) AS r, toUInt64(1) AS x FROM `, from, `
			ARRAY JOIN history_at AS at, history_from_category AS fc, history_to_category AS tc
			WHERE fc = 'new' AND tc = 'done' AND `, in("at"), `
	) GROUP BY p ORDER BY p`)
	var rows []struct {
		Period  time.Time `ch:"p"`
		Created uint64    `ch:"created"`
		Refined uint64    `ch:"refined"`
		Removed uint64    `ch:"removed"`
	}
	if err := s.DB.Select(ctx, &rows, sel.text, sel.args...); err != nil {
		return nil, fmt.Errorf("backlog flow: %w", err)
	}
	by := map[string]BacklogFlow{}
	for _, r := range rows {
		by[day(r.Period)] = BacklogFlow{Period: day(r.Period), Created: int(r.Created), Refined: int(r.Refined), Removed: int(r.Removed)}
	}
	out := []BacklogFlow{}
	for _, b := range p.Buckets(f.From, f.To) {
		v := by[day(b)]
		v.Period = day(b)
		out = append(out, v)
	}
	return out, nil
}

// nextRelease finds the project's next unreleased version (earliest release
// date, undated last) and the mix of the open items planned for it.
func (s *Service) nextRelease(ctx context.Context, f Filter, out *Backlog) error {
	out.NextReleasePriority, out.NextReleaseMoSCoW = []NamedCount{}, []NamedCount{}
	var names []struct {
		Name string `ch:"name"`
	}
	q := `SELECT name FROM releases FINAL WHERE project_key = ? AND released = 0 AND archived = 0
		ORDER BY ifNull(release_date, toDate('2105-01-01')), name LIMIT 1`
	if err := s.DB.Select(ctx, &names, q, f.Project); err != nil {
		return fmt.Errorf("next release: %w", err)
	}
	if len(names) == 0 {
		return nil
	}
	out.NextRelease = names[0].Name
	where, args := f.where()
	where += " AND status_category != 'done' AND has(fix_versions, ?)"
	args = append(args, out.NextRelease)
	var prio []NamedCount
	if err := s.DB.Select(ctx, &prio, "SELECT priority AS name, count() AS n FROM "+schema.OpenIssues+" WHERE "+where+" GROUP BY name ORDER BY n DESC, name", args...); err != nil {
		return fmt.Errorf("next release priorities: %w", err)
	}
	out.NextReleasePriority = finishCounts(prio)
	for _, p := range out.NextReleasePriority {
		out.NextReleaseItems += p.Count
	}
	var moscow []NamedCount
	q = `SELECT lower(label) AS name, count() AS n FROM (SELECT arrayJoin(labels) AS label FROM ` + schema.OpenIssues + ` WHERE ` + where + `)
		WHERE lower(label) IN ('must-have', 'should-have', 'could-have', 'wont-have', 'won''t-have') GROUP BY name ORDER BY n DESC, name`
	if err := s.DB.Select(ctx, &moscow, q, args...); err != nil {
		return fmt.Errorf("next release MoSCoW: %w", err)
	}
	out.NextReleaseMoSCoW = finishCounts(moscow)
	return nil
}

// BacklogSnapshots takes today's snapshot of each project's backlog on a
// site (its backlog board's, over the last 30 days): the only way to chart
// DEEP shares over time, as Jira's changelog does not say where an item
// ranked. A project that cannot be measured is left out, its error among
// those returned.
func (s *Service) BacklogSnapshots(ctx context.Context, site string, projects []string) ([]BacklogSnapshot, []error) {
	cat, err := s.Catalog(ctx)
	if err != nil {
		return nil, []error{err}
	}
	now := s.Now().UTC()
	var rows []BacklogSnapshot
	var errs []error
	for _, key := range projects {
		f := Filter{Site: site, Project: key, From: now.AddDate(0, 0, -30), To: now.AddDate(0, 0, 1)}
		b, err := s.Backlog(ctx, f, cat.BacklogBoard(site, key), BacklogRequest{}, Month)
		if err != nil {
			errs = append(errs, fmt.Errorf("project %s: %w", key, err))
			continue
		}
		rows = append(rows, b.Snapshot(site, now))
	}
	return rows, errs
}
