//! Running a unification: match, group, merge, write `Customer`. Three streaming passes over
//! the sources' items; in memory only a few words per record (union-find parent, id hash,
//! key hash, merge order) and the merged values of each profile, never the records.
//!
//! Matching never compares pairs: each rule's normalized key of a record is hashed (128 bits)
//! into a bucket, and a record whose key is already in a bucket is joined to the bucket's
//! first record (union-find, so matches are transitive). Two different keys share a hash with
//! odds far below one in 10^20 for millions of records.
//!
//! `CustomerId`: each record has a stable 128-bit hash of (data source id, primary key); a
//! profile's id is the smallest hash among its members. It depends on the member set alone, so
//! the same data gives the same ids in any row order, a group that did not change keeps its
//! id whatever happens to other records, and a group that gains or loses members other than
//! that one keeps it too (a hash of all the sorted member keys would change then). Disjoint
//! groups have different smallest members, so ids are unique.

use std::fmt::Write as _;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::activity::CustomerIndex;
use super::definition::Unification;
use super::normalize::Normalizer;
use super::{CUSTOMER_ENTITY, CUSTOMER_ID, CustomerId, UnifyError};
use crate::domain::InstanceId;
use crate::engine::hash::hash128;
use crate::engine::hashed::{HashKeyed, value_hash};
use crate::engine::items::codec::{decode_row, encode_row};
use crate::engine::items::{Entity, EntityName, ItemStore, ItemsError};
use crate::engine::schema::{Field, Schema};
use crate::engine::value::{FieldType, Row, Value, ValueRef};

/// The most customer records one unification reads: record numbers are 32-bit.
pub const MAX_RECORDS: u64 = u32::MAX as u64 - 1;

/// A slot that holds nothing (no record, no value).
const NONE: u32 = u32::MAX;
const NO_VALUE: u64 = u64::MAX;

/// What `UnificationCompleted` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnificationCounts {
    /// Customer records read from the sources.
    pub source_record_count: u64,
    /// Profiles written to `Customer`.
    pub unified_profile_count: u64,
}

/// A finished unification.
pub struct Unified {
    /// The new generation of `Customer`.
    pub customers: Arc<Entity>,
    pub counts: UnificationCounts,
    /// Which profile each source record joined: what [`super::link_activity`] needs.
    pub index: CustomerIndex,
}

/// A source's entity and, per unified attribute, the position of the field mapped to it.
struct Input {
    entity: Arc<Entity>,
    positions: Vec<Option<usize>>,
}

/// Runs `unification` over the current items of its sources and writes the profiles as a new
/// generation of `Customer` (`CustomerId` then the unified attributes), stored in the order of
/// each profile's first record (sources in order, then by primary key). A source without
/// items or a mapped field missing from a source fails it, naming the field; the previous
/// `Customer` stays.
pub fn unify(
    store: &ItemStore,
    instance: InstanceId,
    unification: &Unification,
) -> Result<Unified, UnifyError> {
    let mut inputs = Vec::with_capacity(unification.sources().len());
    let mut total = 0u64;
    for (n, source) in unification.sources().iter().enumerate() {
        let entity = store
            .entity(instance, &source.id)?
            .ok_or_else(|| unification.not_refreshed(n))?;
        let positions = unification.field_positions(n, entity.schema())?;
        total += entity.item_count();
        inputs.push(Input { entity, positions });
    }
    if total > MAX_RECORDS {
        return Err(UnifyError::TooManyRecords);
    }
    let types = attribute_types(unification, &inputs);
    let schema = customer_schema(unification, &types)?;

    let mut matched = Matching::run(unification, &inputs, total)?;
    let keys = std::mem::take(&mut matched.keys);
    let groups = matched.group(unification.attributes().len());
    let merged = merge(&inputs, unification.attributes(), &types, &groups)?;

    let mut writer = store.write(instance, &customer_entity(), schema, &[])?;
    let mut id = String::with_capacity(32);
    let mut values: Vec<ValueRef<'_>> = Vec::with_capacity(types.len());
    let mut one = Vec::with_capacity(1);
    for (group, hash) in groups.ids.iter().enumerate() {
        id.clear();
        // Writing to a String cannot fail.
        let _ = write!(id, "{}", CustomerId(*hash));
        values.clear();
        for (attribute, ty) in types.iter().enumerate() {
            values.push(merged.value(group * types.len() + attribute, *ty, &mut one)?);
        }
        writer.push(&Profile {
            id: &id,
            values: &values,
        })?;
    }
    let customers = writer.commit()?;

    let counts = UnificationCounts {
        source_record_count: total,
        unified_profile_count: groups.ids.len() as u64,
    };
    let index = CustomerIndex::new(
        unification
            .sources()
            .iter()
            .map(|s| s.id.clone())
            .zip(keys)
            .collect(),
        groups.record_group,
        groups.ids,
    );
    Ok(Unified {
        customers,
        counts,
        index,
    })
}

/// The name of the `Customer` entity.
pub fn customer_entity() -> EntityName {
    EntityName::parse(CUSTOMER_ENTITY)
        .expect("a valid name: unify::tests::the_customer_entity_name_is_valid")
}

/// A `Customer` row: its id, then the merged values.
struct Profile<'a, 'v> {
    id: &'a str,
    values: &'a [ValueRef<'v>],
}

impl Row for Profile<'_, '_> {
    fn value(&self, field: usize) -> ValueRef<'_> {
        match field.checked_sub(1) {
            None => ValueRef::String(self.id),
            Some(attribute) => self.values.value(attribute),
        }
    }
}

/// Each unified attribute's type: the type of the fields mapped to it when they agree,
/// `number` when they are integers and numbers, `string` otherwise (values then read as text).
fn attribute_types(unification: &Unification, inputs: &[Input]) -> Vec<FieldType> {
    let mut types: Vec<Option<FieldType>> = vec![None; unification.attributes().len()];
    for input in inputs {
        for (attribute, position) in input.positions.iter().enumerate() {
            let Some(field) = position.and_then(|p| input.entity.schema().field(p)) else {
                continue;
            };
            let ty = field.ty;
            types[attribute] = Some(match types[attribute] {
                None => ty,
                Some(seen) if seen == ty => ty,
                Some(seen) if seen.is_numeric() && ty.is_numeric() => FieldType::Number,
                Some(_) => FieldType::String,
            });
        }
    }
    // Every attribute is mapped by at least one source (checked by `Unification::parse`).
    types
        .into_iter()
        .map(|t| t.unwrap_or(FieldType::String))
        .collect()
}

fn customer_schema(unification: &Unification, types: &[FieldType]) -> Result<Schema, UnifyError> {
    let mut fields = Vec::with_capacity(types.len() + 1);
    fields.push(Field::new(CUSTOMER_ID, FieldType::String));
    for (name, ty) in unification.attributes().iter().zip(types) {
        fields.push(Field::new(name.clone(), *ty));
    }
    Ok(Schema::new(fields, CUSTOMER_ID)?)
}

/// Whether a value counts as missing for merging: null or empty text.
fn is_empty(value: ValueRef<'_>) -> bool {
    matches!(value, ValueRef::Null | ValueRef::String(""))
}

/// The stable hash a record is known by: SHA-256 of its data source id, a NUL (which no
/// entity name holds) and its primary key's text, first 128 bits.
fn record_hash(source: &EntityName, key: ValueRef<'_>) -> u128 {
    let mut hasher = Sha256::new();
    hasher.update(source.as_str().as_bytes());
    hasher.update([0u8]);
    if let Some(text) = key.key_text() {
        hasher.update(text.as_bytes());
    }
    let digest = hasher.finalize();
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    u128::from_be_bytes(first)
}

/// The first pass: every record numbered (sources in order, each in stored order), matched
/// into union-find sets, with what grouping and merging need.
struct Matching {
    parent: Vec<u32>,
    /// [`record_hash`] of each record.
    hashes: Vec<u128>,
    /// Bit `record * attributes + attribute`: the record has a non-empty value for it.
    filled: Vec<u64>,
    /// Records in merge order: sources in order, each by primary key.
    order: Vec<u32>,
    /// Per source, primary key hash to record.
    keys: Vec<HashKeyed<u32>>,
}

impl Matching {
    fn run(
        unification: &Unification,
        inputs: &[Input],
        total: u64,
    ) -> Result<Matching, UnifyError> {
        let records = usize::try_from(total).map_err(|_| UnifyError::TooManyRecords)?;
        let attributes = unification.attributes().len();
        let mut matching = Matching {
            parent: Vec::with_capacity(records),
            hashes: Vec::with_capacity(records),
            filled: vec![0; (records * attributes).div_ceil(64)],
            order: Vec::with_capacity(records),
            keys: Vec::with_capacity(inputs.len()),
        };
        let rules = unification.rules();
        let mut buckets: HashKeyed<u32> = HashKeyed::default();
        buckets.reserve(records.saturating_mul(rules.len()) / 2);
        let mut normalizer = Normalizer::default();
        let mut key = Vec::new();
        let mut scratch = Vec::new();
        for (source, input) in unification.sources().iter().zip(inputs) {
            let primary_key = input.entity.schema().primary_key();
            let mut keys = HashKeyed::default();
            keys.reserve(usize::try_from(input.entity.item_count()).unwrap_or(0));
            let mut by_key: Vec<(Value, u32)> = Vec::with_capacity(keys.capacity());
            let Matching {
                parent,
                hashes,
                filled,
                ..
            } = &mut matching;
            input.entity.scan(None, |row| {
                // `total` bounds the count, and it fits in u32 (checked by `unify`).
                let record = parent.len() as u32;
                parent.push(record);
                let id = row.value(primary_key);
                hashes.push(record_hash(&source.id, id));
                keys.insert(value_hash(&mut scratch, id), record);
                by_key.push((id.to_owned_value(), record));
                for (attribute, position) in input.positions.iter().enumerate() {
                    if position.is_some_and(|p| !is_empty(row.value(p))) {
                        let bit = record as usize * attributes + attribute;
                        filled[bit / 64] |= 1 << (bit % 64);
                    }
                }
                for (n, rule) in rules.iter().enumerate() {
                    key.clear();
                    key.extend_from_slice(&(n as u32).to_le_bytes());
                    let complete = rule.conditions.iter().all(|condition| {
                        let Some(text) = input.positions[condition.attribute]
                            .and_then(|p| row.value(p).key_text())
                        else {
                            return false;
                        };
                        let normalized = normalizer.normalize(&text, &condition.normalize);
                        key.extend_from_slice(&(normalized.len() as u32).to_le_bytes());
                        key.extend_from_slice(normalized.as_bytes());
                        !normalized.is_empty()
                    });
                    if complete {
                        let first = *buckets.entry(hash128(&key)).or_insert(record);
                        union(parent, first, record);
                    }
                }
            })?;
            by_key.sort_unstable_by(|a, b| a.0.as_ref().sort_cmp(b.0.as_ref()));
            matching
                .order
                .extend(by_key.into_iter().map(|(_, record)| record));
            matching.keys.push(keys);
        }
        Ok(matching)
    }

    /// Numbers the sets in merge order of their first record, and picks each profile's id and,
    /// per attribute, the record whose value it takes.
    fn group(mut self, attributes: usize) -> Groups {
        let records = self.parent.len();
        let mut group_of_root = vec![NONE; records];
        let mut record_group = vec![0u32; records];
        let mut count = 0u32;
        for &record in &self.order {
            let root = find(&mut self.parent, record) as usize;
            if group_of_root[root] == NONE {
                group_of_root[root] = count;
                count += 1;
            }
            record_group[record as usize] = group_of_root[root];
        }
        drop(group_of_root);
        drop(self.parent);
        let mut ids = vec![u128::MAX; count as usize];
        for (record, hash) in self.hashes.iter().enumerate() {
            let id = &mut ids[record_group[record] as usize];
            *id = (*id).min(*hash);
        }
        let mut winners = vec![NONE; count as usize * attributes];
        for &record in &self.order {
            let group = record_group[record as usize] as usize;
            for attribute in 0..attributes {
                let bit = record as usize * attributes + attribute;
                let slot = &mut winners[group * attributes + attribute];
                if *slot == NONE && self.filled[bit / 64] & (1 << (bit % 64)) != 0 {
                    *slot = record;
                }
            }
        }
        Groups {
            record_group,
            ids,
            winners,
        }
    }
}

/// Union by the smaller root, so the root of a set is its first record.
fn union(parent: &mut [u32], a: u32, b: u32) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        let (low, high) = (ra.min(rb), ra.max(rb));
        parent[high as usize] = low;
    }
}

/// The root of a record's set, halving the path on the way.
fn find(parent: &mut [u32], mut record: u32) -> u32 {
    while parent[record as usize] != record {
        let grand = parent[parent[record as usize] as usize];
        parent[record as usize] = grand;
        record = grand;
    }
    record
}

struct Groups {
    record_group: Vec<u32>,
    /// Per profile, its id.
    ids: Vec<u128>,
    /// Per profile and attribute, the record whose value it takes ([`NONE`]: no record has
    /// one).
    winners: Vec<u32>,
}

/// The merged values of every profile, each encoded once in one buffer.
struct Merged {
    values: Vec<u8>,
    /// Per profile and attribute, where its value starts in `values` ([`NO_VALUE`]: null).
    slots: Vec<u64>,
}

impl Merged {
    fn value<'a>(
        &'a self,
        slot: usize,
        ty: FieldType,
        one: &mut Vec<ValueRef<'a>>,
    ) -> Result<ValueRef<'a>, UnifyError> {
        let start = self.slots[slot];
        if start == NO_VALUE {
            return Ok(ValueRef::Null);
        }
        let corrupt = || {
            UnifyError::Store(ItemsError::Corrupt {
                entity: CUSTOMER_ENTITY.to_owned(),
                what: "a merged value that does not decode",
            })
        };
        let start = usize::try_from(start).map_err(|_| corrupt())?;
        let len = self
            .values
            .get(start..start + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
            .ok_or_else(corrupt)? as usize;
        let payload = self
            .values
            .get(start + 4..start + 4 + len)
            .ok_or_else(corrupt)?;
        decode_row(&[ty], payload, one).map_err(|_| corrupt())?;
        Ok(one.first().copied().unwrap_or(ValueRef::Null))
    }
}

/// The second pass: reads the sources again in the same order and keeps the winning values.
fn merge(
    inputs: &[Input],
    names: &[String],
    types: &[FieldType],
    groups: &Groups,
) -> Result<Merged, UnifyError> {
    let attributes = types.len();
    let mut merged = Merged {
        values: Vec::new(),
        slots: vec![NO_VALUE; groups.winners.len()],
    };
    let mut record = 0u32;
    let mut text = String::new();
    let mut failed = None;
    for input in inputs {
        input.entity.scan(None, |row| {
            let group = groups.record_group[record as usize] as usize;
            for (attribute, position) in input.positions.iter().enumerate() {
                let slot = group * attributes + attribute;
                let Some(position) = position else { continue };
                if groups.winners[slot] != record {
                    continue;
                }
                let ty = types[attribute];
                let value = row.value(*position);
                let value = match value.field_type() {
                    Some(found) if found == ty || (found.is_numeric() && ty.is_numeric()) => value,
                    _ => {
                        text.clear();
                        text.push_str(&value.key_text().unwrap_or_default());
                        ValueRef::String(&text)
                    }
                };
                let start = merged.values.len();
                match encode_row(&[ty], [value].as_slice(), &mut merged.values) {
                    Ok(()) => merged.slots[slot] = start as u64,
                    // Values are converted to the attribute's type above, so this is a bug.
                    Err(wrong) => {
                        failed.get_or_insert(ItemsError::WrongType {
                            field: names[attribute].clone(),
                            expected: wrong.expected,
                            found: wrong.found,
                        });
                    }
                }
            }
            record += 1;
        })?;
    }
    match failed {
        Some(error) => Err(error.into()),
        None => Ok(merged),
    }
}
