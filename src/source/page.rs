//! Web pages: HTML reduced to the text a reader sees, one line per paragraph
//! or list entry, limited to what `select` picks and without what `exclude`
//! names, so a diff of two versions reads like the story and the page
//! furniture around it never counts.
//!
//! Articles linked from feed items are read the same way: with the source's
//! `article_select`, or else with a readability-style extractor that finds
//! the main text of the page by itself.

use std::panic::{AssertUnwindSafe, catch_unwind};

use dom_query::{Document, Matcher, NodeRef};
use url::Url;

use crate::text::{self, BLOCK_TAGS, HIDDEN_TAGS};

/// Browsers stop nesting elements at this depth. The HTML parser and the
/// article extractor slow down sharply with depth, so a page that nests
/// deeper is refused before either sees it.
const MAX_DEPTH: usize = 512;

/// More elements than this and the article extractor gives up.
const MAX_ARTICLE_ELEMENTS: usize = 50_000;

/// Elements that never hold others, or whose end tag may be left out and is
/// then implied: neither can make a page deep.
const FLAT_TAGS: &[&str] = &[
    "area", "base", "br", "col", "colgroup", "dd", "dt", "embed", "hr", "img", "input", "li",
    "link", "meta", "option", "optgroup", "p", "param", "rb", "rp", "rt", "rtc", "source", "tbody",
    "td", "tfoot", "th", "thead", "tr", "track", "wbr",
];

/// What one page yields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// The `<title>`, on one line.
    pub title: String,
    /// The selected text, one line per block.
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("`{selector}` is not a CSS selector that can be used ({reason})")]
    BadSelector { selector: String, reason: String },
    #[error("nothing on the page matches {}", describe(.0))]
    NothingSelected(Vec<String>),
    #[error("could not find the article text on the page ({0})")]
    NoArticle(String),
    #[error("the page nests its elements more than {MAX_DEPTH} deep, too deep to read")]
    TooDeep,
    #[error("the HTML reader failed on this page ({0})")]
    Panicked(String),
}

fn describe(selectors: &[String]) -> String {
    let quoted: Vec<String> = selectors.iter().map(|s| format!("`{s}`")).collect();
    format!("select = {}", quoted.join(" or "))
}

/// Checks a CSS selector the way extraction will use it; the reason when it
/// cannot be used.
pub fn check_selector(selector: &str) -> Result<(), String> {
    matcher(selector).map(|_| ()).map_err(|e| e.to_string())
}

/// The readable text of an HTML page: decoded (HTTP charset, then `<meta
/// charset>`, then sniffing), `exclude` removed, reduced to what `select`
/// matches (the whole body when `select` is empty), one line per paragraph
/// or list entry, whitespace folded. Never panics, whatever the bytes.
pub fn extract_text(
    html: &[u8],
    content_type: Option<&str>,
    select: &[String],
    exclude: &[String],
) -> Result<String, PageError> {
    read(html, content_type, select, exclude).map(|page| page.text)
}

/// Reads a page: its title and its selected text (see [`extract_text`]).
pub fn read(
    html: &[u8],
    content_type: Option<&str>,
    select: &[String],
    exclude: &[String],
) -> Result<Page, PageError> {
    let decoded = super::decode::html_to_utf8(html, content_type);
    if too_deep(&decoded.text) {
        return Err(PageError::TooDeep);
    }
    guarded(|| {
        let doc = Document::from(decoded.text.as_str());
        remove_excluded(&doc, exclude)?;
        let text = selected_text(&doc, select)?;
        Ok(Page {
            title: title(&doc),
            text,
        })
    })
}

/// The text of an article page: what `article_select` matches when given,
/// else the main text a readability-style extractor finds.
pub fn article_text(
    html: &[u8],
    content_type: Option<&str>,
    url: Option<&Url>,
    article_select: Option<&str>,
) -> Result<String, PageError> {
    if let Some(selector) = article_select {
        return extract_text(html, content_type, &[selector.to_string()], &[]);
    }
    let decoded = super::decode::html_to_utf8(html, content_type);
    if too_deep(&decoded.text) {
        return Err(PageError::TooDeep);
    }
    guarded(|| {
        let doc = Document::from(decoded.text.as_str());
        let config = dom_smoothie::Config {
            max_elements_to_parse: MAX_ARTICLE_ELEMENTS,
            ..dom_smoothie::Config::default()
        };
        let url = url.map(Url::as_str).filter(|u| u.starts_with("http"));
        let mut reader = dom_smoothie::Readability::with_document(doc, url, Some(config))
            .map_err(|e| PageError::NoArticle(e.to_string()))?;
        let article = reader
            .parse()
            .map_err(|e| PageError::NoArticle(e.to_string()))?;
        let content = Document::fragment(article.content);
        let text = text_of(&[content.root()]);
        if text.is_empty() {
            return Err(PageError::NoArticle("it has no text".into()));
        }
        Ok(text)
    })
}

/// Whether the markup may nest deeper than [`MAX_DEPTH`], judged the way the
/// parser will build it: elements that need an end tag stay open until one
/// closes them (a stray end tag closes nothing, and `<div/>` is an open
/// `div`, as in HTML; only inside SVG and MathML does `/>` close), while
/// comments and the contents of scripts and styles are skipped.
pub(super) fn too_deep(html: &str) -> bool {
    let mut open: Vec<String> = Vec::new();
    let mut foreign = 0usize;
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        rest = &rest[lt + 1..];
        if let Some(after) = rest.strip_prefix("!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        let closing = rest.starts_with('/');
        let name: String = rest
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if name.is_empty() || FLAT_TAGS.contains(&name.as_str()) {
            continue;
        }
        if closing {
            if let Some(at) = open.iter().rposition(|n| *n == name) {
                open.truncate(at);
                foreign = foreign.min(open.iter().filter(|n| is_foreign(n)).count());
            }
            continue;
        }
        if matches!(
            name.as_str(),
            "script" | "style" | "textarea" | "title" | "xmp"
        ) {
            let close = format!("</{name}");
            rest = find_ignore_case(rest, &close).map_or("", |at| &rest[at..]);
            continue;
        }
        // A tag longer than this is not looked at for a closing `/>`, so a
        // page of unclosed tags costs linear time.
        let head = &rest.as_bytes()[..rest.len().min(4096)];
        let end = head.iter().position(|&b| b == b'>');
        let self_closing = end.is_some_and(|end| end > 0 && head[end - 1] == b'/');
        if foreign > 0 && self_closing {
            continue;
        }
        if is_foreign(&name) {
            foreign += 1;
        }
        open.push(name);
        if open.len() > MAX_DEPTH {
            return true;
        }
    }
    false
}

fn is_foreign(name: &str) -> bool {
    name == "svg" || name == "math"
}

fn find_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// Runs the HTML parser and selectors so that a panic inside them is this
/// page's error, never the caller's.
pub(super) fn guarded<T>(work: impl FnOnce() -> Result<T, PageError>) -> Result<T, PageError> {
    catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        Err(PageError::Panicked(message))
    })
}

fn matcher(selector: &str) -> Result<Matcher, PageError> {
    Matcher::new(selector).map_err(|e| PageError::BadSelector {
        selector: selector.to_string(),
        reason: format!("{:?}", e.kind).chars().take(200).collect(),
    })
}

fn remove_excluded(doc: &Document, exclude: &[String]) -> Result<(), PageError> {
    for selector in exclude {
        doc.select_matcher(&matcher(selector)?).remove();
    }
    Ok(())
}

/// The text of every element `select` matches, in document order; an element
/// inside another match is not read twice.
fn selected_text(doc: &Document, select: &[String]) -> Result<String, PageError> {
    if select.is_empty() {
        let root = doc.body().unwrap_or_else(|| doc.root());
        return Ok(text_of(&[root]));
    }
    let mut found: Vec<NodeRef<'_>> = Vec::new();
    for selector in select {
        found.extend(
            doc.select_matcher(&matcher(selector)?)
                .nodes()
                .iter()
                .copied(),
        );
    }
    found.sort_by_key(|n| n.id);
    found.dedup_by_key(|n| n.id);
    let ids: Vec<_> = found.iter().map(|n| n.id).collect();
    let outermost: Vec<NodeRef<'_>> = found
        .into_iter()
        .filter(|n| !n.ancestors_it(None).any(|a| ids.contains(&a.id)))
        .collect();
    if outermost.is_empty() {
        return Err(PageError::NothingSelected(select.to_vec()));
    }
    Ok(text_of(&outermost))
}

fn title(doc: &Document) -> String {
    doc.select("head title")
        .nodes()
        .first()
        .map(|t| text::single_line(&text::fold(&t.text())))
        .unwrap_or_default()
}

/// Walks the nodes without recursion (a page may nest deeper than any stack),
/// writing one line per block the way [`text::html_to_text`] does for feeds.
fn text_of(roots: &[NodeRef<'_>]) -> String {
    enum Visit<'a> {
        Enter(NodeRef<'a>),
        Leave { block: bool },
    }
    let mut out = String::new();
    for root in roots {
        let mut stack = vec![Visit::Enter(*root)];
        while let Some(visit) = stack.pop() {
            let node = match visit {
                Visit::Leave { block } => {
                    if block {
                        out.push('\n');
                    }
                    continue;
                }
                Visit::Enter(node) => node,
            };
            if node.is_text() {
                push_text(&mut out, &node.text());
                continue;
            }
            let mut block = false;
            if let Some(name) = node.node_name() {
                let name = name.to_ascii_lowercase();
                if HIDDEN_TAGS.contains(&name.as_str()) || node.has_attr("hidden") {
                    continue;
                }
                block = BLOCK_TAGS.contains(&name.as_str());
                if block {
                    out.push('\n');
                }
                match name.as_str() {
                    "li" => out.push_str("- "),
                    "img" => push_text(&mut out, &node.attr("alt").unwrap_or_default()),
                    _ => {}
                }
            } else if !(node.is_document() || node.is_fragment()) {
                continue;
            }
            stack.push(Visit::Leave { block });
            stack.extend(node.children_it(true).map(Visit::Enter));
        }
        out.push('\n');
    }
    text::fold(&out)
}

/// Line breaks in HTML source are spaces; only blocks break lines.
fn push_text(out: &mut String, raw: &str) {
    out.extend(
        raw.chars()
            .map(|c| if c == '\n' || c == '\r' { ' ' } else { c }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const FOSTERING: &[u8] = include_bytes!("../../tests/fixtures/fostering-birmingham-trust.html");

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn select_and_exclude_give_the_story_alone() {
        let page = read(
            FOSTERING,
            None,
            &strings(&["article"]),
            &strings(&[".advert"]),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            page.text
                .starts_with("Children’s services in Birmingham to be run by independent trust\n")
        );
        assert!(!page.text.contains("Start your fostering journey"));
        assert!(!page.text.contains("Close Menu"));
        assert!(
            !page
                .text
                .contains("Find out if you could be a foster carer")
        );
        assert_eq!(
            page.title,
            "Children’s services in Birmingham to be run by independent trust | Community Care"
        );
        assert!(page.text.lines().count() > 15, "{}", page.text);
    }

    #[test]
    fn lists_and_paragraphs_keep_their_lines() {
        let html =
            b"<body><nav>Menu</nav><main><p>One  two</p><ul><li>a</li><li>b <b>c</b></li></ul>\
                     <script>x()</script><p hidden>secret</p><p>end<br>line</p></main></body>";
        let text = extract_text(html, None, &strings(&["main"]), &[]).unwrap_or_default();
        assert_eq!(text, "One two\n- a\n- b c\nend\nline");
    }

    #[test]
    fn nested_matches_are_read_once() {
        let html = b"<article><div class=c><p>x</p></div></article><div class=c><p>y</p></div>";
        let text = extract_text(html, None, &strings(&["article", ".c"]), &[]).unwrap_or_default();
        assert_eq!(text, "x\ny");
    }

    #[test]
    fn meta_charset_decides_when_http_is_silent() {
        let html =
            b"<html><head><meta charset=\"windows-1252\"></head><body><p>caf\xe9</p></body></html>";
        assert_eq!(
            extract_text(html, None, &[], &[]).unwrap_or_default(),
            "café"
        );
        let html = b"<html><body><p>caf\xc3\xa9</p></body></html>";
        let text = extract_text(html, Some("text/html; charset=utf-8"), &[], &[]);
        assert_eq!(text.unwrap_or_default(), "café");
    }

    #[test]
    fn missing_selection_and_bad_selectors_are_errors() {
        let html = b"<p>x</p>";
        assert!(matches!(
            extract_text(html, None, &strings(&["article"]), &[]),
            Err(PageError::NothingSelected(_))
        ));
        assert!(matches!(
            extract_text(html, None, &strings(&["a[[["]), &[]),
            Err(PageError::BadSelector { .. })
        ));
        assert!(check_selector("article .entry-content").is_ok());
        assert!(check_selector("div >").is_err());
    }

    #[test]
    fn deep_nesting_and_garbage_do_not_crash() {
        let deep = "<div>".repeat(200_000) + "deep";
        assert!(matches!(
            extract_text(deep.as_bytes(), None, &[], &[]),
            Err(PageError::TooDeep)
        ));
        assert!(matches!(
            article_text(deep.as_bytes(), None, None, None),
            Err(PageError::TooDeep)
        ));
        let sloppy = "<p>unclosed paragraph<li>item<br><img src=x></span>".repeat(5_000);
        assert!(extract_text(sloppy.as_bytes(), None, &[], &[]).is_ok());
        let svg = format!(
            "<div><svg>{}</svg></div>",
            "<path d=\"M0 0\"/>".repeat(5_000)
        );
        assert!(extract_text(svg.as_bytes(), None, &[], &[]).is_ok());
        for trick in ["<div></x>", "<div/>", "<b id=1><p>x</p>"] {
            let deep = trick.repeat(5_000);
            assert!(
                matches!(
                    extract_text(deep.as_bytes(), None, &[], &[]),
                    Err(PageError::TooDeep)
                ),
                "{trick}"
            );
        }
        // Tags that never end are looked at in bounded windows.
        let unclosed = "<a ".repeat(500_000);
        let _ = extract_text(unclosed.as_bytes(), None, &[], &[]);
        for bytes in [
            &b""[..],
            b"<",
            b"\xff\xfe\x00<",
            b"<html><body></",
            b"<table><tr><td>x",
        ] {
            let _ = extract_text(bytes, None, &[], &[]);
            let _ = article_text(bytes, None, None, None);
        }
    }

    #[test]
    fn readability_finds_the_story_without_a_selector() {
        let url = Url::parse("https://www.communitycare.co.uk/story/").ok();
        let text = article_text(FOSTERING, None, url.as_ref(), None).unwrap_or_default();
        assert!(text.contains(
            "Birmingham council’s children’s services is to become an independent trust"
        ));
        assert!(!text.contains("Close Menu"));
    }
}
