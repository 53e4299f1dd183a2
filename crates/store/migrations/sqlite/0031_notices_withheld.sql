-- When the delivery withheld a community notice (its post or question was
-- hidden by then, or an acceptance was taken back or already told), so an
-- acceptance is mailed once per answer however often it is toggled.
ALTER TABLE community_notices ADD COLUMN withheld_at BIGINT;
