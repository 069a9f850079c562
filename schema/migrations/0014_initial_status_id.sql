-- The read model keeps the id of the status an issue was created in, so
-- that checks across board columns (which hold statuses by id) know where
-- each status change came from, also for two statuses of one name.
ALTER TABLE issues_current {{on_cluster}} ADD COLUMN initial_status_id String;
