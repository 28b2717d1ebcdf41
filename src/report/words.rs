//! Word diffs: which words of a field were removed and which were added,
//! with long unchanged stretches shortened to a little context.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use similar::{Algorithm, DiffTag, capture_diff_slices_deadline};

/// How long one word diff may take before settling for a coarser answer.
const DEADLINE: Duration = Duration::from_millis(200);

/// A stretch of a word diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    Same(Cow<'a, str>),
    Removed(Cow<'a, str>),
    Added(Cow<'a, str>),
    /// Unchanged words left out.
    Gap,
}

/// The word diff from `before` to `after`. With `context`, unchanged
/// stretches keep at most that many words next to each change.
pub fn diff<'a>(before: &'a str, after: &'a str, context: Option<usize>) -> Vec<Piece<'a>> {
    let old = tokens(before);
    let new = tokens(after);
    let deadline = Instant::now() + DEADLINE;
    let ops = capture_diff_slices_deadline(Algorithm::Myers, &old, &new, Some(deadline));
    let last = ops.len().saturating_sub(1);
    let mut out = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let (tag, o, n) = op.as_tag_tuple();
        let removed = span(before, &old[o]);
        let added = span(after, &new[n.clone()]);
        match tag {
            DiffTag::Equal => same(&mut out, after, &new[n], context, i == 0, i == last),
            DiffTag::Delete => marked(&mut out, Piece::Removed, removed),
            DiffTag::Insert => marked(&mut out, Piece::Added, added),
            DiffTag::Replace => replaced(&mut out, removed, added),
        }
    }
    out
}

/// True when the diff has any change in it.
#[cfg(test)]
fn changed(pieces: &[Piece<'_>]) -> bool {
    pieces
        .iter()
        .any(|p| matches!(p, Piece::Removed(_) | Piece::Added(_)))
}

/// A word with the whitespace after it. Words alone are compared, so a
/// changed space never counts as an edit and a word gained at the end does
/// not make the one before it look changed.
#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    word: &'a str,
    text: &'a str,
}

impl PartialEq for Token<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.word == other.word
    }
}

impl Eq for Token<'_> {}

impl PartialOrd for Token<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Token<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.word.cmp(other.word)
    }
}

impl std::hash::Hash for Token<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.word.hash(state);
    }
}

/// Splits text into words, each with the whitespace after it; whitespace at
/// the start is a token with no word.
fn tokens(text: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut word_end = None;
    for (i, c) in text.char_indices() {
        let space = c.is_whitespace();
        match (space, word_end) {
            (true, None) if i > start || i == 0 => word_end = Some(i),
            (false, Some(end)) => {
                out.push(Token {
                    word: &text[start..end],
                    text: &text[start..i],
                });
                start = i;
                word_end = None;
            }
            _ => {}
        }
    }
    if start < text.len() {
        let end = word_end.unwrap_or(text.len());
        out.push(Token {
            word: &text[start..end],
            text: &text[start..],
        });
    }
    out
}

/// The text covered by consecutive tokens of `text`.
fn span<'a>(text: &'a str, toks: &[Token<'a>]) -> &'a str {
    match (toks.first(), toks.last()) {
        (Some(first), Some(last)) => {
            let start = first.text.as_ptr() as usize - text.as_ptr() as usize;
            let end = last.text.as_ptr() as usize - text.as_ptr() as usize + last.text.len();
            &text[start..end]
        }
        _ => "",
    }
}

/// A removal or an addition, the whitespace after its last word left
/// unmarked: `<ins>that many</ins> practitioners`.
fn marked<'a>(out: &mut Vec<Piece<'a>>, mark: fn(Cow<'a, str>) -> Piece<'a>, text: &'a str) {
    let words = text.trim_end();
    if words.is_empty() {
        out.push(mark(Cow::Borrowed(text)));
        return;
    }
    out.push(mark(Cow::Borrowed(words)));
    if words.len() < text.len() {
        out.push(Piece::Same(Cow::Borrowed(&text[words.len()..])));
    }
}

/// A replacement, with whitespace both sides end in moved out of the marks.
fn replaced<'a>(out: &mut Vec<Piece<'a>>, removed: &'a str, added: &'a str) {
    let r = removed.trim_end();
    let a = added.trim_end();
    let (r_tail, a_tail) = (&removed[r.len()..], &added[a.len()..]);
    if !r.is_empty() && !a.is_empty() && r_tail == a_tail && !a_tail.is_empty() {
        out.push(Piece::Removed(Cow::Borrowed(r)));
        out.push(Piece::Added(Cow::Borrowed(a)));
        out.push(Piece::Same(Cow::Borrowed(a_tail)));
    } else {
        out.push(Piece::Removed(Cow::Borrowed(removed)));
        out.push(Piece::Added(Cow::Borrowed(added)));
    }
}

fn same<'a>(
    out: &mut Vec<Piece<'a>>,
    text: &'a str,
    toks: &[Token<'a>],
    context: Option<usize>,
    first: bool,
    last: bool,
) {
    let Some(keep) = context else {
        out.push(Piece::Same(Cow::Borrowed(span(text, toks))));
        return;
    };
    let head = if first { 0 } else { keep };
    let tail = if last { 0 } else { keep };
    if toks.len() <= head + tail + 1 {
        out.push(Piece::Same(Cow::Borrowed(span(text, toks))));
        return;
    }
    if head > 0 {
        out.push(Piece::Same(Cow::Borrowed(span(text, &toks[..head]))));
    }
    out.push(Piece::Gap);
    if tail > 0 {
        out.push(Piece::Same(Cow::Borrowed(span(
            text,
            &toks[toks.len() - tail..],
        ))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(pieces: &[Piece<'_>]) -> String {
        pieces
            .iter()
            .map(|p| match p {
                Piece::Same(s) => s.to_string(),
                Piece::Removed(s) => format!("[-{s}-]"),
                Piece::Added(s) => format!("{{+{s}+}}"),
                Piece::Gap => "…".into(),
            })
            .collect()
    }

    #[test]
    fn a_changed_word_is_removed_and_added() {
        assert_eq!(
            show(&diff("the cat sat", "the dog sat", None)),
            "the [-cat-]{+dog+} sat"
        );
    }

    #[test]
    fn a_word_added_at_the_end_is_only_an_insertion() {
        assert_eq!(
            show(&diff("cuts & apologises", "cuts & apologises again", None)),
            "cuts & apologises {+again+}"
        );
    }

    #[test]
    fn words_are_compared_not_spaces() {
        let before = "programme, also found practitioners were battling high";
        let after = "programme, found that many practitioners were battling very high";
        assert_eq!(
            show(&diff(before, after, None)),
            "programme, [-also-] found {+that many+} practitioners were battling {+very+} high"
        );
        assert!(!changed(&diff("a  b\n", "a b", None)));
    }

    #[test]
    fn a_prefix_is_one_insertion() {
        assert_eq!(
            show(&diff(
                "Story one",
                "极速赛车168最新开奖号码 Story one",
                None
            )),
            "{+极速赛车168最新开奖号码+} Story one"
        );
    }

    #[test]
    fn long_unchanged_text_keeps_context_only() {
        let before: Vec<String> = (0..100).map(|i| format!("w{i}")).collect();
        let mut after = before.clone();
        after[50] = "changed".into();
        let (b, a) = (before.join(" "), after.join(" "));
        assert_eq!(
            show(&diff(&b, &a, Some(3))),
            "…w47 w48 w49 [-w50-]{+changed+} w51 w52 w53 …"
        );
    }

    #[test]
    fn tokens_keep_every_character() {
        let text = "  one\ntwo  three ";
        let toks = tokens(text);
        assert_eq!(toks.iter().map(|t| t.text).collect::<String>(), text);
        let words: Vec<&str> = toks.iter().map(|t| t.word).collect();
        assert_eq!(words, vec!["", "one", "two", "three"]);
    }

    #[test]
    fn equal_texts_have_no_change() {
        assert!(!changed(&diff("a b", "a b", Some(2))));
        assert!(changed(&diff("a b", "a c", Some(2))));
    }
}
