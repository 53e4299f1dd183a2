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
    head_hash TEXT NOT NULL DEFAULT '',
    -- The last response's hash: the responses form a chain of their own
    -- (no times, no actors), so one added or removed is found.
    response_head TEXT NOT NULL DEFAULT ''
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

-- Who was invited to each survey (and the message that carried it), so
-- newcomers to its audience can be invited later. Nothing here says
-- whether they answered.
CREATE TABLE survey_invitations (
    survey_id BIGINT NOT NULL REFERENCES surveys (id),
    person_id BIGINT NOT NULL REFERENCES people (id),
    outbox_id BIGINT,
    PRIMARY KEY (survey_id, person_id)
);

-- Each invitation's single-use token, as its SHA-256, and whether it took
-- its answer. For an anonymous survey no column names the person: once
-- the outbox forgets the token (when it is sent), nothing in the database
-- joins a token, or the answer it took, to whoever it was sent to. A named
-- survey's token keeps its person.
-- Kept by hash alone (WITHOUT ROWID), so no row number says in which
-- order the tokens were made, and so whose invitation each was.
CREATE TABLE survey_tokens (
    token_hash TEXT PRIMARY KEY,
    survey_id BIGINT NOT NULL REFERENCES surveys (id),
    person_id BIGINT REFERENCES people (id),
    used BIGINT NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX survey_tokens_by_survey ON survey_tokens (survey_id, used);

-- A response keeps its day, not its time; a named survey's keeps its
-- person, an anonymous one's nothing that leads to one.
CREATE TABLE survey_responses (
    id INTEGER PRIMARY KEY,
    survey_id BIGINT NOT NULL REFERENCES surveys (id),
    answered_on TEXT NOT NULL,
    person_id BIGINT REFERENCES people (id),
    answers TEXT NOT NULL,
    -- Its place among the survey's responses, from 1, and its link in
    -- their chain: SHA-256 over the one before, the survey, the place,
    -- the day, the person (if named) and the answers.
    seq BIGINT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX survey_responses_by_survey ON survey_responses (survey_id);

-- Text to take out of a message's body once it is sent (a survey
-- invitation's single-use link), so the outbox keeps no usable token.
ALTER TABLE outbox ADD COLUMN secret TEXT;

-- A named survey takes one answer from each person (anonymous answers
-- name no one, and NULLs never collide).
CREATE UNIQUE INDEX survey_responses_one_each ON survey_responses (survey_id, person_id);
-- An answer finds its token's message, if still unsent, by the token.
CREATE INDEX outbox_secret ON outbox (secret) WHERE secret IS NOT NULL;

-- Each survey's answers counted by question and value (a scale's number or
-- a choice's place; -1: left empty), and its free-text answers, kept in the
-- transaction that keeps each response: results read these, never every
-- response.
CREATE TABLE survey_counts (
    survey_id BIGINT NOT NULL REFERENCES surveys (id),
    question BIGINT NOT NULL,
    value BIGINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (survey_id, question, value)
);
CREATE TABLE survey_texts (
    survey_id BIGINT NOT NULL REFERENCES surveys (id),
    question BIGINT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX survey_texts_by_question ON survey_texts (survey_id, question);
