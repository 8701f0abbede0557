//! The `insights-connector` command: parse the command line, start logging, run.

use clap::{Parser, Subcommand};
use insights_connector::config::{Secret, Settings, parse_duration};
use insights_connector::domain::TenantId;
use insights_connector::http::auth::mint_hs256;
use insights_connector::openapi::connector::{self, ConnectorAuth, ConnectorSettings};
use insights_connector::openapi::lint;
use insights_connector::startup::{self, Application};
use insights_connector::telemetry;
use std::path::PathBuf;
use url::Url;

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
    /// Write openapi/openapi.json and the connector-definition/ package.
    Export(ExportArgs),
    /// Print an HS256 bearer token signed with INSIGHTS_JWT_HS256_SECRET (local use and tests).
    Token(TokenArgs),
}

#[derive(clap::Args)]
struct ExportArgs {
    /// The folder to write `openapi/` and `connector-definition/` into.
    #[arg(long, default_value = ".")]
    out: PathBuf,
    /// The service's public URL, for the definition's host, base path and scheme.
    #[arg(long, default_value = connector::PLACEHOLDER_URL)]
    public_url: Url,
    /// The Azure AD application (client) id the connector signs in with.
    #[arg(long)]
    aad_client_id: Option<String>,
    /// The application ID URI tokens are requested for (the service's audience).
    #[arg(long)]
    aad_resource_uri: Option<String>,
}

#[derive(clap::Args)]
struct TokenArgs {
    /// The tenant (`tid` claim).
    #[arg(long)]
    tenant: String,
    /// The caller (`sub` claim).
    #[arg(long, default_value = "local-user")]
    subject: String,
    /// A role to grant, such as `platform` for the report API; repeatable.
    #[arg(long)]
    role: Vec<String>,
    /// How long the token is valid (`30m`, `12h`).
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    ttl: std::time::Duration,
    #[arg(long, env = "INSIGHTS_JWT_HS256_SECRET", hide_env_values = true)]
    secret: Secret,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    telemetry::init();
    let result = match cli.command {
        Command::Serve(settings) => serve(settings).await,
        Command::Export(args) => export(&args),
        Command::Token(args) => token(&args),
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
    let shutdown = startup::shutdown_signal()?;
    Application::build(&settings)?.run_until(shutdown).await
}

fn token(args: &TokenArgs) -> anyhow::Result<()> {
    let tenant = TenantId::parse(&args.tenant)
        .ok_or_else(|| anyhow::anyhow!("--tenant must be 1 to 128 characters without spaces"))?;
    let token = mint_hs256(
        args.secret.expose().as_bytes(),
        &tenant,
        &args.subject,
        &args.role,
        args.ttl,
    )?;
    println!("{token}");
    Ok(())
}

/// Writes the documents, refusing a connector definition the certification lint faults.
fn export(args: &ExportArgs) -> anyhow::Result<()> {
    let settings = ConnectorSettings {
        public_url: args.public_url.to_string(),
        aad_client_id: args.aad_client_id.clone(),
        aad_resource_uri: args.aad_resource_uri.clone(),
    };
    for auth in ConnectorAuth::ALL {
        let findings = lint::lint(&connector::api_definition(&settings, auth)?);
        if !findings.is_empty() {
            for finding in &findings {
                eprintln!("{finding}");
            }
            anyhow::bail!(
                "the connector definition has {} lint findings",
                findings.len()
            );
        }
    }
    for (path, bytes) in connector::package_files(&settings)? {
        let target = args.out.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, bytes)?;
        println!("wrote {}", target.display());
    }
    Ok(())
}
