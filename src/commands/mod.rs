//! The commands: each reads the configuration, does one job, and says how it went.

mod check;
mod inspect;
mod outbox;
mod report;
mod stats;
mod try_source;

use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use crate::cli::{Cli, Command};
use crate::config::{self, Config, ConfigError};
use crate::fetch::{FetchError, Fetcher};
use crate::poll::Poller;
use crate::store::{Shared, Store, StoreError};

/// Why a command could not do its job; each maps to a documented exit code.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("invalid configuration")]
    Config(#[source] ConfigError),
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot set up the HTTP client")]
    Http(#[source] FetchError),
    #[error("cannot start the runtime")]
    Runtime(#[source] io::Error),
    #[error("daemon failed")]
    Daemon(#[source] crate::daemon::DaemonError),
    /// Standard output was closed (`| head`): not worth a word.
    #[error("output closed")]
    ClosedPipe,
    #[error("cannot write output")]
    Output(#[source] io::Error),
    /// A file named on the command line is missing or unreadable.
    #[error("{what}")]
    Input {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl AppError {
    /// What to print on stderr: every configuration problem on its own
    /// line, else one sentence with its causes.
    pub fn report(&self) -> String {
        if let AppError::Config(ConfigError::Invalid(problems)) = self {
            let n = problems.list.len();
            return format!(
                "{problems}\nerror: {} has {n} problem{}",
                problems.path.display(),
                if n == 1 { "" } else { "s" }
            );
        }
        format!("error: {}", crate::error::error_chain(self))
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            AppError::Config(_) | AppError::Usage(_) | AppError::Input { .. } => 2,
            AppError::Store(_) => 3,
            AppError::Daemon(e) if e.is_store() => 3,
            AppError::ClosedPipe => 0,
            _ => 1,
        }
    }
}

/// Exit status of a command that ran: 0 all well, 1 something failed.
pub type Status = u8;

pub fn run(cli: &Cli) -> Result<Status, AppError> {
    match &cli.command {
        Command::Validate => validate(cli),
        Command::Run => {
            let config = load_config(cli)?;
            runtime()?
                .block_on(crate::daemon::run(
                    cli.config_path(),
                    cli.database.clone(),
                    config,
                ))
                .map_err(AppError::Daemon)?;
            Ok(0)
        }
        Command::Check(args) => check::check(cli, &args.sources),
        Command::Test(args) => try_source::test(cli, &args.target, args.json),
        Command::Sources => inspect::sources(cli),
        Command::Stats => stats::stats(cli),
        Command::History(args) => inspect::history(cli, &args.source, args.item.as_deref()),
        Command::Deliveries(args) => outbox::deliveries(cli, args),
        Command::Redeliver(args) => outbox::redeliver(cli, args),
        Command::Report(args) => report::report(cli, args),
        Command::Diff(args) => report::diff(cli, args),
        Command::ImportOpml(args) => report::import_opml(&args.file),
    }
}

/// Loads and validates the configuration, applying `--database`.
pub fn load_config(cli: &Cli) -> Result<Config, AppError> {
    let mut config = config::load(&cli.config_path()).map_err(AppError::Config)?;
    if let Some(db) = &cli.database {
        config.settings.database = db.clone();
    }
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    Ok(config)
}

fn validate(cli: &Cli) -> Result<Status, AppError> {
    let config = load_config(cli)?;
    emit(&format!(
        "{}: configuration OK: {} source{}, {} sink{}",
        config.path.display(),
        config.sources.len(),
        if config.sources.len() == 1 { "" } else { "s" },
        config.sinks.len(),
        if config.sinks.len() == 1 { "" } else { "s" },
    ))?;
    Ok(0)
}

pub use report::parse_time;

pub(crate) fn open_store(path: &Path) -> Result<Store, AppError> {
    Ok(Store::open(path)?)
}

pub(crate) fn poller(config: &Config) -> Result<Poller, AppError> {
    Ok(Poller {
        fetcher: Fetcher::new(&config.settings.user_agent).map_err(AppError::Http)?,
        store: Shared::new(open_store(&config.settings.database)?),
        outbox: Arc::new(tokio::sync::Notify::new()),
        commits: Default::default(),
    })
}

/// The daemon's runtime: a worker per core, so a long diff or a slow sink
/// never holds up the other sources' polls for long; blocking threads
/// enough for parsing, the writer, pruning and report publishing at once.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, AppError> {
    builder(tokio::runtime::Builder::new_multi_thread(), 2 * cores() + 2)
}

/// A one-off command's runtime: one thread drives every request, which
/// costs far fewer thread hand-offs than a worker per core. Blocking work
/// is parsing and compressing (one document per core), the writer and short
/// reads: a thread each is enough, and fewer threads mean fewer allocator
/// arenas holding memory.
pub(crate) fn command_runtime() -> Result<tokio::runtime::Runtime, AppError> {
    builder(tokio::runtime::Builder::new_current_thread(), cores() + 2)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

fn builder(
    mut builder: tokio::runtime::Builder,
    blocking_threads: usize,
) -> Result<tokio::runtime::Runtime, AppError> {
    builder
        .max_blocking_threads(blocking_threads)
        .enable_all()
        .build()
        .map_err(AppError::Runtime)
}

/// Writes one line to standard output; a closed pipe ends the command quietly.
pub(crate) fn emit(line: &str) -> Result<(), AppError> {
    let mut out = io::stdout().lock();
    writeln!(out, "{line}").map_err(|e| match e.kind() {
        io::ErrorKind::BrokenPipe => AppError::ClosedPipe,
        _ => AppError::Output(e),
    })
}
