//! Owns the certification lint of a connector package (the CONNECTOR-RULES.md checklist).
//!
//! The lint runs on the final `apiDefinition.swagger.json` (and, for the rules that tie the two
//! together, `apiProperties.json`) so that what Power Automate imports is what gets checked:
//! every rule that the certification validator or a reviewer would reject, and every mistake
//! that silently breaks flows (no `Location`, no internal DELETE, a lookup reading a path the
//! called operation does not answer), becomes a [`Finding`] naming a [`Rule`], a JSON pointer
//! and a sentence saying what to fix.

mod dynamic;
mod paging;
mod root;
mod rules;
mod schemas;
mod trigger;

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde_json::{Map, Value};

pub(crate) use paging::{NEXT_LINK_PROPERTY, OPERATION_NAMES, UPDATE_NEXT_LINK};
pub use rules::Rule;

use crate::swagger2::FORMATS_2 as FORMATS;

/// Which file of the package a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Document {
    /// `apiDefinition.swagger.json`.
    ApiDefinition,
    /// `apiProperties.json`.
    ApiProperties,
}

impl Document {
    /// The file name a package gives the document.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::ApiDefinition => "apiDefinition.swagger.json",
            Self::ApiProperties => "apiProperties.json",
        }
    }
}

/// One violated rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The document the location points into.
    pub document: Document,
    /// JSON pointer to the offending value (or to where a missing one belongs).
    pub location: String,
    /// The rule broken.
    pub rule: Rule,
    /// What is wrong here, in a sentence.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}#{} [{}] {}",
            self.document.file_name(),
            self.location,
            self.rule,
            self.message
        )
    }
}

/// Lints a Swagger 2.0 connector definition on its own; a clean definition yields no findings.
/// Rules that need `apiProperties.json` too (paging policies) are left to [`lint_package`].
pub fn lint(definition: &Value) -> Vec<Finding> {
    run(definition, None)
}

/// Lints a connector package: the definition, and the rules that tie it to its
/// `apiProperties.json` (each pageable operation named by an `updatenextlink` policy, each
/// policy naming existing operations).
pub fn lint_package(definition: &Value, properties: &Value) -> Vec<Finding> {
    run(definition, Some(properties))
}

fn run(definition: &Value, properties: Option<&Value>) -> Vec<Finding> {
    let not_object = |document: Document| Finding {
        document,
        location: String::new(),
        rule: Rule::Document,
        message: format!("{} is not a JSON object", document.file_name()),
    };
    let Some(root) = definition.as_object() else {
        return vec![not_object(Document::ApiDefinition)];
    };
    let properties = match properties.map(Value::as_object) {
        None => None,
        Some(Some(properties)) => Some(properties),
        Some(None) => return vec![not_object(Document::ApiProperties)],
    };
    let mut linter = Linter {
        root,
        properties,
        findings: Vec::new(),
        reported: HashSet::new(),
    };
    linter.run();
    linter.findings
}

const METHODS: [&str; 7] = ["get", "put", "post", "delete", "options", "head", "patch"];

fn child(loc: &str, key: &str) -> String {
    format!("{loc}/{}", key.replace('~', "~0").replace('/', "~1"))
}

fn str_of<'v>(obj: &'v Map<String, Value>, key: &str) -> Option<&'v str> {
    obj.get(key).and_then(Value::as_str)
}

fn non_empty(obj: &Map<String, Value>, key: &str) -> bool {
    str_of(obj, key).is_some_and(|s| !s.trim().is_empty())
}

fn is_internal(obj: &Map<String, Value>) -> bool {
    str_of(obj, "x-ms-visibility") == Some("internal")
}

fn lists_required(schema: &Map<String, Value>, name: &str) -> bool {
    schema
        .get("required")
        .and_then(Value::as_array)
        .is_some_and(|r| r.iter().any(|n| n == name))
}

/// A schema that says nothing about its value: Power Automate shows no dynamic content for it.
fn is_empty_schema(obj: &Map<String, Value>) -> bool {
    const SHAPING: [&str; 10] = [
        "$ref",
        "type",
        "properties",
        "items",
        "allOf",
        "enum",
        "additionalProperties",
        "format",
        "x-ms-dynamic-schema",
        "x-ms-dynamic-properties",
    ];
    !SHAPING.iter().any(|k| obj.contains_key(*k))
}

fn is_pascal_case(id: &str) -> bool {
    id.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && id.chars().all(|c| c.is_ascii_alphanumeric())
}

struct Param<'a> {
    loc: String,
    obj: &'a Map<String, Value>,
}

impl Param<'_> {
    fn name(&self) -> &str {
        str_of(self.obj, "name").unwrap_or_default()
    }

    fn location(&self) -> &str {
        str_of(self.obj, "in").unwrap_or_default()
    }
}

struct Op<'a> {
    method: &'a str,
    loc: String,
    item_loc: String,
    obj: &'a Map<String, Value>,
    item: &'a Map<String, Value>,
    params: Vec<Param<'a>>,
}

impl<'a> Op<'a> {
    fn is_trigger(&self) -> bool {
        self.obj.contains_key("x-ms-trigger")
    }

    fn body(&self) -> Option<&Param<'a>> {
        self.params.iter().find(|p| p.location() == "body")
    }
}

struct Linter<'a> {
    root: &'a Map<String, Value>,
    /// `apiProperties.json`, when the whole package is linted.
    properties: Option<&'a Map<String, Value>>,
    findings: Vec<Finding>,
    reported: HashSet<(Document, String, Rule)>,
}

impl<'a> Linter<'a> {
    /// Records a finding in the definition.
    fn report(&mut self, location: impl Into<String>, rule: Rule, message: impl Into<String>) {
        self.report_in(Document::ApiDefinition, location, rule, message);
    }

    /// Records a finding once: shared definitions are reached from many operations.
    fn report_in(
        &mut self,
        document: Document,
        location: impl Into<String>,
        rule: Rule,
        message: impl Into<String>,
    ) {
        let location = location.into();
        if self.reported.insert((document, location.clone(), rule)) {
            self.findings.push(Finding {
                document,
                location,
                rule,
                message: message.into(),
            });
        }
    }

    fn run(&mut self) {
        if self.root.get("swagger").and_then(Value::as_str) != Some("2.0") {
            self.report(
                "/swagger",
                Rule::SwaggerVersion,
                "`swagger` must be \"2.0\"",
            );
        }
        self.info();
        self.endpoint();
        let ops = self.operations();
        if ops.len() > 256 {
            self.report(
                "/paths",
                Rule::OperationCount,
                format!("{} operations; a connector may have at most 256", ops.len()),
            );
        }
        self.operation_ids(&ops);
        for op in &ops {
            self.operation(op, &ops);
        }
        if let Some(trigger) = ops.iter().find(|op| op.is_trigger()) {
            let has_delete = ops
                .iter()
                .any(|op| op.method == "delete" && is_internal(op.obj));
            if !has_delete {
                self.report(
                    &trigger.loc,
                    Rule::TriggerDeleteMissing,
                    "webhook triggers need a DELETE operation marked `x-ms-visibility: internal` to unsubscribe",
                );
            }
        }
        self.test_connection(&ops);
        if let Some(properties) = self.properties {
            self.policies(properties, &ops);
        }
        self.security(&ops);
        self.metadata();
        self.all_schemas(&ops);
        self.plain_text(self.root, String::new());
    }

    fn definition(&self, reference: &str) -> Option<(String, &'a Value)> {
        let name = reference
            .strip_prefix("#/definitions/")?
            .replace("~1", "/")
            .replace("~0", "~");
        let target = self.root.get("definitions")?.get(&name)?;
        Some((name, target))
    }

    /// Follows `$ref`s to the schema they name, returning it with its location.
    fn deref_schema(&self, schema: &'a Value, loc: String) -> (&'a Value, String) {
        let mut current = (schema, loc);
        for _ in 0..32 {
            let Some(reference) = current.0.get("$ref").and_then(Value::as_str) else {
                break;
            };
            match self.definition(reference) {
                Some((name, target)) => current = (target, child("/definitions", &name)),
                None => break,
            }
        }
        current
    }

    /// The schema of an operation's first 2xx response that has one: what lookups read.
    fn answer(&self, op: &Op<'a>) -> Option<&'a Value> {
        let responses = op.obj.get("responses")?.as_object()?;
        responses
            .iter()
            .filter(|(code, _)| code.len() == 3 && code.starts_with('2'))
            .find_map(|(_, response)| {
                let response = match response.get("$ref").and_then(Value::as_str) {
                    Some(reference) => {
                        let name = reference.strip_prefix("#/responses/")?;
                        self.root.get("responses")?.get(name)?
                    }
                    None => response,
                };
                response.get("schema")
            })
    }

    /// The schema at a `/`-separated property path (`value`, `body/field`) inside `schema`,
    /// following `$ref`s and `allOf` parts; the empty path is `schema` itself.
    fn schema_at(&self, schema: &'a Value, path: &str) -> Option<&'a Value> {
        let mut current = schema;
        for segment in path.split('/').filter(|s| !s.is_empty()) {
            current = self.property_of(current, segment, 0)?;
        }
        Some(current)
    }

    fn property_of(&self, schema: &'a Value, name: &str, depth: usize) -> Option<&'a Value> {
        if depth > 32 {
            return None;
        }
        let (schema, _) = self.deref_schema(schema, String::new());
        if let Some(found) = schema.get("properties").and_then(|p| p.get(name)) {
            return Some(found);
        }
        let parts = schema.get("allOf").and_then(Value::as_array)?;
        parts
            .iter()
            .find_map(|part| self.property_of(part, name, depth + 1))
    }

    /// Descriptions and hints are one line of plain text, and labels are words, wherever they
    /// sit (operations, parameters, schemas, responses, headers).
    fn resolve_param(&self, param: &'a Value, loc: String) -> Option<Param<'a>> {
        if let Some(reference) = param.get("$ref").and_then(Value::as_str) {
            let name = reference.strip_prefix("#/parameters/")?;
            let target = self.root.get("parameters")?.get(name)?.as_object()?;
            return Some(Param {
                loc: child("/parameters", name),
                obj: target,
            });
        }
        Some(Param {
            loc,
            obj: param.as_object()?,
        })
    }

    fn operations(&mut self) -> Vec<Op<'a>> {
        let mut ops = Vec::new();
        let Some(paths) = self.root.get("paths").and_then(Value::as_object) else {
            self.report("/paths", Rule::Paths, "`paths` is missing");
            return ops;
        };
        for (path, item) in paths {
            let Some(item) = item.as_object().filter(|_| !path.starts_with("x-")) else {
                continue;
            };
            let item_loc = child("/paths", path);
            let shared: Vec<Param<'a>> = self.param_list(item.get("parameters"), &item_loc);
            for (method, op) in item {
                let Some(obj) = op
                    .as_object()
                    .filter(|_| METHODS.contains(&method.as_str()))
                else {
                    continue;
                };
                let loc = child(&item_loc, method);
                let own = self.param_list(obj.get("parameters"), &loc);
                let mut params: Vec<Param<'a>> = shared
                    .iter()
                    .filter(|s| {
                        !own.iter()
                            .any(|o| o.name() == s.name() && o.location() == s.location())
                    })
                    .map(|s| Param {
                        loc: s.loc.clone(),
                        obj: s.obj,
                    })
                    .collect();
                params.extend(own);
                ops.push(Op {
                    method,
                    loc,
                    item_loc: item_loc.clone(),
                    obj,
                    item,
                    params,
                });
            }
        }
        ops
    }

    fn param_list(&mut self, list: Option<&'a Value>, owner: &str) -> Vec<Param<'a>> {
        let mut out = Vec::new();
        let Some(list) = list.and_then(Value::as_array) else {
            return out;
        };
        let list_loc = child(owner, "parameters");
        for (i, p) in list.iter().enumerate() {
            let loc = child(&list_loc, &i.to_string());
            match self.resolve_param(p, loc.clone()) {
                Some(param) => out.push(param),
                None => self.report(
                    loc,
                    Rule::RefUnknown,
                    "parameter reference does not resolve",
                ),
            }
        }
        out
    }

    fn operation_ids(&mut self, ops: &[Op<'a>]) {
        let mut seen: HashMap<&str, &str> = HashMap::new();
        for op in ops {
            let loc = child(&op.loc, "operationId");
            match str_of(op.obj, "operationId") {
                None => self.report(
                    loc,
                    Rule::OperationIdMissing,
                    "operation has no operationId",
                ),
                Some(id) => {
                    if !is_pascal_case(id) {
                        self.report(
                            &loc,
                            Rule::OperationIdPascalCase,
                            format!("operationId `{id}` must be PascalCase (letters and digits, leading capital)"),
                        );
                    }
                    if let Some(first) = seen.insert(id, &op.loc) {
                        self.report(
                            &loc,
                            Rule::OperationIdDuplicate,
                            format!("operationId `{id}` is also used at {first}"),
                        );
                    }
                }
            }
        }
    }

    fn operation(&mut self, op: &Op<'a>, ops: &[Op<'a>]) {
        self.summary(op);
        for param in &op.params {
            self.parameter(param);
            self.lookups(param.obj, &param.loc, op, ops);
        }
        if let Some(body) = op.body()
            && let Some(schema) = body.obj.get("schema")
        {
            let loc = child(&body.loc, "schema");
            self.operation_schema(schema, loc, op, ops, true, &mut HashSet::new());
        }
        // Output shapes may be fetched at design time too (`x-ms-dynamic-schema`).
        if let Some(responses) = op.obj.get("responses").and_then(Value::as_object) {
            let loc = child(&op.loc, "responses");
            for (code, response) in responses {
                let resolved = self.response(Some(response), &child(&loc, code));
                if let Some((response, at)) = resolved
                    && let Some(schema) = response.get("schema")
                {
                    let at = child(&at, "schema");
                    self.operation_schema(schema, at, op, ops, false, &mut HashSet::new());
                }
            }
        }
        if op.is_trigger()
            && let Some(schema) = op
                .item
                .get("x-ms-notification-content")
                .and_then(|c| c.get("schema"))
        {
            let loc = child(&child(&op.item_loc, "x-ms-notification-content"), "schema");
            self.operation_schema(schema, loc, op, ops, false, &mut HashSet::new());
        }
        self.responses(op);
        self.pageable(op);
        if op.is_trigger() {
            self.trigger(op);
        }
    }
}

#[cfg(test)]
mod tests;
