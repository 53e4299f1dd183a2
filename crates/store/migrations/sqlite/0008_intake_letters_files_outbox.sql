-- Enquiries, files, letters, letter templates and the mail outbox (SQLite).
-- Keep in step with migrations/postgres.

-- A request for support, from the public form or from imported mail.
-- message_id makes mail import idempotent. Its history is its own hash
-- chain in enquiry_events, like an engagement's.
CREATE TABLE enquiries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    message_id TEXT UNIQUE,
    agency_name TEXT NOT NULL,
    contact_name TEXT NOT NULL,
    contact_email TEXT NOT NULL,
    contact_role TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    timeframe TEXT NOT NULL,
    preference TEXT NOT NULL,
    status TEXT NOT NULL,
    engagement_id BIGINT REFERENCES engagements (id),
    received_at BIGINT NOT NULL,
    event_count BIGINT NOT NULL,
    head_hash TEXT NOT NULL
);
CREATE INDEX enquiries_status ON enquiries (status, received_at);

CREATE TABLE enquiry_events (
    enquiry_id BIGINT NOT NULL REFERENCES enquiries (id),
    seq BIGINT NOT NULL,
    actor_id BIGINT NOT NULL,
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (enquiry_id, seq)
);

-- Uploaded documents and mail attachments, byte for byte.
CREATE TABLE files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    name TEXT NOT NULL,
    content BLOB NOT NULL,
    enquiry_id BIGINT REFERENCES enquiries (id),
    engagement_id BIGINT REFERENCES engagements (id),
    created_by BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX files_enquiry ON files (enquiry_id);
CREATE INDEX files_engagement ON files (engagement_id);

-- Every issued version of every letter; the state holds their hashes.
CREATE TABLE letters (
    engagement_id BIGINT NOT NULL REFERENCES engagements (id),
    kind TEXT NOT NULL,
    version BIGINT NOT NULL,
    markdown TEXT NOT NULL,
    html TEXT NOT NULL,
    pdf BLOB NOT NULL,
    sha256 TEXT NOT NULL,
    facts TEXT NOT NULL,
    template_version BIGINT NOT NULL,
    created_by BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (engagement_id, kind, version)
);

-- The programme's letter templates; every saved version is kept.
CREATE TABLE letter_templates (
    kind TEXT NOT NULL,
    version BIGINT NOT NULL,
    body TEXT NOT NULL,
    created_by BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (kind, version)
);

-- Mail waiting to go, and mail sent. Nothing is deleted.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    attachment_name TEXT,
    attachment_type TEXT,
    attachment TEXT,
    created_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    sent_at BIGINT,
    last_error TEXT
);
CREATE INDEX outbox_due ON outbox (sent_at, next_attempt_at);

-- Submissions of the public form, for its rate limit (address hashed).
CREATE TABLE form_submissions (
    key TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX form_submissions_key ON form_submissions (key, at);
