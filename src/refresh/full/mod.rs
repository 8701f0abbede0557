//! The full refresh: every defined data source (each a stage with its own refresh record and
//! trigger), then unification (if defined) and the `CustomerId` of activity sources, customer
//! measures, business measures and segments, then `FullRefreshCompleted`. A stage that fails
//! is named in the run's error and the run goes on with what it has (a failed data source
//! keeps its previous items); the run is `failed` when any stage failed.
//!
//! Business measure values and segment member counts are reports through the store's report
//! path (`Store::record_report`), as a platform's would be: the same catalog update, threshold
//! rule, event and outbox. Every computed entity is switched atomically, so a run cut off by a
//! stop leaves the last complete results readable; its record stays `running` and the next
//! start marks it `interrupted` ([`Runner::recover`]).

mod stages;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::domain::report::{FullRefreshCounts, RunCounts, RunKind, RunReport, RunStatus};
use crate::domain::{DataSource, InitiatedBy, InstanceId, Refresh, RefreshStatus, Report};
use crate::engine::items::EntityName;
use crate::engine::unify::{ActivityLink, Unification, UnifyError, link_activity, unify};
use crate::storage::StorageError;

use super::{Failure, Runner};

/// The `errorCode` of a run whose first failed stage was a data source refresh.
pub const DATA_SOURCE_FAILED: &str = "data_source_failed";
/// A customer measure or a segment ran without a `Customer` entity (no unification yet).
pub const NO_CUSTOMERS: &str = "no_customers";
/// A definition or an outcome could not be read or written.
const STORAGE_FAILURE: &str = "storage_failure";
/// A stored measure or segment no longer parses (its rules changed since it was stored).
const INVALID_MEASURE: &str = "invalid_measure";
const INVALID_SEGMENT: &str = "invalid_segment";

/// The stages that failed, in order: the run's `errorCode` is the first one's, its
/// `errorMessage` names them all.
#[derive(Default)]
pub(super) struct Failures(Vec<(&'static str, String)>);

impl Failures {
    pub(super) fn add(&mut self, code: &'static str, message: String) {
        tracing::warn!(code, message = %message, "a stage of a full refresh failed");
        self.0.push((code, message));
    }

    fn outcome(&self) -> Option<(&str, String)> {
        let (code, _) = self.0.first()?;
        let message = self
            .0
            .iter()
            .map(|(_, message)| message.trim_end_matches('.'))
            .collect::<Vec<_>>()
            .join("; ");
        Some((code, format!("{message}.")))
    }
}

/// Runs a blocking computation on a blocking thread; a panic there is a failure, not a crash.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| Failure::new("internal_error", "The computation stopped unexpectedly."))
}

impl Runner {
    /// Starts a full refresh of `instance` in the background: answers its `running` record
    /// once that is durable, or [`StorageError::RefreshInProgress`] while the instance runs
    /// another refresh.
    pub async fn start_full_refresh(
        self: &Arc<Self>,
        instance: InstanceId,
        initiated_by: InitiatedBy,
    ) -> Result<Refresh, StorageError> {
        let refresh = Refresh::full_refresh(instance, initiated_by, self.clock.now());
        let refresh = self.store.start_refresh(refresh).await?;
        self.started.send_modify(|count| *count += 1);
        let runner = Arc::clone(self);
        let running = refresh.clone();
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        while tasks.try_join_next().is_some() {}
        tasks.spawn(async move {
            runner.run_full_refresh(running).await;
        });
        Ok(refresh)
    }

    pub(super) fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Runs a full refresh whose `running` record holds the instance's lock to its end.
    async fn run_full_refresh(&self, refresh: Refresh) {
        let instance = refresh.instance_id;
        let mut failures = Failures::default();
        let mut counts = FullRefreshCounts::default();
        match self.run_stages(&refresh, &mut failures, &mut counts).await {
            Ok(()) => {}
            Err(Stopped) => return,
        }
        let finished = refresh.ended(failures.outcome(), self.clock.now());
        let report = finished.full_refresh_report(&counts);
        if let Err(err) = self.finish(finished, report).await {
            tracing::error!(error = %err, instance_id = %instance,
                "cannot record the end of a full refresh; the next start marks it interrupted");
        }
    }

    async fn run_stages(
        &self,
        refresh: &Refresh,
        failures: &mut Failures,
        counts: &mut FullRefreshCounts,
    ) -> Result<(), Stopped> {
        let instance = refresh.instance_id;
        let mut stage = Stage::start(refresh);
        let sources = match self.store.data_sources(instance) {
            Ok(sources) => sources,
            Err(err) => {
                failures.add(
                    STORAGE_FAILURE,
                    format!("The data sources could not be read: {err}"),
                );
                return Ok(());
            }
        };
        // 1. Data sources, each a stage with its own record and trigger.
        let mut failed = 0u64;
        for source in &sources {
            let stage = Refresh::data_source(
                instance,
                source.id.clone(),
                refresh.initiated_by,
                self.clock.now(),
            );
            let stage = match self.store.start_refresh_under(stage, refresh.id).await {
                Ok(stage) => stage,
                Err(err) => {
                    failed += 1;
                    failures.add(
                        STORAGE_FAILURE,
                        format!(
                            "Data source \"{}\" could not be refreshed: {err}",
                            source.id
                        ),
                    );
                    continue;
                }
            };
            let finished = self.run_data_source_refresh(source, stage).await;
            if self.stopping() {
                return Err(Stopped);
            }
            if finished.status != RefreshStatus::Succeeded {
                failed += 1;
                failures.add(
                    DATA_SOURCE_FAILED,
                    format!(
                        "Data source \"{}\" failed ({}): {}; its previous items were used",
                        source.id,
                        finished.error_code.as_deref().unwrap_or("failed"),
                        finished
                            .error_message
                            .as_deref()
                            .unwrap_or("no reason given")
                            .trim_end_matches('.')
                    ),
                );
            }
        }
        // Every defined data source, those that failed (to start, even) included.
        counts.data_source_count = Some(sources.len() as u64);
        counts.failed_data_source_count = Some(failed);
        stage.finished("data_sources");

        // 2. Unification and the CustomerId of activity sources.
        self.unification_stage(refresh, &sources, failures).await;
        if self.stopping() {
            return Err(Stopped);
        }
        stage.finished("unification");

        // 3 and 4. Measures, customer ones first: business measures and segments may read them.
        let measures = self.measures(instance, failures);
        let mut computed = self.customer_measures(instance, &measures, failures).await;
        if self.stopping() {
            return Err(Stopped);
        }
        stage.finished("customer_measures");
        computed += self.business_measures(instance, &measures, failures).await;
        counts.measure_count = Some(computed);
        if self.stopping() {
            return Err(Stopped);
        }
        stage.finished("business_measures");

        // 5. Segments.
        counts.segment_count = Some(self.segments_stage(instance, failures).await);
        if self.stopping() {
            return Err(Stopped);
        }
        stage.finished("segments");
        Ok(())
    }

    /// Stores a report and dispatches what it caused, as the report API does.
    async fn report(&self, instance: InstanceId, report: Report) -> Result<(), StorageError> {
        let outcome = self
            .store
            .record_report(instance, report, None, self.clock.now())
            .await?;
        self.dispatcher
            .metrics()
            .events_accepted(outcome.new_events);
        self.dispatcher.dispatch(outcome.deliveries);
        Ok(())
    }

    async fn unification_stage(
        &self,
        refresh: &Refresh,
        sources: &[DataSource],
        failures: &mut Failures,
    ) {
        let instance = refresh.instance_id;
        let stored = match self.store.unification(instance) {
            Ok(Some(stored)) => stored,
            Ok(None) => return,
            Err(err) => {
                failures.add(
                    STORAGE_FAILURE,
                    format!("The unification could not be read: {err}"),
                );
                return;
            }
        };
        let started = self.clock.now();
        let items = self.items.clone();
        let links: Vec<(EntityName, ActivityLink)> = sources
            .iter()
            .filter_map(|source| {
                let customer = source.customer.as_ref()?;
                Some((
                    EntityName::parse(source.id.as_str()).ok()?,
                    ActivityLink {
                        customer_source: EntityName::parse(customer.data_source_id.as_str())
                            .ok()?,
                        field: customer.field.clone(),
                    },
                ))
            })
            .collect();
        let outcome = blocking(move || {
            let unification = Unification::parse(&stored.definition)?;
            let unified = unify(&items, instance, &unification)?;
            let mut link_failures = Vec::new();
            for (activity, link) in &links {
                if !unified.index.is_unified(&link.customer_source) {
                    continue;
                }
                if let Err(err) = link_activity(&items, instance, activity, link, &unified.index) {
                    link_failures.push((err.code(), err.to_string()));
                }
            }
            Ok::<_, UnifyError>((unified.counts, link_failures))
        })
        .await;
        let finished = self.clock.now();
        let (status, counts) = match outcome {
            Ok(Ok((counts, link_failures))) => {
                for (code, message) in link_failures {
                    failures.add(code, message);
                }
                (
                    RunStatus::Succeeded,
                    crate::domain::report::UnificationCounts {
                        source_record_count: Some(counts.source_record_count),
                        unified_profile_count: Some(counts.unified_profile_count),
                    },
                )
            }
            Ok(Err(err)) => {
                failures.add(err.code(), format!("Unification failed: {err}"));
                (RunStatus::Failed, Default::default())
            }
            Err(failure) => {
                failures.add(
                    failure.code,
                    format!("Unification failed: {}", failure.message),
                );
                (RunStatus::Failed, Default::default())
            }
        };
        if self.stopping() {
            return;
        }
        let report = RunCounts::Unification(counts).to_map().map(|counts| {
            Report::Run(RunReport {
                kind: RunKind::Unification,
                run_id: Some(refresh.id.to_string()),
                status,
                started_at: Some(started),
                finished_at: Some(finished),
                counts,
                initiated_by: Some(refresh.initiated_by),
            })
        });
        let recorded = match report {
            Ok(report) => self
                .report(instance, report)
                .await
                .map_err(|e| e.to_string()),
            Err(err) => Err(err.to_string()),
        };
        if let Err(err) = recorded {
            failures.add(
                STORAGE_FAILURE,
                format!("The end of unification could not be recorded: {err}"),
            );
        }
    }
}

/// The run stopped because the service is stopping: its record stays `running`.
struct Stopped;

/// Logs how long each stage of a run took, so that an operator (and the full refresh
/// benchmark) can see where its time goes.
struct Stage<'a> {
    refresh: &'a Refresh,
    since: Instant,
}

impl<'a> Stage<'a> {
    fn start(refresh: &'a Refresh) -> Self {
        Self {
            refresh,
            since: Instant::now(),
        }
    }

    /// Logs the stage that ends now; the next one starts now.
    fn finished(&mut self, stage: &'static str) {
        let elapsed_ms = u64::try_from(self.since.elapsed().as_millis()).unwrap_or(u64::MAX);
        tracing::info!(refresh_id = %self.refresh.id, instance_id = %self.refresh.instance_id,
            stage, elapsed_ms, "a stage of a full refresh finished");
        self.since = Instant::now();
    }
}
