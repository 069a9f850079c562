package metrics

import (
	"context"
	"math"
	"time"
)

// Process behaviour charts (XmR, Wheeler): is a change a signal or noise?
//
// For a series x₁…xₙ the moving ranges are |xᵢ − xᵢ₋₁|. The centre line is
// the mean of the baseline points (the first XmRBaseline of a segment), the natural process limits are
// centre ± 2.66 · mR̄ (mR̄ = the mean moving range of the baseline), and
// the upper range limit is 3.268 · mR̄. Three detection rules:
//
//  1. a point outside the natural process limits;
//  2. a run of 8 successive points on the same side of the centre line
//     (a point on the line breaks the run);
//  3. 3 of 4 successive points nearer to one limit than to the centre
//     (beyond centre ± 2/3 of the distance to the limit), on the same side.
//
// The limits come from the points before a split (an annotated change),
// and are computed again from the split on: points after a split are
// judged against their own limits.

// XmRMinPoints is how many points limits need; fewer gives no limits.
const XmRMinPoints = 6

// XmRBaseline is how many values of a segment its limits come from: the
// first 20 (all when fewer), so that a change later in a long series is
// judged against the limits from before it rather than pulling them
// towards itself.
const XmRBaseline = 20

// XmRPoint is one value of a series and what the rules say about it.
type XmRPoint struct {
	Period string   `json:"period"`
	Value  *float64 `json:"value"`
	// Rules lists the detection rules the point is part of a signal of
	// (1, 2, 3); empty for noise.
	Rules []int `json:"rules"`
}

// XmRSegment is the limits over a stretch of the series.
type XmRSegment struct {
	From        string  `json:"from"`
	Centre      float64 `json:"centre"`
	Lower       float64 `json:"lower_limit"`
	Upper       float64 `json:"upper_limit"`
	MovingRange float64 `json:"mean_moving_range"`
	RangeLimit  float64 `json:"upper_range_limit"`
	// N is the number of values the limits come from.
	N int `json:"n"`
}

// XmR is a series judged by its natural process limits.
type XmR struct {
	Points   []XmRPoint   `json:"points"`
	Segments []XmRSegment `json:"segments"`
	// Signal says whether the last point is part of a signal, and
	// Direction which way ("up", "down") it points.
	Signal    bool   `json:"signal"`
	Direction string `json:"direction,omitempty"`
	// Enough is false when there are fewer than XmRMinPoints values
	// before the first split: no limits, no verdict.
	Enough bool `json:"enough"`
}

// XmRChart judges a series. periods and values are aligned (a nil value
// is a gap: it is skipped by the moving ranges and the rules); splits are
// the indexes where new limits start (an annotation's period).
func XmRChart(periods []string, values []*float64, splits []int) XmR {
	out := XmR{Points: make([]XmRPoint, len(values)), Segments: []XmRSegment{}}
	for i := range values {
		out.Points[i] = XmRPoint{Period: periods[i], Value: values[i], Rules: []int{}}
	}
	bounds := []int{0}
	for _, s := range splits {
		if s > bounds[len(bounds)-1] && s < len(values) {
			bounds = append(bounds, s)
		}
	}
	bounds = append(bounds, len(values))
	for b := 0; b+1 < len(bounds); b++ {
		lo, hi := bounds[b], bounds[b+1]
		var idx []int
		for i := lo; i < hi; i++ {
			if values[i] != nil {
				idx = append(idx, i)
			}
		}
		if len(idx) < XmRMinPoints {
			if b == 0 {
				return out // not enough to judge anything
			}
			continue
		}
		out.Enough = true
		base := idx[:min(len(idx), XmRBaseline)]
		sum, mr := 0.0, 0.0
		for k, i := range base {
			sum += *values[i]
			if k > 0 {
				mr += math.Abs(*values[i] - *values[base[k-1]])
			}
		}
		seg := XmRSegment{From: periods[lo], N: len(base)}
		seg.Centre = sum / float64(len(base))
		seg.MovingRange = mr / float64(len(base)-1)
		seg.Lower, seg.Upper = seg.Centre-2.66*seg.MovingRange, seg.Centre+2.66*seg.MovingRange
		seg.RangeLimit = 3.268 * seg.MovingRange
		seg.Centre, seg.MovingRange = round(seg.Centre), round(seg.MovingRange)
		seg.Lower, seg.Upper, seg.RangeLimit = round(seg.Lower), round(seg.Upper), round(seg.RangeLimit)
		out.Segments = append(out.Segments, seg)
		judge(out.Points, idx, seg)
	}
	for i := len(out.Points) - 1; i >= 0; i-- {
		if out.Points[i].Value == nil {
			continue
		}
		out.Signal = len(out.Points[i].Rules) > 0
		if out.Signal && len(out.Segments) > 0 {
			seg := out.Segments[len(out.Segments)-1]
			out.Direction = "down"
			if *out.Points[i].Value > seg.Centre {
				out.Direction = "up"
			}
		}
		break
	}
	return out
}

// judge marks the points of one segment (idx: the indexes with a value)
// that the three rules flag.
func judge(pts []XmRPoint, idx []int, seg XmRSegment) {
	mark := func(i, rule int) {
		for _, r := range pts[i].Rules {
			if r == rule {
				return
			}
		}
		pts[i].Rules = append(pts[i].Rules, rule)
	}
	side := func(i int) int {
		switch v := *pts[i].Value; {
		case v > seg.Centre:
			return 1
		case v < seg.Centre:
			return -1
		}
		return 0
	}
	// Rule 1: outside the limits.
	for _, i := range idx {
		if v := *pts[i].Value; v > seg.Upper || v < seg.Lower {
			mark(i, 1)
		}
	}
	// Rule 2: 8 in a row on one side.
	for k := 0; k+8 <= len(idx); k++ {
		s := side(idx[k])
		run := s != 0
		for j := k + 1; run && j < k+8; j++ {
			run = side(idx[j]) == s
		}
		if run {
			for j := k; j < k+8; j++ {
				mark(idx[j], 2)
			}
		}
	}
	// Rule 3: 3 of 4 beyond two thirds of the way to the same limit.
	near := func(i, s int) bool {
		v := *pts[i].Value
		if s > 0 {
			return v > seg.Centre+2.0/3.0*(seg.Upper-seg.Centre)
		}
		return v < seg.Centre-2.0/3.0*(seg.Centre-seg.Lower)
	}
	for k := 0; k+4 <= len(idx); k++ {
		for _, s := range []int{1, -1} {
			n := 0
			for j := k; j < k+4; j++ {
				if near(idx[j], s) {
					n++
				}
			}
			if n >= 3 {
				for j := k; j < k+4; j++ {
					if near(idx[j], s) {
						mark(idx[j], 3)
					}
				}
			}
		}
	}
}

// SignalSeries is one measure's process behaviour chart.
type SignalSeries struct {
	Key   string `json:"key"`
	Name  string `json:"name"`
	Unit  string `json:"unit"`
	Chart XmR    `json:"chart"`
}

// Signals draws the process behaviour chart of weekly throughput and of
// every measure of the EBM view whose trend has enough whole periods;
// split (when not zero) starts new limits at the period holding it.
func (s *Service) Signals(ctx context.Context, f Filter, product string, p Period, split time.Time) ([]SignalSeries, error) {
	var (
		e    EBM
		flow Flow
	)
	err := parallel(
		func() (err error) { e, err = s.EBM(ctx, f, product, p); return },
		func() (err error) { flow.Throughput, err = s.WeeklyThroughput(ctx, f); return },
	)
	if err != nil {
		return nil, err
	}
	out := []SignalSeries{}
	ps, vs := WholeWeeks(flow, f)
	out = append(out, SignalSeries{Key: "throughput_weekly", Name: "Throughput per week", Unit: "issues", Chart: XmRChart(ps, vs, SplitAt(ps, Week, split))})
	for _, k := range e.KVAs {
		for _, m := range k.Measures {
			ps, vs := wholeTrend(m.Trend)
			c := XmRChart(ps, vs, SplitAt(ps, p, split))
			if c.Enough {
				out = append(out, SignalSeries{Key: m.Key, Name: m.Name, Unit: m.Unit, Chart: c})
			}
		}
	}
	return out, nil
}

// WholeWeeks is the weekly throughput of the weeks wholly inside the
// filter's range: the series a process behaviour chart judges.
func WholeWeeks(flow Flow, f Filter) ([]string, []*float64) {
	var ps []string
	var vs []*float64
	for _, w := range flow.Throughput {
		if !Week.Partial(w.Week, f.From, f.To) {
			ps, vs = append(ps, w.Week), append(vs, ptr(float64(w.Count)))
		}
	}
	return ps, vs
}

// wholeTrend is a trend without its partial periods.
func wholeTrend(trend []TrendPoint) ([]string, []*float64) {
	var ps []string
	var vs []*float64
	for _, t := range trend {
		if !t.Partial {
			ps, vs = append(ps, t.Period), append(vs, t.Value)
		}
	}
	return ps, vs
}

// SplitAt is where new limits start for a change on day at: the first
// period (a start, YYYY-MM-DD) at or after the period holding it; none
// when at is zero or after the last period.
func SplitAt(periods []string, p Period, at time.Time) []int {
	if at.IsZero() {
		return nil
	}
	start := day(p.Start(at))
	for i, ps := range periods {
		if ps >= start {
			return []int{i}
		}
	}
	return nil
}

// Shift is the before/after test of a change (an experiment's start, an
// annotated process change): the values since the change judged by the
// three rules against the natural process limits of the values before it,
// so that a lasting move shows as a signal and a wobble as noise.
type Shift struct {
	// Baseline holds the limits of the values before the change; nil when
	// there are fewer than XmRMinPoints of them.
	Baseline *XmRSegment `json:"baseline"`
	// AfterMean is the mean of the AfterN values since the change.
	AfterMean *float64 `json:"after_mean"`
	AfterN    int      `json:"after_n"`
	// Signals counts the values since the change that a rule flags
	// against the baseline; Direction is where they lie ("up", "down").
	Signals   int        `json:"signals"`
	Direction string     `json:"direction,omitempty"`
	Points    []XmRPoint `json:"points"`
}

// ShiftAt judges the values from index split on against the limits of the
// last XmRBaseline values before it.
func ShiftAt(periods []string, values []*float64, split int) Shift {
	split = max(0, min(split, len(values)))
	out := Shift{Points: make([]XmRPoint, len(values))}
	for i := range values {
		out.Points[i] = XmRPoint{Period: periods[i], Value: values[i], Rules: []int{}}
	}
	var before, after []int
	for i, v := range values {
		switch {
		case v == nil:
		case i < split:
			before = append(before, i)
		default:
			after = append(after, i)
		}
	}
	sum := 0.0
	for _, i := range after {
		sum += *values[i]
	}
	if out.AfterN = len(after); len(after) > 0 {
		out.AfterMean = ptr(round(sum / float64(len(after))))
	}
	before = before[max(0, len(before)-XmRBaseline):]
	if len(before) < XmRMinPoints {
		return out
	}
	lo := before[0]
	base := XmRChart(periods[lo:split], values[lo:split], nil)
	if len(base.Segments) == 0 {
		return out
	}
	seg := base.Segments[0]
	out.Baseline = &seg
	judge(out.Points, after, seg)
	flagged := 0.0
	for _, i := range after {
		if len(out.Points[i].Rules) > 0 {
			out.Signals++
			flagged += *values[i] - seg.Centre
		}
	}
	if out.Signals > 0 {
		out.Direction = "up"
		if flagged < 0 {
			out.Direction = "down"
		}
	}
	return out
}
