// Package demo makes the evidence of the built-in demo that Jira does not
// hold: survey answers, value records, goals and an experiment, seeded so
// that every run tells the same story.
package demo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/evident-ebm/evident"
)

// Product is a demo product (a Jira project of the simulator).
type Product struct {
	Key  string
	Name string
}

// SatisfactionCSV returns survey answers for each product: NPS and CSAT
// every week, employee NPS every month, drifting upward for the first
// product after an experiment starts. No answer is dated after to: the
// demo's data never lies in the future of its "now".
func SatisfactionCSV(seed uint64, products []Product, from, to time.Time) string {
	r := rand.New(rand.NewPCG(seed, 0x5A7))
	var b strings.Builder
	b.WriteString("responded_at,scale,score,product,respondent,comment\n")
	comments := []string{"", "", "", "Checkout was quick", "Search finds nothing useful", "Great support, thanks!", "App crashed twice", "Café-quality UX ☕", "Please add dark mode"}
	n := 0
	for i, p := range products {
		base := 7.9 + float64(i)*0.3
		for d := from; d.Before(to); d = d.AddDate(0, 0, 7) {
			progress := float64(d.Sub(from)) / float64(to.Sub(from))
			mean := base + 1.2*progress*float64(1-i%2) - 0.4*progress*float64(i%2)
			for k := 0; k < 6+r.IntN(8); k++ {
				n++
				score := clamp(int(math.Round(mean+r.NormFloat64()*2.1)), 0, 10)
				at := d.Add(time.Duration(r.IntN(7*24*3600)) * time.Second)
				if at.After(to) {
					continue
				}
				fmt.Fprintf(&b, "%s,nps,%d,%s,customer%d@example.com,%s\n", at.Format(time.RFC3339), score, p.Key, r.IntN(4000), csvField(pick(r, comments)))
			}
			for k := 0; k < 4+r.IntN(6); k++ {
				score := clamp(int(math.Round(mean/2.3+r.NormFloat64()*0.9)), 1, 5)
				at := d.Add(time.Duration(r.IntN(7*24*3600)) * time.Second)
				if at.After(to) {
					continue
				}
				fmt.Fprintf(&b, "%s,csat,%d,%s,ticket%d,\n", at.Format(time.RFC3339), score, p.Key, r.IntN(100000))
			}
		}
		for m := monthStart(from); m.Before(to); m = m.AddDate(0, 1, 0) {
			for k := 0; k < 8; k++ {
				score := clamp(int(math.Round(7+r.NormFloat64()*1.8)), 0, 10)
				at := m.Add(time.Duration(k+1) * 24 * time.Hour)
				if at.After(to) {
					continue
				}
				fmt.Fprintf(&b, "%s,enps,%d,%s,employee%d-%s,\n", at.Format(time.RFC3339), score, p.Key, k, m.Format("200601"))
			}
		}
	}
	return b.String()
}

func clamp(v, lo, hi int) int { return max(lo, min(hi, v)) }

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func monthStart(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// ValueCSV returns monthly business measures of each product, for every
// month that has ended by to (a month still running has no figures yet).
func ValueCSV(seed uint64, products []Product, from, to time.Time) string {
	r := rand.New(rand.NewPCG(seed, 0x7A1))
	var b strings.Builder
	b.WriteString("product,measure,period_start,period_end,value,unit\n")
	for i, p := range products {
		revenue := 180000.0 * float64(i+1)
		employees := 9.0 + float64(3*i)
		share := 4.0 + float64(i)
		for m := monthStart(from); !m.AddDate(0, 1, 0).After(to); m = m.AddDate(0, 1, 0) {
			end := m.AddDate(0, 1, -1)
			revenue *= 1 + 0.012 + r.NormFloat64()*0.02
			cost := revenue * (0.55 + r.Float64()*0.1)
			if r.IntN(8) == 0 {
				employees++
			}
			share += 0.05 + r.NormFloat64()*0.08
			row := func(measure string, v float64, unit string) {
				fmt.Fprintf(&b, "%s,%s,%s,%s,%.2f,%s\n", p.Key, measure, m.Format("2006-01-02"), end.Format("2006-01-02"), v, unit)
			}
			row("revenue", revenue, "EUR")
			row("cost", cost, "EUR")
			row("employee_count", employees, "people")
			row("revenue_per_employee", revenue/employees, "EUR")
			row("product_cost_ratio", cost/revenue, "ratio")
			row("customer_usage_index", 50+float64(i)*5+r.NormFloat64()*3, "index")
			row("market_share", share, "%")
			row("build_frequency", 40+float64(i)*10+r.NormFloat64()*6, "builds per month")
			row("on_product_index", 0.55+r.Float64()*0.2, "ratio")
			row("installed_version_index", 0.7+r.Float64()*0.25, "ratio")
		}
	}
	return b.String()
}

// Goals returns a goal tree for the first product and an experiment.
func Goals(p Product, now time.Time) ([]evident.Goal, evident.Experiment) {
	day := func(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }
	sg := evident.Goal{Level: evident.GoalStrategic, Title: "Shoppers recommend " + p.Name + " to their friends", KVA: evident.KVACurrentValue,
		Product: p.Key, Measure: "nps", Baseline: 5, Target: 40, BaselineDate: day(now.AddDate(-1, 0, 0)), TargetDate: day(now.AddDate(1, 0, 0))}
	ig := evident.Goal{Level: evident.GoalIntermediate, Title: "Deliver what they ask for within three weeks", KVA: evident.KVATimeToMarket,
		Product: p.Key, Measure: "lead_time_p85_days", Baseline: 45, Target: 21, BaselineDate: day(now.AddDate(-1, 0, 0)), TargetDate: day(now.AddDate(0, 6, 0))}
	tg := evident.Goal{Level: evident.GoalTactical, Title: "Ship more new capability than fixes this quarter", KVA: evident.KVAAbilityToInnovate,
		Product: p.Key, Measure: "innovation_rate", Baseline: 0.35, Target: 0.55, BaselineDate: day(now.AddDate(0, -3, 0)), TargetDate: day(now.AddDate(0, 3, 0))}
	end := day(now.AddDate(0, 0, -14))
	exp := evident.Experiment{Title: "WIP limit of 3 per person", Hypothesis: "Limiting work in progress shortens lead time by a week",
		Product: p.Key, Measure: "lead_time_p85_days", ExpectedChange: -7, StartedAt: day(now.AddDate(0, -3, 0)), EndedAt: &end}
	return []evident.Goal{sg, ig, tg}, exp
}

// csvField quotes a CSV field when it needs it.
func csvField(s string) string {
	if strings.ContainsAny(s, ",\"\n\r") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}
