//! Fetched documents turned into UTF-8 text before any parser reads them.
//!
//! feed-rs reads the encoding from the XML declaration itself and panics when
//! that declaration comes late or disagrees with what it already sniffed, so it
//! is only ever handed UTF-8 whose declaration, if any, says so and sits at the
//! very start. The encoding is chosen the way browsers and XML processors agree
//! on: a byte order mark first, then what the server said, then what the
//! document says about itself, then statistics.

mod meta;

use std::borrow::Cow;

use chardetng::{EncodingDetector, Iso2022JpDetection, Utf8Detection};
use encoding_rs::{Encoding, REPLACEMENT, UTF_8, UTF_16BE, UTF_16LE};

/// Which rule decided the encoding, for diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    /// A byte order mark at the start of the body.
    Bom,
    /// The `charset` parameter of the HTTP `Content-Type`.
    HttpCharset,
    /// The `encoding` of the document's `<?xml …?>` declaration.
    XmlDeclaration,
    /// An HTML `<meta charset>` or `<meta http-equiv="Content-Type">`.
    MetaCharset,
    /// The bytes themselves: a UTF-16 pattern at the start of an XML
    /// document, or statistical detection of a legacy encoding.
    Detected,
    /// The default: the body is UTF-8 (or ASCII), or nearly all of it is.
    Utf8,
}

/// A document as UTF-8 text, and how its encoding was found.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The document in UTF-8, without a byte order mark.
    pub text: String,
    /// The encoding the bytes were read as (ISO-8859-1 is read as windows-1252).
    pub encoding: &'static Encoding,
    pub decided: Decided,
    /// Some bytes were not valid in `encoding` and became U+FFFD.
    pub had_errors: bool,
}

/// The only declaration a parser downstream ever sees.
const UTF8_DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// How far into a document a declaration, a meta tag or a UTF-16 pattern is
/// looked for: the HTML standard's prescan length, ample for an XML prolog.
const PRESCAN: usize = 1024;

/// How many bytes, counted from the first non-ASCII one, statistical detection
/// reads: enough to decide, and a huge body costs no more than a modest one.
const DETECTION_WINDOW: usize = 1 << 20;

/// An encoding choice and the length of the byte order mark it implies.
struct Choice {
    encoding: &'static Encoding,
    decided: Decided,
    bom_len: usize,
}

impl Choice {
    fn new(encoding: &'static Encoding, decided: Decided) -> Choice {
        Choice {
            encoding,
            decided,
            bom_len: 0,
        }
    }
}

/// Decodes an XML (feed) document to UTF-8 and rewrites its prolog so a parser
/// reading the bytes sees `<?xml version="1.0" encoding="UTF-8"?>` (or no declaration)
/// at the very start: the BOM is removed, leading whitespace before the declaration
/// is removed, and any encoding pseudo-attribute says UTF-8.
///
/// Order: BOM → UTF-16 byte pattern (`<\0` / `\0<`) → HTTP charset → XML
/// declaration → detection. A declared UTF-16 on bytes that are plainly 8-bit,
/// and labels that decode everything to one U+FFFD, are ignored.
pub fn xml_to_utf8(bytes: &[u8], content_type: Option<&str>) -> Decoded {
    let choice = bom(bytes)
        .or_else(|| utf16_pattern(bytes).map(|e| Choice::new(e, Decided::Detected)))
        .or_else(|| labelled(http_charset(content_type), bytes, Decided::HttpCharset))
        .or_else(|| labelled(declared_encoding(bytes), bytes, Decided::XmlDeclaration))
        .unwrap_or_else(|| sniff(bytes));
    let (text, had_errors) = decode(bytes, &choice);
    Decoded {
        text: rewrite_prolog(text),
        encoding: choice.encoding,
        decided: choice.decided,
        had_errors,
    }
}

/// Same order for HTML: BOM → HTTP charset → `<meta charset>` / `<meta http-equiv
/// content="…charset=…">` in the first 1024 bytes → chardetng → UTF-8. No prolog rewriting.
pub fn html_to_utf8(bytes: &[u8], content_type: Option<&str>) -> Decoded {
    let choice = bom(bytes)
        .or_else(|| labelled(http_charset(content_type), bytes, Decided::HttpCharset))
        .or_else(|| meta::charset(bytes).map(|e| Choice::new(e, Decided::MetaCharset)))
        .unwrap_or_else(|| sniff(bytes));
    let (text, had_errors) = decode(bytes, &choice);
    Decoded {
        text: without_leading_bom(text),
        encoding: choice.encoding,
        decided: choice.decided,
        had_errors,
    }
}

/// Removes a DOCTYPE declaration with its internal subset, so no entity it defines can expand
/// and no external entity is ever resolved; returns the text unchanged when there is none.
///
/// Only the prolog is searched, since a DOCTYPE is markup nowhere else. An
/// unterminated DOCTYPE takes the rest of the text with it, as it would in any
/// conforming parser.
pub fn strip_doctype(xml: &str) -> Cow<'_, str> {
    let spans = doctype_spans(xml.as_bytes());
    if spans.is_empty() {
        return Cow::Borrowed(xml);
    }
    let removed: usize = spans.iter().map(|(start, end)| end - start).sum();
    let mut out = String::with_capacity(xml.len().saturating_sub(removed));
    let mut kept_from = 0;
    // Every span starts at `<` and ends after `>` or at the end, so both are char boundaries.
    for &(start, end) in &spans {
        out.push_str(xml.get(kept_from..start).unwrap_or_default());
        kept_from = end;
    }
    out.push_str(xml.get(kept_from..).unwrap_or_default());
    Cow::Owned(out)
}

fn decode<'a>(bytes: &'a [u8], choice: &Choice) -> (Cow<'a, str>, bool) {
    let body = bytes.get(choice.bom_len..).unwrap_or_default();
    choice.encoding.decode_without_bom_handling(body)
}

fn bom(bytes: &[u8]) -> Option<Choice> {
    Encoding::for_bom(bytes).map(|(encoding, bom_len)| Choice {
        encoding,
        decided: Decided::Bom,
        bom_len,
    })
}

fn labelled(label: Option<&'static Encoding>, bytes: &[u8], decided: Decided) -> Option<Choice> {
    label
        .and_then(|encoding| usable(encoding, bytes))
        .map(|encoding| Choice::new(encoding, decided))
}

/// A label is only believed when the bytes can be in it: UTF-16 needs its
/// zero bytes, and the replacement encoding would turn a whole page into one
/// U+FFFD, which protects browsers from script injection but only loses a
/// monitor its text.
fn usable(encoding: &'static Encoding, bytes: &[u8]) -> Option<&'static Encoding> {
    if encoding == UTF_16LE || encoding == UTF_16BE {
        utf16_pattern(bytes)
    } else if encoding == REPLACEMENT {
        None
    } else {
        Some(encoding)
    }
}

/// UTF-16 without a byte order mark, recognised from markup (optionally
/// after whitespace) whose ASCII bytes are paired with zeros.
fn utf16_pattern(bytes: &[u8]) -> Option<&'static Encoding> {
    for pair in prefix(bytes, PRESCAN).chunks_exact(2) {
        match *pair {
            [b'<', 0] => return Some(UTF_16LE),
            [0, b'<'] => return Some(UTF_16BE),
            [s, 0] | [0, s] if is_xml_space(s) => {}
            _ => return None,
        }
    }
    None
}

/// The `charset` parameter of a Content-Type value, quoted or not.
fn http_charset(content_type: Option<&str>) -> Option<&'static Encoding> {
    content_type?.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
        Encoding::for_label(value.as_bytes())
    })
}

/// The encoding named by an XML declaration read as ASCII, which is how any
/// 8-bit encoding spells it.
fn declared_encoding(bytes: &[u8]) -> Option<&'static Encoding> {
    let start = bytes.iter().position(|&b| !is_xml_space(b))?;
    let candidate = prefix(bytes.get(start..)?, PRESCAN);
    let end = declaration_end(candidate)?;
    pseudo_attribute(candidate.get(..end)?, b"encoding").and_then(Encoding::for_label)
}

/// The length of an XML declaration at the start of `b`, when there is one.
fn declaration_end(b: &[u8]) -> Option<usize> {
    if !opens_declaration(b) {
        return None;
    }
    // Unbounded, because a parser would read the declaration to the same `?>`.
    find(b, b"?>").map(|at| at + 2)
}

/// `<?xml` followed by whitespace or `?>`, as the parser recognises it.
fn opens_declaration(b: &[u8]) -> bool {
    b.starts_with(b"<?xml")
        && b.get(5..).is_some_and(|rest| {
            rest.starts_with(b"?>") || rest.first().is_some_and(|&c| is_xml_space(c))
        })
}

/// The value of one pseudo-attribute of a declaration; `None` once the
/// declaration stops looking like `name="value"` pairs.
fn pseudo_attribute<'a>(declaration: &'a [u8], wanted: &[u8]) -> Option<&'a [u8]> {
    let mut rest = declaration.get(5..)?;
    loop {
        rest = trim_xml_space(rest);
        let name_len = rest.iter().position(|&b| {
            !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
        })?;
        if name_len == 0 {
            return None;
        }
        let (name, after) = rest.split_at(name_len);
        let after = trim_xml_space(trim_xml_space(after).strip_prefix(b"=")?);
        let (&quote, after) = after.split_first()?;
        if quote != b'"' && quote != b'\'' {
            return None;
        }
        let value_len = after.iter().position(|&b| b == quote)?;
        if name == wanted {
            return after.get(..value_len);
        }
        rest = after.get(value_len + 1..)?;
    }
}

/// No declaration and no BOM: valid UTF-8 is UTF-8; otherwise chardetng
/// decides, unless the body is UTF-8 with a few broken bytes.
fn sniff(bytes: &[u8]) -> Choice {
    if Encoding::utf8_valid_up_to(bytes) == bytes.len() {
        return Choice::new(UTF_8, Decided::Utf8);
    }
    // Starting at a non-ASCII byte never splits a character in an ASCII-compatible encoding.
    let start = bytes.iter().position(|b| !b.is_ascii()).unwrap_or_default();
    let end = bytes.len().min(start.saturating_add(DETECTION_WINDOW));
    let sample = bytes.get(start..end).unwrap_or_default();
    if mostly_utf8(sample) {
        return Choice::new(UTF_8, Decided::Utf8);
    }
    let mut detector = EncodingDetector::new(Iso2022JpDetection::Deny);
    detector.feed(sample, end == bytes.len());
    Choice::new(detector.guess(None, Utf8Detection::Deny), Decided::Detected)
}

/// Legacy 8-bit text almost never forms valid multi-byte UTF-8 sequences, so a
/// body with more of those than broken ones is UTF-8 that was damaged.
fn mostly_utf8(sample: &[u8]) -> bool {
    let multibyte = |valid: &[u8]| valid.iter().filter(|&&b| b >= 0xC0).count();
    let (mut valid, mut broken) = (0usize, 0usize);
    let mut rest = sample;
    loop {
        match std::str::from_utf8(rest) {
            Ok(tail) => return valid + multibyte(tail.as_bytes()) > broken,
            Err(e) => {
                valid += multibyte(rest.get(..e.valid_up_to()).unwrap_or_default());
                // A sequence cut by the end of the sample is not evidence either way.
                let Some(len) = e.error_len() else {
                    return valid > broken;
                };
                broken += 1;
                rest = rest.get(e.valid_up_to() + len..).unwrap_or_default();
            }
        }
    }
}

/// Drops a leading BOM and whitespace, makes any declaration the UTF-8 one and
/// removes declarations further on, copying the text at most once in the
/// usual case.
fn rewrite_prolog(text: Cow<'_, str>) -> String {
    let (cut, declaration) = prolog_cut(&text);
    let late = late_declarations(&text, cut);
    if late.is_empty() && text.get(..cut) == Some(declaration) {
        return text.into_owned();
    }
    if late.is_empty()
        && let Cow::Owned(mut s) = text
    {
        // `cut` ends after `?>` or before the first non-space char, so it is a boundary.
        if s.is_char_boundary(cut) {
            s.replace_range(..cut, declaration);
        }
        return s;
    }
    let mut out = String::with_capacity(declaration.len() + text.len());
    out.push_str(declaration);
    let mut kept_from = cut;
    for (start, end) in late {
        out.push_str(text.get(kept_from..start).unwrap_or_default());
        kept_from = end;
    }
    out.push_str(text.get(kept_from..).unwrap_or_default());
    out
}

/// How much of the start to replace, and with what.
fn prolog_cut(text: &str) -> (usize, &'static str) {
    let lead = text
        .char_indices()
        .find(|&(_, c)| !matches!(c, ' ' | '\t' | '\r' | '\n' | '\u{FEFF}'))
        .map_or(text.len(), |(at, _)| at);
    let rest = text.get(lead..).unwrap_or_default();
    match declaration_end(rest.as_bytes()) {
        Some(end) => (lead + end, UTF8_DECLARATION),
        None => (lead, ""),
    }
}

/// Declarations after the prolog: a parser that meets one naming another
/// encoding switches to it mid-stream (feed-rs panics), and one is never
/// valid there. Those inside CDATA sections and comments are text, and stay,
/// and so does all of a JSON feed.
fn late_declarations(text: &str, from: usize) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let rest = text.get(from..).unwrap_or_default();
    if rest.trim_start().starts_with('{') || !rest.contains("<?xml") {
        return spans;
    }
    let mut i = from;
    while let Some(lt) = text.get(i..).and_then(|rest| rest.find('<')) {
        let at = i + lt;
        let rest = text.get(at..).unwrap_or_default();
        let skip = if rest.starts_with("<![CDATA[") {
            rest.find("]]>").map(|end| end + 3)
        } else if rest.starts_with("<!--") {
            rest.get(4..).and_then(|r| r.find("-->")).map(|end| end + 7)
        } else if opens_declaration(rest.as_bytes()) {
            // Without a later `?>` no declaration can close, so nothing after it needs looking at.
            let end = declaration_end(rest.as_bytes());
            if let Some(end) = end {
                spans.push((at, at + end));
            }
            end
        } else {
            Some(1)
        };
        let Some(skip) = skip else { break };
        i = at + skip;
    }
    spans
}

/// A second BOM after the first is decoded as U+FEFF; it is no content.
fn without_leading_bom(text: Cow<'_, str>) -> String {
    let bom_len = text.len() - text.trim_start_matches('\u{FEFF}').len();
    match text {
        Cow::Borrowed(s) => s.get(bom_len..).unwrap_or_default().to_owned(),
        Cow::Owned(mut s) => {
            s.drain(..bom_len);
            s
        }
    }
}

/// Every DOCTYPE in the prolog, as byte ranges.
fn doctype_spans(b: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut i = 0;
    while let Some(lt) = b
        .get(i..)
        .and_then(|rest| rest.iter().position(|&c| c == b'<'))
    {
        let at = i + lt;
        let rest = &b[at..];
        let skip = if rest.starts_with(b"<?") {
            find(&rest[2..], b"?>").map(|end| end + 4)
        } else if rest.starts_with(b"<!--") {
            find(&rest[4..], b"-->").map(|end| end + 7)
        } else if starts_with_ignore_case(rest, b"<!DOCTYPE") {
            let end = at + doctype_len(rest);
            spans.push((at, end));
            Some(end - at)
        } else {
            None
        };
        // An element, a CDATA section or an unterminated comment ends the prolog.
        let Some(skip) = skip else { break };
        i = at + skip;
    }
    spans
}

/// The length of the DOCTYPE declaration at the start of `b`, skipping quoted
/// literals, comments and processing instructions inside its internal subset.
fn doctype_len(b: &[u8]) -> usize {
    let mut in_subset = false;
    let mut i = "<!DOCTYPE".len();
    while let Some(&c) = b.get(i) {
        let rest = &b[i..];
        let skip = match c {
            b'"' | b'\'' => rest[1..].iter().position(|&q| q == c).map(|end| end + 2),
            b'<' if in_subset && rest.starts_with(b"<!--") => {
                find(&rest[4..], b"-->").map(|end| end + 7)
            }
            b'<' if in_subset && rest.starts_with(b"<?") => {
                find(&rest[2..], b"?>").map(|end| end + 4)
            }
            b'[' if !in_subset => {
                in_subset = true;
                Some(1)
            }
            b']' if in_subset => {
                in_subset = false;
                Some(1)
            }
            b'>' if !in_subset => return i + 1,
            _ => Some(1),
        };
        let Some(skip) = skip else { break };
        i += skip;
    }
    b.len()
}

fn is_xml_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn trim_xml_space(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&c| !is_xml_space(c)).unwrap_or(b.len());
    b.get(start..).unwrap_or_default()
}

fn prefix(b: &[u8], len: usize) -> &[u8] {
    b.get(..len).unwrap_or(b)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn starts_with_ignore_case(b: &[u8], prefix: &[u8]) -> bool {
    b.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

#[cfg(test)]
mod tests;
