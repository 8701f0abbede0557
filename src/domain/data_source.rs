//! A data source of the built-in engine, as `SetDataSource` defines it: its format, primary key,
//! where its rows come from (an upload, a file under the import directory, or a URL) and, for
//! an activity source, which field names a customer. Checked once when built.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use super::catalog::ItemId;
use super::ids::InstanceId;
use super::patterns::{self, CALLBACK_URL_MAX_BYTES, FIELD_NAME_MAX_CHARS, IMPORT_PATH_MAX_CHARS};

/// The entity of the unified customer profiles: no data source may take its name.
pub const UNIFIED_ENTITY: &str = "Customer";

/// How a data source's rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    /// RFC 4180 CSV with a header row.
    Csv,
    /// JSON Lines: one flat object per line.
    Jsonl,
}

impl SourceFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Jsonl => "jsonl",
        }
    }
}

/// Why a definition was refused; each message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataSourceError {
    #[error(
        "'{UNIFIED_ENTITY}' is the entity of the unified customer profiles; give the data source another id."
    )]
    ReservedId,
    #[error(
        "name must be 1 to {} characters, not all spaces.",
        patterns::NAME_MAX_CHARS
    )]
    Name,
    #[error("{field} must be 1 to {FIELD_NAME_MAX_CHARS} characters naming a field of the source.")]
    FieldName { field: &'static str },
    #[error(
        "source.path must be a path relative to the import directory, of 1 to {IMPORT_PATH_MAX_CHARS} characters, without '..', empty segments or control characters."
    )]
    Path,
    #[error(
        "source.url must be an absolute http or https URL naming a host, without a user name or password, of at most {CALLBACK_URL_MAX_BYTES} URL-safe characters."
    )]
    Url,
    #[error(
        "customer.dataSourceId names this data source itself; name the source of its customers."
    )]
    CustomerIsItself,
}

/// A path under the import directory: relative, without `..` or empty segments. Where it
/// leads is checked again when it is read (links out of the directory are refused then).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ImportPath(String);

impl ImportPath {
    pub fn parse(raw: &str) -> Result<Self, DataSourceError> {
        if patterns::is_import_path(raw) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(DataSourceError::Path)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ImportPath {
    type Error = DataSourceError;

    fn try_from(raw: String) -> Result<Self, DataSourceError> {
        Self::parse(&raw)
    }
}

impl From<ImportPath> for String {
    fn from(path: ImportPath) -> Self {
        path.0
    }
}

/// The URL of a `url` data source: absolute http(s), a host the callback address rules can
/// judge, no credentials (they would be stored and shown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SourceUrl(Url);

impl SourceUrl {
    pub fn parse(raw: &str) -> Result<Self, DataSourceError> {
        if raw.len() > CALLBACK_URL_MAX_BYTES || !patterns::is_callback_url(raw) {
            return Err(DataSourceError::Url);
        }
        let url = Url::parse(raw).map_err(|_| DataSourceError::Url)?;
        let credentials = !url.username().is_empty() || url.password().is_some();
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() || credentials {
            return Err(DataSourceError::Url);
        }
        Ok(Self(url))
    }

    pub fn as_url(&self) -> &Url {
        &self.0
    }
}

/// Reading back what was stored: it passed `parse` once, and its normalized form may differ
/// from what was sent (the `/` of an empty path, one character past the limit), so only its
/// shape is checked again.
impl TryFrom<String> for SourceUrl {
    type Error = DataSourceError;

    fn try_from(raw: String) -> Result<Self, DataSourceError> {
        let url = Url::parse(&raw).map_err(|_| DataSourceError::Url)?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(DataSourceError::Url);
        }
        Ok(Self(url))
    }
}

impl From<SourceUrl> for String {
    fn from(url: SourceUrl) -> Self {
        url.0.into()
    }
}

impl fmt::Display for SourceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// Where a refresh reads the rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Source {
    /// The latest content uploaded with `PUT .../content`.
    Upload,
    /// A file under `INSIGHTS_IMPORT_DIR`.
    File { path: ImportPath },
    /// An http(s) URL, fetched through the callback address guard.
    Url { url: SourceUrl },
}

impl Source {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Upload => "upload",
            Self::File { .. } => "file",
            Self::Url { .. } => "url",
        }
    }
}

/// An activity source's link to its customers: `field` holds the primary key of a row of the
/// customer source `data_source_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerLink {
    pub data_source_id: ItemId,
    pub field: String,
}

/// A data source definition, as stored. Its items are the entity named like its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataSource {
    pub instance_id: InstanceId,
    pub id: ItemId,
    pub name: String,
    pub format: SourceFormat,
    pub primary_key: String,
    pub source: Source,
    pub customer: Option<CustomerLink>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a definition says, before it is stamped and stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub name: String,
    pub format: SourceFormat,
    pub primary_key: String,
    pub source: Source,
    pub customer: Option<CustomerLink>,
}

impl Definition {
    /// Checks a definition of the data source `id`: names and fields. Whether the customer
    /// source is another defined data source is the store's question.
    pub fn check(self, id: &ItemId) -> Result<Self, DataSourceError> {
        if id.as_str() == UNIFIED_ENTITY {
            return Err(DataSourceError::ReservedId);
        }
        if self.name.chars().count() > patterns::NAME_MAX_CHARS || !patterns::is_name(&self.name) {
            return Err(DataSourceError::Name);
        }
        if !patterns::is_field_name(&self.primary_key) {
            return Err(DataSourceError::FieldName {
                field: "primaryKey",
            });
        }
        if let Some(customer) = &self.customer
            && !patterns::is_field_name(&customer.field)
        {
            return Err(DataSourceError::FieldName {
                field: "customer.field",
            });
        }
        Ok(self)
    }

    /// The stored data source: new at `now`, or replacing `known` (whose creation time it
    /// keeps).
    pub fn into_data_source(
        self,
        instance_id: InstanceId,
        id: ItemId,
        known: Option<&DataSource>,
        now: DateTime<Utc>,
    ) -> DataSource {
        DataSource {
            instance_id,
            id,
            name: self.name,
            format: self.format,
            primary_key: self.primary_key,
            source: self.source,
            customer: self.customer,
            created_at: known.map_or(now, |k| k.created_at),
            updated_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition() -> Definition {
        Definition {
            name: "CRM contacts".into(),
            format: SourceFormat::Csv,
            primary_key: "ContactId".into(),
            source: Source::Upload,
            customer: None,
        }
    }

    #[test]
    fn bad_definitions_are_refused_naming_the_field() {
        let id = |raw: &str| ItemId::parse(raw).expect("a valid id");
        let cases = [
            (
                id("Customer"),
                definition(),
                DataSourceError::ReservedId,
                "the unified entity's name",
            ),
            (
                id("crm"),
                Definition {
                    name: "   ".into(),
                    ..definition()
                },
                DataSourceError::Name,
                "a blank name",
            ),
            (
                id("crm"),
                Definition {
                    primary_key: String::new(),
                    ..definition()
                },
                DataSourceError::FieldName {
                    field: "primaryKey",
                },
                "no primary key",
            ),
            (
                id("orders"),
                Definition {
                    customer: Some(CustomerLink {
                        data_source_id: id("crm"),
                        field: "x".repeat(FIELD_NAME_MAX_CHARS + 1),
                    }),
                    ..definition()
                },
                DataSourceError::FieldName {
                    field: "customer.field",
                },
                "a customer field past the limit",
            ),
        ];
        for (id, definition, error, why) in cases {
            assert_eq!(definition.check(&id), Err(error.clone()), "{why}");
            assert!(error.to_string().len() > 20, "{why}: a sentence");
        }
        assert!(
            definition().check(&id("customer")).is_ok(),
            "ids are case-sensitive"
        );
    }

    #[test]
    fn a_source_url_at_the_length_limit_reads_back_after_normalization() {
        let raw = format!(
            "https://{}",
            "a".repeat(CALLBACK_URL_MAX_BYTES - "https://".len())
        );
        let url = SourceUrl::parse(&raw).expect("at the limit");
        let stored = serde_json::to_string(&url).expect("serializes");
        assert!(
            stored.len() > CALLBACK_URL_MAX_BYTES + 2,
            "normalization added the path"
        );
        let back: SourceUrl = serde_json::from_str(&stored).expect("reads back");
        assert_eq!(back, url);
    }

    #[test]
    fn source_urls_are_absolute_http_without_credentials() {
        assert!(SourceUrl::parse("https://data.example.com/crm.csv?x=1").is_ok());
        for bad in [
            "ftp://example.com/a.csv",
            "https://user:secret@example.com/a.csv",
            "/relative.csv",
            "https://",
        ] {
            assert_eq!(SourceUrl::parse(bad), Err(DataSourceError::Url), "{bad}");
        }
    }

    #[test]
    fn a_data_source_is_stored_as_this_json() {
        let at: DateTime<Utc> = "2026-01-02T03:04:05Z".parse().expect("a time");
        let source = DataSource {
            instance_id: InstanceId(uuid::Uuid::from_u128(7)),
            id: ItemId::parse("orders").expect("an id"),
            name: "Orders".into(),
            format: SourceFormat::Jsonl,
            primary_key: "OrderId".into(),
            source: Source::File {
                path: ImportPath::parse("in/orders.jsonl").expect("a path"),
            },
            customer: Some(CustomerLink {
                data_source_id: ItemId::parse("crm").expect("an id"),
                field: "ContactId".into(),
            }),
            created_at: at,
            updated_at: at,
        };
        let json = serde_json::to_value(&source).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({
                "instanceId": "00000000-0000-0000-0000-000000000007",
                "id": "orders", "name": "Orders", "format": "jsonl", "primaryKey": "OrderId",
                "source": {"kind": "file", "path": "in/orders.jsonl"},
                "customer": {"dataSourceId": "crm", "field": "ContactId"},
                "createdAt": "2026-01-02T03:04:05Z", "updatedAt": "2026-01-02T03:04:05Z",
            })
        );
        let back: DataSource = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, source);
        let url = serde_json::json!({"kind": "url", "url": "https://example.com/a.csv"});
        let read: Source = serde_json::from_value(url.clone()).expect("a url source");
        assert_eq!(serde_json::to_value(read).expect("serializes"), url);
        let upload: Source =
            serde_json::from_value(serde_json::json!({"kind": "upload"})).expect("an upload");
        assert_eq!(upload, Source::Upload);
    }
}
