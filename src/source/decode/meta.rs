//! The HTML standard's prescan of the first bytes of a page for a `<meta>`
//! that names its encoding, followed step for step so pages decode the way a
//! browser decodes them.

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252, X_USER_DEFINED};

use super::{PRESCAN, find, prefix, starts_with_ignore_case};

/// The encoding a `<meta charset>` or `<meta http-equiv="Content-Type"
/// content="…; charset=…">` in the first 1024 bytes names.
pub(super) fn charset(bytes: &[u8]) -> Option<&'static Encoding> {
    let b = prefix(bytes, PRESCAN);
    let mut i = 0;
    while let Some(rest) = b.get(i..).filter(|rest| !rest.is_empty()) {
        if rest.starts_with(b"<!--") {
            // `<!-->` is a whole comment: its closing dashes may be the opening ones.
            i += 2 + find(&rest[2..], b"-->")? + 2;
        } else if starts_with_ignore_case(rest, b"<meta")
            && rest.get(5).is_some_and(|&c| is_space(c) || c == b'/')
        {
            i += 5;
            if let Some(encoding) = meta_tag(b, &mut i) {
                return Some(encoding);
            }
        } else if opens_tag(rest) {
            i += rest.iter().position(|&c| is_space(c) || c == b'>')?;
            while attribute(b, &mut i).is_some() {}
        } else if rest.starts_with(b"<!") || rest.starts_with(b"</") || rest.starts_with(b"<?") {
            i += rest.iter().position(|&c| c == b'>')?;
        }
        i += 1;
    }
    None
}

fn opens_tag(rest: &[u8]) -> bool {
    match rest {
        [b'<', c, ..] if c.is_ascii_alphabetic() => true,
        [b'<', b'/', c, ..] => c.is_ascii_alphabetic(),
        _ => false,
    }
}

/// The attributes of one `<meta>` tag, and the encoding they declare.
fn meta_tag(b: &[u8], i: &mut usize) -> Option<&'static Encoding> {
    let mut seen: Vec<Vec<u8>> = Vec::new();
    let mut got_pragma = false;
    let mut need_pragma = None;
    let mut charset = None;
    while let Some((name, value)) = attribute(b, i) {
        if seen.contains(&name) {
            continue;
        }
        match name.as_slice() {
            b"http-equiv" => got_pragma |= value == b"content-type",
            b"content" if charset.is_none() => {
                if let Some(encoding) = charset_in_content(&value).and_then(Encoding::for_label) {
                    charset = Some(encoding);
                    need_pragma = Some(true);
                }
            }
            b"charset" => {
                charset = Encoding::for_label(&value);
                need_pragma = Some(false);
            }
            _ => {}
        }
        seen.push(name);
    }
    let need_pragma = need_pragma?;
    if need_pragma && !got_pragma {
        return None;
    }
    // A page whose meta could be read as ASCII is not UTF-16, whatever it says.
    match charset? {
        e if e == UTF_16LE || e == UTF_16BE => Some(UTF_8),
        e if e == X_USER_DEFINED => Some(WINDOWS_1252),
        e if e == encoding_rs::REPLACEMENT => None,
        e => Some(e),
    }
}

/// One attribute of a tag, names and values lower-cased; `None` at the end of
/// the tag or of the prescanned bytes.
fn attribute(b: &[u8], i: &mut usize) -> Option<(Vec<u8>, Vec<u8>)> {
    while b.get(*i).is_some_and(|&c| is_space(c) || c == b'/') {
        *i += 1;
    }
    if *b.get(*i)? == b'>' {
        return None;
    }
    let mut name = Vec::new();
    loop {
        let c = *b.get(*i)?;
        match c {
            b'=' if !name.is_empty() => {
                *i += 1;
                break;
            }
            c if is_space(c) => {
                while b.get(*i).is_some_and(|&c| is_space(c)) {
                    *i += 1;
                }
                if *b.get(*i)? != b'=' {
                    return Some((name, Vec::new()));
                }
                *i += 1;
                break;
            }
            b'/' | b'>' => return Some((name, Vec::new())),
            c => name.push(c.to_ascii_lowercase()),
        }
        *i += 1;
    }
    attribute_value(b, i).map(|value| (name, value))
}

fn attribute_value(b: &[u8], i: &mut usize) -> Option<Vec<u8>> {
    while b.get(*i).is_some_and(|&c| is_space(c)) {
        *i += 1;
    }
    let mut value = Vec::new();
    let first = *b.get(*i)?;
    match first {
        b'"' | b'\'' => {
            let len = b.get(*i + 1..)?.iter().position(|&c| c == first)?;
            value.extend(b[*i + 1..*i + 1 + len].iter().map(u8::to_ascii_lowercase));
            *i += len + 2;
            return Some(value);
        }
        b'>' => return Some(value),
        _ => {}
    }
    loop {
        let c = *b.get(*i)?;
        if is_space(c) || c == b'>' {
            return Some(value);
        }
        value.push(c.to_ascii_lowercase());
        *i += 1;
    }
}

/// The label in a `content` value such as `text/html; charset=iso-8859-1`.
fn charset_in_content(s: &[u8]) -> Option<&[u8]> {
    let mut from = 0;
    loop {
        let rest = s.get(from..)?;
        let after = from + find_ignore_case(rest, b"charset")? + "charset".len();
        let i = after + count_spaces(s.get(after..)?);
        if s.get(i) != Some(&b'=') {
            from = i;
            continue;
        }
        let value = s.get(i + 1..)?;
        let value = value.get(count_spaces(value)..)?;
        return match *value.first()? {
            q @ (b'"' | b'\'') => {
                let inner = value.get(1..)?;
                inner.get(..inner.iter().position(|&c| c == q)?)
            }
            _ => {
                let end = value
                    .iter()
                    .position(|&c| is_space(c) || c == b';')
                    .unwrap_or(value.len());
                value.get(..end)
            }
        };
    }
}

fn find_ignore_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

fn count_spaces(b: &[u8]) -> usize {
    b.iter().take_while(|&&c| is_space(c)).count()
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\x0C' | b'\r')
}
