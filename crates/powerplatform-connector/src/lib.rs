//! Power Platform custom connector tooling, independent of any one service: it reads an
//! OpenAPI 3.1 document as JSON and knows nothing of the service's handlers.
//!
//! - [`swagger2`]: the OpenAPI 3.1 to Swagger 2.0 conversion Power Automate needs.
//! - [`lint`]: the certification rules a connector definition must pass.

pub mod lint;
pub mod swagger2;
