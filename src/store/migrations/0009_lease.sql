-- Who delivers a sink's events: one process at a time. A lease is taken in
-- a write transaction, renewed while its holder runs, and lapses at
-- expires_at, so a holder that died without releasing it is replaced.
CREATE TABLE sink_lease (
    sink       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,    -- unique to one process's life
    role       TEXT NOT NULL,    -- 'daemon' or 'check'
    pid        INTEGER NOT NULL,
    boot_id    TEXT NOT NULL,    -- the kernel's boot id: a pid means nothing after a reboot
    pid_ns     TEXT NOT NULL,    -- the pid namespace the pid is counted in
    expires_at TEXT NOT NULL
);
