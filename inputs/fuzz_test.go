package inputs

import (
	"strings"
	"testing"
	"time"
)

// FuzzSatisfactionFile: any file is either accepted row by row or rejected
// with problems that name a line; nothing panics, and a rejected file's
// problems are capped at 50 listed.
func FuzzSatisfactionFile(f *testing.F) {
	f.Add("responded_at,scale,score,product,respondent,comment\n2024-01-05,nps,9,EV,a,\n", "csv")
	f.Add("responded_at,scale,score,product,respondent,comment\n2024-01-05,nps,11,EV,a,\"x\n", "csv")
	f.Add("scale,score\nnps,1\n", "csv")
	f.Add(`[{"responded_at":"2024-01-05","scale":"csat","score":4,"product":"EV"}]`, "json")
	f.Add("{\"responded_at\": 5}\n{", "json")
	f.Fuzz(func(t *testing.T, file, format string) {
		if format != "csv" && format != "json" {
			format = "csv"
		}
		var ps Problems
		err := rows(strings.NewReader(file), format, SatisfactionColumns, nil, &ps, func(rec record) error {
			if rec.line < 1 {
				t.Fatalf("record with line %d", rec.line)
			}
			parseSatisfaction(rec, "salt", time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), &ps)
			return nil
		})
		if err != nil {
			return
		}
		if len(ps.List) > MaxProblems || ps.Total < len(ps.List) {
			t.Fatalf("problems: %d listed of %d", len(ps.List), ps.Total)
		}
		for _, p := range ps.List {
			if p.Line < 1 {
				t.Fatalf("problem without a line: %+v", p)
			}
		}
	})
}
