//! Unification (map, match, merge): customer records of several data sources become one
//! `Customer` entity of profiles, and activity items learn their `CustomerId`. Reads and
//! writes entities through the item store only; no HTTP, no sled.
//!
//! - `definition`: `SetUnification`'s shape and its checked form, errors naming the field.
//! - `normalize`: the normalizations of match conditions.
//! - `compute`: matching (hash buckets per rule, union-find), merging, the `Customer` entity.
//! - `activity`: the map from a customer record to its profile, and the `CustomerId` column
//!   of activity sources.

mod activity;
mod compute;
mod definition;
mod normalize;
#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

use std::fmt;

pub use activity::{ActivityLink, CustomerIndex, link_activity};
pub use compute::{MAX_RECORDS, UnificationCounts, Unified, customer_entity, unify};
pub use definition::{
    AttributeMap, Condition, ConditionDefinition, DefinitionError, KnownSource, Problem, Rule,
    RuleDefinition, SourceDefinition, Unification, UnificationDefinition, UnifiedSource,
};
pub use normalize::{Normalization, Normalizer};

use crate::engine::items::ItemsError;
use crate::engine::schema::SchemaError;

/// The entity of unified profiles.
pub const CUSTOMER_ENTITY: &str = "Customer";
/// The primary key of `Customer`, and the field activity items name their customer by.
pub const CUSTOMER_ID: &str = "CustomerId";

/// Why a unification (or linking an activity source to it) did not complete. Each case has a
/// stable [`UnifyError::code`].
#[derive(Debug, thiserror::Error)]
pub enum UnifyError {
    #[error("The unification is not valid: {0}.")]
    Definition(#[from] DefinitionError),
    #[error("The customer sources hold more than {MAX_RECORDS} records.")]
    TooManyRecords,
    #[error(
        "Activity source \"{activity}\" names customers of \"{customer_source}\", which is not a source of the unification."
    )]
    NotUnified {
        activity: String,
        customer_source: String,
    },
    #[error("Activity source \"{activity}\" has no field \"{field}\" to name its customer by.")]
    UnknownActivityField { activity: String, field: String },
    #[error("Activity source \"{activity}\" has no items yet.")]
    NoActivityItems { activity: String },
    #[error("The unified attributes do not make a valid schema.")]
    Schema(#[from] SchemaError),
    #[error("The items could not be read or stored.")]
    Store(#[from] ItemsError),
}

impl UnifyError {
    /// The stable snake_case code of the failure (a refresh's `errorCode`).
    pub fn code(&self) -> &'static str {
        match self {
            UnifyError::Definition(_) => "invalid_unification",
            UnifyError::TooManyRecords => "too_many_records",
            UnifyError::NotUnified { .. } => "customer_source_not_unified",
            UnifyError::UnknownActivityField { .. } => "unknown_field",
            UnifyError::NoActivityItems { .. } => "not_refreshed",
            UnifyError::Schema(_) => "invalid_schema",
            UnifyError::Store(_) => "storage_failure",
        }
    }
}

/// The identifier of a unified profile: 128 bits of the SHA-256 of one member record's data
/// source id and primary key, the member whose hash is smallest (the `compute` module says why).
/// Written as 32 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CustomerId(u128);

impl CustomerId {
    pub fn as_u128(self) -> u128 {
        self.0
    }
}

impl fmt::Display for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}
