-- Backlog evidence per issue: the WSJF inputs (Cost of Delay parts and job
-- size) and whether the issue states acceptance criteria. A table of its
-- own, not new columns: ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS,
-- and every migration must be safe to run twice.

CREATE TABLE IF NOT EXISTS issue_backlog {{on_cluster}} (
    site String,
    issue_id UInt64,
    time_criticality Nullable(Float64),
    risk_reduction Nullable(Float64),
    job_size Nullable(Float64),
    has_acceptance UInt8,
    version UInt64
) ENGINE = {{replacing "issue_backlog"}}
ORDER BY (site, issue_id);
