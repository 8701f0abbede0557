//! The lint's rules for what calls another operation at design time: dynamic values, lists,
//! schemas and properties, and the connection test. The operation called exists and is a GET,
//! the parameters passed exist on both sides, and the answer paths read exist in its 2xx schema.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::{Linter, Op, Rule, child, is_internal, lists_required, str_of};

/// Where a lookup finds what it reads in the called operation's answer.
enum Shape {
    /// A list of choices: the array at the path under this key (the answer itself when the key
    /// is absent); the item paths are read in each element.
    Choices(&'static str),
    /// The item paths are read in the answer itself (a schema fetched at design time).
    Answer,
}

/// A dynamic-lookup extension, its rules, and the keys naming paths in the called answer.
struct Lookup {
    extension: &'static str,
    operation: Rule,
    parameter: Rule,
    path: Rule,
    shape: Shape,
    item_paths: &'static [&'static str],
}

const LOOKUPS: [Lookup; 4] = [
    Lookup {
        extension: "x-ms-dynamic-values",
        operation: Rule::DynamicValuesOperation,
        parameter: Rule::DynamicValuesParameter,
        path: Rule::DynamicValuesPath,
        shape: Shape::Choices("value-collection"),
        item_paths: &["value-path", "value-title"],
    },
    Lookup {
        extension: "x-ms-dynamic-list",
        operation: Rule::DynamicListOperation,
        parameter: Rule::DynamicListParameter,
        path: Rule::DynamicListPath,
        shape: Shape::Choices("itemsPath"),
        item_paths: &["itemValuePath", "itemTitlePath"],
    },
    Lookup {
        extension: "x-ms-dynamic-schema",
        operation: Rule::DynamicSchemaOperation,
        parameter: Rule::DynamicSchemaParameter,
        path: Rule::DynamicSchemaPath,
        shape: Shape::Answer,
        item_paths: &["value-path"],
    },
    Lookup {
        extension: "x-ms-dynamic-properties",
        operation: Rule::DynamicPropertiesOperation,
        parameter: Rule::DynamicPropertiesParameter,
        path: Rule::DynamicPropertiesPath,
        shape: Shape::Answer,
        item_paths: &["itemValuePath"],
    },
];

fn operation_id<'o>(op: &Op<'o>) -> &'o str {
    str_of(op.obj, "operationId").unwrap_or_default()
}

impl<'a> Linter<'a> {
    /// Walks a schema an operation sends or receives: dynamic lookups (whose parameters read the
    /// operation's own parameters) and, in request bodies, defaults of internal required
    /// properties.
    pub(super) fn operation_schema(
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
        self.lookups(obj, &loc, op, ops);
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
                        Rule::InternalRequiredDefault,
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

    /// Checks every dynamic-lookup extension a parameter or schema carries.
    pub(super) fn lookups(
        &mut self,
        holder: &'a Map<String, Value>,
        loc: &str,
        caller: &Op<'a>,
        ops: &[Op<'a>],
    ) {
        for lookup in &LOOKUPS {
            if let Some(call) = holder.get(lookup.extension).and_then(Value::as_object) {
                let at = child(loc, lookup.extension);
                self.lookup(lookup, call, &at, caller, ops);
            }
        }
    }

    /// One lookup: the operation it calls exists and is a GET, the parameters it passes exist
    /// on that operation, the caller parameters it reads exist, and so do the answer paths.
    fn lookup(
        &mut self,
        lookup: &Lookup,
        call: &'a Map<String, Value>,
        loc: &str,
        caller: &Op<'a>,
        ops: &[Op<'a>],
    ) {
        let ext = lookup.extension;
        let Some(id) = str_of(call, "operationId") else {
            let builtin = call.contains_key("builtInOperation") || call.contains_key("capability");
            if !(ext == "x-ms-dynamic-values" && builtin) {
                self.report(loc, lookup.operation, format!("{ext} has no operationId"));
            }
            return;
        };
        let Some(target) = self.called(ops, id, &child(loc, "operationId"), lookup.operation)
        else {
            return;
        };
        let params = call.get("parameters").and_then(Value::as_object);
        let params_loc = child(loc, "parameters");
        for (name, value) in params.into_iter().flatten() {
            let at = child(&params_loc, name);
            if !target.params.iter().any(|p| p.name() == name) {
                self.report(
                    &at,
                    lookup.parameter,
                    format!("`{id}` has no parameter `{name}`"),
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
                    lookup.parameter,
                    format!(
                        "reads `{reference}`, which `{}` does not have",
                        operation_id(caller)
                    ),
                );
            }
        }
        self.answer_paths(lookup, call, loc, target);
    }

    /// The operation `id` names, when it exists and is a GET; otherwise reports `rule` at `loc`.
    fn called<'o>(
        &mut self,
        ops: &'o [Op<'a>],
        id: &str,
        loc: &str,
        rule: Rule,
    ) -> Option<&'o Op<'a>> {
        match ops.iter().find(|o| operation_id(o) == id) {
            None => {
                self.report(
                    loc,
                    rule,
                    format!("calls `{id}`, which is not an operation of this connector"),
                );
                None
            }
            Some(t) if t.method != "get" => {
                self.report(
                    loc,
                    rule,
                    format!(
                        "calls `{id}`, a {}; design-time calls must be GETs",
                        t.method.to_uppercase()
                    ),
                );
                None
            }
            Some(t) => Some(t),
        }
    }

    /// The paths a lookup reads exist in the called operation's 2xx schema.
    fn answer_paths(
        &mut self,
        lookup: &Lookup,
        call: &'a Map<String, Value>,
        loc: &str,
        target: &Op<'a>,
    ) {
        let id = operation_id(target);
        let Some(answer) = self.answer(target) else {
            self.report(
                loc,
                lookup.path,
                format!("`{id}` declares no 2xx response with a schema to read from"),
            );
            return;
        };
        let base = match lookup.shape {
            Shape::Answer => answer,
            Shape::Choices(key) => {
                let path = str_of(call, key).unwrap_or_default();
                let at = child(loc, key);
                let Some(collection) = self.schema_at(answer, path) else {
                    self.report(at, lookup.path, format!("`{id}` answers no `{path}`"));
                    return;
                };
                let (collection, _) = self.deref_schema(collection, String::new());
                match collection.get("items") {
                    Some(items) => items,
                    None => {
                        let what = if path.is_empty() { "its answer" } else { path };
                        self.report(
                            at,
                            lookup.path,
                            format!("`{what}` of `{id}` is not an array of choices"),
                        );
                        return;
                    }
                }
            }
        };
        for key in lookup.item_paths {
            if let Some(path) = str_of(call, key)
                && self.schema_at(base, path).is_none()
            {
                self.report(
                    child(loc, key),
                    lookup.path,
                    format!("`{path}` is not in what `{id}` answers"),
                );
            }
        }
    }

    /// Root `x-ms-capabilities.testConnection`: it calls an existing GET with the parameters
    /// that operation has, and every parameter it requires.
    pub(super) fn test_connection(&mut self, ops: &[Op<'a>]) {
        let Some(test) = self
            .root
            .get("x-ms-capabilities")
            .and_then(|c| c.get("testConnection"))
            .and_then(Value::as_object)
        else {
            return;
        };
        let loc = "/x-ms-capabilities/testConnection";
        let Some(id) = str_of(test, "operationId") else {
            self.report(
                loc,
                Rule::TestConnectionOperation,
                "testConnection has no operationId",
            );
            return;
        };
        let id_loc = child(loc, "operationId");
        let Some(target) = self.called(ops, id, &id_loc, Rule::TestConnectionOperation) else {
            return;
        };
        let passed = test.get("parameters").and_then(Value::as_object);
        let params_loc = child(loc, "parameters");
        for name in passed.into_iter().flatten().map(|(name, _)| name) {
            if !target.params.iter().any(|p| p.name() == name) {
                self.report(
                    child(&params_loc, name),
                    Rule::TestConnectionParameter,
                    format!("`{id}` has no parameter `{name}`"),
                );
            }
        }
        for param in &target.params {
            let name = param.name();
            let needed = param.obj.get("required") == Some(&Value::Bool(true))
                && !param.obj.contains_key("default");
            if needed && !passed.is_some_and(|p| p.contains_key(name)) {
                self.report(
                    &params_loc,
                    Rule::TestConnectionParameter,
                    format!("`{id}` requires `{name}`, which testConnection does not pass"),
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
        let Some(schema) = param.obj.get("schema") else {
            return false;
        };
        self.schema_at(schema, &rest.join("/")).is_some()
    }
}
