package metrics

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// Satisfaction is NPS and CSAT of a product over a period.
type Satisfaction struct {
	NPS   NPS          `json:"nps"`
	ENPS  NPS          `json:"employee_nps"`
	CSAT  CSAT         `json:"csat"`
	Trend []SatisTrend `json:"trend"`
}

// NPS = % promoters (9–10) − % detractors (0–6), on 0–10 answers.
type NPS struct {
	Responses     int      `json:"responses"`
	Promoters     int      `json:"promoters"`
	Passives      int      `json:"passives"`
	Detractors    int      `json:"detractors"`
	Score         *float64 `json:"score"`
	LowConfidence bool     `json:"low_confidence"`
}

// CSAT = % of answers that are 4 or 5 on a 1–5 scale; also the mean.
type CSAT struct {
	Responses     int      `json:"responses"`
	Satisfied     int      `json:"satisfied"`
	Score         *float64 `json:"score"`
	Mean          *float64 `json:"mean"`
	LowConfidence bool     `json:"low_confidence"`
}

// SatisTrend is NPS and CSAT in one period.
type SatisTrend struct {
	Period string `json:"period"`
	NPS    NPS    `json:"nps"`
	CSAT   CSAT   `json:"csat"`
}

type satRow struct {
	Period time.Time `ch:"p"`
	Scale  string    `ch:"scale"`
	N      uint64    `ch:"n"`
	High   uint64    `ch:"high"`
	Mid    uint64    `ch:"mid"`
	Low    uint64    `ch:"low"`
	Sum    int64     `ch:"total"`
}

func npsOf(n, promoters, passives, detractors int) NPS {
	out := NPS{Responses: n, Promoters: promoters, Passives: passives, Detractors: detractors, LowConfidence: n < MinConfidentN}
	if n > 0 {
		out.Score = ptr(round(100 * float64(promoters-detractors) / float64(n)))
	}
	return out
}

func csatOf(n, satisfied int, sum int64) CSAT {
	out := CSAT{Responses: n, Satisfied: satisfied, LowConfidence: n < MinConfidentN}
	if n > 0 {
		out.Score = ptr(round(100 * float64(satisfied) / float64(n)))
		out.Mean = ptr(round(float64(sum) / float64(n)))
	}
	return out
}

// Satisfaction computes NPS, eNPS and CSAT of the answers given in [from,
// to), overall and per period. product "" means every product.
func (s *Service) Satisfaction(ctx context.Context, product string, from, to time.Time, p Period) (Satisfaction, error) {
	cond, args := "responded_at >= toDateTime(?) AND responded_at < toDateTime(?)", []any{unix(from), unix(to)}
	if product != "" {
		cond += " AND product = ?"
		args = append(args, product)
	}
	var rows []satRow
	q := `SELECT ` + p.sqlStart() + `(responded_at) AS p, scale, count() AS n,
		countIf((scale IN ('nps', 'enps') AND score >= 9) OR (scale = 'csat' AND score >= 4)) AS high,
		countIf(scale IN ('nps', 'enps') AND score BETWEEN 7 AND 8) AS mid,
		countIf(scale IN ('nps', 'enps') AND score <= 6) AS low, toInt64(sum(score)) AS total
		FROM satisfaction_responses FINAL WHERE ` + cond + ` GROUP BY p, scale ORDER BY p`
	if err := s.DB.Select(ctx, &rows, q, args...); err != nil {
		return Satisfaction{}, fmt.Errorf("satisfaction: %w", err)
	}
	type acc struct {
		n, high, mid, low int
		sum               int64
	}
	all := map[string]*acc{"nps": {}, "enps": {}, "csat": {}}
	per := map[string]map[string]*acc{}
	for _, r := range rows {
		a := all[r.Scale]
		if a == nil {
			continue
		}
		a.n += int(r.N)
		a.high += int(r.High)
		a.mid += int(r.Mid)
		a.low += int(r.Low)
		a.sum += r.Sum
		k := day(r.Period)
		if per[k] == nil {
			per[k] = map[string]*acc{"nps": {}, "csat": {}, "enps": {}}
		}
		*per[k][r.Scale] = acc{int(r.N), int(r.High), int(r.Mid), int(r.Low), r.Sum}
	}
	out := Satisfaction{
		NPS:  npsOf(all["nps"].n, all["nps"].high, all["nps"].mid, all["nps"].low),
		ENPS: npsOf(all["enps"].n, all["enps"].high, all["enps"].mid, all["enps"].low),
		CSAT: csatOf(all["csat"].n, all["csat"].high, all["csat"].sum),
	}
	out.Trend = []SatisTrend{}
	for _, b := range p.Buckets(from, to) {
		t := SatisTrend{Period: day(b), NPS: npsOf(0, 0, 0, 0), CSAT: csatOf(0, 0, 0)}
		if m := per[day(b)]; m != nil {
			t.NPS = npsOf(m["nps"].n, m["nps"].high, m["nps"].mid, m["nps"].low)
			t.CSAT = csatOf(m["csat"].n, m["csat"].high, m["csat"].sum)
		}
		out.Trend = append(out.Trend, t)
	}
	return out, nil
}

// ValueDelivered is the business value of the issues done in a period.
type ValueDelivered struct {
	Total       float64      `json:"total"`
	Issues      int          `json:"issues"`
	WithValue   int          `json:"issues_with_value"`
	Trend       []ValuePoint `json:"trend"`
	ValueEffort []ValueItem  `json:"value_vs_effort"`
}

// ValuePoint is value delivered in one period.
type ValuePoint struct {
	Period string  `json:"period"`
	Value  float64 `json:"value"`
	Issues int     `json:"issues"`
}

// ValueItem is a done issue with both value and an estimate.
type ValueItem struct {
	Key     string  `json:"key" ch:"issue_key"`
	Summary string  `json:"summary" ch:"summary"`
	Value   float64 `json:"value" ch:"value"`
	Points  float64 `json:"points" ch:"points"`
}

// ValueDelivered sums the configured business-value field over the issues
// done in the period.
func (s *Service) ValueDelivered(ctx context.Context, f Filter, p Period) (ValueDelivered, error) {
	return s.valueDelivered(ctx, f, p, true)
}

// valueDelivered is ValueDelivered; without list, the value and effort of
// each item is not read (out.ValueEffort is empty): EBM shows the totals.
func (s *Service) valueDelivered(ctx context.Context, f Filter, p Period, list bool) (ValueDelivered, error) {
	from, args := f.doneIssues()
	var rows []struct {
		Period    time.Time `ch:"p"`
		Value     float64   `ch:"v"`
		N         uint64    `ch:"n"`
		WithValue uint64    `ch:"wv"`
	}
	q := `SELECT ` + p.sqlStart() + `(assumeNotNull(done_at)) AS p, sum(ifNull(business_value, 0)) AS v, count() AS n,
		countIf(business_value IS NOT NULL) AS wv FROM ` + from + ` GROUP BY p ORDER BY p`
	if err := s.DB.Select(ctx, &rows, q, args...); err != nil {
		return ValueDelivered{}, fmt.Errorf("value delivered: %w", err)
	}
	out := ValueDelivered{Trend: []ValuePoint{}}
	byP := map[string]ValuePoint{}
	for _, r := range rows {
		out.Total += r.Value
		out.Issues += int(r.N)
		out.WithValue += int(r.WithValue)
		byP[day(r.Period)] = ValuePoint{Period: day(r.Period), Value: r.Value, Issues: int(r.N)}
	}
	for _, b := range p.Buckets(f.From, f.To) {
		v := byP[day(b)]
		v.Period = day(b)
		out.Trend = append(out.Trend, v)
	}
	if !list {
		out.ValueEffort = []ValueItem{}
		return out, nil
	}
	q = `SELECT issue_key, summary, assumeNotNull(business_value) AS value, assumeNotNull(story_points) AS points FROM ` + from +
		` WHERE business_value IS NOT NULL AND story_points IS NOT NULL ORDER BY value DESC, issue_key LIMIT 500`
	if err := s.DB.Select(ctx, &out.ValueEffort, q, args...); err != nil {
		return out, fmt.Errorf("value vs effort: %w", err)
	}
	if out.ValueEffort == nil {
		out.ValueEffort = []ValueItem{}
	}
	return out, nil
}

// RecordSeries is one imported measure of a product over time.
type RecordSeries struct {
	Product string        `json:"product"`
	Measure string        `json:"measure"`
	Unit    string        `json:"unit"`
	Latest  *float64      `json:"latest"`
	Points  []RecordPoint `json:"points"`
}

// RecordPoint is the value of a measure for one period.
type RecordPoint struct {
	PeriodStart string  `json:"period_start"`
	PeriodEnd   string  `json:"period_end"`
	Value       float64 `json:"value"`
}

// ValueRecords returns the imported measures of a product (all products
// when product is "") with period starts in [from, to).
func (s *Service) ValueRecords(ctx context.Context, product string, from, to time.Time) ([]RecordSeries, error) {
	cond, args := "period_start >= toDate(toDateTime(?)) AND period_start < toDate(toDateTime(?))", []any{unix(from), unix(to)}
	if product != "" {
		cond += " AND product = ?"
		args = append(args, product)
	}
	var rows []struct {
		Product string    `ch:"product"`
		Measure string    `ch:"measure"`
		Unit    string    `ch:"unit"`
		Start   time.Time `ch:"ps"`
		End     time.Time `ch:"pe"`
		Value   float64   `ch:"value"`
	}
	q := `SELECT product, measure, unit, toDateTime(period_start) AS ps, toDateTime(period_end) AS pe, value FROM value_records FINAL
		WHERE ` + cond + ` ORDER BY product, measure, ps`
	if err := s.DB.Select(ctx, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("value records: %w", err)
	}
	idx := map[string]int{}
	out := []RecordSeries{}
	for _, r := range rows {
		k := r.Product + "\x00" + r.Measure
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, RecordSeries{Product: r.Product, Measure: r.Measure, Unit: r.Unit})
		}
		out[i].Points = append(out[i].Points, RecordPoint{PeriodStart: day(r.Start), PeriodEnd: day(r.End), Value: r.Value})
		v := r.Value
		out[i].Latest = &v
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].Measure != out[b].Measure {
			return out[a].Measure < out[b].Measure
		}
		return out[a].Product < out[b].Product
	})
	return out, nil
}
