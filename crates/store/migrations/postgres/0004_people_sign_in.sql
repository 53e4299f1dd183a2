-- Signing in: a password hash per person (argon2id, PHC string), sessions
-- shared by every instance, one-time invite links, and failed sign-in
-- attempts for the rate limit. Plus a per-stage index of every engagement,
-- derived from its state like the summary, for the programme's dashboards.
ALTER TABLE people ADD COLUMN password_hash TEXT;

-- tower-sessions records: id, JSON data, expiry (seconds since 1970).
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Only a SHA-256 of each invite token is kept, like API tokens.
CREATE TABLE invites (
    hash TEXT PRIMARY KEY,
    person_id BIGINT NOT NULL REFERENCES people (id),
    created_by BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

-- key: 'account:<email>' or 'address:<ip>'.
CREATE TABLE sign_in_failures (
    key TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_key ON sign_in_failures (key, at);

CREATE TABLE engagement_stages (
    engagement_id BIGINT NOT NULL REFERENCES engagements (id),
    stage TEXT NOT NULL,
    status TEXT NOT NULL,
    cycles BIGINT NOT NULL,
    started_at BIGINT,
    PRIMARY KEY (engagement_id, stage)
);
CREATE INDEX engagement_stages_by_stage ON engagement_stages (stage, status);

CREATE INDEX events_at ON events (at);

-- Rebuild every engagement's derived indexes (now including its stages).
UPDATE engagements SET summary = '';
