-- The lead and cycle times of the issues done per day, by the day of
-- their last completion, with the dimensions every read-model table
-- carries, and how many of them the data quality checks question: lead
-- time, cycle time, their percentiles per period, the lead-time histogram
-- and weekly throughput over whole days read a year of these arrays (a few
-- thousand rows) instead of every done issue's dates and history. cycles
-- holds the started issues' only. A generation records in format that its
-- pieces all have these rows; readers of an earlier one count the issues
-- (schema.WholeTimes).
CREATE TABLE IF NOT EXISTS done_times {{on_cluster}} (
    gen UInt64,
    site String,
    project_key String,
    issue_type String,
    work_category String,
    day Date,
    leads Array(Int64),
    cycles Array(Int64),
    resolved_before_created UInt64,
    change_before_created UInt64,
    done_before_started UInt64,
    reopened UInt64,
    moved_back UInt64
) ENGINE = {{mergetree "done_times"}}
PARTITION BY gen
ORDER BY (site, project_key, day);
