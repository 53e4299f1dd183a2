-- The portfolio dashboard's kept counts (issue 19): one row per chart,
-- scope, month, item and bucket (`waymark_core::portfolio`), changed in the
-- transaction that appends an engagement's events. Each count is kept in
-- five scopes: every agency (`all`), the agency's portfolio (`p:…`), its
-- type (`t:…`), both (`pt:…`), and the agency itself (`a:…`, from which a
-- change of type moves its counts), so any filter reads one scope: a few
-- hundred rows. A database from before this migration is counted from its
-- events when it opens (`Store::rebuild_portfolio_if_missing`).
CREATE TABLE portfolio_counts (
    chart TEXT NOT NULL,
    scope TEXT NOT NULL,
    month BIGINT NOT NULL,
    item TEXT NOT NULL,
    bucket BIGINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (chart, scope, month, item, bucket)
);

-- The funnel counts the enquiries received in a range.
CREATE INDEX enquiries_received ON enquiries (received_at);
