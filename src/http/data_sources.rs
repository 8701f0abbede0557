//! Data source definitions of the built-in engine: `SetDataSource` and the content upload.
//! Operator calls: in `openapi/`, not in the connector. A defined data source is in the
//! catalog at once, so flows can subscribe to its refreshes.

use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use actix_web::{HttpRequest, HttpResponse, put, web};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::catalog::DataSourcePath;
use super::error::ErrorCode;
use super::instances::owned_instance;
use super::{ApiError, AppState, Caller, parse_item_id};
use crate::delivery::guard::{self, GuardError};
use crate::domain::data_source::{CustomerLink, Definition};
use crate::domain::{DataSource, ImportPath, Source, SourceFormat, SourceUrl};
use crate::refresh::uploads::UploadError;
use crate::refresh::{OUTSIDE_IMPORT_DIR, resolve_import};
use crate::storage::Defined;

/// How a data source's rows are written.
#[derive(Deserialize, Serialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum FormatWire {
    /// RFC 4180 CSV, UTF-8, with a header row; an empty cell is null.
    Csv,
    /// JSON Lines: one flat JSON object per line.
    Jsonl,
}

impl From<FormatWire> for SourceFormat {
    fn from(format: FormatWire) -> Self {
        match format {
            FormatWire::Csv => Self::Csv,
            FormatWire::Jsonl => Self::Jsonl,
        }
    }
}

impl From<SourceFormat> for FormatWire {
    fn from(format: SourceFormat) -> Self {
        match format {
            SourceFormat::Csv => Self::Csv,
            SourceFormat::Jsonl => Self::Jsonl,
        }
    }
}

/// Where a refresh reads the rows, by `kind`.
#[derive(Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
pub enum SourceRequest {
    /// The latest content uploaded with `PUT .../data-sources/{dataSourceId}/content`.
    // A struct variant: serde refuses unknown fields of those only.
    Upload {},
    /// A file under the import directory (`INSIGHTS_IMPORT_DIR`).
    File {
        /// The file's path, relative to the import directory.
        path: String,
    },
    /// An http(s) URL, fetched through the same address guard as callbacks.
    Url {
        /// The absolute http(s) URL of the file.
        url: String,
    },
}

/// Marks each alternative of `SourceRequest` closed, as its `deny_unknown_fields` makes it:
/// utoipa says so of structs but not of enum variants, and a field another kind takes (a
/// `path` beside `kind: upload`) is refused.
pub fn close_source_alternatives(document: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{AdditionalProperties, Schema};
    let name = <SourceRequest as ToSchema>::name();
    let Some(RefOr::T(Schema::OneOf(one_of))) = document
        .components
        .as_mut()
        .and_then(|c| c.schemas.get_mut(name.as_ref()))
    else {
        return;
    };
    for item in &mut one_of.items {
        if let RefOr::T(Schema::Object(object)) = item {
            object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
        }
    }
}

/// An activity source's customers (orders, visits): each row names one by its primary key.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomerWire {
    /// The data source whose rows are the customers.
    pub data_source_id: String,
    /// The field of this source holding a customer's primary key.
    pub field: String,
}

/// A data source definition.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetDataSourceRequest {
    /// The display name, 1 to 100 characters.
    pub name: String,
    pub format: FormatWire,
    /// The field whose value identifies a row: present and unique in every row.
    pub primary_key: String,
    pub source: SourceRequest,
    pub customer: Option<CustomerWire>,
}

/// Where a data source reads its rows.
#[derive(Serialize, ToSchema)]
pub struct SourceResponse {
    /// `upload`, `file` or `url`.
    pub kind: String,
    /// The path under the import directory (`file` sources).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The URL (`url` sources).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A data source as defined.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataSourceDefinition {
    /// The data source id, also the name of its entity.
    pub id: String,
    /// The display name.
    pub name: String,
    pub format: FormatWire,
    /// The field whose value identifies a row.
    pub primary_key: String,
    pub source: SourceResponse,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<CustomerWire>,
    /// When it was first defined.
    pub created_at: DateTime<Utc>,
    /// When it was last defined.
    pub updated_at: DateTime<Utc>,
}

impl From<DataSource> for DataSourceDefinition {
    fn from(source: DataSource) -> Self {
        let (path, url) = match &source.source {
            Source::Upload => (None, None),
            Source::File { path } => (Some(path.as_str().to_owned()), None),
            Source::Url { url } => (None, Some(url.to_string())),
        };
        Self {
            id: source.id.to_string(),
            name: source.name,
            format: source.format.into(),
            primary_key: source.primary_key,
            source: SourceResponse {
                kind: source.source.kind().to_owned(),
                path,
                url,
            },
            customer: source.customer.map(|c| CustomerWire {
                data_source_id: c.data_source_id.to_string(),
                field: c.field,
            }),
            created_at: source.created_at,
            updated_at: source.updated_at,
        }
    }
}

/// Reads the body, naming the field of the first problem (`source.kind: unknown variant ...`).
pub(super) fn read_definition<T: serde::de::DeserializeOwned>(
    body: serde_json::Value,
) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(body).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match path.as_str() {
            "." => ApiError::invalid(format!("The definition is not valid: {inner}.")),
            field => ApiError::invalid(format!("{field}: {inner}.")),
        }
    })
}

/// Checks a source against the service: its URL's address, or where its path leads.
async fn check_source(state: &AppState, source: SourceRequest) -> Result<Source, ApiError> {
    let invalid = |err: crate::domain::DataSourceError| ApiError::invalid(err.to_string());
    Ok(match source {
        SourceRequest::Upload {} => Source::Upload,
        SourceRequest::File { path } => {
            let path = ImportPath::parse(&path).map_err(invalid)?;
            let Some(import_dir) = state.runner.import_dir() else {
                return Err(ApiError::invalid(
                    "source.kind: file data sources are off, since the service has no INSIGHTS_IMPORT_DIR; use an upload or a URL.",
                ));
            };
            // Only a path known to lead out is refused now: one that is missing or unreadable
            // may be fine by the refresh, which names what it finds then.
            if let Err(failure) = resolve_import(import_dir, &path)
                && failure.code == OUTSIDE_IMPORT_DIR
            {
                return Err(ApiError::invalid(format!(
                    "source.path: {}",
                    failure.message
                )));
            }
            Source::File { path }
        }
        SourceRequest::Url { url } => {
            let url = SourceUrl::parse(&url).map_err(invalid)?;
            guard::check_url(url.as_url(), state.allow_private_callbacks)
                .await
                .map_err(|err| {
                    ApiError::invalid(match err {
                        GuardError::NonPublic(ip) => format!(
                            "source.url points to a private, loopback or reserved address ({ip}), which data sources may not be read from."
                        ),
                        GuardError::Unresolvable => {
                            "source.url names a host that does not resolve.".to_owned()
                        }
                    })
                })?;
            Source::Url { url }
        }
    })
}

/// Define a data source
///
/// Defines (or replaces) a data source of the built-in engine: its format, primary key and
/// where its rows come from. Its items are the entity named like its id; it is in the catalog
/// at once, so flows can subscribe to its refreshes. Nothing is read until a refresh.
#[utoipa::path(operation_id = "SetDataSource", tag = "Engine",
    params(super::catalog::DataSourcePath),
    request_body = SetDataSourceRequest,
    responses(
        (status = 201, description = "Defined.", body = DataSourceDefinition,
            headers(("Location" = String, description = "The data source's URL."))),
        (status = 200, description = "The definition replaced the previous one.", body = DataSourceDefinition),
        (status = 404, description = "No such instance, or customer.dataSourceId names no other data source of it."),
        (status = 422, description = "A field is not valid; the message names it."),
    ),
    security(("bearer" = [])))]
#[put("/api/v1/instances/{instanceId}/data-sources/{dataSourceId}")]
pub async fn set_data_source(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<DataSourcePath>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let (instance, id) = path.into_inner().into();
    let instance = owned_instance(&state.store, &caller.tenant, instance)?;
    let request: SetDataSourceRequest = read_definition(body.into_inner())?;
    let customer = match request.customer {
        None => None,
        Some(c) => Some(CustomerLink {
            data_source_id: parse_item_id(&c.data_source_id, "customer.dataSourceId")?,
            field: c.field,
        }),
    };
    let definition = Definition {
        name: request.name,
        format: request.format.into(),
        primary_key: request.primary_key,
        source: check_source(&state, request.source).await?,
        customer,
    }
    .check(&id)
    .map_err(|err| ApiError::invalid(err.to_string()))?;
    let defined = state
        .store
        .define_data_source(instance.id, id, definition, state.clock.now())
        .await?;
    Ok(match defined {
        Defined::Created(source) => {
            let location = state.absolute_url(&format!(
                "/api/v1/instances/{}/data-sources/{}",
                instance.id,
                urlencoding_path(source.id.as_str())
            ));
            HttpResponse::Created()
                .insert_header((LOCATION, location))
                .json(DataSourceDefinition::from(source))
        }
        Defined::Replaced(source) => HttpResponse::Ok().json(DataSourceDefinition::from(source)),
        Defined::UnknownCustomerSource => {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                "customer.dataSourceId names no other data source of this instance; define the customer source first.",
            ));
        }
    })
}

/// A path segment with everything but unreserved characters percent-encoded.
pub(crate) fn urlencoding_path(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// The content types an upload may have. Either is stored as sent: the refresh reads it by
/// the data source's format, and names the line where it does not fit.
const UPLOAD_TYPES: [&str; 2] = ["text/csv", "application/x-ndjson"];

/// Upload data source content
///
/// Stores the rows of an upload data source for its next refresh, sent as `text/csv` or
/// `application/x-ndjson` and read by the data source's format, at most `INSIGHTS_UPLOAD_LIMIT`
/// (100 MiB unless configured). It replaces the previous upload; it does not refresh by itself.
#[utoipa::path(operation_id = "UploadDataSourceContent", tag = "Engine",
    params(super::catalog::DataSourcePath),
    request_body(description = "The rows, as the data source's format writes them.",
        content(
            (serde_json::Value = "text/csv"),
            (serde_json::Value = "application/x-ndjson"),
        )),
    responses(
        (status = 204, description = "Stored for the next refresh."),
        (status = 404, description = "No such instance or data source."),
        (status = 409, description = "The data source does not read uploads (not_an_upload_source)."),
        (status = 413, description = "The upload is larger than INSIGHTS_UPLOAD_LIMIT."),
        (status = 415, description = "The content type is neither text/csv nor application/x-ndjson."),
    ),
    security(("bearer" = [])))]
#[put("/api/v1/instances/{instanceId}/data-sources/{dataSourceId}/content")]
pub async fn upload_data_source_content(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<DataSourcePath>,
    req: HttpRequest,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (instance, id) = path.into_inner().into();
    let instance = owned_instance(&state.store, &caller.tenant, instance)?;
    let source = state
        .store
        .data_source(instance.id, &id)?
        .ok_or(ApiError::NotFound("data source"))?;
    let sent = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if !sent
        .as_deref()
        .is_some_and(|sent| UPLOAD_TYPES.contains(&sent))
    {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!(
                "Send the rows as text/csv or application/x-ndjson (this data source is {}).",
                source.format.as_str()
            ),
        ));
    }
    if source.source != Source::Upload {
        return Err(ApiError::new(
            ErrorCode::NotAnUploadSource,
            format!(
                "This data source reads a {}, not uploads; define it with source kind upload to upload its rows.",
                source.source.kind()
            ),
        ));
    }
    let limit = state.runner.upload_limit();
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large(limit));
    }
    let mut upload = state
        .runner
        .uploads()
        .begin(instance.id, &id, limit)
        .await
        .map_err(upload_error)?;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|err| {
            ApiError::new(
                ErrorCode::UnreadableBody,
                format!("The request body could not be read: {err}."),
            )
        })?;
        upload.write(&chunk).await.map_err(upload_error)?;
    }
    upload.commit().await.map_err(upload_error)?;
    Ok(HttpResponse::NoContent().finish())
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!(
            "The upload is larger than {limit} bytes, the most this service accepts (INSIGHTS_UPLOAD_LIMIT)."
        ),
    )
}

fn upload_error(err: UploadError) -> ApiError {
    match err {
        UploadError::TooLarge { limit } => too_large(limit),
        UploadError::Io(err) => ApiError::from(crate::storage::StorageError::Io(err)),
    }
}
