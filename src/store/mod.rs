//! SQLite: the only place that speaks SQL. One file, WAL, migrations by
//! `PRAGMA user_version`; a poll's versions and events land in one transaction.

mod events;
mod items;
mod outbox;
mod sources;

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

pub use events::{DeliveryRow, EventRow, NewEvent};
pub use items::{ItemRow, VersionRow};
pub use outbox::{DeliveryListing, DueDelivery};
pub use sources::{Moved, Outcome, PollRecord, SourceRow, SourceState};

/// Migrations in order; `user_version` counts how many have run.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_relink.sql"),
    include_str!("migrations/0003_outbox.sql"),
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
    #[error("no source named {0:?} in the database")]
    UnknownSource(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StoreError::Locked(e)
            }
            _ => StoreError::Sql(e),
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Typed row id of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourceId(pub i64);

pub struct Store {
    conn: Connection,
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
        Store::setup(conn)
    }

    /// An in-memory database, for tests.
    pub fn open_in_memory() -> Result<Store> {
        Store::setup(Connection::open_in_memory()?)
    }

    fn setup(conn: Connection) -> Result<Store> {
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut store = Store { conn };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<()> {
        let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
        let found: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        if found > known {
            return Err(StoreError::NewerSchema { found, known });
        }
        for (n, sql) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(found).unwrap_or(0))
        {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", n + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Answers a trivial query: used as a health check.
    pub fn ping(&self) -> Result<()> {
        self.conn.query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    pub fn schema_version(&self) -> Result<i64> {
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
