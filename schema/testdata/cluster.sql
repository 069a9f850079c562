-- jira
CREATE TABLE IF NOT EXISTS sites ON CLUSTER `prod` (
    site String,
    url String,
    deployment_type String,
    time_zone String,
    field_ids String,
    version UInt64
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/evident.sites', '{replica}', version)
ORDER BY site;

-- jira
CREATE TABLE IF NOT EXISTS projects ON CLUSTER `prod` (
    site String,
    project_id UInt64,
    project_key String,
    name String,
    version UInt64
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/evident.projects', '{replica}', version)
ORDER BY (site, project_id);

-- jira
CREATE TABLE IF NOT EXISTS statuses ON CLUSTER `prod` (
    site String,
    status_id String,
    name String,
    category String,
    version UInt64
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/evident.statuses', '{replica}', version)
ORDER BY (site, status_id);

-- jira
CREATE TABLE IF NOT EXISTS raw_issues ON CLUSTER `prod` (
    site String,
    issue_id UInt64,
    issue_key String,
    project_key String,
    updated_at DateTime('UTC'),
    json String,
    content_hash UInt64,
    deleted UInt8,
    version UInt64
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/evident.raw_issues', '{replica}', version)
ORDER BY (site, issue_id);

-- jira
CREATE TABLE IF NOT EXISTS issues ON CLUSTER `prod` (
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
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/evident.issues', '{replica}', version)
ORDER BY (site, issue_id);

-- jira
CREATE TABLE IF NOT EXISTS status_transitions ON CLUSTER `prod` (
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
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/evident.status_transitions', '{replica}', version)
ORDER BY (site, issue_id, history_id, item_index);

-- jira
CREATE TABLE IF NOT EXISTS sprint_changes ON CLUSTER `prod` (
    site String,
    issue_id UInt64,
    history_id UInt64,
    sprint_id UInt64,
    issue_key String,
    project_key String,
    changed_at DateTime('UTC'),
    added UInt8,
    version UInt64
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/evident.sprint_changes', '{replica}', version)
ORDER BY (site, issue_id, history_id, sprint_id);

-- jira
CREATE TABLE IF NOT EXISTS field_changes ON CLUSTER `prod` (
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
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/evident.field_changes', '{replica}', version)
ORDER BY (site, issue_id, history_id, item_index);

-- jira
CREATE TABLE IF NOT EXISTS boards ON CLUSTER `prod` (
    site String,
    board_id UInt64,
    name String,
    type String,
    project_key String,
    version UInt64
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/evident.boards', '{replica}', version)
ORDER BY (site, board_id);

-- jira
CREATE TABLE IF NOT EXISTS sprints ON CLUSTER `prod` (
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
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/evident.sprints', '{replica}', version)
ORDER BY (site, sprint_id);

-- jira
CREATE TABLE IF NOT EXISTS releases ON CLUSTER `prod` (
    site String,
    version_id UInt64,
    project_key String,
    name String,
    released UInt8,
    archived UInt8,
    release_date Nullable(Date),
    version UInt64
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/evident.releases', '{replica}', version)
ORDER BY (site, version_id);

-- sync
CREATE TABLE IF NOT EXISTS sync_checkpoints ON CLUSTER `prod` (
    site String,
    scope String,
    checkpoint DateTime('UTC'),
    version UInt64
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/evident.sync_checkpoints', '{replica}', version)
ORDER BY (site, scope);

-- sync
CREATE TABLE IF NOT EXISTS sync_runs ON CLUSTER `prod` (
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
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/evident.sync_runs', '{replica}')
ORDER BY (site, started_at, run_id);

-- sync
CREATE TABLE IF NOT EXISTS sync_problems ON CLUSTER `prod` (
    site String,
    run_id String,
    issue_key String,
    field String,
    message String,
    seen_at DateTime('UTC')
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/evident.sync_problems', '{replica}')
ORDER BY (site, seen_at, issue_key);

-- evidence
CREATE TABLE IF NOT EXISTS satisfaction_responses ON CLUSTER `prod` (
    response_id String,
    responded_at DateTime('UTC'),
    scale String,
    score Int16,
    product String,
    respondent_hash String,
    comment String,
    source String,
    version UInt64
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/evident.satisfaction_responses', '{replica}', version)
ORDER BY (product, scale, response_id);

-- evidence
CREATE TABLE IF NOT EXISTS value_records ON CLUSTER `prod` (
    product String,
    measure String,
    period_start Date,
    period_end Date,
    value Float64,
    unit String,
    source String,
    version UInt64
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/evident.value_records', '{replica}', version)
ORDER BY (product, measure, period_start, period_end);

-- evidence
CREATE TABLE IF NOT EXISTS goals ON CLUSTER `prod` (
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
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/evident.goals', '{replica}', version)
ORDER BY goal_id;

-- evidence
CREATE TABLE IF NOT EXISTS experiments ON CLUSTER `prod` (
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
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/evident.experiments', '{replica}', version)
ORDER BY experiment_id;

-- backlog
CREATE TABLE IF NOT EXISTS issue_backlog ON CLUSTER `prod` (
    site String,
    issue_id UInt64,
    time_criticality Nullable(Float64),
    risk_reduction Nullable(Float64),
    job_size Nullable(Float64),
    has_acceptance UInt8,
    version UInt64
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/evident.issue_backlog', '{replica}', version)
ORDER BY (site, issue_id);

-- backlog_snapshots
CREATE TABLE IF NOT EXISTS backlog_snapshots ON CLUSTER `prod` (
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
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/evident.backlog_snapshots', '{replica}', version)
ORDER BY (site, project_key, taken_on);

-- current
CREATE TABLE IF NOT EXISTS derived_generations ON CLUSTER `prod` (
    gen UInt64,
    sites Array(String),
    site_versions Array(UInt64),
    built_at DateTime('UTC'),
    seconds Float64,
    issues UInt64,
    transitions UInt64
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/evident.derived_generations', '{replica}')
ORDER BY gen;

-- current
CREATE TABLE IF NOT EXISTS issues_current ON CLUSTER `prod` (
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
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/evident.issues_current', '{replica}')
PARTITION BY gen
ORDER BY (site, project_key, issue_id);

-- current
CREATE TABLE IF NOT EXISTS cfd_daily ON CLUSTER `prod` (
    gen UInt64,
    site String,
    project_key String,
    issue_type String,
    work_category String,
    kind String,
    day Date,
    state String,
    delta Int64
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/evident.cfd_daily', '{replica}')
PARTITION BY gen
ORDER BY (site, project_key, kind, day, state);

-- current
CREATE TABLE IF NOT EXISTS status_stays ON CLUSTER `prod` (
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
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/evident.status_stays', '{replica}')
PARTITION BY gen
ORDER BY (site, project_key, day, status);

-- current
CREATE TABLE IF NOT EXISTS status_usage ON CLUSTER `prod` (
    gen UInt64,
    site String,
    status_id String,
    status String,
    uses UInt64
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/evident.status_usage', '{replica}')
PARTITION BY gen
ORDER BY (site, status_id, status);

-- current
CREATE TABLE IF NOT EXISTS refinement_days ON CLUSTER `prod` (
    gen UInt64,
    site String,
    project_key String,
    issue_type String,
    work_category String,
    issue_id UInt64,
    day Date
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/evident.refinement_days', '{replica}')
PARTITION BY gen
ORDER BY (site, project_key, day, issue_id);

-- current
CREATE TABLE IF NOT EXISTS sprint_members ON CLUSTER `prod` (
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
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/evident.sprint_members', '{replica}')
PARTITION BY gen
ORDER BY (site, sprint_id, issue_id);

-- timelines
CREATE TABLE IF NOT EXISTS issue_timelines ON CLUSTER `prod` (
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
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/evident.issue_timelines', '{replica}', version)
ORDER BY (site, issue_id);

-- timelines
CREATE TABLE IF NOT EXISTS skipped_issues ON CLUSTER `prod` (
    site String,
    issue_key String,
    issue_id UInt64,
    reason String,
    seen_at DateTime('UTC'),
    skipped UInt8,
    version UInt64
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/evident.skipped_issues', '{replica}', version)
ORDER BY (site, issue_key);

-- timelines
ALTER TABLE issues_current ON CLUSTER `prod` ADD COLUMN findings Array(String);

-- timelines
ALTER TABLE issues_current ON CLUSTER `prod` ADD COLUMN finding_notes Array(String);

-- annotations
CREATE TABLE IF NOT EXISTS annotations ON CLUSTER `prod` (
    annotation_id String,
    product String,
    at Date,
    text String,
    created_at DateTime('UTC'),
    deleted UInt8,
    version UInt64
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/evident.annotations', '{replica}', version)
ORDER BY annotation_id;

-- forecast_log
CREATE TABLE IF NOT EXISTS forecast_log ON CLUSTER `prod` (
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
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/evident.forecast_log', '{replica}', version)
ORDER BY forecast_id;

-- due_date
ALTER TABLE issues ON CLUSTER `prod` ADD COLUMN due_date Nullable(Date) AFTER resolved_at;

-- due_date
ALTER TABLE issues_current ON CLUSTER `prod` ADD COLUMN due_date Nullable(Date) AFTER resolved_at;

-- board_config
CREATE TABLE IF NOT EXISTS board_config ON CLUSTER `prod` (
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
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/evident.board_config', '{replica}', version)
ORDER BY (site, board_id);

-- impediments
ALTER TABLE issues ON CLUSTER `prod` ADD COLUMN flagged UInt8 AFTER due_date;

-- impediments
ALTER TABLE issues ON CLUSTER `prod` ADD COLUMN blocked_by Array(String) AFTER flagged;

-- impediments
ALTER TABLE issues ON CLUSTER `prod` ADD COLUMN blocked_by_open Array(UInt8) AFTER blocked_by;

-- impediments
ALTER TABLE issues_current ON CLUSTER `prod` ADD COLUMN flagged UInt8 AFTER due_date;

-- impediments
ALTER TABLE issues_current ON CLUSTER `prod` ADD COLUMN blocked_by Array(String) AFTER flagged;

-- impediments
ALTER TABLE issues_current ON CLUSTER `prod` ADD COLUMN blocked_by_open Array(UInt8) AFTER blocked_by;

-- site_cycles
ALTER TABLE sites ON CLUSTER `prod` ADD COLUMN cycles String;

-- initial_status_id
ALTER TABLE issues_current ON CLUSTER `prod` ADD COLUMN initial_status_id String;

-- board_projects
CREATE TABLE IF NOT EXISTS board_projects ON CLUSTER `prod` (
    site String,
    board_id UInt64,
    name String,
    type String,
    project_key String,
    version UInt64
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/evident.board_projects', '{replica}', version)
ORDER BY (site, board_id, project_key);

-- read_model_pieces
ALTER TABLE derived_generations ON CLUSTER `prod` ADD COLUMN pieces Array(UInt64);

-- read_model_pieces
ALTER TABLE derived_generations ON CLUSTER `prod` ADD COLUMN bounds Array(UInt64);

-- generation_changes
ALTER TABLE derived_generations ON CLUSTER `prod` ADD COLUMN base UInt64;

-- generation_changes
ALTER TABLE derived_generations ON CLUSTER `prod` ADD COLUMN changed Array(String);

-- done_daily
CREATE TABLE IF NOT EXISTS done_daily ON CLUSTER `prod` (
    gen UInt64,
    site String,
    project_key String,
    issue_type String,
    work_category String,
    day Date,
    done UInt64
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/evident.done_daily', '{replica}')
PARTITION BY gen
ORDER BY (site, project_key, day);

-- issues_open
CREATE TABLE IF NOT EXISTS issues_open ON CLUSTER `prod` (
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
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/evident.issues_open', '{replica}')
PARTITION BY gen
ORDER BY (site, project_key, issue_id);

-- issues_open
ALTER TABLE derived_generations ON CLUSTER `prod` ADD COLUMN format UInt32;

-- issues_done
CREATE TABLE IF NOT EXISTS issues_done ON CLUSTER `prod` (
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
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/evident.issues_done', '{replica}')
PARTITION BY gen
ORDER BY (site, project_key, assumeNotNull(done_at));

-- done_times
CREATE TABLE IF NOT EXISTS done_times ON CLUSTER `prod` (
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
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/evident.done_times', '{replica}')
PARTITION BY gen
ORDER BY (site, project_key, day);

