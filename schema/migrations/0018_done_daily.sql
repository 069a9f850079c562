-- Issues done per day, by the day of their last completion (as the
-- forecasts count throughput), with the dimensions every read-model table
-- carries: a forecast reads 90 days of it instead of every issue's done
-- date. A generation built before this table existed has no rows in it:
-- the next refresh builds the read model in full.
CREATE TABLE IF NOT EXISTS done_daily {{on_cluster}} (
    gen UInt64,
    site String,
    project_key String,
    issue_type String,
    work_category String,
    day Date,
    done UInt64
) ENGINE = {{mergetree "done_daily"}}
PARTITION BY gen
ORDER BY (site, project_key, day);
