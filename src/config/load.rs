//! Reading the TOML file: the document is parsed keeping every span, then each
//! table is walked by hand so that every problem in the file is found in one
//! pass and reported with its line, column and key.

mod conditions;
mod jq;
mod request;
mod sinks;
mod sources;
mod values;

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use toml_edit::{ImDocument, TableLike, TomlError};
use url::Url;

use super::{Config, LogFormat, Retention, Settings};
pub(crate) use values::did_you_mean;
use values::{Checker, Spanned, Table, line_column};

const TOP_LEVEL_KEYS: [&str; 3] = ["settings", "sink", "source"];
const SETTINGS_KEYS: [&str; 19] = [
    "database",
    "interval",
    "timeout",
    "max_body",
    "concurrency",
    "per_host",
    "host_spacing",
    "user_agent",
    "alert_on_first_poll",
    "allow_private_links",
    "fail_after",
    "log_format",
    "metrics",
    "keep_versions",
    "keep_for",
    "max_database_size",
    "report_dir",
    "report_window",
    "report_url",
];

/// Folders that relative paths in the file resolve against, as systemd passes
/// them (`StateDirectory=`, `LogsDirectory=`). Unset: the config file's folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dirs {
    pub state: Option<PathBuf>,
    pub logs: Option<PathBuf>,
}

impl Dirs {
    /// `$STATE_DIRECTORY` and `$LOGS_DIRECTORY`; when systemd lists several
    /// folders (colon-separated) the first is used.
    pub fn from_env() -> Dirs {
        let first = |name: &str| {
            let value = std::env::var_os(name)?;
            let value = value.to_string_lossy();
            let first = value.split(':').next().unwrap_or_default();
            (!first.is_empty()).then(|| PathBuf::from(first))
        };
        Dirs {
            state: first("STATE_DIRECTORY"),
            logs: first("LOGS_DIRECTORY"),
        }
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The file is not valid; every problem found, one per line.
    #[error("{0}")]
    Invalid(Problems),
}

/// Everything wrong with one configuration file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems {
    pub path: PathBuf,
    pub list: Vec<Problem>,
}

/// One thing wrong with the file, at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub column: usize,
    /// Where in the configuration: `settings.interval`, `source "frontline".url`.
    /// Empty when the file is not valid TOML at all.
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.line, self.column)?;
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.list.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{}:{problem}", self.path.display())?;
        }
        Ok(())
    }
}

/// Reads and validates the configuration file at `path`, resolving relative
/// paths against the folders systemd gives the service (see [`Dirs`]).
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path, &Dirs::from_env(), true)
}

/// Validates configuration text as [`load`] would find it at `path`: the
/// files it names are read, as are the folders systemd gives.
pub fn load_text(text: &str, path: &Path) -> Result<Config, ConfigError> {
    parse(text, path, &Dirs::from_env(), true)
}

/// Validates configuration text as if read from `path`. Touches neither the
/// file system nor the environment.
pub fn parse_str(text: &str, path: &Path, dirs: &Dirs) -> Result<Config, ConfigError> {
    parse(text, path, dirs, false)
}

/// `reads_files`: whether the files the configuration names (a cookies
/// file, secret files) are read and checked too.
fn parse(text: &str, path: &Path, dirs: &Dirs, reads_files: bool) -> Result<Config, ConfigError> {
    let doc = ImDocument::parse(text).map_err(|e| syntax_error(&e, text, path))?;
    let mut ck = Checker::new(text);
    ck.reads_files = reads_files;
    let root = Table {
        inner: doc.as_table(),
        at: 0,
        label: String::new(),
    };
    ck.check_keys(&root, &TOP_LEVEL_KEYS, |_| None);
    let bases = Bases::new(path, dirs);
    let empty = toml_edit::Table::new();
    let settings_table = table(&mut ck, &root, "settings").unwrap_or_else(|| Table {
        inner: &empty,
        at: 0,
        label: "settings".to_string(),
    });
    let settings = read_settings(&mut ck, &settings_table, &bases);
    let sink_tables = array_of_tables(&mut ck, &root, "sink");
    let (sinks, sink_names) = sinks::read(&mut ck, &sink_tables, &bases);
    let source_tables = array_of_tables(&mut ck, &root, "source");
    let sources = sources::read(&mut ck, &source_tables, &settings, &sink_names, &bases);
    finish(ck, path, |warnings| Config {
        path: path.to_path_buf(),
        settings,
        sinks,
        sources,
        warnings,
    })
}

fn finish(
    ck: Checker<'_>,
    path: &Path,
    build: impl FnOnce(Vec<String>) -> Config,
) -> Result<Config, ConfigError> {
    let mut problems = ck.problems;
    if !problems.is_empty() {
        // Stable, so problems at one position keep the order they were found in.
        problems.sort_by_key(|p| (p.line, p.column));
        return Err(ConfigError::Invalid(Problems {
            path: path.to_path_buf(),
            list: problems,
        }));
    }
    let mut warnings = ck.warnings;
    warnings.sort_by_key(|p| (p.line, p.column));
    let warnings = warnings
        .iter()
        .map(|w| format!("{}:{w}", path.display()))
        .collect();
    Ok(build(warnings))
}

fn syntax_error(e: &TomlError, text: &str, path: &Path) -> ConfigError {
    let (line, column) = line_column(text, e.span().map_or(0, |s| s.start));
    let detail: Vec<&str> = e.message().lines().map(str::trim).collect();
    ConfigError::Invalid(Problems {
        path: path.to_path_buf(),
        list: vec![Problem {
            line,
            column,
            key: String::new(),
            message: format!("this is not valid TOML: {}", detail.join("; ")),
        }],
    })
}

/// The folders relative paths resolve against.
struct Bases {
    config_dir: PathBuf,
    state: PathBuf,
    logs: PathBuf,
}

impl Bases {
    fn new(path: &Path, dirs: &Dirs) -> Bases {
        let config_dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let state = dirs.state.clone().unwrap_or_else(|| config_dir.clone());
        let logs = dirs.logs.clone().unwrap_or_else(|| state.clone());
        Bases {
            config_dir,
            state,
            logs,
        }
    }

    pub fn config(&self, p: &str) -> PathBuf {
        self.config_dir.join(p)
    }

    pub fn state(&self, p: &str) -> PathBuf {
        self.state.join(p)
    }

    pub fn state_path(&self, p: &Path) -> PathBuf {
        self.state.join(p)
    }

    pub fn logs(&self, p: &str) -> PathBuf {
        self.logs.join(p)
    }
}

/// A table-valued key of `parent`, `[name]` or `name = { … }`.
fn table<'a>(ck: &mut Checker<'_>, parent: &Table<'a>, key: &str) -> Option<Table<'a>> {
    let e = parent.get(key)?;
    let Some(inner) = e.item.as_table_like() else {
        let found = values::describe(e.item);
        ck.problem(
            e.at,
            parent.path(key),
            format!("expected a table written as [{key}], found {found}"),
        );
        return None;
    };
    Some(Table {
        inner,
        at: e.at,
        label: parent.path(key),
    })
}

/// The tables of `[[key]]` (or `key = [{ … }, …]`) with their positions, not yet labelled.
type Tables<'a> = Vec<(&'a dyn TableLike, usize)>;

fn array_of_tables<'a>(ck: &mut Checker<'_>, root: &Table<'a>, key: &str) -> Tables<'a> {
    let Some(e) = root.get(key) else {
        return Vec::new();
    };
    if let Some(aot) = e.item.as_array_of_tables() {
        return aot
            .iter()
            .map(|t| (t as &dyn TableLike, t.span().map_or(e.at, |s| s.start)))
            .collect();
    }
    let expected = format!("tables written as [[{key}]]");
    let Some(array) = e.item.as_array() else {
        let found = values::describe(e.item);
        ck.problem(
            e.at,
            root.path(key),
            format!("expected {expected}, found {found}"),
        );
        return Vec::new();
    };
    let mut out: Tables<'a> = Vec::with_capacity(array.len());
    for value in array.iter() {
        let at = value.span().map_or(e.at, |s| s.start);
        match value.as_inline_table() {
            Some(t) => out.push((t as &dyn TableLike, at)),
            None => ck.problem(at, root.path(key), format!("expected {expected}")),
        }
    }
    out
}

fn read_settings(ck: &mut Checker<'_>, t: &Table<'_>, bases: &Bases) -> Settings {
    let keys: Vec<&str> = SETTINGS_KEYS
        .into_iter()
        .chain(request::REQUEST_KEYS)
        .chain(conditions::KEYS)
        .collect();
    ck.check_keys(t, &keys, |_| None);
    let d = Settings::default();
    let database = match ck.string(t, "database") {
        Some(s) if s.value.trim().is_empty() => {
            ck.problem(s.at, t.path("database"), "must not be empty");
            bases.state_path(&d.database)
        }
        Some(s) => bases.state(s.value),
        None => bases.state_path(&d.database),
    };
    Settings {
        database,
        interval: ck.duration(t, "interval").unwrap_or(d.interval),
        timeout: ck.duration(t, "timeout").unwrap_or(d.timeout),
        max_body: ck.size(t, "max_body").unwrap_or(d.max_body),
        concurrency: ck.int(t, "concurrency", 1).unwrap_or(d.concurrency),
        per_host: ck.int(t, "per_host", 1).unwrap_or(d.per_host),
        host_spacing: ck.duration(t, "host_spacing").unwrap_or(d.host_spacing),
        user_agent: user_agent(ck, t).unwrap_or(d.user_agent),
        alert_on_first_poll: ck
            .bool(t, "alert_on_first_poll")
            .unwrap_or(d.alert_on_first_poll),
        allow_private_links: ck
            .bool(t, "allow_private_links")
            .unwrap_or(d.allow_private_links),
        fail_after: ck.int(t, "fail_after", 1).unwrap_or(d.fail_after),
        log_format: log_format(ck, t).unwrap_or(d.log_format),
        metrics: metrics_address(ck, t),
        retention: Retention {
            keep_versions: ck.int(t, "keep_versions", 1),
            keep_for: ck.duration(t, "keep_for"),
        },
        max_database_size: ck.size(t, "max_database_size"),
        report_dir: report_dir(ck, t, bases),
        report_window: ck.duration(t, "report_window").unwrap_or(d.report_window),
        report_url: report_url(ck, t),
        request: request::read(ck, t, bases),
        conditions: conditions::read(ck, t, &d.conditions),
    }
}

fn report_dir(ck: &mut Checker<'_>, t: &Table<'_>, bases: &Bases) -> Option<PathBuf> {
    let s = ck.string(t, "report_dir")?;
    if s.value.trim().is_empty() {
        ck.problem(s.at, t.path("report_dir"), "must not be empty");
        return None;
    }
    Some(bases.state(s.value))
}

/// Where `report_dir` is served from: a folder URL, so it ends in `/`.
fn report_url(ck: &mut Checker<'_>, t: &Table<'_>) -> Option<Url> {
    t.get("report_url")?;
    let mut url = check_url(
        ck,
        t,
        "report_url",
        &["http", "https"],
        "the address report_dir is served at",
    )?;
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Some(url)
}

/// The `user_agent` given, if it is one.
fn user_agent(ck: &mut Checker<'_>, t: &Table<'_>) -> Option<String> {
    let s = ck.string(t, "user_agent")?;
    if s.value.trim().is_empty() || s.value.chars().any(char::is_control) {
        ck.problem(
            s.at,
            t.path("user_agent"),
            "must be non-empty text on one line, without control characters",
        );
        return None;
    }
    Some(s.value.to_string())
}

fn metrics_address(ck: &mut Checker<'_>, t: &Table<'_>) -> Option<std::net::SocketAddr> {
    let s = ck.string(t, "metrics")?;
    match s.value.parse() {
        Ok(addr) => Some(addr),
        Err(_) => {
            ck.problem(
                s.at,
                t.path("metrics"),
                format!(
                    "`{}` is not an address and port like \"127.0.0.1:9187\"",
                    s.value
                ),
            );
            None
        }
    }
}

fn log_format(ck: &mut Checker<'_>, t: &Table<'_>) -> Option<LogFormat> {
    let s = ck.string(t, "log_format")?;
    match s.value {
        "text" => Some(LogFormat::Text),
        "json" => Some(LogFormat::Json),
        other => {
            let hint = did_you_mean(other, ["text", "json"]);
            ck.problem(
                s.at,
                t.path("log_format"),
                format!("`{other}` is not a log format{hint}; use \"text\" or \"json\""),
            );
            None
        }
    }
}

/// Checks a name of a sink or source: not blank, safe characters, unique among its kind.
fn check_name<'a>(
    ck: &mut Checker<'_>,
    t: &Table<'a>,
    name: Spanned<&'a str>,
    what: &str,
    seen: &mut HashMap<&'a str, usize>,
) {
    let valid = name
        .value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !valid {
        ck.problem(
            name.at,
            t.path("name"),
            format!(
                "`{}` is not a valid {what} name; use only letters, digits, `.`, `_` and `-`",
                name.value
            ),
        );
    }
    if let Some(&first) = seen.get(name.value) {
        let line = ck.line_of(first);
        ck.problem(
            name.at,
            t.path("name"),
            format!(
                "the {what} on line {line} is already named `{}`; {what} names must be unique",
                name.value
            ),
        );
    } else {
        seen.insert(name.value, name.at);
    }
}

/// A required absolute URL with one of `schemes`.
fn check_url(
    ck: &mut Checker<'_>,
    t: &Table<'_>,
    key: &str,
    schemes: &[&str],
    why: &str,
) -> Option<Url> {
    let s = ck.required_string(t, key, why)?;
    let raw = s.value.trim();
    let allowed = values::one_of(schemes);
    let url = match Url::parse(raw) {
        Ok(url) => url,
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            let message =
                format!("`{raw}` is not an absolute URL; start it with its scheme ({allowed})");
            ck.problem(s.at, t.path(key), message);
            return None;
        }
        Err(e) => {
            ck.problem(
                s.at,
                t.path(key),
                format!("`{raw}` is not a valid URL: {e}"),
            );
            return None;
        }
    };
    if !schemes.contains(&url.scheme()) {
        let message = format!(
            "`{}` URLs are not allowed here; use {allowed}",
            url.scheme()
        );
        ck.problem(s.at, t.path(key), message);
        return None;
    }
    if url.scheme() == "file" && !is_absolute_file_url(raw) {
        let message = format!(
            "`{raw}` looks like a relative file URL; a file URL needs an absolute path, like file:///srv/feeds/local.xml"
        );
        ck.problem(s.at, t.path(key), message);
        return None;
    }
    Some(url)
}

/// URL parsing quietly turns `file:feed.xml` and `file://feeds/x.xml` into
/// absolute paths, so the text itself is checked.
fn is_absolute_file_url(raw: &str) -> bool {
    let rest = raw.get("file:".len()..).unwrap_or_default();
    match rest.strip_prefix("//") {
        Some(authority_and_path) => {
            authority_and_path.starts_with('/')
                || authority_and_path
                    .to_ascii_lowercase()
                    .starts_with("localhost/")
        }
        None => rest.starts_with('/'),
    }
}

/// Reports `name`, written under `key`, as no item field.
fn not_a_field(ck: &mut Checker<'_>, t: &Table<'_>, key: &str, name: &Spanned<&str>) {
    let all = super::Field::ALL.map(super::Field::as_str);
    let hint = values::did_you_mean(name.value, all);
    let message = format!(
        "`{}` is not an item field{hint}; the fields are {}",
        name.value,
        values::list(&all)
    );
    ck.problem(name.at, t.path(key), message);
}

/// When both keys are present, the one written later, with its key's position.
fn later_of<'k>(t: &Table<'_>, a: &'k str, b: &'k str) -> Option<(&'k str, usize)> {
    let (ea, eb) = (t.get(a)?, t.get(b)?);
    Some(if ea.key_at > eb.key_at {
        (a, ea.key_at)
    } else {
        (b, eb.key_at)
    })
}

#[cfg(test)]
mod tests;
