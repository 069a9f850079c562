-- Each issue's status history as the collector replayed it (a consistent
-- timeline, docs/metrics.md) and the data quality findings of its
-- extraction: one row per issue, replaced whole by each sync of the issue,
-- so that the read model copies the history instead of replaying the
-- changelog a second time in SQL.

CREATE TABLE IF NOT EXISTS issue_timelines {{on_cluster}} (
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
    -- the codes of the checks the issue failed, and what exactly
    findings Array(String),
    finding_notes Array(String),
    version UInt64
) ENGINE = {{replacing "issue_timelines"}}
ORDER BY (site, issue_id);

-- Issues the collector could not store at all (no numeric id, no date
-- within 1970–2105), named with the reason on the data-health page;
-- skipped = 0 records that a later sync stored the issue after all.
CREATE TABLE IF NOT EXISTS skipped_issues {{on_cluster}} (
    site String,
    issue_key String,
    issue_id UInt64,
    reason String,
    seen_at DateTime('UTC'),
    skipped UInt8,
    version UInt64
) ENGINE = {{replacing "skipped_issues"}}
ORDER BY (site, issue_key);

-- The read model carries each issue's findings (a column added to an
-- existing table reads as empty in older generations).
ALTER TABLE issues_current {{on_cluster}} ADD COLUMN findings Array(String);
ALTER TABLE issues_current {{on_cluster}} ADD COLUMN finding_notes Array(String);
