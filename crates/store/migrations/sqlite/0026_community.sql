-- The community portal (issue 16): categories, questions (topics) with
-- their posts (the question itself, then answers), every revision of every
-- post, up-votes, and each question's own hash chain of what happened to
-- it (community_events), checked by `waymark audit verify`.
CREATE TABLE community_categories (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    visibility TEXT NOT NULL,
    programme_only BIGINT NOT NULL,
    position BIGINT NOT NULL,
    question_count BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE community_topics (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    category_id BIGINT NOT NULL REFERENCES community_categories (id),
    author_id BIGINT NOT NULL REFERENCES people (id),
    title TEXT NOT NULL,
    tag_stage TEXT,
    tag_step BIGINT,
    accepted_post_id BIGINT,
    locked BIGINT NOT NULL DEFAULT 0,
    answer_count BIGINT NOT NULL DEFAULT 0,
    votes BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    last_activity_at BIGINT NOT NULL,
    event_count BIGINT NOT NULL DEFAULT 0,
    head_hash TEXT NOT NULL DEFAULT ''
);
CREATE INDEX community_topics_recent ON community_topics (category_id, last_activity_at DESC, id DESC);
CREATE INDEX community_topics_tagged ON community_topics (tag_stage, tag_step, last_activity_at DESC, id DESC);

CREATE TABLE community_posts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic_id BIGINT NOT NULL REFERENCES community_topics (id),
    author_id BIGINT NOT NULL REFERENCES people (id),
    is_question BIGINT NOT NULL,
    body TEXT NOT NULL,
    votes BIGINT NOT NULL DEFAULT 0,
    revisions BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    edited_at BIGINT
);
CREATE INDEX community_posts_topic ON community_posts (topic_id, id);

CREATE TABLE community_revisions (
    post_id BIGINT NOT NULL REFERENCES community_posts (id),
    number BIGINT NOT NULL,
    title TEXT,
    body TEXT NOT NULL,
    editor_id BIGINT NOT NULL REFERENCES people (id),
    at BIGINT NOT NULL,
    PRIMARY KEY (post_id, number)
);

CREATE TABLE community_votes (
    post_id BIGINT NOT NULL REFERENCES community_posts (id),
    person_id BIGINT NOT NULL REFERENCES people (id),
    at BIGINT NOT NULL,
    PRIMARY KEY (post_id, person_id)
);

CREATE TABLE community_events (
    topic_id BIGINT NOT NULL REFERENCES community_topics (id),
    seq BIGINT NOT NULL,
    actor_id BIGINT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (topic_id, seq)
);

-- Registrations from the community's form, waiting for their address to be
-- verified: only a SHA-256 of each link's token is kept. Following the
-- link makes the account (no role: a community member) and spends it.
CREATE TABLE registrations (
    hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
