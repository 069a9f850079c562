-- The cycle each project takes from its board's columns (the site setting
-- boards.<id>), as JSON: a sync that finds it changed re-extracts the
-- site's stored issues, so that every started_at and done_at follows the
-- same columns.
ALTER TABLE sites {{on_cluster}} ADD COLUMN cycles String;
