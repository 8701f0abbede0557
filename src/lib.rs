//! insights-connector: the backend of a Power Platform custom connector. Flows subscribe to
//! triggers; data platforms report what happened; matching events are POSTed to the flows'
//! callback URLs.
//!
//! - [`domain`]: pure types and rules (triggers, subscriptions, threshold crossing, events).
//! - [`storage`]: the sled database, the only module that imports sled.
//! - [`engine`]: the built-in insights engine (values, filters, ingest, item store); pure of
//!   HTTP and sled, it keeps entities' items in its own files.
//! - [`refresh`]: the engine's background refreshes: sources (uploads, the import directory,
//!   URLs) into the item store, ending in a report like a reported refresh.
//! - [`delivery`]: callbacks over HTTP and downloads of `url` data sources; with `http::jwks`
//!   (fetching token signing keys), the only modules that import reqwest.
//! - [`http`]: the actix surface: handlers, wire types, auth, errors, and the one list of
//!   operations from which both the router and the OpenAPI document are built.
//! - [`openapi`]: the document's frame and the modifiers that complete it, and the Swagger 2.0
//!   connector definition converted from it; it does not know the handlers.
//! - [`demo`]: the demo instance (`serve --demo`), set up through the service's own routes.
//! - [`admin`]: operator commands on API keys, through the data directory's admin socket.
//! - [`clock`]: the time and jitter the code asks for, which tests control.
//! - [`config`], [`startup`], [`telemetry`]: settings, wiring, logs.

pub mod admin;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod demo;
pub mod domain;
pub mod engine;
pub mod http;
pub mod openapi;
pub mod refresh;
pub mod startup;
pub mod storage;
pub mod telemetry;
