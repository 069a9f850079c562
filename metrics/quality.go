package metrics

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/evident-ebm/evident/schema"
)

// Quality is the Ability-to-Innovate side of the work: defects, incidents,
// innovation rate and technical debt.
type Quality struct {
	Period          Period       `json:"period"`
	Defects         []DefectFlow `json:"defects"`
	OpenDefects     int          `json:"open_defects"`
	Incidents       int          `json:"incidents"`
	TimeToRepair    Stats        `json:"time_to_repair_days"`
	InnovationRate  *float64     `json:"innovation_rate"`
	DoneIssues      int          `json:"done_issues"`
	DoneFeatures    int          `json:"done_features"`
	TechnicalDebt   int          `json:"technical_debt_open"`
	InnovationTrend []RateTrend  `json:"innovation_trend"`
}

// DefectFlow is bugs created and resolved in one period.
type DefectFlow struct {
	Period   string `json:"period"`
	Created  int    `json:"created"`
	Resolved int    `json:"resolved"`
}

// RateTrend is a share per period with the count it rests on.
type RateTrend struct {
	Period string   `json:"period"`
	Rate   *float64 `json:"rate"`
	N      int      `json:"n"`
}

// debtLabels mark technical debt on any issue type.
var debtLabels = []string{"tech-debt", "technical-debt", "techdebt", "debt"}

// Quality computes defect trends, incidents and their time to repair,
// innovation rate and open technical debt for the period, in four queries
// run at once.
func (s *Service) Quality(ctx context.Context, f Filter, p Period) (Quality, error) {
	return s.qualityOf(ctx, f, p, true)
}

// qualityOf is Quality; without trends, the defects created and resolved
// per period are not counted (out.Defects is empty).
func (s *Service) qualityOf(ctx context.Context, f Filter, p Period, trends bool) (Quality, error) {
	out := Quality{Period: p}
	doneFrom, dargs := f.doneIssues()
	start := p.sqlStart()
	var flows []struct {
		Period   time.Time `ch:"p"`
		Created  uint64    `ch:"created"`
		Resolved uint64    `ch:"resolved"`
	}
	var open, debt uint64
	var trend []struct {
		Period   time.Time `ch:"p"`
		N        uint64    `ch:"n"`
		Features uint64    `ch:"features"`
	}
	err := parallel(
		func() error {
			if !trends {
				return nil
			}
			// Over whole days from the daily aggregates: a day's
			// cumulative-flow changes by category sum to the issues created
			// that day (each move is −1 and +1 on one day), and the per-day
			// counts give those done. Without any done there (none was, or
			// the generation's pieces may lack the counts), from the issues.
			if f.wholeDays() {
				dims, dimArgs := f.dimConds()
				days := frag(" AND work_category = 'defect' AND day >= toDate(?) AND day < toDate(?)", day(f.From), day(f.To))
				conds, cargs := f.dailyConds()
				sel := cat(`SELECT p, sum(c) AS created, sum(r) AS resolved FROM (
					SELECT `+start+`(day) AS p, toUInt64(sum(delta)) AS c, toUInt64(0) AS r FROM cfd_daily WHERE `, frag(strings.Join(dims, " AND "), dimArgs...), days, ` AND kind = 'category' GROUP BY p
					UNION ALL
					SELECT `+start+`(day) AS p, toUInt64(0) AS c, sum(done) AS r FROM done_daily WHERE `, frag(conds, cargs...), ` AND work_category = 'defect' GROUP BY p
				) GROUP BY p ORDER BY p`)
				if err := s.DB.Select(ctx, &flows, sel.text, sel.args...); err != nil {
					return fmt.Errorf("defect trend: %w", err)
				}
				for _, fl := range flows {
					if fl.Resolved > 0 {
						return nil
					}
				}
				flows = nil
			}
			sel := cat(`SELECT p, sum(c) AS created, sum(r) AS resolved FROM (
				SELECT `+start+`(created_at) AS p, toUInt64(1) AS c, toUInt64(0) AS r FROM `, f.issuesFrom(), `
				WHERE work_category = 'defect' AND `, frag("created_at >= toDateTime(?) AND created_at < toDateTime(?)", unix(f.From), unix(f.To)), `
				UNION ALL
				SELECT `+start+`(assumeNotNull(done_at)) AS p, toUInt64(0) AS c, toUInt64(1) AS r FROM `, f.doneIssuesFrom(), `
				WHERE work_category = 'defect'
			) GROUP BY p ORDER BY p`)
			if err := s.DB.Select(ctx, &flows, sel.text, sel.args...); err != nil {
				return fmt.Errorf("defect trend: %w", err)
			}
			return nil
		},
		func() error {
			// Open at the end of the range: created before it and not
			// done by then (today: not done). Those without a completion
			// from the open issues, those done since from the done ones.
			counts := "SELECT countIf(work_category = 'defect') AS d, countIf(work_category = 'debt' OR hasAny(labels, ?)) AS b FROM "
			created := frag(" WHERE created_at < toDateTime(?)", unix(f.To))
			q := cat("SELECT sum(d), sum(b) FROM (", frag(counts, debtLabels), f.openIssuesFrom(), created, " AND done_at IS NULL UNION ALL ",
				frag(counts, debtLabels), f.doneSince(f.To), created, ")")
			if err := s.DB.QueryRow(ctx, q.text, q.args, &open, &debt); err != nil {
				return fmt.Errorf("open defects and debt: %w", err)
			}
			return nil
		},
		func() (err error) {
			// The incidents' lead time: from the times per day as the
			// flow's (flowPass).
			if f.wholeDays() {
				conds, cargs := f.timesConds()
				var lc leadCycle
				if err := s.DB.QueryRow(ctx, "SELECT "+timesAggregates+" FROM done_times WHERE "+conds+" AND work_category = 'incident'", cargs, lc.dest()...); err != nil {
					return fmt.Errorf("time to repair: %w", err)
				}
				if lc.n > 0 {
					out.TimeToRepair, _ = lc.stats()
					return nil
				}
			}
			out.TimeToRepair, err = s.stats(ctx, schema.LeadSeconds, doneFrom, dargs, "work_category = 'incident'")
			return
		},
		func() error {
			// From the per-day counts where they answer; else (none
			// there) from the issues.
			if f.wholeDays() {
				conds, dargs := f.dailyConds()
				q := `SELECT ` + start + `(day) AS p, sum(done) AS n, sumIf(done, work_category = 'feature') AS features FROM done_daily
					WHERE ` + conds + ` GROUP BY p ORDER BY p`
				if err := s.DB.Select(ctx, &trend, q, dargs...); err != nil {
					return fmt.Errorf("innovation trend: %w", err)
				}
				if len(trend) > 0 {
					return nil
				}
			}
			q := `SELECT ` + start + `(assumeNotNull(done_at)) AS p, count() AS n, countIf(work_category = 'feature') AS features FROM ` + doneFrom +
				` GROUP BY p ORDER BY p`
			if err := s.DB.Select(ctx, &trend, q, dargs...); err != nil {
				return fmt.Errorf("innovation trend: %w", err)
			}
			return nil
		},
	)
	if err != nil {
		return out, err
	}
	byPeriod := map[string][2]int{}
	for _, fl := range flows {
		byPeriod[day(fl.Period)] = [2]int{int(fl.Created), int(fl.Resolved)}
	}
	out.Defects = []DefectFlow{}
	for _, b := range p.Buckets(f.From, f.To) {
		if !trends {
			break
		}
		v := byPeriod[day(b)]
		out.Defects = append(out.Defects, DefectFlow{Period: day(b), Created: v[0], Resolved: v[1]})
	}
	out.OpenDefects, out.TechnicalDebt = int(open), int(debt)
	out.Incidents = out.TimeToRepair.N
	tm := map[string][2]uint64{}
	var done, features uint64
	for _, t := range trend {
		tm[day(t.Period)] = [2]uint64{t.N, t.Features}
		done += t.N
		features += t.Features
	}
	out.DoneIssues, out.DoneFeatures = int(done), int(features)
	if done > 0 {
		out.InnovationRate = ptr(round(float64(features) / float64(done)))
	}
	out.InnovationTrend = []RateTrend{}
	for _, b := range p.Buckets(f.From, f.To) {
		v := tm[day(b)]
		rt := RateTrend{Period: day(b), N: int(v[0])}
		if v[0] > 0 {
			rt.Rate = ptr(round(float64(v[1]) / float64(v[0])))
		}
		out.InnovationTrend = append(out.InnovationTrend, rt)
	}
	return out, nil
}

// Releases is release frequency from project versions with a release date.
type Releases struct {
	Period           Period    `json:"period"`
	Released         int       `json:"released"`
	PerPeriod        []Count   `json:"per_period"`
	DaysBetween      Stats     `json:"days_between_releases"`
	Versions         []Version `json:"versions"`
	ReleasesPerMonth *float64  `json:"releases_per_month"`
}

// Version is one released fix version.
type Version struct {
	Project     string    `json:"project" ch:"project_key"`
	Name        string    `json:"name" ch:"name"`
	ReleaseDate time.Time `json:"release_date" ch:"released_on"`
}

// Releases counts released versions per period and the days between them.
func (s *Service) Releases(ctx context.Context, f Filter, p Period) (Releases, error) {
	out := Releases{Period: p, PerPeriod: []Count{}}
	conds := "released = 1 AND archived = 0 AND release_date IS NOT NULL AND release_date >= toDate(toDateTime(?)) AND release_date < toDate(toDateTime(?))"
	args := []any{unix(f.From), unix(f.To)}
	if f.Site != "" {
		conds += " AND site = ?"
		args = append(args, f.Site)
	}
	if f.Project != "" {
		conds += " AND project_key = ?"
		args = append(args, f.Project)
	}
	var vs []Version
	q := "SELECT project_key, name, toDateTime(assumeNotNull(release_date)) AS released_on FROM releases FINAL WHERE " + conds + " ORDER BY released_on, name"
	if err := s.DB.Select(ctx, &vs, q, args...); err != nil {
		return out, fmt.Errorf("releases: %w", err)
	}
	if vs == nil {
		vs = []Version{}
	}
	out.Versions, out.Released = vs, len(vs)
	counts := map[string]int{}
	var gaps []float64
	for i, v := range vs {
		counts[day(p.Start(v.ReleaseDate))]++
		if i > 0 {
			gaps = append(gaps, v.ReleaseDate.Sub(vs[i-1].ReleaseDate).Hours()/24)
		}
	}
	for _, b := range p.Buckets(f.From, f.To) {
		out.PerPeriod = append(out.PerPeriod, Count{Period: day(b), Count: counts[day(b)]})
	}
	out.DaysBetween = statsOf(gaps)
	if months := f.To.Sub(f.From).Hours() / 24 / 30.4375; months > 0 {
		out.ReleasesPerMonth = ptr(round(float64(len(vs)) / months))
	}
	return out, nil
}

// statsOf computes Stats of values already in days, in Go (for small sets).
func statsOf(vals []float64) Stats {
	st := Stats{N: len(vals), LowConfidence: len(vals) < MinConfidentN}
	if len(vals) == 0 {
		return st
	}
	sorted := append([]float64(nil), vals...)
	sortFloats(sorted)
	sum := 0.0
	for _, v := range sorted {
		sum += v
	}
	st.Mean = ptr(round(sum / float64(len(sorted))))
	st.P50, st.P70 = ptr(round(NearestRank(sorted, 50))), ptr(round(NearestRank(sorted, 70)))
	st.P85, st.P95 = ptr(round(NearestRank(sorted, 85))), ptr(round(NearestRank(sorted, 95)))
	return st
}
