//! Reading one start tag leniently, and writing markup back out.

/// A start tag as written: where it sits, its name and its attributes with
/// their values still escaped.
#[derive(Debug)]
pub(super) struct StartTag<'a> {
    /// The qualified name as written (`content:encoded`).
    pub name: &'a str,
    pub attrs: Vec<(&'a str, &'a str)>,
    /// Written `<name …/>`.
    pub empty: bool,
    /// Byte offset of the opening `<`.
    pub start: usize,
    /// Byte offset just past the closing `>`.
    pub end: usize,
}

impl<'a> StartTag<'a> {
    /// The name without its prefix: `encoded` for `content:encoded`.
    pub fn local(&self) -> &'a str {
        local(self.name)
    }

    /// The tag as written.
    pub fn written<'s>(&self, src: &'s str) -> &'s str {
        src.get(self.start..self.end).unwrap_or_default()
    }

    pub fn attr(&self, name: &str) -> Option<&'a str> {
        self.attrs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// The tag written again under `name`, with `attrs` instead of its own.
    pub fn rebuilt(name: &str, attrs: &[(&str, &str)], empty: bool) -> String {
        let mut out = String::with_capacity(name.len() + 2 + attrs.len() * 24);
        out.push('<');
        out.push_str(name);
        for (n, v) in attrs {
            let quote = if v.contains('"') { '\'' } else { '"' };
            out.push(' ');
            out.push_str(n);
            out.push('=');
            out.push(quote);
            out.push_str(v);
            out.push(quote);
        }
        out.push_str(if empty { "/>" } else { ">" });
        out
    }
}

pub(super) fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// Whether `b` can start an element name.
pub(super) fn name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':' || b >= 0x80
}

/// How much of `s` is an element name: it ends at the first byte no XML name
/// may hold (a space, `/`, `>`, a quote, `=`, `]`...).
fn name_len(s: &[u8]) -> usize {
    s.iter()
        .position(|&b| {
            b.is_ascii() && !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'.' | b'-'))
        })
        .unwrap_or(s.len())
}

/// The offset of the `>` closing the tag opened at `at`: quotes are honoured,
/// and when a stray quote runs to the end the first `>` is taken instead.
pub(super) fn tag_close(src: &[u8], at: usize) -> Option<usize> {
    let mut quote = None;
    for (i, &b) in src.iter().enumerate().skip(at + 1) {
        match (quote, b) {
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), _) if q == b => quote = None,
            (None, b'>') => return Some(i),
            (None, b'<') => return None,
            _ => {}
        }
    }
    let rest = src.get(at + 1..)?;
    let gt = memchr::memchr(b'>', rest)?;
    (!rest[..gt].contains(&b'<')).then_some(at + 1 + gt)
}

/// The start tag opened by the `<` at `at`; `None` when no `>` closes it.
pub(super) fn start_tag(src: &str, at: usize) -> Option<StartTag<'_>> {
    let bytes = src.as_bytes();
    let close = tag_close(bytes, at)?;
    let inner = src.get(at + 1..close)?;
    let len = name_len(inner.as_bytes());
    let name = inner.get(..len)?;
    let rest = inner.get(len..)?;
    let empty = rest.trim_end().ends_with('/');
    Some(StartTag {
        name,
        attrs: attributes(rest.trim_end().trim_end_matches('/')),
        empty,
        start: at,
        end: close + 1,
    })
}

/// `name="value"` pairs; a bare name has an empty value, an unquoted value
/// runs to the next space.
fn attributes(mut s: &str) -> Vec<(&str, &str)> {
    let mut attrs = Vec::new();
    loop {
        s = s.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '/');
        if s.is_empty() {
            return attrs;
        }
        let len = s
            .find(|c: char| c.is_ascii_whitespace() || c == '=')
            .unwrap_or(s.len());
        let (name, after) = s.split_at(len);
        let after = after.trim_start();
        let Some(value) = after.strip_prefix('=') else {
            attrs.push((name, ""));
            s = after;
            continue;
        };
        let value = value.trim_start();
        let (v, rest) = match value.as_bytes().first() {
            Some(&q @ (b'"' | b'\'')) => {
                let body = &value[1..];
                match body.find(q as char) {
                    Some(end) => (&body[..end], &body[end + 1..]),
                    None => (body, ""),
                }
            }
            _ => {
                let end = value
                    .find(|c: char| c.is_ascii_whitespace())
                    .unwrap_or(value.len());
                value.split_at(end)
            }
        };
        attrs.push((name, v));
        s = rest;
    }
}

/// Text made safe to stand as XML character data.
pub(super) fn escape_text(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(['&', '<', '>']) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Text wrapped in CDATA sections, split wherever it holds `]]>`.
pub(super) fn push_cdata(out: &mut String, text: &str) {
    out.push_str("<![CDATA[");
    let mut pieces = text.split("]]>");
    out.push_str(pieces.next().unwrap_or_default());
    for piece in pieces {
        out.push_str("]]]]><![CDATA[>");
        out.push_str(piece);
    }
    out.push_str("]]>");
}

/// The markup of an element's content read as HTML source: CDATA sections
/// opened, everything else as written.
pub(super) fn as_html_source(inner: &str) -> String {
    let mut out = String::with_capacity(inner.len());
    let mut rest = inner;
    while let Some(at) = rest.find("<![CDATA[") {
        out.push_str(&rest[..at]);
        let body = &rest[at + 9..];
        let end = body.find("]]>").unwrap_or(body.len());
        out.push_str(&body[..end]);
        rest = body.get(end + 3..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

/// Where an element ends, found the way the main pass will find it.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Extent {
    /// Where its content ends.
    pub inner_end: usize,
    /// Just past its end tag; `inner_end` when it has none.
    pub end: usize,
    /// Its content holds elements, not only text, CDATA and comments.
    pub children: bool,
    /// It has an end tag of its own.
    pub closed: bool,
    /// Its content nests deeper than [`MARKUP_DEPTH`]: no story does, and
    /// the scan stopped there.
    pub deep: bool,
}

/// How deep markup inside a text element may nest and still be read as
/// HTML: browsers stop nesting at 512 too.
pub(super) const MARKUP_DEPTH: usize = 512;

/// What an end tag met inside an element closes, found as the main pass
/// finds it: exact names before names differing in case, the innermost
/// first, among the same number of open elements.
enum Closes {
    /// The element at this index of those opened inside (0: the element itself).
    Own(usize),
    Ancestor,
    Nothing,
}

fn closes(open: &[&str], ancestors: &[super::Open], name: &str) -> Closes {
    let own = open.len().min(super::SEARCH_DEPTH);
    let own_from = open.len() - own;
    let own_window = &open[own_from..];
    let ancestor_window = &ancestors[ancestors.len().saturating_sub(super::SEARCH_DEPTH - own)..];
    let matchers: [&dyn Fn(&str) -> bool; 2] = [&|o: &str| o == name, &|o: &str| {
        o.eq_ignore_ascii_case(name)
    }];
    for matches in matchers {
        if let Some(p) = own_window.iter().rposition(|o| matches(o)) {
            return Closes::Own(own_from + p);
        }
        if ancestor_window.iter().any(|a| matches(a.name)) {
            return Closes::Ancestor;
        }
    }
    Closes::Nothing
}

/// The extent of the element `tag` opens, inside elements `ancestors`: up
/// to its own end tag, or up to an ancestor's end tag that closes it first,
/// or to the end of the document.
pub(super) fn extent(src: &str, tag: &StartTag, ancestors: &[super::Open]) -> Extent {
    let bytes = src.as_bytes();
    let mut open: Vec<&str> = vec![tag.name];
    let mut children = false;
    let mut i = tag.end;
    let unclosed = |at: usize, children: bool| Extent {
        inner_end: at,
        end: at,
        children,
        closed: false,
        deep: false,
    };
    while let Some(lt) = memchr::memchr(b'<', bytes.get(i..).unwrap_or_default()) {
        let at = i + lt;
        let rest = &bytes[at..];
        let skip = |from: usize, close: &[u8]| {
            memchr::memmem::find(rest.get(from..).unwrap_or_default(), close)
                .map(|e| at + from + e + close.len())
        };
        let next = if rest.starts_with(b"<![CDATA[") {
            skip(9, b"]]>")
        } else if rest.starts_with(b"<!--") {
            skip(4, b"-->")
        } else if rest.starts_with(b"<?") {
            skip(2, b"?>")
        } else if rest.starts_with(b"<!") {
            skip(2, b">")
        } else if rest.starts_with(b"</") {
            let Some(gt) = memchr::memchr(b'>', rest).map(|g| at + g) else {
                break;
            };
            let written = src.get(at + 2..gt).unwrap_or_default();
            if written.contains('<') {
                Some(at + 1)
            } else {
                let name = written.split_ascii_whitespace().next().unwrap_or_default();
                match closes(&open, ancestors, name) {
                    Closes::Own(0) => {
                        return Extent {
                            inner_end: at,
                            end: gt + 1,
                            children,
                            closed: true,
                            deep: false,
                        };
                    }
                    Closes::Own(p) => open.truncate(p),
                    Closes::Ancestor => return unclosed(at, children),
                    Closes::Nothing => {}
                }
                children = true;
                Some(gt + 1)
            }
        } else if rest.get(1).is_some_and(|&b| name_start(b)) {
            match start_tag(src, at) {
                Some(child) => {
                    children = true;
                    if !child.empty {
                        open.push(child.name);
                    }
                    if open.len() > MARKUP_DEPTH {
                        return Extent {
                            deep: true,
                            ..unclosed(at, true)
                        };
                    }
                    Some(child.end)
                }
                None if memchr::memchr(b'>', rest).is_none() => None,
                None => Some(at + 1),
            }
        } else {
            Some(at + 1)
        };
        let Some(next) = next else { break };
        i = next;
    }
    unclosed(src.len(), children)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_of_every_style() {
        let src = r#"<link rel="alternate" href='a"b' x=1 checked/>"#;
        let tag = start_tag(src, 0).unwrap_or_else(|| panic!("a tag"));
        assert_eq!(tag.name, "link");
        assert!(tag.empty);
        assert_eq!(
            tag.attrs,
            [
                ("rel", "alternate"),
                ("href", "a\"b"),
                ("x", "1"),
                ("checked", "")
            ]
        );
        assert_eq!(tag.end, src.len());
    }

    #[test]
    fn a_quote_that_never_closes_still_ends_at_the_next_angle() {
        let src = r#"<a href="x>text</a>"#;
        assert_eq!(start_tag(src, 0).map(|t| t.end), Some(11));
    }

    #[test]
    fn extent_of_elements_closed_and_not() {
        let at = |src: &str| {
            let tag = start_tag(src, 0).unwrap_or_else(|| panic!("a tag"));
            let e = extent(src, &tag, &[]);
            (e.inner_end, e.end, e.children, e.closed)
        };
        assert_eq!(at("<d>a <![CDATA[<p>]]></d>"), (20, 24, false, true));
        assert_eq!(at("<d>a <br> b</d>"), (11, 15, true, true));
        assert_eq!(at("<d>a < b"), (8, 8, false, false));
        let src = "<d>a <b>x</item>";
        let tag = start_tag(src, 0).unwrap_or_else(|| panic!("a tag"));
        let item = [super::super::Open {
            name: "item",
            close: None,
        }];
        assert_eq!(
            extent(src, &tag, &item),
            Extent {
                inner_end: 9,
                end: 9,
                children: true,
                closed: false,
                deep: false,
            }
        );
    }
}
