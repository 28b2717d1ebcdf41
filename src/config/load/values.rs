//! Typed reads from a spanned TOML table. Every read that finds a missing,
//! mistyped or malformed value records a problem at that value's position and
//! carries on, so one pass over the file finds everything wrong with it.

use std::time::Duration;

use toml_edit::{Item, Key, TableLike, Value};

use super::Problem;

/// A value and the byte offset in the file where it was written.
#[derive(Debug, Clone, Copy)]
pub(super) struct Spanned<T> {
    pub value: T,
    pub at: usize,
}

/// One table of the file, with the name a user would give it in a message.
#[derive(Clone)]
pub(super) struct Table<'a> {
    pub inner: &'a dyn TableLike,
    /// Where "missing key" problems point: the table's header.
    pub at: usize,
    /// `settings`, `sink "journal"`, `source[2]`; empty for the document root.
    pub label: String,
}

/// A key present in a table.
pub(super) struct Entry<'a> {
    pub item: &'a Item,
    pub key_at: usize,
    /// The value's position, or the key's when the value has none.
    pub at: usize,
}

impl<'a> Table<'a> {
    pub fn path(&self, key: &str) -> String {
        if self.label.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.label)
        }
    }

    pub fn get(&self, key: &str) -> Option<Entry<'a>> {
        let (k, item) = self.inner.get_key_value(key)?;
        let key_at = key_start(k);
        let at = item.span().map_or(key_at, |s| s.start);
        Some(Entry { item, key_at, at })
    }

    pub fn keys(&self) -> Vec<(&'a str, usize)> {
        let inner: &'a dyn TableLike = self.inner;
        inner
            .iter()
            .map(|(name, _)| (name, inner.key(name).map_or(0, key_start)))
            .collect()
    }
}

fn key_start(key: &Key) -> usize {
    key.span().map_or(0, |s| s.start)
}

/// Collects problems and warnings while the file is walked.
pub(super) struct Checker<'a> {
    text: &'a str,
    pub problems: Vec<Problem>,
    pub warnings: Vec<Problem>,
    /// Whether files the configuration names (cookies, secrets) are looked
    /// at: by `load`, not by `parse_str`.
    pub reads_files: bool,
}

impl<'a> Checker<'a> {
    pub fn new(text: &'a str) -> Self {
        Checker {
            text,
            problems: Vec::new(),
            warnings: Vec::new(),
            reads_files: false,
        }
    }

    pub fn problem(&mut self, at: usize, key: String, message: impl Into<String>) {
        let problem = self.locate(at, key, message.into());
        self.problems.push(problem);
    }

    pub fn warning(&mut self, at: usize, key: String, message: impl Into<String>) {
        let warning = self.locate(at, key, message.into());
        self.warnings.push(warning);
    }

    pub fn locate(&self, at: usize, key: String, message: String) -> Problem {
        let (line, column) = line_column(self.text, at);
        Problem {
            line,
            column,
            key,
            message,
        }
    }

    pub fn line_of(&self, at: usize) -> usize {
        line_column(self.text, at).0
    }

    pub fn missing(&mut self, t: &Table<'_>, key: &str, why: &str) {
        self.problem(
            t.at,
            t.path(key),
            format!("this key is required but missing; {why}"),
        );
    }

    fn wrong_type(&mut self, t: &Table<'_>, key: &str, e: &Entry<'_>, expected: &str) {
        let found = describe(e.item);
        self.problem(
            e.at,
            t.path(key),
            format!("expected {expected}, found {found}"),
        );
    }

    /// Reports every key of `t` not in `allowed`. `explain` may give a
    /// specific reason for a key instead of the generic list.
    pub fn check_keys(
        &mut self,
        t: &Table<'_>,
        allowed: &[&str],
        explain: impl Fn(&str) -> Option<String>,
    ) {
        for (key, at) in t.keys() {
            if allowed.contains(&key) {
                continue;
            }
            let message = explain(key).unwrap_or_else(|| {
                let hint = did_you_mean(key, allowed.iter().copied());
                format!(
                    "unknown key{hint}; the keys allowed here are {}",
                    list(allowed)
                )
            });
            self.problem(at, t.path(key), message);
        }
    }

    pub fn string<'t>(&mut self, t: &Table<'t>, key: &str) -> Option<Spanned<&'t str>> {
        let e = t.get(key)?;
        match e.item.as_str() {
            Some(value) => Some(Spanned { value, at: e.at }),
            None => {
                self.wrong_type(t, key, &e, "a string");
                None
            }
        }
    }

    /// A string that must be present and not blank.
    pub fn required_string<'t>(
        &mut self,
        t: &Table<'t>,
        key: &str,
        why: &str,
    ) -> Option<Spanned<&'t str>> {
        if t.get(key).is_none() {
            self.missing(t, key, why);
            return None;
        }
        let s = self.string(t, key)?;
        if s.value.trim().is_empty() {
            self.problem(s.at, t.path(key), "must not be empty");
            return None;
        }
        Some(s)
    }

    pub fn bool(&mut self, t: &Table<'_>, key: &str) -> Option<bool> {
        let e = t.get(key)?;
        let value = e.item.as_bool();
        if value.is_none() {
            self.wrong_type(t, key, &e, "true or false");
        }
        value
    }

    /// A whole number no smaller than `min`, converted to the width the caller needs.
    pub fn int<T: TryFrom<i64>>(&mut self, t: &Table<'_>, key: &str, min: i64) -> Option<T> {
        let e = t.get(key)?;
        let Some(n) = e.item.as_integer() else {
            self.wrong_type(t, key, &e, "a whole number");
            return None;
        };
        if n < min {
            self.problem(
                e.at,
                t.path(key),
                format!("must be at least {min}, found {n}"),
            );
            return None;
        }
        let converted = T::try_from(n).ok();
        if converted.is_none() {
            self.problem(e.at, t.path(key), format!("{n} is too large"));
        }
        converted
    }

    pub fn duration(&mut self, t: &Table<'_>, key: &str) -> Option<Duration> {
        let e = t.get(key)?;
        let Some(text) = e.item.as_str() else {
            self.wrong_type(t, key, &e, "a duration string like \"15m\"");
            return None;
        };
        parse_duration(text)
            .map_err(|message| self.problem(e.at, t.path(key), message))
            .ok()
    }

    /// A byte count: a string with a unit (`"15MiB"`) or a bare integer.
    pub fn size(&mut self, t: &Table<'_>, key: &str) -> Option<u64> {
        let e = t.get(key)?;
        let parsed = match e.item.as_value() {
            Some(Value::String(s)) => parse_size(s.value()),
            Some(Value::Integer(n)) => u64::try_from(*n.value())
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("must be more than zero bytes, found {}", n.value())),
            _ => {
                self.wrong_type(t, key, &e, "a size like \"15MiB\" or a number of bytes");
                return None;
            }
        };
        parsed
            .map_err(|message| self.problem(e.at, t.path(key), message))
            .ok()
    }

    /// An array of strings. Entries of another type are reported and left out.
    pub fn strings<'t>(&mut self, t: &Table<'t>, key: &str) -> Option<Vec<Spanned<&'t str>>> {
        let e = t.get(key)?;
        let Some(array) = e.item.as_array() else {
            self.wrong_type(t, key, &e, "an array of strings");
            return None;
        };
        let mut out = Vec::with_capacity(array.len());
        for value in array.iter() {
            let at = value.span().map_or(e.at, |s| s.start);
            match value.as_str() {
                Some(s) => out.push(Spanned { value: s, at }),
                None => self.problem(
                    at,
                    t.path(key),
                    format!(
                        "expected each entry to be a string, found {}",
                        describe_value(value)
                    ),
                ),
            }
        }
        Some(out)
    }

    /// A single string or an array of them.
    pub fn one_or_more_strings<'t>(
        &mut self,
        t: &Table<'t>,
        key: &str,
    ) -> Option<Vec<Spanned<&'t str>>> {
        let e = t.get(key)?;
        if let Some(value) = e.item.as_str() {
            return Some(vec![Spanned { value, at: e.at }]);
        }
        if e.item.is_array() {
            return self.strings(t, key);
        }
        self.wrong_type(t, key, &e, "a string or an array of strings");
        None
    }
}

pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim()).map_err(|e| {
        format!("`{text}` is not a duration ({e}); write it like \"15m\", \"1h 30m\" or \"90s\"")
    })?;
    if d.is_zero() {
        return Err("must be longer than zero".to_string());
    }
    Ok(d)
}

pub(super) fn parse_size(text: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "`{text}` is not a size; write it like \"15MiB\", \"512KiB\", \"2MB\" or a number of bytes"
        )
    };
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(split);
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => return Err(bad()),
    };
    match n.checked_mul(multiplier) {
        Some(0) => Err("must be more than zero bytes".to_string()),
        Some(bytes) => Ok(bytes),
        None => Err(format!("`{text}` is too large")),
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(super) fn line_column(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// What a user would call the type of a value: "a string", "an integer".
pub(super) fn describe(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Value(v) => describe_value(v),
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
    }
}

fn describe_value(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date-time",
        Value::Array(_) => "an array",
        Value::InlineTable(_) => "a table",
    }
}

/// `` `a`, `b` and `c` ``.
/// The regular expressions listed under `key`, each checked to compile;
/// `None` when the key is absent.
pub(super) fn regexes(ck: &mut Checker<'_>, t: &Table<'_>, key: &str) -> Option<Vec<regex::Regex>> {
    t.get(key)?;
    let written = ck.strings(t, key).unwrap_or_default();
    let mut out = Vec::with_capacity(written.len());
    for p in written {
        match regex::Regex::new(p.value) {
            Ok(re) => out.push(re),
            Err(e) => {
                let message = format!(
                    "`{}` is not a valid regular expression: {}",
                    p.value,
                    regex_reason(&e)
                );
                ck.problem(p.at, t.path(key), message);
            }
        }
    }
    Some(out)
}

/// The regex crate explains syntax errors over several lines with a caret
/// diagram; the last line (`error: …`) is the reason.
fn regex_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text.lines().rev().find(|l| !l.trim().is_empty());
    let last = last.unwrap_or(&text).trim();
    last.strip_prefix("error: ").unwrap_or(last).to_string()
}

pub(super) fn list(items: &[&str]) -> String {
    join(items, "and")
}

/// `` `a`, `b` or `c` ``.
pub(super) fn one_of(items: &[&str]) -> String {
    join(items, "or")
}

fn join(items: &[&str], conjunction: &str) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("`{s}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} {conjunction} {last}", rest.join(", ")),
    }
}

/// `" (did you mean `interval`?)"` when one of `candidates` is a plausible typo
/// of `word`, else an empty string.
pub(crate) fn did_you_mean<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> String {
    let word_lower = word.to_lowercase();
    let best = candidates
        .into_iter()
        .map(|c| (edit_distance(&word_lower, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= (c.chars().count() / 3).max(1))
        .min_by_key(|(d, _)| *d);
    match best {
        Some((_, c)) => format!(" (did you mean `{c}`?)"),
        None => String::new(),
    }
}

/// Edit distance counting a swap of two neighbours as one edit, the commonest typo.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut current = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            current[j] = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                current[j] = current[j].min(before[j - 2] + 1);
            }
        }
        before = std::mem::replace(&mut previous, current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_accept_binary_and_decimal_units() {
        assert_eq!(parse_size("512KiB"), Ok(512 * 1024));
        assert_eq!(parse_size("15MiB"), Ok(15 * 1024 * 1024));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("2MB"), Ok(2_000_000));
        assert_eq!(parse_size("100kB"), Ok(100_000));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("10 MiB"), Ok(10 << 20));
    }

    #[test]
    fn sizes_reject_nonsense_zero_and_overflow() {
        assert!(parse_size("lots").is_err());
        assert!(parse_size("15 parsecs").is_err());
        assert!(parse_size("0MiB").is_err());
        assert!(parse_size("99999999999999999999GiB").is_err());
    }

    #[test]
    fn durations_reject_zero_and_missing_units() {
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("15").is_err_and(|m| m.contains("\"15m\"")));
    }

    #[test]
    fn line_column_counts_characters_not_bytes() {
        let text = "a = 1\nb = \"é\" x";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, text.len() - 1), (2, 9));
    }

    #[test]
    fn suggestions_only_for_near_misses() {
        let keys = ["interval", "timeout", "name"];
        assert_eq!(
            did_you_mean("intervall", keys),
            " (did you mean `interval`?)"
        );
        assert_eq!(did_you_mean("Name", keys), " (did you mean `name`?)");
        assert_eq!(did_you_mean("colour", keys), "");
        assert_eq!(did_you_mean("timeuot", keys), " (did you mean `timeout`?)");
    }

    #[test]
    fn edit_distance_counts_swaps_as_one() {
        assert_eq!(edit_distance("titel", "title"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn lists_read_as_prose() {
        assert_eq!(list(&["a"]), "`a`");
        assert_eq!(list(&["a", "b", "c"]), "`a`, `b` and `c`");
        assert_eq!(one_of(&["a", "b"]), "`a` or `b`");
    }
}
