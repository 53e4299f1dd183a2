-- People leave (issue 22): a deactivated person cannot sign in, their
-- sessions and API tokens end, and their name stays on the history. NULL
-- while they are active.
ALTER TABLE people ADD COLUMN deactivated_at BIGINT;
ALTER TABLE people ADD COLUMN deactivated_by BIGINT;
