-- How many engagements are active in each stage, kept in the transaction
-- that rewrites an engagement's per-stage rows, so the programme's home
-- reads one row per stage instead of counting them on every request (on
-- PostgreSQL that count visits the heap for every recently changed row).
CREATE TABLE stage_active (
    stage TEXT PRIMARY KEY,
    n BIGINT NOT NULL
);
INSERT INTO stage_active (stage, n)
    SELECT stage, COUNT(*) FROM engagement_stages WHERE status = 'active' GROUP BY stage;
