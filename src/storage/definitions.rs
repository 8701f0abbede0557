//! The engine's definitions beside data sources: an instance's unification, its measures and
//! segments (each also a catalog item when flows can watch it, so they can subscribe at once),
//! and its schedule with the due time of the last run it started. Stored as the JSON the
//! operator sent, checked by the engine before they get here.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::db::{Db, T, WriteSet};
use super::{Result, Store, keys};
use crate::domain::{CatalogItem, CatalogKind, InstanceId, ItemId};
use crate::engine::measures::MeasureDefinition;
use crate::engine::schedule::ScheduleDefinition;
use crate::engine::segments::SegmentDefinition;
use crate::engine::unify::UnificationDefinition;

/// A stored definition: what the operator sent, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stored<D> {
    /// The measure's or segment's id; absent for the instance's unification and schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<ItemId>,
    pub definition: D,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The schedule and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredSchedule {
    pub definition: ScheduleDefinition,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The due time of the last run the schedule started, or when it was set if none ran
    /// yet: a run due after it and before now was missed (`Schedule::at_start`).
    pub since: DateTime<Utc>,
}

/// Whether a definition was new or replaced one.
#[derive(Debug, Clone, PartialEq)]
pub enum Set<D> {
    Created(D),
    Replaced(D),
}

impl<D> Set<D> {
    pub fn into_inner(self) -> D {
        match self {
            Set::Created(d) | Set::Replaced(d) => d,
        }
    }
}

/// What a measure's or segment's catalog item is: flows watch segments and business
/// measures; customer measures have no single value to watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watched {
    Segment,
    BusinessMeasure,
    CustomerMeasure,
}

fn stage<D: Serialize + DeserializeOwned>(
    db: &Db,
    set: &mut WriteSet,
    tree: T,
    key: Vec<u8>,
    id: Option<ItemId>,
    definition: D,
    now: DateTime<Utc>,
) -> Result<Set<Stored<D>>> {
    let known: Option<Stored<serde_json::Value>> = db.get_json(tree, &key)?;
    let stored = Stored {
        id,
        definition,
        created_at: known.as_ref().map_or(now, |k| k.created_at),
        updated_at: now,
    };
    set.put_json(tree, key, &stored)?;
    Ok(match known {
        None => Set::Created(stored),
        Some(_) => Set::Replaced(stored),
    })
}

impl Store {
    /// Stores the instance's unification, replacing any.
    pub async fn set_unification(
        &self,
        instance: InstanceId,
        definition: UnificationDefinition,
        now: DateTime<Utc>,
    ) -> Result<Set<Stored<UnificationDefinition>>> {
        self.write(move |db| {
            let mut set = WriteSet::default();
            let key = instance.as_bytes().to_vec();
            let outcome = stage(
                db,
                &mut set,
                T::InstanceUnification,
                key,
                None,
                definition,
                now,
            )?;
            db.commit(set)?;
            Ok(outcome)
        })
        .await
    }

    pub fn unification(
        &self,
        instance: InstanceId,
    ) -> Result<Option<Stored<UnificationDefinition>>> {
        self.db()?
            .get_json(T::InstanceUnification, instance.as_bytes())
    }

    /// Stores measure `id` and, when flows can watch it, its catalog item (named by it), in
    /// one durable write.
    pub async fn define_measure(
        &self,
        instance: InstanceId,
        id: ItemId,
        definition: MeasureDefinition,
        watched: Watched,
        now: DateTime<Utc>,
    ) -> Result<Set<Stored<MeasureDefinition>>> {
        self.write(move |db| {
            let mut set = WriteSet::default();
            let name = definition.name.clone();
            let key = keys::instance_item(instance, &id);
            let outcome = stage(
                db,
                &mut set,
                T::InstanceMeasureidMeasure,
                key,
                Some(id.clone()),
                definition,
                now,
            )?;
            if watched != Watched::CustomerMeasure {
                stage_catalog(db, &mut set, instance, CatalogKind::Measure, &id, name, now)?;
            }
            db.commit(set)?;
            Ok(outcome)
        })
        .await
    }

    /// Every measure of the instance, by id.
    pub fn measures(&self, instance: InstanceId) -> Result<Vec<Stored<MeasureDefinition>>> {
        self.db()?
            .scan_json(T::InstanceMeasureidMeasure, instance.as_bytes())
    }

    /// Stores segment `id` and its catalog item, in one durable write.
    pub async fn define_segment(
        &self,
        instance: InstanceId,
        id: ItemId,
        definition: SegmentDefinition,
        now: DateTime<Utc>,
    ) -> Result<Set<Stored<SegmentDefinition>>> {
        self.write(move |db| {
            let mut set = WriteSet::default();
            let name = definition.name.clone();
            let key = keys::instance_item(instance, &id);
            let outcome = stage(
                db,
                &mut set,
                T::InstanceSegmentidSegment,
                key,
                Some(id.clone()),
                definition,
                now,
            )?;
            stage_catalog(db, &mut set, instance, CatalogKind::Segment, &id, name, now)?;
            db.commit(set)?;
            Ok(outcome)
        })
        .await
    }

    pub fn segment(
        &self,
        instance: InstanceId,
        id: &ItemId,
    ) -> Result<Option<Stored<SegmentDefinition>>> {
        self.db()?.get_json(
            T::InstanceSegmentidSegment,
            &keys::instance_item(instance, id),
        )
    }

    /// Every segment of the instance, by id.
    pub fn segments(&self, instance: InstanceId) -> Result<Vec<Stored<SegmentDefinition>>> {
        self.db()?
            .scan_json(T::InstanceSegmentidSegment, instance.as_bytes())
    }

    /// Stores the instance's schedule, replacing any; runs missed are counted from `now`.
    pub async fn set_schedule(
        &self,
        instance: InstanceId,
        definition: ScheduleDefinition,
        now: DateTime<Utc>,
    ) -> Result<Set<StoredSchedule>> {
        self.write(move |db| {
            let key = instance.as_bytes();
            let known: Option<StoredSchedule> = db.get_json(T::InstanceSchedule, key)?;
            let stored = StoredSchedule {
                definition,
                created_at: known.as_ref().map_or(now, |k| k.created_at),
                updated_at: now,
                since: now,
            };
            let mut set = WriteSet::default();
            set.put_json(T::InstanceSchedule, key.to_vec(), &stored)?;
            db.commit(set)?;
            Ok(match known {
                None => Set::Created(stored),
                Some(_) => Set::Replaced(stored),
            })
        })
        .await
    }

    pub fn schedule(&self, instance: InstanceId) -> Result<Option<StoredSchedule>> {
        self.db()?
            .get_json(T::InstanceSchedule, instance.as_bytes())
    }

    /// Removes the instance's schedule; answers whether there was one.
    pub async fn delete_schedule(&self, instance: InstanceId) -> Result<bool> {
        self.write(move |db| {
            let key = instance.as_bytes();
            let known = db.get(T::InstanceSchedule, key)?.is_some();
            let mut set = WriteSet::default();
            set.remove(T::InstanceSchedule, key.to_vec());
            db.commit(set)?;
            Ok(known)
        })
        .await
    }

    /// Every instance's schedule.
    pub fn schedules(&self) -> Result<Vec<(InstanceId, StoredSchedule)>> {
        let db = self.db()?;
        let mut all = Vec::new();
        for entry in db.tree(T::InstanceSchedule).iter() {
            let (key, value) = entry?;
            let bytes: [u8; 16] =
                key.as_ref()
                    .try_into()
                    .map_err(|_| super::StorageError::Corrupt {
                        tree: T::InstanceSchedule.name(),
                        detail: "a key that is not an instance id".into(),
                    })?;
            let schedule = super::db::decode(T::InstanceSchedule, &value)?;
            all.push((InstanceId(uuid::Uuid::from_bytes(bytes)), schedule));
        }
        Ok(all)
    }

    /// Records that the schedule started the run due at `due`, unless the schedule was
    /// replaced or removed since `expected` was read (its `updatedAt` differs).
    pub async fn schedule_started(
        &self,
        instance: InstanceId,
        expected: DateTime<Utc>,
        due: DateTime<Utc>,
    ) -> Result<()> {
        self.write(move |db| {
            let key = instance.as_bytes();
            let Some(mut stored): Option<StoredSchedule> = db.get_json(T::InstanceSchedule, key)?
            else {
                return Ok(());
            };
            if stored.updated_at != expected {
                return Ok(());
            }
            stored.since = due;
            let mut set = WriteSet::default();
            set.put_json(T::InstanceSchedule, key.to_vec(), &stored)?;
            db.commit(set)
        })
        .await
    }
}

/// Stages the catalog item of a definition: a new one, or the known one (a report may have
/// made it) renamed.
fn stage_catalog(
    db: &Db,
    set: &mut WriteSet,
    instance: InstanceId,
    kind: CatalogKind,
    id: &ItemId,
    name: String,
    now: DateTime<Utc>,
) -> Result<()> {
    let key = keys::catalog_item(instance, kind, id);
    let item = CatalogItem::observed(
        db.get_json(T::CatalogkeyItem, &key)?,
        kind,
        id,
        Some(name),
        now,
    );
    set.put_json(T::CatalogkeyItem, key, &item)
}
