-- Evidence Jira does not hold: survey answers, business value records, and
-- EBM goals with their experiments. Rows are keyed by a hash of their content
-- (or their id) so that importing the same file twice changes nothing.

CREATE TABLE IF NOT EXISTS satisfaction_responses {{on_cluster}} (
    response_id String,
    responded_at DateTime('UTC'),
    scale String,
    score Int16,
    product String,
    respondent_hash String,
    comment String,
    source String,
    version UInt64
) ENGINE = {{replacing "satisfaction_responses"}}
ORDER BY (product, scale, response_id);

CREATE TABLE IF NOT EXISTS value_records {{on_cluster}} (
    product String,
    measure String,
    period_start Date,
    period_end Date,
    value Float64,
    unit String,
    source String,
    version UInt64
) ENGINE = {{replacing "value_records"}}
ORDER BY (product, measure, period_start, period_end);

CREATE TABLE IF NOT EXISTS goals {{on_cluster}} (
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
) ENGINE = {{replacing "goals"}}
ORDER BY goal_id;

CREATE TABLE IF NOT EXISTS experiments {{on_cluster}} (
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
) ENGINE = {{replacing "experiments"}}
ORDER BY experiment_id;
