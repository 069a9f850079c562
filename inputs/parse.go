// Package inputs brings in the evidence Jira does not hold: survey answers
// (NPS, CSAT, employee NPS), business value records, and EBM goals with
// experiments. Imports are all or nothing: a file with any bad row is
// rejected whole, every problem named by line and column.
package inputs

import (
	"bufio"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/evident-ebm/evident"
)

// MaxProblems is how many problems an error lists; the rest are counted.
const MaxProblems = 50

// Problem is one thing wrong in an input file.
type Problem struct {
	Line   int
	Column string
	Msg    string
}

func (p Problem) String() string {
	if p.Column == "" {
		return fmt.Sprintf("line %d: %s", p.Line, p.Msg)
	}
	return fmt.Sprintf("line %d, column %s: %s", p.Line, p.Column, p.Msg)
}

// Problems collects the problems of a file, keeping the first MaxProblems.
type Problems struct {
	List  []Problem
	Total int
}

// Add records a problem.
func (ps *Problems) Add(line int, col, format string, args ...any) {
	ps.Total++
	if len(ps.List) < MaxProblems {
		ps.List = append(ps.List, Problem{Line: line, Column: col, Msg: fmt.Sprintf(format, args...)})
	}
}

// Err returns the problems as one user-facing error, or nil.
func (ps *Problems) Err(what string) error {
	if ps.Total == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s rejected, nothing imported: %d problem(s)", what, ps.Total)
	for _, p := range ps.List {
		b.WriteString("\n  " + p.String())
	}
	if ps.Total > len(ps.List) {
		fmt.Fprintf(&b, "\n  … and %d more", ps.Total-len(ps.List))
	}
	return evident.Errorf(evident.EINVALID, "%s", b.String())
}

// record is one row of an input file by column name.
type record struct {
	line   int
	fields map[string]string
}

// rows streams the records of a CSV (header line first) or JSON file (an
// array of objects, or one object per line), checking the columns.
func rows(r io.Reader, format string, required, optional []string, ps *Problems, fn func(record) error) error {
	known := map[string]bool{}
	for _, c := range append(append([]string{}, required...), optional...) {
		known[c] = true
	}
	switch format {
	case "csv":
		return csvRows(r, required, known, ps, fn)
	case "json":
		return jsonRows(r, required, known, ps, fn)
	}
	return evident.Errorf(evident.EINVALID, "format: %q is neither csv nor json", format)
}

func csvRows(r io.Reader, required []string, known map[string]bool, ps *Problems, fn func(record) error) error {
	cr := csv.NewReader(bufio.NewReaderSize(&lineLimit{r: r, max: MaxLine, line: 1}, 1<<16))
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return evident.Errorf(evident.EINVALID, "line 1: the file is empty; the header must be: %s", strings.Join(required, ","))
	}
	if err != nil {
		return evident.Errorf(evident.EINVALID, "line 1: %v", err)
	}
	cols := make([]string, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		cols[i] = h
		if !known[h] {
			ps.Add(1, h, "unknown column (the header must be %s)", strings.Join(required, ","))
		}
		if seen[h] {
			ps.Add(1, h, "column appears twice in the header")
		}
		seen[h] = true
	}
	for _, c := range required {
		if !seen[c] {
			ps.Add(1, c, "required column missing from the header")
		}
	}
	if ps.Total > 0 {
		return nil
	}
	for {
		rec, err := cr.Read()
		line, _ := cr.FieldPos(0)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				ps.Add(pe.Line, "", "%v", pe.Err)
				if pe.Err == csv.ErrBareQuote || pe.Err == csv.ErrQuote {
					return nil // the reader cannot resync after a broken quote
				}
				continue
			}
			return err
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		if len(rec) != len(cols) {
			ps.Add(line, "", "%d fields, the header has %d", len(rec), len(cols))
			continue
		}
		m := make(map[string]string, len(cols))
		for i, c := range cols {
			m[c] = strings.TrimSpace(rec[i])
		}
		if err := fn(record{line: line, fields: m}); err != nil {
			return err
		}
	}
}

func jsonRows(r io.Reader, required []string, known map[string]bool, ps *Problems, fn func(record) error) error {
	br := bufio.NewReaderSize(r, 1<<16)
	// Count lines as the decoder consumes input, for messages.
	lc := &lineCounter{r: br}
	budget := &recordBudget{r: lc, left: MaxRecord}
	dec := json.NewDecoder(budget)
	dec.UseNumber()
	first, err := peekNonSpace(br)
	if err != nil {
		return evident.Errorf(evident.EINVALID, "line 1: the file is empty")
	}
	array := first == '['
	if array {
		if _, err := dec.Token(); err != nil {
			return evident.Errorf(evident.EINVALID, "line 1: %v", err)
		}
	}
	n := 0
	for {
		budget.left = MaxRecord
		if array && !dec.More() {
			break
		}
		var obj map[string]any
		start := lc.lineAt(dec.InputOffset()) + leadingNewlines(dec.Buffered())
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) && !array {
			break
		}
		n++
		if budget.over {
			ps.Add(start, "", "record %d is longer than %d MiB", n, MaxRecord>>20)
			return nil
		}
		if err != nil {
			ps.Add(start, "", "record %d is not a JSON object: %v", n, err)
			return nil // the decoder cannot resync
		}
		m := map[string]string{}
		given := map[string]string{} // lower case → as written
		for k, v := range obj {
			as := k
			k = strings.ToLower(k)
			if other, ok := given[k]; ok {
				// Which one would win depends on map order: neither does.
				ps.Add(start, k, "given twice in record %d (as %q and %q)", n, min(as, other), max(as, other))
				continue
			}
			given[k] = as
			if !known[k] {
				ps.Add(start, k, "unknown field in record %d", n)
				continue
			}
			switch x := v.(type) {
			case nil:
			case string:
				m[k] = strings.TrimSpace(x)
			case json.Number:
				m[k] = x.String()
			case bool:
				m[k] = strconv.FormatBool(x)
			default:
				ps.Add(start, k, "want a string or a number in record %d", n)
			}
		}
		for _, c := range required {
			if _, ok := m[c]; !ok && c != "respondent" && c != "comment" && c != "unit" {
				ps.Add(start, c, "missing in record %d", n)
			}
		}
		if err := fn(record{line: start, fields: m}); err != nil {
			return err
		}
	}
	if array {
		budget.left = MaxRecord
		if _, err := dec.Token(); err != nil {
			ps.Add(lc.lines+1, "", "the JSON array is not closed: %v", err)
			return nil
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			ps.Add(lc.lines+1, "", "something follows the JSON array: the file must hold one array")
		}
	}
	return nil
}

// leadingNewlines counts the newlines before the next value in the
// decoder's buffer: the record starts on the line after them.
func leadingNewlines(r io.Reader) int {
	buf := make([]byte, 4096)
	n, _ := r.Read(buf)
	lines := 0
	for _, c := range buf[:n] {
		switch c {
		case '\n':
			lines++
		case ' ', '\t', '\r', ',':
		default:
			return lines
		}
	}
	return lines
}

func peekNonSpace(br *bufio.Reader) (byte, error) {
	for i := 1; ; i++ {
		b, err := br.Peek(i)
		if err != nil {
			return 0, err
		}
		c := b[i-1]
		if c != ' ' && c != '\n' && c != '\r' && c != '\t' {
			return c, nil
		}
	}
}

// lineCounter remembers where the lines of the last MiB of input start, so
// that a record's line can be named with memory that does not grow.
type lineCounter struct {
	r       io.Reader
	read    int64
	lines   int
	nls     []int64 // offsets of recent newlines
	dropped int     // newlines forgotten before nls
}

func (l *lineCounter) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for i, c := range p[:n] {
		if c == '\n' {
			l.nls = append(l.nls, l.read+int64(i))
			l.lines++
		}
	}
	l.read += int64(n)
	k := 0
	for k < len(l.nls) && l.nls[k] < l.read-(1<<20) {
		k++
	}
	if k > 0 {
		l.dropped += k
		l.nls = append(l.nls[:0], l.nls[k:]...)
	}
	return n, err
}

// lineAt returns the 1-based line of a byte offset.
func (l *lineCounter) lineAt(off int64) int {
	line := l.dropped + 1
	for _, nl := range l.nls {
		if nl < off {
			line++
		}
	}
	return line
}

var dateLayouts = []string{time.RFC3339, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"}

func parseTime(s string) (time.Time, error) {
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			if !evident.StorableTime(t) {
				return time.Time{}, errOutOfRange(s)
			}
			return t.UTC().Truncate(time.Second), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date or time (want YYYY-MM-DD or RFC 3339)", s)
}

func parseDate(s string) (time.Time, error) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date (want YYYY-MM-DD)", s)
	}
	if !evident.StorableTime(t) {
		return time.Time{}, errOutOfRange(s)
	}
	return t, nil
}

// errOutOfRange names a date ClickHouse's DateTime cannot hold: stored, it
// would wrap around to another date.
func errOutOfRange(s string) error {
	return errors.New(evident.OutsideStorable(s))
}

func hashOf(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

var scaleRange = map[string][2]int{"nps": {0, 10}, "enps": {0, 10}, "csat": {1, 5}}

// SatisfactionColumns are the columns of a survey file.
var SatisfactionColumns = []string{"responded_at", "scale", "score", "product", "respondent", "comment"}

// parseSatisfaction validates one survey answer; an answer dated more than
// two days after now (time zones) is refused.
func parseSatisfaction(rec record, salt string, now time.Time, ps *Problems) (evident.SatisfactionResponse, bool) {
	f := rec.fields
	before := ps.Total
	var r evident.SatisfactionResponse
	t, err := parseTime(f["responded_at"])
	if err != nil {
		ps.Add(rec.line, "responded_at", "%v", err)
	} else if t.Year() < 1990 || t.After(now.Add(48*time.Hour)) {
		ps.Add(rec.line, "responded_at", "%s is not a plausible answer date", f["responded_at"])
	}
	r.RespondedAt = t
	r.Scale = strings.ToLower(f["scale"])
	rng, ok := scaleRange[r.Scale]
	if !ok {
		ps.Add(rec.line, "scale", "unknown scale %q (want nps, csat or enps)", f["scale"])
	}
	score, err := strconv.Atoi(f["score"])
	switch {
	case err != nil:
		ps.Add(rec.line, "score", "%q is not a whole number", f["score"])
	case ok && (score < rng[0] || score > rng[1]):
		ps.Add(rec.line, "score", "%d is out of range for %s (%d to %d)", score, r.Scale, rng[0], rng[1])
	}
	r.Score = int16(score)
	r.Product = f["product"]
	if r.Product == "" {
		ps.Add(rec.line, "product", "empty: name the product (for example a Jira project key)")
	} else {
		checkProduct(rec.line, r.Product, ps)
	}
	if !utf8.ValidString(f["comment"]) || len(f["comment"]) > 10000 {
		ps.Add(rec.line, "comment", "not valid UTF-8 text of at most 10,000 bytes")
	}
	r.Comment = f["comment"]
	if f["respondent"] != "" {
		r.RespondentHash = hashOf(salt, f["respondent"])
	}
	r.ResponseID = hashOf(r.RespondedAt.Format(time.RFC3339), r.Scale, strconv.Itoa(score), r.Product, r.RespondentHash, r.Comment)
	return r, ps.Total == before
}

// ValueColumns are the columns of a value-records file.
var ValueColumns = []string{"product", "measure", "period_start", "period_end", "value", "unit"}

var measureName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

func parseValue(rec record, ps *Problems) (evident.ValueRecord, bool) {
	f := rec.fields
	before := ps.Total
	var v evident.ValueRecord
	v.Product = f["product"]
	if v.Product == "" {
		ps.Add(rec.line, "product", "empty: name the product")
	} else {
		checkProduct(rec.line, v.Product, ps)
	}
	v.Measure = strings.ToLower(f["measure"])
	if !measureName.MatchString(v.Measure) {
		ps.Add(rec.line, "measure", "%q is not a measure name (lower case letters, digits and _, such as revenue_per_employee)", f["measure"])
	}
	var err error
	if v.PeriodStart, err = parseDate(f["period_start"]); err != nil {
		ps.Add(rec.line, "period_start", "%v", err)
	}
	if v.PeriodEnd, err = parseDate(f["period_end"]); err != nil {
		ps.Add(rec.line, "period_end", "%v", err)
	} else if !v.PeriodStart.IsZero() && v.PeriodEnd.Before(v.PeriodStart) {
		ps.Add(rec.line, "period_end", "%s is before period_start %s", f["period_end"], f["period_start"])
	}
	val, err := strconv.ParseFloat(f["value"], 64)
	if err != nil || math.IsNaN(val) || math.IsInf(val, 0) {
		ps.Add(rec.line, "value", "%q is not a number", f["value"])
	}
	v.Value = val
	v.Unit = f["unit"]
	return v, ps.Total == before
}

// MaxProductLen is the longest product name, in bytes.
const MaxProductLen = 200

// validProduct says whether a product name is valid UTF-8 text of at most
// MaxProductLen bytes without control characters: it is a key of goals and
// measures, shown on every page.
func validProduct(p string) bool {
	if !utf8.ValidString(p) || len(p) > MaxProductLen {
		return false
	}
	for _, r := range p {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func checkProduct(line int, p string, ps *Problems) {
	if !validProduct(p) {
		ps.Add(line, "product", "not a product name: valid UTF-8 text of at most %d bytes without control characters", MaxProductLen)
	}
}
