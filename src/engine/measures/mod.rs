//! Measures: `SetMeasure`'s shape and its checked form, and their evaluation over an entity's
//! items, as one business number or per customer as a `Customer` attribute. Reads entities
//! through the item store; no HTTP, no sled.
//!
//! A definition is checked in two steps: [`Measure::parse`] (shape, names, the filter's
//! syntax, with the error's position) when it is set, and [`Measure::check`] against the
//! entity's schema, both when it is set (if the entity has items) and each time it runs,
//! so that a field that no longer exists fails that measure alone, with a clear message.

mod aggregate;
mod compute;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use compute::{CustomerColumn, CustomerOrdinals, apply_customer_measures};

use super::filter::{BoundFilter, Filter, FilterError};
use super::items::{EntityName, EntityNameError, ItemsError};
use super::schema::{Schema, SchemaError};
use super::unify::CUSTOMER_ID;
use super::value::FieldType;

/// `SetMeasure`'s body, kept as given so that `GET` answers it back. `aggregate` and `per`
/// are text here and checked by [`Measure::parse`], so that a wrong value is reported with
/// its field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MeasureDefinition {
    /// The display name.
    pub name: String,
    /// The entity whose items it sums up: a data source id, or Customer.
    pub entity: String,
    /// count, sum, average, min, max or countDistinct.
    pub aggregate: String,
    /// The field summed up; every aggregate but count needs one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Only items that pass this filter (the OData subset of Get items) count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// customer: one value per customer, stored as a Customer attribute; absent for a business measure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per: Option<String>,
    /// The Customer attribute a customer measure is stored as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
}

/// How the items are summed up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Aggregate {
    /// Items (with a field: items where it is not null). 0 over nothing.
    Count,
    /// 0 over nothing; integers sum to an integer.
    Sum,
    /// No value over nothing.
    Average,
    /// No value over nothing.
    Min,
    /// No value over nothing.
    Max,
    /// Different non-null values of the field (`5` and `5.0` are one). 0 over nothing.
    CountDistinct,
}

impl Aggregate {
    pub const ALL: [Aggregate; 6] = [
        Aggregate::Count,
        Aggregate::Sum,
        Aggregate::Average,
        Aggregate::Min,
        Aggregate::Max,
        Aggregate::CountDistinct,
    ];

    /// The name `SetMeasure` uses.
    pub fn name(self) -> &'static str {
        match self {
            Aggregate::Count => "count",
            Aggregate::Sum => "sum",
            Aggregate::Average => "average",
            Aggregate::Min => "min",
            Aggregate::Max => "max",
            Aggregate::CountDistinct => "countDistinct",
        }
    }

    pub fn parse(name: &str) -> Option<Aggregate> {
        Aggregate::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Whether it needs a `field`.
    pub fn needs_field(self) -> bool {
        !matches!(self, Aggregate::Count)
    }

    /// Whether its field must hold numbers: a measure's value is a number, so the field of
    /// a sum, an average, a min or a max is an integer or a number field.
    pub fn needs_number(self) -> bool {
        matches!(
            self,
            Aggregate::Sum | Aggregate::Average | Aggregate::Min | Aggregate::Max
        )
    }

    /// The type of its value over a field of type `field` (`None`: no field).
    pub fn value_type(self, field: Option<FieldType>) -> FieldType {
        match self {
            Aggregate::Count | Aggregate::CountDistinct => FieldType::Integer,
            Aggregate::Average => FieldType::Number,
            Aggregate::Sum | Aggregate::Min | Aggregate::Max => match field {
                Some(FieldType::Integer) => FieldType::Integer,
                _ => FieldType::Number,
            },
        }
    }
}

/// A business measure gives one number; a customer measure one per customer, stored as a
/// `Customer` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Per {
    Business,
    Customer { attribute: String },
}

/// What is wrong with a measure, and in which field: `Display` gives `field: problem`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct MeasureDefinitionError {
    /// The field of `SetMeasure` it is about.
    pub path: &'static str,
    pub problem: MeasureProblem,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MeasureProblem {
    #[error("a measure needs a name")]
    EmptyName,
    #[error("not a valid entity name: {0}")]
    BadEntity(EntityNameError),
    #[error(
        "unknown aggregate \"{name}\"; expected count, sum, average, min, max or countDistinct"
    )]
    UnknownAggregate { name: String },
    #[error("{aggregate} needs a field")]
    FieldNeeded { aggregate: &'static str },
    #[error("{0}")]
    Filter(FilterError),
    #[error("unknown value \"{name}\"; the only one is \"customer\"")]
    UnknownPer { name: String },
    #[error("a customer measure needs the Customer attribute to store its values in")]
    AttributeNeeded,
    #[error("only a customer measure (per: customer) is stored in an attribute")]
    AttributeWithoutPer,
    #[error("\"{CUSTOMER_ID}\" is the engine's identifier of a customer")]
    ReservedAttribute,
    #[error("no field \"{field}\" in entity \"{entity}\"")]
    UnknownField { field: String, entity: String },
    #[error("{aggregate} needs numbers, but field \"{field}\" of entity \"{entity}\" is {ty}")]
    NotNumeric {
        aggregate: &'static str,
        field: String,
        entity: String,
        ty: FieldType,
    },
    #[error(
        "entity \"{entity}\" has no {CUSTOMER_ID} field; a customer measure needs an activity source linked to unified customers"
    )]
    NoCustomerId { entity: String },
}

fn invalid(path: &'static str, problem: MeasureProblem) -> MeasureDefinitionError {
    MeasureDefinitionError { path, problem }
}

/// Why a measure could not be computed (or its values stored). Each case has a stable
/// [`MeasureError::code`].
#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    #[error("The measure is not valid: {0}")]
    Invalid(#[from] MeasureDefinitionError),
    #[error("Entity \"{entity}\" has no items yet.")]
    NoItems { entity: String },
    #[error("The sum does not fit in a 64-bit integer.")]
    Overflow,
    #[error("Measure \"{name}\" is a business measure; it has no values per customer.")]
    NotPerCustomer { name: String },
    #[error("Two customer measures store their values in the attribute \"{attribute}\".")]
    DuplicateAttribute { attribute: String },
    #[error("The Customer entity changed while its measures were computed; compute them again.")]
    CustomersChanged,
    #[error("The measures' attributes do not make a valid schema.")]
    Schema(#[from] SchemaError),
    #[error("The items could not be read or stored.")]
    Store(#[from] ItemsError),
}

impl MeasureError {
    /// The stable snake_case code of the failure.
    pub fn code(&self) -> &'static str {
        match self {
            MeasureError::Invalid(_) => "invalid_measure",
            MeasureError::NoItems { .. } => "not_refreshed",
            MeasureError::Overflow => "overflow",
            MeasureError::NotPerCustomer { .. } => "not_per_customer",
            MeasureError::DuplicateAttribute { .. } => "duplicate_attribute",
            MeasureError::CustomersChanged => "customers_changed",
            MeasureError::Schema(_) => "invalid_schema",
            MeasureError::Store(_) => "storage_failure",
        }
    }
}

/// A checked measure.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    name: String,
    entity: EntityName,
    aggregate: Aggregate,
    field: Option<String>,
    filter: Option<Filter>,
    per: Per,
}

/// A measure checked against one schema: positions instead of names.
pub(crate) struct Bound {
    /// The field's position and type.
    field: Option<(usize, FieldType)>,
    filter: Option<BoundFilter>,
    /// The `CustomerId` field's position, for a customer measure.
    customer_id: Option<usize>,
}

impl Measure {
    /// Checks everything that needs no schema: names, the aggregate and its field, the
    /// filter's syntax (the error gives its position), `per` and `attribute`.
    pub fn parse(definition: &MeasureDefinition) -> Result<Measure, MeasureDefinitionError> {
        if definition.name.trim().is_empty() {
            return Err(invalid("name", MeasureProblem::EmptyName));
        }
        let entity = EntityName::parse(&definition.entity)
            .map_err(|e| invalid("entity", MeasureProblem::BadEntity(e)))?;
        let aggregate = Aggregate::parse(&definition.aggregate).ok_or_else(|| {
            invalid(
                "aggregate",
                MeasureProblem::UnknownAggregate {
                    name: definition.aggregate.clone(),
                },
            )
        })?;
        if aggregate.needs_field() && definition.field.is_none() {
            return Err(invalid(
                "field",
                MeasureProblem::FieldNeeded {
                    aggregate: aggregate.name(),
                },
            ));
        }
        let filter = definition
            .filter
            .as_deref()
            .map(Filter::parse)
            .transpose()
            .map_err(|e| invalid("filter", MeasureProblem::Filter(e)))?;
        let per = match (definition.per.as_deref(), &definition.attribute) {
            (None, None) => Per::Business,
            (None, Some(_)) => {
                return Err(invalid("attribute", MeasureProblem::AttributeWithoutPer));
            }
            (Some("customer"), None) => {
                return Err(invalid("attribute", MeasureProblem::AttributeNeeded));
            }
            (Some("customer"), Some(attribute)) => {
                if attribute.is_empty() {
                    return Err(invalid("attribute", MeasureProblem::AttributeNeeded));
                }
                if attribute == CUSTOMER_ID {
                    return Err(invalid("attribute", MeasureProblem::ReservedAttribute));
                }
                Per::Customer {
                    attribute: attribute.clone(),
                }
            }
            (Some(other), _) => {
                return Err(invalid(
                    "per",
                    MeasureProblem::UnknownPer {
                        name: other.to_owned(),
                    },
                ));
            }
        };
        Ok(Measure {
            name: definition.name.clone(),
            entity,
            aggregate,
            field: definition.field.clone(),
            filter,
            per,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The entity whose items it sums up.
    pub fn entity(&self) -> &EntityName {
        &self.entity
    }

    pub fn aggregate(&self) -> Aggregate {
        self.aggregate
    }

    pub fn per(&self) -> &Per {
        &self.per
    }

    /// Checks the measure against its entity's current schema: the field exists (and holds
    /// numbers where the aggregate needs them), the filter's fields exist and compare, and a
    /// customer measure's entity has `CustomerId`.
    pub fn check(&self, schema: &Schema) -> Result<(), MeasureDefinitionError> {
        self.bind(schema).map(|_| ())
    }

    pub(crate) fn bind(&self, schema: &Schema) -> Result<Bound, MeasureDefinitionError> {
        let field = match &self.field {
            None => None,
            Some(name) => {
                let position = schema.position(name).ok_or_else(|| {
                    invalid(
                        "field",
                        MeasureProblem::UnknownField {
                            field: name.clone(),
                            entity: self.entity.to_string(),
                        },
                    )
                })?;
                let ty = schema.field(position).map_or(FieldType::String, |f| f.ty);
                if self.aggregate.needs_number() && !ty.is_numeric() {
                    return Err(invalid(
                        "field",
                        MeasureProblem::NotNumeric {
                            aggregate: self.aggregate.name(),
                            field: name.clone(),
                            entity: self.entity.to_string(),
                            ty,
                        },
                    ));
                }
                Some((position, ty))
            }
        };
        let filter = self
            .filter
            .as_ref()
            .map(|f| f.bind(schema))
            .transpose()
            .map_err(|e| invalid("filter", MeasureProblem::Filter(e)))?;
        let customer_id = match self.per {
            Per::Business => None,
            Per::Customer { .. } => Some(schema.position(CUSTOMER_ID).ok_or_else(|| {
                invalid(
                    "entity",
                    MeasureProblem::NoCustomerId {
                        entity: self.entity.to_string(),
                    },
                )
            })?),
        };
        Ok(Bound {
            field,
            filter,
            customer_id,
        })
    }
}
