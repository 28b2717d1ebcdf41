//! The configuration the rest of the program uses: read from TOML in two steps
//! (a spanned document, then checked values), so every problem can name its
//! file, line, column and key, and all of them are reported at once.

mod edit;
mod load;
mod request;
mod secret;

use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;
use url::Url;

use crate::schedule::Schedule;

pub use crate::source::SourceKind;
pub use edit::{EditError, NewSource, with_source_appended, without_source, write_atomically};
pub(crate) use load::did_you_mean;
pub use load::{ConfigError, Dirs, Problem, Problems, load, load_text, parse_str};
pub use request::{Auth, Cookie, CookieFile, RequestConfig, shown_proxy};
pub use secret::{SecretReadError, readable_by_others};

/// A fully validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    pub settings: Settings,
    pub sinks: Vec<SinkConfig>,
    pub sources: Vec<SourceConfig>,
    /// Things worth saying that do not make the file invalid (e.g. a very short interval).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// Resolved: relative paths against `$STATE_DIRECTORY`, else the config file's folder.
    pub database: PathBuf,
    pub interval: Duration,
    pub timeout: Duration,
    pub max_body: u64,
    pub concurrency: usize,
    pub per_host: usize,
    /// Least time between two request starts to one remote host.
    pub host_spacing: Duration,
    pub user_agent: String,
    pub alert_on_first_poll: bool,
    pub allow_private_links: bool,
    pub fail_after: u32,
    pub log_format: LogFormat,
    /// Where to serve Prometheus metrics, if anywhere.
    pub metrics: Option<std::net::SocketAddr>,
    pub retention: Retention,
    /// The database grows no larger than this: a write that needs more
    /// fails as on a full disk, until pruning frees room.
    pub max_database_size: Option<u64>,
    /// Where the daemon publishes `changes.html` and `changes.atom`, if anywhere.
    pub report_dir: Option<PathBuf>,
    /// How far back the published reports (and `report` by default) reach.
    pub report_window: Duration,
    /// The address `report_dir` is served at (ends in `/`), for the feed's links.
    pub report_url: Option<Url>,
    /// Headers, sign-in, cookies and proxy every source starts from.
    pub request: RequestConfig,
    /// The alert conditions a source without its own gets.
    pub conditions: Conditions,
}

impl Default for Settings {
    /// What a file without `[settings]` gets, and what `test URL` uses
    /// when there is no configuration at all.
    fn default() -> Settings {
        Settings {
            database: PathBuf::from("feedwatch.db"),
            interval: Duration::from_secs(30 * 60),
            timeout: Duration::from_secs(30),
            max_body: 15 << 20,
            concurrency: 16,
            per_host: 2,
            host_spacing: Duration::from_secs(1),
            user_agent: format!(
                "feedwatch/{} (+https://github.com/feedwatch/feedwatch)",
                crate::VERSION
            ),
            alert_on_first_poll: false,
            allow_private_links: false,
            fail_after: 3,
            log_format: LogFormat::Text,
            metrics: None,
            retention: Retention::default(),
            max_database_size: None,
            report_dir: None,
            report_window: Duration::from_secs(7 * 24 * 3600),
            report_url: None,
            request: RequestConfig::default(),
            conditions: Conditions::default(),
        }
    }
}

/// Which item changes are worth an alert. Every version is stored whatever
/// these say; they only decide which events are raised.
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    /// Raise only when the text added or changed matches one of these.
    pub alert_if: Vec<Regex>,
    /// Raise only when the text added or changed matches none of these.
    pub alert_unless: Vec<Regex>,
    /// The fields whose text the patterns look at; empty: every compared field.
    pub alert_fields: Vec<Field>,
    /// Edits changing fewer characters of compared text raise nothing.
    pub min_change: usize,
}

impl Conditions {
    /// Whether these can hold anything back at all.
    pub fn any(&self) -> bool {
        !self.alert_if.is_empty() || !self.alert_unless.is_empty() || self.min_change > 0
    }
}

/// Patterns are compared by what was written.
impl PartialEq for Conditions {
    fn eq(&self, other: &Conditions) -> bool {
        let same = |a: &[Regex], b: &[Regex]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.as_str() == y.as_str())
        };
        same(&self.alert_if, &other.alert_if)
            && same(&self.alert_unless, &other.alert_unless)
            && self.alert_fields == other.alert_fields
            && self.min_change == other.min_change
    }
}

/// How much history to keep; by default every version and event is kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    /// Versions kept per item, the current one included.
    pub keep_versions: Option<u32>,
    /// Versions replaced longer ago than this, and events this old whose
    /// deliveries are all done, are pruned.
    pub keep_for: Option<Duration>,
}

impl Retention {
    pub fn prunes(&self) -> bool {
        self.keep_versions.is_some() || self.keep_for.is_some()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct SinkConfig {
    pub name: String,
    pub kind: SinkKind,
    /// Glob patterns over event types (`item.*`); default `["*"]`.
    pub events: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum SinkKind {
    /// JSON lines; `None` means standard output.
    Log {
        path: Option<PathBuf>,
    },
    Webhook {
        url: Url,
        secret: Option<SecretRef>,
        timeout: Duration,
        retry_for: Duration,
    },
    Email(Box<EmailSink>),
    /// A chat or push service, sent through the outbox like a webhook.
    Chat {
        platform: Platform,
        timeout: Duration,
        retry_for: Duration,
    },
    /// A program run once per event, with the event on standard input.
    Command {
        /// The program and its arguments; never run through a shell.
        argv: Vec<String>,
        timeout: Duration,
        retry_for: Duration,
    },
}

impl SinkKind {
    /// How long an event is retried before it is dead; `None` for log sinks,
    /// which are written at once.
    pub fn retry_for(&self) -> Option<Duration> {
        match self {
            SinkKind::Log { .. } => None,
            SinkKind::Webhook { retry_for, .. }
            | SinkKind::Chat { retry_for, .. }
            | SinkKind::Command { retry_for, .. } => Some(*retry_for),
            SinkKind::Email(email) => Some(email.retry_for),
        }
    }
}

/// The chat and push services a sink can post to. Every base address is
/// configurable, for self-hosted servers and for tests.
#[derive(Debug, Clone)]
pub enum Platform {
    /// An incoming-webhook URL, which is itself the secret.
    Slack { url: SecretRef },
    /// A channel webhook URL, which is itself the secret.
    Discord { url: SecretRef },
    Telegram {
        api_url: Url,
        token: SecretRef,
        /// A numeric id or `@channelname`.
        chat_id: String,
    },
    Ntfy {
        /// The server and the topic.
        url: Url,
        token: Option<SecretRef>,
        /// 1 (min) to 5 (max); the server's default when `None`.
        priority: Option<u8>,
    },
    Matrix {
        homeserver: Url,
        room_id: String,
        token: SecretRef,
    },
}

impl Platform {
    pub fn name(&self) -> &'static str {
        match self {
            Platform::Slack { .. } => "slack",
            Platform::Discord { .. } => "discord",
            Platform::Telegram { .. } => "telegram",
            Platform::Ntfy { .. } => "ntfy",
            Platform::Matrix { .. } => "matrix",
        }
    }
}

/// An email sink: where to send, as whom, to whom, and how often.
#[derive(Debug, Clone)]
pub struct EmailSink {
    pub smtp: SmtpServer,
    pub from: lettre::message::Mailbox,
    pub to: Vec<lettre::message::Mailbox>,
    pub username: Option<String>,
    pub password: Option<SecretRef>,
    /// One message per window of this length instead of one per event.
    pub digest: Option<Duration>,
    /// A PEM file of certificate authorities trusted for this server, beside the system's.
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
    pub retry_for: Duration,
}

/// An SMTP server from `smtp = "smtp+starttls://host:587"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpServer {
    pub security: SmtpSecurity,
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtp://`: no encryption (a local relay).
    Plain,
    /// `smtp+starttls://`: STARTTLS is required.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Tls,
}

/// Where a webhook secret comes from; the secret itself is read only when needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    File(PathBuf),
    Env(String),
}

/// Kinds of item change a source reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Track {
    pub new: bool,
    pub updated: bool,
    pub removed: bool,
}

/// Item fields whose edits can count as changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Title,
    Link,
    Summary,
    Content,
    Author,
    Published,
    Article,
}

impl Field {
    pub const ALL: [Field; 7] = [
        Field::Title,
        Field::Link,
        Field::Summary,
        Field::Content,
        Field::Author,
        Field::Published,
        Field::Article,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Link => "link",
            Field::Summary => "summary",
            Field::Content => "content",
            Field::Author => "author",
            Field::Published => "published",
            Field::Article => "article",
        }
    }

    pub fn parse(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

#[derive(Debug, Clone)]
pub struct SourceConfig {
    pub name: String,
    pub url: Url,
    /// `None`: sniffed from the first response.
    pub kind: Option<SourceKind>,
    pub schedule: Schedule,
    pub timeout: Duration,
    pub max_body: u64,
    pub track: Track,
    pub compare: Vec<Field>,
    pub ignore: Vec<Regex>,
    /// Resolved: the names of the sinks this source's events go to.
    pub sinks: Vec<String>,
    pub follow_links: bool,
    /// How long after an item is first seen its article is still re-checked.
    pub follow_for: Duration,
    pub article_select: Option<String>,
    pub select: Vec<String>,
    pub exclude: Vec<String>,
    /// Headers, sign-in, cookies and proxy, settings' merged with its own.
    pub request: RequestConfig,
    pub conditions: Conditions,
    /// The jq filter of a `type = "json"` source, checked to compile.
    pub jq: Option<String>,
}

/// Two configurations of a source are the same when every setting is;
/// patterns are compared by what was written. Every field is named, so a
/// new one cannot be forgotten here.
impl PartialEq for SourceConfig {
    fn eq(&self, other: &SourceConfig) -> bool {
        let SourceConfig {
            name,
            url,
            kind,
            schedule,
            timeout,
            max_body,
            track,
            compare,
            ignore,
            sinks,
            follow_links,
            follow_for,
            article_select,
            select,
            exclude,
            request,
            conditions,
            jq,
        } = self;
        *name == other.name
            && *url == other.url
            && *kind == other.kind
            && *schedule == other.schedule
            && *timeout == other.timeout
            && *max_body == other.max_body
            && *track == other.track
            && *compare == other.compare
            && ignore.len() == other.ignore.len()
            && ignore
                .iter()
                .zip(&other.ignore)
                .all(|(a, b)| a.as_str() == b.as_str())
            && *sinks == other.sinks
            && *follow_links == other.follow_links
            && *follow_for == other.follow_for
            && *article_select == other.article_select
            && *select == other.select
            && *exclude == other.exclude
            && *request == other.request
            && *conditions == other.conditions
            && *jq == other.jq
    }
}

impl Config {
    /// The configuration with `--database` applied, when given.
    pub fn with_database(mut self, database: Option<&Path>) -> Config {
        if let Some(db) = database {
            self.settings.database = db.to_path_buf();
        }
        self
    }

    pub fn source(&self, name: &str) -> Option<&SourceConfig> {
        self.sources.iter().find(|s| s.name == name)
    }

    pub fn sink(&self, name: &str) -> Option<&SinkConfig> {
        self.sinks.iter().find(|s| s.name == name)
    }

    /// The folder relative paths in the file are resolved against.
    pub fn base_dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
}
