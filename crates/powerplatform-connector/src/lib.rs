//! Power Platform custom connector tooling, independent of any one service: it reads an
//! OpenAPI 3.1 document as JSON and knows nothing of the service's handlers.
//!
//! - [`swagger2`]: the OpenAPI 3.1 to Swagger 2.0 conversion Power Automate needs.
//! - [`package`]: a connector package (`apiDefinition.swagger.json`, `apiProperties.json`) from
//!   the OpenAPI document and tables of labels, visibility, dropdowns, paging and security.
//! - [`lint`]: the certification rules a package must pass, as closed [`lint::Rule`]s.
//! - [`diff`]: where two JSON documents differ, for tests that compare committed documents.

pub mod diff;
pub mod lint;
pub mod package;
pub mod swagger2;
