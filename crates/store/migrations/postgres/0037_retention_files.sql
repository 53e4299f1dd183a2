-- Bytes in the files directory that retention removed the rows of, queued
-- in the same transaction and deleted after it commits; a run cut short
-- leaves them here, and the next run deletes them first.
CREATE TABLE retention_files (
    location TEXT PRIMARY KEY
);
