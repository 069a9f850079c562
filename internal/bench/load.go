package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/evident-ebm/evident"
	"github.com/evident-ebm/evident/schema"
)

// Load bulk-inserts synthetic issues (8 transitions each) through the
// store's batch path: the data of the latency and comparison runs.
func Load(ctx context.Context, dsn string, n int) (LoadFigure, error) {
	st, err := schema.Open(ctx, dsn)
	if err != nil {
		return LoadFigure{}, err
	}
	defer st.Close()
	if _, err := st.Migrate(ctx, ""); err != nil {
		return LoadFigure{}, err
	}
	projects := []string{"SHOP", "APP", "OPS"}
	var prj []evident.Project
	for i, p := range projects {
		prj = append(prj, evident.Project{Site: "bench", ProjectID: uint64(i + 1), Key: p, Name: p, Version: 1})
	}
	if err := st.InsertProjects(ctx, prj); err != nil {
		return LoadFigure{}, err
	}
	r := rand.New(rand.NewPCG(1, 2))
	now := time.Now().UTC().Truncate(time.Second)
	startAll := now.AddDate(-2, 0, 0)
	span := now.Sub(startAll).Seconds()
	types := []string{"Story", "Bug", "Task", "Incident", "Tech Debt"}
	cats := []string{evident.WorkFeature, evident.WorkDefect, evident.WorkOther, evident.WorkIncident, evident.WorkDebt} // this order: the datasets stay as measured
	statuses := []struct{ id, name, cat string }{{"10000", "Backlog", "new"}, {"3", "In Progress", "indeterminate"}, {"10002", "In Review", "indeterminate"}, {"10005", "Done", "done"}}
	t0 := time.Now()
	// One Scrum board per project with two-week sprints over the two years;
	// one issue in 160 goes through sprints (about 40 a sprint, as on a
	// real board), carried over while not done.
	const sprintLen = 14 * 24 * time.Hour
	nSprints := int(now.Sub(startAll)/sprintLen) + 1
	var boards []evident.Board
	var sprints []evident.Sprint
	for b, p := range projects {
		boards = append(boards, evident.Board{Site: "bench", BoardID: uint64(b + 1), Name: p + " board", Type: "scrum", ProjectKey: p, Version: 1})
		for k := 0; k < nSprints; k++ {
			start := startAll.Add(time.Duration(k) * sprintLen)
			end := start.Add(sprintLen)
			sp := evident.Sprint{Site: "bench", SprintID: sprintID(b, k), BoardID: uint64(b + 1), Name: fmt.Sprintf("%s sprint %d", p, k+1),
				State: "closed", StartAt: &start, EndAt: &end, CompleteAt: &end, Version: 1}
			if end.After(now) {
				sp.State, sp.CompleteAt = "active", nil
			}
			sprints = append(sprints, sp)
		}
	}
	if err := st.InsertBoards(ctx, boards); err != nil {
		return LoadFigure{}, err
	}
	if err := st.InsertSprints(ctx, sprints); err != nil {
		return LoadFigure{}, err
	}
	var issues []evident.Issue
	var trans []evident.Transition
	var changes []evident.SprintChange
	var fields []evident.FieldChange
	flush := func() error {
		if err := st.InsertIssues(ctx, issues); err != nil {
			return err
		}
		if err := st.InsertTransitions(ctx, trans); err != nil {
			return err
		}
		if err := st.InsertSprintChanges(ctx, changes); err != nil {
			return err
		}
		if err := st.InsertFieldChanges(ctx, fields); err != nil {
			return err
		}
		issues, trans, changes, fields = issues[:0], trans[:0], changes[:0], fields[:0]
		return nil
	}
	total := 0
	for i := 0; i < n; i++ {
		created := startAll.Add(time.Duration(float64(i)/float64(n)*span) * time.Second)
		ti := r.IntN(len(types))
		is := evident.Issue{Site: "bench", IssueID: uint64(i + 1), IssueKey: fmt.Sprintf("%s-%d", projects[i%3], i/3+1), ProjectKey: projects[i%3],
			IssueType: types[ti], WorkCategory: cats[ti], Summary: "Benchmark issue", Labels: []string{}, Components: []string{}, FixVersions: []string{},
			SprintIDs: []uint64{}, CreatedAt: created, UpdatedAt: created, Version: 1}
		at := created
		cur := 0
		hid := uint64(i) * 16
		for k := 0; k < 8; k++ {
			at = at.Add(time.Duration(r.ExpFloat64()*2*86400) * time.Second)
			if at.After(now) {
				break
			}
			next := (cur + 1) % 4
			if k == 7 {
				next = 3
			}
			if cur == 3 && next != 3 {
				next = 1 // reopened
			}
			trans = append(trans, evident.Transition{Site: "bench", IssueID: is.IssueID, HistoryID: hid + uint64(k), IssueKey: is.IssueKey, ProjectKey: is.ProjectKey,
				ChangedAt: at, FromStatusID: statuses[cur].id, ToStatusID: statuses[next].id, FromStatus: statuses[cur].name, ToStatus: statuses[next].name,
				FromCategory: statuses[cur].cat, ToCategory: statuses[next].cat, Version: 1})
			if statuses[next].cat == "indeterminate" && is.StartedAt == nil {
				s := at
				is.StartedAt = &s
			}
			if statuses[next].cat == "done" && statuses[cur].cat != "done" {
				d := at
				is.DoneAt = &d
			} else if statuses[next].cat != "done" {
				is.DoneAt = nil
			}
			cur = next
		}
		is.StatusID, is.StatusName, is.StatusCategory = statuses[cur].id, statuses[cur].name, statuses[cur].cat
		// Every issue is estimated an hour after creation.
		points := float64(1 + i%8)
		is.StoryPoints = &points
		fields = append(fields, evident.FieldChange{Site: "bench", IssueID: is.IssueID, HistoryID: hid + 15, IssueKey: is.IssueKey,
			ChangedAt: created.Add(time.Hour), Field: "Story Points", FieldID: "customfield_10016", ToValue: strconv.Itoa(int(points)),
			ToString: strconv.Itoa(int(points)), Version: 1})
		if i%160 == 0 && is.StartedAt != nil {
			b := i % 3
			for k := int(is.StartedAt.Sub(startAll) / sprintLen); k < nSprints; k++ {
				start := startAll.Add(time.Duration(k) * sprintLen)
				at := start.Add(-time.Hour) // planned before the start, or added when created
				if created.After(at) {
					at = created
				}
				changes = append(changes, evident.SprintChange{Site: "bench", IssueID: is.IssueID, HistoryID: hid + 8 + uint64(k%7), SprintID: sprintID(b, k),
					IssueKey: is.IssueKey, ProjectKey: is.ProjectKey, ChangedAt: at, Added: 1, Version: 1})
				is.SprintIDs = append(is.SprintIDs, sprintID(b, k))
				if is.DoneAt != nil && is.DoneAt.Before(start.Add(sprintLen)) {
					break
				}
			}
		}
		issues = append(issues, is)
		if len(issues) >= 20000 {
			total += len(trans)
			if err := flush(); err != nil {
				return LoadFigure{}, err
			}
		}
	}
	total += len(trans)
	if err := flush(); err != nil {
		return LoadFigure{}, err
	}
	// Merge the parts so that FINAL reads one part, as after any quiet hour.
	for _, t := range []string{"issues", "status_transitions", "sprint_changes", "field_changes"} {
		if err := st.Exec(ctx, "OPTIMIZE TABLE "+t+" FINAL"); err != nil {
			return LoadFigure{}, err
		}
	}
	secs := time.Since(t0).Seconds()
	g, err := st.BuildReadModel(ctx)
	if err != nil {
		return LoadFigure{}, err
	}
	return LoadFigure{Issues: n, Transitions: total, Seconds: round(secs), RowsPerSec: round(float64(n+total) / secs),
		ReadModelSeconds: round(g.Took.Seconds())}, nil
}

func sprintID(board, k int) uint64 { return uint64((board+1)*1000 + k + 1) }
