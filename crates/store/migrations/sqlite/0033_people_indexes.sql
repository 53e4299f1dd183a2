-- Finding what one person did (the download of everything held about them,
-- store::privacy) seeks these instead of reading whole chains.
CREATE INDEX events_actor ON events (actor_id);
CREATE INDEX enquiry_events_actor ON enquiry_events (actor_id);
CREATE INDEX community_events_actor ON community_events (actor_id);
CREATE INDEX community_posts_author ON community_posts (author_id);
