-- Waymark's first schema (SQLite). Keep in step with migrations/postgres.
CREATE TABLE agencies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    abbreviation TEXT NOT NULL UNIQUE,
    portfolio TEXT NOT NULL,
    agency_type TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE people (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

-- role: JSON of waymark_core::Role
CREATE TABLE memberships (
    person_id BIGINT NOT NULL REFERENCES people (id),
    role TEXT NOT NULL,
    PRIMARY KEY (person_id, role)
);

-- A model version, pinned by engagements: the hash of its pages, and the pages.
CREATE TABLE models (
    hash TEXT PRIMARY KEY,
    pages TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE engagements (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    agency_id BIGINT NOT NULL REFERENCES agencies (id),
    model_hash TEXT NOT NULL REFERENCES models (hash),
    state TEXT NOT NULL,
    version BIGINT NOT NULL,
    event_count BIGINT NOT NULL,
    head_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX engagements_agency ON engagements (agency_id);

-- The audit trail: each event holds the hash of the one before it.
CREATE TABLE events (
    engagement_id BIGINT NOT NULL REFERENCES engagements (id),
    seq BIGINT NOT NULL,
    actor_id BIGINT NOT NULL,
    at BIGINT NOT NULL,
    command TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (engagement_id, seq)
);
