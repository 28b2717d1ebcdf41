use std::process::ExitCode;

use clap::Parser;
use feedwatch::cli::Cli;
use feedwatch::commands::{self, Context};
use feedwatch::config::LogFormat;
use feedwatch::logging::{self, Style};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = format!("warn,feedwatch={}", cli.log_filter());
    let ctx = Context::load(cli.config_path(), cli.database);
    logging::init(&filter, Style::detect(ctx.log_format() == LogFormat::Json));
    std::panic::set_hook(Box::new(|info| tracing::error!("internal error: {info}")));
    match commands::run(cli.command, ctx) {
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
