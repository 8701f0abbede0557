//! The computed stages of a full refresh: customer measures (one new `Customer` generation
//! holding them all), business measures and segments, each reported through the store's
//! report path; a measure or segment that cannot be computed fails alone.

use std::sync::Arc;

use super::{Failures, INVALID_MEASURE, INVALID_SEGMENT, NO_CUSTOMERS, STORAGE_FAILURE, blocking};
use crate::domain::{InstanceId, ItemId, Report};
use crate::engine::items::{Entity, EntityName, ItemStore};
use crate::engine::measures::{
    CustomerColumn, CustomerOrdinals, Measure, MeasureError, Per, apply_customer_measures,
};
use crate::engine::segments::{Segment, SegmentError};
use crate::engine::unify::{CUSTOMER_ENTITY, customer_entity};
use crate::engine::value::Value;
use crate::refresh::Runner;

/// A measure as stored, checked.
pub(super) struct Defined<T> {
    id: ItemId,
    name: String,
    value: T,
}

impl Runner {
    /// The instance's measures, parsed; one that no longer parses fails alone.
    pub(super) fn measures(
        &self,
        instance: InstanceId,
        failures: &mut Failures,
    ) -> Vec<Defined<Measure>> {
        let stored = match self.store.measures(instance) {
            Ok(stored) => stored,
            Err(err) => {
                failures.add(
                    STORAGE_FAILURE,
                    format!("The measures could not be read: {err}"),
                );
                return Vec::new();
            }
        };
        stored
            .into_iter()
            .filter_map(|stored| {
                let id = stored.id?;
                match Measure::parse(&stored.definition) {
                    Ok(measure) => Some(Defined {
                        id,
                        name: stored.definition.name,
                        value: measure,
                    }),
                    Err(err) => {
                        failures.add(INVALID_MEASURE, format!("Measure \"{id}\": {err}"));
                        None
                    }
                }
            })
            .collect()
    }

    /// Computes every customer measure over the current `Customer` and stores their values
    /// as its attributes in one new generation; answers how many were computed.
    pub(super) async fn customer_measures(
        &self,
        instance: InstanceId,
        measures: &[Defined<Measure>],
        failures: &mut Failures,
    ) -> u64 {
        let per_customer: Vec<(ItemId, Measure)> = measures
            .iter()
            .filter(|m| matches!(m.value.per(), Per::Customer { .. }))
            .map(|m| (m.id.clone(), m.value.clone()))
            .collect();
        if per_customer.is_empty() {
            return 0;
        }
        let items = self.items.clone();
        let outcome = blocking(move || {
            let mut results: Vec<(ItemId, Result<(), MeasureError>)> = Vec::new();
            let Some(customers) = items.entity(instance, &customer_entity())? else {
                return Ok::<_, MeasureError>((results, false));
            };
            let ordinals = CustomerOrdinals::read(&customers)?;
            let mut columns: Vec<CustomerColumn> = Vec::new();
            for (id, measure) in per_customer {
                let column = measure
                    .items(&items, instance)
                    .and_then(|entity| measure.compute_per_customer(&entity, &ordinals));
                match column {
                    Ok(column) => {
                        columns.push(column);
                        results.push((id, Ok(())));
                    }
                    Err(err) => results.push((id, Err(err))),
                }
            }
            apply_customer_measures(&items, instance, &customers, &columns)?;
            Ok((results, true))
        })
        .await;
        let mut computed = 0;
        match outcome {
            Ok(Ok((_, false))) => failures.add(
                NO_CUSTOMERS,
                format!(
                    "Customer measures need the {CUSTOMER_ENTITY} entity; define a unification"
                ),
            ),
            Ok(Ok((results, true))) => {
                for (id, result) in results {
                    match result {
                        Ok(()) => computed += 1,
                        Err(err) => failures.add(err.code(), format!("Measure \"{id}\": {err}")),
                    }
                }
            }
            Ok(Err(err)) => failures.add(err.code(), format!("Customer measures: {err}")),
            Err(failure) => {
                failures.add(
                    failure.code,
                    format!("Customer measures: {}", failure.message),
                );
            }
        }
        computed
    }

    /// Computes every business measure and reports its value; answers how many were computed.
    pub(super) async fn business_measures(
        &self,
        instance: InstanceId,
        measures: &[Defined<Measure>],
        failures: &mut Failures,
    ) -> u64 {
        let mut computed = 0;
        for measure in measures.iter().filter(|m| *m.value.per() == Per::Business) {
            let items = self.items.clone();
            let definition = measure.value.clone();
            let value = blocking(move || {
                let entity = definition.items(&items, instance)?;
                definition.compute(&entity)
            })
            .await;
            let value = match value {
                Ok(Ok(value)) => value,
                Ok(Err(err)) => {
                    failures.add(err.code(), format!("Measure \"{}\": {err}", measure.id));
                    continue;
                }
                Err(failure) => {
                    failures.add(
                        failure.code,
                        format!("Measure \"{}\": {}", measure.id, failure.message),
                    );
                    continue;
                }
            };
            computed += 1;
            // Average, min and max of nothing are no value, and observe nothing.
            let Some(value) = value.as_ref().and_then(number) else {
                continue;
            };
            let report = Report::MeasureValue {
                measure_id: measure.id.clone(),
                measure_name: Some(measure.name.clone()),
                value,
            };
            if let Err(err) = self.report(instance, report).await {
                failures.add(
                    STORAGE_FAILURE,
                    format!(
                        "Measure \"{}\": its value could not be recorded: {err}",
                        measure.id
                    ),
                );
            }
        }
        computed
    }

    /// Evaluates every segment over the current `Customer`, keeps its members and reports its
    /// member count; answers how many were evaluated.
    pub(super) async fn segments_stage(
        &self,
        instance: InstanceId,
        failures: &mut Failures,
    ) -> u64 {
        let stored = match self.store.segments(instance) {
            Ok(stored) => stored,
            Err(err) => {
                failures.add(
                    STORAGE_FAILURE,
                    format!("The segments could not be read: {err}"),
                );
                return 0;
            }
        };
        let mut computed = 0;
        for stored in stored {
            let Some(id) = stored.id else { continue };
            let segment = match Segment::parse(&stored.definition) {
                Ok(segment) => segment,
                Err(err) => {
                    failures.add(INVALID_SEGMENT, format!("Segment \"{id}\": {err}"));
                    continue;
                }
            };
            let items = self.items.clone();
            let members = self.segment_members.clone();
            let name = EntityName::parse(id.as_str());
            let evaluated =
                blocking(move || evaluate(&items, &members, instance, name, &segment)).await;
            let member_count = match evaluated {
                Ok(Ok(Some(members))) => members.item_count(),
                Ok(Ok(None)) => {
                    failures.add(
                        NO_CUSTOMERS,
                        format!(
                            "Segment \"{id}\": there is no {CUSTOMER_ENTITY} entity; define a unification"
                        ),
                    );
                    continue;
                }
                Ok(Err(err)) => {
                    failures.add(err.code(), format!("Segment \"{id}\": {err}"));
                    continue;
                }
                Err(failure) => {
                    failures.add(
                        failure.code,
                        format!("Segment \"{id}\": {}", failure.message),
                    );
                    continue;
                }
            };
            computed += 1;
            let report = Report::SegmentSize {
                segment_id: id.clone(),
                segment_name: Some(stored.definition.name),
                member_count,
            };
            if let Err(err) = self.report(instance, report).await {
                failures.add(
                    STORAGE_FAILURE,
                    format!("Segment \"{id}\": its member count could not be recorded: {err}"),
                );
            }
        }
        computed
    }
}

/// Evaluates `segment` into its members entity; `None` when there is no `Customer` yet.
fn evaluate(
    items: &ItemStore,
    members: &ItemStore,
    instance: InstanceId,
    name: Result<EntityName, crate::engine::items::EntityNameError>,
    segment: &Segment,
) -> Result<Option<Arc<Entity>>, SegmentError> {
    let Some(customers) = items.entity(instance, &customer_entity())? else {
        return Ok(None);
    };
    // Segment ids are item ids, which are valid entity names (`ItemId` is stricter).
    let Ok(name) = name else {
        return Ok(None);
    };
    segment
        .evaluate(&customers, members, instance, &name)
        .map(Some)
}

/// A measure's value as the number a report carries.
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(n.get()),
        _ => None,
    }
}
