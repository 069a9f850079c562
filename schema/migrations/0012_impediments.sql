-- Impediments: Jira's Flagged field now, and the issues an issue "is
-- blocked by" (issue links) with whether each was open when collected.
-- The flag's history is in field_changes (field 'Flagged'), a link's in
-- field_changes (field 'Link').

ALTER TABLE issues {{on_cluster}} ADD COLUMN flagged UInt8 AFTER due_date;
ALTER TABLE issues {{on_cluster}} ADD COLUMN blocked_by Array(String) AFTER flagged;
ALTER TABLE issues {{on_cluster}} ADD COLUMN blocked_by_open Array(UInt8) AFTER blocked_by;
ALTER TABLE issues_current {{on_cluster}} ADD COLUMN flagged UInt8 AFTER due_date;
ALTER TABLE issues_current {{on_cluster}} ADD COLUMN blocked_by Array(String) AFTER flagged;
ALTER TABLE issues_current {{on_cluster}} ADD COLUMN blocked_by_open Array(UInt8) AFTER blocked_by;
