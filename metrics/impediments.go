package metrics

import (
	"slices"
	"sort"
	"strings"
	"time"
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
// changelog entry, else the start) until Until, the blocker's
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
