-- Each kind's documents take ids in a range of their own (the store's
-- `kind_range`), so that a search of one kind reads the full-text index
-- alone, and the index ranks by bm25 with the title weighted above the body.
-- The index is derived: emptied here, it is built again at open.
DELETE FROM search_docs;
DELETE FROM search_built;
INSERT INTO search_fts (search_fts, rank) VALUES ('rank', 'bm25(8.0, 1.0)');
