//! The built-in insights engine's pure core: typed values and schemas, the filter language,
//! streaming ingest of CSV and JSON Lines, the on-disk item store of every entity, and what is
//! computed over them (unification, measures, segments) and when (the schedule). No HTTP,
//! actix, reqwest or sled here: the API and the refresh runner call into it. Ingest, the
//! item store and the computations block on file I/O (and ingest on its own parsing thread):
//! call them from a blocking thread (`tokio::task::spawn_blocking`), not from an async task.
//!
//! - [`value`]: field types, values, their order and JSON form.
//! - [`datetime`]: datetimes as microseconds and the offset they were written with.
//! - [`schema`]: an entity's fields and primary key.
//! - [`filter`]: the OData subset of `$filter` and of measure and segment filters: parse, bind
//!   to a schema, evaluate on a row.
//! - [`items`]: the on-disk store of every entity's items: generations switched atomically,
//!   primary key and secondary indexes, scans and paged queries.
//! - [`ingest`]: streaming CSV and JSON Lines reading in two passes (check and infer types,
//!   then typed rows), and the load of a source into a new generation.
//! - [`unify`]: unification (map, match, merge) into the `Customer` entity, and the
//!   `CustomerId` of activity items.
//! - [`measures`]: business and customer measures; customer measures become `Customer`
//!   attributes.
//! - [`segments`]: the customers that pass a filter, kept as a pageable snapshot.
//! - [`schedule`]: cron patterns in a time zone, and the runs missed while down.
//! - [`hash`]: the stable hashes index files are sorted by.
//! - [`hashed`]: maps keyed by 128-bit hashes of values.

pub mod datetime;
pub mod filter;
pub mod hash;
pub mod hashed;
pub mod ingest;
pub mod items;
pub mod measures;
pub mod schedule;
pub mod schema;
pub mod segments;
pub mod unify;
pub mod value;

pub use schema::{Field, Schema, SchemaError};
pub use value::{Datetime, FieldType, Finite, Row, Value, ValueRef};
