-- SQLite's migration 0017 gives each kind of search document an id range of
-- its own; PostgreSQL searches through its GIN index and needs none. Both
-- build the records' index again at open (what an engagement is found by
-- grew to its skipped steps' reasons and workshops' locations).
DELETE FROM search_built;
