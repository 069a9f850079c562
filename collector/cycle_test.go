package collector

import (
	"strings"
	"testing"

	"github.com/evident-ebm/evident"
)

// cycleBoard is a kanban board of the fixture statuses: a backlog column,
// a to-do column, an in-progress column that also holds the new-category
// Waiting, a review column, a done-category Ready for Release column
// before Done.
var cycleBoard = evident.BoardConfig{BoardID: 7, ColumnNames: []string{"Backlog", "Selected", "In Progress", "In Review", "Ready for Release", "Done"},
	ColumnStatuses: [][]string{{"10000"}, {"10001"}, {"3", "10007"}, {"10002"}, {"10003"}, {"10004", "10005"}}}

func TestBoardColumnsSetCycleTime(t *testing.T) {
	// Backlog, Selected (3-02 10:00), Waiting in the In Progress column
	// (3-02 15:00), In Progress (3-03), In Review (3-05), back to In
	// Progress (3-06), In Review (3-07), Ready for Release (3-08),
	// Released (3-12).
	raw := issueJSON("10004", "", h("1@2024-03-02T10:00:00.000+0100|10000>10001"), h("2@2024-03-02T15:00:00.000+0100|10001>10007"),
		h("3@2024-03-03T10:00:00.000+0100|10007>3"), h("4@2024-03-05T10:00:00.000+0100|3>10002"), h("5@2024-03-06T10:00:00.000+0100|10002>3"),
		h("6@2024-03-07T10:00:00.000+0100|3>10002"), h("7@2024-03-08T10:00:00.000+0100|10002>10003"), h("8@2024-03-12T10:00:00.000+0100|10003>10004"))
	boards := []evident.Board{{BoardID: 7, ProjectKey: "EV"}}
	for _, c := range []struct {
		name          string
		board         *BoardCycle
		project       ProjectSettings
		started, done string
	}{
		{name: "no board: the in-progress category starts, the done category ends",
			started: "2024-03-03T10:00:00.000+0100", done: "2024-03-08T10:00:00.000+0100"},
		{name: "the board's defaults: Waiting sits in the In Progress column, so it starts the clock",
			board:   &BoardCycle{},
			started: "2024-03-02T15:00:00.000+0100", done: "2024-03-08T10:00:00.000+0100"},
		{name: "from In Review to Done: Ready for Release is not done yet",
			board:   &BoardCycle{StartColumn: "In Review", EndColumn: "done"},
			started: "2024-03-05T10:00:00.000+0100", done: "2024-03-12T10:00:00.000+0100"},
		{name: "the project's status categories win over the end column",
			board:   &BoardCycle{StartColumn: "In Review", EndColumn: "Done"},
			project: ProjectSettings{StatusCategories: map[string]string{"Ready for Release": "done"}},
			started: "2024-03-05T10:00:00.000+0100", done: "2024-03-08T10:00:00.000+0100"},
		{name: "the project's start statuses start the clock besides the start column",
			board:   &BoardCycle{StartColumn: "In Review"},
			project: ProjectSettings{StartStatuses: []string{"Selected for Development"}},
			started: "2024-03-02T10:00:00.000+0100", done: "2024-03-08T10:00:00.000+0100"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := testMapping()
			m.Projects = map[string]ProjectSettings{"EV": c.project}
			if c.board != nil {
				cycles, err := Cycles("s", map[uint64]BoardCycle{7: *c.board}, boards, []evident.BoardConfig{cycleBoard}, testStatuses)
				if err != nil {
					t.Fatal(err)
				}
				m.Cycles = cycles
			}
			rows, err := Extract(raw, m)
			if err != nil {
				t.Fatal(err)
			}
			if !eqTime(rows.Issue.StartedAt, ts(c.started)) || !eqTime(rows.Issue.DoneAt, ts(c.done)) {
				t.Errorf("started %s done %s, want %s and %s", fmtT(rows.Issue.StartedAt), fmtT(rows.Issue.DoneAt), fmtT(ts(c.started)), fmtT(ts(c.done)))
			}
			checkTimeline(t, rows)
		})
	}
}

func TestBoardCycleSettingsAreCheckedAgainstTheBoard(t *testing.T) {
	boards := []evident.Board{{BoardID: 7, ProjectKey: "EV"}, {BoardID: 8, ProjectKey: "EV"}, {BoardID: 8, ProjectKey: "OPS"}}
	other := evident.BoardConfig{BoardID: 8, ColumnNames: []string{"To Do", "Doing", "Done"}, ColumnStatuses: [][]string{{"10000"}, {"10001"}, {"10005"}}}
	configs := []evident.BoardConfig{cycleBoard, other}
	for _, c := range []struct {
		want map[uint64]BoardCycle
		err  string
	}{
		{map[uint64]BoardCycle{7: {StartColumn: "Deploy"}}, `boards.7: start_column "Deploy" is not a column of the board (its columns: Backlog, Selected, In Progress, In Review, Ready for Release, Done)`},
		{map[uint64]BoardCycle{7: {StartColumn: "In Review", EndColumn: "In Progress"}}, `boards.7: end_column "In Progress" does not come after start_column "In Review"`},
		{map[uint64]BoardCycle{9: {}}, `boards.9: no board 9 among the boards of the configured projects`},
		{map[uint64]BoardCycle{8: {}}, `boards.8: no column holds an in-progress status: set start_column`},
		{map[uint64]BoardCycle{8: {StartColumn: "Done"}}, `boards.8: start_column "Done" holds only done statuses`},
		{map[uint64]BoardCycle{7: {}, 8: {StartColumn: "Doing"}}, `boards.8: project EV already takes its cycle time from board 7`},
	} {
		_, err := Cycles("s", c.want, boards, configs, testStatuses)
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%v: error %v, want %q", c.want, err, c.err)
		}
	}
	_, err := Cycles("s", map[uint64]BoardCycle{7: {}}, boards, []evident.BoardConfig{other}, testStatuses)
	if err == nil || !strings.Contains(err.Error(), "boards.7: the board's column configuration could not be read") {
		t.Errorf("board without configuration: %v", err)
	}
	// A board over two projects sets the cycle of both.
	cycles, err := Cycles("s", map[uint64]BoardCycle{8: {StartColumn: "doing"}}, boards, configs, testStatuses)
	if err != nil || cycles["EV"] == nil || cycles["OPS"] != cycles["EV"] || cycles["EV"].StartColumn != "Doing" {
		t.Errorf("board 8 over EV and OPS: %v %+v", err, cycles)
	}
}
