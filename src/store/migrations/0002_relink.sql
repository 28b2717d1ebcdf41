-- Permanent redirects: where the source was last sent, how many polls in a
-- row, and the address polled instead of the configured one once confirmed.
ALTER TABLE source ADD COLUMN moved_to TEXT;
ALTER TABLE source ADD COLUMN moved_seen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE source ADD COLUMN effective_url TEXT;
