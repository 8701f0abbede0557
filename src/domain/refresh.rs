//! The record of a refresh the engine runs: a data source refresh or a full refresh, from
//! `running` to `succeeded` or `failed`, and the report a finished data source refresh makes,
//! which fires the refresh triggers and updates the catalog exactly as a reported one does.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::catalog::ItemId;
use super::ids::{InstanceId, RefreshId};
use super::report::{
    FullRefreshCounts, RefreshReport, Report, RunCounts, RunKind, RunReport, RunStatus,
};

/// The `errorCode` of a refresh that a crash or a stop cut off.
pub const INTERRUPTED: &str = "interrupted";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RefreshKind {
    DataSource,
    FullRefresh,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum InitiatedBy {
    Manual,
    Schedule,
}

impl InitiatedBy {
    /// The wire name, as refreshes and `FullRefreshCompleted` payloads carry it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Schedule => "schedule",
        }
    }
}

/// The `initiatedBy` of a run a data platform reported rather than the engine ran.
pub const INITIATED_BY_PLATFORM: &str = "platform";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RefreshStatus {
    Running,
    Succeeded,
    Failed,
}

impl RefreshStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

/// One refresh, as stored and as `GetRefresh` answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refresh {
    pub id: RefreshId,
    pub instance_id: InstanceId,
    pub kind: RefreshKind,
    pub initiated_by: InitiatedBy,
    pub status: RefreshStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub data_source_id: Option<ItemId>,
    pub row_count: Option<u64>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

impl Refresh {
    /// A data source refresh starting now.
    pub fn data_source(
        instance_id: InstanceId,
        data_source_id: ItemId,
        initiated_by: InitiatedBy,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: RefreshId::new_ordered(),
            instance_id,
            kind: RefreshKind::DataSource,
            initiated_by,
            status: RefreshStatus::Running,
            started_at: now,
            finished_at: None,
            data_source_id: Some(data_source_id),
            row_count: None,
            error_code: None,
            error_message: None,
        }
    }

    /// A full refresh starting now.
    pub fn full_refresh(
        instance_id: InstanceId,
        initiated_by: InitiatedBy,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: RefreshId::new_ordered(),
            instance_id,
            kind: RefreshKind::FullRefresh,
            initiated_by,
            status: RefreshStatus::Running,
            started_at: now,
            finished_at: None,
            data_source_id: None,
            row_count: None,
            error_code: None,
            error_message: None,
        }
    }

    /// A full refresh ended at `now`: succeeded, or failed with the first failing stage's
    /// code and a message naming every failed stage.
    pub fn ended(mut self, failure: Option<(&str, String)>, now: DateTime<Utc>) -> Self {
        match failure {
            None => {
                self.status = RefreshStatus::Succeeded;
                self.finished_at = Some(now);
                self
            }
            Some((code, message)) => self.failed(code, message, now),
        }
    }

    /// The refresh ended well at `now` with `row_count` rows.
    pub fn succeeded(mut self, row_count: u64, now: DateTime<Utc>) -> Self {
        self.status = RefreshStatus::Succeeded;
        self.finished_at = Some(now);
        self.row_count = Some(row_count);
        self
    }

    /// The refresh failed at `now` for the reason `code` (stable snake_case) and `message` (a
    /// sentence naming the line, key or field).
    pub fn failed(mut self, code: &str, message: String, now: DateTime<Utc>) -> Self {
        self.status = RefreshStatus::Failed;
        self.finished_at = Some(now);
        self.error_code = Some(code.to_owned());
        self.error_message = Some(message);
        self
    }

    /// A refresh left running by a process that stopped: failed, `interrupted`, at `now`.
    pub fn interrupted(self, now: DateTime<Utc>) -> Self {
        self.failed(
            INTERRUPTED,
            "The service stopped while the refresh ran; the previous items are kept. Refresh again."
                .into(),
            now,
        )
    }

    /// The report a finished refresh makes: a data source refresh fires the refresh
    /// triggers and updates the catalog, a full refresh fires `FullRefreshCompleted` (without
    /// counts: see [`Refresh::full_refresh_report`]), as reported ones would. `None` while
    /// running.
    pub fn report(&self, data_source_name: Option<String>) -> Option<Report> {
        let status = self.run_status()?;
        let data_source_id = match (self.kind, &self.data_source_id) {
            (RefreshKind::DataSource, Some(id)) => id.clone(),
            (RefreshKind::FullRefresh, _) => {
                return self.full_refresh_report(&FullRefreshCounts::default());
            }
            (RefreshKind::DataSource, None) => return None,
        };
        Some(Report::DataSourceRefresh(RefreshReport {
            data_source_id,
            data_source_name,
            refresh_id: Some(self.id.to_string()),
            status,
            started_at: Some(self.started_at),
            finished_at: self.finished_at,
            row_count: self.row_count,
            error_code: self.error_code.clone(),
            error_message: self.error_message.clone(),
        }))
    }
}

impl Refresh {
    fn run_status(&self) -> Option<RunStatus> {
        match self.status {
            RefreshStatus::Running => None,
            RefreshStatus::Succeeded => Some(RunStatus::Succeeded),
            RefreshStatus::Failed => Some(RunStatus::Failed),
        }
    }

    /// The `FullRefreshCompleted` report of a finished full refresh with its `counts`.
    /// `None` while running, and for a data source refresh.
    pub fn full_refresh_report(&self, counts: &FullRefreshCounts) -> Option<Report> {
        let status = self.run_status()?;
        if self.kind != RefreshKind::FullRefresh {
            return None;
        }
        Some(Report::Run(RunReport {
            kind: RunKind::FullRefresh,
            run_id: Some(self.id.to_string()),
            status,
            started_at: Some(self.started_at),
            finished_at: self.finished_at,
            counts: RunCounts::FullRefresh(counts.clone()).to_map().ok()?,
            initiated_by: Some(self.initiated_by),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_data_source_refresh_reports_what_a_platform_would() {
        let started: DateTime<Utc> = "2026-01-02T03:04:05Z".parse().expect("a time");
        let finished = started + chrono::Duration::seconds(2);
        let crm = ItemId::parse("crm").expect("an id");
        let running =
            Refresh::data_source(InstanceId::new(), crm.clone(), InitiatedBy::Manual, started);
        assert_eq!(
            running.report(None),
            None,
            "a running refresh reports nothing"
        );

        let done = running.clone().succeeded(3, finished);
        let Some(Report::DataSourceRefresh(report)) = done.report(Some("CRM".into())) else {
            panic!("a data source refresh reports a refresh");
        };
        assert_eq!(report.data_source_id, crm);
        assert_eq!(report.refresh_id, Some(done.id.to_string()));
        assert_eq!(
            (
                report.status,
                report.row_count,
                report.started_at,
                report.finished_at
            ),
            (RunStatus::Succeeded, Some(3), Some(started), Some(finished))
        );

        let cut = running.interrupted(finished);
        let Some(Report::DataSourceRefresh(report)) = cut.report(None) else {
            panic!("an interrupted refresh reports a failure");
        };
        assert_eq!(report.status, RunStatus::Failed);
        assert_eq!(report.error_code.as_deref(), Some(INTERRUPTED));
    }

    #[test]
    fn a_refresh_is_stored_as_this_json() {
        let at: DateTime<Utc> = "2026-01-02T03:04:05Z".parse().expect("a time");
        let refresh = Refresh {
            id: RefreshId(uuid::Uuid::from_u128(1)),
            instance_id: InstanceId(uuid::Uuid::from_u128(2)),
            kind: RefreshKind::DataSource,
            initiated_by: InitiatedBy::Manual,
            status: RefreshStatus::Failed,
            started_at: at,
            finished_at: Some(at),
            data_source_id: Some(ItemId::parse("crm").expect("an id")),
            row_count: None,
            error_code: Some("ragged_row".into()),
            error_message: Some("Line 3: ...".into()),
        };
        let json = serde_json::to_value(&refresh).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({
                "id": "00000000-0000-0000-0000-000000000001",
                "instanceId": "00000000-0000-0000-0000-000000000002",
                "kind": "dataSource", "initiatedBy": "manual", "status": "failed",
                "startedAt": "2026-01-02T03:04:05Z", "finishedAt": "2026-01-02T03:04:05Z",
                "dataSourceId": "crm", "rowCount": null,
                "errorCode": "ragged_row", "errorMessage": "Line 3: ...",
            })
        );
        let back: Refresh = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, refresh);
    }
}
