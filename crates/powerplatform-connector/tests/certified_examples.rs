//! The lint on real certified connectors from Microsoft's repository (`tests/fixtures/examples`,
//! see `tests/fixtures/SOURCE.md`): it reads them without panicking and finds what is known to
//! be wrong in them.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking; its helpers unwrap as its #[test] functions may"
)]

use std::path::Path;

use powerplatform_connector::lint::{self, Finding, Rule};
use serde_json::Value;

fn example(file: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/examples")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    // Some certified files start with a UTF-8 byte order mark.
    serde_json::from_str(text.trim_start_matches('\u{feff}')).unwrap()
}

fn listed(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_lint_finds_the_known_faults_of_certified_examples() {
    let cases = [
        // Its body parameter has no x-ms-summary.
        ("TractionGuest", Rule::ParameterSummary),
        // Its subscribe call answers 200 without a Location header.
        ("SkyPointCloud", Rule::TriggerLocationHeader),
    ];
    for (name, rule) in cases {
        let definition = example(&format!("{name}.apiDefinition.swagger.json"));
        let properties = example(&format!("{name}.apiProperties.json"));
        let findings = lint::lint_package(&definition, &properties);
        assert!(
            findings.iter().any(|f| f.rule == rule),
            "{name}: expected a {rule} finding in\n{}",
            listed(&findings)
        );
    }
}
