-- Indexes derived from each engagement's state, rebuilt from it when empty
-- (after this migration and after an import), never edited by hand:
-- a summary for lists and dashboards, and who is assigned, so that a
-- partner's list is filtered in SQL instead of in memory.
ALTER TABLE engagements ADD COLUMN summary TEXT NOT NULL DEFAULT '';

CREATE TABLE assignments (
    engagement_id BIGINT NOT NULL REFERENCES engagements (id),
    person_id BIGINT NOT NULL,
    PRIMARY KEY (engagement_id, person_id)
);
CREATE INDEX assignments_person ON assignments (person_id);
