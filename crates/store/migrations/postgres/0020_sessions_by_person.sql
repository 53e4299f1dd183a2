-- Whose each session is (NULL before sign-in), so a person sees where they
-- are signed in and can end a session, and deactivation ends them all.
ALTER TABLE sessions ADD COLUMN person_id BIGINT;
CREATE INDEX sessions_by_person ON sessions (person_id);
