-- Moderation in the community (issue 16): the programme hides a post with
-- a reason (a hidden question hides the whole question from everyone but
-- the programme), locks a question or moves it; anyone flags a post for
-- the programme to look at. Each moderation is an event in the question's
-- own chain as well.
ALTER TABLE community_posts ADD COLUMN hidden_reason TEXT;
ALTER TABLE community_posts ADD COLUMN hidden_at BIGINT;
ALTER TABLE community_topics ADD COLUMN hidden BIGINT NOT NULL DEFAULT 0;

CREATE TABLE community_flags (
    post_id BIGINT NOT NULL REFERENCES community_posts (id),
    person_id BIGINT NOT NULL REFERENCES people (id),
    reason TEXT NOT NULL,
    at BIGINT NOT NULL,
    resolved_at BIGINT,
    PRIMARY KEY (post_id, person_id)
);
CREATE INDEX community_flags_open ON community_flags (resolved_at, at);
