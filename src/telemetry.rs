//! Logging: `tracing` to stderr, filtered by `INSIGHTS_LOG` (or `RUST_LOG`).

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = std::env::var("INSIGHTS_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info,actix_server=warn,sled=warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .try_init();
}
