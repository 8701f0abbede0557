//! The `insights-connector` command: parse the command line, start logging, run.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use insights_connector::admin::{self, AdminRequest, AdminResponse};
use insights_connector::config::{MAX_TOKEN_TTL, Secret, Settings, duration_setting};
use insights_connector::domain::patterns::TENANT_ID_MAX_BYTES;
use insights_connector::domain::{ApiKeyId, TenantId};
use insights_connector::http::{self, auth::mint_hs256};
use insights_connector::openapi::connector::{self, ConnectorAuth, ConnectorSettings};
use insights_connector::startup::{self, Application};
use insights_connector::storage::{Store, permissions};
use insights_connector::telemetry;
use powerplatform_connector::lint;
use url::Url;

/// mimalloc: a fan-out allocates and frees small buffers on several threads at once, where
/// glibc's allocator spent about a tenth of the time (BENCHMARKS.md); mimalloc made the
/// delivery benchmark's fan-out about a fifth faster.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "insights-connector", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service.
    Serve(Box<Settings>),
    /// Write openapi/openapi.json and the connector-definition/ package.
    Export(ExportArgs),
    /// Print an HS256 bearer token signed with INSIGHTS_JWT_HS256_SECRET (local use and tests).
    Token(TokenArgs),
    /// Create, list and revoke API keys (sent in the X-API-Key header), through the running
    /// server's admin socket or, when no server runs, in the database directly.
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Create a key and print it once, as the last line; only its hash is stored.
    Create {
        /// The tenant whose data the key reaches.
        #[arg(long)]
        tenant: String,
        /// A role to grant, such as `platform` for the report API; repeatable.
        #[arg(long)]
        role: Vec<String>,
        /// A label to recognise the key by in listings.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
    /// List every key (never the keys themselves): id, tenant, roles, name, status.
    List {
        #[command(flatten)]
        data: DataDir,
    },
    /// Revoke a key by its id; its next call is refused.
    Revoke {
        /// The key's id, as `list` shows it.
        id: String,
        #[command(flatten)]
        data: DataDir,
    },
}

#[derive(clap::Args)]
struct DataDir {
    /// The sled database directory of the service.
    #[arg(long, env = "INSIGHTS_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
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
    #[arg(long, default_value = "1h",
          value_parser = duration_setting("--ttl", std::time::Duration::ZERO, MAX_TOKEN_TTL))]
    ttl: std::time::Duration,
    #[arg(long, env = "INSIGHTS_JWT_HS256_SECRET", hide_env_values = true)]
    secret: Secret,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    telemetry::init();
    let result = match cli.command {
        Command::Serve(settings) => serve(*settings).await,
        Command::Export(args) => export(&args),
        Command::Token(args) => token(&args),
        Command::ApiKey(command) => api_key(command).await,
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
    permissions::owner_only_from_now_on();
    if settings.jwt_hs256_secret.is_none() && settings.jwks_url.is_none() {
        tracing::warn!(
            "neither INSIGHTS_JWT_HS256_SECRET nor INSIGHTS_JWKS_URL is set: only API keys are accepted"
        );
    }
    let shutdown = startup::shutdown_signal()?;
    // Past a file size limit (RLIMIT_FSIZE) the kernel signals SIGXFSZ, whose default is to
    // kill the process; handled, the write fails instead, and storage recovers from that.
    let _file_size_limit = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(
        rustix::process::Signal::XFSZ.as_raw(),
    ))?;
    Application::build(&settings)
        .await?
        .run_until(shutdown)
        .await
}

fn token(args: &TokenArgs) -> anyhow::Result<()> {
    let tenant = TenantId::parse(&args.tenant).ok_or_else(|| {
        anyhow::anyhow!("--tenant must be 1 to {TENANT_ID_MAX_BYTES} characters without spaces")
    })?;
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

/// Writes the documents, refusing a connector package the certification lint faults.
fn export(args: &ExportArgs) -> anyhow::Result<()> {
    let settings = ConnectorSettings {
        public_url: args.public_url.to_string(),
        aad_client_id: args.aad_client_id.clone(),
        aad_resource_uri: args.aad_resource_uri.clone(),
    };
    let document = http::document();
    for auth in ConnectorAuth::ALL {
        let package = connector::package(&document, &settings, auth)?;
        let findings = lint::lint_package(&package.api_definition, &package.api_properties);
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
    for (path, bytes) in connector::package_files(&document, &settings)? {
        let target = args.out.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, bytes)?;
        println!("wrote {}", target.display());
    }
    Ok(())
}

async fn api_key(command: ApiKeyCommand) -> anyhow::Result<()> {
    permissions::owner_only_from_now_on();
    let (data_dir, request) = match command {
        ApiKeyCommand::Create {
            tenant,
            role,
            name,
            data,
        } => {
            let tenant = TenantId::parse(&tenant).ok_or_else(|| {
                anyhow::anyhow!(
                    "--tenant must be 1 to {TENANT_ID_MAX_BYTES} characters without spaces"
                )
            })?;
            let request = AdminRequest::CreateApiKey {
                tenant,
                roles: role,
                name,
            };
            (data.data_dir, request)
        }
        ApiKeyCommand::List { data } => (data.data_dir, AdminRequest::ListApiKeys),
        ApiKeyCommand::Revoke { id, data } => {
            let id = ApiKeyId::parse(&id).context("the id is not an API key id")?;
            (data.data_dir, AdminRequest::RevokeApiKey { id })
        }
    };
    // A running server holds the database: ask it; otherwise open the database directly.
    let response = match admin::call(&data_dir, &request).await? {
        Some(response) => response,
        None => {
            let store = Store::open(&data_dir)?;
            let response = admin::handle(&store, request).await;
            store.close().await?;
            response
        }
    };
    match response {
        AdminResponse::Created { record, key } => {
            println!(
                "Created API key {} for tenant {} (roles: {}).",
                record.id,
                record.tenant,
                roles(&record.roles)
            );
            println!("Send it in the X-API-Key header. It is shown only now:");
            println!("{key}");
        }
        AdminResponse::Listed { keys } => {
            println!("id\ttenant\troles\tname\tcreated\tstatus");
            for key in keys {
                let status = match key.revoked_at {
                    Some(at) => format!("revoked {}", at.to_rfc3339()),
                    None => "active".into(),
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{status}",
                    key.id,
                    key.tenant,
                    roles(&key.roles),
                    key.name.as_deref().unwrap_or("-"),
                    key.created_at.to_rfc3339(),
                );
            }
        }
        AdminResponse::Revoked {
            record: Some(record),
        } => {
            println!("Revoked API key {}.", record.id);
        }
        AdminResponse::Revoked { record: None } => anyhow::bail!("no API key has that id"),
        AdminResponse::Failed { message } => anyhow::bail!("{message}"),
    }
    Ok(())
}

fn roles(roles: &[String]) -> String {
    if roles.is_empty() {
        "none".into()
    } else {
        roles.join(",")
    }
}
