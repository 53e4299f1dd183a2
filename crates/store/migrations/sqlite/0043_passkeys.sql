-- Passkeys as a second factor (issue 22): WebAuthn credentials a person
-- registered, each proved by a signature after their password. The public
-- key and the authenticator's state are kept as the WebAuthn library
-- encodes them; `dynamic_state` (the signature counter and flags) changes
-- on each use, and is replaced only if it is still what was read, so two
-- sign-ins with one credential cannot both move it. `user_handle` is the
-- random id the authenticator keeps for the person (never their row id),
-- the same on all of one person's passkeys.
CREATE TABLE passkeys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id INTEGER NOT NULL REFERENCES people (id),
    credential_id BLOB NOT NULL UNIQUE,
    user_handle BLOB NOT NULL,
    transports BLOB NOT NULL,
    static_state BLOB NOT NULL,
    dynamic_state BLOB NOT NULL,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX passkeys_person ON passkeys (person_id);
