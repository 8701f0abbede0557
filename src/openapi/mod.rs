//! The OpenAPI 3.1 document of the whole API, built from the handlers' utoipa annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::http::{
    catalog, deliveries, health, instances, metrics, reports, subscriptions, triggers,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Insights Events",
        description = "Webhook triggers and actions for customer insights: run flows when data source refreshes fail or succeed, when segments or business measures cross thresholds, and when full refreshes or unification complete.",
        contact(name = "insights-connector maintainers", url = "https://github.com/insights-connector/insights-connector"),
        license(name = "MIT"),
    ),
    paths(
        instances::list_instances, instances::create_instance, instances::get_instance,
        triggers::on_data_source_refresh_failed, triggers::on_data_source_refresh_succeeded,
        triggers::on_segment_threshold_crossed, triggers::on_measure_threshold_crossed,
        triggers::on_full_refresh_completed, triggers::on_unification_completed,
        subscriptions::list_subscriptions, subscriptions::get_subscription,
        subscriptions::delete_subscription,
        catalog::list_data_sources, catalog::get_data_source, catalog::list_segments,
        catalog::get_segment, catalog::list_measures, catalog::get_measure,
        reports::report_data_source_refresh, reports::report_segment_size,
        reports::report_measure_value, reports::report_unification, reports::report_full_refresh,
        health::healthz, health::readyz,
        deliveries::list_deliveries, deliveries::retry_delivery, metrics::metrics,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "Instances", description = "Environments of a tenant."),
        (name = "Triggers", description = "Webhook subscriptions that run flows."),
        (name = "Subscriptions", description = "Inspecting and removing trigger subscriptions."),
        (name = "Catalog", description = "Data sources, segments and measures."),
        (name = "Reports", description = "Data platforms report what happened (platform role)."),
        (name = "Deliveries", description = "Callback deliveries, their attempts, and replay."),
        (name = "Operations", description = "Probes and metrics for operators."),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A JWT naming the tenant in `tid` and the caller in `oid` or `sub`.",
                    ))
                    .build(),
            ),
        );
    }
}
