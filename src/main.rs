use std::process::ExitCode;

use clap::Parser;
use feedwatch::cli::Cli;
use feedwatch::config::{self, LogFormat};
use feedwatch::logging::{self, Style};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json =
        config::load(&cli.config_path()).is_ok_and(|c| c.settings.log_format == LogFormat::Json);
    logging::init(
        &format!("warn,feedwatch={}", cli.log_filter()),
        Style::detect(json),
    );
    std::panic::set_hook(Box::new(|info| tracing::error!("internal error: {info}")));
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
