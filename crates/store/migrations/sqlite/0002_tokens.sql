-- Personal access tokens for the API. Only a SHA-256 of each token is kept:
-- tokens are 256 random bits, so a fast hash is as strong as a slow one here.
CREATE TABLE tokens (
    hash TEXT PRIMARY KEY,
    person_id BIGINT NOT NULL REFERENCES people (id),
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
