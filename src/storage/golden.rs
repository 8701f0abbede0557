//! Pins the stored formats: a data dir written by the first release (fixture in
//! `tests/fixtures/stored/v1/`) opens with today's code and every record means what it meant;
//! dedup keys and fingerprints computed now match the stored ones; and the binary records of
//! this release encode to fixed bytes.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::codec::{Fanout, Progress, StoredState, Target, TenantCounts};
use super::db::T;
use super::*;
use crate::domain::report::RefreshReport;
use crate::domain::{
    AttemptError, AttemptRecord, CatalogKind, DeliveryId, DeliveryState, DeliveryStatus,
    FailureReason, InstanceId, ItemId, Report, RunStatus, SubscriptionId, TenantId,
};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/stored/v1");

fn manifest() -> Value {
    let text = std::fs::read_to_string(format!("{FIXTURE}/manifest.json")).expect("the fixture");
    serde_json::from_str(&text).expect("the manifest is JSON")
}

/// A copy of the first release's data dir, which tests may change.
fn first_release_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    copy_dir(&Path::new(FIXTURE).join("data"), dir.path());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("the target dir");
    for entry in std::fs::read_dir(from).expect("the fixture dir") {
        let entry = entry.expect("an entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("a copy");
        }
    }
}

fn uuid(value: &Value) -> uuid::Uuid {
    value.as_str().expect("an id").parse().expect("a uuid")
}

#[tokio::test]
async fn a_first_release_data_dir_opens_with_every_record_intact() {
    let dir = first_release_dir();
    let store = Store::open(dir.path()).expect("the old data dir opens");
    let manifest = manifest();
    let tenant = TenantId::parse("tenant-a").unwrap();
    let instance = InstanceId(uuid(&manifest["instance"]));

    let instances = store.instances(&tenant).unwrap();
    assert_eq!(instances.len(), 1);
    assert_eq!(
        (instances[0].id, instances[0].name.as_str()),
        (instance, "Golden")
    );

    // Subscriptions, as listed then, and their dedup keys as stored then.
    let listed = store.subscriptions(instance).unwrap();
    let expected: Vec<_> = manifest["listedSubscriptions"]["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| SubscriptionId(uuid(&s["id"])))
        .collect();
    assert_eq!(listed.iter().map(|s| s.id).collect::<Vec<_>>(), expected);
    let db = store.db().unwrap();
    for sub in &listed {
        let stored = db
            .get(
                T::DedupkeySubscriptionid,
                &subscriptions::dedup_key(sub).unwrap(),
            )
            .unwrap();
        assert_eq!(
            stored.as_deref(),
            Some(&sub.id.as_bytes()[..]),
            "dedup key of {:?}",
            sub.filter
        );
        let secret = manifest["subscriptions"]
            .as_object()
            .unwrap()
            .values()
            .find(|s| uuid(&s["id"]) == sub.id.0)
            .map(|s| s["signingSecret"].as_str().unwrap().to_owned());
        assert_eq!(
            sub.signing_secret.as_ref().map(|s| s.expose().to_owned()),
            secret
        );
    }
    let vip = listed
        .iter()
        .find(|s| s.threshold().is_some_and(|t| t.value() == 100.0))
        .expect("the segment subscription");
    assert_eq!(vip.baseline, Some(90.0), "its baseline");

    // The catalog.
    let item = |kind, id: &str| {
        store
            .catalog_item(instance, kind, &ItemId::parse(id).unwrap())
            .unwrap()
            .expect("a catalog item")
    };
    assert_eq!(item(CatalogKind::Segment, "vip").value, Some(120.0));
    assert_eq!(item(CatalogKind::Measure, "revenue").value, Some(500.5));
    let crm = item(CatalogKind::DataSource, "crm");
    assert_eq!(crm.last_refresh.map(|r| r.status), Some(RunStatus::Failed));

    // The idempotency record, and its fingerprint computed from explicit fields.
    let body = &manifest["idempotency"]["body"];
    let report = Report::DataSourceRefresh(RefreshReport {
        data_source_id: ItemId::parse("crm").unwrap(),
        data_source_name: None,
        refresh_id: None,
        status: RunStatus::Failed,
        started_at: body["startedAt"].as_str().map(|t| t.parse().unwrap()),
        finished_at: body["finishedAt"].as_str().map(|t| t.parse().unwrap()),
        row_count: None,
        error_code: body["error"]["code"].as_str().map(str::to_owned),
        error_message: body["error"]["message"].as_str().map(str::to_owned),
    });
    let key = IdempotencyKey {
        tenant: tenant.clone(),
        instance,
        route: "data-source-refresh",
        key: "golden-refresh-1".into(),
    };
    let replay = store
        .record_report(instance, report.clone(), Some(key), Utc::now())
        .await
        .expect("the stored key answers");
    assert_eq!(replay.new_events, 0);
    assert_eq!(
        replay.event_ids.iter().map(|e| e.0).collect::<Vec<_>>(),
        vec![uuid(&manifest["idempotency"]["answer"]["eventIds"][0])]
    );
    let stored: reports::StoredOutcome = db
        .get_json(
            T::IdempotencykeyOutcome,
            &IdempotencyKey {
                tenant: tenant.clone(),
                instance,
                route: "data-source-refresh",
                key: "golden-refresh-1".into(),
            }
            .storage_key(),
        )
        .unwrap()
        .unwrap();
    assert_eq!(reports::fingerprint(&report), stored.fingerprint);

    // Deliveries, as listed then: ids, statuses, failures and attempts.
    let page = store
        .deliveries(
            instance,
            &DeliveryQuery {
                status: None,
                subscription: None,
                after: None,
                limit: 100,
            },
        )
        .unwrap();
    let mut now: Vec<Value> = page
        .deliveries
        .iter()
        .map(|d| serde_json::json!({
            "id": d.id.to_string(), "subscriptionId": d.subscription_id.to_string(),
            "eventId": d.event_id.to_string(), "status": d.status.as_str(),
            "failure": d.failure.map(|f| f.as_str()),
            "attempts": d.attempts.iter().map(|a| serde_json::json!({
                "at": a.at, "statusCode": a.status_code, "error": a.error, "durationMs": a.duration_ms,
            })).collect::<Vec<_>>(),
        }))
        .collect();
    let mut then: Vec<Value> = manifest["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            serde_json::json!({
                "id": d["id"], "subscriptionId": d["subscriptionId"], "eventId": d["eventId"],
                "status": d["status"], "failure": d.get("failure").cloned().unwrap_or(Value::Null),
                "attempts": d["attempts"],
            })
        })
        .collect();
    let by_id = |v: &Value| v["id"].as_str().unwrap().to_owned();
    now.sort_by_key(by_id);
    then.sort_by_key(by_id);
    assert_eq!(now, then);

    // The pending one is queued again, at its due time.
    let pending = store.pending_deliveries().unwrap();
    let listed_pending = manifest["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["status"] == "pending")
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].id.0, uuid(&listed_pending["id"]));
    let due: DateTime<Utc> = listed_pending["nextAttemptAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(pending[0].due_ms, due.timestamp_millis());
    let context = store
        .attempt_context(pending[0].id)
        .unwrap()
        .expect("the attempt context");
    assert!(context.subscription.is_some());
    assert_eq!(context.state.attempts.len(), 1);

    // Per-tenant counts, made by the migration.
    let counts = subscriptions::tenant_counts(&db, &tenant).unwrap();
    assert_eq!(
        counts,
        TenantCounts {
            subscriptions: 6,
            idempotency_keys: 1,
            failed_deliveries: 1
        }
    );

    // API keys and the unsubscribe key.
    let keys = store.api_keys().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].tenant, tenant);
    let records: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{FIXTURE}/records.json")).unwrap())
            .unwrap();
    let unsubscribe_key = records["name_value"][0]["value"]["hex"].as_str().unwrap();
    let hex: String = store
        .unsubscribe_key()
        .await
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(hex, unsubscribe_key);
    assert_eq!(migrate::format(&db).unwrap(), Some(migrate::FORMAT));
    drop(db);
    store.close().await.unwrap();

    // Opening again migrates nothing twice.
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.pending_deliveries().unwrap().len(), 1);
    let counts = subscriptions::tenant_counts(&store.db().unwrap(), &tenant).unwrap();
    assert_eq!(counts.subscriptions, 6);
    store.close().await.unwrap();
}

#[test]
fn the_binary_records_of_this_release_encode_to_fixed_bytes() {
    let at = |ms| DateTime::<Utc>::from_timestamp_millis(ms).unwrap();
    let fanout = Fanout {
        instance_id: InstanceId(uuid::Uuid::from_u128(1)),
        tenant: TenantId::parse("t").unwrap(),
        created_ns: 1_700_000_000_000_000_000,
        targets: vec![
            Target {
                subscription_id: SubscriptionId(uuid::Uuid::from_u128(2)),
                host: "h:1".into(),
                legacy_id: None,
            },
            Target {
                subscription_id: SubscriptionId(uuid::Uuid::from_u128(3)),
                host: "h:2".into(),
                legacy_id: Some(DeliveryId(uuid::Uuid::from_u128(4))),
            },
        ],
    };
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    assert_eq!(
        hex(&fanout.encode().unwrap()),
        concat!(
            "01",
            "00000000000000000000000000000001",
            "000174",
            "17979cfe362a0000",
            "00000002",
            "00000000000000000000000000000002",
            "0003683a31",
            "00",
            "00000000000000000000000000000003",
            "0003683a32",
            "01",
            "00000000000000000000000000000004",
        )
    );
    assert_eq!(Fanout::decode(&fanout.encode().unwrap()).unwrap(), fanout);

    let state = StoredState::Live(DeliveryState {
        status: DeliveryStatus::Failed,
        due_ms: None,
        retries_used: 2,
        failure: Some(FailureReason::RetriesExhausted),
        attempts: vec![AttemptRecord {
            at: at(1_000),
            status_code: None,
            error: Some(AttemptError::Timeout),
            duration_ms: 15_000,
        }],
    });
    assert_eq!(
        hex(&state.encode().unwrap()),
        concat!(
            "01",
            "02",
            "8000000000000000",
            "00000002",
            "02",
            "0001",
            "000000003b9aca00",
            "0000",
            "01",
            "0000000000003a98"
        )
    );
    assert_eq!(
        StoredState::decode(&state.encode().unwrap()).unwrap(),
        state
    );
    assert_eq!(hex(&StoredState::Pruned.encode().unwrap()), "0103");
    assert_eq!(
        hex(&Progress {
            open: 3,
            done_ms: None
        }
        .encode()),
        "000000038000000000000000"
    );
    assert_eq!(
        hex(&TenantCounts {
            subscriptions: 1,
            idempotency_keys: 2,
            failed_deliveries: 3
        }
        .encode()),
        "000000000000000100000000000000020000000000000003"
    );
}

/// The engine's records as this release stores them, keys and values: a data dir written now
/// must read the same after an upgrade.
#[tokio::test]
async fn the_engine_records_of_this_release_are_stored_as_this_json() {
    use crate::domain::data_source::{Definition, Source};
    use crate::domain::{InitiatedBy, Refresh, RefreshId, SourceFormat};

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let instance = InstanceId(uuid::Uuid::from_u128(0x11));
    let crm = ItemId::parse("crm").unwrap();
    let at: DateTime<Utc> = "2026-01-02T03:04:05Z".parse().unwrap();
    let definition = Definition {
        name: "CRM".into(),
        format: SourceFormat::Csv,
        primary_key: "ContactId".into(),
        source: Source::Upload,
        customer: None,
    };
    store
        .define_data_source(instance, crm.clone(), definition, at)
        .await
        .unwrap();
    let mut refresh = Refresh::data_source(instance, crm.clone(), InitiatedBy::Manual, at);
    refresh.id = RefreshId(uuid::Uuid::from_u128(0x22));
    let refresh = store.start_refresh(refresh).await.unwrap();
    let db = store.db().unwrap();
    let raw = |tree: T, key: Vec<u8>| {
        let bytes = db.get(tree, &key).unwrap().expect("a stored record");
        String::from_utf8(bytes.to_vec()).unwrap()
    };
    let mut data_source_key = instance.as_bytes().to_vec();
    data_source_key.extend_from_slice(b"crm");
    assert_eq!(
        raw(T::InstanceDatasourceidDatasource, data_source_key),
        concat!(
            r#"{"instanceId":"00000000-0000-0000-0000-000000000011","id":"crm","name":"CRM","#,
            r#""format":"csv","primaryKey":"ContactId","source":{"kind":"upload"},"customer":null,"#,
            r#""createdAt":"2026-01-02T03:04:05Z","updatedAt":"2026-01-02T03:04:05Z"}"#
        )
    );
    let mut refresh_key = instance.as_bytes().to_vec();
    refresh_key.extend_from_slice(refresh.id.as_bytes());
    assert_eq!(
        raw(T::InstanceRefreshidRefresh, refresh_key.clone()),
        concat!(
            r#"{"id":"00000000-0000-0000-0000-000000000022","instanceId":"00000000-0000-0000-0000-000000000011","#,
            r#""kind":"dataSource","initiatedBy":"manual","status":"running","startedAt":"2026-01-02T03:04:05Z","#,
            r#""finishedAt":null,"dataSourceId":"crm","rowCount":null,"errorCode":null,"errorMessage":null}"#
        )
    );
    let lock = db
        .get(T::InstanceRunningrefreshid, instance.as_bytes())
        .unwrap()
        .expect("the lock");
    assert_eq!(lock.as_ref(), refresh.id.as_bytes());
    drop(db);
    store
        .finish_refresh(refresh.succeeded(3, at), None, at)
        .await
        .unwrap();
    let db = store.db().unwrap();
    assert!(
        db.get(T::InstanceRunningrefreshid, instance.as_bytes())
            .unwrap()
            .is_none()
    );
    drop(db);
    store.close().await.unwrap();
}

/// The engine's definitions as this release stores them: unification, measures, segments and
/// the schedule, keyed by instance (and id).
#[tokio::test]
async fn the_engine_definitions_of_this_release_are_stored_as_this_json() {
    use crate::engine::measures::MeasureDefinition;
    use crate::engine::schedule::ScheduleDefinition;
    use crate::engine::segments::SegmentDefinition;
    use crate::engine::unify::UnificationDefinition;
    use crate::storage::Watched;

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let instance = InstanceId(uuid::Uuid::from_u128(0x11));
    let at: DateTime<Utc> = "2026-01-02T03:04:05Z".parse().unwrap();
    let unification: UnificationDefinition = serde_json::from_value(serde_json::json!({
        "sources": [{"dataSourceId": "crm", "attributes": {"Name": "FullName", "Email": "Mail"}}],
        "rules": [{"name": "email", "conditions": [{"attribute": "Email", "normalize": ["trim", "lowercase"]}]}],
    }))
    .unwrap();
    store
        .set_unification(instance, unification, at)
        .await
        .unwrap();
    let measure: MeasureDefinition = serde_json::from_value(serde_json::json!({
        "name": "Revenue", "entity": "orders", "aggregate": "sum", "field": "Total",
    }))
    .unwrap();
    let revenue = ItemId::parse("revenue").unwrap();
    store
        .define_measure(
            instance,
            revenue.clone(),
            measure,
            Watched::BusinessMeasure,
            at,
        )
        .await
        .unwrap();
    let segment = SegmentDefinition {
        name: "Oslo".into(),
        filter: "City eq 'Oslo'".into(),
    };
    let oslo = ItemId::parse("oslo").unwrap();
    store
        .define_segment(instance, oslo.clone(), segment, at)
        .await
        .unwrap();
    let schedule = ScheduleDefinition {
        cron: "0 6 * * *".into(),
        time_zone: "Europe/Oslo".into(),
    };
    store.set_schedule(instance, schedule, at).await.unwrap();

    let db = store.db().unwrap();
    let raw = |tree: T, key: Vec<u8>| {
        let bytes = db.get(tree, &key).unwrap().expect("a stored record");
        String::from_utf8(bytes.to_vec()).unwrap()
    };
    let keyed = |id: &str| {
        let mut key = instance.as_bytes().to_vec();
        key.extend_from_slice(id.as_bytes());
        key
    };
    assert_eq!(
        raw(T::InstanceUnification, instance.as_bytes().to_vec()),
        concat!(
            r#"{"definition":{"sources":[{"dataSourceId":"crm","attributes":{"Name":"FullName","Email":"Mail"}}],"#,
            r#""rules":[{"name":"email","conditions":[{"attribute":"Email","normalize":["trim","lowercase"]}]}]},"#,
            r#""createdAt":"2026-01-02T03:04:05Z","updatedAt":"2026-01-02T03:04:05Z"}"#
        )
    );
    assert_eq!(
        raw(T::InstanceMeasureidMeasure, keyed("revenue")),
        concat!(
            r#"{"id":"revenue","definition":{"name":"Revenue","entity":"orders","aggregate":"sum","field":"Total"},"#,
            r#""createdAt":"2026-01-02T03:04:05Z","updatedAt":"2026-01-02T03:04:05Z"}"#
        )
    );
    assert_eq!(
        raw(T::InstanceSegmentidSegment, keyed("oslo")),
        concat!(
            r#"{"id":"oslo","definition":{"name":"Oslo","filter":"City eq 'Oslo'"},"#,
            r#""createdAt":"2026-01-02T03:04:05Z","updatedAt":"2026-01-02T03:04:05Z"}"#
        )
    );
    assert_eq!(
        raw(T::InstanceSchedule, instance.as_bytes().to_vec()),
        concat!(
            r#"{"definition":{"cron":"0 6 * * *","timeZone":"Europe/Oslo"},"#,
            r#""createdAt":"2026-01-02T03:04:05Z","updatedAt":"2026-01-02T03:04:05Z","since":"2026-01-02T03:04:05Z"}"#
        )
    );
    drop(db);
    // Both are in the catalog at once, named by their definitions.
    for (kind, id, name) in [
        (CatalogKind::Measure, &revenue, "Revenue"),
        (CatalogKind::Segment, &oslo, "Oslo"),
    ] {
        let item = store.catalog_item(instance, kind, id).unwrap().unwrap();
        assert_eq!((item.name.as_str(), item.value), (name, None));
    }
    store.close().await.unwrap();
}
