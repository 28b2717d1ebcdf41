//! Feeds put into the shapes feed-rs reads well, before it reads them.
//!
//! One pass over the decoded text repairs what a lenient reader forgives (a
//! bare `&`, an HTML entity XML does not know, a `<` that opens nothing, an
//! end tag out of place, elements left open when the document stops, control
//! characters) and rewrites the older formats into the newer ones feed-rs
//! knows: every RSS 0.9x and RDF document into RSS 2.0, Atom 0.3 into Atom 1.0,
//! CDF into RSS 2.0. A document that needs none of this is passed through
//! without a copy. What was repaired is reported, so a poll can warn about it.
//!
//! Nothing here expands an entity: the named ones are HTML's fixed set, and
//! anything else stays text.

mod atom;
mod cdf;
mod entities;
mod rss;
mod tag;

use std::borrow::Cow;

use entities::{legacy_entity, xml_char};
use tag::StartTag;

/// A document ready for feed-rs, and what had to be repaired in it.
#[derive(Debug)]
pub struct Normalized<'a> {
    pub xml: Cow<'a, str>,
    /// One line each, for `sources`; empty when the document was well formed.
    pub warnings: Vec<String>,
    /// RSS guids marked `isPermaLink="false"`, which are never an item's link.
    pub not_permalinks: Vec<String>,
}

/// Normalises an XML feed (already UTF-8, DOCTYPE removed).
pub fn xml(text: &str) -> Normalized<'_> {
    let (clean, controls) = without_controls(text);
    let (xml, mut repairs, not_permalinks) = match clean {
        Cow::Borrowed(text) => Rewriter::new(text).run(),
        Cow::Owned(text) => {
            let (xml, repairs, not_permalinks) = Rewriter::new(&text).run();
            (Cow::Owned(xml.into_owned()), repairs, not_permalinks)
        }
    };
    repairs.controls = controls;
    Normalized {
        xml,
        warnings: repairs.warnings(),
        not_permalinks,
    }
}

/// How many end tags up the stack an end tag is looked for: enough for any
/// real document, and a flood of stray end tags stays linear.
pub(super) const SEARCH_DEPTH: usize = 256;

/// Past this depth a document is read as it is, unrepaired: no feed nests
/// so deep, and the open elements of a hostile one are not worth holding.
const MAX_DEPTH: usize = 10_000;

/// What a start tag becomes.
#[derive(Debug)]
pub(super) enum Action {
    Keep,
    /// `open` replaces the start tag and `close` its end tag.
    Rename {
        open: String,
        close: String,
    },
    /// The whole element, up to `end`, becomes `text`; `unclosed` when the
    /// document ended before the element did.
    Replace {
        text: String,
        end: usize,
        unclosed: bool,
    },
}

/// The format, decided by the root element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Undecided,
    Rss,
    Rdf,
    Atom {
        legacy: bool,
        ahead: atom::Lookahead,
    },
    Cdf,
    Other,
}

/// An element still open, and what closes it in the output.
pub(super) struct Open<'a> {
    pub name: &'a str,
    pub close: Option<String>,
}

impl Open<'_> {
    fn closing(&self) -> Cow<'_, str> {
        match &self.close {
            Some(close) => Cow::Borrowed(close),
            None => Cow::Owned(format!("</{}>", self.name)),
        }
    }
}

/// Counts of what was repaired.
#[derive(Debug, Default)]
struct Repairs {
    controls: usize,
    bare_ampersands: usize,
    bare_angles: usize,
    html_entities: usize,
    unknown_entities: usize,
    first_unknown: Option<String>,
    bad_char_refs: usize,
    stray_end_tags: usize,
    misnested: usize,
    open_at_end: usize,
    cut_short: bool,
    too_deep: bool,
}

impl Repairs {
    fn warnings(&self) -> Vec<String> {
        if self.too_deep {
            return vec![format!(
                "elements nested more than {MAX_DEPTH} deep: read without repairs"
            )];
        }
        let mut parts = Vec::new();
        let mut count = |n: usize, what: &str| {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        };
        count(self.controls, "control characters removed");
        count(self.bare_ampersands, "bare '&' read as text");
        count(self.bare_angles, "bare '<' read as text");
        count(self.html_entities, "HTML entities decoded");
        count(self.bad_char_refs, "invalid character references replaced");
        count(self.stray_end_tags, "stray end tags dropped");
        count(self.misnested, "elements closed out of order");
        count(self.open_at_end, "elements left open at the end closed");
        if self.unknown_entities > 0 {
            let first = self.first_unknown.as_deref().unwrap_or_default();
            parts.push(format!(
                "{} undeclared entities kept as text (&{first};)",
                self.unknown_entities
            ));
        }
        if self.cut_short {
            parts.push("a cut-off tag at the end dropped".into());
        }
        if parts.is_empty() {
            return Vec::new();
        }
        vec![format!(
            "ill-formed XML read leniently: {}",
            parts.join(", ")
        )]
    }
}

/// Copies the source to the output only once something has to change.
struct Rewriter<'a> {
    src: &'a str,
    out: String,
    copied: usize,
    changed: bool,
    stack: Vec<Open<'a>>,
    dialect: Dialect,
    cdata_open: bool,
    repairs: Repairs,
    not_permalinks: Vec<String>,
}

impl<'a> Rewriter<'a> {
    fn new(src: &'a str) -> Rewriter<'a> {
        Rewriter {
            src,
            out: String::new(),
            copied: 0,
            changed: false,
            stack: Vec::new(),
            dialect: Dialect::Undecided,
            cdata_open: false,
            repairs: Repairs::default(),
            not_permalinks: Vec::new(),
        }
    }

    fn run(mut self) -> (Cow<'a, str>, Repairs, Vec<String>) {
        let bytes = self.src.as_bytes();
        let mut i = 0;
        while let Some(off) = memchr::memchr2(b'<', b'&', bytes.get(i..).unwrap_or_default()) {
            let at = i + off;
            i = if bytes[at] == b'&' {
                self.reference(at)
            } else {
                self.markup(at)
            };
        }
        self.finish()
    }

    /// Writes `with` in place of `src[start..end]`.
    fn replace(&mut self, start: usize, end: usize, with: &str) {
        if !self.changed {
            self.out.reserve(self.src.len() + 64);
            self.changed = true;
        }
        self.out
            .push_str(self.src.get(self.copied..start).unwrap_or_default());
        self.out.push_str(with);
        self.copied = end;
    }

    fn finish(mut self) -> (Cow<'a, str>, Repairs, Vec<String>) {
        if self.repairs.too_deep {
            let repairs = Repairs {
                too_deep: true,
                ..Repairs::default()
            };
            return (Cow::Borrowed(self.src), repairs, Vec::new());
        }
        let len = self.src.len();
        let mut tail = String::new();
        if self.cdata_open {
            tail.push_str("]]>");
        }
        self.repairs.open_at_end += self.stack.len();
        for open in self.stack.iter().rev() {
            tail.push_str(&open.closing());
        }
        if !tail.is_empty() {
            self.replace(len, len, &tail);
        }
        if !self.changed {
            return (Cow::Borrowed(self.src), self.repairs, self.not_permalinks);
        }
        self.out
            .push_str(self.src.get(self.copied..).unwrap_or_default());
        (Cow::Owned(self.out), self.repairs, self.not_permalinks)
    }

    /// Drops everything from `at`: a construct the document never finished.
    fn cut(&mut self, at: usize) -> usize {
        let len = self.src.len();
        self.replace(at, len, "");
        self.repairs.cut_short = true;
        len
    }

    fn markup(&mut self, at: usize) -> usize {
        let bytes = self.src.as_bytes();
        let rest = &bytes[at..];
        let skip_to = |from: usize, close: &[u8]| {
            memchr::memmem::find(rest.get(from..).unwrap_or_default(), close)
                .map(|end| at + from + end + close.len())
        };
        if rest.starts_with(b"<!--") {
            return skip_to(4, b"-->").unwrap_or_else(|| self.cut(at));
        }
        if rest.starts_with(b"<![CDATA[") {
            return skip_to(9, b"]]>").unwrap_or_else(|| {
                self.cdata_open = true;
                self.repairs.cut_short = true;
                bytes.len()
            });
        }
        if rest.starts_with(b"<?") {
            return skip_to(2, b"?>").unwrap_or_else(|| self.cut(at));
        }
        if rest.starts_with(b"<!") {
            return skip_to(2, b">").unwrap_or_else(|| self.cut(at));
        }
        if rest.starts_with(b"</") {
            return self.end_tag(at);
        }
        if rest.get(1).is_some_and(|&b| tag::name_start(b)) {
            if let Some(tag) = tag::start_tag(self.src, at) {
                return self.start_tag(at, tag);
            }
            if memchr::memchr(b'>', rest).is_none() {
                return self.cut(at);
            }
        }
        self.replace(at, at + 1, "&lt;");
        self.repairs.bare_angles += 1;
        at + 1
    }

    fn start_tag(&mut self, at: usize, tag: StartTag<'a>) -> usize {
        if self.stack.len() >= MAX_DEPTH {
            self.repairs.too_deep = true;
            return self.src.len();
        }
        let action = self.action(&tag);
        match action {
            Action::Keep => {
                if !tag.empty {
                    self.stack.push(Open {
                        name: tag.name,
                        close: None,
                    });
                }
                tag.end
            }
            Action::Rename { mut open, close } => {
                if tag.empty {
                    open.push_str(&close);
                    self.replace(at, tag.end, &open);
                } else {
                    self.replace(at, tag.end, &open);
                    self.stack.push(Open {
                        name: tag.name,
                        close: Some(close),
                    });
                }
                tag.end
            }
            Action::Replace {
                text,
                end,
                unclosed,
            } => {
                if unclosed && end == self.src.len() {
                    self.repairs.open_at_end += 1;
                } else if unclosed {
                    self.repairs.misnested += 1;
                }
                self.replace(at, end, &text);
                end
            }
        }
    }

    /// Decides the format at the root, and asks it about every other element.
    fn action(&mut self, tag: &StartTag<'a>) -> Action {
        if self.stack.is_empty() && self.dialect == Dialect::Undecided {
            let (dialect, action) = root(tag);
            self.dialect = dialect;
            return action;
        }
        let stack = &self.stack;
        if matches!(self.dialect, Dialect::Rss | Dialect::Rdf)
            && let Some(guid) = rss::not_a_permalink(self.src, tag)
        {
            self.not_permalinks.push(guid);
        }
        if self.dialect == Dialect::Rdf
            && let Some(about) = rss::rdf_about(tag, stack)
        {
            self.not_permalinks.push(about);
        }
        match &mut self.dialect {
            Dialect::Rss => rss::child(self.src, tag, false, stack),
            Dialect::Rdf => rss::child(self.src, tag, true, stack),
            Dialect::Atom { legacy, ahead } => atom::child(self.src, tag, *legacy, ahead, stack),
            Dialect::Cdf => cdf::child(self.src, tag, stack),
            Dialect::Undecided | Dialect::Other => Action::Keep,
        }
    }

    fn end_tag(&mut self, at: usize) -> usize {
        let bytes = self.src.as_bytes();
        let Some(gt) = memchr::memchr(b'>', &bytes[at..]).map(|gt| at + gt) else {
            return self.cut(at);
        };
        let written = self.src.get(at + 2..gt).unwrap_or_default();
        if written.contains('<') {
            self.replace(at, at + 1, "&lt;");
            self.repairs.bare_angles += 1;
            return at + 1;
        }
        let name = written.split_ascii_whitespace().next().unwrap_or_default();
        self.close_element(at, gt + 1, name);
        gt + 1
    }

    fn close_element(&mut self, at: usize, end: usize, name: &str) {
        let from = self.stack.len().saturating_sub(SEARCH_DEPTH);
        let window = &self.stack[from..];
        let found = window
            .iter()
            .rposition(|o| o.name == name)
            .or_else(|| {
                window
                    .iter()
                    .rposition(|o| o.name.eq_ignore_ascii_case(name))
            })
            .map(|p| from + p);
        let Some(p) = found else {
            self.replace(at, end, "");
            self.repairs.stray_end_tags += 1;
            return;
        };
        let top = self.stack.len() - 1;
        if p == top && self.stack[p].name == name && self.stack[p].close.is_none() {
            self.stack.pop();
            return;
        }
        self.repairs.misnested += top - p;
        let mut text = String::new();
        for open in self.stack.drain(p..).rev() {
            text.push_str(&open.closing());
        }
        self.replace(at, end, &text);
    }

    /// An `&` in text: a reference XML knows stays, an HTML entity becomes
    /// its character, anything else is text.
    fn reference(&mut self, at: usize) -> usize {
        let bytes = self.src.as_bytes();
        let rest = bytes.get(at + 1..).unwrap_or_default();
        if rest.first() == Some(&b'#') {
            if let Some(end) = self.char_reference(at, rest) {
                return end;
            }
        } else {
            let len = rest
                .iter()
                .take(33)
                .take_while(|b| b.is_ascii_alphanumeric())
                .count();
            if (1..=32).contains(&len) && rest.get(len) == Some(&b';') {
                return self.named_reference(at, at + 1 + len + 1);
            }
        }
        if let Some((len, c)) = legacy_entity(rest) {
            let mut buf = [0u8; 4];
            let text = tag::escape_text(c.encode_utf8(&mut buf)).into_owned();
            self.replace(at, at + 1 + len, &text);
            self.repairs.html_entities += 1;
            return at + 1 + len;
        }
        self.replace(at, at + 1, "&amp;");
        self.repairs.bare_ampersands += 1;
        at + 1
    }

    /// `&#…;` and `&#x…;`; one naming no XML character becomes U+FFFD.
    fn char_reference(&mut self, at: usize, rest: &[u8]) -> Option<usize> {
        let hex = matches!(rest.get(1), Some(b'x' | b'X'));
        let start = if hex { 2 } else { 1 };
        let digits = rest
            .get(start..)?
            .iter()
            .take(12)
            .take_while(|b| {
                if hex {
                    b.is_ascii_hexdigit()
                } else {
                    b.is_ascii_digit()
                }
            })
            .count();
        if digits == 0 || rest.get(start + digits) != Some(&b';') {
            return None;
        }
        let end = at + 1 + start + digits + 1;
        let text = self.src.get(at + 1 + start..end - 1)?;
        let valid = u32::from_str_radix(text, if hex { 16 } else { 10 })
            .ok()
            .and_then(char::from_u32)
            .is_some_and(xml_char);
        if !valid {
            self.replace(at, end, "\u{FFFD}");
            self.repairs.bad_char_refs += 1;
        }
        Some(end)
    }

    fn named_reference(&mut self, at: usize, end: usize) -> usize {
        let entity = self.src.get(at..end).unwrap_or_default();
        let name = entity.get(1..entity.len() - 1).unwrap_or_default();
        if matches!(name, "amp" | "lt" | "gt" | "quot" | "apos") {
            return end;
        }
        let decoded = html_escape::decode_html_entities(entity);
        if decoded != entity {
            let text = tag::escape_text(&decoded).into_owned();
            self.replace(at, end, &text);
            self.repairs.html_entities += 1;
            return end;
        }
        if self.repairs.first_unknown.is_none() {
            self.repairs.first_unknown = Some(name.to_string());
        }
        self.replace(at, at + 1, "&amp;");
        self.repairs.unknown_entities += 1;
        end
    }
}

/// The format a root element names, and what it becomes.
fn root(tag: &StartTag) -> (Dialect, Action) {
    let local = tag.local();
    if local.eq_ignore_ascii_case("rss") {
        (Dialect::Rss, rss::root(tag))
    } else if local == "RDF" {
        (Dialect::Rdf, rss::rdf_root(tag))
    } else if local == "feed" {
        let legacy = atom::is_legacy(tag);
        let dialect = Dialect::Atom {
            legacy,
            ahead: atom::Lookahead::default(),
        };
        (dialect, atom::root(tag, legacy))
    } else if local.eq_ignore_ascii_case("channel") {
        (Dialect::Cdf, cdf::root(tag))
    } else if local == "entry" {
        let dialect = Dialect::Atom {
            legacy: false,
            ahead: atom::Lookahead::default(),
        };
        (dialect, Action::Keep)
    } else {
        (Dialect::Other, Action::Keep)
    }
}

/// The text without the C0 control characters XML forbids, and how many there were.
fn without_controls(text: &str) -> (Cow<'_, str>, usize) {
    let forbidden = |b: u8| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r');
    // Branch-free over blocks, so the common case (none at all) runs at memory speed.
    let any = text
        .as_bytes()
        .chunks(256)
        .any(|block| block.iter().fold(false, |seen, &b| seen | forbidden(b)));
    if !any {
        return (Cow::Borrowed(text), 0);
    }
    let count = text.bytes().filter(|&b| forbidden(b)).count();
    let kept: String = text
        .chars()
        .filter(|&c| !(c.is_ascii() && forbidden(c as u8)))
        .collect();
    (Cow::Owned(kept), count)
}

/// Replaces the element `tag` opens (inside `stack`) with the same element
/// holding its content as one CDATA section, when that content is markup
/// feed-rs would cut off at the first child element. The element ends where
/// the main pass would end it.
fn wrap_markup(
    src: &str,
    tag: &StartTag,
    open: &str,
    close_name: &str,
    stack: &[Open],
) -> Option<Action> {
    if tag.empty {
        return None;
    }
    let extent = tag::extent(src, tag, stack);
    if !extent.children || extent.deep {
        return None;
    }
    let inner = src.get(tag.end..extent.inner_end)?;
    let html = tag::as_html_source(inner);
    let mut text = String::with_capacity(open.len() + html.len() + close_name.len() + 24);
    text.push_str(open);
    tag::push_cdata(&mut text, &html);
    text.push_str("</");
    text.push_str(close_name);
    text.push('>');
    Some(Action::Replace {
        text,
        end: extent.end,
        unclosed: !extent.closed,
    })
}

#[cfg(test)]
mod tests;
