-- An enquiry's content (who sent it, what it says, its attachments' hashes)
-- is bound into its audit chain by hash: new enquiries in their "received"
-- event, older ones by a "sealed" event that `Store::migrate` appends once,
-- for every row where this column is still empty. Keep in step with the
-- other backend's migrations.
ALTER TABLE enquiries ADD COLUMN content_hash TEXT;
