-- Surveys (issue 19). A survey's definition and audience, and its own
-- hash chain (survey_events: created, changed, sent, closed), kept like an
-- agency's. Answers are never in the chain.
CREATE TABLE surveys (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    -- The checked definition (questions, dates, anonymity) as JSON.
    definition TEXT NOT NULL,
    -- Who it goes to, as JSON.
    audience TEXT NOT NULL,
    -- An engagement survey's engagement and its agency, whose members see
    -- its results.
    engagement_id BIGINT REFERENCES engagements (id),
    agency_id BIGINT REFERENCES agencies (id),
    sent BIGINT NOT NULL DEFAULT 0,
    closed_early BIGINT NOT NULL DEFAULT 0,
    -- A public survey's link key, once sent.
    public_key TEXT UNIQUE,
    -- Responses, counted in the transaction that keeps each.
    responses BIGINT NOT NULL DEFAULT 0,
    created_by BIGINT NOT NULL REFERENCES people (id),
    created_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    event_count BIGINT NOT NULL DEFAULT 0,
    head_hash TEXT NOT NULL DEFAULT ''
);

CREATE TABLE survey_events (
    survey_id BIGINT NOT NULL REFERENCES surveys (id),
    seq BIGINT NOT NULL,
    actor_id BIGINT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (survey_id, seq)
);

-- One a person invited. The token is kept only as its SHA-256; `answered`
-- says that the person answered, never when, nor which response is theirs.
CREATE TABLE survey_invitations (
    survey_id BIGINT NOT NULL REFERENCES surveys (id),
    person_id BIGINT NOT NULL REFERENCES people (id),
    token_hash TEXT NOT NULL UNIQUE,
    outbox_id BIGINT,
    answered BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (survey_id, person_id)
);

-- A response keeps its day, not its time; a named survey's keeps its
-- person, an anonymous one's nothing that leads to one.
CREATE TABLE survey_responses (
    id INTEGER PRIMARY KEY,
    survey_id BIGINT NOT NULL REFERENCES surveys (id),
    answered_on TEXT NOT NULL,
    person_id BIGINT REFERENCES people (id),
    answers TEXT NOT NULL
);
CREATE INDEX survey_responses_by_survey ON survey_responses (survey_id);

-- Text to take out of a message's body once it is sent (a survey
-- invitation's single-use link), so the outbox keeps no usable token.
ALTER TABLE outbox ADD COLUMN secret TEXT;
