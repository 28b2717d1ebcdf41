//! Long text stored zstd-compressed when that saves space; the `packed`
//! column of a version says which of its text columns are.

use rusqlite::types::{ToSqlOutput, ValueRef};

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
    Packed(Vec<u8>),
}

impl Stored<'_> {
    pub(super) fn is_packed(&self) -> bool {
        matches!(self, Stored::Packed(_))
    }
}

impl rusqlite::ToSql for Stored<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Stored::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Stored::Packed(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

/// Compresses text, keeping one compression context for every call:
/// setting one up costs about as much as compressing a story.
pub(crate) struct Packer {
    compressor: Option<zstd::bulk::Compressor<'static>>,
}

impl Packer {
    pub(super) fn new() -> Packer {
        Packer {
            compressor: zstd::bulk::Compressor::new(LEVEL).ok(),
        }
    }

    /// Compresses `text` when it is long and the frame is at least a tenth smaller.
    pub(super) fn pack<'a>(&mut self, text: &'a str) -> Stored<'a> {
        let Some(compressor) = self
            .compressor
            .as_mut()
            .filter(|_| text.len() >= MIN_PACKED)
        else {
            return Stored::Text(text);
        };
        match compressor.compress(text.as_bytes()) {
            Ok(frame) if frame.len() * 10 <= text.len() * 9 => Stored::Packed(frame),
            _ => Stored::Text(text),
        }
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
        let stored = Packer::new().pack(&text);
        assert!(stored.is_packed());
        let Stored::Packed(frame) = &stored else {
            unreachable!()
        };
        assert!(frame.len() < text.len() / 5);
        let back = unpack(ValueRef::Blob(frame), true).unwrap_or_default();
        assert_eq!(back, text);
    }

    #[test]
    fn short_text_stays_text() {
        let mut packer = Packer::new();
        assert!(!packer.pack("short").is_packed());
        assert!(!packer.pack(&"x".repeat(MIN_PACKED - 1)).is_packed());
    }

    #[test]
    fn a_damaged_frame_is_an_error_not_a_panic() {
        assert!(unpack(ValueRef::Blob(b"not zstd at all"), true).is_err());
        assert!(unpack(ValueRef::Blob(b""), true).is_err());
    }
}
