-- Every forecast a user was shown (one row per question, product and day),
-- so that it can be scored once its outcome is known.

CREATE TABLE IF NOT EXISTS forecast_log {{on_cluster}} (
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
) ENGINE = {{replacing "forecast_log"}}
ORDER BY forecast_id;
