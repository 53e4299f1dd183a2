-- The programme's mailbox, live (issue 18).
--
-- Every message taken from a mailbox (or imported from a file) is a row of
-- inbound_mail, whatever became of it: an enquiry, a message on an
-- enquiry's conversation, a workshop answer, an automatic message (bounce,
-- auto-reply), or a message that could not be read or was too large (kept
-- with its headers, and its bytes when they fit). Its (mailbox,
-- UIDVALIDITY, UID) and its Message-ID are each taken once.
CREATE TABLE inbound_mail (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    mailbox TEXT NOT NULL,
    uidvalidity BIGINT,
    uid BIGINT,
    message_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    enquiry_id BIGINT REFERENCES enquiries (id),
    reason TEXT NOT NULL,
    sender TEXT NOT NULL,
    subject TEXT NOT NULL,
    size BIGINT NOT NULL,
    headers TEXT NOT NULL,
    file_id BIGINT REFERENCES files (id),
    at BIGINT NOT NULL,
    -- Unreadable and too-large messages wait for the programme until
    -- someone marks them dealt with.
    reviewed_by BIGINT,
    reviewed_at BIGINT
);
CREATE UNIQUE INDEX inbound_mail_message ON inbound_mail (message_id);
CREATE UNIQUE INDEX inbound_mail_uid ON inbound_mail (mailbox, uidvalidity, uid);
CREATE INDEX inbound_mail_outcome ON inbound_mail (outcome, id);

-- An enquiry's conversation after the message that opened it: replies that
-- came in ('in') and the programme's answers ('out'). Each is bound into
-- the enquiry's hash chain by the event that added it.
CREATE TABLE enquiry_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    enquiry_id BIGINT NOT NULL REFERENCES enquiries (id),
    direction TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    author_id BIGINT,
    at BIGINT NOT NULL
);
CREATE UNIQUE INDEX enquiry_messages_message ON enquiry_messages (message_id);
CREATE INDEX enquiry_messages_enquiry ON enquiry_messages (enquiry_id, id);
ALTER TABLE files ADD COLUMN message_id BIGINT REFERENCES enquiry_messages (id);

-- Which enquiry each Message-ID belongs to, sent or received: a reply names
-- one of them in In-Reply-To or References.
CREATE TABLE mail_threads (
    message_id TEXT PRIMARY KEY,
    enquiry_id BIGINT NOT NULL REFERENCES enquiries (id)
);

-- Outgoing mail's own Message-ID and thread headers, and RFC 3834's
-- Auto-Submitted for messages no person wrote.
ALTER TABLE outbox ADD COLUMN message_id TEXT;
ALTER TABLE outbox ADD COLUMN in_reply_to TEXT;
ALTER TABLE outbox ADD COLUMN refs TEXT;
ALTER TABLE outbox ADD COLUMN auto_submitted TEXT;
-- A message the mail server refused for good (a 5xx): not tried again,
-- and not counted as a backlog by /readyz; the outbox page shows it.
ALTER TABLE outbox ADD COLUMN gave_up_at BIGINT;

-- One instance at a time reads a mailbox: the holder renews its lease, and
-- another takes it over once it has run out. The holder also writes how
-- the mailbox is doing, for the status page.
CREATE TABLE mailbox_leases (
    mailbox TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    state TEXT NOT NULL,
    detail TEXT NOT NULL,
    checked_at BIGINT NOT NULL,
    failures BIGINT NOT NULL
);
