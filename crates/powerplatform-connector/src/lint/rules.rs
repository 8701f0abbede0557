//! The lint's closed list of rules: each has a stable id (what reports, allow-lists and commit
//! messages name) and a one-line description. Declared once, so the list cannot miss a variant.

use std::fmt;

/// Declares [`Rule`] with its ids, descriptions and [`Rule::ALL`] from one table.
macro_rules! rules {
    ($( $variant:ident = $id:literal: $description:literal, )*) => {
        /// A certification rule of a connector package.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Rule {
            $( #[doc = $description] $variant, )*
        }

        impl Rule {
            /// Every rule, in declaration order.
            pub const ALL: &'static [Rule] = &[$( Rule::$variant, )*];

            /// The stable kebab-case id, e.g. `summary-characters`.
            pub fn id(self) -> &'static str {
                match self {
                    $( Rule::$variant => $id, )*
                }
            }

            /// What the rule asks for, in one line.
            pub fn description(self) -> &'static str {
                match self {
                    $( Rule::$variant => $description, )*
                }
            }
        }
    };
}

rules! {
    Document = "document": "The definition and the properties are JSON objects.",
    SwaggerVersion = "swagger-version": "The definition is Swagger 2.0 (`swagger: \"2.0\"`).",
    InfoTitleMissing = "info-title-missing": "`info.title` is present.",
    InfoTitleLength = "info-title-length": "`info.title` has at most 30 characters.",
    InfoTitleForbiddenWord = "info-title-forbidden-word": "`info.title` names no API, Connector or Power Platform product.",
    InfoTitleEnding = "info-title-ending": "`info.title` ends with a letter or a digit.",
    InfoDescriptionLength = "info-description-length": "`info.description` has 30 to 500 characters.",
    InfoContact = "info-contact": "`info.contact` is present.",
    Host = "host": "`host` is a bare host[:port], without scheme or path.",
    BasePath = "base-path": "`basePath` starts with `/`.",
    SchemesHttps = "schemes-https": "`schemes` includes https.",
    Paths = "paths": "`paths` is present.",
    OperationCount = "operation-count": "A connector has at most 256 operations.",
    OperationIdMissing = "operation-id-missing": "Every operation has an operationId.",
    OperationIdPascalCase = "operation-id-pascal-case": "operationIds are PascalCase: letters and digits, leading capital.",
    OperationIdDuplicate = "operation-id-duplicate": "operationIds are unique.",
    SummaryMissing = "summary-missing": "Every operation has a summary.",
    SummaryLength = "summary-length": "A summary has at most 80 characters.",
    SummaryCharacters = "summary-characters": "A summary holds only letters, digits, spaces and parentheses.",
    SummaryTrailingPeriod = "summary-trailing-period": "A summary does not end with a period.",
    TriggerSummary = "trigger-summary": "A trigger's summary starts with \"When \".",
    DescriptionMissing = "description-missing": "Every operation has a description.",
    DescriptionEqualsSummary = "description-equals-summary": "An operation's description says more than its summary.",
    DescriptionPlainText = "description-plain-text": "Descriptions and hints are one line of plain text: no line breaks, no backticks.",
    ParameterSummary = "parameter-x-ms-summary": "Every parameter has an `x-ms-summary` label.",
    ParameterDescription = "parameter-description": "Every parameter has a description.",
    ParameterVisibility = "parameter-visibility": "Every parameter has an explicit `x-ms-visibility`: important, advanced or internal.",
    LabelWords = "label-words": "An `x-ms-summary` label is words, not a wire name: no `$`, `_`, backticks or line breaks.",
    PathParameterUrlEncoding = "path-parameter-url-encoding": "Path parameters have `x-ms-url-encoding: single`.",
    PathParameterRequired = "path-parameter-required": "Path parameters are required.",
    InternalRequiredDefault = "internal-required-default": "An internal required parameter or property has a default: nobody can fill it in.",
    DynamicValuesOperation = "dynamic-values-operation": "`x-ms-dynamic-values` calls an existing GET operation.",
    DynamicValuesParameter = "dynamic-values-parameter": "`x-ms-dynamic-values` passes parameters that exist on both operations.",
    DynamicValuesPath = "dynamic-values-path": "`value-collection`, `value-path` and `value-title` of `x-ms-dynamic-values` exist in the called operation's 2xx schema.",
    DynamicListOperation = "dynamic-list-operation": "`x-ms-dynamic-list` calls an existing GET operation.",
    DynamicListParameter = "dynamic-list-parameter": "`x-ms-dynamic-list` passes parameters that exist on both operations.",
    DynamicListPath = "dynamic-list-path": "`itemsPath`, `itemValuePath` and `itemTitlePath` of `x-ms-dynamic-list` exist in the called operation's 2xx schema.",
    DynamicSchemaOperation = "dynamic-schema-operation": "`x-ms-dynamic-schema` calls an existing GET operation.",
    DynamicSchemaParameter = "dynamic-schema-parameter": "`x-ms-dynamic-schema` passes parameters that exist on both operations.",
    DynamicSchemaPath = "dynamic-schema-path": "The `value-path` of `x-ms-dynamic-schema` exists in the called operation's 2xx schema.",
    DynamicPropertiesOperation = "dynamic-properties-operation": "`x-ms-dynamic-properties` calls an existing GET operation.",
    DynamicPropertiesParameter = "dynamic-properties-parameter": "`x-ms-dynamic-properties` passes parameters that exist on both operations.",
    DynamicPropertiesPath = "dynamic-properties-path": "The `itemValuePath` of `x-ms-dynamic-properties` exists in the called operation's 2xx schema.",
    DynamicSchemaOnParameter = "dynamic-schema-on-parameter": "`x-ms-dynamic-schema` and `x-ms-dynamic-properties` sit on schemas, never on parameters.",
    TestConnectionOperation = "test-connection-operation": "`x-ms-capabilities.testConnection` calls an existing GET operation.",
    TestConnectionParameter = "test-connection-parameter": "`x-ms-capabilities.testConnection` passes parameters that exist on that operation.",
    PageableNextLinkName = "pageable-next-link-name": "`x-ms-pageable.nextLinkName` is `nextLink` or `@odata.nextLink`.",
    PageableNextLinkMissing = "pageable-next-link-missing": "A pageable operation's 2xx schema has its next-link property.",
    PageableNextLinkInternal = "pageable-next-link-internal": "A pageable operation's next-link property is `x-ms-visibility: internal`.",
    PageablePolicy = "pageable-policy": "Every pageable operation is named by an `updatenextlink` policy of apiProperties.json with its next-link name.",
    PolicyOperation = "policy-operation": "The operations a policy template names exist in the definition.",
    Response2xx = "response-2xx": "Every operation declares an explicit 2xx response.",
    ResponseDefaultOnly = "response-default-only": "`default` is never the only response.",
    ResponseDefaultSchema = "response-default-schema": "The `default` response carries no schema.",
    EmptySchema = "empty-schema": "Response and notification schemas are never empty.",
    PropertySummary = "property-x-ms-summary": "Every visible response or notification property has an `x-ms-summary` label.",
    PropertyDescription = "property-description": "Every visible response or notification property has a description.",
    TriggerPost = "trigger-post": "A webhook trigger is a POST.",
    TriggerNotificationUrl = "trigger-notification-url": "A trigger's body has exactly one string property with `x-ms-notification-url: true`.",
    TriggerNotificationUrlInternal = "trigger-notification-url-internal": "The notification URL property is `x-ms-visibility: internal`.",
    TriggerNotificationUrlRequired = "trigger-notification-url-required": "The notification URL property is required at every level.",
    NotificationUrlPattern = "notification-url-pattern": "The notification URL property carries no `pattern`: Power Automate fills it, and the designer cannot use one.",
    TriggerNotificationContent = "trigger-notification-content": "A trigger's path item has `x-ms-notification-content` with a schema.",
    TriggerLocationHeader = "trigger-location-header": "A trigger answers 201 with a `Location` header to unsubscribe at.",
    TriggerDeleteMissing = "trigger-delete-missing": "A connector with webhook triggers has an internal DELETE operation.",
    SecurityDefinitions = "security-definitions": "Every security requirement names an entry of `securityDefinitions`.",
    ConnectorMetadata = "connector-metadata": "The root has `x-ms-connector-metadata`.",
    ConnectorCategories = "connector-categories": "`x-ms-connector-metadata` names at most two categories.",
    RefUnknown = "ref-unknown": "Every `$ref` resolves.",
    NoTypeArray = "no-type-array": "`type` is a single type.",
    NoNullType = "no-null-type": "No `null` type: Swagger 2.0 uses `x-nullable`.",
    NoNullable = "no-nullable": "No `nullable`: Swagger 2.0 uses `x-nullable`.",
    NoOneOf = "no-one-of": "No `oneOf`: Swagger 2.0 has none.",
    NoAnyOf = "no-any-of": "No `anyOf`: Swagger 2.0 has none.",
    RequiredNotObject = "required-not-object": "`required` sits on object schemas only.",
    RequiredEmpty = "required-empty": "`required` is never empty.",
    FormatUnknown = "format-unknown": "Every `format` is one Power Platform accepts.",
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}
