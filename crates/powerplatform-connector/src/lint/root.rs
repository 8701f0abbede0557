//! The lint's rules on the document as a whole and on each operation's own words: `info`,
//! host and schemes, summaries and descriptions, parameter labels and visibility, security,
//! connector metadata, and plain text wherever a flow maker reads it.

use serde_json::{Map, Value};

use super::{Linter, Op, Param, Rule, child, is_internal, non_empty, str_of};

/// The visibilities Power Platform accepts (its schema's `x-ms-visibility` enum).
const VISIBILITIES: [&str; 3] = ["important", "advanced", "internal"];

/// Words and product names certification refuses in `info.title`, lowercase, matched on whole
/// words.
const TITLE_FORBIDDEN: [&str; 16] = [
    "api",
    "apis",
    "connector",
    "connectors",
    "microsoft",
    "power automate",
    "power apps",
    "powerapps",
    "power platform",
    "power bi",
    "power pages",
    "power virtual agents",
    "copilot studio",
    "logic apps",
    "logicapps",
    "microsoft flow",
];

/// Lowercase words of a title joined by single spaces, padded, for whole-word matching.
fn words(text: &str) -> String {
    let joined = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ");
    format!(" {joined} ")
}

fn normalized(text: &str) -> String {
    text.trim().trim_end_matches('.').trim().to_lowercase()
}

fn valid_host(host: &str) -> bool {
    let (name, port) = match host.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    !name.is_empty()
        && !name
            .chars()
            .any(|c| matches!(c, '{' | '}' | '/' | ' ' | ':' | '\\'))
        && port.is_none_or(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

impl<'a> Linter<'a> {
    pub(super) fn info(&mut self) {
        let Some(info) = self.root.get("info").and_then(Value::as_object) else {
            self.report("/info", Rule::InfoTitleMissing, "`info` is missing");
            return;
        };
        match str_of(info, "title") {
            None => self.report(
                "/info/title",
                Rule::InfoTitleMissing,
                "`info.title` is missing",
            ),
            Some(title) => {
                if title.chars().count() > 30 {
                    self.report(
                        "/info/title",
                        Rule::InfoTitleLength,
                        format!("title has {} characters; at most 30", title.chars().count()),
                    );
                }
                let haystack = words(title);
                for word in TITLE_FORBIDDEN {
                    if haystack.contains(&format!(" {word} ")) {
                        self.report(
                            "/info/title",
                            Rule::InfoTitleForbiddenWord,
                            format!("title must not contain \"{word}\" (API, Connector and product names are refused)"),
                        );
                    }
                }
                if !title.chars().last().is_some_and(char::is_alphanumeric) {
                    self.report(
                        "/info/title",
                        Rule::InfoTitleEnding,
                        "title must end with a letter or a digit",
                    );
                }
            }
        }
        let length = str_of(info, "description").map_or(0, |d| d.chars().count());
        if !(30..=500).contains(&length) {
            self.report(
                "/info/description",
                Rule::InfoDescriptionLength,
                format!("description has {length} characters; it needs 30 to 500"),
            );
        }
        if !info.get("contact").is_some_and(Value::is_object) {
            self.report(
                "/info/contact",
                Rule::InfoContact,
                "`info.contact` is missing",
            );
        }
    }

    pub(super) fn endpoint(&mut self) {
        match str_of(self.root, "host") {
            Some(host) if valid_host(host) => {}
            Some(host) => self.report(
                "/host",
                Rule::Host,
                format!("`{host}` must be a bare host[:port], without scheme or path"),
            ),
            None => self.report("/host", Rule::Host, "`host` is missing"),
        }
        if let Some(base) = self.root.get("basePath")
            && !base.as_str().is_some_and(|b| b.starts_with('/'))
        {
            self.report(
                "/basePath",
                Rule::BasePath,
                "`basePath` must start with `/`",
            );
        }
        let https = self
            .root
            .get("schemes")
            .and_then(Value::as_array)
            .is_some_and(|s| s.iter().any(|x| x == "https"));
        if !https {
            self.report(
                "/schemes",
                Rule::SchemesHttps,
                "`schemes` must include https",
            );
        }
    }

    pub(super) fn plain_text(&mut self, obj: &'a Map<String, Value>, loc: String) {
        for (key, value) in obj {
            let at = child(&loc, key);
            match (key.as_str(), value) {
                ("description" | "x-ms-trigger-hint", Value::String(text))
                    if text.contains(['\n', '\r', '`']) =>
                {
                    self.report(
                        at,
                        Rule::DescriptionPlainText,
                        "one line of plain text, please: no line breaks, no backticks",
                    );
                }
                ("x-ms-summary", Value::String(label))
                    if label.contains(['$', '_', '`', '\n', '\r']) =>
                {
                    self.report(
                        at,
                        Rule::LabelWords,
                        format!("label `{label}` reads as a wire name; say it in words (\"Top Count\", not \"$top\")"),
                    );
                }
                // Sample values are data, not text shown to flow makers.
                ("example" | "examples" | "x-example" | "default" | "enum", _) => {}
                (_, Value::Object(inner)) => self.plain_text(inner, at),
                (_, Value::Array(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        if let Some(inner) = item.as_object() {
                            self.plain_text(inner, child(&at, &i.to_string()));
                        }
                    }
                }
                _ => {}
            }
        }
    }

    pub(super) fn summary(&mut self, op: &Op<'a>) {
        let summary_loc = child(&op.loc, "summary");
        let summary = str_of(op.obj, "summary").filter(|s| !s.trim().is_empty());
        match summary {
            None => self.report(
                &summary_loc,
                Rule::SummaryMissing,
                "operation has no summary",
            ),
            Some(summary) => {
                if summary.chars().count() > 80 {
                    self.report(
                        &summary_loc,
                        Rule::SummaryLength,
                        format!(
                            "summary has {} characters; at most 80",
                            summary.chars().count()
                        ),
                    );
                }
                let text = match summary.strip_suffix('.') {
                    Some(text) => {
                        self.report(
                            &summary_loc,
                            Rule::SummaryTrailingPeriod,
                            "summary must not end with a period",
                        );
                        text
                    }
                    None => summary,
                };
                let bad: String = text
                    .chars()
                    .filter(|c| !(c.is_alphanumeric() || matches!(c, ' ' | '(' | ')')))
                    .collect();
                if !bad.is_empty() {
                    self.report(
                        &summary_loc,
                        Rule::SummaryCharacters,
                        format!("summary may hold only letters, digits, spaces and parentheses; found `{bad}`"),
                    );
                }
                // "When a ...", "When an ...", or "When unification is completed".
                if op.is_trigger() && !summary.starts_with("When ") {
                    self.report(
                        &summary_loc,
                        Rule::TriggerSummary,
                        "trigger summaries start with \"When \", saying what starts the flow",
                    );
                }
            }
        }
        let description_loc = child(&op.loc, "description");
        match str_of(op.obj, "description").filter(|d| !d.trim().is_empty()) {
            None => self.report(
                description_loc,
                Rule::DescriptionMissing,
                "operation has no description",
            ),
            Some(description) => {
                if summary.is_some_and(|s| normalized(s) == normalized(description)) {
                    self.report(
                        description_loc,
                        Rule::DescriptionEqualsSummary,
                        "description must say more than the summary",
                    );
                }
            }
        }
    }

    pub(super) fn parameter(&mut self, param: &Param<'a>) {
        let name = param.name();
        if !non_empty(param.obj, "x-ms-summary") {
            self.report(
                &param.loc,
                Rule::ParameterSummary,
                format!("parameter `{name}` has no x-ms-summary"),
            );
        }
        if !non_empty(param.obj, "description") {
            self.report(
                &param.loc,
                Rule::ParameterDescription,
                format!("parameter `{name}` has no description"),
            );
        }
        if !str_of(param.obj, "x-ms-visibility").is_some_and(|v| VISIBILITIES.contains(&v)) {
            self.report(
                &param.loc,
                Rule::ParameterVisibility,
                format!(
                    "parameter `{name}` needs `x-ms-visibility`: important, advanced or internal"
                ),
            );
        }
        for ext in ["x-ms-dynamic-schema", "x-ms-dynamic-properties"] {
            if param.obj.contains_key(ext) {
                self.report(
                    child(&param.loc, ext),
                    Rule::DynamicSchemaOnParameter,
                    format!("parameter `{name}` carries {ext}; put it on the schema (a body parameter's `schema`, a response's items)"),
                );
            }
        }
        if param.location() == "path" {
            if str_of(param.obj, "x-ms-url-encoding") != Some("single") {
                self.report(
                    &param.loc,
                    Rule::PathParameterUrlEncoding,
                    format!("path parameter `{name}` needs `x-ms-url-encoding: single`"),
                );
            }
            if param.obj.get("required") != Some(&Value::Bool(true)) {
                self.report(
                    &param.loc,
                    Rule::PathParameterRequired,
                    format!("path parameter `{name}` must be required"),
                );
            }
        }
        if param.location() != "body"
            && is_internal(param.obj)
            && param.obj.get("required") == Some(&Value::Bool(true))
            && !param.obj.contains_key("default")
        {
            self.report(
                &param.loc,
                Rule::InternalRequiredDefault,
                format!(
                    "internal required parameter `{name}` needs a default: nobody can fill it in"
                ),
            );
        }
    }

    pub(super) fn security(&mut self, ops: &[Op<'a>]) {
        let mut uses: Vec<(String, &'a Value)> = Vec::new();
        if let Some(security) = self.root.get("security") {
            uses.push(("/security".into(), security));
        }
        for op in ops {
            if let Some(security) = op.obj.get("security") {
                uses.push((child(&op.loc, "security"), security));
            }
        }
        let definitions = self
            .root
            .get("securityDefinitions")
            .and_then(Value::as_object)
            .filter(|d| !d.is_empty());
        for (loc, security) in uses {
            let requirements = security.as_array().into_iter().flatten();
            for (i, requirement) in requirements.enumerate() {
                let Some(requirement) = requirement.as_object() else {
                    continue;
                };
                for name in requirement.keys() {
                    let known = definitions.is_some_and(|d| d.contains_key(name));
                    if !known {
                        self.report(
                            child(&loc, &i.to_string()),
                            Rule::SecurityDefinitions,
                            format!("security requirement `{name}` has no entry in `securityDefinitions`"),
                        );
                    }
                }
            }
        }
    }

    pub(super) fn metadata(&mut self) {
        let Some(entries) = self
            .root
            .get("x-ms-connector-metadata")
            .and_then(Value::as_array)
        else {
            self.report(
                "/x-ms-connector-metadata",
                Rule::ConnectorMetadata,
                "`x-ms-connector-metadata` (Website, Privacy policy, Categories) is missing",
            );
            return;
        };
        for (i, entry) in entries.iter().enumerate() {
            let is_categories = entry
                .get("propertyName")
                .and_then(Value::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case("categories"));
            if !is_categories {
                continue;
            }
            let value = entry
                .get("propertyValue")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let count = value.split(';').filter(|c| !c.trim().is_empty()).count();
            if count > 2 {
                self.report(
                    child(
                        &child("/x-ms-connector-metadata", &i.to_string()),
                        "propertyValue",
                    ),
                    Rule::ConnectorCategories,
                    format!("{count} categories; at most two"),
                );
            }
        }
    }
}
