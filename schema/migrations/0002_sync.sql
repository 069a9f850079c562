-- Bookkeeping of the collector: where the next incremental run starts, what
-- each run did, and the bad input it stepped over.

CREATE TABLE IF NOT EXISTS sync_checkpoints {{on_cluster}} (
    site String,
    scope String,
    checkpoint DateTime('UTC'),
    version UInt64
) ENGINE = {{replacing "sync_checkpoints"}}
ORDER BY (site, scope);

CREATE TABLE IF NOT EXISTS sync_runs {{on_cluster}} (
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
) ENGINE = {{mergetree "sync_runs"}}
ORDER BY (site, started_at, run_id);

CREATE TABLE IF NOT EXISTS sync_problems {{on_cluster}} (
    site String,
    run_id String,
    issue_key String,
    field String,
    message String,
    seen_at DateTime('UTC')
) ENGINE = {{mergetree "sync_problems"}}
ORDER BY (site, seen_at, issue_key);
