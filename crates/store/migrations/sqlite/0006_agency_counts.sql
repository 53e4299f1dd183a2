-- How many engagements each agency has, kept in the transaction that
-- starts one (engagements are never deleted), so a list's total is a few
-- rows read instead of a count over every engagement on every page.
CREATE TABLE agency_engagements (
    agency_id BIGINT PRIMARY KEY REFERENCES agencies (id),
    n BIGINT NOT NULL
);
INSERT INTO agency_engagements (agency_id, n)
    SELECT agency_id, COUNT(*) FROM engagements GROUP BY agency_id;
