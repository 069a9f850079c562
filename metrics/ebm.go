package metrics

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/evident-ebm/evident"
)

// Measure is one Key Value Measure with its current value, what it rests
// on and its trend.
type Measure struct {
	Key  string `json:"key"`
	Name string `json:"name"`
	// Product is the product of an imported measure in a view of every
	// product: each product's records are a measure of their own.
	Product       string       `json:"product,omitempty"`
	Value         *float64     `json:"value"`
	Unit          string       `json:"unit"`
	N             int          `json:"n"`
	LowConfidence bool         `json:"low_confidence"`
	Source        string       `json:"source"`
	Better        string       `json:"better"`
	Trend         []TrendPoint `json:"trend"`
	// The same measure over the previous period of equal length, and the
	// change to now: Change is the difference, ChangePct the relative
	// change where that means something (not for scores that can be
	// negative or are already percentages), Improved the direction judged
	// by Better (nil when unchanged, unknown or there is no better).
	Previous  *float64 `json:"previous"`
	Change    *float64 `json:"change"`
	ChangePct *float64 `json:"change_pct"`
	Improved  *bool    `json:"improved"`
	// Behaviour judges the trend's last whole period against the natural
	// process limits of the trend (XmR): a signal or noise. Null with
	// fewer than XmRMinPoints whole periods.
	Behaviour *Behaviour `json:"behaviour"`
	// Trust says what the measure rests on when it leaves issues out
	// (cycle time: the done issues never started), null otherwise.
	Trust *Trust `json:"trust,omitempty"`
}

// Behaviour is the verdict of a measure's process behaviour chart.
type Behaviour struct {
	Signal    bool    `json:"signal"`
	Direction string  `json:"direction,omitempty"`
	Rules     []int   `json:"rules"`
	Period    string  `json:"period"`
	Centre    float64 `json:"centre"`
	Lower     float64 `json:"lower_limit"`
	Upper     float64 `json:"upper_limit"`
}

// TrendXmR is the process behaviour chart of a trend's whole periods.
func TrendXmR(trend []TrendPoint) XmR {
	ps, vs := wholeTrend(trend)
	return XmRChart(ps, vs, nil)
}

// behaviour runs the XmR chart over the whole periods of a trend.
func behaviour(trend []TrendPoint) *Behaviour {
	x := TrendXmR(trend)
	if !x.Enough || len(x.Segments) == 0 {
		return nil
	}
	seg := x.Segments[len(x.Segments)-1]
	b := &Behaviour{Signal: x.Signal, Direction: x.Direction, Rules: []int{}, Centre: seg.Centre, Lower: seg.Lower, Upper: seg.Upper}
	for i := len(x.Points) - 1; i >= 0; i-- {
		if x.Points[i].Value != nil {
			b.Period, b.Rules = x.Points[i].Period, x.Points[i].Rules
			break
		}
	}
	return b
}

// TrendPoint is a measure's value in one period.
type TrendPoint struct {
	Period string   `json:"period"`
	Value  *float64 `json:"value"`
	N      int      `json:"n"`
	// Partial says the period is only partly inside the range asked for
	// (a period still running, or cut by from/to): its value is not
	// comparable with the others'.
	Partial bool `json:"partial"`
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
	// PreviousFrom and PreviousTo are the period of equal length before,
	// which each measure's previous value covers (EBMCompared).
	PreviousFrom string `json:"previous_from"`
	PreviousTo   string `json:"previous_to"`
}

// KVA keys.
const (
	CurrentValue      = evident.KVACurrentValue
	UnrealizedValue   = evident.KVAUnrealizedValue
	TimeToMarket      = evident.KVATimeToMarket
	AbilityToInnovate = evident.KVAAbilityToInnovate
)

// measure starts a Measure from its description in the vocabulary.
func measure(key string) Measure {
	info, _ := evident.MeasureOf(key)
	return Measure{Key: key, Name: info.Name, Unit: info.Unit, Source: info.Source, Better: info.Better}
}

func (m Measure) with(v *float64, n int, low bool) Measure {
	m.Value, m.N, m.LowConfidence = v, n, low
	return m
}

// doneTimes is the lead and cycle time of the issues done in the period:
// in ClickHouse, one query for the whole period and, with trends, one for
// the trend (the pct-th nearest-rank percentile per period). Over whole
// days from the times per day (done_times), else, or when none are there,
// from the issues.
func (s *Service) doneTimes(ctx context.Context, f Filter, p Period, pct int, trends bool) (lead, cycle Stats, leadTrend, cycleTrend []TrendPoint, err error) {
	var rows []struct {
		Period time.Time `ch:"p"`
		N      uint64    `ch:"n"`
		V      int64     `ch:"v"`
		CN     uint64    `ch:"cn"`
		CV     int64     `ch:"cv"`
	}
	var lc leadCycle
	run := func(whole, trend string, args []any) error {
		return parallel(
			func() error {
				if err := s.DB.QueryRow(ctx, whole, args, lc.dest()...); err != nil {
					return fmt.Errorf("lead and cycle time: %w", err)
				}
				return nil
			},
			func() error {
				if !trends {
					return nil
				}
				if err := s.DB.Select(ctx, &rows, trend, args...); err != nil {
					return fmt.Errorf("trend: %w", err)
				}
				return nil
			},
		)
	}
	level := levelOf(pct)
	if f.wholeDays() {
		conds, cargs := f.timesConds()
		err = run("SELECT "+timesAggregates+" FROM done_times WHERE "+conds,
			`SELECT `+p.sqlStart()+`(day) AS p, sum(length(leads)) AS n, toInt64(quantileExactArray(`+level+`)(leads)) AS v,
				sum(length(cycles)) AS cn, toInt64(quantileExactArray(`+level+`)(cycles)) AS cv
				FROM done_times WHERE `+conds+` GROUP BY p ORDER BY p`, cargs)
		if err != nil {
			return
		}
	}
	if lc.n == 0 {
		from, all := f.doneIssues()
		inner := doneRows(from, p.sqlStart()+"(assumeNotNull(done_at)) AS p")
		rows = nil
		err = run("SELECT "+leadCycleAggregates+" FROM ("+inner+")",
			`SELECT p, count() AS n, toInt64(quantileExact(`+level+`)(lead)) AS v,
				countIf(started) AS cn, toInt64(quantileExactIf(`+level+`)(cyc, started)) AS cv
				FROM (`+inner+`) GROUP BY p ORDER BY p`, all)
		if err != nil {
			return
		}
	}
	lead, cycle = lc.stats()
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
	return s.ebm(ctx, f, product, p, true)
}

// ebm is EBM; without trends, the measures' values only (each measure's
// trend empty): what the comparison with the period before needs, without
// the queries that only the trends read.
func (s *Service) ebm(ctx context.Context, f Filter, product string, p Period, trends bool) (EBM, error) {
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
		func() (err error) { val, err = s.valueDelivered(ctx, f, p, false); return },
		func() (err error) { sat, err = s.Satisfaction(ctx, product, f.From, f.To, p); return },
		func() (err error) {
			lead, cycle, leadTrend, cycleTrend, err = s.doneTimes(ctx, f, p, 85, trends)
			return
		},
		func() (err error) { rel, err = s.Releases(ctx, f, p); return },
		func() (err error) { q, err = s.qualityOf(ctx, f, p, trends); return },
		func() (err error) { recs, err = s.ValueRecords(ctx, product, f.From, f.To); return },
	)
	if err != nil {
		return out, err
	}
	vm := measure("value_delivered").with(nil, val.WithValue, val.WithValue < MinConfidentN)
	if val.WithValue > 0 {
		vm.Value = ptr(val.Total)
	}
	for _, t := range val.Trend {
		tp := TrendPoint{Period: t.Period, N: t.Issues}
		if t.Issues > 0 {
			tp.Value = ptr(t.Value)
		}
		vm.Trend = append(vm.Trend, tp)
	}
	cv.Measures = append(cv.Measures, vm)

	npsM := measure("nps").with(sat.NPS.Score, sat.NPS.Responses, sat.NPS.LowConfidence)
	csatM := measure("csat").with(sat.CSAT.Score, sat.CSAT.Responses, sat.CSAT.LowConfidence)
	enpsM := measure("employee_nps").with(sat.ENPS.Score, sat.ENPS.Responses, sat.ENPS.LowConfidence)
	for _, t := range sat.Trend {
		npsM.Trend = append(npsM.Trend, TrendPoint{Period: t.Period, Value: t.NPS.Score, N: t.NPS.Responses})
		csatM.Trend = append(csatM.Trend, TrendPoint{Period: t.Period, Value: t.CSAT.Score, N: t.CSAT.Responses})
	}
	cv.Measures = append(cv.Measures, npsM, csatM, enpsM)

	leadM := measure("lead_time_p85_days").with(lead.P85, lead.N, lead.LowConfidence)
	leadM.Trend = leadTrend
	cycleM := measure("cycle_time_p85_days").with(cycle.P85, cycle.N, cycle.LowConfidence)
	cycleM.Trend = cycleTrend
	cycleTrust := NewTrust(cycle.N, LeftOut{Reason: "never started", Issues: lead.N - cycle.N})
	cycleM.Trust = &cycleTrust
	relM := measure("release_frequency").with(rel.ReleasesPerMonth, rel.Released, rel.Released < MinConfidentN)
	for _, c := range rel.PerPeriod {
		relM.Trend = append(relM.Trend, TrendPoint{Period: c.Period, Value: ptr(float64(c.Count)), N: c.Count})
	}
	tm.Measures = append(tm.Measures, leadM, cycleM, relM)

	innov := measure("innovation_rate").with(q.InnovationRate, q.DoneIssues, q.DoneIssues < MinConfidentN)
	for _, t := range q.InnovationTrend {
		innov.Trend = append(innov.Trend, TrendPoint{Period: t.Period, Value: t.Rate, N: t.N})
	}
	defects := measure("open_defects").with(ptr(float64(q.OpenDefects)), q.OpenDefects, false)
	for _, d := range q.Defects {
		defects.Trend = append(defects.Trend, TrendPoint{Period: d.Period, Value: ptr(float64(d.Created - d.Resolved)), N: d.Created + d.Resolved})
	}
	mttr := measure("mttr_days").with(q.TimeToRepair.Mean, q.TimeToRepair.N, q.TimeToRepair.LowConfidence)
	debt := measure("technical_debt_open").with(ptr(float64(q.TechnicalDebt)), q.TechnicalDebt, false)
	ai.Measures = append(ai.Measures, innov, defects, mttr, debt)

	// An imported measure follows the period like the others: its value is
	// the latest record that starts in it, its trend the latest record of
	// each bucket, n the records in the period.
	buckets := p.Buckets(f.From, f.To)
	for _, r := range recs {
		m := measure(r.Measure)
		if product == "" {
			m.Product = r.Product
		}
		if r.Unit != "" {
			m.Unit = r.Unit
		}
		last := map[string]float64{}
		for _, pt := range r.Points {
			start, err := time.Parse("2006-01-02", pt.PeriodStart)
			if err != nil || start.Before(f.From) || !start.Before(f.To) {
				continue
			}
			v := pt.Value
			m.Value = &v
			m.N++
			last[day(p.Start(start))] = v
		}
		m.LowConfidence = m.N < 2 // one record says nothing about a change
		for _, b := range buckets {
			tp := TrendPoint{Period: day(b)}
			if v, ok := last[day(b)]; ok {
				tp.Value, tp.N = ptr(v), 1
			}
			m.Trend = append(m.Trend, tp)
		}
		info, _ := evident.MeasureOf(r.Measure)
		switch info.KVA {
		case UnrealizedValue:
			uv.Measures = append(uv.Measures, m)
		case TimeToMarket:
			tm.Measures = append(tm.Measures, m)
		case AbilityToInnovate:
			ai.Measures = append(ai.Measures, m)
		default:
			cv.Measures = append(cv.Measures, m)
		}
	}
	out.KVAs = []KVA{cv, uv, tm, ai}
	for i := range out.KVAs {
		if out.KVAs[i].Measures == nil {
			out.KVAs[i].Measures = []Measure{}
		}
		for j := range out.KVAs[i].Measures {
			m := &out.KVAs[i].Measures[j]
			if !trends {
				m.Trend = nil
			}
			if m.Trend == nil {
				m.Trend = []TrendPoint{}
			}
			for k := range m.Trend {
				m.Trend[k].Partial = p.Partial(m.Trend[k].Period, f.From, f.To)
			}
			m.Behaviour = behaviour(m.Trend)
		}
	}
	return out, nil
}

// EBMCompared is EBM with each measure's value over the period of equal
// length just before: "better or worse than last time?".
func (s *Service) EBMCompared(ctx context.Context, f Filter, product string, p Period) (EBM, error) {
	prev := f
	prev.From, prev.To = f.From.Add(-f.To.Sub(f.From)), f.From
	var cur, before EBM
	err := parallel(
		func() (err error) { cur, err = s.EBM(ctx, f, product, p); return },
		func() (err error) { before, err = s.ebm(ctx, prev, product, p, false); return },
	)
	if err != nil {
		return cur, err
	}
	cur.PreviousFrom, cur.PreviousTo = day(prev.From), day(prev.To)
	for i := range cur.KVAs {
		for j := range cur.KVAs[i].Measures {
			m := &cur.KVAs[i].Measures[j]
			if old, ok := before.measureOf(m.Key, m.Product); ok {
				m.compare(old.Value)
			}
		}
	}
	return cur, nil
}

// relativeChange says whether a relative change of a value in this unit
// means something.
func relativeChange(unit string) bool {
	switch unit {
	case "NPS", "eNPS", "% satisfied", "share of done work", "%":
		return false
	}
	return true
}

func (m *Measure) compare(previous *float64) {
	m.Previous = previous
	if previous == nil || m.Value == nil {
		return
	}
	d := round(*m.Value - *previous)
	m.Change = &d
	if relativeChange(m.Unit) && *previous > 0 && *m.Value >= 0 {
		pct := math.Round(1000*(*m.Value-*previous)/(*previous)) / 10
		m.ChangePct = &pct
	}
	if d != 0 && m.Better != "" {
		better := (d > 0) == (m.Better == "higher")
		m.Improved = &better
	}
}

// Measure finds a measure of the view by key (in a view of every
// product, an imported measure of the first product that has it).
func (e EBM) Measure(key string) (Measure, bool) {
	return e.find(func(m Measure) bool { return m.Key == key })
}

// measureOf finds a measure by key and product ("": not an imported
// measure of a view of every product).
func (e EBM) measureOf(key, product string) (Measure, bool) {
	return e.find(func(m Measure) bool { return m.Key == key && m.Product == product })
}

func (e EBM) find(match func(Measure) bool) (Measure, bool) {
	for _, k := range e.KVAs {
		for _, m := range k.Measures {
			if match(m) {
				return m, true
			}
		}
	}
	return Measure{}, false
}
