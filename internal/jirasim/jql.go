package jirasim

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// query is a compiled JQL query of the subset collectors use.
type query struct {
	projects   map[string]bool // nil: any
	keys       map[string]bool // nil: any
	ids        map[int64]bool  // nil: any
	updatedMin time.Time       // inclusive bounds; zero: none
	updatedMax time.Time
	createdMin time.Time
	createdMax time.Time
	orderBy    string // created or updated
	desc       bool
}

// jqlError is a JQL problem, reported as Jira does with 400.
type jqlError struct{ msg string }

func (e *jqlError) Error() string { return e.msg }

type token struct {
	text   string
	quoted bool
	pos    int
}

func lexJQL(s string) ([]token, error) {
	var out []token
	i := 0
	for i < len(s) {
		c := rune(s[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '(' || c == ')' || c == ',':
			out = append(out, token{text: string(c), pos: i})
			i++
		case c == '"' || c == '\'':
			j := i + 1
			var b strings.Builder
			for j < len(s) && rune(s[j]) != c {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
				j++
			}
			if j >= len(s) {
				return nil, &jqlError{fmt.Sprintf("Error in the JQL Query: The quoted string starting at character %d is not terminated.", i)}
			}
			out = append(out, token{text: b.String(), quoted: true, pos: i})
			i = j + 1
		case c == '>' || c == '<' || c == '=' || c == '!':
			j := i + 1
			if j < len(s) && s[j] == '=' {
				j++
			}
			out = append(out, token{text: s[i:j], pos: i})
			i = j
		default:
			j := i
			for j < len(s) && !unicode.IsSpace(rune(s[j])) && !strings.ContainsRune("()\",'=<>!", rune(s[j])) {
				j++
			}
			out = append(out, token{text: s[i:j], pos: i})
			i = j
		}
	}
	return out, nil
}

type jqlParser struct {
	toks []token
	i    int
	loc  *time.Location
	q    *query
	src  string
}

func (p *jqlParser) peek() *token {
	if p.i < len(p.toks) {
		return &p.toks[p.i]
	}
	return nil
}

func (p *jqlParser) next() *token {
	t := p.peek()
	if t != nil {
		p.i++
	}
	return t
}

func (p *jqlParser) errAt(t *token, format string, args ...any) error {
	pos := len(p.src)
	if t != nil {
		pos = t.pos
	}
	return &jqlError{fmt.Sprintf("Error in the JQL Query: %s (line 1, character %d)", fmt.Sprintf(format, args...), pos+1)}
}

func isWord(t *token, w string) bool { return t != nil && !t.quoted && strings.EqualFold(t.text, w) }

// parseJQL compiles a JQL string; dates are read in the searching user's
// time zone, as Jira does.
func parseJQL(src string, loc *time.Location) (*query, error) {
	toks, err := lexJQL(src)
	if err != nil {
		return nil, err
	}
	p := &jqlParser{toks: toks, loc: loc, q: &query{orderBy: "created"}, src: src}
	if p.peek() != nil && !isWord(p.peek(), "order") {
		if err := p.expr(); err != nil {
			return nil, err
		}
	}
	if t := p.peek(); t != nil {
		if !isWord(t, "order") {
			if isWord(t, "or") {
				return nil, p.errAt(t, "OR is not supported by the Evident Jira simulator")
			}
			return nil, p.errAt(t, "Expecting either 'OR' or 'AND' but got '%s'.", t.text)
		}
		p.next()
		if !isWord(p.next(), "by") {
			return nil, p.errAt(p.peek(), "Expecting 'BY' after 'ORDER'.")
		}
		f := p.next()
		if f == nil {
			return nil, p.errAt(nil, "Expecting a field name after 'ORDER BY'.")
		}
		switch strings.ToLower(f.text) {
		case "created", "updated":
			p.q.orderBy = strings.ToLower(f.text)
		case "key", "id", "issuekey":
			p.q.orderBy = "created" // ids and keys grow with creation here
		default:
			return nil, p.errAt(f, "Not able to sort using field '%s'.", f.text)
		}
		if t := p.peek(); isWord(t, "asc") || isWord(t, "desc") {
			p.q.desc = isWord(t, "desc")
			p.next()
		}
		if t := p.peek(); t != nil {
			return nil, p.errAt(t, "Unexpected '%s' after ORDER BY.", t.text)
		}
	}
	return p.q, nil
}

// expr := primary (AND primary)*
func (p *jqlParser) expr() error {
	for {
		if err := p.primary(); err != nil {
			return err
		}
		if !isWord(p.peek(), "and") {
			return nil
		}
		p.next()
	}
}

func (p *jqlParser) primary() error {
	t := p.peek()
	if t == nil {
		return p.errAt(nil, "Expecting a field name but reached the end of the query.")
	}
	if t.text == "(" && !t.quoted {
		p.next()
		if err := p.expr(); err != nil {
			return err
		}
		if c := p.next(); c == nil || c.text != ")" {
			if isWord(c, "or") {
				return p.errAt(c, "OR is not supported by the Evident Jira simulator")
			}
			return p.errAt(c, "Expecting ')'.")
		}
		return nil
	}
	return p.clause()
}

func (p *jqlParser) values() ([]string, error) {
	t := p.next()
	if t == nil {
		return nil, p.errAt(nil, "Expecting a value but reached the end of the query.")
	}
	if t.text != "(" || t.quoted {
		return []string{t.text}, nil
	}
	var out []string
	for {
		v := p.next()
		if v == nil {
			return nil, p.errAt(nil, "Expecting ')' but reached the end of the query.")
		}
		if v.text == ")" && !v.quoted && len(out) == 0 {
			return nil, p.errAt(v, "Expecting at least one value in the list.")
		}
		out = append(out, v.text)
		sep := p.next()
		if sep == nil {
			return nil, p.errAt(nil, "Expecting ')' but reached the end of the query.")
		}
		if sep.text == ")" {
			return out, nil
		}
		if sep.text != "," {
			return nil, p.errAt(sep, "Expecting ',' or ')' but got '%s'.", sep.text)
		}
	}
}

var jqlDateLayouts = []string{"2006/01/02 15:04", "2006-01-02 15:04", "2006/01/02", "2006-01-02"}

func (p *jqlParser) date(field string, t *token, v string) (time.Time, error) {
	for _, l := range jqlDateLayouts {
		if d, err := time.ParseInLocation(l, v, p.loc); err == nil {
			return d, nil
		}
	}
	return time.Time{}, &jqlError{fmt.Sprintf("Date value '%s' for field '%s' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.", v, field)}
}

func (p *jqlParser) clause() error {
	f := p.next()
	field := strings.ToLower(f.text)
	op := p.next()
	if op == nil {
		return p.errAt(nil, "Expecting operator but reached the end of the query.")
	}
	opText := strings.ToLower(op.text)
	switch field {
	case "id":
		if opText != "=" && opText != "in" {
			return p.errAt(op, "The operator '%s' is not supported by the '%s' field in the Evident Jira simulator.", op.text, f.text)
		}
		vals, err := p.values()
		if err != nil {
			return err
		}
		set := map[int64]bool{}
		for _, v := range vals {
			id, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return &jqlError{fmt.Sprintf("The value '%s' for field 'id' is invalid.", v)}
			}
			if p.q.ids == nil || p.q.ids[id] {
				set[id] = true
			}
		}
		p.q.ids = set
	case "project", "key", "issuekey":
		if opText != "=" && opText != "in" {
			return p.errAt(op, "The operator '%s' is not supported by the '%s' field in the Evident Jira simulator.", op.text, f.text)
		}
		vals, err := p.values()
		if err != nil {
			return err
		}
		set := map[string]bool{}
		for _, v := range vals {
			set[strings.ToUpper(v)] = true
		}
		if field == "project" {
			p.q.projects = intersect(p.q.projects, set)
		} else {
			p.q.keys = intersect(p.q.keys, set)
		}
	case "updated", "created", "updateddate", "createddate":
		v := p.next()
		if v == nil {
			return p.errAt(nil, "Expecting a date but reached the end of the query.")
		}
		d, err := p.date(f.text, v, v.text)
		if err != nil {
			return err
		}
		min, max := &p.q.updatedMin, &p.q.updatedMax
		if strings.HasPrefix(field, "created") {
			min, max = &p.q.createdMin, &p.q.createdMax
		}
		switch opText {
		case ">=":
			*min = later(*min, d)
		case ">":
			*min = later(*min, d.Add(time.Minute))
		case "<=":
			*max = earlier(*max, d.Add(time.Minute-time.Nanosecond))
		case "<":
			*max = earlier(*max, d.Add(-time.Nanosecond))
		default:
			return p.errAt(op, "The operator '%s' is not supported by the '%s' field in the Evident Jira simulator.", op.text, f.text)
		}
	default:
		return &jqlError{fmt.Sprintf("Field '%s' does not exist or you do not have permission to view it.", f.text)}
	}
	return nil
}

func intersect(a, b map[string]bool) map[string]bool {
	if a == nil {
		return b
	}
	out := map[string]bool{}
	for k := range a {
		if b[k] {
			out[k] = true
		}
	}
	return out
}

func later(a, b time.Time) time.Time {
	if a.IsZero() || b.After(a) {
		return b
	}
	return a
}

func earlier(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}
