-- Jira data. Every table that a re-sync rewrites is a ReplacingMergeTree
-- keyed by the natural ids, with `version` (the sync run's time in
-- nanoseconds) deciding which copy survives a merge; exact reads use FINAL.

CREATE TABLE IF NOT EXISTS sites {{on_cluster}} (
    site String,
    url String,
    deployment_type String,
    time_zone String,
    field_ids String,
    version UInt64
) ENGINE = {{replacing "sites"}}
ORDER BY site;

CREATE TABLE IF NOT EXISTS projects {{on_cluster}} (
    site String,
    project_id UInt64,
    project_key String,
    name String,
    version UInt64
) ENGINE = {{replacing "projects"}}
ORDER BY (site, project_id);

CREATE TABLE IF NOT EXISTS statuses {{on_cluster}} (
    site String,
    status_id String,
    name String,
    category String,
    version UInt64
) ENGINE = {{replacing "statuses"}}
ORDER BY (site, status_id);

CREATE TABLE IF NOT EXISTS raw_issues {{on_cluster}} (
    site String,
    issue_id UInt64,
    issue_key String,
    project_key String,
    updated_at DateTime('UTC'),
    json String,
    content_hash UInt64,
    deleted UInt8,
    version UInt64
) ENGINE = {{replacing "raw_issues"}}
ORDER BY (site, issue_id);

CREATE TABLE IF NOT EXISTS issues {{on_cluster}} (
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
) ENGINE = {{replacing "issues"}}
ORDER BY (site, issue_id);

CREATE TABLE IF NOT EXISTS status_transitions {{on_cluster}} (
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
) ENGINE = {{replacing "status_transitions"}}
ORDER BY (site, issue_id, history_id, item_index);

CREATE TABLE IF NOT EXISTS sprint_changes {{on_cluster}} (
    site String,
    issue_id UInt64,
    history_id UInt64,
    sprint_id UInt64,
    issue_key String,
    project_key String,
    changed_at DateTime('UTC'),
    added UInt8,
    version UInt64
) ENGINE = {{replacing "sprint_changes"}}
ORDER BY (site, issue_id, history_id, sprint_id);

CREATE TABLE IF NOT EXISTS field_changes {{on_cluster}} (
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
) ENGINE = {{replacing "field_changes"}}
ORDER BY (site, issue_id, history_id, item_index);

CREATE TABLE IF NOT EXISTS boards {{on_cluster}} (
    site String,
    board_id UInt64,
    name String,
    type String,
    project_key String,
    version UInt64
) ENGINE = {{replacing "boards"}}
ORDER BY (site, board_id);

CREATE TABLE IF NOT EXISTS sprints {{on_cluster}} (
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
) ENGINE = {{replacing "sprints"}}
ORDER BY (site, sprint_id);

CREATE TABLE IF NOT EXISTS releases {{on_cluster}} (
    site String,
    version_id UInt64,
    project_key String,
    name String,
    released UInt8,
    archived UInt8,
    release_date Nullable(Date),
    version UInt64
) ENGINE = {{replacing "releases"}}
ORDER BY (site, version_id);
