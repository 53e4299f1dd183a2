-- Each person's settings: the time zone times are shown in, and how they
-- hear about what waits for them (each: a mail as it happens; daily: one
-- digest a day; never). `digests` remembers which days' digests were
-- written, so two servers never send the same one twice.
ALTER TABLE people ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'Australia/Canberra';
ALTER TABLE people ADD COLUMN notify TEXT NOT NULL DEFAULT 'each';
CREATE TABLE digests (
    person_id BIGINT NOT NULL REFERENCES people (id),
    day TEXT NOT NULL,
    written_at BIGINT NOT NULL,
    PRIMARY KEY (person_id, day)
);
