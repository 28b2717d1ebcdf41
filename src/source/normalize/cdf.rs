//! Microsoft's Channel Definition Format read as RSS 2.0: the channel and its
//! items carry their address in `HREF` and their date in `LASTMOD`, with
//! `TITLE` and `ABSTRACT` inside. Element names are matched without regard
//! to case, as CDF writers spelled them either way. Items of channels nested
//! in the top one are read as the top channel's.

use super::tag::{StartTag, escape_text};
use super::{Action, Open, wrap_markup};

pub(super) fn root(tag: &StartTag) -> Action {
    let mut open = String::from(r#"<rss version="2.0"><channel>"#);
    open.push_str(&fields(tag));
    Action::Rename {
        open,
        close: "</channel></rss>".into(),
    }
}

pub(super) fn child(src: &str, tag: &StartTag, stack: &[Open]) -> Action {
    let local = tag.local().to_ascii_lowercase();
    let in_nested_channel = stack.len() > 1
        && stack
            .last()
            .is_some_and(|p| p.name.eq_ignore_ascii_case("channel"));
    let renamed = match local.as_str() {
        "channel" => {
            return Action::Rename {
                open: String::new(),
                close: String::new(),
            };
        }
        "item" => {
            let mut open = String::from("<item>");
            open.push_str(&fields(tag));
            return Action::Rename {
                open,
                close: "</item>".into(),
            };
        }
        // A nested channel's own title and abstract are not the feed's.
        "title" | "abstract" if in_nested_channel => "cdf-ignored",
        "title" => "title",
        "abstract" => "description",
        // What is RSS already is read as RSS.
        _ => return super::rss::child(src, tag, false, stack),
    };
    let open = format!("<{renamed}>");
    if let Some(action) = wrap_markup(src, tag, &open, renamed, stack) {
        return action;
    }
    Action::Rename {
        open,
        close: format!("</{renamed}>"),
    }
}

/// `HREF` as a link and `LASTMOD` as the date it was last changed.
fn fields(tag: &StartTag) -> String {
    let mut out = String::new();
    let text = |v: &str| escape_text(&html_escape::decode_html_entities(v)).into_owned();
    if let Some(href) = tag.attr("href") {
        out.push_str(&format!("<link>{}</link>", text(href)));
    }
    if let Some(lastmod) = tag.attr("lastmod") {
        out.push_str(&format!("<updated>{}</updated>", text(lastmod)));
    }
    out
}
