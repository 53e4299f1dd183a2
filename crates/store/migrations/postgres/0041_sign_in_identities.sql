-- Signing in with an organisation's own accounts (issue 22): which
-- provider's subject is which person. A subject is the provider's own
-- stable id for someone (`sub`), unique within its issuer; the address it
-- came with is not kept here (the person's row has theirs).
CREATE TABLE sign_in_identities (
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    person_id BIGINT NOT NULL REFERENCES people (id),
    linked_at BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX sign_in_identities_person ON sign_in_identities (person_id);
