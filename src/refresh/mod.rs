//! Refreshes: the background jobs that run the engine on an instance's data and end, like a
//! reported refresh, in a report (refresh triggers, catalog, outbox). It wires the pure engine
//! (`engine::ingest`, `engine::items`) to storage (records, the refresh lock), the sources
//! (uploads, the import directory, `url` downloads through `delivery::fetch`) and the
//! dispatcher. Ingest and the item store block on file I/O: they run on blocking threads.
//!
//! A refresh is one at a time per instance: [`Runner::refresh_data_source`] takes the
//! instance's refresh lock (a durable `running` record) and runs in the background;
//! [`Runner::run_data_source_refresh`] runs one to its end under a lock its caller holds (the
//! stages of a full refresh). A refresh a stopped process left `running` is `failed` with
//! `interrupted` when the next one starts ([`Runner::recover`]).
//!
//! - `full`: the full refresh (data sources, unification, measures, segments).
//! - `schedule`: the schedule loop that starts full refreshes on the injected clock.

mod full;
mod schedule;
mod source;
pub mod uploads;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use source::Sources;
pub use source::{OUTSIDE_IMPORT_DIR, resolve_import};
use uploads::Uploads;

use crate::clock::Clock;
use crate::delivery::Dispatcher;
use crate::delivery::fetch::Fetcher;
use crate::domain::{
    DataSource, InitiatedBy, InstanceId, Refresh, RefreshId, RefreshStatus, SourceFormat,
};
use crate::engine::ingest::{self, Format};
use crate::engine::items::{EntityName, ItemStore, ItemsError};
use crate::storage::{StorageError, Store};

/// Why a refresh failed: a stable snake_case code and a sentence naming the line, key, field
/// or file, as the refresh's `errorCode` and `errorMessage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: &'static str,
    pub message: String,
}

impl Failure {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("the engine's directory {path} cannot be used")]
    Directory {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the import directory {path} cannot be used (INSIGHTS_IMPORT_DIR)")]
    ImportDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the item store cannot be opened")]
    Items(#[from] ItemsError),
    #[error("the download client cannot be built")]
    Client(#[from] crate::delivery::DeliveryError),
    #[error("refresh records cannot be read or written")]
    Storage(#[from] StorageError),
}

/// What the runner is configured with.
#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// The service's data directory: the item store, uploads and downloads go under it.
    pub data_dir: PathBuf,
    /// `INSIGHTS_IMPORT_DIR`.
    pub import_dir: Option<PathBuf>,
    /// `INSIGHTS_UPLOAD_LIMIT`: the largest upload and the largest download.
    pub upload_limit: u64,
    /// `INSIGHTS_CALLBACK_ALLOW_PRIVATE`: downloads follow the callback address rules.
    pub allow_private: bool,
    /// How long one download may take.
    pub download_timeout: Duration,
}

/// Runs refreshes; shared by the handlers (and part of the application state).
pub struct Runner {
    store: Arc<Store>,
    dispatcher: Arc<Dispatcher>,
    clock: Arc<dyn Clock>,
    items: ItemStore,
    /// Each segment's members, kept apart from the instance's entities (`engine::segments`).
    segment_members: ItemStore,
    sources: Sources,
    /// Poked when a schedule is set or removed, so the schedule loop looks again.
    schedules_changed: tokio::sync::Notify,
    upload_limit: u64,
    /// Counts finished refreshes: waiting for one is waiting for a change.
    finished: watch::Sender<u64>,
    /// Counts full refreshes started, for whoever follows the schedule loop.
    started: watch::Sender<u64>,
    stopping: Arc<AtomicBool>,
    tasks: Mutex<JoinSet<()>>,
}

impl Runner {
    /// Opens the item store (`<data dir>/engine`), the uploads (`<data dir>/uploads`) and the
    /// downloads directory (`<data dir>/downloads`), removing what a stopped process left
    /// half-written in each. Blocks on file I/O: call it at start.
    pub fn open(
        settings: &RunnerSettings,
        store: Arc<Store>,
        dispatcher: Arc<Dispatcher>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, RunnerError> {
        let items = ItemStore::open(settings.data_dir.join("engine"))?;
        let segment_members = ItemStore::open(settings.data_dir.join("segments"))?;
        let uploads_dir = settings.data_dir.join("uploads");
        let uploads =
            Uploads::open(uploads_dir.clone()).map_err(|source| RunnerError::Directory {
                path: uploads_dir,
                source,
            })?;
        let downloads = settings.data_dir.join("downloads");
        let directory = |source| RunnerError::Directory {
            path: settings.data_dir.join("downloads"),
            source,
        };
        if downloads.exists() {
            std::fs::remove_dir_all(&downloads).map_err(directory)?;
        }
        std::fs::create_dir_all(&downloads).map_err(directory)?;
        let import_dir = match &settings.import_dir {
            None => None,
            Some(dir) => {
                Some(
                    std::fs::canonicalize(dir).map_err(|source| RunnerError::ImportDir {
                        path: dir.clone(),
                        source,
                    })?,
                )
            }
        };
        Ok(Self {
            store,
            dispatcher,
            clock,
            items,
            segment_members,
            schedules_changed: tokio::sync::Notify::new(),
            sources: Sources {
                uploads,
                import_dir,
                downloads,
                fetcher: Fetcher::new(settings.allow_private, settings.download_timeout)?,
                download_limit: settings.upload_limit,
            },
            upload_limit: settings.upload_limit,
            finished: watch::channel(0).0,
            started: watch::channel(0).0,
            stopping: Arc::new(AtomicBool::new(false)),
            tasks: Mutex::new(JoinSet::new()),
        })
    }

    /// The item store every entity is read from.
    pub fn items(&self) -> &ItemStore {
        &self.items
    }

    /// The item store of segment members: one entity per segment, named by its id.
    pub fn segment_members(&self) -> &ItemStore {
        &self.segment_members
    }

    pub fn uploads(&self) -> &Uploads {
        &self.sources.uploads
    }

    /// `INSIGHTS_UPLOAD_LIMIT`.
    pub fn upload_limit(&self) -> u64 {
        self.upload_limit
    }

    /// The canonical import directory, when file sources are on.
    pub fn import_dir(&self) -> Option<&std::path::Path> {
        self.sources.import_dir.as_deref()
    }

    /// Marks every refresh a stopped process left running as failed with `interrupted`, each
    /// with its report (the refresh-failed triggers fire). Call it once at start, before any
    /// refresh can start.
    pub async fn recover(&self) -> Result<usize, RunnerError> {
        let running = self.store.running_refreshes()?;
        let count = running.len();
        for refresh in running {
            tracing::warn!(refresh_id = %refresh.id, instance_id = %refresh.instance_id,
                "a refresh was interrupted by a stop; marking it failed");
            let name = match &refresh.data_source_id {
                Some(id) => self
                    .store
                    .data_source(refresh.instance_id, id)?
                    .map(|source| source.name),
                None => None,
            };
            let refresh = refresh.interrupted(self.clock.now());
            let report = refresh.report(name);
            self.finish(refresh, report).await?;
        }
        Ok(count)
    }

    /// Starts a refresh of `source` in the background: answers its `running` record once
    /// that is durable, or [`StorageError::RefreshInProgress`] while the instance runs another.
    pub async fn refresh_data_source(
        self: &Arc<Self>,
        source: DataSource,
        initiated_by: InitiatedBy,
    ) -> Result<Refresh, StorageError> {
        let refresh = Refresh::data_source(
            source.instance_id,
            source.id.clone(),
            initiated_by,
            self.clock.now(),
        );
        let refresh = self.store.start_refresh(refresh).await?;
        let runner = Arc::clone(self);
        let running = refresh.clone();
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        while tasks.try_join_next().is_some() {}
        tasks.spawn(async move {
            runner.run_data_source_refresh(&source, running).await;
        });
        Ok(refresh)
    }

    /// Runs a data source refresh whose `running` record is stored (under a lock its caller
    /// holds) to its end: reads the source, replaces the entity's items atomically (the
    /// previous items stay on any failure), then records the outcome with its report and
    /// dispatches the deliveries. Answers the finished record; while the service stops, the
    /// record is left running (the next start marks it interrupted).
    pub async fn run_data_source_refresh(&self, source: &DataSource, refresh: Refresh) -> Refresh {
        let outcome = self.ingest(source, refresh.id).await;
        if outcome.is_err() && self.stopping.load(Ordering::SeqCst) {
            return refresh;
        }
        let now = self.clock.now();
        let finished = match outcome {
            Ok(rows) => refresh.succeeded(rows, now),
            Err(failure) => refresh.failed(failure.code, failure.message, now),
        };
        let report = finished.report(Some(source.name.clone()));
        if let Err(err) = self.finish(finished.clone(), report).await {
            tracing::error!(error = %err, refresh_id = %finished.id,
                "cannot record the end of a refresh; the next start marks it interrupted");
        }
        finished
    }

    /// Records a finished refresh with its report and dispatches what it caused.
    async fn finish(
        &self,
        refresh: Refresh,
        report: Option<crate::domain::Report>,
    ) -> Result<(), StorageError> {
        let outcome = self
            .store
            .finish_refresh(refresh, report, self.clock.now())
            .await?;
        self.dispatcher
            .metrics()
            .events_accepted(outcome.new_events);
        self.dispatcher.dispatch(outcome.deliveries);
        self.finished.send_modify(|count| *count += 1);
        Ok(())
    }

    /// Reads the source into a new generation of the entity; answers the row count.
    async fn ingest(&self, source: &DataSource, refresh: RefreshId) -> Result<u64, Failure> {
        let opened = self
            .sources
            .open(source, &refresh.to_string(), Arc::clone(&self.stopping))
            .await?;
        let items = self.items.clone();
        let instance = source.instance_id;
        let entity = EntityName::parse(source.id.as_str()).map_err(|_| {
            Failure::new(
                "invalid_entity_name",
                "The data source id cannot name an entity.",
            )
        })?;
        let format = match source.format {
            SourceFormat::Csv => Format::Csv,
            SourceFormat::Jsonl => Format::JsonLines,
        };
        let primary_key = source.primary_key.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            ingest::load(&items, instance, &entity, format, &primary_key, &[], || {
                opened.reader()
            })
        })
        .await
        .map_err(|_| Failure::new("internal_error", "The refresh stopped unexpectedly."))?;
        match loaded {
            Ok(entity) => Ok(entity.item_count()),
            Err(err) => {
                if err.code() == "storage_failure" {
                    tracing::error!(error = ?err, "a refresh could not store its items");
                }
                Err(Failure::new(err.code(), err.to_string()))
            }
        }
    }

    /// Waits until the refresh `id` of `instance` is no longer running (tests and callers that
    /// follow a refresh); answers its record.
    pub async fn wait_until_finished(
        &self,
        instance: InstanceId,
        id: RefreshId,
    ) -> Result<Option<Refresh>, StorageError> {
        let mut finished = self.finished.subscribe();
        loop {
            let refresh = self.store.refresh(instance, id)?;
            if refresh
                .as_ref()
                .is_none_or(|r| r.status != RefreshStatus::Running)
            {
                return Ok(refresh);
            }
            if finished.changed().await.is_err() {
                return Ok(refresh);
            }
        }
    }

    /// Changes whenever a full refresh starts (tests follow the schedule loop with it).
    pub fn full_refreshes_started(&self) -> watch::Receiver<u64> {
        self.started.subscribe()
    }

    /// Stops: refreshes in progress are cut off (an ingest at its next read, a download at
    /// once) and their records stay running, so the next start marks them interrupted. Every
    /// step of a refresh is a durable write, so cutting one off between two loses nothing.
    pub async fn shutdown(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        let mut tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
}
