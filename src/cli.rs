//! Command-line arguments.

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "feedwatch",
    version,
    about = "Watch feeds and web pages; keep every version; alert on every change."
)]
pub struct Cli {
    /// Configuration file [default: $FEEDWATCH_CONFIG, else config/feedwatch.toml when it exists, else /etc/feedwatch/feedwatch.toml]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Database file, overriding the configuration's `database`
    #[arg(long, global = true, value_name = "PATH")]
    pub database: Option<PathBuf>,
    /// More log output (repeat for more)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Less log output
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub quiet: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: poll every source on its schedule until stopped
    Run,
    /// Poll the named sources (default: all) once now, record, alert, exit
    Check(CheckArgs),
    /// Check the configuration offline and print every problem
    Validate,
    /// Fetch a source or URL and show what would be recorded, storing nothing
    Test(TestArgs),
    /// One line per source: kind, schedule, last poll, outcome, items, next poll
    Sources,
    /// What the database holds: size on disk, items, versions, bytes per version, events
    Stats,
    /// The items held for a source, or the versions of one item
    History(HistoryArgs),
    /// The outbox: pending, delivered and dead deliveries
    Deliveries(DeliveriesArgs),
    /// Queue deliveries again: one event's, or every dead one
    Redeliver(RedeliverArgs),
    /// The changes detected in a period, with their diffs
    Report(ReportArgs),
    /// The differences between two versions of an item (default: its last change)
    Diff(DiffArgs),
    /// Print `[[source]]` tables for the feeds of an OPML file
    ImportOpml(ImportOpmlArgs),
    /// Watch a URL: a feed, or the feed a page offers; appends a [[source]] table
    Add(AddArgs),
    /// Stop watching a source: removes its [[source]] table
    Remove(RemoveArgs),
    /// List the feeds a page offers
    Discover(DiscoverArgs),
    /// Send a sample event through one sink now, past the outbox, and show the answer
    NotifyTest(NotifyTestArgs),
}

#[derive(Debug, Args)]
pub struct NotifyTestArgs {
    /// A configured sink name
    pub sink: String,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// A feed's URL, or a page that links to its feeds
    pub url: String,
    /// The source's name [default: from the feed's title, else the host]
    #[arg(long, value_name = "N")]
    pub name: Option<String>,
    /// How often to poll, like "30m" or "2h" [default: settings.interval]
    #[arg(long, value_name = "D", value_parser = parse_interval)]
    pub interval: Option<String>,
    /// What to watch the URL as: feed (found on the page when it is one) or page
    #[arg(long = "type", value_name = "T", value_parser = ["feed", "page"])]
    pub kind: Option<String>,
    /// Watch the page itself as a page source, not the feeds it offers
    #[arg(long, conflicts_with_all = ["pick", "kind"])]
    pub page: bool,
    /// Which of the page's feeds to watch, as `discover` numbers them
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub pick: Option<u32>,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The source's name
    pub name: String,
    /// Also delete its history (items, versions, events) from the database
    #[arg(long)]
    pub purge: bool,
}

#[derive(Debug, Args)]
pub struct DiscoverArgs {
    /// A page's URL
    pub url: String,
}

/// An interval as typed, once it is known to be a duration longer than zero.
fn parse_interval(text: &str) -> Result<String, String> {
    match humantime::parse_duration(text.trim()) {
        Ok(d) if !d.is_zero() => Ok(text.trim().to_string()),
        Ok(_) => Err("must be longer than zero".to_string()),
        Err(e) => Err(format!("{e}; write it like \"15m\", \"1h 30m\" or \"90s\"")),
    }
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// How far back to look, like "24h" or "7d" [default: settings.report_window, 7 days]
    #[arg(long, value_name = "DUR", value_parser = humantime::parse_duration, conflicts_with = "from")]
    pub since: Option<std::time::Duration>,
    /// Changes at or after this time: RFC 3339 ("2026-11-20T08:00:00Z") or a date ("2026-11-20", UTC)
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Only these sources (repeat, or separate with commas)
    #[arg(long = "source", value_name = "S", value_delimiter = ',', num_args = 1..)]
    pub sources: Vec<String>,
    /// Only these event types, like item.updated or item.* (repeat, or separate with commas)
    #[arg(long = "type", value_name = "T", value_delimiter = ',', num_args = 1..)]
    pub types: Vec<String>,
    #[arg(long, value_enum, default_value_t = crate::report::Format::Text)]
    pub format: crate::report::Format,
    /// No colour, even on a terminal (as does a non-empty NO_COLOR)
    #[arg(long)]
    pub no_color: bool,
    /// Also show the changes alert conditions held back, marked as such
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    pub source: String,
    /// An item key (as shown by `history SOURCE`)
    pub item: String,
    /// The older version [default: the one before --to]
    #[arg(long, value_name = "N")]
    pub from: Option<u32>,
    /// The newer version [default: the latest]
    #[arg(long, value_name = "N")]
    pub to: Option<u32>,
    /// Mark changed words inline ([-removed-]{+added+}) instead of lines
    #[arg(long)]
    pub word: bool,
    /// No colour, even on a terminal (as does a non-empty NO_COLOR)
    #[arg(long)]
    pub no_color: bool,
}

#[derive(Debug, Args)]
pub struct ImportOpmlArgs {
    /// An OPML file, as feed readers export their subscriptions
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct DeliveriesArgs {
    /// Only deliveries that failed (dead, or pending after a failed attempt)
    #[arg(long)]
    pub failed: bool,
    /// Only this sink's deliveries
    #[arg(long, value_name = "SINK")]
    pub sink: Option<String>,
    /// At most this many lines, newest first
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("which").required(true).args(["id", "all_failed"]))]
pub struct RedeliverArgs {
    /// An event id (evt_…), as shown by `deliveries`
    pub id: Option<String>,
    /// Every dead delivery
    #[arg(long)]
    pub all_failed: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Source names (default: every source)
    pub sources: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// A configured source name, or a URL
    pub target: String,
    /// Print JSON for scripts
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    pub source: String,
    /// An item key (as shown by `history SOURCE`)
    pub item: Option<String>,
}

impl Cli {
    /// The configuration file to use, following the documented search order.
    pub fn config_path(&self) -> PathBuf {
        if let Some(path) = &self.config {
            return path.clone();
        }
        if let Some(path) = std::env::var_os("FEEDWATCH_CONFIG").filter(|p| !p.is_empty()) {
            return PathBuf::from(path);
        }
        let local = PathBuf::from("config/feedwatch.toml");
        if local.exists() {
            return local;
        }
        PathBuf::from("/etc/feedwatch/feedwatch.toml")
    }

    /// The default log filter for this command and verbosity.
    pub fn log_filter(&self) -> &'static str {
        let base: i8 = if matches!(self.command, Command::Run) {
            2
        } else {
            1
        };
        let level = base + self.verbose as i8 - self.quiet as i8;
        match level {
            i8::MIN..=0 => "error",
            1 => "warn",
            2 => "info",
            3 => "debug",
            _ => "trace",
        }
    }
}

/// Parses `--from`: RFC 3339, or a date (midnight UTC), or a date and time in UTC.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc());
        }
    }
    if let Some(t) = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
    {
        return Ok(t.and_utc());
    }
    Err(format!(
        "`{text}` is not a time; write it like 2026-11-20, \"2026-11-20 08:00\" or 2026-11-20T08:00:00Z"
    ))
}
