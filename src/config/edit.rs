//! The configuration file edited as text: a `[[source]]` table appended or
//! one removed, every other byte as it was, and the result written
//! atomically with the file's mode kept.

use std::io::{self, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml_edit::{ArrayOfTables, DocumentMut, ImDocument, Item, Table, value};
use url::Url;

use super::SourceKind;

/// Why a table could not be taken out of the text.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("the configuration is not valid TOML")]
    Syntax(#[source] toml_edit::TomlError),
    #[error("there is no [[source]] table named `{0}`")]
    NoSuchSource(String),
    #[error(
        "the source `{0}` is not written as a [[source]] table (an inline array?); edit the file by hand"
    )]
    NotATable(String),
}

/// A source to add, as the command line gave it.
#[derive(Debug, Clone)]
pub struct NewSource<'a> {
    pub name: &'a str,
    pub url: &'a Url,
    pub kind: Option<SourceKind>,
    /// As typed (`"2h"`), already known to be a duration.
    pub interval: Option<&'a str>,
}

/// `text` with the new `[[source]]` table after everything else, one blank
/// line between.
pub fn with_source_appended(text: &str, new: &NewSource<'_>) -> String {
    let mut table = Table::new();
    table["name"] = value(new.name);
    table["url"] = value(new.url.as_str());
    if let Some(kind) = new.kind {
        table["type"] = value(kind.as_str());
    }
    if let Some(interval) = new.interval {
        table["interval"] = value(interval);
    }
    let mut tables = ArrayOfTables::new();
    tables.push(table);
    let mut doc = DocumentMut::new();
    doc["source"] = Item::ArrayOfTables(tables);
    let mut out = text.to_string();
    if !out.is_empty() {
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push('\n');
    }
    out.push_str(&doc.to_string());
    out
}

/// `text` without the `[[source]]` table named `name`: from its header
/// (and the comments and blank lines just above it) to the next table that
/// is not its own sub-table (leaving that table's comments above it).
pub fn without_source(text: &str, name: &str) -> Result<String, EditError> {
    let cut = source_range(text, name)?;
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..cut.start]);
    out.push_str(&text[cut.end..]);
    Ok(out)
}

fn source_range(text: &str, name: &str) -> Result<Range<usize>, EditError> {
    let doc = ImDocument::parse(text).map_err(EditError::Syntax)?;
    let missing = || EditError::NoSuchSource(name.to_string());
    let item = doc.get("source").ok_or_else(missing)?;
    let Some(tables) = item.as_array_of_tables() else {
        let named = item.as_array().is_some_and(|a| {
            a.iter().any(|v| {
                v.as_inline_table()
                    .and_then(|t| t.get("name"))
                    .and_then(|n| n.as_str())
                    == Some(name)
            })
        });
        return Err(if named {
            EditError::NotATable(name.to_string())
        } else {
            missing()
        });
    };
    let start = tables
        .iter()
        .find(|t| t.get("name").and_then(Item::as_str) == Some(name))
        .and_then(Table::span)
        .ok_or_else(missing)?
        .start;
    let mut headers = Vec::new();
    collect_headers(doc.as_table(), &mut Vec::new(), &mut headers);
    // The next header that is not `[source.…]`, a sub-table of this one.
    let next = headers
        .iter()
        .filter(|(at, path)| *at > start && !(path.len() > 1 && path[0] == "source"))
        .map(|(at, _)| *at)
        .min();
    Ok(match next {
        // It owns the comments above it, and what follows it up to the
        // next table's comments.
        Some(next) => lead_start(text, start)..lead_start(text, next),
        // The last one owns the comments right above it and the blank lines
        // above those, and its body: a comment after a blank line stays,
        // and adding a table then removing it gives the file back as it was.
        None => {
            let above = lines_above(text, lines_above(text, start, comment), str::is_empty);
            let end = body_end(text, start);
            let end = if text[end..].trim().is_empty() {
                text.len()
            } else {
                end
            };
            above..end
        }
    })
}

/// Where what belongs to the header at `at` starts: the comments above it,
/// but not those that directly follow the content before them.
fn lead_start(text: &str, at: usize) -> usize {
    let gap = lines_above(text, at, comment_or_blank);
    let gap = if gap > 0 {
        past_lines(text, gap, comment)
    } else {
        gap
    };
    past_lines(text, gap, str::is_empty)
}

/// The end of the last line of the table at `at` that holds a key, or a
/// comment with no blank line between it and one.
fn body_end(text: &str, at: usize) -> usize {
    let line_end = |from: usize| text[from..].find('\n').map_or(text.len(), |i| from + i + 1);
    let mut from = line_end(at);
    let mut end = from;
    let mut attached = true;
    while from < text.len() {
        let next = line_end(from);
        let line = text[from..next].trim();
        if line.is_empty() {
            attached = false;
        } else if !comment(line) || attached {
            end = next;
            attached = true;
        }
        from = next;
    }
    end
}

/// Every table header in the file: where it starts and its key path.
fn collect_headers(table: &Table, path: &mut Vec<String>, out: &mut Vec<(usize, Vec<String>)>) {
    for (key, item) in table.iter() {
        path.push(key.to_string());
        match item {
            Item::Table(t) => {
                if let Some(span) = t.span().filter(|_| !t.is_implicit() && !t.is_dotted()) {
                    out.push((span.start, path.clone()));
                }
                collect_headers(t, path, out);
            }
            Item::ArrayOfTables(tables) => {
                for t in tables.iter() {
                    if let Some(span) = t.span() {
                        out.push((span.start, path.clone()));
                    }
                    collect_headers(t, path, out);
                }
            }
            _ => {}
        }
        path.pop();
    }
}

/// The start of the run of lines directly above the line at `at` that
/// `take` accepts (trimmed); that line's own start when there is none.
fn lines_above(text: &str, at: usize, take: impl Fn(&str) -> bool) -> usize {
    let mut start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    while start > 0 {
        let above_start = text[..start - 1].rfind('\n').map_or(0, |i| i + 1);
        if !take(text[above_start..start].trim()) {
            break;
        }
        start = above_start;
    }
    start
}

fn comment(line: &str) -> bool {
    line.starts_with('#')
}

fn comment_or_blank(line: &str) -> bool {
    line.is_empty() || line.starts_with('#')
}

/// The first line at or after `from` (a line start) that `take` refuses.
fn past_lines(text: &str, mut from: usize, take: impl Fn(&str) -> bool) -> usize {
    while from < text.len() {
        let end = text[from..].find('\n').map_or(text.len(), |i| from + i + 1);
        if !take(text[from..end].trim()) {
            break;
        }
        from = end;
    }
    from
}

/// Replaces the file at `path` (a symlink's target) with `text`: written
/// beside it, flushed, given the old file's mode, then renamed over it, so a
/// reader sees the old file or the new one and never half of one.
pub fn write_atomically(path: &Path, text: &str) -> io::Result<()> {
    let target = std::fs::canonicalize(path)?;
    let folder = target.parent().unwrap_or(Path::new("."));
    let file_name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = folder.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let written = write_new(&temp, text, &target).and_then(|()| std::fs::rename(&temp, &target));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written?;
    // The rename itself is made durable by flushing the folder.
    std::fs::File::open(folder)?.sync_all()
}

fn write_new(temp: &PathBuf, text: &str, like: &Path) -> io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(temp)?;
    file.set_permissions(std::fs::metadata(like)?.permissions())?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# feeds we watch\n[settings]\ninterval   =  \"1h\"   # hourly\n\n\
        # the news desk\n[[source]]\nname = \"news\"\nurl = \"https://e.org/feed\"\n\
        [source.headers]\n\"X-Team\" = \"desk\"\n\n# sport, hourly\n\n[[source]]\n\
        name = \"sport\"\nurl = \"https://e.org/sport\"\n# the end\n";

    fn url() -> Url {
        Url::parse("https://e.org/arts?x=1").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn an_appended_source_is_a_new_table_at_the_end() {
        let new = NewSource {
            name: "arts",
            url: &url(),
            kind: Some(SourceKind::Feed),
            interval: Some("2h"),
        };
        let out = with_source_appended(FILE, &new);
        let added = "\n[[source]]\nname = \"arts\"\nurl = \"https://e.org/arts?x=1\"\ntype = \"feed\"\ninterval = \"2h\"\n";
        assert_eq!(out, format!("{FILE}{added}"));
        assert_eq!(without_source(&out, "arts").ok().as_deref(), Some(FILE));
    }

    #[test]
    fn a_removed_source_takes_its_sub_tables_and_comments_with_it() {
        let out = without_source(FILE, "news").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            out,
            "# feeds we watch\n[settings]\ninterval   =  \"1h\"   # hourly\n\n# sport, hourly\n\n[[source]]\n\
             name = \"sport\"\nurl = \"https://e.org/sport\"\n# the end\n"
        );
        let out = without_source(FILE, "sport").unwrap_or_else(|e| panic!("{e}"));
        // A comment a blank line above the last table stays: it may be about the file.
        assert!(
            out.ends_with("\"X-Team\" = \"desk\"\n\n# sport, hourly\n"),
            "{out}"
        );
    }

    #[test]
    fn a_comment_right_after_a_key_is_the_table_s_and_one_after_a_blank_line_is_not() {
        let text = "[[source]]\nname = \"a\"\nurl = \"https://e.org/a\"\n# interval = \"1h\"\n\n\
            # about b\n\n[[source]]\nname = \"b\"\nurl = \"https://e.org/b\"\n# old key\n\n# the end\n";
        let without_a = without_source(text, "a").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(without_a, &text[text.find("# about b").unwrap_or(0)..]);
        let without_b = without_source(text, "b").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            without_b,
            "[[source]]\nname = \"a\"\nurl = \"https://e.org/a\"\n# interval = \"1h\"\n\n# about b\n\n# the end\n"
        );
    }

    #[test]
    fn an_unknown_or_inline_source_is_refused() {
        assert!(matches!(
            without_source(FILE, "arts"),
            Err(EditError::NoSuchSource(_))
        ));
        let inline = "source = [{ name = \"a\", url = \"https://e.org/\" }]\n";
        assert!(matches!(
            without_source(inline, "a"),
            Err(EditError::NotATable(_))
        ));
    }
}
