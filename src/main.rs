//! The `insights-connector` command: parse the command line, start logging, run.

use clap::{Parser, Subcommand};
use insights_connector::config::Settings;
use insights_connector::startup::Application;
use insights_connector::telemetry;

#[derive(Parser)]
#[command(name = "insights-connector", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service.
    Serve(Settings),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    telemetry::init();
    let result = match cli.command {
        Command::Serve(settings) => serve(settings).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("insights-connector: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    if settings.jwt_hs256_secret.is_none() {
        tracing::warn!("INSIGHTS_JWT_HS256_SECRET is not set: every API call will answer 401");
    }
    Application::build(&settings)?.run_until_stopped().await
}
