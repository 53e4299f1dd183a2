-- An engagement's own discussion (issue 16): each comment is an event in
-- the engagement's chain. A mention of a person in a comment leaves a
-- notice here, in the comment's own transaction, so none is lost; it is
-- mailed (or listed in the person's daily digest) only if, when it goes
-- out, they may still read the engagement and the comment is not hidden.
CREATE TABLE mentions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id BIGINT NOT NULL REFERENCES people (id),
    engagement_id BIGINT NOT NULL REFERENCES engagements (id),
    comment_id BIGINT NOT NULL,
    actor_id BIGINT NOT NULL REFERENCES people (id),
    at BIGINT NOT NULL,
    sent_at BIGINT,
    withheld_at BIGINT
);
CREATE INDEX mentions_pending ON mentions (sent_at, id);
CREATE INDEX mentions_person ON mentions (person_id, at);
