//! The schema of an entity: its fields in order, each with a type, and which one is the
//! primary key. Checked once when built, so that a `Schema` is always usable.

use serde::{Deserialize, Serialize};

use super::value::FieldType;

/// One field of an entity, as `GetEntities` lists it (`{"name", "type"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: FieldType,
}

impl Field {
    pub fn new(name: impl Into<String>, ty: FieldType) -> Field {
        Field {
            name: name.into(),
            ty,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SchemaError {
    #[error("an entity needs at least one field")]
    NoFields,
    #[error("field {position} has an empty name")]
    EmptyFieldName { position: usize },
    #[error("the field '{name}' appears twice")]
    DuplicateField { name: String },
    #[error("the primary key '{name}' is not one of the fields")]
    MissingPrimaryKey { name: String },
}

/// Fields in order (a row's values follow it) and the primary key's position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SchemaRecord", into = "SchemaRecord")]
pub struct Schema {
    fields: Vec<Field>,
    primary_key: usize,
}

/// The stored and answered shape: `{"fields": [...], "primaryKey": "<field>"}`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SchemaRecord {
    fields: Vec<Field>,
    primary_key: String,
}

impl Schema {
    pub fn new(fields: Vec<Field>, primary_key: &str) -> Result<Schema, SchemaError> {
        if fields.is_empty() {
            return Err(SchemaError::NoFields);
        }
        let mut seen = std::collections::HashSet::with_capacity(fields.len());
        for (position, field) in fields.iter().enumerate() {
            if field.name.is_empty() {
                return Err(SchemaError::EmptyFieldName { position });
            }
            if !seen.insert(field.name.as_str()) {
                return Err(SchemaError::DuplicateField {
                    name: field.name.clone(),
                });
            }
        }
        let primary_key = fields
            .iter()
            .position(|f| f.name == primary_key)
            .ok_or_else(|| SchemaError::MissingPrimaryKey {
                name: primary_key.to_owned(),
            })?;
        Ok(Schema {
            fields,
            primary_key,
        })
    }

    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Never true: a schema has at least one field.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    pub fn field(&self, position: usize) -> Option<&Field> {
        self.fields.get(position)
    }

    /// The position of the field named `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// The primary key's position.
    pub fn primary_key(&self) -> usize {
        self.primary_key
    }

    pub fn primary_key_field(&self) -> &Field {
        &self.fields[self.primary_key]
    }
}

impl TryFrom<SchemaRecord> for Schema {
    type Error = SchemaError;

    fn try_from(record: SchemaRecord) -> Result<Schema, SchemaError> {
        Schema::new(record.fields, &record.primary_key)
    }
}

impl From<Schema> for SchemaRecord {
    fn from(schema: Schema) -> SchemaRecord {
        let primary_key = schema.primary_key_field().name.clone();
        SchemaRecord {
            fields: schema.fields,
            primary_key,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_schemas_are_refused_with_the_reason() {
        let f = |name: &str| Field::new(name, FieldType::String);
        let cases = [
            (vec![], "id", SchemaError::NoFields, "no fields"),
            (
                vec![f("id"), f("")],
                "id",
                SchemaError::EmptyFieldName { position: 1 },
                "an unnamed column",
            ),
            (
                vec![f("id"), f("id")],
                "id",
                SchemaError::DuplicateField { name: "id".into() },
                "two columns with one name",
            ),
            (
                vec![f("id")],
                "Id",
                SchemaError::MissingPrimaryKey { name: "Id".into() },
                "names are case-sensitive",
            ),
        ];
        for (fields, key, error, reason) in cases {
            assert_eq!(Schema::new(fields, key), Err(error), "{reason}");
        }
    }

    #[test]
    fn a_schema_round_trips_through_its_json_shape() {
        let schema = Schema::new(
            vec![
                Field::new("id", FieldType::Integer),
                Field::new("name", FieldType::String),
            ],
            "id",
        );
        let schema = schema.unwrap_or_else(|e| panic!("valid: {e}"));
        let json = serde_json::to_value(&schema).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            json,
            serde_json::json!({"fields": [{"name": "id", "type": "integer"}, {"name": "name", "type": "string"}], "primaryKey": "id"})
        );
        let back: Schema = serde_json::from_value(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, schema);
    }
}
