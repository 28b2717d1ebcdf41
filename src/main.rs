use std::process::ExitCode;

use clap::Parser;
use feedwatch::cli::Cli;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    match feedwatch::commands::run(&cli) {
        Ok(status) => ExitCode::from(status),
        Err(e) => {
            let code = e.exit_code();
            if code != 0 {
                eprintln!("{}", e.report());
            }
            ExitCode::from(code)
        }
    }
}

/// `log_format = "json"` in the configuration; an unreadable file is
/// reported by the command itself, in plain text.
fn wants_json_logs(cli: &Cli) -> bool {
    feedwatch::config::load(&cli.config_path())
        .is_ok_and(|c| c.settings.log_format == feedwatch::config::LogFormat::Json)
}

/// Plain lines on stderr; no timestamps under journald, which adds its own.
fn init_logging(cli: &Cli) {
    let default = format!("warn,feedwatch={}", cli.log_filter());
    let filter = std::env::var("FEEDWATCH_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    if wants_json_logs(cli) {
        builder.json().init();
    } else if std::env::var_os("JOURNAL_STREAM").is_some() {
        builder.without_time().with_ansi(false).init();
    } else {
        builder.init();
    }
    std::panic::set_hook(Box::new(|info| {
        tracing::error!("internal error: {info}");
    }));
}
