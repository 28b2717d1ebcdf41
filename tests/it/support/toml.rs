//! Configuration files built rather than typed: the head every test repeats
//! comes from one place, and a test spells out only what is particular to it.

use std::fmt;

use super::fail::OrFail;

/// A `feedwatch.toml` being built: `[settings]` first if there is one, then
/// sinks and sources in the order they were added.
///
/// ```text
/// Toml::journal()
///     .feed("news", &server.url("/feed"))
///     .line("interval = \"1s\"")
/// ```
#[derive(Clone, Debug, Default)]
pub struct Toml {
    /// `[settings]`, when there is one, comes first whatever the order of the calls.
    tables: Vec<Table>,
}

#[derive(Clone, Debug)]
struct Table {
    header: &'static str,
    lines: Vec<String>,
}

const SETTINGS: &str = "[settings]";

impl Toml {
    /// An empty file: every setting at its default.
    pub fn new() -> Toml {
        Toml::default()
    }

    /// `[settings]` with the database beside the file, where
    /// [`Feedwatch::database_path`](super::Feedwatch::database_path) looks.
    pub fn settings() -> Toml {
        Toml::new().setting("database = \"feedwatch.db\"")
    }

    /// The usual head: [`Toml::settings`] and a log sink named `journal`
    /// writing `alerts.jsonl`, which [`Feedwatch::events`](super::Feedwatch::events) reads.
    pub fn journal() -> Toml {
        Toml::settings()
            .sink("journal", "log")
            .line("path = \"alerts.jsonl\"")
    }

    /// Adds lines to `[settings]`, which is made if there is none yet.
    pub fn setting(mut self, lines: impl AsRef<str>) -> Toml {
        if self.tables.first().is_none_or(|t| t.header != SETTINGS) {
            self.tables.insert(
                0,
                Table {
                    header: SETTINGS,
                    lines: Vec::new(),
                },
            );
        }
        self.tables[0].push(lines.as_ref());
        self
    }

    /// A `[[sink]]` named `name` of type `kind`.
    pub fn sink(self, name: &str, kind: &str) -> Toml {
        self.table("[[sink]]")
            .line(format!("name = \"{name}\""))
            .line(format!("type = \"{kind}\""))
    }

    /// A webhook sink posting to `url`.
    pub fn webhook(self, name: &str, url: &str) -> Toml {
        self.sink(name, "webhook").line(format!("url = \"{url}\""))
    }

    /// A `[[source]]` whose type is left for feedwatch to find out.
    pub fn source(self, name: &str, url: &str) -> Toml {
        self.table("[[source]]")
            .line(format!("name = \"{name}\""))
            .line(format!("url = \"{url}\""))
    }

    /// A source of type `feed`.
    pub fn feed(self, name: &str, url: &str) -> Toml {
        self.source(name, url).line("type = \"feed\"")
    }

    /// Adds lines to the last table of the file; an empty string adds
    /// nothing, so a test's optional extra keys can be passed on as they are.
    pub fn line(mut self, lines: impl AsRef<str>) -> Toml {
        self.tables
            .last_mut()
            .or_fail("a line needs a table first: settings, a sink or a source")
            .push(lines.as_ref());
        self
    }

    fn table(mut self, header: &'static str) -> Toml {
        self.tables.push(Table {
            header,
            lines: Vec::new(),
        });
        self
    }
}

impl Table {
    fn push(&mut self, lines: &str) {
        let lines = lines.trim_matches('\n');
        if !lines.is_empty() {
            self.lines.push(lines.to_owned());
        }
    }
}

impl fmt::Display for Toml {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, table) in self.tables.iter().enumerate() {
            if n > 0 {
                writeln!(f)?;
            }
            writeln!(f, "{}", table.header)?;
            for line in &table.lines {
                writeln!(f, "{line}")?;
            }
        }
        Ok(())
    }
}
