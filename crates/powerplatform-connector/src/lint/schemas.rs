//! The lint's schema rules: explicit 2xx answers, documented response and notification
//! properties (the designer's dynamic content), and the Swagger 2.0 shape of every schema.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::{FORMATS, Linter, Op, Rule, child, is_empty_schema, is_internal, non_empty, str_of};

impl<'a> Linter<'a> {
    pub(super) fn responses(&mut self, op: &Op<'a>) {
        let loc = child(&op.loc, "responses");
        let Some(responses) = op.obj.get("responses").and_then(Value::as_object) else {
            self.report(&loc, Rule::Response2xx, "operation has no responses");
            return;
        };
        let codes: Vec<&str> = responses
            .keys()
            .map(String::as_str)
            .filter(|k| !k.starts_with("x-"))
            .collect();
        let is_2xx =
            |c: &&str| c.len() == 3 && c.starts_with('2') && c.chars().all(|d| d.is_ascii_digit());
        if !codes.iter().any(is_2xx) {
            self.report(
                &loc,
                Rule::Response2xx,
                "operation declares no explicit 2xx response",
            );
        }
        if codes == ["default"] {
            self.report(
                &loc,
                Rule::ResponseDefaultOnly,
                "`default` must not be the only response",
            );
        }
        for code in codes {
            let at = child(&loc, code);
            let Some(response) = self.response(responses.get(code), &at) else {
                continue;
            };
            if let Some(schema) = response.0.get("schema") {
                let schema_loc = child(&response.1, "schema");
                if code == "default" {
                    self.report(
                        &schema_loc,
                        Rule::ResponseDefaultSchema,
                        "the `default` response must not carry a schema",
                    );
                }
                self.documented(schema, schema_loc, &mut HashSet::new());
            }
        }
    }

    pub(super) fn response(
        &mut self,
        response: Option<&'a Value>,
        loc: &str,
    ) -> Option<(&'a Map<String, Value>, String)> {
        let response = response?;
        if let Some(reference) = response.get("$ref").and_then(Value::as_str) {
            let target = reference
                .strip_prefix("#/responses/")
                .and_then(|name| Some((name, self.root.get("responses")?.get(name)?.as_object()?)));
            return match target {
                Some((name, obj)) => Some((obj, child("/responses", name))),
                None => {
                    self.report(
                        loc,
                        Rule::RefUnknown,
                        format!("`{reference}` does not resolve"),
                    );
                    None
                }
            };
        }
        Some((response.as_object()?, loc.to_owned()))
    }

    /// Response and notification schemas feed the designer's dynamic content: every property
    /// needs a label (`x-ms-summary`) and a description, and nothing may be an empty schema.
    pub(super) fn documented(
        &mut self,
        schema: &'a Value,
        loc: String,
        visited: &mut HashSet<String>,
    ) {
        let Some(obj) = schema.as_object() else {
            return;
        };
        if let Some(reference) = str_of(obj, "$ref") {
            if let Some((name, target)) = self.definition(reference)
                && visited.insert(name.clone())
            {
                self.documented(target, child("/definitions", &name), visited);
            }
            return;
        }
        if is_empty_schema(obj) {
            self.report(
                &loc,
                Rule::EmptySchema,
                "empty schema: Power Automate can show nothing for it; give it a type",
            );
            return;
        }
        if let Some(props) = obj.get("properties").and_then(Value::as_object) {
            let props_loc = child(&loc, "properties");
            for (name, prop) in props {
                let prop_loc = child(&props_loc, name);
                let Some(p) = prop.as_object() else {
                    continue;
                };
                if !is_internal(p) {
                    let target = str_of(p, "$ref")
                        .and_then(|r| self.definition(r))
                        .and_then(|(_, t)| t.as_object());
                    let has =
                        |key: &str| non_empty(p, key) || target.is_some_and(|t| non_empty(t, key));
                    if !has("x-ms-summary") {
                        self.report(
                            &prop_loc,
                            Rule::PropertySummary,
                            format!("property `{name}` has no x-ms-summary"),
                        );
                    }
                    if !has("description") {
                        self.report(
                            &prop_loc,
                            Rule::PropertyDescription,
                            format!("property `{name}` has no description"),
                        );
                    }
                }
                self.documented(prop, prop_loc, visited);
            }
        }
        if let Some(items) = obj.get("items") {
            self.documented(items, child(&loc, "items"), visited);
        }
        if let Some(parts) = obj.get("allOf").and_then(Value::as_array) {
            for (i, part) in parts.iter().enumerate() {
                self.documented(part, child(&child(&loc, "allOf"), &i.to_string()), visited);
            }
        }
        if let Some(extra) = obj.get("additionalProperties").filter(|a| a.is_object()) {
            self.documented(extra, child(&loc, "additionalProperties"), visited);
        }
    }

    /// Structural rules that hold for every schema of the document, wherever it sits.
    pub(super) fn all_schemas(&mut self, ops: &[Op<'a>]) {
        if let Some(definitions) = self.root.get("definitions").and_then(Value::as_object) {
            for (name, schema) in definitions {
                self.schema_rules(schema, child("/definitions", name));
            }
        }
        let mut seen_params = HashSet::new();
        let mut seen_items = HashSet::new();
        for op in ops {
            for param in &op.params {
                if !seen_params.insert(param.loc.clone()) {
                    continue;
                }
                match param.obj.get("schema") {
                    Some(schema) => self.schema_rules(schema, child(&param.loc, "schema")),
                    None => self.primitive_rules(param.obj, &param.loc),
                }
            }
            if let Some(responses) = op.obj.get("responses").and_then(Value::as_object) {
                let loc = child(&op.loc, "responses");
                for (code, response) in responses {
                    let Some((response, at)) = self.response(Some(response), &child(&loc, code))
                    else {
                        continue;
                    };
                    if !seen_items.insert(at.clone()) {
                        continue;
                    }
                    if let Some(schema) = response.get("schema") {
                        self.schema_rules(schema, child(&at, "schema"));
                    }
                    if let Some(headers) = response.get("headers").and_then(Value::as_object) {
                        for (name, header) in headers {
                            if let Some(header) = header.as_object() {
                                self.primitive_rules(header, &child(&child(&at, "headers"), name));
                            }
                        }
                    }
                }
            }
            if seen_items.insert(op.item_loc.clone())
                && let Some(schema) = op
                    .item
                    .get("x-ms-notification-content")
                    .and_then(|c| c.get("schema"))
            {
                let loc = child(&child(&op.item_loc, "x-ms-notification-content"), "schema");
                self.schema_rules(schema, loc);
            }
        }
    }

    /// Rules for the type keywords of a non-body parameter, a header or `items`.
    fn primitive_rules(&mut self, obj: &Map<String, Value>, loc: &str) {
        self.type_rules(obj, loc);
        if let Some(items) = obj.get("items").and_then(Value::as_object) {
            self.primitive_rules(items, &child(loc, "items"));
        }
    }

    fn type_rules(&mut self, obj: &Map<String, Value>, loc: &str) {
        match obj.get("type") {
            Some(Value::Array(_)) => self.report(
                child(loc, "type"),
                Rule::NoTypeArray,
                "`type` must be a single type in Swagger 2.0; use `x-nullable` for null",
            ),
            Some(Value::String(t)) if t == "null" => self.report(
                child(loc, "type"),
                Rule::NoNullType,
                "Swagger 2.0 has no `null` type; use `x-nullable`",
            ),
            _ => {}
        }
        if obj.contains_key("nullable") {
            self.report(
                child(loc, "nullable"),
                Rule::NoNullable,
                "`nullable` is OpenAPI 3; Swagger 2.0 uses `x-nullable`",
            );
        }
        if let Some(format) = str_of(obj, "format")
            && !FORMATS.contains(&format)
        {
            self.report(
                child(loc, "format"),
                Rule::FormatUnknown,
                format!("format `{format}` is not one Power Platform accepts"),
            );
        }
    }

    fn schema_rules(&mut self, schema: &'a Value, loc: String) {
        let Some(obj) = schema.as_object() else {
            return;
        };
        self.type_rules(obj, &loc);
        for (keyword, rule) in [("oneOf", Rule::NoOneOf), ("anyOf", Rule::NoAnyOf)] {
            if let Some(parts) = obj.get(keyword) {
                self.report(
                    child(&loc, keyword),
                    rule,
                    format!("`{keyword}` does not exist in Swagger 2.0"),
                );
                for (i, part) in parts.as_array().into_iter().flatten().enumerate() {
                    self.schema_rules(part, child(&child(&loc, keyword), &i.to_string()));
                }
            }
        }
        if let Some(required) = obj.get("required") {
            let objectish = str_of(obj, "type") == Some("object")
                || obj.contains_key("properties")
                || obj.contains_key("allOf");
            if !objectish {
                self.report(
                    child(&loc, "required"),
                    Rule::RequiredNotObject,
                    "`required` belongs on object schemas only",
                );
            }
            if required.as_array().is_some_and(Vec::is_empty) {
                self.report(
                    child(&loc, "required"),
                    Rule::RequiredEmpty,
                    "`required` must not be empty",
                );
            }
        }
        if let Some(reference) = str_of(obj, "$ref")
            && self.definition(reference).is_none()
        {
            self.report(
                child(&loc, "$ref"),
                Rule::RefUnknown,
                format!("`{reference}` does not name an entry of `definitions`"),
            );
        }
        if let Some(props) = obj.get("properties").and_then(Value::as_object) {
            let props_loc = child(&loc, "properties");
            for (name, prop) in props {
                self.schema_rules(prop, child(&props_loc, name));
            }
        }
        match obj.get("items") {
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    self.schema_rules(item, child(&child(&loc, "items"), &i.to_string()));
                }
            }
            Some(items) => self.schema_rules(items, child(&loc, "items")),
            None => {}
        }
        if let Some(parts) = obj.get("allOf").and_then(Value::as_array) {
            for (i, part) in parts.iter().enumerate() {
                self.schema_rules(part, child(&child(&loc, "allOf"), &i.to_string()));
            }
        }
        if let Some(extra) = obj.get("additionalProperties").filter(|a| a.is_object()) {
            self.schema_rules(extra, child(&loc, "additionalProperties"));
        }
    }
}
