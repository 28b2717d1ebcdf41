//! OPML subscription lists, as feed readers export them, turned into
//! `[[source]]` tables: every outline with an `xmlUrl`, however deeply
//! nested in folders, with a unique name the configuration accepts.

use std::collections::HashSet;
use std::fmt::Write;

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};
use url::Url;

use crate::source::decode;

/// Longest name made from a title; a suffix may follow to keep it unique.
const NAME_MAX: usize = 48;

#[derive(Debug, thiserror::Error)]
pub enum OpmlError {
    #[error("the XML is malformed near byte {at}")]
    Xml {
        at: u64,
        #[source]
        source: quick_xml::Error,
    },
    #[error("the document is not OPML: its root element is <{0}>")]
    NotOpml(String),
    #[error("the document is empty")]
    Empty,
}

/// A feed as listed: its title, address and the folders it sits in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outline {
    pub title: String,
    pub xml_url: String,
    pub folders: Vec<String>,
}

/// Reads every feed outline of an OPML document, in document order.
pub fn parse(bytes: &[u8]) -> Result<Vec<Outline>, OpmlError> {
    let decoded = decode::xml_to_utf8(bytes, None);
    let text = decode::strip_doctype(&decoded.text);
    let mut reader = Reader::from_str(&text);
    let mut root: Option<String> = None;
    // One entry per open outline: the folder title it adds, if any.
    let mut open: Vec<Option<String>> = Vec::new();
    let mut feeds = Vec::new();
    loop {
        let event = reader.read_event().map_err(|source| OpmlError::Xml {
            at: reader.error_position(),
            source,
        })?;
        let (start, nested) = match &event {
            Event::Start(e) => (e, true),
            Event::Empty(e) => (e, false),
            Event::End(e) => {
                if e.local_name().as_ref().eq_ignore_ascii_case("outline") {
                    open.pop();
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let name = start.local_name().as_ref().to_string();
        if root.is_none() {
            if !name.eq_ignore_ascii_case("opml") {
                return Err(OpmlError::NotOpml(name));
            }
            root = Some(name);
            continue;
        }
        if !name.eq_ignore_ascii_case("outline") {
            continue;
        }
        let outline = read_outline(start, &open);
        if nested {
            let folder = match &outline {
                Some(_) => None,
                None => Some(title_of(start).unwrap_or_default()),
            };
            open.push(folder);
        }
        feeds.extend(outline);
    }
    if root.is_none() {
        return Err(OpmlError::Empty);
    }
    Ok(feeds)
}

fn read_outline(start: &BytesStart<'_>, open: &[Option<String>]) -> Option<Outline> {
    let xml_url = attribute(start, "xmlUrl").filter(|u| !u.trim().is_empty())?;
    Some(Outline {
        title: title_of(start).unwrap_or_default(),
        xml_url: xml_url.trim().to_string(),
        folders: open
            .iter()
            .flatten()
            .filter(|f| !f.trim().is_empty())
            .cloned()
            .collect(),
    })
}

fn title_of(start: &BytesStart<'_>) -> Option<String> {
    attribute(start, "title")
        .filter(|t| !t.trim().is_empty())
        .or_else(|| attribute(start, "text"))
        .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// An attribute's value, its name matched without regard to case (exports
/// disagree on `xmlUrl` versus `xmlurl`).
fn attribute(start: &BytesStart<'_>, name: &str) -> Option<String> {
    start.attributes().flatten().find_map(|a| {
        a.key
            .local_name()
            .as_ref()
            .eq_ignore_ascii_case(name)
            .then(|| a.normalized_value(XmlVersion::Implicit1_0).ok())
            .flatten()
            .map(|v| v.into_owned())
    })
}

/// A source to be written out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSource {
    pub name: String,
    pub url: Url,
    pub title: String,
    pub folders: Vec<String>,
}

/// The sources made from a list of outlines, and why any were left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Import {
    pub sources: Vec<NewSource>,
    pub skipped: Vec<String>,
}

/// Names each feed, keeps the first of any repeated address, and leaves out
/// addresses the configuration would refuse.
pub fn sources(outlines: &[Outline]) -> Import {
    let mut import = Import::default();
    let mut names: HashSet<String> = HashSet::new();
    let mut urls: HashSet<String> = HashSet::new();
    for outline in outlines {
        let Some(url) = feed_url(&outline.xml_url) else {
            import.skipped.push(format!(
                "skipped {:?}: {:?} is not an http or https address",
                outline.title, outline.xml_url
            ));
            continue;
        };
        if !urls.insert(url.to_string()) {
            import.skipped.push(format!(
                "skipped {:?}: {url} is listed more than once",
                outline.title
            ));
            continue;
        }
        let name = unique(base_name(&outline.title, &url), &mut names);
        import.sources.push(NewSource {
            name,
            url,
            title: outline.title.clone(),
            folders: outline.folders.clone(),
        });
    }
    import
}

/// An absolute http(s) URL; `feed:` addresses are read as the web ones they stand for.
fn feed_url(raw: &str) -> Option<Url> {
    let raw = raw.trim();
    let lower = raw.to_ascii_lowercase();
    let web = if lower.starts_with("feed:http:") || lower.starts_with("feed:https:") {
        raw["feed:".len()..].to_string()
    } else if lower.starts_with("feed://") {
        format!("http://{}", &raw["feed://".len()..])
    } else {
        raw.to_string()
    };
    let url = Url::parse(&web).ok()?;
    (matches!(url.scheme(), "http" | "https") && url.host_str().is_some()).then_some(url)
}

/// A name from the title (letters and digits, words joined by `-`), else
/// from the host. `add` names its sources the same way.
pub(crate) fn base_name(title: &str, url: &Url) -> String {
    let from_title = slug(title);
    if !from_title.is_empty() {
        return from_title;
    }
    let host = url.host_str().unwrap_or_default();
    let host = slug(host.strip_prefix("www.").unwrap_or(host));
    if host.is_empty() { "feed".into() } else { host }
}

fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out = out.trim_end_matches('-').to_string();
    if out.len() > NAME_MAX {
        let cut = out[..NAME_MAX].rfind('-').filter(|&i| i > NAME_MAX / 2);
        out.truncate(cut.unwrap_or(NAME_MAX));
    }
    out
}

/// `base`, or `base-2`, `base-3`… when `taken` has it; recorded as taken.
pub(crate) fn unique(base: String, taken: &mut HashSet<String>) -> String {
    let mut name = base.clone();
    let mut n = 2;
    while !taken.insert(name.clone()) {
        name = format!("{base}-{n}");
        n += 1;
    }
    name
}

/// The tables, each under a comment naming the feed and its folders.
pub fn to_toml(sources: &[NewSource]) -> String {
    let mut out = String::new();
    for (i, source) in sources.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut comment = comment_text(&source.title);
        if !source.folders.is_empty() {
            let folders: Vec<String> = source.folders.iter().map(|f| comment_text(f)).collect();
            let _ = write!(comment, " (in {})", folders.join(" / "));
        }
        if !comment.trim().is_empty() {
            let _ = writeln!(out, "# {}", comment.trim());
        }
        let _ = writeln!(
            out,
            "[[source]]\nname = {}\nurl = {}\ntype = \"feed\"",
            toml_string(&source.name),
            toml_string(source.url.as_str())
        );
    }
    out
}

/// Text safe inside a one-line TOML comment.
fn comment_text(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn toml_string(text: &str) -> String {
    toml_edit::Value::from(text).to_string().trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NESTED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>Subscriptions</title></head>
  <body>
    <outline text="Social work">
      <outline text="Frontline" title="Community Care: Frontline" type="rss"
               xmlUrl="https://www.communitycare.co.uk/tag/frontline/feed/"/>
      <outline text="Councils">
        <outline text="Birmingham &amp; Solihull" xmlurl="https://example.org/bham.xml"/>
      </outline>
    </outline>
    <outline text="极速赛车" xmlUrl="https://www.example.com/cn.xml"/>
    <outline text="Frontline" xmlUrl="https://example.net/other-frontline.xml"/>
    <outline text="Frontline again" xmlUrl="https://www.communitycare.co.uk/tag/frontline/feed/"/>
    <outline text="Not a feed" xmlUrl="javascript:alert(1)"/>
  </body>
</opml>"#;

    #[test]
    fn nested_outlines_keep_their_folders() {
        let outlines = parse(NESTED.as_bytes()).unwrap_or_default();
        let found: Vec<(&str, Vec<&str>)> = outlines
            .iter()
            .map(|o| {
                (
                    o.title.as_str(),
                    o.folders.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            found,
            vec![
                ("Community Care: Frontline", vec!["Social work"]),
                ("Birmingham & Solihull", vec!["Social work", "Councils"]),
                ("极速赛车", vec![]),
                ("Frontline", vec![]),
                ("Frontline again", vec![]),
                ("Not a feed", vec![]),
            ]
        );
    }

    #[test]
    fn names_are_unique_and_valid() {
        let outlines = parse(NESTED.as_bytes()).unwrap_or_default();
        let import = sources(&outlines);
        let names: Vec<&str> = import.sources.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "community-care-frontline",
                "birmingham-solihull",
                "example-com",
                "frontline"
            ]
        );
        assert_eq!(import.skipped.len(), 2, "{:?}", import.skipped);
        let mut taken = HashSet::new();
        assert_eq!(unique("a".into(), &mut taken), "a");
        assert_eq!(unique("a".into(), &mut taken), "a-2");
        assert_eq!(unique("a".into(), &mut taken), "a-3");
    }

    #[test]
    fn feed_scheme_addresses_become_web_addresses() {
        let url = |s: &str| feed_url(s).map(|u| u.to_string());
        assert_eq!(
            url("feed://example.org/rss").as_deref(),
            Some("http://example.org/rss")
        );
        assert_eq!(
            url("feed:https://example.org/rss").as_deref(),
            Some("https://example.org/rss")
        );
        assert_eq!(url("file:///etc/passwd"), None);
    }

    #[test]
    fn other_documents_are_refused() {
        assert!(matches!(
            parse(b"<rss><channel/></rss>"),
            Err(OpmlError::NotOpml(_))
        ));
        assert!(matches!(parse(b""), Err(OpmlError::Empty)));
        assert!(matches!(
            parse(b"<opml><body><outline text=\"a></body>"),
            Err(OpmlError::Xml { .. })
        ));
    }

    #[test]
    fn titles_cannot_break_out_of_their_comment() {
        let source = NewSource {
            name: "x".into(),
            url: Url::parse("https://example.org/").unwrap_or_else(|e| panic!("{e}")),
            title: "evil\n[settings]\ndatabase = \"/tmp/x\"".into(),
            folders: vec![],
        };
        let toml = to_toml(&[source]);
        assert!(toml.starts_with("# evil [settings] database"), "{toml}");
        assert_eq!(toml.matches('\n').count(), 5, "{toml}");
    }
}
