package metrics

import (
	"context"
	"fmt"
	"time"

	"github.com/evident-ebm/evident"
)

// Measure is one Key Value Measure with its current value, what it rests
// on and its trend.
type Measure struct {
	Key           string       `json:"key"`
	Name          string       `json:"name"`
	Value         *float64     `json:"value"`
	Unit          string       `json:"unit"`
	N             int          `json:"n"`
	LowConfidence bool         `json:"low_confidence"`
	Source        string       `json:"source"`
	Better        string       `json:"better"`
	Trend         []TrendPoint `json:"trend"`
}

// TrendPoint is a measure's value in one period.
type TrendPoint struct {
	Period string   `json:"period"`
	Value  *float64 `json:"value"`
	N      int      `json:"n"`
}

// KVA is one of the four Key Value Areas of Evidence-Based Management.
type KVA struct {
	Key      string    `json:"key"`
	Name     string    `json:"name"`
	Measures []Measure `json:"measures"`
}

// EBM is the four Key Value Areas for a product and period.
type EBM struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Period Period `json:"period"`
	KVAs   []KVA  `json:"kvas"`
}

// KVA keys.
const (
	CurrentValue      = evident.KVACurrentValue
	UnrealizedValue   = evident.KVAUnrealizedValue
	TimeToMarket      = evident.KVATimeToMarket
	AbilityToInnovate = evident.KVAAbilityToInnovate
)

// importedKVA says which KVA an imported measure belongs to, and whether
// higher is better; unknown names go to Current Value.
var importedKVA = map[string]struct {
	kva, better string
}{
	"revenue": {CurrentValue, "higher"}, "revenue_per_employee": {CurrentValue, "higher"}, "product_cost_ratio": {CurrentValue, "lower"},
	"customer_usage_index": {CurrentValue, "higher"}, "usage_index": {CurrentValue, "higher"}, "employee_satisfaction": {CurrentValue, "higher"},
	"cost": {CurrentValue, "lower"}, "employee_count": {CurrentValue, ""},
	"market_share": {UnrealizedValue, "higher"}, "satisfaction_gap": {UnrealizedValue, "lower"}, "desired_customer_experience": {UnrealizedValue, "higher"},
	"build_frequency": {TimeToMarket, "higher"}, "integration_frequency": {TimeToMarket, "higher"}, "time_to_learn": {TimeToMarket, "lower"},
	"release_stabilization_days": {TimeToMarket, "lower"},
	"on_product_index":           {AbilityToInnovate, "higher"}, "installed_version_index": {AbilityToInnovate, "higher"},
}

// doneTimes is the lead and cycle time of the issues done in the period:
// in ClickHouse, one pass over them for the whole period and one for the
// trend (the pct-th nearest-rank percentile per period).
func (s *Service) doneTimes(ctx context.Context, f Filter, p Period, pct int) (lead, cycle Stats, leadTrend, cycleTrend []TrendPoint, err error) {
	from, args := f.issues()
	cond, cargs := doneIn(f)
	all := append(append([]any{}, args...), cargs...)
	inner := doneRows(from, cond, p.sqlStart()+"(assumeNotNull(done_at)) AS p")
	var rows []struct {
		Period time.Time `ch:"p"`
		N      uint64    `ch:"n"`
		V      int64     `ch:"v"`
		CN     uint64    `ch:"cn"`
		CV     int64     `ch:"cv"`
	}
	err = parallel(
		func() error {
			var lc leadCycle
			if err := s.DB.QueryRow(ctx, "SELECT "+leadCycleAggregates+" FROM ("+inner+")", all, lc.dest()...); err != nil {
				return fmt.Errorf("lead and cycle time: %w", err)
			}
			lead, cycle = lc.stats()
			return nil
		},
		func() error {
			q := `SELECT p, count() AS n, toInt64(quantileExact(` + levelOf(pct) + `)(lead)) AS v,
				countIf(started) AS cn, toInt64(quantileExactIf(` + levelOf(pct) + `)(cyc, started)) AS cv
				FROM (` + inner + `) GROUP BY p ORDER BY p`
			if err := s.DB.Select(ctx, &rows, q, all...); err != nil {
				return fmt.Errorf("trend: %w", err)
			}
			return nil
		},
	)
	if err != nil {
		return
	}
	byP := map[string]int{}
	for i, r := range rows {
		byP[day(r.Period)] = i
	}
	leadTrend, cycleTrend = []TrendPoint{}, []TrendPoint{}
	for _, b := range p.Buckets(f.From, f.To) {
		lt, ct := TrendPoint{Period: day(b)}, TrendPoint{Period: day(b)}
		if i, ok := byP[day(b)]; ok {
			r := rows[i]
			lt.N, lt.Value = int(r.N), ptr(round(float64(r.V)/86400))
			if r.CN > 0 {
				ct.N, ct.Value = int(r.CN), ptr(round(float64(r.CV)/86400))
			}
		}
		leadTrend, cycleTrend = append(leadTrend, lt), append(cycleTrend, ct)
	}
	return
}

// EBM computes the four Key Value Areas: measures from Jira next to those
// from surveys and imported records. product names the product (a
// project key) whose surveys and records are shown.
func (s *Service) EBM(ctx context.Context, f Filter, product string, p Period) (EBM, error) {
	out := EBM{From: day(f.From), To: day(f.To), Period: p}
	cv := KVA{Key: CurrentValue, Name: "Current Value"}
	uv := KVA{Key: UnrealizedValue, Name: "Unrealized Value"}
	tm := KVA{Key: TimeToMarket, Name: "Time to Market"}
	ai := KVA{Key: AbilityToInnovate, Name: "Ability to Innovate"}

	// The measures come from independent queries: run them at once.
	var (
		val                   ValueDelivered
		sat                   Satisfaction
		lead, cycle           Stats
		leadTrend, cycleTrend []TrendPoint
		rel                   Releases
		q                     Quality
		recs                  []RecordSeries
	)
	err := parallel(
		func() (err error) { val, err = s.ValueDelivered(ctx, f, p); return },
		func() (err error) { sat, err = s.Satisfaction(ctx, product, f.From, f.To, p); return },
		func() (err error) {
			lead, cycle, leadTrend, cycleTrend, err = s.doneTimes(ctx, f, p, 85)
			return
		},
		func() (err error) { rel, err = s.Releases(ctx, f, p); return },
		func() (err error) { q, err = s.Quality(ctx, f, p); return },
		// Imported measures: their latest value as of the end of the period.
		func() (err error) { recs, err = s.ValueRecords(ctx, product, f.To.AddDate(-10, 0, 0), f.To); return },
	)
	if err != nil {
		return out, err
	}
	vm := Measure{Key: "value_delivered", Name: "Value delivered", Unit: "business value", N: val.WithValue, Source: "jira", Better: "higher"}
	if val.WithValue > 0 {
		vm.Value = ptr(val.Total)
	}
	vm.LowConfidence = val.WithValue < MinConfidentN
	for _, t := range val.Trend {
		tp := TrendPoint{Period: t.Period, N: t.Issues}
		if t.Issues > 0 {
			tp.Value = ptr(t.Value)
		}
		vm.Trend = append(vm.Trend, tp)
	}
	cv.Measures = append(cv.Measures, vm)

	npsM := Measure{Key: "nps", Name: "Net Promoter Score", Unit: "NPS", Value: sat.NPS.Score, N: sat.NPS.Responses, LowConfidence: sat.NPS.LowConfidence, Source: "survey", Better: "higher"}
	csatM := Measure{Key: "csat", Name: "Customer satisfaction (CSAT)", Unit: "% satisfied", Value: sat.CSAT.Score, N: sat.CSAT.Responses, LowConfidence: sat.CSAT.LowConfidence, Source: "survey", Better: "higher"}
	enpsM := Measure{Key: "employee_nps", Name: "Employee satisfaction (eNPS)", Unit: "eNPS", Value: sat.ENPS.Score, N: sat.ENPS.Responses, LowConfidence: sat.ENPS.LowConfidence, Source: "survey", Better: "higher"}
	for _, t := range sat.Trend {
		npsM.Trend = append(npsM.Trend, TrendPoint{Period: t.Period, Value: t.NPS.Score, N: t.NPS.Responses})
		csatM.Trend = append(csatM.Trend, TrendPoint{Period: t.Period, Value: t.CSAT.Score, N: t.CSAT.Responses})
	}
	cv.Measures = append(cv.Measures, npsM, csatM, enpsM)

	tm.Measures = append(tm.Measures,
		Measure{Key: "lead_time_p85_days", Name: "Lead time (85th percentile)", Unit: "days", Value: lead.P85, N: lead.N, LowConfidence: lead.LowConfidence, Source: "jira", Better: "lower", Trend: leadTrend},
		Measure{Key: "cycle_time_p85_days", Name: "Cycle time (85th percentile)", Unit: "days", Value: cycle.P85, N: cycle.N, LowConfidence: cycle.LowConfidence, Source: "jira", Better: "lower", Trend: cycleTrend},
	)
	relM := Measure{Key: "release_frequency", Name: "Release frequency", Unit: "releases per month", Value: rel.ReleasesPerMonth, N: rel.Released, LowConfidence: rel.Released < MinConfidentN, Source: "jira", Better: "higher"}
	for _, c := range rel.PerPeriod {
		relM.Trend = append(relM.Trend, TrendPoint{Period: c.Period, Value: ptr(float64(c.Count)), N: c.Count})
	}
	tm.Measures = append(tm.Measures, relM)

	innov := Measure{Key: "innovation_rate", Name: "Innovation rate", Unit: "share of done work", Value: q.InnovationRate, N: q.DoneIssues, LowConfidence: q.DoneIssues < MinConfidentN, Source: "jira", Better: "higher"}
	for _, t := range q.InnovationTrend {
		innov.Trend = append(innov.Trend, TrendPoint{Period: t.Period, Value: t.Rate, N: t.N})
	}
	defects := Measure{Key: "open_defects", Name: "Open defects", Unit: "issues", Value: ptr(float64(q.OpenDefects)), N: q.OpenDefects, Source: "jira", Better: "lower"}
	for _, d := range q.Defects {
		defects.Trend = append(defects.Trend, TrendPoint{Period: d.Period, Value: ptr(float64(d.Created - d.Resolved)), N: d.Created + d.Resolved})
	}
	mttr := Measure{Key: "mttr_days", Name: "Incident mean time to repair", Unit: "days", Value: q.TimeToRepair.Mean, N: q.TimeToRepair.N, LowConfidence: q.TimeToRepair.LowConfidence, Source: "jira", Better: "lower"}
	debt := Measure{Key: "technical_debt_open", Name: "Open technical debt", Unit: "issues", Value: ptr(float64(q.TechnicalDebt)), N: q.TechnicalDebt, Source: "jira", Better: "lower"}
	ai.Measures = append(ai.Measures, innov, defects, mttr, debt)

	for _, r := range recs {
		m := Measure{Key: r.Measure, Name: r.Measure, Unit: r.Unit, Value: r.Latest, N: len(r.Points), Source: "import", LowConfidence: false}
		info, known := importedKVA[r.Measure]
		m.Better = info.better
		for _, pt := range r.Points {
			v := pt.Value
			m.Trend = append(m.Trend, TrendPoint{Period: pt.PeriodStart, Value: &v, N: 1})
		}
		switch {
		case !known, info.kva == CurrentValue:
			cv.Measures = append(cv.Measures, m)
		case info.kva == UnrealizedValue:
			uv.Measures = append(uv.Measures, m)
		case info.kva == TimeToMarket:
			tm.Measures = append(tm.Measures, m)
		default:
			ai.Measures = append(ai.Measures, m)
		}
	}
	out.KVAs = []KVA{cv, uv, tm, ai}
	for i := range out.KVAs {
		if out.KVAs[i].Measures == nil {
			out.KVAs[i].Measures = []Measure{}
		}
		for j := range out.KVAs[i].Measures {
			if out.KVAs[i].Measures[j].Trend == nil {
				out.KVAs[i].Measures[j].Trend = []TrendPoint{}
			}
		}
	}
	return out, nil
}

// Current returns the current value of every measure of the EBM view by
// key, for goal progress.
func (e EBM) Current() map[string]*float64 {
	out := map[string]*float64{}
	for _, k := range e.KVAs {
		for _, m := range k.Measures {
			out[m.Key] = m.Value
		}
	}
	return out
}
