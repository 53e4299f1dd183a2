-- The first run's one-time link: `serve` prints it while nobody has an
-- account, and it creates the first programme admin. Only a SHA-256 of the
-- token is kept; a link works once and expires.
CREATE TABLE setup_links (
    hash TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
