package evident

import "time"

// Finding is one data quality check an issue's Jira data failed, noticed
// while the collector turned the issue into rows.
type Finding struct {
	IssueKey string
	Check    string // one of the Check* codes
	Field    string // the field or part of the issue it concerns
	Note     string // what exactly, for a person to check in Jira
}

// The data quality checks. docs/metrics.md ("When Jira's data disagrees")
// defines each and what the measures do about it.
const (
	CheckResolvedBeforeCreated = "resolved_before_created"
	CheckChangeBeforeCreated   = "change_before_created"
	CheckDoneBeforeStarted     = "done_before_started"
	CheckChangelogGap          = "changelog_gap"
	CheckChangelogDisagrees    = "changelog_disagrees"
	CheckChangelogIncomplete   = "changelog_incomplete"
	CheckHistoryUnreadable     = "history_unreadable"
	CheckStatusUnknown         = "status_unknown"
	CheckCategoryUnknown       = "category_unknown"
	CheckResolvedNotDone       = "resolved_not_done"
	CheckFieldUnreadable       = "field_unreadable"
	CheckDateOutOfRange        = "date_out_of_range"
	// Checks run on the read model, across issues and boards (not at
	// extraction): stored data gets them without a new sync.
	CheckDoneNeverStarted   = "done_never_started"
	CheckMovedBackwards     = "moved_backwards"
	CheckMovedBackColumn    = "moved_back_column"
	CheckChangedAfterDone   = "changed_after_done"
	CheckDoneUnresolved     = "done_without_resolution"
	CheckBlockedByClosed    = "blocked_by_closed"
	CheckStatusOffBoard     = "status_not_on_board"
	CheckCreatedOffColumn   = "created_outside_first_column"
	CheckOnSeveralBoards    = "on_several_boards"
	CheckSubtaskAfterParent = "subtask_open_after_parent_done"
	CheckParentNotStarted   = "parent_not_started"
)

// Check describes a data quality check: what it finds and what Evident does
// about it.
type Check struct {
	Code   string `json:"check"`
	Title  string `json:"title"`
	Effect string `json:"effect"`
}

// Checks lists every data quality check in the order the data-health page
// shows them: those that change a measure first.
var Checks = []Check{
	{CheckResolvedBeforeCreated, "Resolved before it was created", "Done at its creation: lead time 0 (it would be negative)."},
	{CheckChangeBeforeCreated, "Status changes dated before the issue was created", "The changes count at the creation time."},
	{CheckDoneBeforeStarted, "Done before it was started", "Started when done: cycle time 0 (it would be negative)."},
	{CheckChangelogGap, "A status change from a status the issue was not in", "The change counts from the status the issue was in."},
	{CheckChangelogDisagrees, "The changelog ends in another status than the issue's", "The issue's own status counts, from its last change."},
	{CheckChangelogIncomplete, "Jira returned only part of the changelog", "Measures use the part returned."},
	{CheckHistoryUnreadable, "Changelog entries without a readable id or date", "Those entries are left out."},
	{CheckStatusUnknown, "Statuses Jira no longer lists (deleted) in the changelog", "Their category is that of a listed status of the same name, else To Do."},
	{CheckCategoryUnknown, "A status category other than To Do, In Progress, Done", "Counted as To Do."},
	{CheckResolvedNotDone, "A resolution is set but the status is not done", "Flow measures go by the status and ignore the resolution."},
	{CheckFieldUnreadable, "A field Evident reads could not be read", "The field is left empty."},
	{CheckDateOutOfRange, "A date before 1970-01-02 or after 2105", "The date is left out (a changelog entry) or empty (a field)."},
	{CheckDoneNeverStarted, "Done without ever being started (no in-progress status on record)", "Left out of cycle time (the trust figures count it); in lead time and throughput."},
	{CheckMovedBackwards, "Moved back from in progress to a to-do status", "Cycle time runs from the first start: the time back in to-do counts as cycle time."},
	{CheckMovedBackColumn, "Moved back to an earlier column of its project's board within a category (review back to development)", "Cycle time runs from the first start; the rework is in it. The board's WIP counts it where it is."},
	{CheckChangedAfterDone, "Status changes after done: left done and came back (reopened)", "Done at its last completion; lead and cycle time include the reopened time."},
	{CheckDoneUnresolved, "Done without a resolution", "Flow measures go by the status; Jira's own reports (by resolution) do not count it done."},
	{CheckBlockedByClosed, "In progress and \"blocked by\" an issue already done", "The link blocks nothing from the blocker's completion on; remove it in Jira."},
	{CheckStatusOffBoard, "In a status no column of its project's boards holds (unmapped or deleted)", "Invisible on the board; measures count it by its status category."},
	{CheckCreatedOffColumn, "Created in a status outside the first column of its project's boards", "Its clock starts where the status says: created in progress, it started at creation."},
	{CheckOnSeveralBoards, "On more than one board (its project is on several boards)", "Counted once in every measure; each board's view counts it, and its cycle time follows one board (boards setting) or Jira's categories."},
	{CheckSubtaskAfterParent, "Sub-task open after its parent is done", "Counted in work in progress and aging while its parent counts as done."},
	{CheckParentNotStarted, "Not started while one of its sub-tasks is", "Its cycle time starts later than its work did."},
}

// SkippedIssue is an issue the collector could not store at all (no
// readable id, or no date to place it in time): it is in no measure, and
// the data-health page names it with the reason. Skipped = 0 records that
// a later sync stored it after all.
type SkippedIssue struct {
	Site     string    `ch:"site"`
	IssueKey string    `ch:"issue_key"`
	IssueID  uint64    `ch:"issue_id"`
	Reason   string    `ch:"reason"`
	SeenAt   time.Time `ch:"seen_at"`
	Skipped  uint8     `ch:"skipped"`
	Version  uint64    `ch:"version"`
}

// The dates ClickHouse's DateTime can hold (and Jira data can plausibly
// carry): a date outside is a data error, never stored wrapped around. The
// first day is left out: ClickHouse shows time 0 as a zero date.
var (
	MinStoredTime = time.Date(1970, 1, 2, 0, 0, 0, 0, time.UTC)
	MaxStoredTime = time.Date(2105, 12, 31, 23, 59, 59, 0, time.UTC)
)

// StorableRange names the dates Evident stores, for messages.
var StorableRange = MinStoredTime.Format("2006-01-02") + " to " + MaxStoredTime.Format("2006-01-02")

// OutsideStorable is the message for a date outside StorableRange, as
// given (value).
func OutsideStorable(value string) string {
	return value + " is outside the dates Evident holds (" + StorableRange + ")"
}

// StorableTime says whether t lies within the dates Evident stores.
func StorableTime(t time.Time) bool {
	return !t.Before(MinStoredTime) && !t.After(MaxStoredTime)
}
