-- A daily picture of each backlog's DEEP shares, taken after every sync:
-- Jira's changelog says only "Ranked higher", so the top N of a past day
-- cannot be replayed; the trend grows from the snapshots instead.

CREATE TABLE IF NOT EXISTS backlog_snapshots {{on_cluster}} (
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
) ENGINE = {{replacing "backlog_snapshots"}}
ORDER BY (site, project_key, taken_on);
