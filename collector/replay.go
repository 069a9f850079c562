package collector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/evident-ebm/evident"
)

var serverSprintID = regexp.MustCompile(`\bid=(\d+)`)

// ParseSprintField reads the Sprint field in both forms: Cloud's objects
// and older Server's "com.atlassian.greenhopper.service.sprint.Sprint@…[id=…]" strings.
func ParseSprintField(b json.RawMessage) ([]uint64, error) {
	if len(b) == 0 || string(b) == "null" {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(b, &items); err != nil {
		return nil, fmt.Errorf("want an array of sprints, got %s", abbreviate(b))
	}
	var out []uint64
	for _, it := range items {
		it = bytes.TrimSpace(it)
		if len(it) > 0 && it[0] == '"' {
			var s string
			json.Unmarshal(it, &s)
			m := serverSprintID.FindStringSubmatch(s)
			if m == nil {
				return out, fmt.Errorf("sprint %q has no id=", abbreviate([]byte(s)))
			}
			id, err := strconv.ParseUint(m[1], 10, 64)
			if err != nil {
				return out, fmt.Errorf("sprint id %q: %v", m[1], err)
			}
			out = append(out, id)
			continue
		}
		var obj struct {
			ID json.Number `json:"id"`
		}
		if err := json.Unmarshal(it, &obj); err != nil || obj.ID == "" {
			return out, fmt.Errorf("sprint %s has no id", abbreviate(it))
		}
		id, err := strconv.ParseUint(obj.ID.String(), 10, 64)
		if err != nil {
			return out, fmt.Errorf("sprint id %q is not a number", obj.ID)
		}
		out = append(out, id)
	}
	return out, nil
}

func (x *extractor) sprintIDs(b json.RawMessage) []uint64 {
	ids, err := ParseSprintField(b)
	if err != nil {
		x.find(evident.CheckFieldUnreadable, x.m.Fields.Sprint, "%v", err)
	}
	return ids
}

// parseIDList reads a changelog's comma-separated sprint id list.
func parseIDList(s string) ([]uint64, error) {
	var out []uint64
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, err := strconv.ParseUint(part, 10, 64)
		if err != nil {
			return out, fmt.Errorf("sprint id %q is not a number", part)
		}
		out = append(out, id)
	}
	return out, nil
}

type history struct {
	id    uint64
	at    time.Time
	items []rawItem
}

// histories sorts the changelog by time, ties by history id, leaving out
// the histories that have no readable id or date.
func (x *extractor) histories(cl *rawChangelog) []history {
	if cl == nil {
		return nil
	}
	if cl.Total > len(cl.Histories) {
		x.find(evident.CheckChangelogIncomplete, "changelog", "only %d of %d histories present", len(cl.Histories), cl.Total)
	}
	out := make([]history, 0, len(cl.Histories))
	for _, h := range cl.Histories {
		id, err := strconv.ParseUint(h.ID, 10, 64)
		if err != nil {
			x.find(evident.CheckHistoryUnreadable, "changelog", "history id %q is not a number; history left out", h.ID)
			continue
		}
		at, err := ParseJiraTime(h.Created)
		if err != nil {
			x.find(evident.CheckHistoryUnreadable, "changelog", "history %s: %v; history left out", h.ID, err)
			continue
		}
		if !evident.StorableTime(at) {
			x.find(evident.CheckDateOutOfRange, "changelog", "history %s is dated %s, outside %s; history left out", h.ID, h.Created, evident.StorableRange)
			continue
		}
		out = append(out, history{id: id, at: at, items: h.Items})
	}
	sort.SliceStable(out, func(a, b int) bool {
		if !out[a].at.Equal(out[b].at) {
			return out[a].at.Before(out[b].at)
		}
		return out[a].id < out[b].id
	})
	return out
}

func (x *extractor) isSprintItem(it rawItem) bool {
	if x.m.Fields.Sprint != "" && it.FieldID == x.m.Fields.Sprint {
		return true
	}
	return it.FieldID == "" && it.Field == "Sprint"
}

func (x *extractor) isStart(id, name, category string) bool {
	switch {
	case x.cycle != nil:
		if x.cycle.starts(id) {
			return true
		}
	case category == evident.CategoryIndeterminate:
		return true
	}
	for _, s := range x.settings.StartStatuses {
		if s == id || s == name {
			return true
		}
	}
	return false
}

// statusOf names a status of the changelog with its category: the
// issue's own category for its current status; else the project's override
// or /status by id; else, for a status the site no longer lists, the
// category of a listed status of the same name, or new.
func (x *extractor) statusOf(is *evident.Issue, id, name string) evident.StatusRef {
	ref := evident.StatusRef{ID: id, Name: name}
	switch {
	case id == is.StatusID && id != "":
		ref.Category = is.StatusCategory
	default:
		ref.Category = x.category(id, name, "")
	}
	if ref.Category == "" {
		if c, ok := x.m.CategoryByName[name]; ok {
			ref.Category = c
			x.find(evident.CheckStatusUnknown, "status", "status %q (id %s) is not listed by /rest/api/2/status; counted as %s like the listed status of that name", name, id, c)
		} else {
			ref.Category = evident.CategoryNew
			x.find(evident.CheckStatusUnknown, "status", "status %q (id %s) is not listed by /rest/api/2/status; counted as new", name, id)
		}
	}
	return ref
}

// replay walks the status and sprint history in time order, builds the
// issue's timeline and derives started_at and done_at as docs/metrics.md
// defines them, clamping timestamps that disagree.
func (x *extractor) replay(is *evident.Issue, hs []history, rows *Rows) {
	created := is.CreatedAt
	var firstStatus, firstSprint *rawItem
	for _, h := range hs {
		for k := range h.items {
			it := h.items[k]
			if it.Field == "status" && firstStatus == nil {
				firstStatus = &it
			}
			if x.isSprintItem(it) && firstSprint == nil {
				firstSprint = &it
			}
		}
	}
	// The status at creation: the "from" of the first status change, or the
	// current status when there is none.
	tl := evident.Timeline{Created: created, Initial: evident.StatusRef{ID: is.StatusID, Name: is.StatusName, Category: is.StatusCategory}}
	if firstStatus != nil {
		tl.Initial = x.statusOf(is, str(firstStatus.From), str(firstStatus.FromString))
	}
	cur := tl.Initial
	var started, done *time.Time
	if x.isStart(cur.ID, cur.Name, cur.Category) {
		started = &created
	}
	if cur.Category == evident.CategoryDone {
		done = &created
	}
	// Sprints at creation: the "from" of the first Sprint change, or the
	// current value when the field never changed.
	var initialSprints []uint64
	if firstSprint != nil {
		ids, err := parseIDList(str(firstSprint.From))
		if err != nil {
			x.find(evident.CheckFieldUnreadable, "Sprint", "%v", err)
		}
		initialSprints = ids
	} else {
		initialSprints = is.SprintIDs
	}
	for _, id := range initialSprints {
		rows.SprintChange = append(rows.SprintChange, evident.SprintChange{Site: is.Site, IssueID: is.IssueID, HistoryID: 0, SprintID: id,
			IssueKey: is.IssueKey, ProjectKey: is.ProjectKey, ChangedAt: created, Added: 1, Version: is.Version})
	}
	for _, h := range hs {
		at := h.at
		if at.Before(created) {
			x.find(evident.CheckChangeBeforeCreated, "changelog", "history %d is dated %s, before the issue was created (%s); counted at the creation",
				h.id, at.Format(time.RFC3339), created.Format(time.RFC3339))
			at = created
		}
		for k, it := range h.items {
			switch {
			case it.Field == "status":
				from := evident.StatusRef{ID: str(it.From), Name: str(it.FromString)}
				if from.ID != cur.ID && (from.ID != "" || from.Name != cur.Name) {
					x.find(evident.CheckChangelogGap, "changelog", "history %d moves from %q but the issue was in %q; counted from %q", h.id, from.Name, cur.Name, cur.Name)
				}
				to := x.statusOf(is, str(it.To), str(it.ToString))
				tl.Changes = append(tl.Changes, evident.StatusChange{At: at, HistoryID: h.id, From: cur, To: to})
				rows.Transitions = append(rows.Transitions, evident.Transition{Site: is.Site, IssueID: is.IssueID, HistoryID: h.id, ItemIndex: uint16(k),
					IssueKey: is.IssueKey, ProjectKey: is.ProjectKey, ChangedAt: at,
					FromStatusID: cur.ID, ToStatusID: to.ID, FromStatus: cur.Name, ToStatus: to.Name,
					FromCategory: cur.Category, ToCategory: to.Category, Version: is.Version})
				if started == nil && x.isStart(to.ID, to.Name, to.Category) {
					started = &at
				}
				if to.Category == evident.CategoryDone && cur.Category != evident.CategoryDone {
					done = &at
				}
				cur = to
			case x.isSprintItem(it):
				from, err1 := parseIDList(str(it.From))
				to, err2 := parseIDList(str(it.To))
				if err1 != nil || err2 != nil {
					x.find(evident.CheckFieldUnreadable, "Sprint", "history %d: sprint ids %q → %q unreadable", h.id, str(it.From), str(it.To))
				}
				for _, id := range diff(to, from) {
					rows.SprintChange = append(rows.SprintChange, evident.SprintChange{Site: is.Site, IssueID: is.IssueID, HistoryID: h.id, SprintID: id,
						IssueKey: is.IssueKey, ProjectKey: is.ProjectKey, ChangedAt: at, Added: 1, Version: is.Version})
				}
				for _, id := range diff(from, to) {
					rows.SprintChange = append(rows.SprintChange, evident.SprintChange{Site: is.Site, IssueID: is.IssueID, HistoryID: h.id, SprintID: id,
						IssueKey: is.IssueKey, ProjectKey: is.ProjectKey, ChangedAt: at, Added: 0, Version: is.Version})
				}
			default:
				rows.FieldChanges = append(rows.FieldChanges, evident.FieldChange{Site: is.Site, IssueID: is.IssueID, HistoryID: h.id, ItemIndex: uint16(k),
					IssueKey: is.IssueKey, ChangedAt: at, Field: it.Field, FieldID: it.FieldID,
					FromValue: str(it.From), FromString: str(it.FromString), ToValue: str(it.To), ToString: str(it.ToString), Version: is.Version})
			}
		}
	}
	// The changelog must end where the issue is: when it does not, the
	// issue's own status counts, from the last change on.
	if n := len(tl.Changes); n > 0 && is.StatusID != "" && cur.ID != is.StatusID {
		last := tl.Changes[n-1]
		x.find(evident.CheckChangelogDisagrees, "status", "the changelog ends in %q but the issue is in %q", cur.Name, is.StatusName)
		own := evident.StatusRef{ID: is.StatusID, Name: is.StatusName, Category: is.StatusCategory}
		tl.Changes = append(tl.Changes, evident.StatusChange{At: last.At, HistoryID: last.HistoryID, From: cur, To: own})
		// Item index 65535 marks the change Evident added (no item has it).
		rows.Transitions = append(rows.Transitions, evident.Transition{Site: is.Site, IssueID: is.IssueID, HistoryID: last.HistoryID, ItemIndex: math.MaxUint16,
			IssueKey: is.IssueKey, ProjectKey: is.ProjectKey, ChangedAt: last.At, FromStatusID: cur.ID, ToStatusID: own.ID, FromStatus: cur.Name, ToStatus: own.Name,
			FromCategory: cur.Category, ToCategory: own.Category, Version: is.Version})
		if started == nil && x.isStart(own.ID, own.Name, own.Category) {
			at := last.At
			started = &at
		}
		if own.Category == evident.CategoryDone && cur.Category != evident.CategoryDone {
			at := last.At
			done = &at
		}
		cur = own
	}
	if is.ResolvedAt != nil && is.ResolvedAt.Before(created) {
		x.find(evident.CheckResolvedBeforeCreated, "resolutiondate", "resolved %s, before it was created (%s)", is.ResolvedAt.Format(time.RFC3339), created.Format(time.RFC3339))
	}
	switch {
	case is.StatusCategory != evident.CategoryDone:
		done = nil
		if is.ResolvedAt != nil {
			x.find(evident.CheckResolvedNotDone, "resolution", "resolved %s but in %q (%s)", is.ResolvedAt.Format("2006-01-02"), is.StatusName, is.StatusCategory)
		}
	case len(tl.Changes) == 0:
		// Done without any status change on record (created done, imported):
		// Jira's resolution date, never before the creation.
		done = &created
		if is.ResolvedAt != nil && is.ResolvedAt.After(created) {
			t := *is.ResolvedAt
			done = &t
		}
	}
	if started != nil && done != nil && started.After(*done) {
		x.find(evident.CheckDoneBeforeStarted, "status", "started %s, after it was done (%s); counted as started when done",
			started.Format(time.RFC3339), done.Format(time.RFC3339))
		t := *done
		started = &t
	}
	is.StartedAt, is.DoneAt = started, done
	rows.Timeline = tl
}

func diff(a, b []uint64) []uint64 {
	var out []uint64
	for _, x := range a {
		found := false
		for _, y := range b {
			if x == y {
				found = true
				break
			}
		}
		if !found {
			out = append(out, x)
		}
	}
	return out
}
