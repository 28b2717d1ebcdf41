-- Versions move to a table keyed by row id, with (item_id, version) as a
-- unique index. A version is a few KiB; in the index-ordered table most
-- of each row spilled to overflow pages and every insert rebalanced wide
-- leaves, where a row-id table appends it to a page or two.
CREATE TABLE version_rows (
    item_id        INTEGER NOT NULL REFERENCES item(id) ON DELETE CASCADE,
    version        INTEGER NOT NULL,
    seen_at        TEXT NOT NULL,
    title          TEXT NOT NULL,
    link           TEXT NOT NULL,
    published      TEXT,
    updated        TEXT,
    author         TEXT NOT NULL,
    summary        TEXT NOT NULL,
    content        TEXT NOT NULL,
    article        TEXT NOT NULL,
    packed         INTEGER NOT NULL DEFAULT 0,
    enclosure_url  TEXT NOT NULL DEFAULT '',
    enclosure_type TEXT NOT NULL DEFAULT '',
    UNIQUE (item_id, version)
);
INSERT INTO version_rows (item_id, version, seen_at, title, link, published, updated, author,
                          summary, content, article, packed, enclosure_url, enclosure_type)
    SELECT item_id, version, seen_at, title, link, published, updated, author,
           summary, content, article, packed, enclosure_url, enclosure_type
    FROM version;
DROP TABLE version;
ALTER TABLE version_rows RENAME TO version;
