-- jira
CREATE TABLE IF NOT EXISTS sites  (
    site String,
    url String,
    deployment_type String,
    time_zone String,
    field_ids String,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY site;

-- jira
CREATE TABLE IF NOT EXISTS projects  (
    site String,
    project_id UInt64,
    project_key String,
    name String,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (site, project_id);

-- jira
CREATE TABLE IF NOT EXISTS statuses  (
    site String,
    status_id String,
    name String,
    category String,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (site, status_id);

-- jira
CREATE TABLE IF NOT EXISTS raw_issues  (
    site String,
    issue_id UInt64,
    issue_key String,
    project_key String,
    updated_at DateTime('UTC'),
    json String,
    content_hash UInt64,
    deleted UInt8,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (site, issue_id);

-- jira
CREATE TABLE IF NOT EXISTS issues  (
    site String,
    issue_id UInt64,
    issue_key String,
    project_key String,
    issue_type String,
    work_category String,
    summary String,
    status_id String,
    status_name String,
    status_category String,
    priority String,
    labels Array(String),
    components Array(String),
    fix_versions Array(String),
    parent_key String,
    epic_key String,
    story_points Nullable(Float64),
    business_value Nullable(Float64),
    sprint_ids Array(UInt64),
    rank String,
    has_description UInt8,
    created_at DateTime('UTC'),
    updated_at DateTime('UTC'),
    started_at Nullable(DateTime('UTC')),
    done_at Nullable(DateTime('UTC')),
    resolved_at Nullable(DateTime('UTC')),
    deleted UInt8,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (site, issue_id);

-- jira
CREATE TABLE IF NOT EXISTS status_transitions  (
    site String,
    issue_id UInt64,
    history_id UInt64,
    item_index UInt16,
    issue_key String,
    project_key String,
    changed_at DateTime('UTC'),
    from_status_id String,
    to_status_id String,
    from_status String,
    to_status String,
    from_category String,
    to_category String,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (site, issue_id, history_id, item_index);

-- jira
CREATE TABLE IF NOT EXISTS sprint_changes  (
    site String,
    issue_id UInt64,
    history_id UInt64,
    sprint_id UInt64,
    issue_key String,
    project_key String,
    changed_at DateTime('UTC'),
    added UInt8,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (site, issue_id, history_id, sprint_id);

-- jira
CREATE TABLE IF NOT EXISTS field_changes  (
    site String,
    issue_id UInt64,
    history_id UInt64,
    item_index UInt16,
    issue_key String,
    changed_at DateTime('UTC'),
    field String,
    field_id String,
    from_value String,
    from_string String,
    to_value String,
    to_string String,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (site, issue_id, history_id, item_index);

-- jira
CREATE TABLE IF NOT EXISTS boards  (
    site String,
    board_id UInt64,
    name String,
    type String,
    project_key String,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (site, board_id);

-- jira
CREATE TABLE IF NOT EXISTS sprints  (
    site String,
    sprint_id UInt64,
    board_id UInt64,
    name String,
    state String,
    start_at Nullable(DateTime('UTC')),
    end_at Nullable(DateTime('UTC')),
    complete_at Nullable(DateTime('UTC')),
    goal String,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (site, sprint_id);

-- jira
CREATE TABLE IF NOT EXISTS releases  (
    site String,
    version_id UInt64,
    project_key String,
    name String,
    released UInt8,
    archived UInt8,
    release_date Nullable(Date),
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (site, version_id);

-- sync
CREATE TABLE IF NOT EXISTS sync_checkpoints  (
    site String,
    scope String,
    checkpoint DateTime('UTC'),
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (site, scope);

-- sync
CREATE TABLE IF NOT EXISTS sync_runs  (
    site String,
    run_id String,
    started_at DateTime('UTC'),
    finished_at DateTime('UTC'),
    mode String,
    status String,
    error String,
    issues_fetched UInt64,
    issues_new UInt64,
    issues_changed UInt64,
    issues_deleted UInt64,
    requests UInt64,
    retries UInt64,
    problems UInt64
) ENGINE = MergeTree()
ORDER BY (site, started_at, run_id);

-- sync
CREATE TABLE IF NOT EXISTS sync_problems  (
    site String,
    run_id String,
    issue_key String,
    field String,
    message String,
    seen_at DateTime('UTC')
) ENGINE = MergeTree()
ORDER BY (site, seen_at, issue_key);

-- evidence
CREATE TABLE IF NOT EXISTS satisfaction_responses  (
    response_id String,
    responded_at DateTime('UTC'),
    scale String,
    score Int16,
    product String,
    respondent_hash String,
    comment String,
    source String,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (product, scale, response_id);

-- evidence
CREATE TABLE IF NOT EXISTS value_records  (
    product String,
    measure String,
    period_start Date,
    period_end Date,
    value Float64,
    unit String,
    source String,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (product, measure, period_start, period_end);

-- evidence
CREATE TABLE IF NOT EXISTS goals  (
    goal_id String,
    parent_id String,
    level String,
    title String,
    kva String,
    product String,
    measure String,
    baseline Float64,
    target Float64,
    baseline_date Date,
    target_date Date,
    created_at DateTime('UTC'),
    deleted UInt8,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY goal_id;

-- evidence
CREATE TABLE IF NOT EXISTS experiments  (
    experiment_id String,
    goal_id String,
    title String,
    hypothesis String,
    product String,
    measure String,
    expected_change Float64,
    started_at Date,
    ended_at Nullable(Date),
    created_at DateTime('UTC'),
    deleted UInt8,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY experiment_id;

-- backlog
CREATE TABLE IF NOT EXISTS issue_backlog  (
    site String,
    issue_id UInt64,
    time_criticality Nullable(Float64),
    risk_reduction Nullable(Float64),
    job_size Nullable(Float64),
    has_acceptance UInt8,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (site, issue_id);

-- backlog_snapshots
CREATE TABLE IF NOT EXISTS backlog_snapshots  (
    site String,
    project_key String,
    taken_on Date,
    top_n UInt16,
    open_items UInt32,
    top_estimated Nullable(Float64),
    top_detailed Nullable(Float64),
    all_estimated Nullable(Float64),
    ready_points Float64,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (site, project_key, taken_on);

-- current
CREATE TABLE IF NOT EXISTS derived_generations  (
    gen UInt64,
    sites Array(String),
    site_versions Array(UInt64),
    built_at DateTime('UTC'),
    seconds Float64,
    issues UInt64,
    transitions UInt64
) ENGINE = MergeTree()
ORDER BY gen;

-- current
CREATE TABLE IF NOT EXISTS issues_current  (
    gen UInt64,
    site String,
    issue_id UInt64,
    issue_key String,
    project_key String,
    issue_type String,
    work_category String,
    summary String,
    status_id String,
    status_name String,
    status_category String,
    priority String,
    labels Array(String),
    components Array(String),
    fix_versions Array(String),
    parent_key String,
    epic_key String,
    story_points Nullable(Float64),
    business_value Nullable(Float64),
    sprint_ids Array(UInt64),
    rank String,
    has_description UInt8,
    created_at DateTime('UTC'),
    updated_at DateTime('UTC'),
    started_at Nullable(DateTime('UTC')),
    done_at Nullable(DateTime('UTC')),
    resolved_at Nullable(DateTime('UTC')),
    deleted UInt8,
    version UInt64,
    initial_status String,
    initial_category String,
    history_at Array(DateTime('UTC')),
    history_id Array(UInt64),
    history_from_status Array(String),
    history_to_status Array(String),
    history_to_status_id Array(String),
    history_from_category Array(String),
    history_to_category Array(String),
    time_criticality Nullable(Float64),
    risk_reduction Nullable(Float64),
    job_size Nullable(Float64),
    has_acceptance UInt8
) ENGINE = MergeTree()
PARTITION BY gen
ORDER BY (site, project_key, issue_id);

-- current
CREATE TABLE IF NOT EXISTS cfd_daily  (
    gen UInt64,
    site String,
    project_key String,
    issue_type String,
    work_category String,
    kind String,
    day Date,
    state String,
    delta Int64
) ENGINE = MergeTree()
PARTITION BY gen
ORDER BY (site, project_key, kind, day, state);

-- current
CREATE TABLE IF NOT EXISTS status_stays  (
    gen UInt64,
    site String,
    project_key String,
    issue_type String,
    work_category String,
    day Date,
    status String,
    category String,
    visits UInt64,
    seconds_total Int64,
    seconds Array(Int64)
) ENGINE = MergeTree()
PARTITION BY gen
ORDER BY (site, project_key, day, status);

-- current
CREATE TABLE IF NOT EXISTS status_usage  (
    gen UInt64,
    site String,
    status_id String,
    status String,
    uses UInt64
) ENGINE = MergeTree()
PARTITION BY gen
ORDER BY (site, status_id, status);

-- current
CREATE TABLE IF NOT EXISTS refinement_days  (
    gen UInt64,
    site String,
    project_key String,
    issue_type String,
    work_category String,
    issue_id UInt64,
    day Date
) ENGINE = MergeTree()
PARTITION BY gen
ORDER BY (site, project_key, day, issue_id);

-- current
CREATE TABLE IF NOT EXISTS sprint_members  (
    gen UInt64,
    site String,
    sprint_id UInt64,
    issue_id UInt64,
    issue_key String,
    status_category String,
    story_points Nullable(Float64),
    created_at DateTime('UTC'),
    event_at Array(DateTime('UTC')),
    event_history Array(UInt64),
    event_added Array(UInt8),
    history_at Array(DateTime('UTC')),
    history_id Array(UInt64),
    history_from_category Array(String),
    history_to_category Array(String)
) ENGINE = MergeTree()
PARTITION BY gen
ORDER BY (site, sprint_id, issue_id);

-- timelines
CREATE TABLE IF NOT EXISTS issue_timelines  (
    site String,
    issue_id UInt64,
    initial_status_id String,
    initial_status String,
    initial_category String,
    history_at Array(DateTime('UTC')),
    history_id Array(UInt64),
    history_from_status Array(String),
    history_to_status Array(String),
    history_to_status_id Array(String),
    history_from_category Array(String),
    history_to_category Array(String),
    findings Array(String),
    finding_notes Array(String),
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (site, issue_id);

-- timelines
CREATE TABLE IF NOT EXISTS skipped_issues  (
    site String,
    issue_key String,
    issue_id UInt64,
    reason String,
    seen_at DateTime('UTC'),
    skipped UInt8,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (site, issue_key);

-- timelines
ALTER TABLE issues_current  ADD COLUMN findings Array(String);

-- timelines
ALTER TABLE issues_current  ADD COLUMN finding_notes Array(String);

-- annotations
CREATE TABLE IF NOT EXISTS annotations  (
    annotation_id String,
    product String,
    at Date,
    text String,
    created_at DateTime('UTC'),
    deleted UInt8,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY annotation_id;

-- forecast_log
CREATE TABLE IF NOT EXISTS forecast_log  (
    forecast_id String,
    kind String,
    project String,
    types String,
    made_on Date,
    history_days UInt16,
    until Date,
    items UInt32,
    p50 Float64,
    p85 Float64,
    p95 Float64,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY forecast_id;

-- due_date
ALTER TABLE issues  ADD COLUMN due_date Nullable(Date) AFTER resolved_at;

-- due_date
ALTER TABLE issues_current  ADD COLUMN due_date Nullable(Date) AFTER resolved_at;

-- board_config
CREATE TABLE IF NOT EXISTS board_config  (
    site String,
    board_id UInt64,
    column_names Array(String),
    column_statuses Array(Array(String)),
    column_min Array(Int32),
    column_max Array(Int32),
    constraint_type String,
    estimation_field String,
    filter_id String,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (site, board_id);

-- impediments
ALTER TABLE issues  ADD COLUMN flagged UInt8 AFTER due_date;

-- impediments
ALTER TABLE issues  ADD COLUMN blocked_by Array(String) AFTER flagged;

-- impediments
ALTER TABLE issues  ADD COLUMN blocked_by_open Array(UInt8) AFTER blocked_by;

-- impediments
ALTER TABLE issues_current  ADD COLUMN flagged UInt8 AFTER due_date;

-- impediments
ALTER TABLE issues_current  ADD COLUMN blocked_by Array(String) AFTER flagged;

-- impediments
ALTER TABLE issues_current  ADD COLUMN blocked_by_open Array(UInt8) AFTER blocked_by;

-- site_cycles
ALTER TABLE sites  ADD COLUMN cycles String;

-- initial_status_id
ALTER TABLE issues_current  ADD COLUMN initial_status_id String;

-- board_projects
CREATE TABLE IF NOT EXISTS board_projects  (
    site String,
    board_id UInt64,
    name String,
    type String,
    project_key String,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (site, board_id, project_key);

-- read_model_pieces
ALTER TABLE derived_generations  ADD COLUMN pieces Array(UInt64);

-- read_model_pieces
ALTER TABLE derived_generations  ADD COLUMN bounds Array(UInt64);

-- generation_changes
ALTER TABLE derived_generations  ADD COLUMN base UInt64;

-- generation_changes
ALTER TABLE derived_generations  ADD COLUMN changed Array(String);

-- done_daily
CREATE TABLE IF NOT EXISTS done_daily  (
    gen UInt64,
    site String,
    project_key String,
    issue_type String,
    work_category String,
    day Date,
    done UInt64
) ENGINE = MergeTree()
PARTITION BY gen
ORDER BY (site, project_key, day);

-- issues_open
CREATE TABLE IF NOT EXISTS issues_open  (
    gen UInt64,
    site String,
    issue_id UInt64,
    issue_key String,
    project_key String,
    issue_type String,
    work_category String,
    summary String,
    status_id String,
    status_name String,
    status_category String,
    priority String,
    labels Array(String),
    components Array(String),
    fix_versions Array(String),
    parent_key String,
    epic_key String,
    story_points Nullable(Float64),
    business_value Nullable(Float64),
    sprint_ids Array(UInt64),
    rank String,
    has_description UInt8,
    created_at DateTime('UTC'),
    updated_at DateTime('UTC'),
    started_at Nullable(DateTime('UTC')),
    done_at Nullable(DateTime('UTC')),
    resolved_at Nullable(DateTime('UTC')),
    due_date Nullable(Date),
    flagged UInt8,
    blocked_by Array(String),
    blocked_by_open Array(UInt8),
    deleted UInt8,
    version UInt64,
    initial_status String,
    initial_category String,
    history_at Array(DateTime('UTC')),
    history_id Array(UInt64),
    history_from_status Array(String),
    history_to_status Array(String),
    history_to_status_id Array(String),
    history_from_category Array(String),
    history_to_category Array(String),
    time_criticality Nullable(Float64),
    risk_reduction Nullable(Float64),
    job_size Nullable(Float64),
    has_acceptance UInt8,
    findings Array(String),
    finding_notes Array(String),
    initial_status_id String
) ENGINE = MergeTree()
PARTITION BY gen
ORDER BY (site, project_key, issue_id);

-- issues_open
ALTER TABLE derived_generations  ADD COLUMN format UInt32;

-- issues_done
CREATE TABLE IF NOT EXISTS issues_done  (
    gen UInt64,
    site String,
    issue_id UInt64,
    issue_key String,
    project_key String,
    issue_type String,
    work_category String,
    summary String,
    status_id String,
    status_name String,
    status_category String,
    priority String,
    labels Array(String),
    components Array(String),
    fix_versions Array(String),
    parent_key String,
    epic_key String,
    story_points Nullable(Float64),
    business_value Nullable(Float64),
    sprint_ids Array(UInt64),
    rank String,
    has_description UInt8,
    created_at DateTime('UTC'),
    updated_at DateTime('UTC'),
    started_at Nullable(DateTime('UTC')),
    done_at Nullable(DateTime('UTC')),
    resolved_at Nullable(DateTime('UTC')),
    due_date Nullable(Date),
    flagged UInt8,
    blocked_by Array(String),
    blocked_by_open Array(UInt8),
    deleted UInt8,
    version UInt64,
    initial_status String,
    initial_category String,
    history_at Array(DateTime('UTC')),
    history_id Array(UInt64),
    history_from_status Array(String),
    history_to_status Array(String),
    history_to_status_id Array(String),
    history_from_category Array(String),
    history_to_category Array(String),
    time_criticality Nullable(Float64),
    risk_reduction Nullable(Float64),
    job_size Nullable(Float64),
    has_acceptance UInt8,
    findings Array(String),
    finding_notes Array(String),
    initial_status_id String
) ENGINE = MergeTree()
PARTITION BY gen
ORDER BY (site, project_key, assumeNotNull(done_at));

-- done_times
CREATE TABLE IF NOT EXISTS done_times  (
    gen UInt64,
    site String,
    project_key String,
    issue_type String,
    work_category String,
    day Date,
    leads Array(Int64),
    cycles Array(Int64),
    resolved_before_created UInt64,
    change_before_created UInt64,
    done_before_started UInt64,
    reopened UInt64,
    moved_back UInt64
) ENGINE = MergeTree()
PARTITION BY gen
ORDER BY (site, project_key, day);

