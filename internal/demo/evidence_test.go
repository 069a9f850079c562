package demo_test

import (
	"context"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/evident-ebm/evident/inputs"
	"github.com/evident-ebm/evident/internal/chtest"
	"github.com/evident-ebm/evident/internal/demo"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// demoMoments are the "nows" a demo could start at: every day of 2028 (a
// leap year, so 29 February, every weekday and every month end) a second
// before midnight UTC, and on the days that trip calendars several times of
// day: the leap day, the year's turn, and the daylight saving changes of
// Europe (26 March, 29 October, 01:00 UTC) and the United States (12 March
// 07:00, 5 November 06:00 UTC), each a second before, at, and a second
// after the change.
func demoMoments() []time.Time {
	var out []time.Time
	for d := time.Date(2028, 1, 1, 23, 59, 59, 0, time.UTC); d.Year() == 2028; d = d.AddDate(0, 0, 1) {
		out = append(out, d)
	}
	for _, at := range []time.Time{
		time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(2028, 2, 29, 12, 0, 0, 0, time.UTC),
		time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2028, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2028, 3, 26, 1, 0, 0, 0, time.UTC), time.Date(2028, 10, 29, 1, 0, 0, 0, time.UTC),
		time.Date(2028, 3, 12, 7, 0, 0, 0, time.UTC), time.Date(2028, 11, 5, 6, 0, 0, 0, time.UTC),
	} {
		out = append(out, at.Add(-time.Second), at, at.Add(time.Second))
	}
	return out
}

// TestDemoEvidenceImportsOnEveryDay makes the demo's surveys, value
// records, goals and experiment as a demo started at each of demoMoments
// would, and imports them through the real importer, whose clock is that
// moment: nothing may be refused, no answer may lie after the moment, no
// value record may cover a month that has not ended, and every goal and
// the experiment must be accepted.
func TestDemoEvidenceImportsOnEveryDay(t *testing.T) {
	st := chtest.Store(t)
	ctx := context.Background()
	products := []demo.Product{{Key: "SHOP", Name: "Webshop"}, {Key: "APP", Name: "Mobile App"}, {Key: "OPS", Name: "Platform Operations"}}
	moments := demoMoments()
	for _, now := range moments {
		// Each moment is a demo started on an empty install.
		for _, table := range []string{"satisfaction_responses", "value_records", "goals", "experiments"} {
			if err := st.Exec(ctx, "TRUNCATE TABLE "+table); err != nil {
				t.Fatal(err)
			}
		}
		in := inputs.New(st, "salt")
		in.Now = func() time.Time { return now }
		from := now.AddDate(-2, 0, 0)
		surveys := demo.SatisfactionCSV(7, products, from, now)
		values := demo.ValueCSV(7, products, from, now)
		if _, err := in.ImportSatisfaction(ctx, strings.NewReader(surveys), "csv", "demo"); err != nil {
			t.Fatalf("now %s: surveys refused: %v", now.Format(time.RFC3339), err)
		}
		if _, err := in.ImportValue(ctx, strings.NewReader(values), "csv", "demo"); err != nil {
			t.Fatalf("now %s: value records refused: %v", now.Format(time.RFC3339), err)
		}
		latest, lastEnd := latestDates(t, surveys, values)
		if latest.After(now) {
			t.Fatalf("now %s: an answer is dated %s, in the future", now.Format(time.RFC3339), latest.Format(time.RFC3339))
		}
		// The last value period is the last month that has ended: the one
		// before now's month (at midnight of the 1st it has just ended).
		wantEnd := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
		if !lastEnd.Equal(wantEnd) {
			t.Fatalf("now %s: the last value period ends %s, want %s", now.Format(time.RFC3339), lastEnd.Format("2006-01-02"), wantEnd.Format("2006-01-02"))
		}
		goals, exp := demo.Goals(products[0], now)
		parent := ""
		for _, g := range goals {
			g.ParentID = parent
			saved, err := in.SaveGoal(ctx, g)
			if err != nil {
				t.Fatalf("now %s: goal %q refused: %v", now.Format(time.RFC3339), g.Title, err)
			}
			parent = saved.ID
			if !g.BaselineDate.Before(g.TargetDate) || g.BaselineDate.After(now) {
				t.Fatalf("now %s: goal %q runs from %s to %s", now.Format(time.RFC3339), g.Title, g.BaselineDate, g.TargetDate)
			}
		}
		if exp.EndedAt == nil || exp.EndedAt.After(now) || !exp.StartedAt.Before(*exp.EndedAt) {
			t.Fatalf("now %s: the experiment runs from %s to %v", now.Format(time.RFC3339), exp.StartedAt, exp.EndedAt)
		}
		if _, err := in.SaveExperiment(ctx, exp); err != nil {
			t.Fatalf("now %s: experiment refused: %v", now.Format(time.RFC3339), err)
		}
	}
	t.Logf("%d moments from %s to %s: every file, goal and experiment accepted", len(moments), moments[0].Format(time.RFC3339), moments[len(moments)-1].Format(time.RFC3339))
}

// latestDates returns the latest answer time of a survey file and the
// latest period end of a value file.
func latestDates(t *testing.T, surveys, values string) (latest, lastEnd time.Time) {
	t.Helper()
	read := func(s string) [][]string {
		recs, err := csv.NewReader(strings.NewReader(s)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return recs[1:]
	}
	for _, r := range read(surveys) {
		at, err := time.Parse(time.RFC3339, r[0])
		if err != nil {
			t.Fatal(err)
		}
		if at.After(latest) {
			latest = at
		}
	}
	for _, r := range read(values) {
		end, err := time.Parse("2006-01-02", r[3])
		if err != nil {
			t.Fatal(err)
		}
		if end.After(lastEnd) {
			lastEnd = end
		}
	}
	return latest, lastEnd
}
