package metrics

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/evident-ebm/evident/schema"
)

// Rules say what counts as blocked, stalled and expedited in a project
// (project_settings; docs/metrics.md, "Blocked, stalled, expedited").
type Rules struct {
	// BlockedStatuses are statuses in which an issue is blocked (default:
	// a status named Blocked).
	BlockedStatuses []string `json:"blocked_statuses"`
	// StalledStatuses are statuses in which an issue is stalled (default
	// none).
	StalledStatuses []string `json:"stalled_statuses"`
	// StallDays is how long an issue in progress goes without any change
	// before it counts as stalled (default 5).
	StallDays float64 `json:"stall_days"`
	// Expedited are the priorities of expedited work (default Highest and
	// Critical).
	Expedited []string `json:"expedited_priorities"`
}

// DefaultStallDays is the stall threshold when a project sets none.
const DefaultStallDays = 5

// WithDefaults fills what the rules leave unset.
func (r Rules) WithDefaults() Rules {
	if r.BlockedStatuses == nil {
		r.BlockedStatuses = []string{"Blocked"}
	}
	if r.StalledStatuses == nil {
		r.StalledStatuses = []string{}
	}
	if r.StallDays <= 0 {
		r.StallDays = DefaultStallDays
	}
	if r.Expedited == nil {
		r.Expedited = []string{"Highest", "Critical"}
	}
	return r
}

func hasFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}

// IsExpedited says whether a priority is one of the rules' expedited ones.
func (r Rules) IsExpedited(priority string) bool { return hasFold(r.Expedited, priority) }

// Why an issue was blocked.
const (
	BlockedByFlag   = "flagged"
	BlockedByStatus = "status"
	BlockedByLink   = "link"
)

// FlagChange is a change of Jira's Flagged field: set (On) or cleared.
type FlagChange struct {
	At time.Time
	On bool
}

// BlockLink is an "is blocked by" link: blocked from Since (the link's
// changelog entry, else the issue's start) until Until, the blocker's
// completion (zero while it is open). Open says the blocker was open when
// collected; a closed blocker with no known completion blocks nothing.
type BlockLink struct {
	Key   string
	Since time.Time
	Until time.Time
	Open  bool
}

// StatusSpan is a stay in a status: From until To (zero: still in it).
type StatusSpan struct {
	Status   string
	From, To time.Time
}

// WorkHistory is what the impediment replay reads of one issue: its cycle
// (Start to End, End being its completion or now), its stays in statuses,
// its Flagged changes, its blocking links, and the times anything about it
// changed.
type WorkHistory struct {
	Start, End time.Time
	// InProgress says End is now, not a completion.
	InProgress bool
	Statuses   []StatusSpan
	Flags      []FlagChange
	// FlaggedNow is Jira's Flagged field as collected: set without a
	// changelog entry, it counts from the start.
	FlaggedNow bool
	Links      []BlockLink
	Activity   []time.Time
}

// Blocker is one reason an issue was blocked and for how long (days within
// its cycle): the Flagged field, a blocked status (Name), or a link to the
// blocking issue (Name is its key).
type Blocker struct {
	Reason string  `json:"reason"`
	Name   string  `json:"name"`
	Days   float64 `json:"days"`
	// Now says the reason still holds (an issue in progress).
	Now bool `json:"now"`
}

// Impediments are an issue's blocked and stalled time within its cycle.
type Impediments struct {
	BlockedDays float64 `json:"blocked_days"`
	// Episodes counts the separate spells of being blocked, whatever the
	// reasons (overlapping reasons make one spell).
	Episodes    int       `json:"blocked_episodes"`
	StalledDays float64   `json:"stalled_days"`
	Blocked     bool      `json:"blocked"`
	Stalled     bool      `json:"stalled"`
	Blockers    []Blocker `json:"blockers"`
	// IdleDays is how long the issue has gone without any change (at End).
	IdleDays float64 `json:"idle_days"`
}

type span struct{ from, to time.Time }

func (s span) days() float64 { return s.to.Sub(s.from).Seconds() / 86400 }

// union merges spans into disjoint ones in time order.
func union(in []span) []span {
	s := append([]span(nil), in...)
	sort.Slice(s, func(a, b int) bool { return s[a].from.Before(s[b].from) })
	var out []span
	for _, x := range s {
		if !x.to.After(x.from) {
			continue
		}
		if n := len(out); n > 0 && !x.from.After(out[n-1].to) {
			if x.to.After(out[n-1].to) {
				out[n-1].to = x.to
			}
			continue
		}
		out = append(out, x)
	}
	return out
}

// minus removes the time of cut (disjoint, ordered) from each span.
func minus(in []span, cut []span) []span {
	var out []span
	for _, x := range union(in) {
		cur := x
		for _, c := range cut {
			if !c.to.After(cur.from) || !c.from.Before(cur.to) {
				continue
			}
			if c.from.After(cur.from) {
				out = append(out, span{cur.from, c.from})
			}
			cur.from = c.to
			if !cur.to.After(cur.from) {
				break
			}
		}
		if cur.to.After(cur.from) {
			out = append(out, cur)
		}
	}
	return out
}

func total(s []span) float64 {
	d := 0.0
	for _, x := range s {
		d += x.days()
	}
	return d
}

// Impede replays an issue's impediments by the rules: blocked while
// flagged, in a blocked status or linked as blocked by an open issue;
// stalled from StallDays after any change until the next one, and in a
// stalled status, but never while blocked (blocked says more). Everything
// counts within the cycle only.
func Impede(h WorkHistory, r Rules) Impediments {
	r = r.WithDefaults()
	out := Impediments{Blockers: []Blocker{}}
	if h.End.Before(h.Start) {
		return out
	}
	end := h.End
	clip := func(s span) span {
		if s.to.IsZero() || s.to.After(end) {
			s.to = end
		}
		if s.from.Before(h.Start) {
			s.from = h.Start
		}
		return s
	}
	var blocked []span
	add := func(reason, name string, spans []span) {
		var in []span
		now := false
		for _, s := range spans {
			if h.InProgress && (s.to.IsZero() || !s.to.Before(end)) && !s.from.After(end) {
				now = true
			}
			if c := clip(s); c.to.After(c.from) {
				in = append(in, c)
			}
		}
		in = union(in)
		if len(in) == 0 && !now {
			return
		}
		blocked = append(blocked, in...)
		out.Blockers = append(out.Blockers, Blocker{Reason: reason, Name: name, Days: round(total(in)), Now: now})
	}
	// The Flagged field: set and cleared in the changelog.
	var flagged []span
	var on time.Time
	set := false
	flags := append([]FlagChange(nil), h.Flags...)
	sort.SliceStable(flags, func(a, b int) bool { return flags[a].At.Before(flags[b].At) })
	for _, f := range flags {
		switch {
		case f.On && !set:
			on, set = f.At, true
		case !f.On && set:
			flagged = append(flagged, span{on, f.At})
			set = false
		}
	}
	if set {
		flagged = append(flagged, span{on, time.Time{}})
	} else if h.FlaggedNow {
		// Flagged without (or after) what the changelog says: since the
		// last change of the flag, or the start.
		from := h.Start
		if n := len(flags); n > 0 && flags[n-1].At.After(from) {
			from = flags[n-1].At
		}
		flagged = append(flagged, span{from, time.Time{}})
	}
	add(BlockedByFlag, "Flagged", flagged)
	// Blocked statuses, each by name.
	byStatus := map[string][]span{}
	var names []string
	var stalledStatus []span
	for _, st := range h.Statuses {
		if hasFold(r.BlockedStatuses, st.Status) {
			if byStatus[st.Status] == nil {
				names = append(names, st.Status)
			}
			byStatus[st.Status] = append(byStatus[st.Status], span{st.From, st.To})
		}
		if hasFold(r.StalledStatuses, st.Status) {
			stalledStatus = append(stalledStatus, clip(span{st.From, st.To}))
		}
	}
	for _, n := range names {
		add(BlockedByStatus, n, byStatus[n])
	}
	// Links to blocking issues, while those are open.
	for _, l := range h.Links {
		if l.Until.IsZero() && !l.Open {
			continue // closed, when unknown: no time can be counted
		}
		add(BlockedByLink, l.Key, []span{{l.Since, l.Until}})
	}
	sort.SliceStable(out.Blockers, func(a, b int) bool { return out.Blockers[a].Days > out.Blockers[b].Days })
	blocked = union(blocked)
	out.BlockedDays = round(total(blocked))
	out.Episodes = len(blocked)
	for _, b := range out.Blockers {
		out.Blocked = out.Blocked || b.Now
	}
	// Stalled: the gaps between changes longer than the threshold, from
	// the threshold on; and stalled statuses; less the blocked time.
	acts := []time.Time{h.Start}
	for _, a := range h.Activity {
		if a.After(h.Start) && a.Before(end) {
			acts = append(acts, a)
		}
	}
	sort.Slice(acts, func(a, b int) bool { return acts[a].Before(acts[b]) })
	limit := time.Duration(r.StallDays * 24 * float64(time.Hour))
	stalled := stalledStatus
	for i, a := range acts {
		next := end
		if i+1 < len(acts) {
			next = acts[i+1]
		}
		if next.Sub(a) > limit {
			stalled = append(stalled, span{a.Add(limit), next})
		}
	}
	stalled = minus(stalled, blocked)
	out.StalledDays = round(total(stalled))
	out.IdleDays = round(max(0, end.Sub(acts[len(acts)-1]).Seconds()) / 86400)
	if h.InProgress && !out.Blocked {
		for _, s := range stalled {
			if !s.to.Before(end) {
				out.Stalled = true
			}
		}
	}
	return out
}

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

// impeded replays the impediments of the started issues of the filter
// that meet cond: those done (their cycle; a uniform sample of
// MaxImpededIssues when more) or, inProgress, those in progress now (until
// now; the oldest MaxImpededIssues). The flag's and links' changes come from
// field_changes, read without FINAL and deduplicated here by history item.
func (s *Service) impeded(ctx context.Context, f Filter, cond sqlf, inProgress bool) ([]ImpededIssue, error) {
	rows, hs, err := s.workHistories(ctx, f, cond, inProgress, !inProgress)
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

// workHistories reads what the impediment replay needs of the started
// issues of the filter that meet cond, each ending at its completion or
// now (inProgress: at now); sample: a uniform sample of
// MaxImpededSample when more, else the oldest MaxImpededIssues.
func (s *Service) workHistories(ctx context.Context, f Filter, cond sqlf, inProgress, sample bool) ([]impRow, []WorkHistory, error) {
	now := s.Now().UTC()
	var rows []impRow
	cols := `SELECT site, issue_id, issue_key, summary, status_name, priority, created_at, updated_at,
		assumeNotNull(started_at) AS started, done_at, flagged, blocked_by, blocked_by_open, initial_status, history_at, history_to_status FROM `
	sel := cat(cols, f.issuesFrom(), ` WHERE started_at IS NOT NULL AND `, cond, ` ORDER BY started, issue_key LIMIT `+strconv.Itoa(MaxImpededIssues))
	if sample {
		limit := strconv.Itoa(MaxImpededSample)
		// Done issues beyond MaxImpededIssues: a uniform sample (by a hash
		// of the issue, as the cycle-time scatterplot's points), never the
		// first ones done.
		issues := cat(f.issuesFrom(), ` WHERE started_at IS NOT NULL AND `, cond)
		sel = cat(cols, issues, ` AND cityHash64(site, issue_id) % greatest(toUInt64(1), intDiv((SELECT count() FROM `, issues,
			`), toUInt64(`+strconv.Itoa(MaxImpededSample*11/10)+`))) = 0 ORDER BY cityHash64(site, issue_id) LIMIT `+limit)
	}
	if err := s.DB.Select(ctx, &rows, sel.text, sel.args...); err != nil {
		return nil, nil, fmt.Errorf("impediments: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil, nil
	}
	ids := make([]uint64, len(rows))
	var blockers, sites []string
	for i, r := range rows {
		ids[i] = r.IssueID
		blockers = append(blockers, r.BlockedBy...)
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
	var done []struct {
		Site string     `ch:"site"`
		Key  string     `ch:"issue_key"`
		Done *time.Time `ch:"done_at"`
	}
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
		func() error {
			if len(blockers) == 0 {
				return nil
			}
			// IN builds a set once; has(?, issue_key) would scan the list
			// for every issue.
			q := `SELECT site, issue_key, done_at FROM issues_current WHERE gen = ` + schema.CurrentGen + ` AND issue_key IN (SELECT arrayJoin(?))`
			if err := s.DB.Select(ctx, &done, q, uniq(blockers)); err != nil {
				return fmt.Errorf("impediments: blocking issues: %w", err)
			}
			return nil
		},
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
	type blockerRef struct{ site, key string }
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
	cond, cargs := doneIn(f)
	var done []ImpededIssue
	var of uint64
	err := parallel(
		func() (err error) { done, err = s.impeded(ctx, f, frag(cond, cargs...), false); return },
		func() error {
			q := cat(`SELECT count() FROM `, f.issuesFrom(), frag(" WHERE started_at IS NOT NULL AND "+cond, cargs...))
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

// Standup is the daily view of the work in progress: each item with what
// needs attention, the items needing most first.
type Standup struct {
	At    time.Time `json:"at"`
	Rules Rules     `json:"rules"`
	// P85CycleDays is the 85th percentile cycle time of the period's done
	// issues (null with fewer than MinConfidentN): older items are "aged".
	P85CycleDays *float64      `json:"p85_cycle_days"`
	CycleN       int           `json:"cycle_n"`
	Items        []StandupItem `json:"items"`
	// Counts of items per attention reason.
	Blocked   int  `json:"blocked"`
	Stalled   int  `json:"stalled"`
	Aged      int  `json:"aged"`
	Expedited int  `json:"expedited"`
	Truncated bool `json:"truncated"`
}

// StandupItem is an item in progress with the reasons it needs attention.
type StandupItem struct {
	ImpededIssue
	Aged bool `json:"aged"`
	// Reasons say in words why it needs attention, most urgent first.
	Reasons []string `json:"reasons"`
}

// Standup lists the items in progress now by what needs attention:
// blocked, then stalled, then aged past the 85th percentile cycle time of
// the period, then expedited; within each, the oldest first.
func (s *Service) Standup(ctx context.Context, f Filter) (Standup, error) {
	out := Standup{At: s.Now().UTC(), Rules: f.Rules.WithDefaults(), Items: []StandupItem{}}
	var items []ImpededIssue
	var cycles []float64
	cond, cargs := doneIn(f)
	err := parallel(
		func() (err error) {
			items, err = s.impeded(ctx, f, frag(inProgressCond), true)
			return err
		},
		func() error {
			sel := cat(`SELECT (`+schema.CycleSeconds+`) / 86400 AS d FROM `, f.issuesFrom(), frag(" WHERE started_at IS NOT NULL AND "+cond+" ORDER BY d", cargs...))
			var rows []struct {
				D float64 `ch:"d"`
			}
			if err := s.DB.Select(ctx, &rows, sel.text, sel.args...); err != nil {
				return fmt.Errorf("standup cycle times: %w", err)
			}
			for _, r := range rows {
				cycles = append(cycles, r.D)
			}
			return nil
		},
	)
	if err != nil {
		return out, err
	}
	out.CycleN = len(cycles)
	if len(cycles) >= MinConfidentN {
		p := round(NearestRank(cycles, 85))
		out.P85CycleDays = &p
	}
	out.Truncated = len(items) >= MaxImpededIssues
	for _, is := range items {
		it := StandupItem{ImpededIssue: is, Reasons: []string{}}
		if is.Blocked {
			var why []string
			for _, b := range is.Blockers {
				if !b.Now {
					continue
				}
				switch b.Reason {
				case BlockedByFlag:
					why = append(why, "flagged")
				case BlockedByStatus:
					why = append(why, "in "+b.Name)
				case BlockedByLink:
					why = append(why, "by "+b.Name)
				}
			}
			it.Reasons = append(it.Reasons, "blocked ("+strings.Join(why, ", ")+")")
			out.Blocked++
		}
		if is.Stalled {
			it.Reasons = append(it.Reasons, fmt.Sprintf("stalled: no change for %s days", trimDays(is.IdleDays)))
			out.Stalled++
		}
		if out.P85CycleDays != nil && is.Days > *out.P85CycleDays {
			it.Aged = true
			it.Reasons = append(it.Reasons, fmt.Sprintf("aged: %s days in progress, past the 85th percentile (%s days)", trimDays(is.Days), trimDays(*out.P85CycleDays)))
			out.Aged++
		}
		if is.Expedited {
			it.Reasons = append(it.Reasons, "expedited: priority "+is.Priority)
			out.Expedited++
		}
		out.Items = append(out.Items, it)
	}
	rank := func(it StandupItem) int {
		switch {
		case it.Blocked:
			return 0
		case it.Stalled:
			return 1
		case it.Aged:
			return 2
		case it.Expedited:
			return 3
		}
		return 4
	}
	sort.SliceStable(out.Items, func(a, b int) bool {
		x, y := out.Items[a], out.Items[b]
		if rx, ry := rank(x), rank(y); rx != ry {
			return rx < ry
		}
		if x.Days != y.Days {
			return x.Days > y.Days
		}
		return x.Key < y.Key
	})
	return out, nil
}

// trimDays writes days with one decimal at most.
func trimDays(d float64) string { return strconv.FormatFloat(math.Round(d*10)/10, 'f', -1, 64) }
