package metrics

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
)

// ForecastRecord is a forecast as it was shown: "how many by Until"
// (counts in P50…P95: at least that many in 50/85/95% of trials) or "when
// will Items be done" (days after MadeOn by which 50/85/95% of trials were
// done; −1 beyond the horizon).
type ForecastRecord struct {
	ID          string    `json:"id" ch:"forecast_id"`
	Kind        string    `json:"kind" ch:"kind"` // how_many or when
	Project     string    `json:"project" ch:"project"`
	Types       string    `json:"types" ch:"types"`
	MadeOn      time.Time `json:"made_on" ch:"made_on"`
	HistoryDays uint16    `json:"history_days" ch:"history_days"`
	Until       time.Time `json:"until" ch:"until"`
	Items       uint32    `json:"items" ch:"items"`
	P50         float64   `json:"p50" ch:"p50"`
	P85         float64   `json:"p85" ch:"p85"`
	P95         float64   `json:"p95" ch:"p95"`
	Version     uint64    `json:"-" ch:"version"`
}

// Record turns a forecast into the record to keep: one per question,
// filter and day (asking again the same day replaces it).
func Record(f Filter, fc Forecast, madeOn time.Time) (ForecastRecord, bool) {
	r := ForecastRecord{Project: f.Project, Types: strings.Join(f.Types, ","), MadeOn: madeOn.UTC().Truncate(24 * time.Hour),
		HistoryDays: uint16(fc.HistoryDays), Version: uint64(time.Now().UnixNano())}
	switch {
	case fc.HowMany != nil:
		until, err := time.Parse("2006-01-02", fc.Until)
		if err != nil {
			return r, false
		}
		r.Kind, r.Until = "how_many", until
		r.P50, r.P85, r.P95 = float64(fc.HowMany["p50"]), float64(fc.HowMany["p85"]), float64(fc.HowMany["p95"])
	case fc.When != nil && fc.Items > 0:
		r.Kind, r.Items = "when", uint32(fc.Items)
		at := func(p string) float64 {
			d, ok := fc.When[p].(string)
			if !ok {
				return -1
			}
			t, err := time.Parse("2006-01-02", d)
			if err != nil {
				return -1
			}
			return t.Sub(r.MadeOn).Hours() / 24
		}
		r.P50, r.P85, r.P95 = at("p50"), at("p85"), at("p95")
		r.Until = r.MadeOn
	default:
		return r, false
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s|%s|%s|%s|%s|%d|%d", r.Kind, r.Project, r.Types, day(r.MadeOn), day(r.Until), r.Items, r.HistoryDays)))
	r.ID = hex.EncodeToString(sum[:8])
	return r, true
}

// Score is a recorded forecast with its outcome once known.
type Score struct {
	ForecastRecord
	// Known says whether the outcome is in: the date has passed (how
	// many), or the items are done or the 95% date has passed (when).
	Known bool `json:"known"`
	// Actual is the number done by Until (how many), or the day after
	// MadeOn the Items-th was done (when; −1 while not done).
	Actual float64 `json:"actual"`
	// Hit says, per level, whether the outcome was within what that level
	// promised: at least that many, or done by that day.
	Hit map[string]bool `json:"hit"`
}

// ScoreOf judges a record against the items done on each day from its
// MadeOn (done[0] is MadeOn's count) up to today (exclusive).
func ScoreOf(r ForecastRecord, done []int, today time.Time) Score {
	s := Score{ForecastRecord: r, Actual: -1, Hit: map[string]bool{}}
	levels := map[string]float64{"p50": r.P50, "p85": r.P85, "p95": r.P95}
	switch r.Kind {
	case "how_many":
		if today.Before(r.Until) {
			return s
		}
		n := 0
		days := int(r.Until.Sub(r.MadeOn).Hours() / 24)
		for d := 0; d < days && d < len(done); d++ {
			n += done[d]
		}
		s.Known, s.Actual = true, float64(n)
		for p, v := range levels {
			s.Hit[p] = float64(n) >= v
		}
	case "when":
		n := 0
		for d := 0; d < len(done); d++ {
			n += done[d]
			if n >= int(r.Items) {
				s.Actual = float64(d)
				break
			}
		}
		elapsed := float64(len(done) - 1)
		for p, v := range levels {
			switch {
			case s.Actual >= 0:
				s.Hit[p] = v >= 0 && s.Actual <= v
			case v >= 0 && elapsed > v:
				s.Hit[p] = false // its date passed without the items done
			}
		}
		s.Known = s.Actual >= 0 || (r.P95 >= 0 && elapsed > r.P95)
	}
	if !s.Known {
		s.Hit = map[string]bool{}
	}
	return s
}

// Calibration is, for one level, how often the forecasts whose outcome is
// known kept what that level promised: a well calibrated 85% is kept in
// about 85% of forecasts.
type Calibration struct {
	Level string   `json:"level"`
	N     int      `json:"n"`
	Kept  int      `json:"kept"`
	Rate  *float64 `json:"rate"`
}

// ForecastScores are the recorded forecasts of a project with their
// outcomes, and the calibration of each level.
type ForecastScores struct {
	Forecasts   []Score       `json:"forecasts"`
	Calibration []Calibration `json:"calibration"`
	// Monthly is the calibration per product (team) and month the
	// forecasts were made in: whether a team's forecasts earn trust over
	// time. Months without a known outcome are left out.
	Monthly []MonthlyCalibration `json:"monthly"`
}

// MonthlyCalibration is the calibration of one product's forecasts made in
// one month (YYYY-MM), per level.
type MonthlyCalibration struct {
	Project string        `json:"project"`
	Month   string        `json:"month"`
	Levels  []Calibration `json:"levels"`
}

// calibrate counts, per level, the scores with a known outcome and those
// that kept their promise.
func calibrate(scores []Score) []Calibration {
	var out []Calibration
	for _, level := range []string{"p50", "p85", "p95"} {
		c := Calibration{Level: level}
		for _, sc := range scores {
			if kept, ok := sc.Hit[level]; ok && sc.Known {
				c.N++
				if kept {
					c.Kept++
				}
			}
		}
		if c.N > 0 {
			c.Rate = ptr(round(float64(c.Kept) / float64(c.N)))
		}
		out = append(out, c)
	}
	return out
}

// ForecastScores scores the recorded forecasts of a project ("" for all)
// made in [from, to).
func (s *Service) ForecastScores(ctx context.Context, project string, from, to time.Time) (ForecastScores, error) {
	out := ForecastScores{Forecasts: []Score{}, Calibration: []Calibration{}}
	cond, args := "made_on >= toDate(toDateTime(?)) AND made_on < toDate(toDateTime(?))", []any{unix(from), unix(to)}
	if project != "" {
		cond, args = cond+" AND project = ?", append(args, project)
	}
	var recs []ForecastRecord
	if err := s.DB.Select(ctx, &recs, "SELECT * FROM forecast_log FINAL WHERE "+cond+" ORDER BY made_on, forecast_id", args...); err != nil {
		return out, fmt.Errorf("forecast log: %w", err)
	}
	today := s.Now().UTC().Truncate(24 * time.Hour)
	for _, r := range recs {
		r.MadeOn, r.Until = r.MadeOn.UTC(), r.Until.UTC()
		f := Filter{Project: r.Project, From: r.MadeOn, To: today.AddDate(0, 0, 1)}
		if r.Types != "" {
			f.Types = strings.Split(r.Types, ",")
		}
		if !f.From.Before(f.To) {
			continue
		}
		done, err := s.DailyThroughput(ctx, f)
		if err != nil {
			return out, err
		}
		out.Forecasts = append(out.Forecasts, ScoreOf(r, done, today))
	}
	out.Calibration = calibrate(out.Forecasts)
	type key struct{ project, month string }
	groups := map[key][]Score{}
	var keys []key
	for _, sc := range out.Forecasts {
		if !sc.Known {
			continue
		}
		k := key{sc.Project, sc.MadeOn.Format("2006-01")}
		if groups[k] == nil {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], sc)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].project != keys[j].project {
			return keys[i].project < keys[j].project
		}
		return keys[i].month < keys[j].month
	})
	out.Monthly = []MonthlyCalibration{}
	for _, k := range keys {
		out.Monthly = append(out.Monthly, MonthlyCalibration{Project: k.project, Month: k.month, Levels: calibrate(groups[k])})
	}
	return out, nil
}
