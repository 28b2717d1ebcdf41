-- A sink the receiver asked us to stop using (HTTP 410), until redeliver or reload.
CREATE TABLE sink_state (
    name        TEXT PRIMARY KEY,
    disabled_at TEXT,
    reason      TEXT
);
