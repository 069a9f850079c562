-- A board's configuration (/rest/agile/1.0/board/{id}/configuration): its
-- columns in order, the statuses each holds and their WIP limits, the
-- estimation field and the saved filter. One row per board, so that a
-- column removed in Jira disappears with the next sync.

CREATE TABLE IF NOT EXISTS board_config {{on_cluster}} (
    site String,
    board_id UInt64,
    column_names Array(String),
    column_statuses Array(Array(String)),
    column_min Array(Int32),
    column_max Array(Int32),
    constraint_type String,
    estimation_field String,
    filter_id String,
    version UInt64
) ENGINE = {{replacing "board_config"}}
ORDER BY (site, board_id);
