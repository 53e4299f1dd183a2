-- The agency self-assessment (issue 20). An agency's assessments and the
-- programme's settings of its type form a hash chain of their own, checked
-- by `waymark audit verify` like an engagement's; the agency row keeps the
-- chain's count and head, and `agency_type` stays the type that follows
-- from the chain, kept in the transaction that appends to it.
ALTER TABLE agencies ADD COLUMN event_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE agencies ADD COLUMN head_hash TEXT NOT NULL DEFAULT '';

CREATE TABLE agency_events (
    agency_id BIGINT NOT NULL REFERENCES agencies (id),
    seq BIGINT NOT NULL,
    actor_id BIGINT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (agency_id, seq)
);
