-- Community questions in the one search (issue 16): a question's
-- document is marked when its category is for members only, so a reader
-- signed out never finds it. The records' index is built again at the next
-- start, with the questions.
ALTER TABLE search_docs ADD COLUMN members_only BIGINT NOT NULL DEFAULT 0;
DELETE FROM search_built WHERE what = 'records';
