//! Pure types and rules of the connector: ids, triggers, subscriptions, catalog items, events,
//! threshold crossing, callback URLs, and the engine's data source definitions and refresh
//! records. Nothing here knows about HTTP, storage or delivery.

pub mod address_policy;
pub mod api_key;
pub mod callback_url;
pub mod catalog;
pub mod data_source;
pub mod delivery;
pub mod event;
pub mod ids;
pub mod instance;
pub mod patterns;
pub mod payload;
pub mod refresh;
pub mod report;
pub mod special_addresses;
pub mod subscription;
pub mod threshold;
pub mod trigger;

pub use api_key::{ApiKeyId, ApiKeyRecord, NewApiKey, PresentedApiKey};
pub use callback_url::CallbackUrl;
pub use catalog::{CatalogItem, CatalogKind, ItemId};
pub use data_source::{
    CustomerLink, DataSource, DataSourceError, Definition, ImportPath, Source, SourceFormat,
    SourceUrl,
};
pub use delivery::{
    AttemptError, AttemptRecord, Delivery, DeliveryState, DeliveryStatus, FailureReason, Queued,
    RetryPolicy, SubscriptionEffect, Verdict,
};
pub use event::{Event, EventDetails};
pub use ids::{DeliveryId, EventId, InstanceId, RefreshId, SubscriptionId, TenantId};
pub use instance::{Instance, InstanceName};
pub use payload::{CallbackPayload, PayloadTemplate};
pub use refresh::{InitiatedBy, Refresh, RefreshKind, RefreshStatus};
pub use report::{
    Applied, Audience, FullRefreshCounts, Report, RunCounts, RunKind, RunStatus, UnificationCounts,
};
pub use subscription::{Filter, SigningSecret, Subscription};
pub use threshold::Threshold;
pub use trigger::TriggerKind;
