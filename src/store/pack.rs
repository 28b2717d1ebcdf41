//! Long text stored zstd-compressed when that saves space; the `packed`
//! column of a version says which of its text columns are.

use rusqlite::types::{ToSqlOutput, ValueRef};

use std::sync::{Mutex, MutexGuard};

use zstd::bulk::Compressor;

use crate::detect::Snapshot;

/// Text shorter than this is stored as it is: compressing it rarely pays.
const MIN_PACKED: usize = 1024;

/// Compression level: the fast end, since every new version passes here.
const LEVEL: i32 = 1;

/// The largest text a stored frame may claim to hold; anything larger is a
/// damaged row, refused rather than allocated.
const MAX_UNPACKED: u64 = 256 * 1024 * 1024;

/// The text columns of a version, each with its bit in `packed`.
pub(super) const SUMMARY: i64 = 1;
pub(super) const CONTENT: i64 = 2;
pub(super) const ARTICLE: i64 = 4;

/// A text column's value as written: the text, or its compressed frame.
pub(super) enum Stored<'a> {
    Text(&'a str),
    Packed(&'a [u8]),
}

impl rusqlite::ToSql for Stored<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Stored::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Stored::Packed(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

/// Compression contexts kept between calls, one per thread compressing at
/// the moment: setting one up costs about as much as compressing a story.
static COMPRESSORS: Mutex<Vec<Compressor<'static>>> = Mutex::new(Vec::new());

fn compressors() -> MutexGuard<'static, Vec<Compressor<'static>>> {
    crate::sync::lock(&COMPRESSORS)
}

/// The frame `text` is stored as, when it is long and the frame is at
/// least a tenth smaller; `None` stores it as it is.
fn frame(text: &str) -> Option<Vec<u8>> {
    if text.len() < MIN_PACKED {
        return None;
    }
    let taken = compressors().pop();
    let mut compressor = match taken {
        Some(c) => c,
        None => Compressor::new(LEVEL).ok()?,
    };
    let frame = compressor.compress(text.as_bytes()).ok();
    compressors().push(compressor);
    frame.filter(|f| f.len() * 10 <= text.len() * 9)
}

/// The long texts of one version, compressed before the write: the poll
/// does it on its own thread, so the writer, which holds the database,
/// only stores them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frames {
    summary: Option<Vec<u8>>,
    content: Option<Vec<u8>>,
    article: Option<Vec<u8>>,
}

impl Frames {
    pub fn of(snapshot: &Snapshot) -> Frames {
        Frames {
            summary: frame(&snapshot.summary),
            content: frame(&snapshot.content),
            article: frame(&snapshot.article),
        }
    }

    /// The `packed` bits of a version stored with these frames.
    pub(super) fn bits(&self) -> i64 {
        [
            (&self.summary, SUMMARY),
            (&self.content, CONTENT),
            (&self.article, ARTICLE),
        ]
        .iter()
        .filter(|(f, _)| f.is_some())
        .fold(0, |bits, (_, bit)| bits | bit)
    }

    /// The three text columns as written, in order: summary, content, article.
    pub(super) fn columns<'a>(&'a self, snapshot: &'a Snapshot) -> [Stored<'a>; 3] {
        let stored = |frame: &'a Option<Vec<u8>>, text: &'a str| match frame {
            Some(frame) => Stored::Packed(frame),
            None => Stored::Text(text),
        };
        [
            stored(&self.summary, &snapshot.summary),
            stored(&self.content, &snapshot.content),
            stored(&self.article, &snapshot.article),
        ]
    }
}

/// Reads a text column back, decompressing it when its bit is set.
pub(super) fn unpack(value: ValueRef<'_>, packed: bool) -> rusqlite::Result<String> {
    if !packed {
        return value.as_str().map(str::to_string).map_err(Into::into);
    }
    let frame = value.as_blob()?;
    let size = zstd::zstd_safe::get_frame_content_size(frame)
        .ok()
        .flatten()
        .filter(|n| *n <= MAX_UNPACKED)
        .ok_or_else(|| damaged("the compressed text has no usable size"))?;
    let bytes = zstd::bulk::decompress(frame, usize::try_from(size).unwrap_or(0))
        .map_err(|e| damaged(&format!("the compressed text cannot be read: {e}")))?;
    String::from_utf8(bytes).map_err(|e| damaged(&format!("the stored text is not UTF-8: {e}")))
}

fn damaged(why: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Blob,
        Box::<dyn std::error::Error + Send + Sync>::from(why.to_string()),
    )
}

/// Reads a column that may be packed, given the row's `packed` bits.
pub(super) fn column(
    r: &rusqlite::Row,
    at: usize,
    bits: i64,
    bit: i64,
) -> rusqlite::Result<String> {
    unpack(r.get_ref(at)?, bits & bit != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_repetitive_text_is_packed_and_comes_back() {
        let text = "A paragraph about social work. ".repeat(200);
        let snapshot = Snapshot {
            content: text.clone(),
            ..Snapshot::default()
        };
        let frames = Frames::of(&snapshot);
        assert_eq!(frames.bits(), CONTENT);
        let Some(frame) = &frames.content else {
            panic!("the content was not packed")
        };
        assert!(frame.len() < text.len() / 5);
        let back = unpack(ValueRef::Blob(frame), true).unwrap_or_default();
        assert_eq!(back, text);
    }

    #[test]
    fn short_text_stays_text() {
        assert_eq!(frame("short"), None);
        assert_eq!(frame(&"x".repeat(MIN_PACKED - 1)), None);
    }

    #[test]
    fn a_damaged_frame_is_an_error_not_a_panic() {
        assert!(unpack(ValueRef::Blob(b"not zstd at all"), true).is_err());
        assert!(unpack(ValueRef::Blob(b""), true).is_err());
    }
}
