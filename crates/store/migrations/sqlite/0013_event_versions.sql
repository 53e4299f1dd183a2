-- The engagement version each event was written at, so that a change sent
-- from an older page can be checked against only what happened since
-- (core::conflicts). Events written before this migration, or loaded from
-- an export, have none: a stale change over them is refused, as before.
ALTER TABLE events ADD COLUMN version BIGINT;
CREATE INDEX events_by_version ON events (engagement_id, version);
