-- Passkey ceremonies answered (issue 22): a ceremony lives in the
-- visitor's session, but two requests of one session can each read it
-- before either saves the session without it. Answering one first records
-- its key here; a second answer of the same ceremony finds it and is
-- refused, on any instance. Rows older than the ceremonies' five minutes
-- are deleted as new ones come.
CREATE TABLE spent_ceremonies (
    key TEXT PRIMARY KEY,
    spent_at INTEGER NOT NULL
);
CREATE INDEX spent_ceremonies_at ON spent_ceremonies (spent_at);
