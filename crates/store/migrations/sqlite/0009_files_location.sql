-- Files may be kept in a configured directory instead of the database:
-- `location` is then the path below that directory (named by the file's
-- SHA-256), and `content` is empty.
ALTER TABLE files ADD COLUMN location TEXT;
