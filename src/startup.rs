//! `Application::build` binds the listener first (so tests can use port 0), opens storage and
//! wires the HTTP server; `run_until_stopped` serves until SIGTERM or Ctrl-C, lets in-flight
//! requests finish, then closes storage.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use url::Url;

use crate::admin;
use crate::clock::{Clock, Jitter, SystemClock, random_jitter};
use crate::config::Settings;
use crate::delivery::{DeliverySettings, Dispatcher, Mode};
use crate::http::{self, AppState, Authenticator, RateLimiter, RateLimits};
use crate::openapi::connector::ConnectorSettings;
use crate::refresh::{Runner, RunnerSettings};
use crate::storage::Store;

/// How long shutdown waits for requests and deliveries in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);
/// How long downloading a `url` data source may take.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(600);

/// What a deployment never changes but tests do: the clock, the jitter of retries, and
/// whether deliveries and scheduled full refreshes run by themselves.
pub struct Controls {
    pub clock: Arc<dyn Clock>,
    pub jitter: Jitter,
    pub delivery: Mode,
    /// `Manual`: no schedule loop; `Runner::run_due_schedules` starts the runs due (tests).
    pub schedules: Mode,
}

impl Default for Controls {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock::default()),
            jitter: random_jitter(),
            delivery: Mode::Automatic,
            schedules: Mode::Automatic,
        }
    }
}

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
    /// Answers `api-key` commands while this server holds the database.
    admin: Option<(tokio::task::JoinHandle<()>, std::path::PathBuf)>,
}

impl Application {
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        Self::build_with(settings, Controls::default()).await
    }

    pub async fn build_with(settings: &Settings, controls: Controls) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.bind)
            .with_context(|| format!("cannot listen on {}", settings.bind))?;
        let local = listener.local_addr()?;
        let public_url = match &settings.public_url {
            Some(url) => url.clone(),
            None => Url::parse(&format!("http://{local}"))?,
        };
        let store = Arc::new(Store::open_with(
            &settings.data_dir,
            settings.quotas.limits(),
        )?);
        let dispatcher = Arc::new(Dispatcher::start(
            DeliverySettings {
                retry_schedule: settings.retry_schedule.0.clone(),
                request_timeout: settings.delivery_timeout,
                connect_timeout: Duration::from_secs(5).min(settings.delivery_timeout),
                max_in_flight: settings.delivery_concurrency,
                max_in_flight_per_host: settings.delivery_concurrency_per_host,
                retention: settings.delivery_retention,
                not_found_limit: settings.callback_404_limit,
                allow_private: settings.callback_allow_private,
                extra_roots: callback_roots(settings.callback_ca_file.as_deref())?,
            },
            Arc::clone(&store),
            Arc::clone(&controls.clock),
            controls.jitter,
            controls.delivery,
        )?);
        let runner = Arc::new(Runner::open(
            &RunnerSettings {
                data_dir: settings.data_dir.clone(),
                import_dir: settings.import_dir.clone(),
                upload_limit: settings.upload_limit,
                allow_private: settings.callback_allow_private,
                download_timeout: DOWNLOAD_TIMEOUT,
            },
            Arc::clone(&store),
            Arc::clone(&dispatcher),
            Arc::clone(&controls.clock),
        )?);
        let interrupted = runner.recover().await?;
        if interrupted > 0 {
            tracing::warn!(
                interrupted,
                "refreshes cut off by the last stop are marked failed"
            );
        }
        // After `recover`: a run the last stop cut off is failed before a missed one starts.
        if matches!(controls.schedules, Mode::Automatic) {
            runner.spawn_schedule_loop();
        }
        let auth = Authenticator::from_settings(settings, Arc::clone(&store))?;
        let connector = ConnectorSettings {
            public_url: public_url.to_string(),
            aad_client_id: settings.aad_client_id.clone(),
            aad_resource_uri: settings.aad_resource_uri.clone(),
        };
        let state = web::Data::new(AppState {
            unsubscribe_key: store.unsubscribe_key().await?,
            store,
            dispatcher,
            runner,
            auth,
            public_url,
            connector,
            allow_private_callbacks: settings.callback_allow_private,
            rate_limits: RateLimits {
                connector: RateLimiter::new(settings.rate_limit),
                report: RateLimiter::new(settings.report_rate_limit),
            },
            clock: controls.clock,
        });
        let app_state = state.clone();
        let document = http::document();
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .wrap(http::json_errors())
                .wrap_fn(http::request_id::trace)
                .configure(|cfg| http::configure(cfg, &document))
        })
        .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
        .client_request_timeout(settings.client_request_timeout)
        // Signals are ours (see `shutdown_signal`): registered before the first log line, so a
        // SIGTERM right after start still stops the server gracefully.
        .disable_signals();
        if settings.workers > 0 {
            server = server.workers(settings.workers);
        }
        let server = server.listen(listener)?.run();
        let admin = match admin::listen(&settings.data_dir) {
            Ok(listener) => Some((
                tokio::spawn(admin::serve(listener, Arc::clone(&state.store))),
                admin::socket_path(&settings.data_dir),
            )),
            Err(err) => {
                tracing::warn!(error = %err, "no admin socket: api-key commands need the server stopped");
                None
            }
        };
        if settings.demo {
            crate::demo::prepare(&state).await?;
        }
        tracing::info!(address = %local, "listening");
        Ok(Self {
            port: local.port(),
            server,
            state,
            admin,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server from elsewhere (tests).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// The dispatcher, to run due deliveries by hand (tests in manual delivery mode).
    pub fn dispatcher(&self) -> Arc<Dispatcher> {
        Arc::clone(&self.state.dispatcher)
    }

    /// The refresh runner, to follow refreshes from tests.
    pub fn runner(&self) -> Arc<Runner> {
        Arc::clone(&self.state.runner)
    }

    /// The store, to inspect it from tests.
    pub fn store(&self) -> Arc<Store> {
        Arc::clone(&self.state.store)
    }

    /// Serves until stopped through `handle()`; then finishes deliveries in flight and
    /// flushes storage.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(std::future::pending()).await
    }

    /// Serves until `shutdown` completes or the server is stopped; requests in flight finish,
    /// deliveries in flight get a grace period, and storage is flushed.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let stopper = tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutting down");
            handle.stop(true).await;
        });
        self.server.await?;
        stopper.abort();
        if let Some((task, path)) = self.admin {
            task.abort();
            // Awaited so that its handle on the store is gone before storage is flushed.
            let _ = task.await;
            let _ = std::fs::remove_file(path);
        }
        // Refreshes stop first: one that ends now still has its report delivered.
        self.state.runner.shutdown().await;
        self.state.dispatcher.shutdown(SHUTDOWN_GRACE).await;
        // Everything acknowledged is durable already; closing waits until the data dir is
        // released, so that the next start (or a test's) can open it at once.
        self.state.store.close().await?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Completes on SIGTERM or SIGINT (Ctrl-C). The handlers are installed when this is called,
/// not when the future is first polled.
/// The certificates of `INSIGHTS_CALLBACK_CA_FILE`, if set: a file that cannot be read or
/// holds no certificate stops the start with a clear message.
fn callback_roots(
    file: Option<&std::path::Path>,
) -> anyhow::Result<Vec<rustls_pki_types::CertificateDer<'static>>> {
    use rustls_pki_types::pem::PemObject;
    let Some(file) = file else {
        return Ok(Vec::new());
    };
    let roots = rustls_pki_types::CertificateDer::pem_file_iter(file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|err| {
            anyhow::anyhow!(
                "INSIGHTS_CALLBACK_CA_FILE {}: cannot read certificates: {err}",
                file.display()
            )
        })?;
    anyhow::ensure!(
        !roots.is_empty(),
        "INSIGHTS_CALLBACK_CA_FILE {} holds no PEM certificate",
        file.display()
    );
    Ok(roots)
}

pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callback_ca_file_must_hold_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        let missing = dir.path().join("missing.pem");
        for (file, says) in [
            (&empty, "holds no PEM certificate"),
            (&missing, "cannot read certificates"),
        ] {
            let err = callback_roots(Some(file)).unwrap_err().to_string();
            assert!(err.contains("INSIGHTS_CALLBACK_CA_FILE"), "{err}");
            assert!(err.contains(says), "{err}");
        }
        assert!(callback_roots(None).unwrap().is_empty());
        let ours =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls/ca.pem");
        assert_eq!(callback_roots(Some(&ours)).unwrap().len(), 1);
    }
}
