-- Removing a person's personal data at their request (issue 22). Each
-- removal is recorded here: whose, by whom, when, and how many rows it
-- changed. Their row in people stays (events name people by id), with
-- their name and address replaced and removed_at set.
CREATE TABLE person_removals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id BIGINT NOT NULL REFERENCES people (id),
    removed_by BIGINT NOT NULL REFERENCES people (id),
    at BIGINT NOT NULL,
    rows_changed BIGINT NOT NULL,
    -- The SHA-256 over its redactions (store::removal::digest_of).
    digest TEXT
);
ALTER TABLE people ADD COLUMN removed_at BIGINT;
-- What a removal changed inside the audit trail: a chained event (its
-- events table, its record's id and its number) or a row bound by hash to
-- a chain (`enquiries` and `enquiry_messages`, seq 0), with, for an event,
-- its link recomputed over what it holds since (binding its other fields
-- as its link did), for a row, the hash of what it holds since. `audit
-- verify` checks such a record against the latest removal's instead of
-- its own link or hash, and the chain's links still hold from one event to
-- the next. A later removal adds its own row: each removal's rows stay as
-- it wrote them, so its digest still holds.
CREATE TABLE redactions (
    record_table TEXT NOT NULL,
    record_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    removal_id BIGINT NOT NULL REFERENCES person_removals (id),
    PRIMARY KEY (record_table, record_id, seq, removal_id)
);
