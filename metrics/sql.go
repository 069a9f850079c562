package metrics

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// sqlf is a piece of SQL with the arguments of its placeholders, in order.
// Composing pieces with cat keeps every argument with its ?, so a subquery
// used twice brings its arguments twice without anyone counting them.
type sqlf struct {
	text string
	args []any
}

// frag is a piece of SQL and its arguments.
func frag(text string, args ...any) sqlf { return sqlf{text: text, args: args} }

// cat concatenates pieces of SQL: a string is SQL without placeholders, a
// sqlf brings its arguments. It panics on anything else, or when a piece's
// placeholders and arguments do not match (a programming error, caught by
// every test that runs the query).
func cat(parts ...any) sqlf {
	var b strings.Builder
	var args []any
	for _, p := range parts {
		switch x := p.(type) {
		case string:
			if strings.Contains(x, "?") {
				panic(fmt.Sprintf("cat: a placeholder in plain SQL %q: pass it as frag(…, arg)", x))
			}
			b.WriteString(x)
		case sqlf:
			if n := strings.Count(x.text, "?"); n != len(x.args) {
				panic(fmt.Sprintf("cat: %d placeholders and %d arguments in %q", n, len(x.args), x.text))
			}
			b.WriteString(x.text)
			args = append(args, x.args...)
		default:
			panic(fmt.Sprintf("cat: %T is not SQL", p))
		}
	}
	return sqlf{text: b.String(), args: args}
}

// issuesFrom is Filter.issues as a piece of SQL.
func (f Filter) issuesFrom() sqlf {
	from, args := f.issues()
	return frag(from, args...)
}

func (f Filter) openIssuesFrom() sqlf {
	from, args := f.openIssues()
	return frag(from, args...)
}

func (f Filter) doneIssuesFrom() sqlf {
	from, args := f.doneIssues()
	return frag(from, args...)
}

// doneSince is doneIssuesFrom over the issues done at or after t: with the
// open issues that have no completion, those not done before t.
func (f Filter) doneSince(t time.Time) sqlf {
	later := f
	later.From, later.To = t, lastDateTime
	return later.doneIssuesFrom()
}

// uniformSample is the tail of a query over issues (a FROM … WHERE with
// its conditions) that keeps a uniform sample of at most n of them, by a
// hash of the issue, not the first ones: only the issues whose hash is a
// multiple of k = count / (1.1 · n) are sorted, 10% more than needed on
// average, so practically never fewer.
func uniformSample(issues sqlf, n int) sqlf {
	return cat(` AND cityHash64(site, issue_id) % greatest(toUInt64(1), intDiv((SELECT count() FROM `, issues,
		`), toUInt64(`+strconv.Itoa(n*11/10)+`))) = 0 ORDER BY cityHash64(site, issue_id) LIMIT `+strconv.Itoa(n))
}
