//! Our own types as SQLite values, so no query formats or parses them by
//! hand (as cargo's `util/sqlite.rs` stores its own).

use chrono::{DateTime, Utc};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

use crate::event::format_time;
use crate::source::SourceKind;

/// A moment as stored: RFC 3339 in UTC to the second, so that text order
/// is time order and SQL can compare stored moments directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp(pub DateTime<Utc>);

impl ToSql for Stamp {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(format_time(self.0)))
    }
}

impl FromSql for Stamp {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        DateTime::parse_from_rfc3339(text)
            .map(|t| Stamp(t.with_timezone(&Utc)))
            .map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

impl ToSql for SourceKind {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for SourceKind {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        match value.as_str()? {
            "feed" => Ok(SourceKind::Feed),
            "page" => Ok(SourceKind::Page),
            "json" => Ok(SourceKind::Json),
            other => Err(FromSqlError::Other(
                format!("{other:?} is not a kind of source").into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;

    fn round_trip<T: ToSql + FromSql>(value: &T) -> (String, T) {
        let conn = Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        conn.query_row("SELECT ?1, ?1", [value], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn moments_are_stored_as_rfc3339_text_and_read_back() {
        let at = DateTime::parse_from_rfc3339("2026-11-23T18:04:05Z")
            .map(|t| Stamp(t.with_timezone(&Utc)))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(round_trip(&at), ("2026-11-23T18:04:05Z".to_string(), at));
    }

    #[test]
    fn kinds_are_stored_by_name_and_an_unknown_one_is_an_error() {
        assert_eq!(
            round_trip(&SourceKind::Page),
            ("page".into(), SourceKind::Page)
        );
        assert_eq!(
            round_trip(&SourceKind::Feed),
            ("feed".into(), SourceKind::Feed)
        );
        let conn = Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        let read = conn.query_row("SELECT 'podcast'", [], |r| r.get::<_, SourceKind>(0));
        assert!(read.is_err());
    }
}
