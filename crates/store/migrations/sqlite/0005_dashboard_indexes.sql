-- Indexes that let the home page read only what it shows: the latest
-- events in order (time, then place), and each stage's active engagements
-- by when they entered it (which also finds the longest-running first).
DROP INDEX events_at;
CREATE INDEX events_recent ON events (at, engagement_id, seq);

DROP INDEX engagement_stages_by_stage;
CREATE INDEX engagement_stages_started ON engagement_stages (stage, status, started_at, engagement_id);
