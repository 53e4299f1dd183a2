-- Watching in the community (issue 16): a person watches a question or a
-- category; a new or accepted answer is a notice, written in the same
-- transaction as the answer, that a background task turns into mail for
-- the watchers who want each event (the daily digest reads the notices
-- too). Each watch has its own key for the mail's one-click unsubscribe
-- (RFC 8058), which works without signing in.
CREATE TABLE community_watches (
    person_id BIGINT NOT NULL REFERENCES people (id),
    topic_id BIGINT REFERENCES community_topics (id),
    category_id BIGINT REFERENCES community_categories (id),
    unsubscribe_key TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    CHECK ((topic_id IS NULL) <> (category_id IS NULL))
);
CREATE UNIQUE INDEX community_watches_topic ON community_watches (topic_id, person_id) WHERE topic_id IS NOT NULL;
CREATE UNIQUE INDEX community_watches_category ON community_watches (category_id, person_id) WHERE category_id IS NOT NULL;
CREATE INDEX community_watches_person ON community_watches (person_id);

CREATE TABLE community_notices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic_id BIGINT NOT NULL REFERENCES community_topics (id),
    post_id BIGINT NOT NULL REFERENCES community_posts (id),
    kind TEXT NOT NULL,
    actor_id BIGINT NOT NULL REFERENCES people (id),
    at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX community_notices_pending ON community_notices (sent_at, id);
CREATE INDEX community_notices_topic ON community_notices (topic_id, at);

-- The one-click unsubscribe address a mail carries, if any.
ALTER TABLE outbox ADD COLUMN list_unsubscribe TEXT;
