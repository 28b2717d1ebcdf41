-- Sources are known by their configured name; the row keeps fetch state.
CREATE TABLE source (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT NOT NULL UNIQUE,
    url                  TEXT NOT NULL,
    kind                 TEXT,
    etag                 BLOB,
    last_modified        BLOB,
    last_poll            TEXT,
    last_success         TEXT,
    last_outcome         TEXT,
    last_error           TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    failing              INTEGER NOT NULL DEFAULT 0,
    next_due             TEXT,
    baselined            INTEGER NOT NULL DEFAULT 0,
    polls                INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE item (
    id              INTEGER PRIMARY KEY,
    source_id       INTEGER NOT NULL REFERENCES source(id) ON DELETE CASCADE,
    key             TEXT NOT NULL,
    first_seen      TEXT NOT NULL,
    last_seen       TEXT NOT NULL,
    last_change     TEXT NOT NULL,
    present         INTEGER NOT NULL DEFAULT 1,
    position        INTEGER,
    published       TEXT,
    current_version INTEGER NOT NULL,
    UNIQUE (source_id, key)
);

-- Every distinct version of every item, never rewritten.
CREATE TABLE version (
    item_id   INTEGER NOT NULL REFERENCES item(id) ON DELETE CASCADE,
    version   INTEGER NOT NULL,
    seen_at   TEXT NOT NULL,
    title     TEXT NOT NULL,
    link      TEXT NOT NULL,
    published TEXT,
    updated   TEXT,
    author    TEXT NOT NULL,
    summary   TEXT NOT NULL,
    content   TEXT NOT NULL,
    article   TEXT NOT NULL,
    PRIMARY KEY (item_id, version)
) WITHOUT ROWID;

-- The outbox: events are written with the versions that caused them.
CREATE TABLE event (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    source_id  INTEGER NOT NULL REFERENCES source(id) ON DELETE CASCADE,
    type       TEXT NOT NULL,
    item_key   TEXT,
    created_at TEXT NOT NULL,
    payload    TEXT NOT NULL
);
CREATE INDEX event_by_source ON event (source_id, seq);
CREATE INDEX event_by_time ON event (created_at);

-- One row per event and sink that should receive it.
CREATE TABLE delivery (
    event_seq    INTEGER NOT NULL REFERENCES event(seq) ON DELETE CASCADE,
    sink         TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending',
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt TEXT,
    last_error   TEXT,
    delivered_at TEXT,
    PRIMARY KEY (event_seq, sink)
);
CREATE INDEX delivery_pending ON delivery (sink, state, event_seq);
