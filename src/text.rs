//! Text normalisation: what a reader sees, not how the publisher marked it up.
//!
//! Every compared field goes through here before two versions are set side by
//! side, so markup-only and whitespace-only edits never count as changes, and
//! the stored text keeps one line per paragraph or list entry so a diff reads
//! like the story.

use regex::Regex;

/// Elements whose start or end begins a new line of text.
pub(crate) const BLOCK_TAGS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "td",
    "th",
    "tr",
    "ul",
];

/// Elements whose content is never text a reader sees.
pub(crate) const HIDDEN_TAGS: &[&str] =
    &["script", "style", "noscript", "template", "head", "title"];

/// Reduces an HTML fragment (or plain text) to readable text: one line per
/// block, entities decoded, whitespace folded.
pub fn html_to_text(input: &str) -> String {
    if !looks_like_markup(input) {
        return fold(&html_escape::decode_html_entities(input));
    }
    let mut out = String::with_capacity(input.len() / 2);
    let mut rest = input;
    while let Some(lt) = rest.find('<') {
        push_text(&mut out, &rest[..lt]);
        rest = &rest[lt..];
        rest = skip_markup(&mut out, rest);
    }
    push_text(&mut out, rest);
    fold(&out)
}

/// One line of text: for titles and other single-line fields.
pub fn single_line(input: &str) -> String {
    let text = html_to_text(input);
    if text.contains('\n') {
        text.split('\n').collect::<Vec<_>>().join(" ")
    } else {
        text
    }
}

/// Folds whitespace within each line, trims lines and drops empty ones.
/// One pass that copies runs of text whole: every feed's text comes
/// through here, so it is kept cheap.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    // A line break or a space is owed before the next word, if any comes.
    let (mut line_break, mut space, mut in_line) = (false, false, false);
    let mut i = 0;
    while i < bytes.len() {
        let (len, kind) = classify(text, i);
        match kind {
            Class::LineEnd => {
                line_break |= in_line;
                (space, in_line) = (false, false);
                i += len;
            }
            Class::Space => {
                space |= in_line;
                i += len;
            }
            Class::Word => {
                if space {
                    out.push(' ');
                } else if line_break && !out.is_empty() {
                    out.push('\n');
                }
                (space, line_break, in_line) = (false, false, true);
                let start = i;
                i += len;
                while i < bytes.len() {
                    // Printable ASCII, the bulk of any text, needs no decoding,
                    // and one space before more of it is already folded: most
                    // lines are copied in one piece, sixteen bytes at a time.
                    if let Some(chunk) = bytes.get(i..i + 16)
                        && plain(chunk)
                    {
                        i += 16;
                        continue;
                    }
                    if (b'!'..=b'~').contains(&bytes[i]) {
                        i += 1;
                        continue;
                    }
                    if bytes[i] == b' '
                        && bytes.get(i + 1).is_some_and(|b| (b'!'..=b'~').contains(b))
                    {
                        i += 2;
                        continue;
                    }
                    let (len, kind) = classify(text, i);
                    if kind != Class::Word {
                        break;
                    }
                    i += len;
                }
                out.push_str(&text[start..i]);
            }
        }
    }
    out
}

/// Whether a run of bytes inside a word can be copied as it is: printable
/// ASCII with single spaces between, ending on a printable byte. Written
/// without branches, so the check costs about as much as copying.
#[inline]
fn plain(chunk: &[u8]) -> bool {
    let (mut ok, mut after_space) = (true, false);
    for &b in chunk {
        let space = b == b' ';
        ok &= (space || b.wrapping_sub(b'!') <= b'~' - b'!') & !(space & after_space);
        after_space = space;
    }
    ok & !after_space
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    LineEnd,
    Space,
    Word,
}

/// The length and class of the character starting at byte `i`; `\r\n`
/// counts as one line end, as `str::lines` reads it.
#[inline]
fn classify(text: &str, i: usize) -> (usize, Class) {
    let b = text.as_bytes()[i];
    match b {
        b'\n' => (1, Class::LineEnd),
        b'\r' if text.as_bytes().get(i + 1) == Some(&b'\n') => (2, Class::LineEnd),
        b' ' | b'\t' | b'\r' | 0x0b | 0x0c => (1, Class::Space),
        0..=0x7f => (1, Class::Word),
        _ => {
            let c = text[i..].chars().next().unwrap_or(' ');
            let kind = if is_fold_space(c) {
                Class::Space
            } else {
                Class::Word
            };
            (c.len_utf8(), kind)
        }
    }
}

/// Rounds of removal before `apply_ignore` gives up on reaching a fixed point.
const IGNORE_ROUNDS: usize = 8;

/// Removes every match of the user's `ignore` patterns, then folds again.
pub fn apply_ignore(text: &str, ignore: &[Regex]) -> String {
    if ignore.is_empty() {
        return text.to_string();
    }
    // Removing one match can join text into another ("aabb" without "ab" is
    // "ab"), so repeat until nothing matches; a few rounds settle any real
    // pattern, and the bound keeps a pathological one cheap.
    let mut current = fold(text);
    for _ in 0..IGNORE_ROUNDS {
        let mut changed = false;
        for re in ignore {
            if re.is_match(&current) {
                current = re.replace_all(&current, "").into_owned();
                changed = true;
            }
        }
        current = fold(&current);
        if !changed {
            break;
        }
    }
    current
}

fn is_fold_space(c: char) -> bool {
    c.is_whitespace() || c == '\u{200b}' || c == '\u{feff}'
}

fn looks_like_markup(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes
        .windows(2)
        .any(|w| w[0] == b'<' && (w[1].is_ascii_alphabetic() || w[1] == b'/' || w[1] == b'!'))
}

fn push_text(out: &mut String, raw: &str) {
    if raw.is_empty() {
        return;
    }
    let decoded = if raw.contains('&') {
        html_escape::decode_html_entities(raw)
    } else {
        std::borrow::Cow::Borrowed(raw)
    };
    // In markup, line breaks in the source are plain spaces; only blocks break lines.
    let mut rest = &*decoded;
    while let Some(at) = memchr::memchr2(b'\n', b'\r', rest.as_bytes()) {
        out.push_str(&rest[..at]);
        out.push(' ');
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
}

/// Consumes one piece of markup starting at `<` and returns the rest.
fn skip_markup<'a>(out: &mut String, s: &'a str) -> &'a str {
    if let Some(after) = s.strip_prefix("<!--") {
        return after.find("-->").map_or("", |end| &after[end + 3..]);
    }
    if let Some(after) = s.strip_prefix("<![CDATA[") {
        let end = after.find("]]>").unwrap_or(after.len());
        out.push_str(&after[..end]);
        return after.get(end + 3..).unwrap_or("");
    }
    let Some(end) = tag_end(s) else {
        // A lone `<` that opens nothing is text ("a < b").
        out.push('<');
        return &s[1..];
    };
    let tag = &s[1..end];
    let rest = &s[end + 1..];
    let closing = tag.starts_with('/');
    let name = tag_name(tag);
    let is = |other: &str| name.eq_ignore_ascii_case(other);
    if name.is_empty() {
        if !tag.starts_with('!') && !tag.starts_with('?') && !closing {
            out.push_str(&s[..=end]);
        }
        return rest;
    }
    if BLOCK_TAGS.iter().any(|t| is(t)) {
        out.push('\n');
        if is("li") && !closing {
            out.push_str("- ");
        }
        return rest;
    }
    if !closing && HIDDEN_TAGS.iter().any(|t| is(t)) && !tag.ends_with('/') {
        return skip_hidden(rest, &name.to_ascii_lowercase());
    }
    if is("img")
        && let Some(alt) = attribute(tag, "alt").filter(|a| !a.trim().is_empty())
    {
        out.push_str(&html_escape::decode_html_entities(&alt));
    }
    rest
}

/// Finds the `>` that closes a tag, honouring quoted attribute values.
fn tag_end(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let first = *bytes.get(1)?;
    if !(first.is_ascii_alphabetic() || first == b'/' || first == b'!' || first == b'?') {
        return None;
    }
    let mut quote = None;
    for (i, &b) in bytes.iter().enumerate().skip(1) {
        match (quote, b) {
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), _) if q == b => quote = None,
            (None, b'>') => return Some(i),
            _ => {}
        }
    }
    None
}

fn tag_name(tag: &str) -> &str {
    let tag = tag.trim_start_matches('/');
    let end = tag
        .bytes()
        .position(|b| !b.is_ascii_alphanumeric())
        .unwrap_or(tag.len());
    &tag[..end]
}

fn skip_hidden<'a>(s: &'a str, name: &str) -> &'a str {
    let lower = s.to_ascii_lowercase();
    let close = format!("</{name}");
    match lower.find(&close) {
        Some(pos) => {
            let after = &s[pos..];
            after.find('>').map_or("", |gt| &after[gt + 1..])
        }
        None => "",
    }
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower[from..].find(name) {
        let at = from + pos;
        from = at + name.len();
        let before_ok = at > 0 && lower.as_bytes()[at - 1].is_ascii_whitespace();
        let after = lower[from..].trim_start();
        if !before_ok || !after.starts_with('=') {
            continue;
        }
        let value_start = tag.len() - after.len() + 1;
        let value = tag[value_start..].trim_start();
        return Some(match value.chars().next() {
            Some(q @ ('"' | '\'')) => value[1..].split(q).next().unwrap_or("").to_string(),
            _ => value.split_whitespace().next().unwrap_or("").to_string(),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_become_lines() {
        let html = "<p>First  para</p>\n<p>Second <strong>bold</strong> para</p><ul><li>one</li><li>two</li></ul>";
        assert_eq!(
            html_to_text(html),
            "First para\nSecond bold para\n- one\n- two"
        );
    }

    #[test]
    fn markup_only_edits_reduce_to_the_same_text() {
        let a = "<p>Patricia has been working as a practice educator.</p>";
        let b = "<p class=\"lead\" id='x'>Patricia has <em>been</em> working\n   as a practice educator.</p>\n\n";
        assert_eq!(html_to_text(a), html_to_text(b));
    }

    #[test]
    fn entities_are_decoded_and_scripts_dropped() {
        let html = "<p>Tom &amp; Jerry&nbsp;&mdash; &#8220;quoted&#8221;</p><script>alert('x')</script><style>p{}</style>";
        assert_eq!(html_to_text(html), "Tom & Jerry — \u{201c}quoted\u{201d}");
    }

    #[test]
    fn plain_text_with_angle_brackets_is_kept() {
        assert_eq!(html_to_text("a < b and c > d"), "a < b and c > d");
        assert_eq!(html_to_text("x <3 y"), "x <3 y");
    }

    #[test]
    fn comments_and_cdata() {
        assert_eq!(html_to_text("a<!-- hidden -->b<![CDATA[c]]>"), "abc");
        assert_eq!(html_to_text("unterminated <!-- comment"), "unterminated");
    }

    #[test]
    fn image_alt_text_is_kept() {
        assert_eq!(
            html_to_text("<p><img src=\"x.png\" alt=\"A chart\"> shows</p>"),
            "A chart shows"
        );
    }

    #[test]
    fn ignore_patterns_are_removed() {
        let re = Regex::new(r"\d+ comments?").expect("valid regex");
        assert_eq!(
            apply_ignore("Great story 12 comments here", &[re]),
            "Great story here"
        );
    }

    #[test]
    fn folding_trims_lines_and_drops_empty_ones() {
        assert_eq!(
            fold("  a \t b  \r\n\n\n  c\u{a0}\u{200b}d \n  \n"),
            "a b\nc d"
        );
        assert_eq!(fold("\u{2028}x\ry\u{3000}"), "x y");
        assert_eq!(fold("Ünïcödé  wörds\nzwei"), "Ünïcödé wörds\nzwei");
        assert_eq!(fold(""), "");
        assert_eq!(fold(" \n \t "), "");
    }

    /// What folding means, written the plain way.
    fn fold_by_lines(text: &str) -> String {
        text.lines()
            .map(|line| {
                line.split(is_fold_space)
                    .filter(|w| !w.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .filter(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join("\n")
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn folding_is_lines_of_words_joined_by_single_spaces(
            text in "([a-z.,!~]{0,20}( |  |\t|\n|\r\n|\r|\u{a0}|\u{200b}|é|€){0,3}){0,12}"
        ) {
            proptest::prop_assert_eq!(fold(&text), fold_by_lines(&text));
        }
    }

    #[test]
    fn single_line_joins_blocks() {
        assert_eq!(single_line("<b>A</b><br>B"), "A B");
    }

    #[test]
    fn broken_markup_does_not_panic() {
        for s in [
            "<",
            "<p",
            "<a href=\"x>y",
            "&",
            "&#xFFFFFFFF;",
            "<<<>>>",
            "</>",
        ] {
            let _ = html_to_text(s);
        }
    }
}
