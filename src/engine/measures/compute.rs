//! Evaluating measures: one scan of the entity's items that pass the filter, into one group
//! (a business measure) or one per customer, and the new `Customer` generation that holds the
//! customer measures' values as attributes.

use std::sync::Arc;

use super::aggregate::{Accumulator, Observed};
use super::{Measure, MeasureError, Per};
use crate::domain::InstanceId;
use crate::engine::hashed::{HashKeyed, value_hash};
use crate::engine::items::{Entity, ItemStore};
use crate::engine::schema::{Field, Schema};
use crate::engine::unify::CUSTOMER_ID;
use crate::engine::value::{FieldType, Row, Value, ValueRef};

/// Each customer's place in one generation of `Customer` (its row number in stored order),
/// by the hash of its `CustomerId`: read once, shared by all customer measures of a run.
pub struct CustomerOrdinals {
    generation: u64,
    ordinals: HashKeyed<u32>,
}

impl CustomerOrdinals {
    /// Reads the ids of `customers` (the `Customer` entity).
    pub fn read(customers: &Entity) -> Result<CustomerOrdinals, MeasureError> {
        let id = customers.schema().primary_key();
        let count = usize::try_from(customers.item_count()).unwrap_or(0);
        // Hashed while reading, inserted after in one tight loop: the inserts overlap their
        // memory accesses (see `Batch`).
        let mut ids = Vec::with_capacity(count);
        let mut scratch = Vec::new();
        customers.scan(None, |row| {
            ids.push(value_hash(&mut scratch, row.value(id)))
        })?;
        let mut ordinals = HashKeyed::default();
        ordinals.reserve(ids.len());
        for (ordinal, id) in ids.into_iter().enumerate() {
            // `Customer` has fewer than 2^32 rows: unification numbers records in 32 bits.
            ordinals.insert(id, ordinal as u32);
        }
        Ok(CustomerOrdinals {
            generation: customers.generation(),
            ordinals,
        })
    }

    /// How many customers.
    pub fn len(&self) -> usize {
        self.ordinals.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ordinals.is_empty()
    }
}

/// A customer measure's value for each customer of one `Customer` generation.
pub struct CustomerColumn {
    attribute: String,
    ty: FieldType,
    generation: u64,
    customers: usize,
    values: Accumulator,
}

impl CustomerColumn {
    /// The `Customer` attribute it is stored as.
    pub fn attribute(&self) -> &str {
        &self.attribute
    }

    pub fn field_type(&self) -> FieldType {
        self.ty
    }

    /// The value of the customer at `ordinal` (its row number in the `Customer` generation).
    pub fn value(&self, ordinal: usize) -> Result<Value, MeasureError> {
        self.values.value(ordinal)
    }
}

impl Measure {
    /// The current items of the measure's entity, or [`MeasureError::NoItems`].
    pub fn items(
        &self,
        store: &ItemStore,
        instance: InstanceId,
    ) -> Result<Arc<Entity>, MeasureError> {
        store
            .entity(instance, &self.entity)?
            .ok_or_else(|| MeasureError::NoItems {
                entity: self.entity.to_string(),
            })
    }

    /// The business value over `items` (the measure's entity): one number over the items
    /// that pass the filter, or `None` (an average, min or max of nothing). A customer
    /// measure gives its value over all customers' items here.
    pub fn compute(&self, items: &Entity) -> Result<Option<Value>, MeasureError> {
        let bound = self.bind(items.schema())?;
        let field = bound.field;
        let mut accumulator = Accumulator::new(self.aggregate, field.map(|(_, ty)| ty), 1);
        accumulator.expect_items(items.item_count());
        let mut batch = Batch::new(accumulator, None);
        items.scan(bound.filter.as_ref(), |row| {
            batch.push(0, field.map(|(position, _)| row.value(position)));
        })?;
        let accumulator = batch.finish();
        let value = accumulator.value(0)?;
        Ok((!value.is_null()).then_some(value))
    }

    /// The value of each customer of `customers` over its items in `items` (the measure's
    /// entity, whose `CustomerId` names them). Items of unknown customers count for nobody.
    pub fn compute_per_customer(
        &self,
        items: &Entity,
        customers: &CustomerOrdinals,
    ) -> Result<CustomerColumn, MeasureError> {
        let Per::Customer { attribute } = &self.per else {
            return Err(MeasureError::NotPerCustomer {
                name: self.name.clone(),
            });
        };
        let bound = self.bind(items.schema())?;
        let field = bound.field;
        let Some(customer_id) = bound.customer_id else {
            return Err(MeasureError::NotPerCustomer {
                name: self.name.clone(),
            });
        };
        let count = customers.len();
        let mut accumulator = Accumulator::new(self.aggregate, field.map(|(_, ty)| ty), count);
        accumulator.expect_items(items.item_count());
        let mut batch = Batch::new(accumulator, Some(customers));
        let mut scratch = Vec::new();
        items.scan(bound.filter.as_ref(), |row| {
            let id = row.value(customer_id);
            if !id.is_null() {
                let id = value_hash(&mut scratch, id);
                let value = field.map(|(position, _)| row.value(position));
                batch.push(id, value);
            }
        })?;
        Ok(CustomerColumn {
            attribute: attribute.clone(),
            ty: self.aggregate.value_type(field.map(|(_, ty)| ty)),
            generation: customers.generation,
            customers: count,
            values: batch.finish(),
        })
    }
}

/// Items gathered before their customers are looked up and their values added, a batch at
/// a time: the lookups of one batch do not depend on each other, so the processor overlaps
/// their memory accesses instead of waiting for each in turn, which makes a customer measure
/// over a million customers about four times faster (see BENCHMARKS.md).
struct Batch<'c> {
    accumulator: Accumulator,
    /// The customers items are looked up in; `None` for a business measure (one group).
    customers: Option<&'c CustomerOrdinals>,
    /// Per item, its customer's id hash (unused for a business measure).
    ids: Vec<u128>,
    observed: Vec<Observed>,
    groups: Vec<u32>,
    scratch: Vec<u8>,
}

const BATCH: usize = 256;
/// The group of an item whose customer is unknown.
const UNKNOWN: u32 = u32::MAX;

impl<'c> Batch<'c> {
    fn new(accumulator: Accumulator, customers: Option<&'c CustomerOrdinals>) -> Batch<'c> {
        Batch {
            accumulator,
            customers,
            ids: Vec::with_capacity(BATCH),
            observed: Vec::with_capacity(BATCH),
            groups: Vec::with_capacity(BATCH),
            scratch: Vec::new(),
        }
    }

    /// Gathers one item: its customer's id hash and its value (`None`: counting items).
    fn push(&mut self, id: u128, value: Option<ValueRef<'_>>) {
        let observed = self.accumulator.observe(value, &mut self.scratch);
        if observed == Observed::Nothing {
            return;
        }
        self.ids.push(id);
        self.observed.push(observed);
        if self.ids.len() == BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        self.groups.clear();
        match self.customers {
            None => self.groups.resize(self.ids.len(), 0),
            Some(customers) => self.groups.extend(
                self.ids
                    .iter()
                    .map(|id| customers.ordinals.get(id).copied().unwrap_or(UNKNOWN)),
            ),
        }
        for (group, observed) in self.groups.iter().zip(&self.observed) {
            if *group != UNKNOWN {
                self.accumulator.add(*group as usize, *observed);
            }
        }
        self.ids.clear();
        self.observed.clear();
    }

    fn finish(mut self) -> Accumulator {
        self.flush();
        self.accumulator
    }
}

/// Writes a new generation of `Customer` with each column as an attribute: replaced in place
/// when `Customer` has it already (from the previous run), added at the end otherwise. Other
/// fields, their order and the indexes stay. The columns must come from this generation of
/// `customers` ([`MeasureError::CustomersChanged`] otherwise).
pub fn apply_customer_measures(
    store: &ItemStore,
    instance: InstanceId,
    customers: &Entity,
    columns: &[CustomerColumn],
) -> Result<Arc<Entity>, MeasureError> {
    let schema = customers.schema();
    let mut fields: Vec<Field> = schema.fields().to_vec();
    // Per field position, the column that fills it.
    let mut column_of: Vec<Option<usize>> = vec![None; fields.len()];
    for (n, column) in columns.iter().enumerate() {
        if column.generation != customers.generation()
            || column.customers as u64 != customers.item_count()
        {
            return Err(MeasureError::CustomersChanged);
        }
        if columns[..n].iter().any(|c| c.attribute == column.attribute) {
            return Err(MeasureError::DuplicateAttribute {
                attribute: column.attribute.clone(),
            });
        }
        match schema.position(&column.attribute) {
            Some(position) => {
                fields[position].ty = column.ty;
                column_of[position] = Some(n);
            }
            None => {
                fields.push(Field::new(column.attribute.clone(), column.ty));
                column_of.push(Some(n));
            }
        }
    }
    let measured = Schema::new(fields, CUSTOMER_ID)?;
    let indexes: Vec<&str> = customers.indexed_fields().collect();
    let mut writer = store.write(instance, customers.name(), measured, &indexes)?;

    let mut ordinal = 0usize;
    let mut values: Vec<Value> = Vec::with_capacity(columns.len());
    let mut failed: Option<MeasureError> = None;
    customers.scan(None, |row| {
        if failed.is_some() {
            return;
        }
        values.clear();
        for column in columns {
            match column.value(ordinal) {
                Ok(value) => values.push(value),
                Err(error) => {
                    failed = Some(error);
                    return;
                }
            }
        }
        let row = Measured {
            row,
            column_of: &column_of,
            values: &values,
        };
        if let Err(error) = writer.push(&row) {
            failed = Some(error.into());
        }
        ordinal += 1;
    })?;
    if let Some(error) = failed {
        return Err(error);
    }
    Ok(writer.commit()?)
}

/// A `Customer` row with the measures' values in their fields.
struct Measured<'a, 'v> {
    row: &'a [ValueRef<'v>],
    column_of: &'a [Option<usize>],
    values: &'a [Value],
}

impl Row for Measured<'_, '_> {
    fn value(&self, field: usize) -> ValueRef<'_> {
        match self.column_of.get(field).copied().flatten() {
            Some(column) => self.values.value(column),
            None => self.row.value(field),
        }
    }
}
