// Package evident holds the domain of the Evident EBM metrics platform: the
// records that flow from Jira through the collector into storage and out to
// the metrics, and the error type that reaches users. It imports nothing
// internal; adapters (ClickHouse, Jira, HTTP) depend on it.
package evident

import "time"

// Status categories as Jira names them (statusCategory.key).
const (
	CategoryNew           = "new"
	CategoryIndeterminate = "indeterminate"
	CategoryDone          = "done"
)

// Work categories an issue type maps to, for innovation rate and quality.
const (
	WorkFeature  = "feature"
	WorkDefect   = "defect"
	WorkIncident = "incident"
	WorkDebt     = "debt"
	WorkOther    = "other"
)

// WorkCategories lists the work categories.
var WorkCategories = []string{WorkFeature, WorkDefect, WorkIncident, WorkDebt, WorkOther}

// The four Key Value Areas of Evidence-Based Management, as goals and
// measures name them.
const (
	KVACurrentValue      = "current_value"
	KVAUnrealizedValue   = "unrealized_value"
	KVATimeToMarket      = "time_to_market"
	KVAAbilityToInnovate = "ability_to_innovate"
)

// KVAs lists the Key Value Areas in EBM's order.
var KVAs = []string{KVACurrentValue, KVAUnrealizedValue, KVATimeToMarket, KVAAbilityToInnovate}

// OneOf says whether v is one of vs: a value checked against a vocabulary.
func OneOf(v string, vs []string) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

// Site is one Jira instance Evident collects from.
type Site struct {
	Site           string `ch:"site"`
	URL            string `ch:"url"`
	DeploymentType string `ch:"deployment_type"`
	TimeZone       string `ch:"time_zone"`
	// FieldIDs is the JSON of the custom field ids discovered on the site,
	// kept so that a rebuild can re-extract without calling Jira.
	FieldIDs string `ch:"field_ids"`
	Version  uint64 `ch:"version"`
	// Cycles is the JSON of the cycles projects take from board columns
	// (collector.Cycles) that the stored issues were extracted with.
	Cycles string `ch:"cycles"`
}

// Project is a Jira project.
type Project struct {
	Site      string `ch:"site"`
	ProjectID uint64 `ch:"project_id"`
	Key       string `ch:"project_key"`
	Name      string `ch:"name"`
	Version   uint64 `ch:"version"`
}

// Status is a Jira workflow status with its category.
type Status struct {
	Site     string `ch:"site"`
	StatusID string `ch:"status_id"`
	Name     string `ch:"name"`
	Category string `ch:"category"`
	Version  uint64 `ch:"version"`
}

// RawIssue is an issue's JSON exactly as Jira returned it (with its full
// changelog), kept so that rows can be rebuilt without calling Jira again.
type RawIssue struct {
	Site       string    `ch:"site"`
	IssueID    uint64    `ch:"issue_id"`
	IssueKey   string    `ch:"issue_key"`
	ProjectKey string    `ch:"project_key"`
	UpdatedAt  time.Time `ch:"updated_at"`
	JSON       string    `ch:"json"`
	// ContentHash identifies the JSON, so an unchanged issue is not rewritten.
	ContentHash uint64 `ch:"content_hash"`
	Deleted     uint8  `ch:"deleted"`
	Version     uint64 `ch:"version"`
}

// Issue is one Jira issue with the timestamps docs/metrics.md derives from its
// changelog. Times are UTC with second precision.
type Issue struct {
	Site           string     `ch:"site"`
	IssueID        uint64     `ch:"issue_id"`
	IssueKey       string     `ch:"issue_key"`
	ProjectKey     string     `ch:"project_key"`
	IssueType      string     `ch:"issue_type"`
	WorkCategory   string     `ch:"work_category"`
	Summary        string     `ch:"summary"`
	StatusID       string     `ch:"status_id"`
	StatusName     string     `ch:"status_name"`
	StatusCategory string     `ch:"status_category"`
	Priority       string     `ch:"priority"`
	Labels         []string   `ch:"labels"`
	Components     []string   `ch:"components"`
	FixVersions    []string   `ch:"fix_versions"`
	ParentKey      string     `ch:"parent_key"`
	EpicKey        string     `ch:"epic_key"`
	StoryPoints    *float64   `ch:"story_points"`
	BusinessValue  *float64   `ch:"business_value"`
	SprintIDs      []uint64   `ch:"sprint_ids"`
	Rank           string     `ch:"rank"`
	HasDescription uint8      `ch:"has_description"`
	CreatedAt      time.Time  `ch:"created_at"`
	UpdatedAt      time.Time  `ch:"updated_at"`
	StartedAt      *time.Time `ch:"started_at"`
	DoneAt         *time.Time `ch:"done_at"`
	ResolvedAt     *time.Time `ch:"resolved_at"`
	// DueDate is Jira's due date (a day; midnight UTC).
	DueDate *time.Time `ch:"due_date"`
	// Flagged is 1 while Jira's Flagged field is set (an impediment).
	Flagged uint8 `ch:"flagged"`
	// BlockedBy are the keys of the issues this one "is blocked by" (issue
	// links); BlockedByOpen says, in the same order, whether each was open
	// (not done) when the issue was collected.
	BlockedBy     []string `ch:"blocked_by"`
	BlockedByOpen []uint8  `ch:"blocked_by_open"`
	Deleted       uint8    `ch:"deleted"`
	Version       uint64   `ch:"version"`
}

// Transition is one status change from an issue's changelog.
type Transition struct {
	Site         string    `ch:"site"`
	IssueID      uint64    `ch:"issue_id"`
	HistoryID    uint64    `ch:"history_id"`
	ItemIndex    uint16    `ch:"item_index"`
	IssueKey     string    `ch:"issue_key"`
	ProjectKey   string    `ch:"project_key"`
	ChangedAt    time.Time `ch:"changed_at"`
	FromStatusID string    `ch:"from_status_id"`
	ToStatusID   string    `ch:"to_status_id"`
	FromStatus   string    `ch:"from_status"`
	ToStatus     string    `ch:"to_status"`
	FromCategory string    `ch:"from_category"`
	ToCategory   string    `ch:"to_category"`
	Version      uint64    `ch:"version"`
}

// SprintChange records an issue joining (Added=1) or leaving (Added=0) a
// sprint, replayed from the Sprint field's changelog.
type SprintChange struct {
	Site       string    `ch:"site"`
	IssueID    uint64    `ch:"issue_id"`
	HistoryID  uint64    `ch:"history_id"`
	SprintID   uint64    `ch:"sprint_id"`
	IssueKey   string    `ch:"issue_key"`
	ProjectKey string    `ch:"project_key"`
	ChangedAt  time.Time `ch:"changed_at"`
	Added      uint8     `ch:"added"`
	Version    uint64    `ch:"version"`
}

// FieldChange is any other changelog item (estimates, labels, …), kept so
// that a measure needing a field's value at a past time can replay it.
type FieldChange struct {
	Site       string    `ch:"site"`
	IssueID    uint64    `ch:"issue_id"`
	HistoryID  uint64    `ch:"history_id"`
	ItemIndex  uint16    `ch:"item_index"`
	IssueKey   string    `ch:"issue_key"`
	ChangedAt  time.Time `ch:"changed_at"`
	Field      string    `ch:"field"`
	FieldID    string    `ch:"field_id"`
	FromValue  string    `ch:"from_value"`
	FromString string    `ch:"from_string"`
	ToValue    string    `ch:"to_value"`
	ToString   string    `ch:"to_string"`
	Version    uint64    `ch:"version"`
}

// Board is a Jira Software board.
type Board struct {
	Site       string `ch:"site"`
	BoardID    uint64 `ch:"board_id"`
	Name       string `ch:"name"`
	Type       string `ch:"type"`
	ProjectKey string `ch:"project_key"`
	Version    uint64 `ch:"version"`
}

// BoardConfig is a board's configuration: its columns in board order,
// the status ids each holds, and its WIP limits (−1: none). A status no
// column holds is unmapped: the board does not show its issues.
type BoardConfig struct {
	Site            string     `ch:"site"`
	BoardID         uint64     `ch:"board_id"`
	ColumnNames     []string   `ch:"column_names"`
	ColumnStatuses  [][]string `ch:"column_statuses"`
	ColumnMin       []int32    `ch:"column_min"`
	ColumnMax       []int32    `ch:"column_max"`
	ConstraintType  string     `ch:"constraint_type"`
	EstimationField string     `ch:"estimation_field"`
	FilterID        string     `ch:"filter_id"`
	Version         uint64     `ch:"version"`
}

// Sprint is a sprint of a scrum board.
type Sprint struct {
	Site       string     `ch:"site"`
	SprintID   uint64     `ch:"sprint_id"`
	BoardID    uint64     `ch:"board_id"`
	Name       string     `ch:"name"`
	State      string     `ch:"state"`
	StartAt    *time.Time `ch:"start_at"`
	EndAt      *time.Time `ch:"end_at"`
	CompleteAt *time.Time `ch:"complete_at"`
	Goal       string     `ch:"goal"`
	Version    uint64     `ch:"version"`
}

// Release is a project version (a fix version) and whether it shipped.
type Release struct {
	Site        string     `ch:"site"`
	VersionID   uint64     `ch:"version_id"`
	ProjectKey  string     `ch:"project_key"`
	Name        string     `ch:"name"`
	Released    uint8      `ch:"released"`
	Archived    uint8      `ch:"archived"`
	ReleaseDate *time.Time `ch:"release_date"`
	Version     uint64     `ch:"version"`
}

// Checkpoint is where the next incremental sync of a site's project starts:
// the time the last complete run started.
type Checkpoint struct {
	Site       string    `ch:"site"`
	Scope      string    `ch:"scope"`
	Checkpoint time.Time `ch:"checkpoint"`
	Version    uint64    `ch:"version"`
}

// SyncRun summarises one run of the collector.
type SyncRun struct {
	Site          string    `ch:"site"`
	RunID         string    `ch:"run_id"`
	StartedAt     time.Time `ch:"started_at"`
	FinishedAt    time.Time `ch:"finished_at"`
	Mode          string    `ch:"mode"`
	Status        string    `ch:"status"`
	Error         string    `ch:"error"`
	IssuesFetched uint64    `ch:"issues_fetched"`
	IssuesNew     uint64    `ch:"issues_new"`
	IssuesChanged uint64    `ch:"issues_changed"`
	IssuesDeleted uint64    `ch:"issues_deleted"`
	Requests      uint64    `ch:"requests"`
	Retries       uint64    `ch:"retries"`
	Problems      uint64    `ch:"problems"`
}

// SyncProblem is one piece of bad input the collector met and stepped over.
// The data-health page and API list them.
type SyncProblem struct {
	Site     string    `json:"site" ch:"site"`
	RunID    string    `json:"-" ch:"run_id"`
	IssueKey string    `json:"issue_key" ch:"issue_key"`
	Field    string    `json:"field" ch:"field"`
	Message  string    `json:"message" ch:"message"`
	SeenAt   time.Time `json:"seen_at" ch:"seen_at"`
}

// SatisfactionResponse is one survey answer (NPS 0–10, CSAT 1–5, eNPS 0–10).
type SatisfactionResponse struct {
	ResponseID     string    `ch:"response_id"`
	RespondedAt    time.Time `ch:"responded_at"`
	Scale          string    `ch:"scale"`
	Score          int16     `ch:"score"`
	Product        string    `ch:"product"`
	RespondentHash string    `ch:"respondent_hash"`
	Comment        string    `ch:"comment"`
	Source         string    `ch:"source"`
	Version        uint64    `ch:"version"`
}

// ValueRecord is a named business measure of a product for a period
// (revenue, cost, usage index, market share, …).
type ValueRecord struct {
	Product     string    `ch:"product"`
	Measure     string    `ch:"measure"`
	PeriodStart time.Time `ch:"period_start"`
	PeriodEnd   time.Time `ch:"period_end"`
	Value       float64   `ch:"value"`
	Unit        string    `ch:"unit"`
	Source      string    `ch:"source"`
	Version     uint64    `ch:"version"`
}

// Goal levels of Evidence-Based Management.
const (
	GoalStrategic    = "strategic"
	GoalIntermediate = "intermediate"
	GoalTactical     = "tactical"
)

// Goal is an EBM goal tied to a measure: a Strategic Goal, an Intermediate
// Goal or an Immediate Tactical Goal, with its parent in the tree.
type Goal struct {
	ID           string    `json:"id" ch:"goal_id"`
	ParentID     string    `json:"parent_id" ch:"parent_id"`
	Level        string    `json:"level" ch:"level"`
	Title        string    `json:"title" ch:"title"`
	KVA          string    `json:"kva" ch:"kva"`
	Product      string    `json:"product" ch:"product"`
	Measure      string    `json:"measure" ch:"measure"`
	Baseline     float64   `json:"baseline" ch:"baseline"`
	Target       float64   `json:"target" ch:"target"`
	BaselineDate time.Time `json:"baseline_date" ch:"baseline_date"`
	TargetDate   time.Time `json:"target_date" ch:"target_date"`
	CreatedAt    time.Time `json:"created_at" ch:"created_at"`
	Deleted      uint8     `json:"-" ch:"deleted"`
	Version      uint64    `json:"-" ch:"version"`
}

// Experiment is a hypothesis about moving a measure, tried over a period.
type Experiment struct {
	ID             string     `json:"id" ch:"experiment_id"`
	GoalID         string     `json:"goal_id" ch:"goal_id"`
	Title          string     `json:"title" ch:"title"`
	Hypothesis     string     `json:"hypothesis" ch:"hypothesis"`
	Product        string     `json:"product" ch:"product"`
	Measure        string     `json:"measure" ch:"measure"`
	ExpectedChange float64    `json:"expected_change" ch:"expected_change"`
	StartedAt      time.Time  `json:"started_at" ch:"started_at"`
	EndedAt        *time.Time `json:"ended_at" ch:"ended_at"`
	CreatedAt      time.Time  `json:"created_at" ch:"created_at"`
	Deleted        uint8      `json:"-" ch:"deleted"`
	Version        uint64     `json:"-" ch:"version"`
}

// Annotation is a dated note on the evidence of a product ("" for all):
// a team change, a process change, a release. Charts show it; process
// behaviour limits start again from it.
type Annotation struct {
	ID        string    `json:"id" ch:"annotation_id"`
	Product   string    `json:"product" ch:"product"`
	At        time.Time `json:"at" ch:"at"`
	Text      string    `json:"text" ch:"text"`
	CreatedAt time.Time `json:"created_at" ch:"created_at"`
	Deleted   uint8     `json:"-" ch:"deleted"`
	Version   uint64    `json:"-" ch:"version"`
}

// BacklogFacts are an issue's WSJF inputs and whether it states acceptance
// criteria, for backlog health.
type BacklogFacts struct {
	Site            string   `ch:"site"`
	IssueID         uint64   `ch:"issue_id"`
	TimeCriticality *float64 `ch:"time_criticality"`
	RiskReduction   *float64 `ch:"risk_reduction"`
	JobSize         *float64 `ch:"job_size"`
	HasAcceptance   uint8    `ch:"has_acceptance"`
	Version         uint64   `ch:"version"`
}

// ImportResult says what an import of a file did: rows read, rows new,
// rows already there.
type ImportResult struct {
	Rows      int `json:"rows"`
	New       int `json:"new"`
	Unchanged int `json:"unchanged"`
}

// EpicTypes are the issue types that group other issues' work (Jira's
// hierarchy level 1 and above): their parent is an initiative, never an
// epic of their own, and the flow measures leave them out by default.
var EpicTypes = []string{"Epic", "Initiative", "Theme", "Portfolio Epic"}
