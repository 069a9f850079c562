// An issue's life: its workflow, sprints and estimate changes as events in
// time, rendered into Jira changelog histories.

package jirasim

import (
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"
)

func lognormal(r *rand.Rand, median, sigma float64) float64 {
	return median * math.Exp(sigma*r.NormFloat64())
}

func days(d float64) time.Duration { return time.Duration(d * 24 * float64(time.Hour)) }

// event is one step of an issue's generated life, before histories are built.
type event struct {
	at       time.Time
	status   *Status // a status change to this status
	sprint   []int   // the Sprint field's new full value, when isSprint
	isSprint bool
	points   *float64 // a story points change
	label    string   // a label edit (for long changelogs)
	rank     bool     // a rank change
	// move is the move from the legacy project (with status, the status
	// the issue gets in its new workflow).
	move       bool
	resolution string // a resolution set without a status change
	typeFrom   string // an issue type change, from this type
	// keepResolution: a move out of done that leaves the resolution set.
	keepResolution bool
	// flag sets (true) or clears (false) the Flagged field; blockedBy adds
	// an "is blocked by" link to the issue of that index (blockedBy > 0
	// holds index+1).
	flag      *bool
	blockedBy int
}

// life generates the events of an issue: its workflow, its sprints, its
// estimate changes, in time order; events after now are dropped.
func (g *Generator) life(is *Issue, r *rand.Rand) []event {
	var ev []event
	p := is.Project
	initial := stBacklog
	if p.Kanban {
		initial = stOpenIdea
	}
	add := func(at time.Time, s Status) {
		s2 := s
		ev = append(ev, event{at: at, status: &s2})
	}
	created := is.Created
	roll := r.IntN(1000)
	if sh := g.cfg.Shift; sh.Project == p.Key && !created.Before(sh.At) && g.rngFor(is.Index, 11).Float64() < sh.Stuck {
		roll = 100 // never started (its own random stream: other issues are unchanged)
	}
	median := 4.0
	switch is.Type {
	case "Bug", "Incident":
		median = 1.5
	case "Epic":
		median = 45
	case "Initiative":
		median = 150
	case "Spike":
		median = 3
	}
	wait := days(r.ExpFloat64() * 9)
	if is.Type == "Incident" {
		wait = days(r.ExpFloat64() * 0.2)
	}
	startAt := created.Add(wait)
	cycle := days(math.Min(lognormal(r, median, 0.9), 400))
	var doneAt time.Time
	switch {
	case roll < 30: // created straight into progress
		initial = stInProgress
		startAt = created
		doneAt = startAt.Add(cycle)
		add(doneAt.Add(-cycle/3), stReview)
	case roll < 80: // skips In Progress: closed from the backlog
		doneAt = startAt
	case roll < 160: // never started: stays in the backlog
		startAt = time.Time{}
	default:
		doneAt = startAt.Add(cycle)
		if p.Kanban && r.IntN(4) == 0 {
			add(created.Add(wait/2), stWaitingNew) // the new-category "Waiting"
		}
		if !p.Kanban && r.IntN(3) == 0 {
			add(created.Add(wait/2), stSelected)
		}
		add(startAt, stInProgress)
		if r.IntN(5) == 0 { // blocked for a while: a wait state
			add(startAt.Add(cycle/4), stBlocked)
			add(startAt.Add(cycle/2), stInProgress)
		}
		if !p.Kanban && r.IntN(6) == 0 { // the indeterminate-category "Waiting"
			add(startAt.Add(cycle*6/10), stWaitingIP)
		}
		if r.IntN(10) < 7 {
			add(startAt.Add(cycle*7/10), stReview)
		}
	}
	if !doneAt.IsZero() {
		if p.Kanban {
			add(doneAt, stDone)
		} else {
			add(doneAt, stReady)
			rel := g.releaseAfter(p, doneAt.Add(time.Hour))
			add(g.releaseDate(p, rel), stReleased)
			is.FixVersions = []int{20000 + (p.ID-10000)*1000 + rel}
		}
		if r.IntN(100) < 6 { // reopened and done again
			reopen := doneAt.Add(days(1 + r.Float64()*9))
			if !p.Kanban {
				reopen = g.releaseDate(p, g.releaseAfter(p, doneAt.Add(time.Hour))).Add(days(1 + r.Float64()*5))
			}
			redo := reopen.Add(days(lognormal(r, 2, 0.7)))
			add(reopen, stInProgress)
			add(redo, stDone)
			if !p.Kanban {
				rel := g.releaseAfter(p, redo.Add(time.Hour))
				is.FixVersions = []int{20000 + (p.ID-10000)*1000 + rel}
			}
		}
	}
	if is.StoryPoints > 0 && r.IntN(100) < 8 { // re-estimated before work began
		old := is.StoryPoints / 2
		if old < 1 {
			old = 1
		}
		ev = append(ev, event{at: created.Add(wait / 3), points: &old})
	}
	if !p.Kanban && is.Type != "Epic" && is.Type != "Sub-task" && is.Type != "Initiative" {
		ev = append(ev, g.sprintEvents(is, r, startAt, created, ev)...)
	}
	if r.IntN(100) < 2 { // a long changelog: rank and label churn
		n := 40 + r.IntN(80)
		end := created.Add(days(30))
		for k := 0; k < n; k++ {
			at := created.Add(time.Duration(float64(end.Sub(created)) * float64(k+1) / float64(n+1)))
			if k%2 == 0 {
				ev = append(ev, event{at: at, rank: true})
			} else {
				ev = append(ev, event{at: at, label: pick(r, labelPool)})
			}
		}
	}
	ev = append(ev, g.impediments(is, ev, g.rngFor(is.Index, 13))...)
	sort.SliceStable(ev, func(a, b int) bool { return ev[a].at.Before(ev[b].at) })
	// Cut the future, and settle the current state.
	now := g.cfg.Now
	kept := ev[:0]
	for _, e := range ev {
		if e.at.After(now) {
			continue
		}
		if e.at.Before(created) {
			e.at = created
		}
		kept = append(kept, e)
	}
	is.Status = initial
	is.Updated = created
	for _, e := range kept {
		if e.status != nil {
			is.Status = *e.status
		}
		if e.isSprint {
			is.Sprints = e.sprint
		}
		if e.flag != nil {
			is.Flagged = *e.flag
		}
		if e.blockedBy > 0 {
			is.BlockedBy = append(is.BlockedBy, e.blockedBy-1)
		}
		is.Updated = e.at
	}
	// The first status is the "from" of the first change: remember it.
	is.initial = initial
	if is.Status.Category == "done" {
		for k := len(kept) - 1; k >= 0; k-- {
			if kept[k].status != nil && kept[k].status.Category == "done" {
				is.Resolution = kept[k].at
			} else if kept[k].status != nil {
				break
			}
		}
	} else {
		is.FixVersions = nil
	}
	return kept
}

// impediments flags some started issues as impediments (once, or set and
// cleared twice) and links others as blocked by an earlier issue of their
// project, from a stream of their own (r) so that the rest of the data is
// unchanged. They happen between the start and the last done of life.
func (g *Generator) impediments(is *Issue, life []event, r *rand.Rand) []event {
	var start, end time.Time
	for _, e := range life {
		if e.status == nil {
			continue
		}
		if e.status.Category == "indeterminate" && (start.IsZero() || e.at.Before(start)) {
			start = e.at
		}
		if e.status.Category == "done" && e.at.After(end) {
			end = e.at
		}
	}
	if start.IsZero() || !end.After(start) {
		return nil
	}
	until := end // flags and links happen while the work is under way
	if until.After(g.cfg.Now) {
		until = g.cfg.Now
	}
	if !until.After(start) {
		return nil
	}
	at := func(share float64) time.Time {
		if share >= 1 {
			return end
		}
		return start.Add(time.Duration(float64(until.Sub(start)) * share))
	}
	flag := func(t time.Time, on bool) event { return event{at: t, flag: &on} }
	odds := 30
	if end.After(g.cfg.Now) {
		odds = 12 // work in progress now: more of it is impeded
	}
	switch roll := r.IntN(odds); {
	case roll < 2: // flagged, cleared, flagged again, cleared
		return []event{flag(at(0.1), true), flag(at(0.25), false), flag(at(0.5), true), flag(at(0.6), false)}
	case roll < 5: // flagged once, cleared later or only when done
		clear := 0.7
		if r.IntN(2) == 0 || end.After(g.cfg.Now) { // still flagged while in progress
			clear = 1
		}
		return []event{flag(at(0.2+r.Float64()*0.3), true), flag(at(clear), false)}
	case roll < 8: // blocked by an earlier issue of the project
		n := len(g.projects)
		j := is.Index - n*(1+r.IntN(15))
		if j < 0 {
			return nil
		}
		return []event{{at: at(0.15), blockedBy: j + 1}}
	}
	return nil
}

// sprintEvents plans an issue into sprints: committed when planned before
// the sprint started, added when created mid-sprint, removed for some, and
// carried over while not done at the sprint's close.
func (g *Generator) sprintEvents(is *Issue, r *rand.Rand, startAt, created time.Time, life []event) []event {
	var doneAt time.Time
	for _, e := range life {
		if e.status != nil {
			if e.status.Category == "done" {
				if doneAt.IsZero() {
					doneAt = e.at
				}
			} else {
				doneAt = time.Time{}
			}
		}
	}
	anchor := startAt
	if anchor.IsZero() {
		if r.IntN(10) != 0 { // most never-started items are not planned
			return nil
		}
		anchor = created.Add(days(3))
	}
	k := g.sprintIndexAt(anchor)
	if k < 0 {
		k = 0
	}
	board := is.Project.BoardID
	var ev []event
	var current []int
	set := func(at time.Time, ids []int) {
		cp := append([]int(nil), ids...)
		ev = append(ev, event{at: at, sprint: cp, isSprint: true})
		current = cp
	}
	joinAt := g.sprintStart(k).Add(-days(r.Float64() * 2)) // planned before the start
	if created.After(joinAt) {
		joinAt = created.Add(time.Minute) // added mid-sprint
	}
	set(joinAt, []int{g.sprintID(board, k)})
	if r.IntN(100) < 7 && (doneAt.IsZero() || doneAt.After(g.sprintEnd(k))) {
		// removed mid-sprint, then planned into the next one
		set(joinAt.Add((g.sprintEnd(k).Sub(joinAt))/2), nil)
		k++
		set(g.sprintStart(k).Add(-time.Hour), []int{g.sprintID(board, k)})
	}
	for step := 0; step < 6; step++ {
		if !doneAt.IsZero() && !doneAt.After(g.sprintEnd(k)) {
			break
		}
		if g.sprintComplete(k).After(g.cfg.Now) {
			break
		}
		// carried over at the sprint's completion
		k++
		set(g.sprintComplete(k-1), append(current, g.sprintID(board, k)))
	}
	return ev
}

func ptrS(s string) *string { return &s }

func sprintList(ids []int) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.Itoa(id)
	}
	return strings.Join(parts, ", ")
}

// buildHistories turns events into changelog histories with Jira's items.
func (g *Generator) buildHistories(is *Issue, events []event) {
	status := is.initial
	var sprints []int
	labels := append([]string(nil), is.Labels...)
	for k, e := range events {
		h := History{ID: is.ID*200 + int64(k), Created: e.at}
		switch {
		case e.move:
			p := is.Project
			h.Items = append(h.Items,
				Item{Field: "project", FieldType: "jira", FieldID: "project", From: ptrS(strconv.Itoa(legacyProject.ID)), FromString: ptrS(legacyProject.Name),
					To: ptrS(strconv.Itoa(p.ID)), ToString: ptrS(p.Name)},
				Item{Field: "Key", FieldType: "jira", FieldID: "issuekey", FromString: ptrS(is.OldKey), ToString: ptrS(is.Key)},
				Item{Field: "Workflow", FieldType: "jira", From: ptrS("10400"), FromString: ptrS("Legacy Support Workflow"),
					To: ptrS(strconv.Itoa(10300 + p.ID - 10000)), ToString: ptrS(p.Name + " Workflow")},
				Item{Field: "status", FieldType: "jira", FieldID: "status",
					From: ptrS(status.ID), FromString: ptrS(status.Name), To: ptrS(e.status.ID), ToString: ptrS(e.status.Name)})
			status = *e.status
		case e.resolution != "":
			h.Items = append(h.Items, Item{Field: "resolution", FieldType: "jira", FieldID: "resolution", To: ptrS("10001"), ToString: ptrS(e.resolution)})
		case e.typeFrom != "":
			h.Items = append(h.Items, Item{Field: "issuetype", FieldType: "jira", FieldID: "issuetype",
				From: ptrS(typeIDs[e.typeFrom]), FromString: ptrS(e.typeFrom), To: ptrS(typeIDs[is.Type]), ToString: ptrS(is.Type)})
		case e.status != nil:
			h.Items = append(h.Items, Item{Field: "status", FieldType: "jira", FieldID: "status",
				From: ptrS(status.ID), FromString: ptrS(status.Name), To: ptrS(e.status.ID), ToString: ptrS(e.status.Name)})
			if e.status.Category == "done" && status.Category != "done" {
				h.Items = append(h.Items, Item{Field: "resolution", FieldType: "jira", FieldID: "resolution", To: ptrS("10000"), ToString: ptrS("Done")})
			} else if e.status.Category != "done" && status.Category == "done" && !e.keepResolution {
				h.Items = append(h.Items, Item{Field: "resolution", FieldType: "jira", FieldID: "resolution", From: ptrS("10000"), FromString: ptrS("Done")})
			}
			status = *e.status
		case e.isSprint:
			h.Items = append(h.Items, Item{Field: "Sprint", FieldType: "custom", FieldID: g.fields.sprint,
				From: ptrS(sprintList(sprints)), FromString: ptrS(g.sprintNames(sprints)), To: ptrS(sprintList(e.sprint)), ToString: ptrS(g.sprintNames(e.sprint))})
			sprints = e.sprint
		case e.points != nil:
			// The history says the estimate went from the old value to the current one.
			h.Items = append(h.Items, Item{Field: g.fields.pointsName, FieldType: "custom", FieldID: g.fields.points,
				FromString: ptrS(fmtPoints(*e.points)), ToString: ptrS(fmtPoints(is.StoryPoints))})
		case e.rank:
			h.Items = append(h.Items, Item{Field: "Rank", FieldType: "custom", FieldID: g.fields.rank, FromString: ptrS(""), ToString: ptrS("Ranked higher")})
		case e.flag != nil:
			on, off := ptrS("[10019]"), ptrS("Impediment")
			it := Item{Field: "Flagged", FieldType: "custom", FieldID: g.fields.flagged}
			if *e.flag {
				it.To, it.ToString = on, off
			} else {
				it.From, it.FromString = on, off
			}
			h.Items = append(h.Items, it)
		case e.blockedBy > 0:
			key := g.KeyOf(e.blockedBy - 1)
			h.Items = append(h.Items, Item{Field: "Link", FieldType: "jira", To: ptrS(key), ToString: ptrS("This issue is blocked by " + key)})
		case e.label != "":
			before := strings.Join(labels, " ")
			after := before + " " + e.label
			h.Items = append(h.Items, Item{Field: "labels", FieldType: "jira", FieldID: "labels", FromString: ptrS(before), ToString: ptrS(strings.TrimSpace(after))})
		}
		is.Histories = append(is.Histories, h)
	}
}

func fmtPoints(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func (g *Generator) sprintNames(ids []int) string {
	names := make([]string, 0, len(ids))
	for _, id := range ids {
		if s := g.SprintByID(id); s != nil {
			names = append(names, s.Name)
		} else {
			names = append(names, "Sprint "+strconv.Itoa(id))
		}
	}
	return strings.Join(names, ", ")
}
