-- The read model: deduplicated copies of the Jira tables and aggregates
-- derived from them, rebuilt after every sync as a new generation (one
-- partition per table) and switched to by one row in derived_generations.
-- Reads of the ReplacingMergeTree tables need FINAL, which ClickHouse runs
-- in one stream (80 ms for 1M issues, 400 ms for 8M transitions on 18.16);
-- these tables are read without it, in parallel, and only for the
-- generation that readers see as complete: max(gen) of derived_generations.

CREATE TABLE IF NOT EXISTS derived_generations {{on_cluster}} (
    gen UInt64,
    sites Array(String),
    site_versions Array(UInt64),
    built_at DateTime('UTC'),
    seconds Float64,
    issues UInt64,
    transitions UInt64
) ENGINE = {{mergetree "derived_generations"}}
ORDER BY gen;

-- Live issues (deleted ones left out), the status each was created in and
-- its status transitions: one row per issue, so that the sprint replay,
-- the cumulative flow and time in status read no transition table.
CREATE TABLE IF NOT EXISTS issues_current {{on_cluster}} (
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
    -- the issue's status transitions in order, as parallel arrays
    history_at Array(DateTime('UTC')),
    history_id Array(UInt64),
    history_from_status Array(String),
    history_to_status Array(String),
    history_to_status_id Array(String),
    history_from_category Array(String),
    history_to_category Array(String),
    -- the backlog evidence of issue_backlog
    time_criticality Nullable(Float64),
    risk_reduction Nullable(Float64),
    job_size Nullable(Float64),
    has_acceptance UInt8
) ENGINE = {{mergetree "issues_current"}}
PARTITION BY gen
ORDER BY (site, project_key, issue_id);

-- Cumulative flow as daily changes: per day and state (a status category
-- when kind = 'category', a status name when kind = 'status'), how many
-- issues entered minus how many left.
CREATE TABLE IF NOT EXISTS cfd_daily {{on_cluster}} (
    gen UInt64,
    site String,
    project_key String,
    issue_type String,
    work_category String,
    kind String,
    day Date,
    state String,
    delta Int64
) ENGINE = {{mergetree "cfd_daily"}}
PARTITION BY gen
ORDER BY (site, project_key, kind, day, state);

-- Where the issues done on a day spent their time: per status, how many
-- stays (from entering the status, or creation, to leaving it), their sum
-- and every stay's length (for exact medians over any range of days).
CREATE TABLE IF NOT EXISTS status_stays {{on_cluster}} (
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
) ENGINE = {{mergetree "status_stays"}}
PARTITION BY gen
ORDER BY (site, project_key, day, status);

-- How often each status was entered, per site: the data health page's
-- transition counts and statuses Jira no longer lists.
CREATE TABLE IF NOT EXISTS status_usage {{on_cluster}} (
    gen UInt64,
    site String,
    status_id String,
    status String,
    uses UInt64
) ENGINE = {{mergetree "status_usage"}}
PARTITION BY gen
ORDER BY (site, status_id, status);

-- The days on which a live issue had a field change other than a rank
-- move: the backlog's refinement per period.
CREATE TABLE IF NOT EXISTS refinement_days {{on_cluster}} (
    gen UInt64,
    site String,
    project_key String,
    issue_type String,
    work_category String,
    issue_id UInt64,
    day Date
) ENGINE = {{mergetree "refinement_days"}}
PARTITION BY gen
ORDER BY (site, project_key, day, issue_id);

-- Each live issue once per sprint it ever was in, with its Sprint field
-- events for that sprint and its status category history: a board's
-- sprint replay reads the rows of its sprints only.
CREATE TABLE IF NOT EXISTS sprint_members {{on_cluster}} (
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
) ENGINE = {{mergetree "sprint_members"}}
PARTITION BY gen
ORDER BY (site, sprint_id, issue_id);
