-- Knowledge articles and blueprint releases (issue 17). An article's row is
-- its working copy; every published version is kept in article_versions,
-- and readers see the newest one while the article is published.
-- One answer per reader in article_feedback.
CREATE TABLE articles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slug TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    body TEXT NOT NULL,
    tags TEXT NOT NULL,
    review_by TEXT NOT NULL,
    owner_id BIGINT NOT NULL REFERENCES people (id),
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX articles_review ON articles (status, review_by);
CREATE TABLE article_versions (
    article_id BIGINT NOT NULL REFERENCES articles (id),
    number BIGINT NOT NULL,
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    body TEXT NOT NULL,
    tags TEXT NOT NULL,
    published_by BIGINT NOT NULL REFERENCES people (id),
    published_at BIGINT NOT NULL,
    PRIMARY KEY (article_id, number)
);
CREATE TABLE article_feedback (
    article_id BIGINT NOT NULL REFERENCES articles (id),
    person_id BIGINT NOT NULL REFERENCES people (id),
    helpful BIGINT NOT NULL,
    comment TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (article_id, person_id)
);
CREATE TABLE blueprint_releases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    version TEXT NOT NULL UNIQUE,
    released_on TEXT NOT NULL,
    notes TEXT NOT NULL,
    link TEXT NOT NULL,
    recorded_by BIGINT NOT NULL REFERENCES people (id),
    recorded_at BIGINT NOT NULL
);
