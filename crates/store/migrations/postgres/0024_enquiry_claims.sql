-- Converting an enquiry adds an agency and starts an engagement before its
-- Converted event is recorded. Whoever converts claims the enquiry first
-- (one claim at a time; a claim older than five minutes, from a process
-- that died, may be taken over), so two conversions never both start an
-- engagement, and closing or attaching waits for the claim to end.
ALTER TABLE enquiries ADD COLUMN claimed_at BIGINT;
