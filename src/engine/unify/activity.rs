//! Which profile each customer record joined, and the `CustomerId` column it gives activity
//! sources (orders, visits: rows that name a customer by a customer source's primary key).

use std::fmt::Write as _;
use std::sync::Arc;

use super::{CUSTOMER_ID, CustomerId, UnifyError};
use crate::domain::InstanceId;
use crate::engine::hashed::{HashKeyed, value_hash};
use crate::engine::items::{Entity, EntityName, ItemStore, ItemsError};
use crate::engine::schema::{Field, Schema};
use crate::engine::value::{FieldType, Row, ValueRef};

/// From a customer record (its data source and primary key) to its profile's id. Holds a
/// 128-bit hash and two 32-bit numbers per record, not the keys.
pub struct CustomerIndex {
    /// Per source of the unification, primary key hash to record number.
    sources: Vec<(EntityName, HashKeyed<u32>)>,
    record_group: Vec<u32>,
    ids: Vec<u128>,
}

/// How an activity source names its customers (`SetDataSource`'s `customer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityLink {
    /// The customer source whose primary key the field holds.
    pub customer_source: EntityName,
    /// The activity's field holding it.
    pub field: String,
}

impl CustomerIndex {
    pub(super) fn new(
        sources: Vec<(EntityName, HashKeyed<u32>)>,
        record_group: Vec<u32>,
        ids: Vec<u128>,
    ) -> CustomerIndex {
        CustomerIndex {
            sources,
            record_group,
            ids,
        }
    }

    /// Whether `source` is one of the unification's sources.
    pub fn is_unified(&self, source: &EntityName) -> bool {
        self.keys_of(source).is_some()
    }

    fn keys_of(&self, source: &EntityName) -> Option<&HashKeyed<u32>> {
        self.sources
            .iter()
            .find(|(name, _)| name == source)
            .map(|(_, keys)| keys)
    }

    fn lookup(
        &self,
        keys: &HashKeyed<u32>,
        scratch: &mut Vec<u8>,
        key: ValueRef<'_>,
    ) -> Option<CustomerId> {
        if key.is_null() {
            return None;
        }
        let record = *keys.get(&value_hash(scratch, key))?;
        let group = *self.record_group.get(record as usize)?;
        self.ids.get(group as usize).copied().map(CustomerId)
    }

    /// The profile of the record of `source` whose primary key is `key` (`7` finds a key
    /// `7.0`, and the text `"7"` finds the integer `7`), or `None` when there is none.
    pub fn customer_of(&self, source: &EntityName, key: ValueRef<'_>) -> Option<CustomerId> {
        let keys = self.keys_of(source)?;
        self.lookup(keys, &mut Vec::new(), key)
    }
}

/// Writes a new generation of the activity entity `activity` with a `CustomerId` field: the
/// profile of the customer its `link.field` names, null when that customer is unknown. An
/// existing `CustomerId` field (from the previous unification) is replaced in place; other
/// fields, their order and the indexes stay, and `CustomerId` is indexed.
pub fn link_activity(
    store: &ItemStore,
    instance: InstanceId,
    activity: &EntityName,
    link: &ActivityLink,
    index: &CustomerIndex,
) -> Result<Arc<Entity>, UnifyError> {
    let keys = index
        .keys_of(&link.customer_source)
        .ok_or_else(|| UnifyError::NotUnified {
            activity: activity.to_string(),
            customer_source: link.customer_source.to_string(),
        })?;
    let entity = store
        .entity(instance, activity)?
        .ok_or_else(|| UnifyError::NoActivityItems {
            activity: activity.to_string(),
        })?;
    let schema = entity.schema();
    let unknown_field = || UnifyError::UnknownActivityField {
        activity: activity.to_string(),
        field: link.field.clone(),
    };
    if link.field == CUSTOMER_ID {
        // The engine rewrites that field, so it cannot also be where the customer is named.
        return Err(unknown_field());
    }
    let customer_field = schema.position(&link.field).ok_or_else(unknown_field)?;

    let mut fields: Vec<Field> = schema.fields().to_vec();
    let id_position = match schema.position(CUSTOMER_ID) {
        Some(position) => {
            fields[position].ty = FieldType::String;
            position
        }
        None => {
            fields.push(Field::new(CUSTOMER_ID, FieldType::String));
            fields.len() - 1
        }
    };
    let linked = Schema::new(fields, &schema.primary_key_field().name)?;
    let mut indexes: Vec<&str> = entity.indexed_fields().collect();
    if !indexes.contains(&CUSTOMER_ID) {
        indexes.push(CUSTOMER_ID);
    }
    let mut writer = store.write(instance, activity, linked, &indexes)?;

    let mut scratch = Vec::new();
    let mut id = String::with_capacity(32);
    let mut failed: Option<ItemsError> = None;
    entity.scan(None, |row| {
        if failed.is_some() {
            return;
        }
        id.clear();
        let customer = index.lookup(keys, &mut scratch, row.value(customer_field));
        if let Some(customer) = customer {
            // Writing to a String cannot fail.
            let _ = write!(id, "{customer}");
        }
        let linked = Linked {
            row,
            id_position,
            id: customer.map(|_| id.as_str()),
        };
        if let Err(error) = writer.push(&linked) {
            failed = Some(error);
        }
    })?;
    if let Some(error) = failed {
        return Err(error.into());
    }
    Ok(writer.commit()?)
}

/// An activity row with its `CustomerId` set.
struct Linked<'a, 'v> {
    row: &'a [ValueRef<'v>],
    id_position: usize,
    id: Option<&'a str>,
}

impl Row for Linked<'_, '_> {
    fn value(&self, field: usize) -> ValueRef<'_> {
        if field == self.id_position {
            self.id.map_or(ValueRef::Null, ValueRef::String)
        } else {
            self.row.value(field)
        }
    }
}
