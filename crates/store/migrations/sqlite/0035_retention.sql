-- Settings the programme makes for the whole service (issue 22's retention
-- period first), each with who set it and when.
CREATE TABLE programme_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    set_by BIGINT REFERENCES people (id),
    set_at BIGINT NOT NULL
);

-- Each run of the retention job: when, the period and the cutoff it used,
-- how many enquiries it removed, and who ran it (NULL: the daily job).
CREATE TABLE retention_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    months BIGINT NOT NULL,
    cutoff BIGINT NOT NULL,
    removed BIGINT NOT NULL,
    run_by BIGINT REFERENCES people (id)
);

-- What each run removed, without the personal data it removed: the
-- enquiry's number and dates, and how much went with it.
CREATE TABLE retention_removals (
    run_id BIGINT NOT NULL REFERENCES retention_runs (id),
    enquiry_id BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    last_change_at BIGINT NOT NULL,
    messages BIGINT NOT NULL,
    files BIGINT NOT NULL,
    PRIMARY KEY (run_id, enquiry_id)
);
