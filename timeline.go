package evident

import "time"

// StatusRef is a status as an issue's timeline names it: Jira's id, its
// name and the category Evident counts it in.
type StatusRef struct {
	ID       string
	Name     string
	Category string
}

// StatusChange is one move of an issue from one status to another.
type StatusChange struct {
	At        time.Time
	HistoryID uint64
	From, To  StatusRef
}

// Timeline is an issue's status history as every measure reads it
// (docs/metrics.md): the status it was created in, then each change in time
// order. The collector builds it consistent whatever the changelog says: no
// change is dated before Created, changes never go back in time, and each
// change starts from the status the one before ended in.
type Timeline struct {
	Created time.Time
	Initial StatusRef
	Changes []StatusChange
}

// Stay is a closed stay of an issue in a status: from entering it (or the
// issue's creation) to leaving it.
type Stay struct {
	Status   string
	Category string
	Seconds  int64
}

// Stays returns the closed stays of the timeline in order; the stay in the
// current status is still open and left out.
func (t Timeline) Stays() []Stay {
	out := make([]Stay, 0, len(t.Changes))
	in, since := t.Initial, t.Created
	for _, c := range t.Changes {
		out = append(out, Stay{Status: in.Name, Category: in.Category, Seconds: c.At.Unix() - since.Unix()})
		in, since = c.To, c.At
	}
	return out
}

// Flow kinds: a cumulative flow diagram counts issues by category or by
// status name.
const (
	FlowByCategory = "category"
	FlowByStatus   = "status"
)

// FlowEvent is an issue's contribution to the cumulative flow diagram: on
// Day (UTC midnight), Delta issues entered (+1) or left (−1) State.
type FlowEvent struct {
	Day   time.Time
	Kind  string
	State string
	Delta int64
}

// FlowEvents returns the issue's contributions to the cumulative flow: +1
// into its initial state on the day it was created, then for each change −1
// out of the state it left and +1 into the one it entered, by category and
// by status, on the change's day.
func (t Timeline) FlowEvents() []FlowEvent {
	day := func(at time.Time) time.Time { return at.UTC().Truncate(24 * time.Hour) }
	out := make([]FlowEvent, 0, 2+4*len(t.Changes))
	out = append(out,
		FlowEvent{day(t.Created), FlowByCategory, t.Initial.Category, 1},
		FlowEvent{day(t.Created), FlowByStatus, t.Initial.Name, 1})
	for _, c := range t.Changes {
		d := day(c.At)
		out = append(out,
			FlowEvent{d, FlowByCategory, c.From.Category, -1}, FlowEvent{d, FlowByCategory, c.To.Category, 1},
			FlowEvent{d, FlowByStatus, c.From.Name, -1}, FlowEvent{d, FlowByStatus, c.To.Name, 1})
	}
	return out
}

// IssueTimeline is an issue's Timeline as stored, one row per issue with the
// changes as parallel arrays, together with the data quality findings of
// the issue's extraction. Each sync of the issue replaces the whole row.
type IssueTimeline struct {
	Site                string      `ch:"site"`
	IssueID             uint64      `ch:"issue_id"`
	InitialStatusID     string      `ch:"initial_status_id"`
	InitialStatus       string      `ch:"initial_status"`
	InitialCategory     string      `ch:"initial_category"`
	HistoryAt           []time.Time `ch:"history_at"`
	HistoryID           []uint64    `ch:"history_id"`
	HistoryFromStatus   []string    `ch:"history_from_status"`
	HistoryToStatus     []string    `ch:"history_to_status"`
	HistoryToStatusID   []string    `ch:"history_to_status_id"`
	HistoryFromCategory []string    `ch:"history_from_category"`
	HistoryToCategory   []string    `ch:"history_to_category"`
	// Findings are the codes of the data quality checks the issue failed
	// (Finding*), FindingNotes say what exactly, in the same order.
	Findings     []string `ch:"findings"`
	FindingNotes []string `ch:"finding_notes"`
	Version      uint64   `ch:"version"`
}

// StoredTimeline flattens a timeline into its stored row.
func StoredTimeline(site string, issueID uint64, t Timeline, findings []Finding, version uint64) IssueTimeline {
	n := len(t.Changes)
	row := IssueTimeline{Site: site, IssueID: issueID, InitialStatusID: t.Initial.ID, InitialStatus: t.Initial.Name, InitialCategory: t.Initial.Category,
		HistoryAt: make([]time.Time, n), HistoryID: make([]uint64, n), HistoryFromStatus: make([]string, n), HistoryToStatus: make([]string, n),
		HistoryToStatusID: make([]string, n), HistoryFromCategory: make([]string, n), HistoryToCategory: make([]string, n),
		Findings: make([]string, len(findings)), FindingNotes: make([]string, len(findings)), Version: version}
	for i, c := range t.Changes {
		row.HistoryAt[i], row.HistoryID[i] = c.At, c.HistoryID
		row.HistoryFromStatus[i], row.HistoryFromCategory[i] = c.From.Name, c.From.Category
		row.HistoryToStatus[i], row.HistoryToStatusID[i], row.HistoryToCategory[i] = c.To.Name, c.To.ID, c.To.Category
	}
	for i, f := range findings {
		row.Findings[i], row.FindingNotes[i] = f.Check, f.Note
	}
	return row
}
