-- The enclosure of each version (a podcast episode, an image): its address
-- and media type, empty when the item has none.
ALTER TABLE version ADD COLUMN enclosure_url TEXT NOT NULL DEFAULT '';
ALTER TABLE version ADD COLUMN enclosure_type TEXT NOT NULL DEFAULT '';
