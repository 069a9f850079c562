package jirasim

import (
	"math/rand/v2"
	"sort"
	"strconv"
	"time"
)

// Shapes of issues that real Jira sites hold and no workflow of today
// would produce: imports, migrations, moves, deleted statuses, scripts.
// The generator gives each issue at most one, at the rates of shapeRates,
// from a random stream of its own, so the other issues stay as they were.
const (
	// ShapeCreatedDone: created directly in a done status, with no
	// changelog at all (created as Done, or imported).
	ShapeCreatedDone = "created_done"
	// ShapeResolvedBeforeCreated: imported done, its resolution date
	// before its creation date, no changelog.
	ShapeResolvedBeforeCreated = "resolved_before_created"
	// ShapeChangelogBeforeCreated: imported with its history, whose first
	// entries are dated before the issue's creation date.
	ShapeChangelogBeforeCreated = "changelog_before_created"
	// ShapeMoved: created in the Legacy Support project (LEG, not
	// collected) in its Triage status, since deleted from the site, and
	// moved: a history with the items project, Key, Workflow and status.
	ShapeMoved = "moved"
	// ShapeDeletedStatus: went through a status since deleted from the
	// site: "In Development" (no listed status of that name) or an old
	// "In Progress" (id 10094; the listed one of that name is 3).
	ShapeDeletedStatus = "deleted_status"
	// ShapeResolvedOpen: resolved but open: reopened by a transition that
	// keeps the resolution, or (open ones) given "Won't Do" by a script.
	ShapeResolvedOpen = "resolved_open"
	// ShapeTypeChanged: its issue type was changed once.
	ShapeTypeChanged = "type_changed"
	// ShapeSubtask: a sub-task of the project's issue before it (a story
	// or task), without sprints or estimate of its own.
	ShapeSubtask = "subtask"
	// ShapeBackwards: moved back, from review to progress (and again to
	// review), or from progress to the backlog and later on again.
	ShapeBackwards = "backwards"
	// ShapeCreatedOutOfRange: an import typo dated its creation in the
	// year 20; its update date is right.
	ShapeCreatedOutOfRange = "created_out_of_range"
	// ShapeDueOutOfRange: an import typo put its due date in the year 20.
	ShapeDueOutOfRange = "due_out_of_range"
)

// shapeRates are the shapes' rates per 100,000 issues, in the order the
// random number of an issue is checked against them.
var shapeRates = []struct {
	shape string
	per   int
}{
	{ShapeCreatedDone, 1000}, {ShapeResolvedBeforeCreated, 300}, {ShapeChangelogBeforeCreated, 300}, {ShapeMoved, 800},
	{ShapeDeletedStatus, 500}, {ShapeResolvedOpen, 400}, {ShapeTypeChanged, 1000}, {ShapeSubtask, 4000},
	{ShapeBackwards, 3000}, {ShapeCreatedOutOfRange, 50}, {ShapeDueOutOfRange, 100},
}

// Statuses deleted from the site: in changelogs, not in /rest/api/2/status.
var (
	stTriage        = Status{"10090", "Triage", "new"}
	stInDevelopment = Status{"10091", "In Development", "indeterminate"}
	stOldInProgress = Status{"10094", "In Progress", "indeterminate"}
)

// legacyProject is where moved issues came from: a project of the site
// that Evident is not asked to collect.
var legacyProject = Project{ID: 10099, Key: "LEG", Name: "Legacy Support"}

// shapeOf picks the shape of issue i ("" for most).
func (g *Generator) shapeOf(i int) string {
	if g.cfg.NoShapes {
		return ""
	}
	n := g.rngFor(i, 3).IntN(100000)
	for _, s := range shapeRates {
		if n < s.per {
			return s.shape
		}
		n -= s.per
	}
	return ""
}

// subtaskParent returns the key and type of the issue a sub-task i splits:
// the project's issue before it, when that is a story or a task that is
// no sub-task itself; ok is false when there is none.
func (g *Generator) subtaskParent(i int) (key, typ string, ok bool) {
	j := i - len(g.projects)
	if j < 0 {
		return "", "", false
	}
	p := g.projects[j%len(g.projects)]
	num := j/len(g.projects) + 1
	if g.shapeOf(j) == ShapeSubtask {
		return "", "", false
	}
	// The type is the first draw of the issue's stream, as in Issue.
	if typ = g.typeOf(j, g.rngFor(j, 2)); typ != "Story" && typ != "Task" {
		return "", "", false
	}
	return p.Key + "-" + strconv.Itoa(num), typ, true
}

// reshape turns the generated life of an issue into its shape. It returns
// the events to build the changelog from; r is the shape's own stream.
func (g *Generator) reshape(is *Issue, events []event, r *rand.Rand) []event {
	now := g.cfg.Now
	doneStatus := stReleased
	if is.Project.Kanban {
		doneStatus = stDone
	}
	switch is.Shape {
	case ShapeCreatedDone, ShapeResolvedBeforeCreated:
		is.Status, is.initial = doneStatus, doneStatus
		is.Sprints, is.FixVersions = nil, nil
		is.Resolution = is.Created.Add(days(r.Float64() * 20))
		if is.Shape == ShapeResolvedBeforeCreated {
			is.Resolution = is.Created.Add(-days(1 + r.Float64()*300))
		}
		if is.Resolution.After(now) {
			is.Resolution = now
		}
		is.Updated = is.Created
		if is.Resolution.After(is.Updated) {
			is.Updated = is.Resolution
		}
		return nil
	case ShapeCreatedOutOfRange:
		// The typo keeps the month, day and time, in the year 20.
		c := is.Created
		is.Created = time.Date(20, c.Month(), c.Day(), c.Hour(), c.Minute(), c.Second(), 0, time.UTC)
		is.Status, is.initial = doneStatus, doneStatus
		is.Sprints, is.FixVersions = nil, nil
		is.Resolution = time.Time{}
		is.Updated = c
		return nil
	case ShapeChangelogBeforeCreated:
		if len(events) == 0 {
			is.Shape = ""
			return events
		}
		base := is.Created.Add(-days(1 + r.Float64()*20))
		for k := 0; k < min(2, len(events)); k++ {
			events[k].at = base.Add(time.Duration(k) * time.Hour)
		}
		return events
	case ShapeMoved:
		moveAt := now
		if len(events) > 0 {
			moveAt = events[0].at
		}
		moveAt = is.Created.Add(time.Duration(r.Float64() * float64(moveAt.Sub(is.Created))))
		is.OldKey = legacyProject.Key + "-" + strconv.Itoa(100000+is.Index)
		to := is.initial
		is.initial = stTriage
		move := event{at: moveAt, status: &to, move: true}
		if is.Updated.Before(moveAt) {
			is.Updated = moveAt
		}
		return append([]event{move}, events...)
	case ShapeDeletedStatus:
		old := stInDevelopment
		if r.IntN(2) == 0 {
			old = stOldInProgress
		}
		for k := 0; k+1 < len(events); k++ { // not the last: a deleted status is nobody's current one
			if e := events[k]; e.status != nil && e.status.ID == stInProgress.ID {
				events[k].status = &old
				return events
			}
		}
		is.Shape = ""
		return events
	case ShapeResolvedOpen:
		if is.Status.Category == "done" {
			// Reopened by a transition that does not clear the resolution.
			at := is.Updated.Add(days(1 + r.Float64()*9))
			if at.After(now) {
				is.Shape = ""
				return events
			}
			reopened := stInProgress
			is.Status, is.Updated = reopened, at
			return append(events, event{at: at, status: &reopened, keepResolution: true})
		}
		at := is.Created.Add(time.Duration(r.Float64() * float64(now.Sub(is.Created))))
		is.Resolution = at
		if is.Updated.Before(at) {
			is.Updated = at
		}
		is.ResolutionName = "Won't Do"
		return sortEvents(append(events, event{at: at, resolution: is.ResolutionName}))
	case ShapeTypeChanged:
		from := "Task"
		if is.Type == "Task" {
			from = "Story"
		}
		at := is.Created.Add(time.Duration(r.Float64() * float64(min(now.Sub(is.Created), 5*24*time.Hour))))
		if is.Updated.Before(at) {
			is.Updated = at
		}
		return sortEvents(append(events, event{at: at, typeFrom: from}))
	case ShapeBackwards:
		for k := 0; k+1 < len(events); k++ {
			e, next := events[k], events[k+1]
			if e.status == nil || next.status == nil {
				continue
			}
			third := next.at.Sub(e.at) / 3
			switch {
			case e.status.ID == stReview.ID: // review → progress → review
				back, again := stInProgress, stReview
				return sortEvents(append(events, event{at: e.at.Add(third), status: &back}, event{at: e.at.Add(2 * third), status: &again}))
			case e.status.ID == stInProgress.ID && r.IntN(3) == 0: // progress → backlog → progress
				back, again := is.initial, stInProgress
				if back.Category != "new" {
					back = stBacklog
				}
				return sortEvents(append(events, event{at: e.at.Add(third), status: &back}, event{at: e.at.Add(2 * third), status: &again}))
			}
		}
		is.Shape = ""
		return events
	}
	return events
}

func sortEvents(ev []event) []event {
	sort.SliceStable(ev, func(a, b int) bool { return ev[a].at.Before(ev[b].at) })
	return ev
}
