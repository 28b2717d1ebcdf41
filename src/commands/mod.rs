//! The commands: each reads the configuration, does one job, and says how it went.

mod check;
mod edit;
mod inspect;
mod notify_test;
mod outbox;
mod report;
mod stats;
mod try_source;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::cli::Command;
use crate::config::{self, Config, ConfigError, LogFormat};
use crate::deliver::Leases;
use crate::fetch::FetchError;
use crate::poll::{Poller, PollerError};
use crate::store::{Store, StoreError};

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
    #[error(transparent)]
    Fetch(FetchError),
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

/// What every command is given: the configuration, read once, where it
/// was read from (the daemon reads it again there on reload), and the
/// `--database` override.
pub struct Context {
    pub config_path: PathBuf,
    pub database: Option<PathBuf>,
    config: Result<Config, ConfigError>,
}

impl Context {
    /// Reads the configuration file, applying `--database`.
    pub fn load(config_path: PathBuf, database: Option<PathBuf>) -> Context {
        let config = config::load(&config_path).map(|c| c.with_database(database.as_deref()));
        Context {
            config_path,
            database,
            config,
        }
    }

    /// The log format the configuration asks for; text when it cannot be read.
    pub fn log_format(&self) -> LogFormat {
        self.config
            .as_ref()
            .map_or(LogFormat::Text, |c| c.settings.log_format)
    }

    /// The configuration, its warnings logged.
    pub fn config(self) -> Result<Config, AppError> {
        let config = self.config.map_err(AppError::Config)?;
        for warning in &config.warnings {
            tracing::warn!("{warning}");
        }
        Ok(config)
    }
}

pub fn run(command: Command, ctx: Context) -> Result<Status, AppError> {
    match command {
        Command::Validate => validate(ctx),
        Command::Run => {
            let (path, database) = (ctx.config_path.clone(), ctx.database.clone());
            let config = ctx.config()?;
            runtime()?
                .block_on(crate::daemon::run(path, database, config))
                .map_err(AppError::Daemon)?;
            Ok(0)
        }
        Command::Check(args) => check::check(ctx, &args.sources),
        Command::Test(args) => try_source::test(ctx, &args.target, args.json),
        Command::Sources => inspect::sources(ctx),
        Command::Stats => stats::stats(ctx),
        Command::History(args) => inspect::history(ctx, &args.source, args.item.as_deref()),
        Command::Deliveries(args) => outbox::deliveries(ctx, &args),
        Command::Redeliver(args) => outbox::redeliver(ctx, &args),
        Command::Report(args) => report::report(ctx, &args),
        Command::Diff(args) => report::diff(ctx, &args),
        Command::ImportOpml(args) => report::import_opml(&args.file),
        Command::Add(args) => edit::add(ctx, &args),
        Command::Remove(args) => edit::remove(ctx, &args),
        Command::Discover(args) => edit::discover(ctx, &args.url),
        Command::NotifyTest(args) => notify_test::notify_test(ctx, &args.sink),
    }
}

fn validate(ctx: Context) -> Result<Status, AppError> {
    let config = ctx.config()?;
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

pub(crate) fn open_store(path: &Path) -> Result<Store, AppError> {
    Ok(Store::open(path)?)
}

pub(crate) fn poller(config: &Config) -> Result<Poller, AppError> {
    let store = open_store(&config.settings.database)?;
    Poller::new(store, &config.settings, Leases::new("check")).map_err(|e| match e {
        PollerError::Store(e) => AppError::Store(e),
        PollerError::Http(e) => AppError::Http(e),
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
