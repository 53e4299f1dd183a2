-- A second factor for signing in (issue 22): a TOTP key (RFC 6238) per
-- person, and their recovery codes. The key must be readable to check a
-- code, so it is kept as it is, like the database's other secrets; each
-- recovery code is kept only as its SHA-256 and is used at most once.
-- `last_step` is the last 30-second step whose code was accepted: a code
-- is refused unless its step is later, so one code signs in once, on
-- however many instances.
CREATE TABLE second_factors (
    person_id INTEGER PRIMARY KEY REFERENCES people (id),
    secret BLOB NOT NULL,
    enrolled_at INTEGER NOT NULL,
    last_step INTEGER NOT NULL
);
CREATE TABLE recovery_codes (
    person_id INTEGER NOT NULL REFERENCES people (id),
    hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    used_at INTEGER,
    PRIMARY KEY (person_id, hash)
);
