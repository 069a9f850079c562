-- What a refresh changed: the generation it started from (0: a full
-- build, which may change anything) and the projects whose views its
-- changes reach (the changed issues' projects before and after, the
-- projects of the issues they name as parent, epic or blocker, and of the
-- issues that name them). The dashboard's response cache keeps the
-- responses of other projects across the change.
ALTER TABLE derived_generations {{on_cluster}} ADD COLUMN base UInt64;
ALTER TABLE derived_generations {{on_cluster}} ADD COLUMN changed Array(String);
