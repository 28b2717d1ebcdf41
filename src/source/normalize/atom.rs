//! Atom 1.0 with its text constructs in the three types feed-rs knows, and
//! Atom 0.3 rewritten into it: the namespace, `issued`/`modified`/`created`,
//! `tagline`, `copyright`, a person's `url`, and content whose `mode` is
//! `escaped` or `base64`.

use base64::Engine;

use super::tag::{self, StartTag};
use super::{Action, Open, wrap_markup};

const NS_03: &str = "http://purl.org/atom/ns#";
const NS_10: &str = "http://www.w3.org/2005/Atom";

/// Atom 0.3: its namespace, or `version="0.3"` on the root.
pub(super) fn is_legacy(tag: &StartTag) -> bool {
    tag.attrs
        .iter()
        .any(|&(n, v)| v == NS_03 || (n == "version" && v.starts_with("0.")))
}

pub(super) fn root(tag: &StartTag, legacy: bool) -> Action {
    if !legacy {
        return Action::Keep;
    }
    let attrs: Vec<(&str, &str)> = tag
        .attrs
        .iter()
        .filter(|(n, _)| *n != "version")
        .map(|&(n, v)| (n, if v == NS_03 { NS_10 } else { v }))
        .collect();
    Action::Rename {
        open: StartTag::rebuilt(tag.name, &attrs, false),
        close: format!("</{}>", tag.name),
    }
}

/// How a text construct's content is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Html,
    Xhtml,
    /// A media type feed-rs reads itself (content only).
    Media,
}

impl Kind {
    fn attr(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Html => "html",
            Kind::Xhtml => "xhtml",
            Kind::Media => "",
        }
    }
}

pub(super) fn child(
    src: &str,
    tag: &StartTag,
    legacy: bool,
    ahead: &mut Lookahead,
    stack: &[Open],
) -> Action {
    let local = tag.local();
    if legacy && local == "entry" {
        ahead.entry_has_issued = ahead.entry_has_issued(src, tag);
        return Action::Keep;
    }
    let renamed = if legacy {
        match local {
            "issued" => Some("published"),
            "created" if !ahead.entry_has_issued => Some("published"),
            "modified" => Some("updated"),
            "tagline" => Some("subtitle"),
            "copyright" => Some("rights"),
            "url" => Some("uri"),
            _ => None,
        }
    } else {
        None
    };
    let new_local = renamed.unwrap_or(local);
    if matches!(
        new_local,
        "title" | "subtitle" | "summary" | "content" | "rights"
    ) {
        return text_construct(src, tag, &qualified(tag.name, new_local), legacy, stack);
    }
    match renamed {
        Some(new_local) => {
            let name = qualified(tag.name, new_local);
            Action::Rename {
                open: StartTag::rebuilt(&name, &tag.attrs, false),
                close: format!("</{name}>"),
            }
        }
        None => Action::Keep,
    }
}

/// What Atom 0.3 needs to know ahead: whether the entry being read has an
/// `issued`, which `created` then gives way to. Searches only move forward,
/// so however entries nest, the document is searched once.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Lookahead {
    entry_has_issued: bool,
    issued: Next,
    prefixed_issued: Next,
    entry_end: Next,
}

/// The next place a needle occurs at or after a position, once looked for.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Next {
    searched_from: Option<usize>,
    found: Option<usize>,
}

impl Next {
    fn at_or_after(&mut self, hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
        let still_good = self.searched_from.is_some_and(|s| s <= from)
            && self.found.is_none_or(|found| found >= from);
        if !still_good {
            self.found = memchr::memmem::find(hay.get(from..).unwrap_or_default(), needle)
                .map(|at| at + from);
            self.searched_from = Some(from);
        }
        self.found
    }
}

impl Lookahead {
    fn entry_has_issued(&mut self, src: &str, tag: &StartTag) -> bool {
        let hay = src.as_bytes();
        let end = self
            .entry_end
            .at_or_after(hay, b"entry>", tag.end)
            .unwrap_or(hay.len());
        let issued = [
            self.issued.at_or_after(hay, b"<issued", tag.end),
            self.prefixed_issued.at_or_after(hay, b":issued", tag.end),
        ];
        issued.into_iter().flatten().any(|at| at < end)
    }
}

/// `name` with `local` in place of its local part, keeping any prefix.
/// The tag's attributes with `type` set to `kind` and any `mode` dropped.
fn typed_attrs<'a>(tag: &StartTag<'a>, kind: Kind) -> Vec<(&'a str, &'a str)> {
    std::iter::once(("type", kind.attr()))
        .chain(
            tag.attrs
                .iter()
                .copied()
                .filter(|(n, _)| !matches!(*n, "type" | "mode")),
        )
        .collect()
}

fn qualified(name: &str, local: &str) -> String {
    match name.rsplit_once(':') {
        Some((prefix, _)) => format!("{prefix}:{local}"),
        None => local.to_string(),
    }
}

fn text_construct(src: &str, tag: &StartTag, name: &str, legacy: bool, stack: &[Open]) -> Action {
    let content = name.ends_with("content");
    let declared = tag.attr("type").map(|t| t.trim().to_ascii_lowercase());
    let mode = tag.attr("mode").map(|m| m.trim().to_ascii_lowercase());
    let mut kind = match declared.as_deref() {
        None | Some("text" | "text/plain") => Kind::Text,
        Some("html" | "text/html") => Kind::Html,
        Some("xhtml" | "application/xhtml+xml") => Kind::Xhtml,
        Some(t) if t.starts_with("text/") => Kind::Text,
        Some(_) if content => Kind::Media,
        Some(_) => Kind::Text,
    };
    if content && tag.attr("src").is_some() {
        return out_of_line(src, tag, name, kind, declared.as_deref(), stack);
    }
    match mode.as_deref() {
        Some("base64") => return decoded(src, tag, name, kind, stack),
        Some("escaped") if kind == Kind::Xhtml => kind = Kind::Html,
        // Atom 0.3 puts HTML inline as markup unless it says it escaped it.
        None | Some("xml") if legacy && kind == Kind::Html => kind = Kind::Xhtml,
        _ => {}
    }
    if kind == Kind::Media {
        return Action::Keep;
    }
    let attrs = typed_attrs(tag, kind);
    let same_type =
        declared.as_deref() == Some(kind.attr()) || (declared.is_none() && kind == Kind::Text);
    let unchanged = name == tag.name && same_type && mode.is_none();
    let open = if unchanged {
        tag.written(src).to_string()
    } else {
        StartTag::rebuilt(name, &attrs, tag.empty)
    };
    if kind != Kind::Xhtml
        && let Some(action) = wrap_markup(src, tag, &open, name, stack)
    {
        return action;
    }
    if unchanged {
        return Action::Keep;
    }
    let open = if tag.empty {
        StartTag::rebuilt(name, &attrs, false)
    } else {
        open
    };
    Action::Rename {
        open,
        close: format!("</{name}>"),
    }
}

/// Content that lives elsewhere (`src`): feed-rs wants it empty and typed
/// with a media type, never `text`, `html` or `xhtml`.
fn out_of_line(
    src: &str,
    tag: &StartTag,
    name: &str,
    kind: Kind,
    declared: Option<&str>,
    stack: &[Open],
) -> Action {
    let media_type = match (kind, declared) {
        (Kind::Media, Some(declared)) => declared,
        (Kind::Html, _) => "text/html",
        (Kind::Xhtml, _) => "application/xhtml+xml",
        (Kind::Text, Some(declared)) if declared.contains('/') => declared,
        _ => "text/plain",
    };
    if tag.empty && declared.is_none_or(|d| d == media_type) {
        return Action::Keep;
    }
    let end = if tag.empty {
        tag.end
    } else {
        tag::extent(src, tag, stack).end
    };
    let attrs: Vec<(&str, &str)> = std::iter::once(("type", media_type))
        .chain(
            tag.attrs
                .iter()
                .copied()
                .filter(|(n, _)| !matches!(*n, "type" | "mode")),
        )
        .collect();
    Action::Replace {
        text: StartTag::rebuilt(name, &attrs, true),
        end,
        unclosed: false,
    }
}

/// Content in base64, decoded into the same element as text or HTML;
/// anything else that was encoded (an image) is no text, and goes.
fn decoded(src: &str, tag: &StartTag, name: &str, kind: Kind, stack: &[Open]) -> Action {
    let (inner_end, end, unclosed) = if tag.empty {
        (tag.end, tag.end, false)
    } else {
        let extent = tag::extent(src, tag, stack);
        (extent.inner_end, extent.end, !extent.closed)
    };
    let inner = src.get(tag.end..inner_end).unwrap_or_default();
    let packed: String = tag::as_html_source(inner)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(packed.as_bytes())
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(packed.as_bytes()));
    let text = match (kind, bytes) {
        (Kind::Media, _) | (_, Err(_)) => String::new(),
        (_, Ok(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
    };
    let kind = if kind == Kind::Text {
        Kind::Text
    } else {
        Kind::Html
    };
    let attrs = typed_attrs(tag, kind);
    let mut out = StartTag::rebuilt(name, &attrs, false);
    tag::push_cdata(&mut out, &text);
    out.push_str(&format!("</{name}>"));
    Action::Replace {
        text: out,
        end,
        unclosed,
    }
}
