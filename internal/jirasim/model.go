// Package jirasim is a Jira Cloud and Data Center simulator: a generator of
// realistic, seeded data and an HTTP server that answers the REST endpoints
// Evident's collector uses, with the shapes, paging, dates, auth and faults
// of real Jira. Issues are generated on demand from (seed, index), so a
// million issues cost no memory until they are served.
package jirasim

import (
	"time"
)

// Status is a workflow status with its category key.
type Status struct {
	ID       string
	Name     string
	Category string // new, indeterminate, done
}

// The site's statuses. Two are named "Waiting" with different categories,
// and "Ready for Release" is a done-category status that is not the last
// column, as on real sites.
var (
	stBacklog    = Status{"10000", "Backlog", "new"}
	stSelected   = Status{"10001", "Selected for Development", "new"}
	stInProgress = Status{"3", "In Progress", "indeterminate"}
	stReview     = Status{"10002", "In Review", "indeterminate"}
	stReady      = Status{"10003", "Ready for Release", "done"}
	stReleased   = Status{"10004", "Released", "done"}
	stDone       = Status{"10005", "Done", "done"}
	stBlocked    = Status{"10006", "Blocked", "indeterminate"}
	stWaitingNew = Status{"10007", "Waiting", "new"}
	stWaitingIP  = Status{"10008", "Waiting", "indeterminate"}
	stOpenIdea   = Status{"1", "Open", "new"}
)

// Statuses lists every status of the site in id order.
var Statuses = []Status{stOpenIdea, stInProgress, stBacklog, stSelected, stReview, stReady, stReleased, stDone, stBlocked, stWaitingNew, stWaitingIP}

var statusByID = func() map[string]Status {
	m := map[string]Status{}
	for _, s := range Statuses {
		m[s.ID] = s
	}
	return m
}()

var categoryInfo = map[string]struct {
	ID    int
	Name  string
	Color string
}{
	"new":           {2, "To Do", "blue-gray"},
	"indeterminate": {4, "In Progress", "yellow"},
	"done":          {3, "Done", "green"},
}

// Project is a generated project with its board.
type Project struct {
	ID      int
	Key     string
	Name    string
	BoardID int
	Kanban  bool
}

// Sprint is a generated sprint of a scrum board.
type Sprint struct {
	ID       int
	BoardID  int
	Name     string
	State    string // closed, active, future
	Start    time.Time
	End      time.Time
	Complete time.Time // zero unless closed
	Goal     string
	seq      int
}

// Release is a generated fix version of a project.
type Release struct {
	ID       int
	Project  string
	Name     string
	Released bool
	Date     time.Time
}

// Item is one change inside a history.
type Item struct {
	Field      string
	FieldType  string
	FieldID    string
	From       *string
	FromString *string
	To         *string
	ToString   *string
}

// History is one changelog entry.
type History struct {
	ID      int64
	Created time.Time
	Items   []Item
}

// Issue is a generated issue in its current state.
type Issue struct {
	Index       int
	ID          int64
	Key         string
	Project     *Project
	Type        string
	Summary     string
	Description string
	Priority    string
	Labels      []string
	Components  []string
	Status      Status
	Created     time.Time
	Updated     time.Time
	Resolution  time.Time // zero when unresolved
	Due         time.Time // due date (a day), zero when none
	StoryPoints float64   // 0: no estimate
	Business    float64   // business value, 0: none
	TimeCrit    float64
	RiskOpp     float64
	JobSize     float64
	EpicKey     string
	Rank        string
	Sprints     []int // ids of the sprints the issue is or was in
	FixVersions []int
	Histories   []History
	Deleted     bool
	// Shape is the real-world oddity the issue has (Shape*), "" for none.
	Shape string
	// OldKey is the key a moved issue had in the project it came from.
	OldKey string
	// ParentKey and ParentType name the issue a sub-task splits.
	ParentKey, ParentType string
	// ResolutionName is the resolution's name when resolved ("Done").
	ResolutionName string
	// Flagged says the issue is flagged (an Impediment) now; BlockedBy are
	// the issues it "is blocked by" (Blocks links), by index.
	Flagged   bool
	BlockedBy []int

	initial Status // the status the issue was created in
}

// StatusByID returns the status with the id, or a zero Status.
func StatusByID(id string) Status {
	for _, s := range Statuses {
		if s.ID == id {
			return s
		}
	}
	return Status{}
}
