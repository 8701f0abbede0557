//! Owns the certification lint of a Swagger 2.0 connector definition (the CONNECTOR-RULES.md checklist).
//!
//! The lint runs on the final `apiDefinition.swagger.json` so that what Power Automate imports is
//! what gets checked: every rule that the certification validator or a reviewer would reject, and
//! every webhook mistake that silently breaks flows (no `Location`, no internal DELETE), becomes a
//! [`Finding`] with a JSON pointer, a stable rule id and a sentence saying what to fix.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde_json::{Map, Value};

/// One violated rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// JSON pointer to the offending value (or to where a missing one belongs).
    pub location: String,
    /// Stable rule id, e.g. `summary-characters`.
    pub rule: &'static str,
    /// What is wrong, in a sentence.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}] {}", self.location, self.rule, self.message)
    }
}

/// Lints a Swagger 2.0 connector definition; a clean definition yields no findings.
pub fn lint(definition: &Value) -> Vec<Finding> {
    let Some(root) = definition.as_object() else {
        return vec![Finding {
            location: String::new(),
            rule: "document",
            message: "the definition is not a JSON object".into(),
        }];
    };
    let mut linter = Linter {
        root,
        findings: Vec::new(),
        reported: HashSet::new(),
    };
    linter.run();
    linter.findings
}

const METHODS: [&str; 7] = ["get", "put", "post", "delete", "options", "head", "patch"];

/// Formats the Power Platform definition schema accepts.
use crate::swagger2::FORMATS_2 as FORMATS;

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

/// The dynamic-lookup extensions whose `operationId` and `parameters` point at other operations,
/// with the rule ids for a bad operation and a bad parameter.
const DYNAMIC: [(&str, &str, &str); 3] = [
    (
        "x-ms-dynamic-values",
        "dynamic-values-operation",
        "dynamic-values-parameter",
    ),
    (
        "x-ms-dynamic-list",
        "dynamic-list-operation",
        "dynamic-list-parameter",
    ),
    (
        "x-ms-dynamic-schema",
        "dynamic-schema-operation",
        "dynamic-schema-parameter",
    ),
];

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

fn is_pascal_case(id: &str) -> bool {
    id.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && id.chars().all(|c| c.is_ascii_alphanumeric())
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
    findings: Vec<Finding>,
    reported: HashSet<(String, &'static str)>,
}

impl<'a> Linter<'a> {
    /// Records a finding once: shared definitions are reached from many operations.
    fn report(
        &mut self,
        location: impl Into<String>,
        rule: &'static str,
        message: impl Into<String>,
    ) {
        let location = location.into();
        if self.reported.insert((location.clone(), rule)) {
            self.findings.push(Finding {
                location,
                rule,
                message: message.into(),
            });
        }
    }

    fn run(&mut self) {
        if self.root.get("swagger").and_then(Value::as_str) != Some("2.0") {
            self.report("/swagger", "swagger-version", "`swagger` must be \"2.0\"");
        }
        self.info();
        self.endpoint();
        let ops = self.operations();
        if ops.len() > 256 {
            self.report(
                "/paths",
                "operation-count",
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
                    "trigger-delete-missing",
                    "webhook triggers need a DELETE operation marked `x-ms-visibility: internal` to unsubscribe",
                );
            }
        }
        self.security(&ops);
        self.metadata();
        self.all_schemas(&ops);
    }

    fn info(&mut self) {
        let Some(info) = self.root.get("info").and_then(Value::as_object) else {
            self.report("/info", "info-title-missing", "`info` is missing");
            return;
        };
        match str_of(info, "title") {
            None => self.report(
                "/info/title",
                "info-title-missing",
                "`info.title` is missing",
            ),
            Some(title) => {
                if title.chars().count() > 30 {
                    self.report(
                        "/info/title",
                        "info-title-length",
                        format!("title has {} characters; at most 30", title.chars().count()),
                    );
                }
                let haystack = words(title);
                for word in TITLE_FORBIDDEN {
                    if haystack.contains(&format!(" {word} ")) {
                        self.report(
                            "/info/title",
                            "info-title-forbidden-word",
                            format!("title must not contain \"{word}\" (API, Connector and product names are refused)"),
                        );
                    }
                }
                if !title.chars().last().is_some_and(char::is_alphanumeric) {
                    self.report(
                        "/info/title",
                        "info-title-ending",
                        "title must end with a letter or a digit",
                    );
                }
            }
        }
        let length = str_of(info, "description").map_or(0, |d| d.chars().count());
        if !(30..=500).contains(&length) {
            self.report(
                "/info/description",
                "info-description-length",
                format!("description has {length} characters; it needs 30 to 500"),
            );
        }
        if !info.get("contact").is_some_and(Value::is_object) {
            self.report("/info/contact", "info-contact", "`info.contact` is missing");
        }
    }

    fn endpoint(&mut self) {
        match str_of(self.root, "host") {
            Some(host) if valid_host(host) => {}
            Some(host) => self.report(
                "/host",
                "host",
                format!("`{host}` must be a bare host[:port], without scheme or path"),
            ),
            None => self.report("/host", "host", "`host` is missing"),
        }
        if let Some(base) = self.root.get("basePath")
            && !base.as_str().is_some_and(|b| b.starts_with('/'))
        {
            self.report("/basePath", "base-path", "`basePath` must start with `/`");
        }
        let https = self
            .root
            .get("schemes")
            .and_then(Value::as_array)
            .is_some_and(|s| s.iter().any(|x| x == "https"));
        if !https {
            self.report("/schemes", "schemes-https", "`schemes` must include https");
        }
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
            self.report("/paths", "paths", "`paths` is missing");
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
                None => self.report(loc, "ref-unknown", "parameter reference does not resolve"),
            }
        }
        out
    }

    fn operation_ids(&mut self, ops: &[Op<'a>]) {
        let mut seen: HashMap<&str, &str> = HashMap::new();
        for op in ops {
            let loc = child(&op.loc, "operationId");
            match str_of(op.obj, "operationId") {
                None => self.report(loc, "operation-id-missing", "operation has no operationId"),
                Some(id) => {
                    if !is_pascal_case(id) {
                        self.report(
                            &loc,
                            "operation-id-pascal-case",
                            format!("operationId `{id}` must be PascalCase (letters and digits, leading capital)"),
                        );
                    }
                    if let Some(first) = seen.insert(id, &op.loc) {
                        self.report(
                            &loc,
                            "operation-id-duplicate",
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
            for (ext, rule_op, rule_param) in DYNAMIC {
                self.dynamic(param.obj, &param.loc, ext, rule_op, rule_param, op, ops);
            }
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
        if op.is_trigger() {
            self.trigger(op);
        }
    }

    fn summary(&mut self, op: &Op<'a>) {
        let summary_loc = child(&op.loc, "summary");
        let summary = str_of(op.obj, "summary").filter(|s| !s.trim().is_empty());
        match summary {
            None => self.report(&summary_loc, "summary-missing", "operation has no summary"),
            Some(summary) => {
                if summary.chars().count() > 80 {
                    self.report(
                        &summary_loc,
                        "summary-length",
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
                            "summary-trailing-period",
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
                        "summary-characters",
                        format!("summary may hold only letters, digits, spaces and parentheses; found `{bad}`"),
                    );
                }
                // "When a ...", "When an ...", or "When unification is completed".
                if op.is_trigger() && !summary.starts_with("When ") {
                    self.report(
                        &summary_loc,
                        "trigger-summary",
                        "trigger summaries start with \"When \", saying what starts the flow",
                    );
                }
            }
        }
        let description_loc = child(&op.loc, "description");
        match str_of(op.obj, "description").filter(|d| !d.trim().is_empty()) {
            None => self.report(
                description_loc,
                "description-missing",
                "operation has no description",
            ),
            Some(description) => {
                if summary.is_some_and(|s| normalized(s) == normalized(description)) {
                    self.report(
                        description_loc,
                        "description-equals-summary",
                        "description must say more than the summary",
                    );
                }
            }
        }
    }

    fn parameter(&mut self, param: &Param<'a>) {
        let name = param.name();
        if !non_empty(param.obj, "x-ms-summary") {
            self.report(
                &param.loc,
                "parameter-x-ms-summary",
                format!("parameter `{name}` has no x-ms-summary"),
            );
        }
        if !non_empty(param.obj, "description") {
            self.report(
                &param.loc,
                "parameter-description",
                format!("parameter `{name}` has no description"),
            );
        }
        if param.location() == "path" {
            if str_of(param.obj, "x-ms-url-encoding") != Some("single") {
                self.report(
                    &param.loc,
                    "path-parameter-url-encoding",
                    format!("path parameter `{name}` needs `x-ms-url-encoding: single`"),
                );
            }
            if param.obj.get("required") != Some(&Value::Bool(true)) {
                self.report(
                    &param.loc,
                    "path-parameter-required",
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
                "internal-required-default",
                format!(
                    "internal required parameter `{name}` needs a default: nobody can fill it in"
                ),
            );
        }
    }

    /// Walks a schema an operation sends or receives: dynamic lookups (whose parameters read the
    /// operation's own parameters) and, in request bodies, defaults of internal required
    /// properties.
    fn operation_schema(
        &mut self,
        schema: &'a Value,
        loc: String,
        op: &Op<'a>,
        ops: &[Op<'a>],
        in_body: bool,
        visited: &mut HashSet<String>,
    ) {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            if let Some((name, target)) = self.definition(reference)
                && visited.insert(name.clone())
            {
                let loc = child("/definitions", &name);
                self.operation_schema(target, loc, op, ops, in_body, visited);
            }
            return;
        }
        let Some(obj) = schema.as_object() else {
            return;
        };
        for (ext, rule_op, rule_param) in DYNAMIC {
            self.dynamic(obj, &loc, ext, rule_op, rule_param, op, ops);
        }
        if let Some(props) = obj.get("properties").and_then(Value::as_object) {
            let props_loc = child(&loc, "properties");
            for (name, prop) in props {
                let prop_loc = child(&props_loc, name);
                if let Some(p) = prop.as_object().filter(|_| in_body)
                    && is_internal(p)
                    && lists_required(obj, name)
                    && !p.contains_key("default")
                    && p.get("x-ms-notification-url") != Some(&Value::Bool(true))
                {
                    self.report(
                            &prop_loc,
                            "internal-required-default",
                            format!("internal required property `{name}` needs a default: nobody can fill it in"),
                        );
                }
                self.operation_schema(prop, prop_loc, op, ops, in_body, visited);
            }
        }
        if let Some(items) = obj.get("items") {
            self.operation_schema(items, child(&loc, "items"), op, ops, in_body, visited);
        }
        if let Some(parts) = obj.get("allOf").and_then(Value::as_array) {
            for (i, part) in parts.iter().enumerate() {
                let at = child(&child(&loc, "allOf"), &i.to_string());
                self.operation_schema(part, at, op, ops, in_body, visited);
            }
        }
    }

    /// Checks one dynamic-lookup extension: the operation it calls exists and is a GET, the
    /// parameters it passes exist on that operation, and the caller parameters it reads exist.
    #[allow(clippy::too_many_arguments)]
    fn dynamic(
        &mut self,
        holder: &Map<String, Value>,
        loc: &str,
        ext: &str,
        rule_op: &'static str,
        rule_param: &'static str,
        caller: &Op<'a>,
        ops: &[Op<'a>],
    ) {
        let Some(lookup) = holder.get(ext).and_then(Value::as_object) else {
            return;
        };
        let ext_loc = child(loc, ext);
        let target = match str_of(lookup, "operationId") {
            None => {
                let builtin =
                    lookup.contains_key("builtInOperation") || lookup.contains_key("capability");
                if !(ext == "x-ms-dynamic-values" && builtin) {
                    self.report(&ext_loc, rule_op, format!("{ext} has no operationId"));
                }
                None
            }
            Some(id) => {
                let target = ops
                    .iter()
                    .find(|o| str_of(o.obj, "operationId") == Some(id));
                match target {
                    None => self.report(
                        child(&ext_loc, "operationId"),
                        rule_op,
                        format!("{ext} calls `{id}`, which is not an operation of this connector"),
                    ),
                    Some(t) if t.method != "get" => self.report(
                        child(&ext_loc, "operationId"),
                        rule_op,
                        format!(
                            "{ext} calls `{id}`, a {}; lookups must call a GET",
                            t.method.to_uppercase()
                        ),
                    ),
                    Some(_) => {}
                }
                target
            }
        };
        let Some(params) = lookup.get("parameters").and_then(Value::as_object) else {
            return;
        };
        let params_loc = child(&ext_loc, "parameters");
        for (name, value) in params {
            let at = child(&params_loc, name);
            if let Some(target) = target
                && !target.params.iter().any(|p| p.name() == name)
            {
                self.report(
                    &at,
                    rule_param,
                    format!(
                        "`{}` has no parameter `{name}`",
                        str_of(target.obj, "operationId").unwrap_or_default()
                    ),
                );
            }
            let reference = value
                .get("parameter")
                .or_else(|| value.get("parameterReference"))
                .and_then(Value::as_str);
            if let Some(reference) = reference
                && !self.caller_has(caller, reference)
            {
                self.report(
                    &at,
                    rule_param,
                    format!(
                        "reads `{reference}`, which `{}` does not have",
                        str_of(caller.obj, "operationId").unwrap_or_default()
                    ),
                );
            }
        }
    }

    /// Whether `reference` (`name` or `body/field/...`) names a parameter of the caller.
    fn caller_has(&self, caller: &Op<'a>, reference: &str) -> bool {
        let mut segments = reference.split('/');
        let first = segments.next().unwrap_or_default();
        let Some(param) = caller.params.iter().find(|p| p.name() == first) else {
            return false;
        };
        let rest: Vec<&str> = segments.collect();
        if rest.is_empty() {
            return true;
        }
        let Some(mut schema) = param.obj.get("schema") else {
            return false;
        };
        for segment in rest {
            let (resolved, _) = self.deref_schema(schema, String::new());
            match resolved.get("properties").and_then(|p| p.get(segment)) {
                Some(next) => schema = next,
                None => return false,
            }
        }
        true
    }

    fn responses(&mut self, op: &Op<'a>) {
        let loc = child(&op.loc, "responses");
        let Some(responses) = op.obj.get("responses").and_then(Value::as_object) else {
            self.report(&loc, "response-2xx", "operation has no responses");
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
                "response-2xx",
                "operation declares no explicit 2xx response",
            );
        }
        if codes == ["default"] {
            self.report(
                &loc,
                "response-default-only",
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
                        "response-default-schema",
                        "the `default` response must not carry a schema",
                    );
                }
                self.documented(schema, schema_loc, &mut HashSet::new());
            }
        }
    }

    fn response(
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
                        "ref-unknown",
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
    fn documented(&mut self, schema: &'a Value, loc: String, visited: &mut HashSet<String>) {
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
                "empty-schema",
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
                            "property-x-ms-summary",
                            format!("property `{name}` has no x-ms-summary"),
                        );
                    }
                    if !has("description") {
                        self.report(
                            &prop_loc,
                            "property-description",
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

    fn trigger(&mut self, op: &Op<'a>) {
        if op.method != "post" {
            self.report(
                &op.loc,
                "trigger-post",
                format!(
                    "webhook trigger is a {}; it must be a POST",
                    op.method.to_uppercase()
                ),
            );
        }
        match op.body() {
            None => self.report(
                &op.loc,
                "trigger-notification-url",
                "webhook trigger has no body parameter to carry the callback URL",
            ),
            Some(body) => {
                let mut found = Vec::new();
                if let Some(schema) = body.obj.get("schema") {
                    let body_required = body.obj.get("required") == Some(&Value::Bool(true));
                    self.notification_urls(
                        schema,
                        child(&body.loc, "schema"),
                        body_required,
                        &mut HashSet::new(),
                        &mut found,
                    );
                }
                match found.as_slice() {
                    [(loc, prop, required)] => {
                        if str_of(prop, "type") != Some("string") {
                            self.report(
                                loc,
                                "trigger-notification-url",
                                "the x-ms-notification-url property must be a string",
                            );
                        }
                        if !is_internal(prop) {
                            self.report(
                                loc,
                                "trigger-notification-url-internal",
                                "the x-ms-notification-url property needs `x-ms-visibility: internal`",
                            );
                        }
                        if !required {
                            self.report(
                                loc,
                                "trigger-notification-url-required",
                                "the x-ms-notification-url property must be listed in `required` at every level (and the body parameter required)",
                            );
                        }
                    }
                    _ => self.report(
                        &body.loc,
                        "trigger-notification-url",
                        format!(
                            "the body needs exactly one property with `x-ms-notification-url: true`; found {}",
                            found.len()
                        ),
                    ),
                }
            }
        }
        let content = op
            .item
            .get("x-ms-notification-content")
            .and_then(Value::as_object);
        match content.and_then(|c| c.get("schema")) {
            Some(schema) => {
                let loc = child(&child(&op.item_loc, "x-ms-notification-content"), "schema");
                self.documented(schema, loc, &mut HashSet::new());
            }
            None => self.report(
                child(&op.item_loc, "x-ms-notification-content"),
                "trigger-notification-content",
                "the trigger's path item needs `x-ms-notification-content` with a `schema` (what the callback receives)",
            ),
        }
        let responses_loc = child(&op.loc, "responses");
        let created = op
            .obj
            .get("responses")
            .and_then(|r| r.get("201"))
            .and_then(|r| self.response(Some(r), &child(&responses_loc, "201")));
        let has_location = created.as_ref().is_some_and(|(r, _)| {
            r.get("headers")
                .and_then(Value::as_object)
                .is_some_and(|h| h.keys().any(|k| k.eq_ignore_ascii_case("location")))
        });
        if !has_location {
            self.report(
                child(&responses_loc, "201"),
                "trigger-location-header",
                "the subscribe call must answer 201 with a `Location` header, or Power Automate can never unsubscribe",
            );
        }
    }

    /// Collects properties marked `x-ms-notification-url`, with whether every level lists them
    /// in `required`.
    fn notification_urls(
        &self,
        schema: &'a Value,
        loc: String,
        required_so_far: bool,
        visited: &mut HashSet<String>,
        found: &mut Vec<(String, &'a Map<String, Value>, bool)>,
    ) {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            if let Some((name, target)) = self.definition(reference)
                && visited.insert(name.clone())
            {
                self.notification_urls(
                    target,
                    child("/definitions", &name),
                    required_so_far,
                    visited,
                    found,
                );
            }
            return;
        }
        let Some(props) = schema.get("properties").and_then(Value::as_object) else {
            return;
        };
        let Some(obj) = schema.as_object() else {
            return;
        };
        let props_loc = child(&loc, "properties");
        for (name, prop) in props {
            let Some(p) = prop.as_object() else {
                continue;
            };
            let required = required_so_far && lists_required(obj, name);
            let prop_loc = child(&props_loc, name);
            if p.get("x-ms-notification-url") == Some(&Value::Bool(true)) {
                found.push((prop_loc, p, required));
            } else {
                self.notification_urls(prop, prop_loc, required, visited, found);
            }
        }
    }

    fn security(&mut self, ops: &[Op<'a>]) {
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
                            "security-definitions",
                            format!("security requirement `{name}` has no entry in `securityDefinitions`"),
                        );
                    }
                }
            }
        }
    }

    fn metadata(&mut self) {
        let Some(entries) = self
            .root
            .get("x-ms-connector-metadata")
            .and_then(Value::as_array)
        else {
            self.report(
                "/x-ms-connector-metadata",
                "connector-metadata",
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
                    "connector-categories",
                    format!("{count} categories; at most two"),
                );
            }
        }
    }

    /// Structural rules that hold for every schema of the document, wherever it sits.
    fn all_schemas(&mut self, ops: &[Op<'a>]) {
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
                "no-type-array",
                "`type` must be a single type in Swagger 2.0; use `x-nullable` for null",
            ),
            Some(Value::String(t)) if t == "null" => self.report(
                child(loc, "type"),
                "no-null-type",
                "Swagger 2.0 has no `null` type; use `x-nullable`",
            ),
            _ => {}
        }
        if obj.contains_key("nullable") {
            self.report(
                child(loc, "nullable"),
                "no-nullable",
                "`nullable` is OpenAPI 3; Swagger 2.0 uses `x-nullable`",
            );
        }
        if let Some(format) = str_of(obj, "format")
            && !FORMATS.contains(&format)
        {
            self.report(
                child(loc, "format"),
                "format-unknown",
                format!("format `{format}` is not one Power Platform accepts"),
            );
        }
    }

    fn schema_rules(&mut self, schema: &'a Value, loc: String) {
        let Some(obj) = schema.as_object() else {
            return;
        };
        self.type_rules(obj, &loc);
        for (keyword, rule) in [("oneOf", "no-one-of"), ("anyOf", "no-any-of")] {
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
                    "required-not-object",
                    "`required` belongs on object schemas only",
                );
            }
            if required.as_array().is_some_and(Vec::is_empty) {
                self.report(
                    child(&loc, "required"),
                    "required-empty",
                    "`required` must not be empty",
                );
            }
        }
        if let Some(reference) = str_of(obj, "$ref")
            && self.definition(reference).is_none()
        {
            self.report(
                child(&loc, "$ref"),
                "ref-unknown",
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

#[cfg(test)]
mod tests;
