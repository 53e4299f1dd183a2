-- Lessons from retrospectives, one row each, kept in the transaction of the
-- command that records them (derived from the engagement's state, like
-- assignments): what the programme's view of every lesson, grouped by the
-- model's stages and steps, reads without opening each engagement.
CREATE TABLE lessons (
    engagement_id BIGINT NOT NULL REFERENCES engagements (id),
    id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    stage TEXT NOT NULL,
    step BIGINT,
    text TEXT NOT NULL,
    -- '' until proposed; then 'proposed', 'accepted' or 'declined'.
    state TEXT NOT NULL DEFAULT '',
    -- 'blueprint' or 'guidance' once proposed.
    target TEXT NOT NULL DEFAULT '',
    at BIGINT NOT NULL,
    PRIMARY KEY (engagement_id, id)
);
CREATE INDEX lessons_by_step ON lessons (stage, step);
CREATE INDEX lessons_by_state ON lessons (state);
