-- Dated notes an admin adds to the evidence (a team change, a process
-- change, a release): shown on the time charts, and where the process
-- behaviour limits start again.

CREATE TABLE IF NOT EXISTS annotations {{on_cluster}} (
    annotation_id String,
    product String,
    at Date,
    text String,
    created_at DateTime('UTC'),
    deleted UInt8,
    version UInt64
) ENGINE = {{replacing "annotations"}}
ORDER BY annotation_id;
