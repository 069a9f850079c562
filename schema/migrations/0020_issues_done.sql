-- The issues done (with a completion) of each piece, with every column of
-- issues_current, in order of completion within each project: the reads
-- of the issues done in a range (lead and cycle time, throughput, the
-- scatterplot, value, quality, the EBM measures) take the range's
-- granules from here where they took every issue of the project from
-- issues_current. Their conditions on done_at are written on
-- assumeNotNull(done_at), the sorting key (a key cannot be Nullable). A
-- generation records in format that its pieces all have these rows;
-- readers of an earlier generation read issues_current
-- (schema.DoneIssues).
CREATE TABLE IF NOT EXISTS issues_done {{on_cluster}} (
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
) ENGINE = {{mergetree "issues_done"}}
PARTITION BY gen
ORDER BY (site, project_key, assumeNotNull(done_at));
