-- One search across everything (issue 17). `search_docs` holds each
-- record's searchable text with what access needs (its agency and
-- engagement); `search_fts` is SQLite FTS5 over it, kept in step by the
-- triggers. Kinds: guide, article, engagement, agency, enquiry; `ref` is
-- the page's slug or the record's id. The store fills the records' rows at
-- open when `search_built` says they were never built.
CREATE TABLE search_docs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    ref TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    agency_id BIGINT,
    engagement_id BIGINT,
    UNIQUE (kind, ref)
);
CREATE VIRTUAL TABLE search_fts USING fts5(
    title, body,
    content = 'search_docs', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER search_docs_ai AFTER INSERT ON search_docs BEGIN
    INSERT INTO search_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
END;
CREATE TRIGGER search_docs_ad AFTER DELETE ON search_docs BEGIN
    INSERT INTO search_fts (search_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
END;
CREATE TRIGGER search_docs_au AFTER UPDATE ON search_docs BEGIN
    INSERT INTO search_fts (search_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
    INSERT INTO search_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
END;
CREATE TABLE search_built (
    what TEXT PRIMARY KEY,
    built_at BIGINT NOT NULL
);
