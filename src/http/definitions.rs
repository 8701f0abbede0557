//! What the built-in engine computes: `SetUnification` (and `GET`), `SetMeasure`, `SetSegment`.
//! Operator calls: in `openapi/`, not in the connector. Each definition is checked before it
//! is stored (a bad one answers 422 naming the field, a filter's syntax error its position);
//! segments and business measures are in the catalog at once, so flows can subscribe to them.

use std::collections::HashMap;

use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, get, put, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::catalog::{MeasurePath, SegmentPath};
use super::data_sources::{read_definition, urlencoding_path};
use super::entities::blocking;
use super::instances::owned_instance;
use super::params::InstancePath;
use super::{ApiError, AppState, Caller};
use crate::domain::{InstanceId, ItemId};
use crate::engine::Schema;
use crate::engine::items::EntityName;
use crate::engine::measures::{Measure, MeasureDefinition, Per};
use crate::engine::segments::{Segment, SegmentDefinition};
use crate::engine::unify::{
    CUSTOMER_ENTITY, KnownSource, RuleDefinition, SourceDefinition, Unification,
    UnificationDefinition,
};
use crate::storage::{Set, Stored, Watched};

/// The instance's unification as stored.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnificationResponse {
    /// The customer sources, in merge order.
    pub sources: Vec<SourceDefinition>,
    /// The match rules.
    pub rules: Vec<RuleDefinition>,
    /// When it was first defined.
    pub created_at: DateTime<Utc>,
    /// When it was last defined.
    pub updated_at: DateTime<Utc>,
}

impl From<Stored<UnificationDefinition>> for UnificationResponse {
    fn from(stored: Stored<UnificationDefinition>) -> Self {
        Self {
            sources: stored.definition.sources,
            rules: stored.definition.rules,
            created_at: stored.created_at,
            updated_at: stored.updated_at,
        }
    }
}

/// A measure as defined.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeasureDefinitionResponse {
    /// The measure id.
    pub id: String,
    /// The display name.
    pub name: String,
    /// The entity whose items it sums up.
    pub entity: String,
    /// count, sum, average, min, max or countDistinct.
    pub aggregate: String,
    /// The field summed up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Only items that pass this filter count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// customer for a customer measure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per: Option<String>,
    /// The Customer attribute a customer measure is stored as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
    /// When it was first defined.
    pub created_at: DateTime<Utc>,
    /// When it was last defined.
    pub updated_at: DateTime<Utc>,
}

/// A segment as defined.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SegmentDefinitionResponse {
    /// The segment id.
    pub id: String,
    /// The display name.
    pub name: String,
    /// The filter over Customer's fields.
    pub filter: String,
    /// When it was first defined.
    pub created_at: DateTime<Utc>,
    /// When it was last defined.
    pub updated_at: DateTime<Utc>,
}

/// A definition error as a 422 sentence: `field: problem.`
fn invalid(error: impl std::fmt::Display) -> ApiError {
    let text = error.to_string();
    let text = text.trim_end_matches('.');
    ApiError::invalid(format!("{text}."))
}

/// The current schemas of the instance's entities (data sources and `Customer`), read on a
/// blocking thread.
async fn schemas(
    state: &AppState,
    instance: InstanceId,
) -> Result<HashMap<String, Schema>, ApiError> {
    let items = state.runner.items().clone();
    blocking(move || {
        let entities = items
            .entities(instance)
            .map_err(|err| ApiError::Internal(err.into()))?;
        Ok(entities.into_iter().map(|e| (e.name, e.schema)).collect())
    })
    .await
}

/// Define the unification
///
/// Defines (or replaces) how the instance's customer sources become unified profiles: which
/// field of each source gives each unified attribute, and the rules that match records. The
/// next full refresh writes the Customer entity from it.
#[utoipa::path(operation_id = "SetUnification", tag = "Engine",
    params(InstancePath),
    request_body = UnificationDefinition,
    responses(
        (status = 201, description = "Defined.", body = UnificationResponse,
            headers(("Location" = String, description = "The unification's URL."))),
        (status = 200, description = "The definition replaced the previous one.", body = UnificationResponse),
        (status = 404, description = "No such instance."),
        (status = 422, description = "A field is not valid; the message names it."),
    ),
    security(("bearer" = [])))]
#[put("/api/v1/instances/{instanceId}/unification")]
pub async fn set_unification(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<InstancePath>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let instance = owned_instance(&state.store, &caller.tenant, path.into_inner().0)?;
    let definition: UnificationDefinition = read_definition(body.into_inner())?;
    let unification = Unification::parse(&definition).map_err(invalid)?;
    let defined: Vec<String> = state
        .store
        .data_sources(instance.id)?
        .into_iter()
        .map(|s| s.id.into())
        .collect();
    let schemas = schemas(&state, instance.id).await?;
    unification
        .check_sources(|source: &EntityName| {
            if !defined.iter().any(|d| d == source.as_str()) {
                KnownSource::Undefined
            } else {
                match schemas.get(source.as_str()) {
                    Some(schema) => KnownSource::Items(schema),
                    None => KnownSource::NoItems,
                }
            }
        })
        .map_err(invalid)?;
    let set = state
        .store
        .set_unification(instance.id, definition, state.clock.now())
        .await?;
    Ok(match set {
        Set::Created(stored) => HttpResponse::Created()
            .insert_header((
                LOCATION,
                state.absolute_url(&format!("/api/v1/instances/{}/unification", instance.id)),
            ))
            .json(UnificationResponse::from(stored)),
        Set::Replaced(stored) => HttpResponse::Ok().json(UnificationResponse::from(stored)),
    })
}

/// Get the unification
///
/// Returns the instance's unification as it was defined.
#[utoipa::path(operation_id = "GetUnification", tag = "Engine",
    params(InstancePath),
    responses(
        (status = 200, description = "The unification.", body = UnificationResponse),
        (status = 404, description = "No such instance, or it has no unification."),
    ),
    security(("bearer" = [])))]
#[get("/api/v1/instances/{instanceId}/unification")]
pub async fn get_unification(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<InstancePath>,
) -> Result<HttpResponse, ApiError> {
    let instance = owned_instance(&state.store, &caller.tenant, path.into_inner().0)?;
    let stored = state
        .store
        .unification(instance.id)?
        .ok_or(ApiError::NotFound("unification"))?;
    Ok(HttpResponse::Ok().json(UnificationResponse::from(stored)))
}

/// Checks a parsed measure against the instance: its entity exists (a data source, or
/// Customer once a unification is defined), its fields fit the entity's current items, and a
/// customer measure's attribute is its own.
async fn check_measure(
    state: &AppState,
    instance: InstanceId,
    id: &ItemId,
    measure: &Measure,
) -> Result<(), ApiError> {
    let entity = measure.entity().as_str();
    let unification = state.store.unification(instance)?;
    let source = match entity {
        CUSTOMER_ENTITY => {
            if unification.is_none() {
                return Err(ApiError::invalid(
                    "entity: Customer holds the unified profiles, and this instance has no unification yet; define one first.",
                ));
            }
            None
        }
        _ => {
            let found = ItemId::parse(entity)
                .map(|item| state.store.data_source(instance, &item))
                .transpose()?
                .flatten();
            match found {
                Some(source) => Some(source),
                None => {
                    return Err(ApiError::invalid(format!(
                        "entity: no data source \"{entity}\" in this instance, and it is not Customer."
                    )));
                }
            }
        }
    };
    if let Per::Customer { attribute } = measure.per() {
        if source.as_ref().is_some_and(|s| s.customer.is_none()) {
            return Err(ApiError::invalid(format!(
                "entity: data source \"{entity}\" names no customer (its definition has no customer link), so it has no values per customer."
            )));
        }
        if let Some(unification) = unification
            && let Ok(parsed) = Unification::parse(&unification.definition)
            && parsed.attributes().iter().any(|a| a == attribute)
        {
            return Err(ApiError::invalid(format!(
                "attribute: \"{attribute}\" is a unified attribute of Customer; store the measure under another name."
            )));
        }
        for other in state.store.measures(instance)? {
            if other.id.as_ref() != Some(id)
                && other.definition.per.is_some()
                && other.definition.attribute.as_deref() == Some(attribute.as_str())
            {
                return Err(ApiError::invalid(format!(
                    "attribute: measure \"{}\" already stores its values in \"{attribute}\".",
                    other.id.map(String::from).unwrap_or_default()
                )));
            }
        }
    }
    if let Some(schema) = schemas(state, instance).await?.get(entity) {
        measure.check(schema).map_err(invalid)?;
    }
    Ok(())
}

/// Define a measure
///
/// Defines (or replaces) a measure: one number over an entity's items (a business measure,
/// which flows can watch with its threshold trigger at once), or one per customer stored as a
/// Customer attribute that segments can filter on. Computed by each full refresh.
#[utoipa::path(operation_id = "SetMeasure", tag = "Engine",
    params(MeasurePath),
    request_body = MeasureDefinition,
    responses(
        (status = 201, description = "Defined.", body = MeasureDefinitionResponse,
            headers(("Location" = String, description = "The measure's URL."))),
        (status = 200, description = "The definition replaced the previous one.", body = MeasureDefinitionResponse),
        (status = 404, description = "No such instance."),
        (status = 422, description = "A field is not valid; the message names it (and a filter's syntax error its position)."),
    ),
    security(("bearer" = [])))]
#[put("/api/v1/instances/{instanceId}/measures/{measureId}")]
pub async fn set_measure(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<MeasurePath>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let (instance, id) = path.into_inner().into();
    let instance = owned_instance(&state.store, &caller.tenant, instance)?;
    let definition: MeasureDefinition = read_definition(body.into_inner())?;
    let measure = Measure::parse(&definition).map_err(invalid)?;
    check_measure(&state, instance.id, &id, &measure).await?;
    let watched = match measure.per() {
        Per::Business => Watched::BusinessMeasure,
        Per::Customer { .. } => Watched::CustomerMeasure,
    };
    let set = state
        .store
        .define_measure(instance.id, id, definition, watched, state.clock.now())
        .await?;
    let respond = |stored: Stored<MeasureDefinition>| MeasureDefinitionResponse {
        id: stored.id.map(String::from).unwrap_or_default(),
        name: stored.definition.name,
        entity: stored.definition.entity,
        aggregate: stored.definition.aggregate,
        field: stored.definition.field,
        filter: stored.definition.filter,
        per: stored.definition.per,
        attribute: stored.definition.attribute,
        created_at: stored.created_at,
        updated_at: stored.updated_at,
    };
    Ok(created_or_replaced(
        &state,
        instance.id,
        "measures",
        set,
        respond,
    ))
}

/// Define a segment
///
/// Defines (or replaces) a segment: the customers that pass a filter over the Customer
/// entity's fields. Flows can watch its member count with its threshold trigger at once;
/// each full refresh computes its members.
#[utoipa::path(operation_id = "SetSegment", tag = "Engine",
    params(SegmentPath),
    request_body = SegmentDefinition,
    responses(
        (status = 201, description = "Defined.", body = SegmentDefinitionResponse,
            headers(("Location" = String, description = "The segment's URL."))),
        (status = 200, description = "The definition replaced the previous one.", body = SegmentDefinitionResponse),
        (status = 404, description = "No such instance."),
        (status = 422, description = "A field is not valid; the message names it (and a filter's syntax error its position)."),
    ),
    security(("bearer" = [])))]
#[put("/api/v1/instances/{instanceId}/segments/{segmentId}")]
pub async fn set_segment(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<SegmentPath>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let (instance, id) = path.into_inner().into();
    let instance = owned_instance(&state.store, &caller.tenant, instance)?;
    let definition: SegmentDefinition = read_definition(body.into_inner())?;
    Segment::parse(&definition).map_err(invalid)?;
    let set = state
        .store
        .define_segment(instance.id, id, definition, state.clock.now())
        .await?;
    let respond = |stored: Stored<SegmentDefinition>| SegmentDefinitionResponse {
        id: stored.id.map(String::from).unwrap_or_default(),
        name: stored.definition.name,
        filter: stored.definition.filter,
        created_at: stored.created_at,
        updated_at: stored.updated_at,
    };
    Ok(created_or_replaced(
        &state,
        instance.id,
        "segments",
        set,
        respond,
    ))
}

/// 201 with the item's `Location` when new, 200 when replaced.
fn created_or_replaced<D, R: Serialize>(
    state: &AppState,
    instance: InstanceId,
    collection: &str,
    set: Set<Stored<D>>,
    respond: impl FnOnce(Stored<D>) -> R,
) -> HttpResponse {
    match set {
        Set::Created(stored) => {
            let id = stored.id.as_ref().map_or("", ItemId::as_str);
            let location = state.absolute_url(&format!(
                "/api/v1/instances/{instance}/{collection}/{}",
                urlencoding_path(id)
            ));
            HttpResponse::Created()
                .insert_header((LOCATION, location))
                .json(respond(stored))
        }
        Set::Replaced(stored) => HttpResponse::Ok().json(respond(stored)),
    }
}
