//! One integration binary: the real server on port 0 with a temp data dir, and a real
//! callback receiver on 127.0.0.1.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking; its helpers unwrap as its #[test] functions may"
)]

mod api_keys;
mod auth;
mod bad_inputs;
mod callback_addresses;
mod callback_client;
mod cli;
mod connector;
mod crash;
mod deliveries;
mod demo;
mod disk_full;
mod engine;
mod engine_crash;
mod engine_definitions;
mod engine_inputs;
mod full_refresh;
mod helpers;
mod identity;
mod logs;
mod permissions;
mod process;
mod protocol_errors;
mod proxy;
mod quotas;
mod rate_limits;
mod reports;
mod restart;
mod routes;
mod schedules;
mod subscriptions;
mod tenancy;
mod thresholds;
mod triggers;
mod upgrade;
mod verifier;
