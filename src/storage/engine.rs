//! The engine's records: data source definitions (each also a catalog item, so flows can
//! subscribe to it at once), refresh records, and the per-instance refresh lock. A finished
//! refresh is recorded in the same atomic write as the report it makes (catalog, event and
//! outbox), so a refresh is never `succeeded` without its event, nor its event sent twice.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::db::{Db, T, WriteSet};
use super::reports::apply;
use super::{ReportOutcome, Result, StorageError, Store, keys};
use crate::domain::data_source::Definition;
use crate::domain::{
    CatalogItem, CatalogKind, DataSource, InstanceId, ItemId, Refresh, RefreshId, RefreshStatus,
    Report,
};

/// Finished refresh records kept per instance; older ones are removed as new ones finish.
pub const REFRESHES_KEPT: usize = 1000;

/// What defining a data source did.
#[derive(Debug, Clone, PartialEq)]
pub enum Defined {
    Created(DataSource),
    Replaced(DataSource),
    /// `customer.dataSourceId` names no other data source of the instance: nothing was stored.
    UnknownCustomerSource,
}

impl Store {
    /// Stores the definition of data source `id` and adds it to the catalog (or renames the
    /// catalog item a report made), in one durable write.
    pub async fn define_data_source(
        &self,
        instance: InstanceId,
        id: ItemId,
        definition: Definition,
        now: DateTime<Utc>,
    ) -> Result<Defined> {
        self.write(move |db| {
            if let Some(customer) = &definition.customer {
                let key = keys::data_source(instance, &customer.data_source_id);
                let itself = customer.data_source_id == id;
                if itself || db.get(T::InstanceDatasourceidDatasource, &key)?.is_none() {
                    return Ok(Defined::UnknownCustomerSource);
                }
            }
            let key = keys::data_source(instance, &id);
            let known: Option<DataSource> = db.get_json(T::InstanceDatasourceidDatasource, &key)?;
            let name = definition.name.clone();
            let source = definition.into_data_source(instance, id.clone(), known.as_ref(), now);
            let catalog_key = keys::catalog_item(instance, CatalogKind::DataSource, &id);
            let item = CatalogItem::observed(
                db.get_json(T::CatalogkeyItem, &catalog_key)?,
                CatalogKind::DataSource,
                &id,
                Some(name),
                now,
            );
            let mut set = WriteSet::default();
            set.put_json(T::InstanceDatasourceidDatasource, key, &source)?;
            set.put_json(T::CatalogkeyItem, catalog_key, &item)?;
            db.commit(set)?;
            Ok(match known {
                None => Defined::Created(source),
                Some(_) => Defined::Replaced(source),
            })
        })
        .await
    }

    pub fn data_source(&self, instance: InstanceId, id: &ItemId) -> Result<Option<DataSource>> {
        self.db()?.get_json(
            T::InstanceDatasourceidDatasource,
            &keys::data_source(instance, id),
        )
    }

    /// Every data source defined in the instance, by id.
    pub fn data_sources(&self, instance: InstanceId) -> Result<Vec<DataSource>> {
        self.db()?
            .scan_json(T::InstanceDatasourceidDatasource, instance.as_bytes())
    }

    /// Records a refresh that starts now and takes the instance's refresh lock: refused with
    /// [`StorageError::RefreshInProgress`] while another refresh holds it.
    pub async fn start_refresh(&self, refresh: Refresh) -> Result<Refresh> {
        self.write(move |db| {
            let lock = refresh.instance_id.as_bytes();
            if let Some(running) = db.get(T::InstanceRunningrefreshid, lock)? {
                return Err(StorageError::RefreshInProgress {
                    running: refresh_id(&running)?,
                });
            }
            let mut set = WriteSet::default();
            set.put_json(
                T::InstanceRefreshidRefresh,
                keys::refresh(refresh.instance_id, refresh.id),
                &refresh,
            )?;
            set.put(
                T::InstanceRunningrefreshid,
                lock.to_vec(),
                refresh.id.as_bytes().to_vec(),
            );
            db.commit(set)?;
            Ok(refresh)
        })
        .await
    }

    /// Records a refresh that runs as a stage of `holder`, which holds the instance's refresh
    /// lock (a data source refresh of a full refresh): refused with
    /// [`StorageError::RefreshInProgress`] when another refresh holds the lock or none does.
    pub async fn start_refresh_under(
        &self,
        refresh: Refresh,
        holder: RefreshId,
    ) -> Result<Refresh> {
        self.write(move |db| {
            let lock = refresh.instance_id.as_bytes();
            let running = match db.get(T::InstanceRunningrefreshid, lock)? {
                Some(running) => refresh_id(&running)?,
                None => return Err(StorageError::Bug("a stage started without its refresh")),
            };
            if running != holder {
                return Err(StorageError::RefreshInProgress { running });
            }
            db.commit({
                let mut set = WriteSet::default();
                set.put_json(
                    T::InstanceRefreshidRefresh,
                    keys::refresh(refresh.instance_id, refresh.id),
                    &refresh,
                )?;
                set
            })?;
            Ok(refresh)
        })
        .await
    }

    /// Records how a refresh ended, with the report it makes (catalog, event and outbox), in
    /// one durable write, and releases the instance's refresh lock if this refresh holds it.
    /// Answers the events and deliveries the report caused.
    pub async fn finish_refresh(
        &self,
        refresh: Refresh,
        report: Option<Report>,
        now: DateTime<Utc>,
    ) -> Result<ReportOutcome> {
        let caches = Arc::clone(&self.caches);
        self.write(move |db| {
            let instance = refresh.instance_id;
            let mut set = WriteSet::default();
            set.put_json(
                T::InstanceRefreshidRefresh,
                keys::refresh(instance, refresh.id),
                &refresh,
            )?;
            let lock = instance.as_bytes();
            if let Some(running) = db.get(T::InstanceRunningrefreshid, lock)?
                && refresh_id(&running)? == refresh.id
            {
                set.remove(T::InstanceRunningrefreshid, lock.to_vec());
            }
            prune_refreshes(db, &mut set, instance, refresh.id)?;
            let outcome = match report {
                Some(report) => apply(db, &caches, &mut set, instance, report, now)?,
                None => ReportOutcome {
                    event_ids: Vec::new(),
                    new_events: 0,
                    deliveries: Vec::new(),
                },
            };
            db.commit(set)?;
            for id in &outcome.event_ids {
                caches.events.invalidate(id);
                caches.fanouts.invalidate(id);
            }
            Ok(outcome)
        })
        .await
    }

    pub fn refresh(&self, instance: InstanceId, id: RefreshId) -> Result<Option<Refresh>> {
        self.db()?
            .get_json(T::InstanceRefreshidRefresh, &keys::refresh(instance, id))
    }

    /// The instance's refreshes, newest first.
    pub fn refreshes(&self, instance: InstanceId) -> Result<Vec<Refresh>> {
        let mut refreshes: Vec<Refresh> = self
            .db()?
            .scan_json(T::InstanceRefreshidRefresh, instance.as_bytes())?;
        refreshes.reverse();
        Ok(refreshes)
    }

    /// Every refresh of every instance still recorded as running: at start, those a stopped
    /// process left.
    pub fn running_refreshes(&self) -> Result<Vec<Refresh>> {
        let all: Vec<Refresh> = self.db()?.scan_json(T::InstanceRefreshidRefresh, &[])?;
        Ok(all
            .into_iter()
            .filter(|r| r.status == RefreshStatus::Running)
            .collect())
    }
}

fn refresh_id(bytes: &[u8]) -> Result<RefreshId> {
    let bytes: [u8; 16] = bytes.try_into().map_err(|_| StorageError::Corrupt {
        tree: T::InstanceRunningrefreshid.name(),
        detail: "a lock that is not a refresh id".into(),
    })?;
    Ok(RefreshId(uuid::Uuid::from_bytes(bytes)))
}

/// Stages the removal of the instance's oldest finished refreshes past [`REFRESHES_KEPT`]
/// (`finishing` counts as finished).
fn prune_refreshes(
    db: &Db,
    set: &mut WriteSet,
    instance: InstanceId,
    finishing: RefreshId,
) -> Result<()> {
    let keys = db.scan_keys(T::InstanceRefreshidRefresh, instance.as_bytes())?;
    let Some(excess) = keys.len().checked_sub(REFRESHES_KEPT).filter(|n| *n > 0) else {
        return Ok(());
    };
    let mut removed = 0;
    for key in keys {
        if removed == excess {
            break;
        }
        let Some(refresh): Option<Refresh> = db.get_json(T::InstanceRefreshidRefresh, &key)? else {
            continue;
        };
        if refresh.status != RefreshStatus::Running || refresh.id == finishing {
            set.remove(T::InstanceRefreshidRefresh, key.to_vec());
            removed += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{InitiatedBy, SourceFormat, data_source::Source};

    fn definition(name: &str) -> Definition {
        Definition {
            name: name.into(),
            format: SourceFormat::Csv,
            primary_key: "id".into(),
            source: Source::Upload,
            customer: None,
        }
    }

    #[tokio::test]
    async fn a_defined_data_source_is_in_the_catalog_and_keeps_its_creation_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let instance = InstanceId::new();
        let crm = ItemId::parse("crm").unwrap();
        let first: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let later = first + chrono::Duration::hours(1);
        let Defined::Created(created) = store
            .define_data_source(instance, crm.clone(), definition("CRM"), first)
            .await
            .unwrap()
        else {
            panic!("a new data source is created");
        };
        let item = store
            .catalog_item(instance, CatalogKind::DataSource, &crm)
            .unwrap()
            .expect("in the catalog at once");
        assert_eq!(item.name, "CRM");
        let Defined::Replaced(replaced) = store
            .define_data_source(instance, crm.clone(), definition("Contacts"), later)
            .await
            .unwrap()
        else {
            panic!("a second definition replaces the first");
        };
        assert_eq!(replaced.created_at, created.created_at);
        assert_eq!(replaced.updated_at, later);
        assert_eq!(store.data_sources(instance).unwrap(), vec![replaced]);
        store.close().await.unwrap();
    }

    #[tokio::test]
    async fn one_refresh_holds_the_lock_until_it_finishes_and_stages_run_under_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let instance = InstanceId::new();
        let now = Utc::now();
        let crm = ItemId::parse("crm").unwrap();
        let refresh =
            |id: &ItemId| Refresh::data_source(instance, id.clone(), InitiatedBy::Manual, now);
        let first = store.start_refresh(refresh(&crm)).await.unwrap();
        let refused = store.start_refresh(refresh(&crm)).await;
        assert!(
            matches!(refused, Err(StorageError::RefreshInProgress { running }) if running == first.id),
            "{refused:?}"
        );
        let stage = store
            .start_refresh_under(refresh(&crm), first.id)
            .await
            .expect("a stage runs under the lock holder");
        let stranger = store.start_refresh_under(refresh(&crm), stage.id).await;
        assert!(matches!(
            stranger,
            Err(StorageError::RefreshInProgress { .. })
        ));
        assert_eq!(store.running_refreshes().unwrap().len(), 2);

        store
            .finish_refresh(stage.clone().succeeded(1, now), None, now)
            .await
            .unwrap();
        assert!(
            store.start_refresh(refresh(&crm)).await.is_err(),
            "a finished stage does not release its holder's lock"
        );
        store
            .finish_refresh(first.clone().succeeded(1, now), None, now)
            .await
            .unwrap();
        let next = store.start_refresh(refresh(&crm)).await.unwrap();
        let listed: Vec<RefreshId> = store
            .refreshes(instance)
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(listed, vec![next.id, stage.id, first.id], "newest first");
        store.close().await.unwrap();
    }

    #[tokio::test]
    async fn finished_refreshes_past_the_limit_are_pruned_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let instance = InstanceId::new();
        let now = Utc::now();
        let crm = ItemId::parse("crm").unwrap();
        let mut first = None;
        for _ in 0..=REFRESHES_KEPT {
            let refresh = store
                .start_refresh(Refresh::data_source(
                    instance,
                    crm.clone(),
                    InitiatedBy::Manual,
                    now,
                ))
                .await
                .unwrap();
            first.get_or_insert(refresh.id);
            store
                .finish_refresh(refresh.succeeded(0, now), None, now)
                .await
                .unwrap();
        }
        let kept = store.refreshes(instance).unwrap();
        assert_eq!(kept.len(), REFRESHES_KEPT);
        assert!(kept.iter().all(|r| Some(r.id) != first), "the oldest went");
        store.close().await.unwrap();
    }
}
