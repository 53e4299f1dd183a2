-- API tokens people can manage (issue 15): a scope (read, or read_write as
-- every token before this could), an optional end, and when it was last
-- used (written at most once a minute a token).
ALTER TABLE tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'read_write';
ALTER TABLE tokens ADD COLUMN expires_at BIGINT;
ALTER TABLE tokens ADD COLUMN last_used_at BIGINT;
