//! One integration binary: the real server on port 0 with a temp data dir, and a real
//! callback receiver on 127.0.0.1.

mod bad_inputs;
mod cli;
mod crash;
mod deliveries;
mod helpers;
mod reports;
mod restart;
mod subscriptions;
mod tenancy;
mod thresholds;
mod triggers;
mod verifier;
