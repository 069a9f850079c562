-- Jira's due date of an issue: epics are forecast against it.

ALTER TABLE issues {{on_cluster}} ADD COLUMN due_date Nullable(Date) AFTER resolved_at;
ALTER TABLE issues_current {{on_cluster}} ADD COLUMN due_date Nullable(Date) AFTER resolved_at;
