//! Reading entities (connector actions): `GetEntities`, `GetItems` (OData `$filter`, `$select`,
//! `$orderby`, `$top`, `$skip`, paged with `nextLink`), `GetItem` by primary key, and the
//! internal `GetEntitySchema` the designer reads an entity's fields from. The item store blocks
//! on file I/O, so every read runs on a blocking thread.

use std::borrow::Cow;

use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::data_sources::urlencoding_path;
use super::error::ErrorCode;
use super::instances::owned_instance;
use super::params::InstancePath;
use super::{ApiError, AppState, Caller};
use crate::domain::InstanceId;
use crate::domain::data_source::UNIFIED_ENTITY;
use crate::engine::filter::{Filter, FilterError};
use crate::engine::items::{
    Entity, EntityName, Item, ItemStore, Query, QueryError, parse_order_by, parse_select,
};
use crate::engine::{FieldType, Schema as EntitySchema};

/// Items per page unless `$top` says otherwise.
pub const DEFAULT_TOP: u32 = 100;
/// The most items one page holds.
pub const MAX_TOP: u32 = 1000;
/// The most items `$skip` may pass over.
pub const MAX_SKIP: u64 = 1_000_000_000;

/// `.../entities/{entityName}`
#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Path)]
pub struct EntityPath {
    /// The instance id.
    #[param(value_type = uuid::Uuid)]
    pub instance_id: InstanceId,
    /// The entity: a data source id, or Customer for the unified profiles.
    #[param(min_length = 1, max_length = 200)]
    pub entity_name: String,
}

/// `.../entities/{entityName}/items/{itemId}`
#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Path)]
pub struct ItemPath {
    /// The instance id.
    #[param(value_type = uuid::Uuid)]
    pub instance_id: InstanceId,
    /// The entity: a data source id, or Customer for the unified profiles.
    #[param(min_length = 1, max_length = 200)]
    pub entity_name: String,
    /// The item's primary key (CustomerId for Customer).
    pub item_id: String,
}

/// The OData options of `GetItems`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItemsQuery {
    /// Only items that pass this OData filter, e.g. City eq 'Oslo' and Total gt 100.
    #[serde(rename = "$filter")]
    pub filter: Option<String>,
    /// The fields to answer, comma-separated; all when absent.
    #[serde(rename = "$select")]
    pub select: Option<String>,
    /// The order, as comma-separated field asc or field desc; the primary key breaks ties.
    #[serde(rename = "$orderby")]
    pub order_by: Option<String>,
    /// Items per page, 1 to 1000 (default 100).
    #[serde(rename = "$top")]
    #[param(minimum = 1, maximum = 1000)]
    pub top: Option<u32>,
    /// Items to pass over before the first answered.
    #[serde(rename = "$skip")]
    #[param(minimum = 0, maximum = 1_000_000_000)]
    pub skip: Option<u64>,
}

/// One field of an entity.
#[derive(Serialize, ToSchema)]
pub struct FieldResponse {
    /// The field's name.
    pub name: String,
    /// integer, number, boolean, datetime or string.
    #[serde(rename = "type")]
    pub ty: String,
}

/// An entity an instance holds.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EntityResponse {
    /// The entity's name: a data source id, or Customer.
    pub name: String,
    /// dataSource, or unified for Customer.
    pub kind: String,
    /// The field that identifies an item.
    pub primary_key: String,
    /// How many items it holds.
    pub item_count: u64,
    /// Its fields, in order.
    pub fields: Vec<FieldResponse>,
}

#[derive(Serialize, ToSchema)]
pub struct EntityList {
    /// The instance's entities, by name.
    pub value: Vec<EntityResponse>,
}

/// An item of an entity: its fields as typed JSON values. Its shape is the entity's, which the
/// designer reads from `GetEntitySchema`.
#[derive(Serialize)]
#[serde(transparent)]
pub struct EntityItem(pub Item);

/// The design-time call that gives an item's fields, in both forms Power Automate reads.
pub(super) fn dynamic_item_extensions() -> utoipa::openapi::extensions::Extensions {
    ExtensionsBuilder::new()
        .add(
            "x-ms-dynamic-schema",
            json!({
                "operationId": "GetEntitySchema",
                "parameters": {
                    "instanceId": {"parameter": "instanceId"},
                    "entityName": {"parameter": "entityName"},
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
                    "entityName": {"parameterReference": "entityName"},
                },
                "itemValuePath": "schema",
            }),
        )
        .build()
}

impl PartialSchema for EntityItem {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "An item of the entity: its fields as typed values, as Get entity schema describes them.",
            ))
            .additional_properties(Some(AdditionalProperties::FreeForm(true)))
            .extensions(Some(dynamic_item_extensions()))
            .into()
    }
}

impl ToSchema for EntityItem {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("EntityItem")
    }
}

/// A page of items.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemList {
    /// The items of this page.
    pub value: Vec<EntityItem>,
    /// The next page, when more items follow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

/// One field as the designer reads it.
#[derive(Serialize, ToSchema)]
pub struct FieldSchema {
    /// The JSON type: integer, number, boolean or string.
    #[serde(rename = "type")]
    pub ty: String,
    /// int64 or double for numbers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// The field's label: its name.
    #[serde(rename = "x-ms-summary")]
    pub summary: String,
    /// What the field holds.
    pub description: String,
}

/// The item shape of an entity, as a JSON schema.
#[derive(Serialize, ToSchema)]
pub struct ItemSchema {
    /// Always object.
    #[serde(rename = "type")]
    pub ty: String,
    /// Each field by name.
    pub properties: std::collections::BTreeMap<String, FieldSchema>,
}

/// The schema Power Automate builds an item's dynamic content from.
#[derive(Serialize, ToSchema)]
pub struct EntitySchemaResponse {
    pub schema: ItemSchema,
}

/// The entity of the path, or 404.
pub(super) fn entity(
    items: &ItemStore,
    instance: InstanceId,
    name: &str,
) -> Result<std::sync::Arc<Entity>, ApiError> {
    let not_found = || ApiError::NotFound("entity");
    let name = EntityName::parse(name).map_err(|_| not_found())?;
    items
        .entity(instance, &name)
        .map_err(|err| ApiError::Internal(err.into()))?
        .ok_or_else(not_found)
}

/// Runs an item store read on a blocking thread.
pub(super) async fn blocking<T: Send + 'static>(
    read: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    web::block(read)
        .await
        .map_err(|err| ApiError::Internal(anyhow::anyhow!("a read of items stopped: {err}")))?
}

fn filter_error(err: FilterError) -> ApiError {
    let code = match err.code() {
        "unknown_field" => ErrorCode::UnknownField,
        "filter_type_mismatch" => ErrorCode::FilterTypeMismatch,
        _ => ErrorCode::FilterSyntaxError,
    };
    ApiError::new(code, format!("$filter: {err}"))
}

fn query_error(err: QueryError) -> ApiError {
    let code = match err.code() {
        "unknown_field" => ErrorCode::UnknownField,
        "invalid_select" => ErrorCode::InvalidSelect,
        _ => ErrorCode::InvalidOrderby,
    };
    ApiError::new(code, err.to_string())
}

/// Get entities
///
/// Lists the entities of an instance (each data source's items, and Customer once unified)
/// with their fields and item counts.
#[utoipa::path(operation_id = "GetEntities", tag = "Entities",
    params(InstancePath),
    responses(
        (status = 200, description = "The entities.", body = EntityList),
        (status = 404, description = "No such instance."),
    ),
    security(("bearer" = [])))]
#[get("/api/v1/instances/{instanceId}/entities")]
pub async fn get_entities(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<InstancePath>,
) -> Result<HttpResponse, ApiError> {
    let instance = owned_instance(&state.store, &caller.tenant, path.into_inner().0)?;
    let items = state.runner.items().clone();
    let entities = blocking(move || {
        items
            .entities(instance.id)
            .map_err(|err| ApiError::Internal(err.into()))
    })
    .await?;
    let value = entities
        .into_iter()
        .map(|e| EntityResponse {
            kind: if e.name == UNIFIED_ENTITY {
                "unified"
            } else {
                "dataSource"
            }
            .to_owned(),
            primary_key: e.schema.primary_key_field().name.clone(),
            item_count: e.item_count,
            fields: e
                .schema
                .fields()
                .iter()
                .map(|f| FieldResponse {
                    name: f.name.clone(),
                    ty: f.ty.name().to_owned(),
                })
                .collect(),
            name: e.name,
        })
        .collect();
    Ok(HttpResponse::Ok().json(EntityList { value }))
}

/// Get items from an entity
///
/// Lists the items of an entity, one page at a time, with OData filter, select, order, top
/// and skip; a next link leads to the next page.
#[utoipa::path(operation_id = "GetItems", tag = "Entities",
    params(EntityPath, ItemsQuery),
    responses(
        (status = 200, description = "A page of items.", body = ItemList),
        (status = 400, description = "A query option is not valid; the message names the field or position."),
        (status = 404, description = "No such instance or entity."),
    ),
    security(("bearer" = [])))]
#[get("/api/v1/instances/{instanceId}/entities/{entityName}/items")]
pub async fn get_items(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<EntityPath>,
    query: web::Query<ItemsQuery>,
) -> Result<HttpResponse, ApiError> {
    let EntityPath {
        instance_id,
        entity_name,
    } = path.into_inner();
    let instance = owned_instance(&state.store, &caller.tenant, instance_id)?;
    let items = state.runner.items().clone();
    let link_path = format!(
        "/api/v1/instances/{}/entities/{}/items",
        instance.id,
        urlencoding_path(&entity_name)
    );
    let page = page_of(
        &state,
        move || entity(&items, instance.id, &entity_name).map(Some),
        query.into_inner(),
        &link_path,
    )
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// One page of the entity `find` answers, by the OData options of `query`, with a `nextLink`
/// to `link_path` when more items follow; an empty page when `find` answers no entity (after
/// `$top` and `$skip` are checked: the other options need the entity's fields).
pub(super) async fn page_of(
    state: &AppState,
    find: impl FnOnce() -> Result<Option<std::sync::Arc<Entity>>, ApiError> + Send + 'static,
    query: ItemsQuery,
    link_path: &str,
) -> Result<ItemList, ApiError> {
    let top = query.top.unwrap_or(DEFAULT_TOP);
    if !(1..=MAX_TOP).contains(&top) {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            format!("$top must be from 1 to {MAX_TOP}."),
        ));
    }
    let skip = query.skip.unwrap_or(0);
    if skip > MAX_SKIP {
        return Err(ApiError::new(
            ErrorCode::InvalidQuery,
            format!("$skip must be at most {MAX_SKIP}."),
        ));
    }
    let (filter, select, order_by) = (
        query.filter.clone(),
        query.select.clone(),
        query.order_by.clone(),
    );
    let page = blocking(move || {
        let Some(entity) = find()? else {
            return Ok(None);
        };
        let schema = entity.schema();
        let filter = match filter.as_deref() {
            None => None,
            Some(text) => Some(
                Filter::parse(text)
                    .and_then(|f| f.bind(schema))
                    .map_err(filter_error)?,
            ),
        };
        let select = select
            .as_deref()
            .map(|text| parse_select(text, schema))
            .transpose()
            .map_err(query_error)?;
        let order_by = order_by
            .as_deref()
            .map(|text| parse_order_by(text, schema))
            .transpose()
            .map_err(query_error)?
            .unwrap_or_default();
        entity
            .query(&Query {
                filter,
                select,
                order_by,
                skip,
                top: top as usize,
            })
            .map(Some)
            .map_err(|err| ApiError::Internal(err.into()))
    })
    .await?;
    let Some(page) = page else {
        return Ok(ItemList {
            value: Vec::new(),
            next_link: None,
        });
    };
    let next_link = page.more.then(|| {
        let mut link = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("$filter", query.filter.as_deref()),
            ("$select", query.select.as_deref()),
            ("$orderby", query.order_by.as_deref()),
        ] {
            if let Some(value) = value {
                link.append_pair(key, value);
            }
        }
        link.append_pair("$top", &top.to_string());
        link.append_pair("$skip", &(skip + u64::from(top)).to_string());
        state.absolute_url(&format!(
            "{link_path}?{}",
            link.finish().replace('+', "%20")
        ))
    });
    Ok(ItemList {
        value: page.items.into_iter().map(EntityItem).collect(),
        next_link,
    })
}

/// Get item
///
/// Returns one item of an entity by its primary key (CustomerId for Customer).
#[utoipa::path(operation_id = "GetItem", tag = "Entities",
    params(ItemPath),
    responses(
        (status = 200, description = "The item.", body = EntityItem),
        (status = 404, description = "No such instance, entity or item."),
    ),
    security(("bearer" = [])))]
#[get("/api/v1/instances/{instanceId}/entities/{entityName}/items/{itemId}")]
pub async fn get_item(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<ItemPath>,
) -> Result<HttpResponse, ApiError> {
    let ItemPath {
        instance_id,
        entity_name,
        item_id,
    } = path.into_inner();
    let instance = owned_instance(&state.store, &caller.tenant, instance_id)?;
    let items = state.runner.items().clone();
    let item = blocking(move || {
        entity(&items, instance.id, &entity_name)?
            .get_item(&item_id, None)
            .map_err(|err| ApiError::Internal(err.into()))?
            .ok_or(ApiError::NotFound("item"))
    })
    .await?;
    Ok(HttpResponse::Ok().json(EntityItem(item)))
}

/// The designer's form of a field.
fn field_schema(name: &str, ty: FieldType, primary_key: bool) -> FieldSchema {
    let (json_type, format, what) = match ty {
        FieldType::Integer => ("integer", Some("int64"), "A whole number"),
        FieldType::Number => ("number", Some("double"), "A number"),
        FieldType::Boolean => ("boolean", None, "True or false"),
        FieldType::Datetime => (
            "string",
            None,
            "A date (YYYY-MM-DD) or an RFC 3339 date and time",
        ),
        FieldType::String => ("string", None, "Text"),
    };
    let key = if primary_key {
        ", the item's primary key"
    } else {
        ""
    };
    FieldSchema {
        ty: json_type.to_owned(),
        format: format.map(str::to_owned),
        summary: name.to_owned(),
        description: format!("{what}: the field {name}{key}; empty when the item has no value."),
    }
}

fn item_schema(schema: &EntitySchema) -> ItemSchema {
    let key = schema.primary_key();
    ItemSchema {
        ty: "object".to_owned(),
        properties: schema
            .fields()
            .iter()
            .enumerate()
            .map(|(n, f)| (f.name.clone(), field_schema(&f.name, f.ty, n == key)))
            .collect(),
    }
}

/// Get entity schema
///
/// Describes the fields of an entity's items as a JSON schema; the flow designer reads it to
/// offer each field as dynamic content.
#[utoipa::path(operation_id = "GetEntitySchema", tag = "Entities",
    params(EntityPath),
    responses(
        (status = 200, description = "The item schema.", body = EntitySchemaResponse),
        (status = 404, description = "No such instance or entity."),
    ),
    extensions(("x-ms-visibility" = json!("internal"))),
    security(("bearer" = [])))]
#[get("/api/v1/instances/{instanceId}/entities/{entityName}/schema")]
pub async fn get_entity_schema(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<EntityPath>,
) -> Result<HttpResponse, ApiError> {
    let EntityPath {
        instance_id,
        entity_name,
    } = path.into_inner();
    let instance = owned_instance(&state.store, &caller.tenant, instance_id)?;
    let items = state.runner.items().clone();
    let schema =
        blocking(move || Ok(entity(&items, instance.id, &entity_name)?.schema().clone())).await?;
    Ok(HttpResponse::Ok().json(EntitySchemaResponse {
        schema: item_schema(&schema),
    }))
}
