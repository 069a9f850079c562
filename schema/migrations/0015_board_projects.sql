-- Every project a board is listed for: a board over several projects (a
-- board whose filter spans two teams) has one row per project, where the
-- boards table, keyed by board, kept only the last. Readers go through
-- schema.BoardProjects, which falls back to boards for a board no sync
-- has written here yet.
CREATE TABLE IF NOT EXISTS board_projects {{on_cluster}} (
    site String,
    board_id UInt64,
    name String,
    type String,
    project_key String,
    version UInt64
) ENGINE = {{replacing "board_projects"}}
ORDER BY (site, board_id, project_key);
