//! What a human-facing message about an event says, as plain data: a
//! headline, the story's link and the changed words with a little context.
//! Each channel renders it in its own markup ([`Markup`]) and cuts it to its
//! own hard limit ([`fit`]), so no channel builds its own diff.

use crate::event::{Event, EventKind};
use crate::report::words::{self, Piece};

/// Unchanged words kept on each side of a change: enough to read the
/// change in its sentence, few enough that several changes fit a chat message.
const CONTEXT_WORDS: usize = 8;
/// Longest headline subject (a title, a source name, an error), in
/// characters. Bounded so that a message with every change cut out always
/// fits the smallest channel limit, even with every character escaped.
const MAX_SUBJECT: usize = 200;
/// Longest link; longer ones are left out rather than cut (a cut link is wrong).
const MAX_LINK: usize = 400;
/// Longest stretch of one diff piece, in characters.
const MAX_PIECE: usize = 300;

/// A stretch of changed text, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Span {
    Same(String),
    Removed(String),
    Added(String),
    /// Unchanged words left out.
    Gap,
}

/// The word diff of one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub field: String,
    pub spans: Vec<Span>,
}

/// A message about one event, before any markup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// What changed, in a few words: `Edited: <title> (title, content)`.
    pub headline: String,
    /// The story's (or page's) address; only `http` and `https` links are kept.
    pub link: Option<String>,
    pub sections: Vec<Section>,
    /// The command that shows every change, named when changes are cut.
    pub more: String,
}

impl Message {
    pub fn from_event(event: &Event) -> Message {
        let headline = long_headline(event);
        let link = match &event.item {
            Some(item) => web_link(&item.link),
            None if event.kind == EventKind::PageChanged => web_link(&event.source.url),
            None => None,
        };
        Message {
            headline,
            link,
            sections: sections(event),
            more: more_command(event),
        }
    }

    /// How many changes the sections hold: a run of removed and added
    /// words counts as one.
    pub fn changes(&self) -> usize {
        self.sections.iter().map(|s| starts(&s.spans).len()).sum()
    }
}

/// The first line of a message about `event`, the changed fields left
/// out (an email's subject): `Edited: <title>`.
pub fn headline(event: &Event) -> String {
    let source = cut(&event.source.name, MAX_SUBJECT);
    let title = title(event);
    match event.kind {
        EventKind::ItemNew => format!("New: {title}"),
        EventKind::ItemUpdated => format!("Edited: {title}"),
        EventKind::ItemFlapping => format!("Flapping: {title}"),
        EventKind::ItemRemoved => format!("Taken down: {title}"),
        EventKind::PageChanged => format!("Page changed: {source}"),
        EventKind::BulkChange => bulk_headline(event),
        EventKind::SourceFailing => {
            let error = event.error.as_deref().unwrap_or("no answer");
            format!("Failing: {source} — {}", cut(&one_line(error), MAX_SUBJECT))
        }
        EventKind::SourceRecovered => format!("Recovered: {source}"),
    }
}

/// The headline with the changed fields named: `Edited: <title> (title, content)`.
pub fn long_headline(event: &Event) -> String {
    let mut line = headline(event);
    let edit = matches!(event.kind, EventKind::ItemUpdated | EventKind::ItemFlapping);
    if edit && !event.changes.is_empty() {
        let fields: Vec<&str> = event.changes.iter().map(|c| c.field.as_str()).collect();
        line.push_str(&format!(" ({})", fields.join(", ")));
    }
    line
}

/// The item's title on one line (its key when it has none), bounded.
fn title(event: &Event) -> String {
    let text = match &event.item {
        Some(item) if !item.title.trim().is_empty() => &item.title,
        Some(item) => &item.key,
        None => &event.source.name,
    };
    cut(&one_line(text), MAX_SUBJECT)
}

/// `Feed defaced: prefix "SPAM" added to 10 titles`.
fn bulk_headline(event: &Event) -> String {
    let Some(bulk) = &event.bulk else {
        return format!(
            "Feed edited in bulk: {}",
            cut(&event.source.name, MAX_SUBJECT)
        );
    };
    let place = match bulk.edit.split('_').next() {
        Some(p @ ("prefix" | "suffix")) => format!("{p} "),
        _ => String::new(),
    };
    let count = event.items.len();
    let fields = match (bulk.field.as_str(), count) {
        (field, 1) => field.to_string(),
        ("summary", _) => "summaries".to_string(),
        (field, _) => format!("{field}s"),
    };
    let quoted = |text: &str| format!("\"{}\"", cut(&one_line(text), MAX_SUBJECT / 4));
    let (added, removed) = (bulk.added.trim(), bulk.removed.trim());
    let (lead, what) = match (removed.is_empty(), added.is_empty()) {
        (true, _) => ("Feed defaced", format!("{place}{} added to", quoted(added))),
        (false, true) => (
            "Feed edited in bulk",
            format!("{place}{} removed from", quoted(removed)),
        ),
        (false, false) => (
            "Feed defaced",
            format!("{} replaced by {} in", quoted(removed), quoted(added)),
        ),
    };
    format!("{lead}: {what} {count} {fields}")
}

fn sections(event: &Event) -> Vec<Section> {
    if let Some(bulk) = &event.bulk {
        let mut spans = Vec::new();
        if !bulk.removed.is_empty() {
            spans.push(Span::Removed(cut(&bulk.removed, MAX_PIECE)));
        }
        if !bulk.added.is_empty() {
            spans.push(Span::Added(cut(&bulk.added, MAX_PIECE)));
        }
        return vec![Section {
            field: bulk.field.clone(),
            spans,
        }];
    }
    event
        .changes
        .iter()
        .map(|change| Section {
            field: change.field.clone(),
            spans: words::diff(&change.before, &change.after, Some(CONTEXT_WORDS))
                .into_iter()
                .map(owned)
                .collect(),
        })
        .filter(|s| !s.spans.is_empty())
        .collect()
}

fn owned(piece: Piece<'_>) -> Span {
    match piece {
        Piece::Same(s) => Span::Same(cut(&s, MAX_PIECE)),
        Piece::Removed(s) => Span::Removed(cut(&s, MAX_PIECE)),
        Piece::Added(s) => Span::Added(cut(&s, MAX_PIECE)),
        Piece::Gap => Span::Gap,
    }
}

fn more_command(event: &Event) -> String {
    match &event.item {
        Some(item) => format!(
            "feedwatch diff {} {}",
            shell_word(&event.source.name),
            shell_word(&item.key)
        ),
        None => format!(
            "feedwatch report --source {}",
            shell_word(&event.source.name)
        ),
    }
}

/// A word a POSIX shell reads back as it is: quoted unless plainly safe.
fn shell_word(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=?&%+@,".contains(c));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The link, if it is an absolute `http`/`https` URL of a sane length, in
/// its normalised (percent-encoded) form.
pub fn web_link(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw.trim()).ok()?;
    let ok = matches!(url.scheme(), "http" | "https") && url.host().is_some();
    let text = url.as_str().replace('|', "%7C");
    (ok && text.len() <= MAX_LINK).then_some(text)
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first `max` characters, with `…` when something was cut.
fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((end, _)) => format!("{}…", &s[..end]),
    }
}

/// The indices of the spans that start a change.
fn starts(spans: &[Span]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut in_change = false;
    for (i, span) in spans.iter().enumerate() {
        let change = matches!(span, Span::Removed(_) | Span::Added(_));
        if change && !in_change {
            out.push(i);
        }
        in_change = change;
    }
    out
}

/// How one channel writes text: escaping and the few marks a message uses.
pub trait Markup {
    /// Feed text made inert: no markup, link or mention survives.
    fn text(&self, s: &str) -> String;
    fn headline(&self, s: &str) -> String {
        self.text(s)
    }
    /// A link to a checked `http`/`https` URL.
    fn link(&self, url: &str) -> String;
    fn field(&self, name: &str) -> String {
        format!("{}:", self.text(name))
    }
    fn removed(&self, s: &str) -> String {
        format!("[-{}-]", self.text(s))
    }
    fn added(&self, s: &str) -> String {
        format!("{{+{}+}}", self.text(s))
    }
    /// A command the reader can copy.
    fn code(&self, s: &str) -> String {
        self.text(s)
    }
    fn newline(&self) -> &'static str {
        "\n"
    }
}

/// Renders the message keeping the first `keep` changes; the rest are
/// counted in a closing line that names the command showing them.
pub fn render(message: &Message, markup: &dyn Markup, keep: usize) -> String {
    let nl = markup.newline();
    let mut out = markup.headline(&message.headline);
    if let Some(link) = &message.link {
        out.push_str(nl);
        out.push_str(&markup.link(link));
    }
    let mut kept = 0;
    for section in &message.sections {
        if kept >= keep {
            break;
        }
        out.push_str(nl);
        out.push_str(&markup.field(&section.field));
        out.push(' ');
        kept += render_spans(&mut out, markup, &section.spans, keep - kept);
    }
    let left_out = message.changes() - kept;
    if left_out > 0 {
        out.push_str(nl);
        let noun = if left_out == 1 { "change" } else { "changes" };
        let lead = markup.text(&format!("… {left_out} more {noun} left out; see "));
        out.push_str(&lead);
        out.push_str(&markup.code(&message.more));
    }
    out
}

/// Writes spans up to the start of change number `keep`; how many changes
/// were written.
fn render_spans(out: &mut String, markup: &dyn Markup, spans: &[Span], keep: usize) -> usize {
    let starts = starts(spans);
    let end = starts.get(keep).copied().unwrap_or(spans.len());
    for span in &spans[..end] {
        match span {
            Span::Same(s) => out.push_str(&markup.text(s)),
            Span::Removed(s) => out.push_str(&markup.removed(s)),
            Span::Added(s) => out.push_str(&markup.added(s)),
            Span::Gap => out.push_str(&markup.text(" … ")),
        }
    }
    starts.len().min(keep)
}

/// How a channel counts a message's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Unicode characters (code points).
    Chars,
    /// UTF-16 code units, as Telegram counts.
    Utf16,
    /// UTF-8 bytes.
    Bytes,
}

impl Measure {
    pub fn of(self, s: &str) -> usize {
        match self {
            Measure::Chars => s.chars().count(),
            Measure::Utf16 => s.encode_utf16().count(),
            Measure::Bytes => s.len(),
        }
    }
}

/// The message rendered with as many changes as fit within `limit`, or
/// `None` when not even the headline fits (it never is sent over the limit).
pub fn fit(
    message: &Message,
    markup: &dyn Markup,
    limit: usize,
    measure: Measure,
) -> Option<String> {
    let fits = |keep| {
        let text = render(message, markup, keep);
        (measure.of(&text) <= limit).then_some(text)
    };
    let total = message.changes();
    if let Some(all) = fits(total) {
        return Some(all);
    }
    // Keeping fewer changes never makes a message longer, so the most
    // that fit can be searched for.
    let (mut lo, mut hi) = (0, total);
    let mut best = fits(0)?;
    while lo + 1 < hi {
        let mid = (lo + hi) / 2;
        match fits(mid) {
            Some(text) => {
                best = text;
                lo = mid;
            }
            None => hi = mid,
        }
    }
    Some(best)
}

#[cfg(test)]
mod tests;
