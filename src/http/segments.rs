//! `GetSegmentMembers` (a connector action): the customers of a segment's latest evaluation,
//! paged like `GetItems`, each with the fields of the `Customer` entity.

use std::borrow::Cow;

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use serde_json::json;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use super::catalog::SegmentPath;
use super::data_sources::urlencoding_path;
use super::entities::{EntityItem, ItemsQuery, page_of};
use super::instances::owned_instance;
use super::{ApiError, AppState, Caller};
use crate::domain::CatalogKind;
use crate::engine::items::{Entity, EntityName, ItemStore};
use crate::engine::unify::CUSTOMER_ENTITY;

/// A member of a segment: the customer's fields as typed values, as the Customer entity's
/// schema describes them.
#[derive(Serialize)]
#[serde(transparent)]
pub struct MemberItem(pub EntityItem);

impl PartialSchema for MemberItem {
    fn schema() -> RefOr<Schema> {
        let extensions = ExtensionsBuilder::new()
            .add(
                "x-ms-dynamic-schema",
                json!({
                    "operationId": "GetEntitySchema",
                    "parameters": {
                        "instanceId": {"parameter": "instanceId"},
                        "entityName": {"value": CUSTOMER_ENTITY},
                    },
                    "value-path": "schema",
                }),
            )
            .add(
                "x-ms-dynamic-properties",
                json!({
                    "operationId": "GetEntitySchema",
                    "parameters": {
                        "instanceId": {"parameterReference": "instanceId"},
                        "entityName": {"value": CUSTOMER_ENTITY},
                    },
                    "itemValuePath": "schema",
                }),
            )
            .build();
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "A member of the segment: the customer's fields as typed values, as Get entity schema describes Customer.",
            ))
            .additional_properties(Some(AdditionalProperties::FreeForm(true)))
            .extensions(Some(extensions))
            .into()
    }
}

impl ToSchema for MemberItem {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("MemberItem")
    }
}

/// A page of a segment's members.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberList {
    /// The members of this page.
    pub value: Vec<MemberItem>,
    /// The next page, when more members follow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

/// The members of the segment's latest evaluation; `None` before its first one.
fn members(
    store: &ItemStore,
    instance: crate::domain::InstanceId,
    segment: &str,
) -> Result<Option<std::sync::Arc<Entity>>, ApiError> {
    let Ok(name) = EntityName::parse(segment) else {
        return Ok(None);
    };
    store
        .entity(instance, &name)
        .map_err(|err| ApiError::Internal(err.into()))
}

/// Get segment members
///
/// Lists the customers in a segment as of its latest evaluation, one page at a time, with
/// OData filter, select, order, top and skip over the Customer fields; a next link leads to
/// the next page. Empty until a full refresh has evaluated the segment.
#[utoipa::path(operation_id = "GetSegmentMembers", tag = "Entities",
    params(SegmentPath, ItemsQuery),
    responses(
        (status = 200, description = "A page of members.", body = MemberList),
        (status = 400, description = "A query option is not valid; the message names the field or position."),
        (status = 404, description = "No such instance or segment."),
    ),
    security(("bearer" = [])))]
#[get("/api/v1/instances/{instanceId}/segments/{segmentId}/members")]
pub async fn get_segment_members(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<SegmentPath>,
    query: web::Query<ItemsQuery>,
) -> Result<HttpResponse, ApiError> {
    let (instance, id) = path.into_inner().into();
    let instance = owned_instance(&state.store, &caller.tenant, instance)?;
    state
        .store
        .catalog_item(instance.id, CatalogKind::Segment, &id)?
        .ok_or(ApiError::NotFound("segment"))?;
    let store = state.runner.segment_members().clone();
    let link_path = format!(
        "/api/v1/instances/{}/segments/{}/members",
        instance.id,
        urlencoding_path(id.as_str())
    );
    let page = page_of(
        &state,
        move || members(&store, instance.id, id.as_str()),
        query.into_inner(),
        &link_path,
    )
    .await?;
    Ok(HttpResponse::Ok().json(MemberList {
        value: page.value.into_iter().map(MemberItem).collect(),
        next_link: page.next_link,
    }))
}
