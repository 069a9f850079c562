-- The read model is kept in pieces: each a range of issue ids, in its own
-- partition of every read-model table (its number in the gen column). A
-- generation lists its pieces and the lowest issue id of each range; a
-- refresh rebuilds only the pieces holding changed issues and takes the
-- others from the generation before. A generation of an earlier version
-- lists none: it is one piece, numbered as the generation.
ALTER TABLE derived_generations {{on_cluster}} ADD COLUMN pieces Array(UInt64);
ALTER TABLE derived_generations {{on_cluster}} ADD COLUMN bounds Array(UInt64);
