//! Rules for what entity actions need (paging, connection test, dynamic schemas, lookups that
//! read answer paths, plain labels), and the rules that read the pair of documents.

use super::*;

const LIST_PROFILES: &str = "/paths/~1segments~1{segmentId}~1profiles/get";
const PROFILE_SEGMENT: &str =
    "/paths/~1segments~1{segmentId}~1profiles~1{profileId}/get/parameters/0";
const ATTRIBUTES: &str = "/definitions/Profile/properties/attributes";

type PackageMutation = fn(&mut Value, &mut Value);

/// Each rule, the document and location where it must be reported, and a change to
/// [`clean`] (the definition) or [`clean_properties`] that breaks it.
fn package_cases() -> Vec<(Rule, Document, &'static str, PackageMutation)> {
    use Document::{ApiDefinition as Def, ApiProperties as Props};
    vec![
        (
            Rule::PageableNextLinkName,
            Def,
            "/paths/~1segments~1{segmentId}~1profiles/get/x-ms-pageable/nextLinkName",
            |d, _| {
                set(
                    d,
                    &format!("{LIST_PROFILES}/x-ms-pageable/nextLinkName"),
                    json!("next"),
                )
            },
        ),
        (
            Rule::PageableNextLinkName,
            Def,
            "/paths/~1segments~1{segmentId}~1profiles/get/x-ms-pageable/nextLinkName",
            |d, _| set(d, &format!("{LIST_PROFILES}/x-ms-pageable"), json!({})),
        ),
        (
            Rule::PageableNextLinkMissing,
            Def,
            "/definitions/ProfileList",
            |d, _| remove(d, "/definitions/ProfileList/properties/nextLink"),
        ),
        (
            Rule::PageableNextLinkMissing,
            Def,
            "/paths/~1segments~1{segmentId}~1profiles/get/responses",
            |d, _| {
                set(
                    d,
                    &format!("{LIST_PROFILES}/responses"),
                    json!({ "204": { "description": "Nothing" } }),
                )
            },
        ),
        (
            Rule::PageableNextLinkInternal,
            Def,
            "/definitions/ProfileList/properties/nextLink",
            |d, _| {
                set(
                    d,
                    "/definitions/ProfileList/properties/nextLink/x-ms-visibility",
                    json!("advanced"),
                )
            },
        ),
        (
            Rule::PageablePolicy,
            Def,
            "/paths/~1segments~1{segmentId}~1profiles/get/x-ms-pageable",
            |_, p| set(p, "/properties/policyTemplateInstances", json!([])),
        ),
        (
            Rule::PageablePolicy,
            Def,
            "/paths/~1segments~1{segmentId}~1profiles/get/x-ms-pageable",
            |_, p| {
                set(
                    p,
                    "/properties/policyTemplateInstances/0/parameters/x-ms-apimTemplate-operationName",
                    json!(["ListSegments"]),
                )
            },
        ),
        (
            Rule::PageablePolicy,
            Def,
            "/paths/~1segments~1{segmentId}~1profiles/get/x-ms-pageable",
            |_, p| {
                set(
                    p,
                    "/properties/policyTemplateInstances/0/parameters/x-ms-apimTemplateParameter.nextLinkPropertyName",
                    json!("@odata.nextLink"),
                )
            },
        ),
        (
            Rule::PolicyOperation,
            Props,
            "/properties/policyTemplateInstances/0/parameters/x-ms-apimTemplate-operationName/1",
            |_, p| {
                set(
                    p,
                    "/properties/policyTemplateInstances/0/parameters/x-ms-apimTemplate-operationName",
                    json!(["ListProfiles", "ListEverything"]),
                )
            },
        ),
        (Rule::Document, Props, "", |_, p| {
            *p = json!(["not", "an", "object"])
        }),
        (
            Rule::TestConnectionOperation,
            Def,
            "/x-ms-capabilities/testConnection/operationId",
            |d, _| {
                set(
                    d,
                    "/x-ms-capabilities/testConnection/operationId",
                    json!("Ping"),
                )
            },
        ),
        (
            Rule::TestConnectionOperation,
            Def,
            "/x-ms-capabilities/testConnection/operationId",
            |d, _| {
                set(
                    d,
                    "/x-ms-capabilities/testConnection/operationId",
                    json!("OnSegmentJoin"),
                )
            },
        ),
        (
            Rule::TestConnectionParameter,
            Def,
            "/x-ms-capabilities/testConnection/parameters/top",
            |d, _| {
                set(
                    d,
                    "/x-ms-capabilities/testConnection/parameters",
                    json!({ "top": 1 }),
                )
            },
        ),
        (
            Rule::TestConnectionParameter,
            Def,
            "/x-ms-capabilities/testConnection/parameters",
            |d, _| {
                set(
                    d,
                    "/x-ms-capabilities/testConnection/operationId",
                    json!("ListProfiles"),
                )
            },
        ),
        (
            Rule::DynamicSchemaOnParameter,
            Def,
            "/paths/~1segments~1{segmentId}~1profiles~1{profileId}/get/parameters/0/x-ms-dynamic-schema",
            |d, _| {
                let lookup = d
                    .pointer(&format!("{ATTRIBUTES}/x-ms-dynamic-schema"))
                    .unwrap()
                    .clone();
                set(d, &format!("{PROFILE_SEGMENT}/x-ms-dynamic-schema"), lookup);
            },
        ),
        (
            Rule::DynamicSchemaOnParameter,
            Def,
            "/paths/~1hooks/post/parameters/0/x-ms-dynamic-properties",
            |d, _| {
                let lookup = d
                    .pointer(&format!("{ATTRIBUTES}/x-ms-dynamic-properties"))
                    .unwrap()
                    .clone();
                set(
                    d,
                    "/paths/~1hooks/post/parameters/0/x-ms-dynamic-properties",
                    lookup,
                );
            },
        ),
        (
            Rule::DynamicPropertiesOperation,
            Def,
            "/definitions/Profile/properties/attributes/x-ms-dynamic-properties/operationId",
            |d, _| {
                set(
                    d,
                    &format!("{ATTRIBUTES}/x-ms-dynamic-properties/operationId"),
                    json!("GetShape"),
                )
            },
        ),
        (
            Rule::DynamicPropertiesParameter,
            Def,
            "/definitions/Profile/properties/attributes/x-ms-dynamic-properties/parameters/entity",
            |d, _| {
                set(
                    d,
                    &format!("{ATTRIBUTES}/x-ms-dynamic-properties/parameters"),
                    json!({ "segmentId": { "parameterReference": "segmentId" }, "entity": { "parameterReference": "segmentId" } }),
                )
            },
        ),
        (
            Rule::DynamicPropertiesParameter,
            Def,
            "/definitions/Profile/properties/attributes/x-ms-dynamic-properties/parameters/segmentId",
            |d, _| {
                set(
                    d,
                    &format!("{ATTRIBUTES}/x-ms-dynamic-properties/parameters/segmentId"),
                    json!({ "parameterReference": "segment" }),
                )
            },
        ),
        (
            Rule::DynamicValuesPath,
            Def,
            "/paths/~1segments~1{segmentId}~1profiles~1{profileId}/get/parameters/0/x-ms-dynamic-values/value-collection",
            |d, _| {
                set(
                    d,
                    &format!("{PROFILE_SEGMENT}/x-ms-dynamic-values/value-collection"),
                    json!("values"),
                )
            },
        ),
        (
            Rule::DynamicValuesPath,
            Def,
            "/paths/~1segments~1{segmentId}~1profiles~1{profileId}/get/parameters/0/x-ms-dynamic-values/value-collection",
            |d, _| {
                // Without a collection the answer itself must be the array; ListSegments answers an object.
                set(
                    d,
                    &format!("{PROFILE_SEGMENT}/x-ms-dynamic-values/value-collection"),
                    json!(""),
                )
            },
        ),
        (
            Rule::DynamicValuesPath,
            Def,
            "/paths/~1segments~1{segmentId}~1profiles~1{profileId}/get/parameters/0/x-ms-dynamic-values/value-path",
            |d, _| {
                set(
                    d,
                    &format!("{PROFILE_SEGMENT}/x-ms-dynamic-values/value-path"),
                    json!("segmentId"),
                )
            },
        ),
        (
            Rule::DynamicValuesPath,
            Def,
            "/paths/~1segments~1{segmentId}~1profiles~1{profileId}/get/parameters/0/x-ms-dynamic-values/value-title",
            |d, _| {
                set(
                    d,
                    &format!("{PROFILE_SEGMENT}/x-ms-dynamic-values/value-title"),
                    json!("title"),
                )
            },
        ),
        (
            Rule::DynamicValuesPath,
            Def,
            "/paths/~1segments~1{segmentId}~1profiles~1{profileId}/get/parameters/0/x-ms-dynamic-values",
            |d, _| {
                set(
                    d,
                    "/paths/~1segments/get/responses/200",
                    json!({ "description": "Segments" }),
                )
            },
        ),
        (
            Rule::DynamicListPath,
            Def,
            "/definitions/Subscribe/properties/profileId/x-ms-dynamic-list/itemValuePath",
            |d, _| {
                set(
                    d,
                    "/definitions/Subscribe/properties/profileId/x-ms-dynamic-list/itemValuePath",
                    json!("uuid"),
                )
            },
        ),
        (
            Rule::DynamicListPath,
            Def,
            "/definitions/Subscribe/properties/profileId/x-ms-dynamic-list/itemsPath",
            |d, _| {
                set(
                    d,
                    "/definitions/Subscribe/properties/profileId/x-ms-dynamic-list/itemsPath",
                    json!("items"),
                )
            },
        ),
        (
            Rule::DynamicSchemaPath,
            Def,
            "/definitions/Profile/properties/attributes/x-ms-dynamic-schema/value-path",
            |d, _| {
                set(
                    d,
                    &format!("{ATTRIBUTES}/x-ms-dynamic-schema/value-path"),
                    json!("shape"),
                )
            },
        ),
        (
            Rule::DynamicPropertiesPath,
            Def,
            "/definitions/Profile/properties/attributes/x-ms-dynamic-properties/itemValuePath",
            |d, _| {
                set(
                    d,
                    &format!("{ATTRIBUTES}/x-ms-dynamic-properties/itemValuePath"),
                    json!("schema/shape"),
                )
            },
        ),
        (
            Rule::DescriptionPlainText,
            Def,
            "/paths/~1segments/get/description",
            |d, _| {
                set(
                    d,
                    &format!("{SEGMENTS}/description"),
                    json!("Lists the segments\nthe caller can read."),
                )
            },
        ),
        (
            Rule::DescriptionPlainText,
            Def,
            "/definitions/Segment/properties/id/description",
            |d, _| {
                set(
                    d,
                    "/definitions/Segment/properties/id/description",
                    json!("The segment's `id`."),
                )
            },
        ),
        (
            Rule::DescriptionPlainText,
            Def,
            "/paths/~1hooks/post/x-ms-trigger-hint",
            |d, _| {
                set(
                    d,
                    &format!("{HOOK}/x-ms-trigger-hint"),
                    json!("Add a profile\r\nto test it."),
                )
            },
        ),
        (
            Rule::ParameterVisibility,
            Def,
            "/paths/~1segments~1{segmentId}~1profiles~1{profileId}/get/parameters/0",
            |d, _| remove(d, &format!("{PROFILE_SEGMENT}/x-ms-visibility")),
        ),
        (
            Rule::ParameterVisibility,
            Def,
            "/paths/~1hooks/post/parameters/0",
            |d, _| {
                set(
                    d,
                    "/paths/~1hooks/post/parameters/0/x-ms-visibility",
                    json!("none"),
                )
            },
        ),
        (
            Rule::LabelWords,
            Def,
            "/paths/~1segments~1{segmentId}~1profiles~1{profileId}/get/parameters/0/x-ms-summary",
            |d, _| {
                set(
                    d,
                    &format!("{PROFILE_SEGMENT}/x-ms-summary"),
                    json!("$segment"),
                )
            },
        ),
        (
            Rule::LabelWords,
            Def,
            "/definitions/Segment/properties/id/x-ms-summary",
            |d, _| {
                set(
                    d,
                    "/definitions/Segment/properties/id/x-ms-summary",
                    json!("segment_id"),
                )
            },
        ),
        (
            Rule::NotificationUrlPattern,
            Def,
            "/definitions/Subscribe/properties/callbackUrl/pattern",
            |d, _| {
                set(
                    d,
                    "/definitions/Subscribe/properties/callbackUrl/pattern",
                    json!("^https://[a-z.]+/.*$"),
                )
            },
        ),
    ]
}

#[test]
fn each_package_rule_fires_when_violated() {
    let mut failures = Vec::new();
    for (rule, document, location, mutate) in package_cases() {
        let (mut definition, mut properties) = (clean(), clean_properties());
        mutate(&mut definition, &mut properties);
        let findings = lint_package(&definition, &properties);
        let found = findings
            .iter()
            .any(|f| f.rule == rule && f.document == document && f.location == location);
        if !found {
            failures.push(format!(
                "{rule} at {}#{location} not reported; got:\n{}",
                document.file_name(),
                format_findings(&findings)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_rule_has_a_case_that_breaks_it() {
    let mut covered: Vec<Rule> = definition_cases().into_iter().map(|c| c.0).collect();
    covered.extend(package_cases().into_iter().map(|c| c.0));
    let missing: Vec<&str> = Rule::ALL
        .iter()
        .filter(|rule| !covered.contains(rule))
        .map(|rule| rule.id())
        .collect();
    assert!(missing.is_empty(), "no case breaks {missing:?}");
}

#[test]
fn rule_ids_are_unique_kebab_case_and_described_in_one_line() {
    let mut seen = std::collections::HashSet::new();
    for rule in Rule::ALL {
        let id = rule.id();
        assert!(seen.insert(id), "{id} twice");
        assert!(
            id.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{id}"
        );
        let description = rule.description();
        assert!(
            !description.is_empty() && !description.contains('\n'),
            "{id}"
        );
        assert_eq!(rule.to_string(), id);
    }
}

#[test]
fn a_policy_without_operation_names_covers_every_pageable_operation() {
    let mut properties = clean_properties();
    remove(
        &mut properties,
        "/properties/policyTemplateInstances/0/parameters/x-ms-apimTemplate-operationName",
    );
    let findings = lint_package(&clean(), &properties);
    assert!(findings.is_empty(), "{}", format_findings(&findings));
}

#[test]
fn the_definition_alone_is_not_faulted_for_its_paging_policy() {
    let findings = lint(&clean());
    assert!(findings.is_empty(), "{}", format_findings(&findings));
}

#[test]
fn an_odata_next_link_is_accepted_and_read_as_one_name() {
    let mut definition = clean();
    let mut properties = clean_properties();
    set(
        &mut definition,
        &format!("{LIST_PROFILES}/x-ms-pageable/nextLinkName"),
        json!("@odata.nextLink"),
    );
    let link = definition
        .pointer("/definitions/ProfileList/properties/nextLink")
        .unwrap()
        .clone();
    remove(
        &mut definition,
        "/definitions/ProfileList/properties/nextLink",
    );
    set(
        &mut definition,
        "/definitions/ProfileList/properties/@odata.nextLink",
        link,
    );
    set(
        &mut properties,
        "/properties/policyTemplateInstances/0/parameters/x-ms-apimTemplateParameter.nextLinkPropertyName",
        json!("@odata.nextLink"),
    );
    let findings = lint_package(&definition, &properties);
    assert!(findings.is_empty(), "{}", format_findings(&findings));
}
