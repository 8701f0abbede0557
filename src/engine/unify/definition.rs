//! The unification definition as `SetUnification` carries and stores it (map, match), and
//! its checked form: every name resolved, every normalization known, every error naming the
//! field it is about (`sources[1].attributes.Email: no field "mail" in data source "crm"`).

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;

use super::normalize::Normalization;
use super::{CUSTOMER_ENTITY, CUSTOMER_ID};
use crate::engine::items::{EntityName, EntityNameError};
use crate::engine::schema::Schema;

/// `SetUnification`'s body, kept as given so that `GET` answers it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UnificationDefinition {
    /// The customer sources, in merge order: a unified attribute takes the first non-empty value in this order.
    pub sources: Vec<SourceDefinition>,
    /// The match rules: two records match when every condition of at least one rule holds.
    pub rules: Vec<RuleDefinition>,
}

/// One source of customer records and how its fields map to unified attributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SourceDefinition {
    /// A data source of the instance holding customer records.
    pub data_source_id: String,
    /// Each unified attribute and the field of this source it takes its value from.
    #[schema(value_type = std::collections::BTreeMap<String, String>)]
    pub attributes: AttributeMap,
}

/// `{"<UnifiedAttribute>": "<source field>", ...}` in the order written: the order of the
/// unified attributes in the `Customer` entity follows it. A JSON object that names one
/// attribute twice is refused rather than read as its last value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttributeMap(pub Vec<(String, String)>);

/// A match rule: records match when every condition's normalized values are equal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleDefinition {
    /// The rule's name.
    pub name: String,
    /// The conditions, all of which must hold.
    pub conditions: Vec<ConditionDefinition>,
}

/// One condition of a rule: a unified attribute whose normalized values must be equal and not empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConditionDefinition {
    /// A unified attribute that a source maps.
    pub attribute: String,
    /// Normalizations applied in order: trim, lowercase, ascii, digits or noWhitespace.
    // Names, checked by `Unification::parse` so that an unknown one is reported with its
    // place rather than as a shape error.
    #[serde(default)]
    pub normalize: Vec<String>,
}

/// What is wrong with a definition, and where: `Display` gives `path: problem`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct DefinitionError {
    /// The field in the definition's JSON, e.g. `rules[0].conditions[1].attribute`.
    pub path: String,
    pub problem: Problem,
}

impl DefinitionError {
    fn new(path: impl Into<String>, problem: Problem) -> DefinitionError {
        DefinitionError {
            path: path.into(),
            problem,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("at least one source is needed")]
    NoSources,
    #[error("at least one rule is needed")]
    NoRules,
    #[error("a rule needs at least one condition")]
    NoConditions,
    #[error("a rule needs a name")]
    EmptyRuleName,
    #[error("not a valid data source id: {0}")]
    BadDataSourceId(EntityNameError),
    #[error("\"{CUSTOMER_ENTITY}\" is the unified entity, not a data source")]
    CustomerIsNoSource,
    #[error("data source \"{id}\" is already sources[{first}]")]
    DuplicateSource { id: String, first: usize },
    #[error("a source maps at least one attribute")]
    NoAttributes,
    #[error("a unified attribute needs a name")]
    EmptyAttribute,
    #[error("\"{CUSTOMER_ID}\" is the engine's identifier of a customer and cannot be mapped")]
    ReservedAttribute,
    #[error("the source field name is empty")]
    EmptyField,
    #[error("\"{name}\" is not an attribute that any source maps")]
    UnknownAttribute { name: String },
    #[error(
        "unknown normalization \"{name}\"; expected trim, lowercase, ascii, digits or noWhitespace"
    )]
    UnknownNormalization { name: String },
    #[error("no data source \"{id}\"")]
    UnknownDataSource { id: String },
    #[error("no field \"{field}\" in data source \"{source_id}\"")]
    UnknownField { field: String, source_id: String },
    #[error("data source \"{id}\" has no items yet; refresh it first")]
    NotRefreshed { id: String },
}

/// A checked unification: names resolved to positions, normalizations parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unification {
    attributes: Vec<String>,
    sources: Vec<UnifiedSource>,
    rules: Vec<Rule>,
}

/// One source of a checked unification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnifiedSource {
    pub id: EntityName,
    /// (unified attribute position, source field name), in the order written.
    pub fields: Vec<(usize, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub name: String,
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The unified attribute's position in [`Unification::attributes`].
    pub attribute: usize,
    pub normalize: Vec<Normalization>,
}

/// What the engine knows of a data source that a unification names, for
/// [`Unification::check_sources`].
#[derive(Debug, Clone, Copy)]
pub enum KnownSource<'a> {
    /// No data source has that id.
    Undefined,
    /// Defined, but never refreshed: its fields are not known yet.
    NoItems,
    /// Its entity's current schema.
    Items(&'a Schema),
}

impl Unification {
    /// Checks the definition's shape: sources and rules present, names valid, each condition
    /// naming an attribute some source maps, each normalization known. Fields of the sources
    /// are checked by [`Unification::check_sources`], against their current schemas.
    pub fn parse(definition: &UnificationDefinition) -> Result<Unification, DefinitionError> {
        if definition.sources.is_empty() {
            return Err(DefinitionError::new("sources", Problem::NoSources));
        }
        if definition.rules.is_empty() {
            return Err(DefinitionError::new("rules", Problem::NoRules));
        }
        let mut attributes: Vec<String> = Vec::new();
        let mut sources: Vec<UnifiedSource> = Vec::with_capacity(definition.sources.len());
        for (n, source) in definition.sources.iter().enumerate() {
            let path = format!("sources[{n}]");
            let id = EntityName::parse(&source.data_source_id).map_err(|e| {
                DefinitionError::new(format!("{path}.dataSourceId"), Problem::BadDataSourceId(e))
            })?;
            if id.as_str() == CUSTOMER_ENTITY {
                return Err(DefinitionError::new(
                    format!("{path}.dataSourceId"),
                    Problem::CustomerIsNoSource,
                ));
            }
            if let Some(first) = sources.iter().position(|s| s.id == id) {
                return Err(DefinitionError::new(
                    format!("{path}.dataSourceId"),
                    Problem::DuplicateSource {
                        id: id.to_string(),
                        first,
                    },
                ));
            }
            if source.attributes.0.is_empty() {
                return Err(DefinitionError::new(
                    format!("{path}.attributes"),
                    Problem::NoAttributes,
                ));
            }
            let mut fields = Vec::with_capacity(source.attributes.0.len());
            for (attribute, field) in &source.attributes.0 {
                let at = format!("{path}.attributes.{attribute}");
                if attribute.is_empty() {
                    return Err(DefinitionError::new(at, Problem::EmptyAttribute));
                }
                if attribute == CUSTOMER_ID {
                    return Err(DefinitionError::new(at, Problem::ReservedAttribute));
                }
                if field.is_empty() {
                    return Err(DefinitionError::new(at, Problem::EmptyField));
                }
                let position = match attributes.iter().position(|a| a == attribute) {
                    Some(position) => position,
                    None => {
                        attributes.push(attribute.clone());
                        attributes.len() - 1
                    }
                };
                fields.push((position, field.clone()));
            }
            sources.push(UnifiedSource { id, fields });
        }
        let mut rules = Vec::with_capacity(definition.rules.len());
        for (n, rule) in definition.rules.iter().enumerate() {
            let path = format!("rules[{n}]");
            if rule.name.trim().is_empty() {
                return Err(DefinitionError::new(
                    format!("{path}.name"),
                    Problem::EmptyRuleName,
                ));
            }
            if rule.conditions.is_empty() {
                return Err(DefinitionError::new(
                    format!("{path}.conditions"),
                    Problem::NoConditions,
                ));
            }
            let mut conditions = Vec::with_capacity(rule.conditions.len());
            for (c, condition) in rule.conditions.iter().enumerate() {
                let path = format!("{path}.conditions[{c}]");
                let attribute = attributes
                    .iter()
                    .position(|a| *a == condition.attribute)
                    .ok_or_else(|| {
                        DefinitionError::new(
                            format!("{path}.attribute"),
                            Problem::UnknownAttribute {
                                name: condition.attribute.clone(),
                            },
                        )
                    })?;
                let normalize = condition
                    .normalize
                    .iter()
                    .enumerate()
                    .map(|(k, name)| {
                        Normalization::parse(name).ok_or_else(|| {
                            DefinitionError::new(
                                format!("{path}.normalize[{k}]"),
                                Problem::UnknownNormalization { name: name.clone() },
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?;
                conditions.push(Condition {
                    attribute,
                    normalize,
                });
            }
            rules.push(Rule {
                name: rule.name.clone(),
                conditions,
            });
        }
        Ok(Unification {
            attributes,
            sources,
            rules,
        })
    }

    /// Checks each source against what the engine knows of it: an undefined data source or a
    /// mapped field missing from its schema is an error; a source without items yet cannot be
    /// checked (unification checks it again when it runs).
    pub fn check_sources<'a>(
        &self,
        known: impl Fn(&EntityName) -> KnownSource<'a>,
    ) -> Result<(), DefinitionError> {
        for (n, source) in self.sources.iter().enumerate() {
            match known(&source.id) {
                KnownSource::Undefined => {
                    return Err(DefinitionError::new(
                        format!("sources[{n}].dataSourceId"),
                        Problem::UnknownDataSource {
                            id: source.id.to_string(),
                        },
                    ));
                }
                KnownSource::NoItems => {}
                KnownSource::Items(schema) => {
                    self.field_positions(n, schema)?;
                }
            }
        }
        Ok(())
    }

    /// For source `n`, the position in `schema` of each unified attribute's field (`None`
    /// for an attribute this source does not map).
    pub(super) fn field_positions(
        &self,
        n: usize,
        schema: &Schema,
    ) -> Result<Vec<Option<usize>>, DefinitionError> {
        let source = &self.sources[n];
        let mut positions = vec![None; self.attributes.len()];
        for (attribute, field) in &source.fields {
            let position = schema.position(field).ok_or_else(|| {
                DefinitionError::new(
                    format!("sources[{n}].attributes.{}", self.attributes[*attribute]),
                    Problem::UnknownField {
                        field: field.clone(),
                        source_id: source.id.to_string(),
                    },
                )
            })?;
            positions[*attribute] = Some(position);
        }
        Ok(positions)
    }

    pub(super) fn not_refreshed(&self, n: usize) -> DefinitionError {
        DefinitionError::new(
            format!("sources[{n}].dataSourceId"),
            Problem::NotRefreshed {
                id: self.sources[n].id.to_string(),
            },
        )
    }

    /// The unified attributes, in order of first appearance: the `Customer` fields after
    /// `CustomerId`.
    pub fn attributes(&self) -> &[String] {
        &self.attributes
    }

    pub fn sources(&self) -> &[UnifiedSource] {
        &self.sources
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }
}

impl Serialize for AttributeMap {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (attribute, field) in &self.0 {
            map.serialize_entry(attribute, field)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for AttributeMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<AttributeMap, D::Error> {
        struct Entries;

        impl<'de> Visitor<'de> for Entries {
            type Value = AttributeMap;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of unified attribute names to source field names")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<AttributeMap, A::Error> {
                let mut entries: Vec<(String, String)> = Vec::new();
                while let Some((attribute, field)) = access.next_entry::<String, String>()? {
                    if entries.iter().any(|(a, _)| *a == attribute) {
                        return Err(serde::de::Error::custom(format!(
                            "the attribute \"{attribute}\" is mapped twice"
                        )));
                    }
                    entries.push((attribute, field));
                }
                Ok(AttributeMap(entries))
            }
        }

        deserializer.deserialize_map(Entries)
    }
}
