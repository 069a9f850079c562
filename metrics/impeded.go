package metrics

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/evident-ebm/evident/schema"
)

// ImpededIssue is an issue with its impediments replayed: in progress (its
// age so far) or done (its cycle time).
type ImpededIssue struct {
	Key       string     `json:"key"`
	Summary   string     `json:"summary"`
	Status    string     `json:"status"`
	Priority  string     `json:"priority"`
	StartedAt time.Time  `json:"started_at"`
	DoneAt    *time.Time `json:"done_at"`
	// Days is the age of an issue in progress, the cycle time of one done.
	Days      float64 `json:"days"`
	Expedited bool    `json:"expedited"`
	Impediments
}

// impRow is what the impediment replay reads of an issue in the read model.
type impRow struct {
	Site          string      `ch:"site"`
	IssueID       uint64      `ch:"issue_id"`
	Key           string      `ch:"issue_key"`
	Summary       string      `ch:"summary"`
	Status        string      `ch:"status_name"`
	Priority      string      `ch:"priority"`
	Created       time.Time   `ch:"created_at"`
	Updated       time.Time   `ch:"updated_at"`
	Started       time.Time   `ch:"started"`
	Done          *time.Time  `ch:"done_at"`
	Flagged       uint8       `ch:"flagged"`
	BlockedBy     []string    `ch:"blocked_by"`
	BlockedByOpen []uint8     `ch:"blocked_by_open"`
	Initial       string      `ch:"initial_status"`
	At            []time.Time `ch:"history_at"`
	To            []string    `ch:"history_to_status"`
}

// MaxImpededIssues bounds how many issues in progress one impediment
// replay reads; MaxImpededSample how many done issues (a uniform sample
// beyond: 5,000 give a share within about ±1.4 points at 95%).
const (
	MaxImpededIssues = 2000
	MaxImpededSample = 5000
)

// impeded replays the impediments of the started issues of set: those
// done in the range (their cycle; a uniform sample of MaxImpededSample
// when more) or those in progress now (until now; the oldest
// MaxImpededIssues). The flag's and links' changes come from
// field_changes, read without FINAL and deduplicated here by history item.
func (s *Service) impeded(ctx context.Context, f Filter, set workSet) ([]ImpededIssue, error) {
	rows, hs, err := s.workHistories(ctx, f, set)
	inProgress := set == inProgressNow
	if err != nil {
		return nil, err
	}
	rules := f.Rules.WithDefaults()
	out := make([]ImpededIssue, 0, len(rows))
	for i, r := range rows {
		h := hs[i]
		is := ImpededIssue{Key: r.Key, Summary: r.Summary, Status: r.Status, Priority: r.Priority, StartedAt: h.Start,
			Days: daysSince(h.End, h.Start), Expedited: rules.IsExpedited(r.Priority), Impediments: Impede(h, rules)}
		if !inProgress && r.Done != nil {
			d := r.Done.UTC()
			is.DoneAt = &d
		}
		out = append(out, is)
	}
	return out, nil
}

// workSet says which started issues of a filter workHistories reads, and
// so which table (the open or the done issues) holds them.
type workSet int

const (
	// inProgressNow: the issues in progress now, each ending now.
	inProgressNow workSet = iota
	// doneInRange: the issues done in the filter's range, each ending at
	// its completion; a uniform sample of MaxImpededSample when more.
	doneInRange
	// everyStarted: every started issue of the filter (a retrospective's
	// items), each ending at its completion or now.
	everyStarted
)

// workHistories reads what the impediment replay needs of the started
// issues of set, the oldest MaxImpededIssues (doneInRange: a sample).
func (s *Service) workHistories(ctx context.Context, f Filter, set workSet) ([]impRow, []WorkHistory, error) {
	now := s.Now().UTC()
	inProgress := set == inProgressNow
	var rows []impRow
	cols := `SELECT site, issue_id, issue_key, summary, status_name, priority, created_at, updated_at,
		assumeNotNull(started_at) AS started, done_at, flagged, blocked_by, blocked_by_open, initial_status, history_at, history_to_status FROM `
	var sel sqlf
	switch set {
	case inProgressNow:
		sel = cat(cols, f.openIssuesFrom(), ` WHERE started_at IS NOT NULL AND `+inProgressCond+` ORDER BY started, issue_key LIMIT `+strconv.Itoa(MaxImpededIssues))
	case doneInRange:
		// Beyond MaxImpededSample: a uniform sample, as the cycle-time
		// scatterplot's points, never the first ones done.
		issues := cat(f.doneIssuesFrom(), ` WHERE started_at IS NOT NULL`)
		sel = cat(cols, issues, uniformSample(issues, MaxImpededSample))
	default:
		sel = cat(cols, f.issuesFrom(), ` WHERE started_at IS NOT NULL ORDER BY started, issue_key LIMIT `+strconv.Itoa(MaxImpededIssues))
	}
	if err := s.DB.Select(ctx, &rows, sel.text, sel.args...); err != nil {
		return nil, nil, fmt.Errorf("impediments: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil, nil
	}
	ids := make([]uint64, len(rows))
	var sites []string
	for i, r := range rows {
		ids[i] = r.IssueID
		if len(sites) == 0 || sites[len(sites)-1] != r.Site {
			sites = append(sites, r.Site)
		}
	}
	type change struct {
		Site    string    `ch:"site"`
		IssueID uint64    `ch:"issue_id"`
		History uint64    `ch:"history_id"`
		Item    uint16    `ch:"item_index"`
		At      time.Time `ch:"changed_at"`
		Field   string    `ch:"field"`
		To      string    `ch:"to_value"`
		ToStr   string    `ch:"to_string"`
	}
	var changes []change
	var done []blockerDone
	err := parallel(
		func() error {
			// The sites first: field_changes is ordered by site and issue,
			// so both together select ranges of its index.
			q := frag(`SELECT site, issue_id, history_id, item_index, changed_at, field, to_value, to_string FROM field_changes
				WHERE site IN (SELECT arrayJoin(?)) AND issue_id IN (SELECT toUInt64(arrayJoin(?)))`, uniq(sites), ids)
			if err := s.DB.Select(ctx, &changes, q.text, q.args...); err != nil {
				return fmt.Errorf("impediments: field changes: %w", err)
			}
			return nil
		},
		func() (err error) { done, err = s.blockersDone(ctx, rows); return },
	)
	if err != nil {
		return nil, nil, err
	}
	type issueRef struct {
		site string
		id   uint64
	}
	type itemRef struct {
		issueRef
		history uint64
		item    uint16
	}
	seen := map[itemRef]bool{}
	byIssue := map[issueRef][]change{}
	for _, c := range changes {
		k := itemRef{issueRef{c.Site, c.IssueID}, c.History, c.Item}
		if seen[k] {
			continue
		}
		seen[k] = true
		byIssue[k.issueRef] = append(byIssue[k.issueRef], c)
	}
	doneAt := map[blockerRef]*time.Time{}
	for _, d := range done {
		doneAt[blockerRef{d.Site, d.Key}] = d.Done
	}
	out := make([]WorkHistory, 0, len(rows))
	for _, r := range rows {
		h := WorkHistory{Start: r.Started.UTC(), End: now, InProgress: inProgress, FlaggedNow: r.Flagged == 1}
		if !inProgress && r.Done != nil {
			h.End = r.Done.UTC()
		}
		from, status := r.Created.UTC(), r.Initial
		for k := range r.At {
			if k >= len(r.To) {
				break
			}
			h.Statuses = append(h.Statuses, StatusSpan{status, from, r.At[k].UTC()})
			h.Activity = append(h.Activity, r.At[k].UTC())
			from, status = r.At[k].UTC(), r.To[k]
		}
		h.Statuses = append(h.Statuses, StatusSpan{Status: status, From: from})
		h.Activity = append(h.Activity, r.Updated.UTC())
		linked := map[string]time.Time{}
		for _, c := range byIssue[issueRef{r.Site, r.IssueID}] {
			at := c.At.UTC()
			h.Activity = append(h.Activity, at)
			switch c.Field {
			case "Flagged":
				h.Flags = append(h.Flags, FlagChange{At: at, On: c.ToStr != ""})
			case "Link":
				if c.To != "" && at.After(linked[c.To]) {
					linked[c.To] = at
				}
			}
		}
		for k, key := range r.BlockedBy {
			l := BlockLink{Key: key, Since: h.Start, Open: k < len(r.BlockedByOpen) && r.BlockedByOpen[k] == 1}
			if at, ok := linked[key]; ok {
				l.Since = at
			}
			if d, known := doneAt[blockerRef{r.Site, key}]; known {
				l.Open = d == nil
				if d != nil {
					l.Until = d.UTC()
				}
			}
			h.Links = append(h.Links, l)
		}
		out = append(out, h)
	}
	return rows, out, nil
}

type blockerRef struct{ site, key string }

type blockerDone struct {
	Site string     `ch:"site"`
	Key  string     `ch:"issue_key"`
	Done *time.Time `ch:"done_at"`
}

// blockersDone looks up the issues that block rows, in the rows' sites:
// their completion, if any. A key names its issue's project (the part
// before its last "-") nearly always, so the issues of those projects are
// read first (by the index: about a third of the issues at 1,000,000,
// where the keys alone read all of them); the keys not found there (an
// issue moved or a project renamed after the link, another site's) are
// then looked up among every issue.
func (s *Service) blockersDone(ctx context.Context, rows []impRow) ([]blockerDone, error) {
	want := map[blockerRef]bool{}
	var keys, projects []string
	for _, r := range rows {
		for _, k := range r.BlockedBy {
			want[blockerRef{r.Site, k}] = true
			keys = append(keys, k)
			if i := strings.LastIndexByte(k, '-'); i > 0 {
				projects = append(projects, k[:i])
			}
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	// IN builds a set once; has(?, issue_key) would scan the list for
	// every issue.
	q := `SELECT site, issue_key, done_at FROM issues_current WHERE ` + schema.Current + ` AND issue_key IN (SELECT arrayJoin(?))`
	var done []blockerDone
	if len(projects) > 0 { // else no key names a project: every one is looked up below
		if err := s.DB.Select(ctx, &done, q+` AND project_key IN (SELECT arrayJoin(?))`, uniq(keys), uniq(projects)); err != nil {
			return nil, fmt.Errorf("impediments: blocking issues: %w", err)
		}
	}
	for _, d := range done {
		delete(want, blockerRef{d.Site, d.Key})
	}
	if len(want) == 0 {
		return done, nil
	}
	var missing []string
	for b := range want {
		missing = append(missing, b.key)
	}
	var more []blockerDone
	if err := s.DB.Select(ctx, &more, q, uniq(missing)); err != nil {
		return nil, fmt.Errorf("impediments: blocking issues: %w", err)
	}
	return append(done, more...), nil
}

// uniq returns the distinct strings of xs, sorted.
func uniq(xs []string) []string {
	out := append([]string(nil), xs...)
	slices.Sort(out)
	return slices.Compact(out)
}

// FlowImpediments sums up the impediments of the issues done in a period:
// how much of their cycle time they were blocked or stalled, and what
// blocked them most.
type FlowImpediments struct {
	// N is the number of done issues with a cycle time the figures rest on.
	N            int     `json:"n"`
	BlockedItems int     `json:"blocked_items"`
	CycleDays    float64 `json:"cycle_days"`
	BlockedDays  float64 `json:"blocked_days"`
	StalledDays  float64 `json:"stalled_days"`
	// BlockedShare and StalledShare are shares of the summed cycle time
	// (null without any).
	BlockedShare *float64 `json:"blocked_share"`
	StalledShare *float64 `json:"stalled_share"`
	// TopBlockers are the reasons that blocked the most days, at most 10.
	TopBlockers []TopBlocker `json:"top_blockers"`
	// Of is how many done issues have a cycle time; Sampled says N is a
	// uniform sample of them (more than MaxImpededSample were done).
	Of      int   `json:"of"`
	Sampled bool  `json:"sampled"`
	Rules   Rules `json:"rules"`
}

// TopBlocker is a reason issues were blocked, summed over the period's
// issues: the days (each issue's own, not merged) and how many issues.
type TopBlocker struct {
	Reason string  `json:"reason"`
	Name   string  `json:"name"`
	Days   float64 `json:"days"`
	Issues int     `json:"issues"`
}

// PeriodImpediments are the impediments of the issues done in a period:
// the sums, and the issues that were blocked or stalled, most blocked
// first (at most MaxImpededListed; All holds every issue replayed, for
// CSV).
type PeriodImpediments struct {
	FlowImpediments
	Issues []ImpededIssue `json:"issues"`
	All    []ImpededIssue `json:"-"`
}

// MaxImpededListed is how many impeded issues the JSON lists.
const MaxImpededListed = 200

// Impediments replays the impediments of the issues done in the period.
func (s *Service) Impediments(ctx context.Context, f Filter) (PeriodImpediments, error) {
	var done []ImpededIssue
	var of uint64
	err := parallel(
		func() (err error) { done, err = s.impeded(ctx, f, doneInRange); return },
		func() error {
			q := cat(`SELECT count() FROM `, f.doneIssuesFrom(), " WHERE started_at IS NOT NULL")
			return s.DB.QueryRow(ctx, q.text, q.args, &of)
		},
	)
	if err != nil {
		return PeriodImpediments{}, err
	}
	out := PeriodImpediments{FlowImpediments: SumImpediments(done, int(of), f.Rules), Issues: []ImpededIssue{}, All: done}
	for _, is := range done {
		if is.BlockedDays > 0 || is.StalledDays > 0 {
			out.Issues = append(out.Issues, is)
		}
	}
	sort.SliceStable(out.Issues, func(a, b int) bool {
		x, y := out.Issues[a], out.Issues[b]
		return moreImpeded(x.Impediments, y.Impediments, x.Key, y.Key)
	})
	if len(out.Issues) > MaxImpededListed {
		out.Issues = out.Issues[:MaxImpededListed]
	}
	return out, nil
}

// moreImpeded orders impeded issues: most blocked days first, then most
// stalled days, then by key.
func moreImpeded(x, y Impediments, xKey, yKey string) bool {
	if x.BlockedDays != y.BlockedDays {
		return x.BlockedDays > y.BlockedDays
	}
	if x.StalledDays != y.StalledDays {
		return x.StalledDays > y.StalledDays
	}
	return xKey < yKey
}

// SumImpediments adds up the impediments of done issues, of which there
// are "of" in all (the issues are a sample when fewer).
func SumImpediments(done []ImpededIssue, of int, rules Rules) FlowImpediments {
	out := FlowImpediments{N: len(done), Of: max(of, len(done)), TopBlockers: []TopBlocker{}, Rules: rules.WithDefaults()}
	out.Sampled = out.N < out.Of
	type key struct{ reason, name string }
	top := map[key]*TopBlocker{}
	for _, is := range done {
		out.CycleDays += is.Days
		out.BlockedDays += is.BlockedDays
		out.StalledDays += is.StalledDays
		if is.BlockedDays > 0 {
			out.BlockedItems++
		}
		for _, b := range is.Blockers {
			k := key{b.Reason, b.Name}
			if top[k] == nil {
				top[k] = &TopBlocker{Reason: b.Reason, Name: b.Name}
			}
			top[k].Days += b.Days
			top[k].Issues++
		}
	}
	for _, t := range top {
		t.Days = round(t.Days)
		out.TopBlockers = append(out.TopBlockers, *t)
	}
	sort.Slice(out.TopBlockers, func(a, b int) bool {
		x, y := out.TopBlockers[a], out.TopBlockers[b]
		if x.Days != y.Days {
			return x.Days > y.Days
		}
		return x.Reason+x.Name < y.Reason+y.Name
	})
	if len(out.TopBlockers) > 10 {
		out.TopBlockers = out.TopBlockers[:10]
	}
	if out.CycleDays > 0 {
		b, st := round(out.BlockedDays/out.CycleDays), round(out.StalledDays/out.CycleDays)
		out.BlockedShare, out.StalledShare = &b, &st
	}
	out.CycleDays, out.BlockedDays, out.StalledDays = round(out.CycleDays), round(out.BlockedDays), round(out.StalledDays)
	return out
}
