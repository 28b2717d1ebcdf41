//! RSS in all its versions read as RSS 2.0: 0.91 to 0.94 and a missing
//! `version` only need the attribute, while RSS 0.90 and 1.0 (RDF) keep
//! their items beside the channel rather than in it, and are rewritten so
//! the channel holds them.

use super::tag::{StartTag, escape_text};
use super::{Action, Open, wrap_markup};

/// RSS 0.90's namespace, which feed-rs does not know as RSS.
const NS_090: &str = "http://my.netscape.com/rdf/simple/0.9/";
const NS_10: &str = "http://purl.org/rss/1.0/";

/// `<rss>` of any version, or none, as `<rss version="2.0">`. A default
/// namespace of its own (UserLand's and Harvard's RSS 2.0 ones) would hide
/// every element from feed-rs, and goes.
pub(super) fn root(tag: &StartTag) -> Action {
    let foreign_namespace = tag.attr("xmlns").is_some_and(|ns| ns != NS_10);
    if tag.name == "rss" && tag.attr("version") == Some("2.0") && !foreign_namespace {
        return Action::Keep;
    }
    let mut attrs: Vec<(&str, &str)> = tag
        .attrs
        .iter()
        .copied()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("version"))
        .filter(|&(n, v)| !(n == "xmlns" && v != NS_10))
        .collect();
    attrs.insert(0, ("version", "2.0"));
    Action::Rename {
        open: StartTag::rebuilt("rss", &attrs, false),
        close: "</rss>".into(),
    }
}

/// `<rdf:RDF>` as `<rss version="2.0"><channel>`, keeping its namespace
/// declarations (RSS 0.90's replaced by RSS 1.0's).
pub(super) fn rdf_root(tag: &StartTag) -> Action {
    let mut attrs: Vec<(&str, &str)> = vec![("version", "2.0")];
    attrs.extend(
        tag.attrs
            .iter()
            .map(|&(n, v)| (n, if v == NS_090 { NS_10 } else { v })),
    );
    let mut open = StartTag::rebuilt("rss", &attrs, false);
    open.push_str("<channel>");
    Action::Rename {
        open,
        close: "</channel></rss>".into(),
    }
}

/// RDF's own `<channel>` dissolves into the one the root opened; text
/// elements holding raw HTML get it as one CDATA section.
pub(super) fn child(src: &str, tag: &StartTag, rdf: bool, stack: &[Open]) -> Action {
    let local = tag.local();
    if rdf && stack.len() == 1 && local == "channel" {
        return Action::Rename {
            open: String::new(),
            close: String::new(),
        };
    }
    if rdf && let Some(about) = rdf_about(tag, stack) {
        let mut open = StartTag::rebuilt(tag.name, &tag.attrs, false);
        open.push_str(&format!(
            "<guid isPermaLink=\"false\">{}</guid>",
            escape_text(&about)
        ));
        return Action::Rename {
            open,
            close: format!("</{}>", tag.name),
        };
    }
    if matches!(local, "title" | "description" | "encoded")
        && let Some(action) = wrap_markup(src, tag, tag.written(src), tag.name, stack)
    {
        return action;
    }
    Action::Keep
}

/// The text of a `<guid isPermaLink="false">`. A guid is short: only its
/// first few kilobytes are looked at, so a flood of unclosed guids costs no
/// more than their length.
pub(super) fn not_a_permalink(src: &str, tag: &StartTag) -> Option<String> {
    const GUID_MAX: usize = 4096;
    let flag = tag.attr("isPermaLink")?;
    if tag.local() != "guid" || !flag.trim().eq_ignore_ascii_case("false") || tag.empty {
        return None;
    }
    let window = src.as_bytes().get(tag.end..)?;
    let window = window.get(..GUID_MAX).unwrap_or(window);
    let end = memchr::memmem::find(window, b"</")?;
    let inner = src.get(tag.end..tag.end + end)?;
    let text = html_escape::decode_html_entities(&super::tag::as_html_source(inner)).into_owned();
    Some(text.trim().to_string())
}

/// An RSS 1.0 item's `rdf:about`: the address that names it, which is its
/// identity but not necessarily its link.
pub(super) fn rdf_about(tag: &StartTag, stack: &[Open]) -> Option<String> {
    if stack.len() != 1 || tag.local() != "item" {
        return None;
    }
    let about = tag
        .attrs
        .iter()
        .find(|(n, _)| super::tag::local(n) == "about")
        .map(|(_, v)| html_escape::decode_html_entities(v).trim().to_string())?;
    (!about.is_empty()).then_some(about)
}
