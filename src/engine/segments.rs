//! Segments: `SetSegment`'s shape and its checked form, and their evaluation: the customers
//! that pass the filter, counted and kept as a snapshot that pages like `GetItems`.
//!
//! Members are kept as a copy of their `Customer` rows, one entity per segment (named by the
//! segment's id) in an item store of their own, apart from the instance's entities: the
//! integrator opens it under its own directory, so a segment id never meets a data source id
//! and `GetEntities` does not list segments. The copy costs a write of the members at each
//! evaluation, and in return `GetSegmentMembers` is the ordinary paged query (`$filter`,
//! `$select`, `$orderby`, `$top`, `$skip`) of a snapshot whose size is the member count the
//! triggers observed, switched atomically with each evaluation like any generation.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::filter::{Filter, FilterError};
use super::items::{Entity, EntityName, ItemStore, ItemsError};
use super::schema::Schema;
use crate::domain::InstanceId;

/// `SetSegment`'s body, kept as given so that `GET` answers it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SegmentDefinition {
    /// The display name.
    pub name: String,
    /// The customers that pass this filter (the OData subset of Get items, over Customer's fields) are the members.
    pub filter: String,
}

/// What is wrong with a segment, and in which field: `Display` gives `field: problem`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct SegmentDefinitionError {
    pub path: &'static str,
    pub problem: SegmentProblem,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SegmentProblem {
    #[error("a segment needs a name")]
    EmptyName,
    #[error("{0}")]
    Filter(FilterError),
}

/// Why a segment could not be evaluated. Each case has a stable [`SegmentError::code`].
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    #[error("The segment is not valid: {0}")]
    Invalid(#[from] SegmentDefinitionError),
    #[error("The items could not be read or stored.")]
    Store(#[from] ItemsError),
}

impl SegmentError {
    /// The stable snake_case code of the failure.
    pub fn code(&self) -> &'static str {
        match self {
            SegmentError::Invalid(_) => "invalid_segment",
            SegmentError::Store(_) => "storage_failure",
        }
    }
}

/// A checked segment: its filter's syntax is valid.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    name: String,
    filter: Filter,
}

impl Segment {
    /// Checks the name and the filter's syntax (the error gives its position).
    pub fn parse(definition: &SegmentDefinition) -> Result<Segment, SegmentDefinitionError> {
        if definition.name.trim().is_empty() {
            return Err(SegmentDefinitionError {
                path: "name",
                problem: SegmentProblem::EmptyName,
            });
        }
        let filter = Filter::parse(&definition.filter).map_err(filter_error)?;
        Ok(Segment {
            name: definition.name.clone(),
            filter,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// Checks the filter against the `Customer` schema: its fields exist and compare.
    pub fn check(&self, customers: &Schema) -> Result<(), SegmentDefinitionError> {
        self.filter
            .bind(customers)
            .map(|_| ())
            .map_err(filter_error)
    }

    /// How many customers of `customers` pass the filter, without keeping them.
    pub fn count(&self, customers: &Entity) -> Result<u64, SegmentError> {
        let filter = self.filter.bind(customers.schema()).map_err(filter_error)?;
        Ok(customers.count(Some(&filter))?)
    }

    /// Evaluates the segment over `customers` (the current `Customer` generation) and
    /// replaces its members in `members` (the segments' own store) by the customers that
    /// pass, as entity `segment` of `instance`. The entity's item count is the member count.
    /// A filter naming a field `Customer` no longer has fails with the field and its
    /// position; the previous members stay.
    pub fn evaluate(
        &self,
        customers: &Entity,
        members: &ItemStore,
        instance: InstanceId,
        segment: &EntityName,
    ) -> Result<Arc<Entity>, SegmentError> {
        let filter = self.filter.bind(customers.schema()).map_err(filter_error)?;
        let mut writer = members.write(instance, segment, customers.schema().clone(), &[])?;
        let mut failed = None;
        customers.scan(Some(&filter), |row| {
            if failed.is_none()
                && let Err(error) = writer.push(row)
            {
                failed = Some(error);
            }
        })?;
        if let Some(error) = failed {
            return Err(error.into());
        }
        Ok(writer.commit()?)
    }
}

fn filter_error(error: FilterError) -> SegmentDefinitionError {
    SegmentDefinitionError {
        path: "filter",
        problem: SegmentProblem::Filter(error),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::engine::items::Query;
    use crate::engine::schema::Field;
    use crate::engine::value::{FieldType, Finite, Value};

    fn customers(
        store: &ItemStore,
        instance: InstanceId,
        rows: &[(&str, f64, &str)],
    ) -> Arc<Entity> {
        let schema = Schema::new(
            vec![
                Field::new("CustomerId", FieldType::String),
                Field::new("Spend", FieldType::Number),
                Field::new("City", FieldType::String),
            ],
            "CustomerId",
        )
        .expect("schema");
        let name = EntityName::parse("Customer").expect("name");
        let mut writer = store.write(instance, &name, schema, &[]).expect("writer");
        for (id, spend, city) in rows {
            let row = vec![
                Value::String((*id).to_owned()),
                Value::Number(Finite::new(*spend).expect("finite")),
                Value::String((*city).to_owned()),
            ];
            writer.push(&row).expect("push");
        }
        writer.commit().expect("commit")
    }

    fn segment(filter: &str) -> Segment {
        Segment::parse(&SegmentDefinition {
            name: "s".to_owned(),
            filter: filter.to_owned(),
        })
        .expect("valid")
    }

    #[test]
    fn members_are_the_customers_that_pass_and_page_like_items() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ItemStore::open(dir.path().join("items")).expect("store");
        let members = ItemStore::open(dir.path().join("segments")).expect("store");
        let instance = InstanceId::new();
        let rows: Vec<(String, f64, &str)> = (0..250)
            .map(|n| {
                (
                    format!("c{n:03}"),
                    f64::from(n),
                    if n % 2 == 0 { "Oslo" } else { "Rome" },
                )
            })
            .collect();
        let rows: Vec<(&str, f64, &str)> =
            rows.iter().map(|(a, b, c)| (a.as_str(), *b, *c)).collect();
        let customers = customers(&store, instance, &rows);
        let big = segment("Spend ge 100 and City eq 'Oslo'");
        let expected: Vec<&str> = rows
            .iter()
            .filter(|(_, spend, city)| *spend >= 100.0 && *city == "Oslo")
            .map(|(id, _, _)| *id)
            .collect();
        assert_eq!(big.count(&customers).expect("count"), expected.len() as u64);

        let id = EntityName::parse("big-spenders").expect("name");
        let entity = big
            .evaluate(&customers, &members, instance, &id)
            .expect("evaluated");
        assert_eq!(entity.item_count(), expected.len() as u64);
        assert!(
            store.entity(instance, &id).expect("read").is_none(),
            "not an entity of the instance"
        );

        let mut paged = Vec::new();
        let mut skip = 0;
        loop {
            let page = entity
                .query(&Query {
                    skip,
                    top: 30,
                    ..Query::default()
                })
                .expect("page");
            paged.extend(page.items.iter().map(|i| i["CustomerId"].clone()));
            skip += 30;
            if !page.more {
                break;
            }
        }
        assert_eq!(
            paged,
            expected.iter().map(|id| json!(id)).collect::<Vec<_>>()
        );

        // Evaluated again over other customers, the members are replaced.
        let fewer = customers_after(&store, instance);
        let entity = big
            .evaluate(&fewer, &members, instance, &id)
            .expect("evaluated");
        assert_eq!(entity.item_count(), 1);
    }

    fn customers_after(store: &ItemStore, instance: InstanceId) -> Arc<Entity> {
        customers(store, instance, &[("x", 500.0, "Oslo"), ("y", 5.0, "Oslo")])
    }

    #[test]
    fn a_filter_that_names_a_field_customer_no_longer_has_fails_that_segment() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ItemStore::open(dir.path().join("items")).expect("store");
        let members = ItemStore::open(dir.path().join("segments")).expect("store");
        let instance = InstanceId::new();
        let customers = customers(&store, instance, &[("a", 1.0, "Oslo")]);
        let gone = segment("City eq 'Oslo' and TotalSpend gt 10");
        let id = EntityName::parse("s").expect("name");
        let error = gone
            .evaluate(&customers, &members, instance, &id)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some(
                "The segment is not valid: filter: The filter names the unknown field 'TotalSpend' at position 19."
            )
        );
        assert!(gone.check(customers.schema()).is_err());
        assert!(members.entity(instance, &id).expect("read").is_none());
    }

    #[test]
    fn bad_segments_are_refused_naming_the_field() {
        let table = [
            (" ", "Spend gt 1", "name: a segment needs a name", "no name"),
            (
                "s",
                "Spend gt",
                "filter: The filter has a syntax error at position 8: expected a field, a value, tolower(...) or toupper(...), found the end of the filter.",
                "a syntax error gives its position",
            ),
        ];
        for (name, filter, message, reason) in table {
            let error = Segment::parse(&SegmentDefinition {
                name: name.to_owned(),
                filter: filter.to_owned(),
            })
            .err()
            .map(|e| e.to_string());
            assert_eq!(error.as_deref(), Some(message), "{reason}");
        }
    }
}
