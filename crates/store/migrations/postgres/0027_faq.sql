-- The community's FAQ (issue 16): a question and its accepted answer that
-- the programme promoted. Each entry is a knowledge article (one markdown
-- store, versions and publishing for both); this table says which
-- articles are FAQ entries, which question each came from, and their order.
CREATE TABLE faq_entries (
    article_id BIGINT PRIMARY KEY REFERENCES articles (id),
    topic_id BIGINT NOT NULL UNIQUE REFERENCES community_topics (id),
    position BIGINT NOT NULL
);
CREATE INDEX faq_entries_position ON faq_entries (position);
