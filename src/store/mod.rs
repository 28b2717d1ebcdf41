//! SQLite: the only place that speaks SQL. One file, WAL, migrations by
//! `PRAGMA user_version`; a poll's versions and events land in one transaction.

mod articles;
mod events;
mod items;
mod lease;
mod outbox;
mod pack;
mod retention;
mod shared;
mod sources;
mod sql;

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

pub use articles::{ArticleState, ArticleWrite};
pub use events::NewEvent;
pub use items::VersionRow;
pub use lease::{Holder, Lease, Taken};
pub use pack::Frames;
pub use retention::Pruned;
pub use shared::Shared;
pub use sources::{Outcome, PollRecord, SourceRow, SourceState};

/// How long to wait for another process's hold on the database.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Migrations in order; `user_version` counts how many have run.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_relink.sql"),
    include_str!("migrations/0003_outbox.sql"),
    include_str!("migrations/0004_packed.sql"),
    include_str!("migrations/0005_warning.sql"),
    include_str!("migrations/0006_articles.sql"),
    include_str!("migrations/0007_enclosure.sql"),
    include_str!("migrations/0008_version_rows.sql"),
    include_str!("migrations/0009_lease.sql"),
    include_str!("migrations/0010_held.sql"),
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {path}")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "the database was written by a newer feedwatch (schema {found}, this build knows {known}); upgrade feedwatch"
    )]
    NewerSchema { found: i64, known: i64 },
    #[error("the database is locked by another process")]
    Locked(#[source] rusqlite::Error),
    #[error("database error")]
    Sql(#[source] rusqlite::Error),
    /// SQLite could not grow the database, its write-ahead log or a
    /// temporary file: nothing of the write is kept.
    #[error("disk full: no room to write the database{}{path}", if path.is_empty() { "" } else { " " })]
    DiskFull {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("no source named {0:?} in the database")]
    UnknownSource(String),
    /// Another process recorded a poll of the source after this poll read
    /// its state: that poll's changes are recorded, this one's would repeat them.
    #[error("another feedwatch process polled this source meanwhile; this poll is not recorded")]
    Superseded,
    /// The task working on the database stopped (it panicked, or the
    /// runtime is shutting down).
    #[error("the database task failed")]
    Task(#[source] tokio::task::JoinError),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StoreError::Locked(e)
            }
            Some(rusqlite::ErrorCode::DiskFull) => StoreError::DiskFull {
                path: String::new(),
                source: e,
            },
            _ => StoreError::Sql(e),
        }
    }
}

impl StoreError {
    /// The error, naming the database file where that helps the reader.
    pub fn at(self, path: &Path) -> StoreError {
        match self {
            StoreError::DiskFull { source, .. } => StoreError::DiskFull {
                path: path.display().to_string(),
                source,
            },
            other => other,
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Switches a database to WAL once. Switching needs the database to itself
/// and SQLite answers "busy" at once rather than waiting when another
/// process has it open, as when several commands open a new database
/// together; so wait here, as long as the busy timeout would.
fn use_wal(conn: &Connection) -> rusqlite::Result<()> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
        if mode.eq_ignore_ascii_case("wal") {
            return Ok(());
        }
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(e)
                if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// Typed row id of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourceId(pub i64);

pub struct Store {
    conn: Connection,
    /// The database file, for errors that should name it.
    path: std::path::PathBuf,
}

impl Store {
    /// Opens (creating if needed) and migrates the database.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
        let conn = Connection::open_with_flags(path, flags).map_err(|source| StoreError::Open {
            path: path.display().to_string(),
            source,
        })?;
        Store::setup(conn, path)
    }

    fn setup(conn: Connection, path: &Path) -> Result<Store> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Every statement of a poll stays prepared from one poll to the next.
        conn.set_prepared_statement_cache_capacity(64);
        use_wal(&conn)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Each poll is written in a savepoint of its own; what a savepoint
        // must be able to undo is kept in memory, not in a temporary file
        // made and removed for every batch.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // 1 MiB of pages, not SQLite's 2: a poll touches a few pages of its
        // own source, and the operating system caches the file anyway.
        // Side by side over 1000 feeds: the same CPU, about 1 MB less memory.
        conn.pragma_update(None, "cache_size", -1024)?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// Runs the migrations this database lacks. An up-to-date database is
    /// only read, so a command never waits on the daemon's writes; one that
    /// needs migrating is re-checked inside a write transaction, so processes
    /// opening a new database at the same time migrate it once, in turn.
    fn migrate(&mut self) -> Result<()> {
        let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
        let version = |conn: &rusqlite::Connection| -> Result<i64> {
            let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
            if found > known {
                return Err(StoreError::NewerSchema { found, known });
            }
            Ok(found)
        };
        if version(&self.conn)? == known {
            return Ok(());
        }
        loop {
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let found = version(&tx)?;
            let Some(sql) = usize::try_from(found).ok().and_then(|n| MIGRATIONS.get(n)) else {
                return Ok(());
            };
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", found + 1)?;
            tx.commit()?;
        }
    }

    /// Caps the database at `bytes`, a whole number of pages (`None`: no
    /// cap): a write that would grow it further fails as on a full disk.
    pub fn cap_size(&self, bytes: Option<u64>) -> Result<()> {
        let page: u64 = self
            .conn
            .pragma_query_value(None, "page_size", |r| r.get(0))?;
        // SQLite's own ceiling when there is no cap.
        let pages = bytes.map_or(4_294_967_294, |b| (b / page.max(1)).max(1));
        self.conn.pragma_update(None, "max_page_count", pages)?;
        Ok(())
    }

    #[cfg(test)]
    fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_twice_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("db.sqlite");
        let first = Store::open(&path).map(|s| s.schema_version().ok());
        let second = Store::open(&path).map(|s| s.schema_version().ok());
        assert_eq!(first.ok().flatten(), Some(MIGRATIONS.len() as i64));
        assert_eq!(second.ok().flatten(), Some(MIGRATIONS.len() as i64));
    }

    /// A database from before versions moved to a row-id table keeps
    /// every version, text and compressed text alike.
    #[test]
    fn versions_survive_the_move_to_a_row_id_table() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("db.sqlite");
        let long = "A paragraph about social work. ".repeat(100);
        let frame = zstd::bulk::compress(long.as_bytes(), 1).unwrap_or_else(|e| panic!("{e}"));
        {
            let conn = Connection::open(&path).unwrap_or_else(|e| panic!("{e}"));
            for sql in &MIGRATIONS[..7] {
                conn.execute_batch(sql).unwrap_or_else(|e| panic!("{e}"));
            }
            conn.pragma_update(None, "user_version", 7)
                .unwrap_or_else(|e| panic!("{e}"));
            conn.execute_batch(
                "INSERT INTO source (id, name, url) VALUES (1, 'news', 'https://example.org/feed');
                 INSERT INTO item (id, source_id, key, first_seen, last_seen, last_change,
                                   current_version)
                     VALUES (1, 1, 'story', 't1', 't2', 't2', 2);",
            )
            .unwrap_or_else(|e| panic!("{e}"));
            for (version, content, packed) in [
                (1, rusqlite::types::Value::Text("first".into()), 0),
                (
                    2,
                    rusqlite::types::Value::Blob(frame.clone()),
                    pack::CONTENT,
                ),
            ] {
                conn.execute(
                    "INSERT INTO version (item_id, version, seen_at, title, link, author,
                                          summary, content, article, packed, enclosure_url)
                     VALUES (1, ?1, 't', 'Title', 'https://example.org/1', '', 'sum', ?2, '',
                             ?3, 'https://example.org/a.mp3')",
                    rusqlite::params![version, content, packed],
                )
                .unwrap_or_else(|e| panic!("{e}"));
            }
        }
        let store = Store::open(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(store.schema_version().ok(), Some(MIGRATIONS.len() as i64));
        let versions = store
            .versions_of("news", "story")
            .unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<(u32, &str, &str, &str)> = versions
            .iter()
            .map(|v| {
                let s = &v.snapshot;
                (
                    v.version,
                    s.content.as_str(),
                    s.summary.as_str(),
                    s.enclosure_url.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (2, long.as_str(), "sum", "https://example.org/a.mp3"),
                (1, "first", "sum", "https://example.org/a.mp3")
            ]
        );
        let table: String = store
            .conn
            .query_row(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'version'",
                [],
                |r| r.get(0),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!table.contains("WITHOUT ROWID"), "{table}");
    }

    /// Events stored before held-back events existed are all raised ones.
    #[test]
    fn events_from_before_held_back_events_stay_in_reports() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("db.sqlite");
        {
            let conn = Connection::open(&path).unwrap_or_else(|e| panic!("{e}"));
            for sql in &MIGRATIONS[..9] {
                conn.execute_batch(sql).unwrap_or_else(|e| panic!("{e}"));
            }
            conn.pragma_update(None, "user_version", 9)
                .unwrap_or_else(|e| panic!("{e}"));
            conn.execute_batch(
                r#"INSERT INTO source (id, name, url) VALUES (1, 'news', 'https://example.org/feed');
                   INSERT INTO event (id, source_id, type, created_at, payload)
                   VALUES ('evt_1', 1, 'source.recovered', '2026-11-23T18:04:05Z',
                           '{"id":"evt_1","type":"source.recovered","timestamp":"2026-11-23T18:04:05Z","source":{"name":"news","url":"https://example.org/feed"}}');"#,
            )
            .unwrap_or_else(|e| panic!("{e}"));
        }
        let store = Store::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let since = chrono::DateTime::UNIX_EPOCH;
        let raised = store.events_since(since, false).unwrap_or_default();
        assert_eq!(raised.len(), 1);
        assert_eq!(raised[0].event.held, None);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("db.sqlite");
        {
            let conn = Connection::open(&path).unwrap_or_else(|e| panic!("{e}"));
            conn.pragma_update(None, "user_version", 99)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        assert!(matches!(
            Store::open(&path),
            Err(StoreError::NewerSchema { found: 99, .. })
        ));
    }
}
