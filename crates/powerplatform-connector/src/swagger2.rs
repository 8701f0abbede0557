//! Owns the conversion of utoipa's OpenAPI 3.1 document into the Swagger 2.0 definition that Power Platform custom connectors import.
//!
//! Power Automate only imports Swagger 2.0, so the service keeps describing itself with utoipa and
//! this module rewrites the serialized document: components become `definitions`, request bodies
//! become `in: body` parameters, parameter schemas are flattened, 3.1-only schema keywords are mapped
//! or dropped and every `x-` extension is carried. Anything with no faithful 2.0 form (`oneOf`
//! unions, cookie parameters, `trace` operations...) is an error naming its location, because a
//! silently degraded connector definition is worse than a failed build.

use std::collections::{HashSet, VecDeque};
use std::fmt;

use serde_json::{Map, Value, json};

/// Where the Swagger 2.0 document says the API lives and how it is secured: OpenAPI 3.1 expresses
/// these differently (`servers`, `securitySchemes`), so the caller states them outright.
pub struct Swagger2Options<'a> {
    /// Host and optional port, e.g. `example.com:8443`: no scheme, no path.
    pub host: String,
    /// Path prefix of every operation; starts with `/`.
    pub base_path: String,
    /// Transfer protocols, e.g. `["https"]`.
    pub schemes: Vec<String>,
    /// Operations carrying any of these tags are left out (report API, operator routes); path
    /// items left without operations are left out too.
    pub exclude_tags: &'a [&'a str],
    /// Object put verbatim at `securityDefinitions` (`Value::Null` leaves the key out).
    pub security_definitions: Value,
    /// Array put verbatim at the root `security` (`Value::Null` leaves the key out).
    pub security: Value,
}

/// A part of the OpenAPI document that has no Swagger 2.0 form, or options that are not valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertError {
    /// JSON pointer into the input document (or the name of the offending option).
    pub location: String,
    /// What is wrong and, where it helps, what to do instead.
    pub message: String,
}

impl ConvertError {
    pub(crate) fn new(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            location: location.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

impl std::error::Error for ConvertError {}

const REF_3: &str = "#/components/schemas/";
const REF_2: &str = "#/definitions/";

/// The operations a Swagger 2.0 path item can hold.
const METHODS_2: [&str; 7] = ["get", "put", "post", "delete", "options", "head", "patch"];

/// Schema keywords Swagger 2.0 accepts unchanged; every other 3.1 keyword is mapped or dropped.
const SCHEMA_VERBATIM: [&str; 17] = [
    "title",
    "description",
    "default",
    "multipleOf",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "maxProperties",
    "minProperties",
    "enum",
    "readOnly",
    "xml",
    "externalDocs",
    "example",
];

/// Keywords a non-body parameter, a header or their `items` may carry (2.0 gives them no `schema`).
const PRIMITIVE_KEYS: [&str; 17] = [
    "type",
    "format",
    "items",
    "collectionFormat",
    "default",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "enum",
    "multipleOf",
];

/// Formats the Power Platform definition schema accepts (its `format` is a closed enum).
pub(crate) const FORMATS_2: [&str; 14] = [
    "int32",
    "int64",
    "float",
    "double",
    "byte",
    "binary",
    "date",
    "date-time",
    "password",
    "date-no-tz",
    "email",
    "html",
    "uri",
    "uuid",
];

/// Converts a serialized utoipa OpenAPI 3.x document into a Swagger 2.0 connector definition.
///
/// `components.securitySchemes`, `servers`, `webhooks` and the input's root `security` are not
/// read: their 2.0 counterparts come from `opts`. Only definitions reachable from the kept paths
/// (or from root `x-` extensions) are emitted, so excluded routes do not leak their schemas.
pub fn to_swagger2(openapi: &Value, opts: &Swagger2Options<'_>) -> Result<Value, ConvertError> {
    let root = openapi
        .as_object()
        .ok_or_else(|| ConvertError::new("", "the OpenAPI document is not a JSON object"))?;
    match root.get("openapi").and_then(Value::as_str) {
        Some(version) if version.starts_with("3.") => {}
        _ => {
            return Err(ConvertError::new(
                "/openapi",
                "expected an OpenAPI 3.x document (`openapi: \"3.1.0\"`)",
            ));
        }
    }
    check_options(opts)?;

    let no_components = Map::new();
    let components = root
        .get("components")
        .and_then(Value::as_object)
        .unwrap_or(&no_components);
    let conv = Converter { components };

    let info = root
        .get("info")
        .ok_or_else(|| ConvertError::new("/info", "`info` is required"))?;
    let info = conv.info(info, "/info")?;
    let paths = conv.paths(root.get("paths"), "/paths", opts.exclude_tags)?;

    let mut root_extensions = Map::new();
    for (key, value) in ordered_entries(root) {
        if is_extension(key) {
            root_extensions.insert(
                key.to_owned(),
                conv.extension_value(value, &child("", key))?,
            );
        }
    }
    let definitions = conv.reachable_definitions(&paths, &root_extensions)?;

    let mut out = Map::new();
    out.insert("swagger".into(), json!("2.0"));
    out.insert("info".into(), info);
    out.insert("host".into(), json!(opts.host));
    out.insert("basePath".into(), json!(opts.base_path));
    out.insert("schemes".into(), json!(opts.schemes));
    out.insert("consumes".into(), json!(["application/json"]));
    out.insert("produces".into(), json!(["application/json"]));
    out.insert("paths".into(), paths);
    if !definitions.is_empty() {
        out.insert("definitions".into(), Value::Object(definitions));
    }
    if !opts.security_definitions.is_null() {
        out.insert(
            "securityDefinitions".into(),
            opts.security_definitions.clone(),
        );
    }
    if !opts.security.is_null() {
        out.insert("security".into(), opts.security.clone());
    }
    if let Some(tags) = root.get("tags") {
        let tags = conv.tags(tags, "/tags", opts.exclude_tags)?;
        if !tags.is_empty() {
            out.insert("tags".into(), Value::Array(tags));
        }
    }
    if let Some(docs) = root.get("externalDocs") {
        out.insert(
            "externalDocs".into(),
            conv.pick(docs, "/externalDocs", &["description", "url"])?,
        );
    }
    out.extend(root_extensions);
    Ok(Value::Object(out))
}

/// Splits the service's public base URL into Swagger 2.0 `host`, `basePath` and `schemes`.
///
/// `https://connector.example.com:8443/api/` gives `("connector.example.com:8443", "/api",
/// ["https"])`. Userinfo, queries, fragments and hosts 2.0 cannot express (IPv6 literals) are
/// refused rather than dropped, since the result is what Power Automate will call.
pub fn split_public_url(url: &str) -> Result<(String, String, Vec<String>), ConvertError> {
    let fail = |message: &str| ConvertError::new("url", format!("`{url}`: {message}"));
    if url.chars().any(char::is_whitespace) {
        return Err(fail("contains whitespace"));
    }
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| fail("has no scheme (expected https://host/path)"))?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return Err(fail("scheme must be https or http"));
    }
    if rest.contains(['?', '#']) {
        return Err(fail("must not carry a query or a fragment"));
    }
    let (authority, path) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, "/"),
    };
    if authority.contains('@') {
        return Err(fail("must not carry credentials"));
    }
    let host = authority.to_ascii_lowercase();
    if !valid_host(&host) {
        return Err(fail(
            "host must be a name or IPv4 address with an optional port",
        ));
    }
    let trimmed = path.trim_end_matches('/');
    let base_path = if trimmed.is_empty() { "/" } else { trimmed };
    Ok((host, base_path.to_owned(), vec![scheme]))
}

/// The Swagger 2.0 `host` pattern `^[^{}/ :\\]+(?::\d+)?$`.
fn valid_host(host: &str) -> bool {
    let (name, port) = match host.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    let name_ok = !name.is_empty()
        && !name
            .chars()
            .any(|c| matches!(c, '{' | '}' | '/' | ' ' | ':' | '\\'));
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    name_ok && port_ok
}

fn check_options(opts: &Swagger2Options<'_>) -> Result<(), ConvertError> {
    if !valid_host(&opts.host) {
        return Err(ConvertError::new(
            "options.host",
            format!("`{}` is not a bare host[:port]", opts.host),
        ));
    }
    if !opts.base_path.starts_with('/') {
        return Err(ConvertError::new(
            "options.base_path",
            "basePath must start with `/`",
        ));
    }
    if opts.schemes.is_empty()
        || opts
            .schemes
            .iter()
            .any(|s| !matches!(s.as_str(), "http" | "https" | "ws" | "wss"))
    {
        return Err(ConvertError::new(
            "options.schemes",
            "schemes must be a non-empty list of http, https, ws, wss",
        ));
    }
    if !(opts.security_definitions.is_null() || opts.security_definitions.is_object()) {
        return Err(ConvertError::new(
            "options.security_definitions",
            "securityDefinitions must be a JSON object",
        ));
    }
    if !(opts.security.is_null() || opts.security.is_array()) {
        return Err(ConvertError::new(
            "options.security",
            "security must be a JSON array",
        ));
    }
    Ok(())
}

fn is_extension(key: &str) -> bool {
    key.starts_with("x-")
}

/// Appends `key` to a JSON pointer, escaping `~` and `/`.
fn child(loc: &str, key: &str) -> String {
    format!("{loc}/{}", key.replace('~', "~0").replace('/', "~1"))
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// The object's entries in input order, except that `x-` keys come out sorted, at the place of
/// the first one: utoipa keeps extensions in a `std::collections::HashMap`, whose iteration order
/// changes from one process to the next, and a generated definition must be byte-stable.
fn ordered_entries(obj: &Map<String, Value>) -> Vec<(&str, &Value)> {
    let mut extensions: Vec<(&str, &Value)> = obj
        .iter()
        .filter(|(k, _)| is_extension(k))
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    extensions.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = Vec::with_capacity(obj.len());
    let mut extensions = Some(extensions);
    for (key, value) in obj {
        if is_extension(key) {
            if let Some(sorted) = extensions.take() {
                out.extend(sorted);
            }
        } else {
            out.push((key.as_str(), value));
        }
    }
    out
}

fn as_object<'v>(
    value: &'v Value,
    loc: &str,
    what: &str,
) -> Result<&'v Map<String, Value>, ConvertError> {
    value
        .as_object()
        .ok_or_else(|| ConvertError::new(loc, format!("{what} must be a JSON object")))
}

fn as_array<'v>(value: &'v Value, loc: &str, what: &str) -> Result<&'v Vec<Value>, ConvertError> {
    value
        .as_array()
        .ok_or_else(|| ConvertError::new(loc, format!("{what} must be a JSON array")))
}

/// Maps a 3.1 `format` onto the closed list Power Platform accepts; `None` drops it.
fn map_format(format: &str) -> Option<&str> {
    match format {
        // utoipa's `non_strict_integers` formats: widen to the nearest 2.0 integer format.
        "int8" | "int16" | "uint8" | "uint16" => Some("int32"),
        "uint32" | "uint64" => Some("int64"),
        known if FORMATS_2.contains(&known) => Some(known),
        _ => None,
    }
}

/// A schema that only admits `null` (`{"type": "null"}` or `{"type": ["null"]}`).
fn is_null_schema(value: &Value) -> bool {
    match value.get("type") {
        Some(Value::String(t)) => t == "null",
        Some(Value::Array(types)) => !types.is_empty() && types.iter().all(|t| t == "null"),
        _ => false,
    }
}

/// Keywords that only annotate a schema: an `allOf` item made of these alone is a 3.1 way of
/// decorating a `$ref`, not a composition.
fn is_annotation_only(obj: &Map<String, Value>) -> bool {
    obj.keys().all(|k| {
        is_extension(k)
            || matches!(
                k.as_str(),
                "title"
                    | "description"
                    | "default"
                    | "example"
                    | "examples"
                    | "readOnly"
                    | "writeOnly"
                    | "deprecated"
                    | "nullable"
            )
    })
}

/// Folds 3.1 numeric bounds into 2.0 ones: a numeric `exclusiveMinimum` becomes `minimum` plus
/// `exclusiveMinimum: true`, keeping whichever of the two bounds is stricter.
fn fold_bound(inclusive: Option<&Value>, exclusive: Option<&Value>, lower: bool) -> Vec<Value> {
    match (inclusive, exclusive) {
        (Some(plain), Some(Value::Number(excl))) => {
            let (p, e) = (plain.as_f64(), excl.as_f64());
            let exclusive_wins = match (p, e) {
                (Some(p), Some(e)) => {
                    if lower {
                        e >= p
                    } else {
                        e <= p
                    }
                }
                _ => true,
            };
            if exclusive_wins {
                vec![Value::Number(excl.clone()), Value::Bool(true)]
            } else {
                vec![plain.clone()]
            }
        }
        (None, Some(Value::Number(excl))) => vec![Value::Number(excl.clone()), Value::Bool(true)],
        (plain, flag) => {
            let mut out = Vec::new();
            if let Some(plain) = plain {
                out.push(plain.clone());
                if let Some(flag) = flag {
                    out.push(flag.clone());
                }
            }
            out
        }
    }
}

/// Picks the media type to describe: JSON when offered, else the first one.
fn pick_media(content: &Map<String, Value>) -> Option<(&str, &Value)> {
    let is_json = |k: &str| {
        let base = k.split(';').next().unwrap_or(k).trim();
        base == "application/json" || base.ends_with("+json")
    };
    content
        .iter()
        .find(|(k, _)| is_json(k))
        .or_else(|| content.iter().next())
        .map(|(k, v)| (k.as_str(), v))
}

/// The example of a 3.1 media type object, for the 2.0 `examples` map.
fn media_example(media: &Value) -> Option<Value> {
    if let Some(example) = media.get("example") {
        return Some(example.clone());
    }
    media
        .get("examples")?
        .as_object()?
        .values()
        .find_map(|e| e.get("value").cloned())
}

fn is_excluded(operation: &Value, exclude: &[&str]) -> bool {
    operation
        .get("tags")
        .and_then(Value::as_array)
        .is_some_and(|tags| {
            tags.iter()
                .filter_map(Value::as_str)
                .any(|t| exclude.contains(&t))
        })
}

/// Collects every `#/definitions/...` reference with its location.
fn collect_refs(value: &Value, loc: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(obj) => {
            for (key, v) in obj {
                let here = child(loc, key);
                if key == "$ref" {
                    if let Some(name) = v.as_str().and_then(|r| r.strip_prefix(REF_2)) {
                        out.push((unescape(name), here));
                    }
                } else {
                    collect_refs(v, &here, out);
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                collect_refs(v, &child(loc, &i.to_string()), out);
            }
        }
        _ => {}
    }
}

struct Converter<'a> {
    components: &'a Map<String, Value>,
}

impl<'a> Converter<'a> {
    /// Follows `$ref`s into `components.<kind>`: 2.0 has no place for shared responses, request
    /// bodies or headers that matches 3.1's, so they are inlined where used.
    fn resolve<'v>(
        &self,
        value: &'v Value,
        kind: &str,
        loc: &str,
    ) -> Result<&'v Value, ConvertError>
    where
        'a: 'v,
    {
        let prefix = format!("#/components/{kind}/");
        let mut current = value;
        for _ in 0..32 {
            let Some(reference) = current.get("$ref") else {
                return Ok(current);
            };
            let name = reference
                .as_str()
                .and_then(|r| r.strip_prefix(prefix.as_str()))
                .ok_or_else(|| {
                    ConvertError::new(
                        child(loc, "$ref"),
                        format!("only references to `{prefix}...` can be inlined here"),
                    )
                })?;
            current = self
                .components
                .get(kind)
                .and_then(|c| c.get(unescape(name)))
                .ok_or_else(|| {
                    ConvertError::new(
                        child(loc, "$ref"),
                        format!("`{prefix}{name}` does not exist"),
                    )
                })?;
        }
        Err(ConvertError::new(loc, "`$ref` chain does not end"))
    }

    fn schema_component(&self, name: &str) -> Option<&'a Value> {
        self.components.get("schemas")?.get(name)
    }

    /// Rewrites a schema `$ref` to `#/definitions/...`, refusing targets that do not exist so
    /// the error points at the reference in the input.
    fn schema_ref(&self, value: &Value, loc: &str) -> Result<String, ConvertError> {
        let reference = value
            .as_str()
            .ok_or_else(|| ConvertError::new(loc, "`$ref` must be a string"))?;
        let name = reference
            .strip_prefix(REF_3)
            .or_else(|| reference.strip_prefix(REF_2))
            .ok_or_else(|| {
                ConvertError::new(
                    loc,
                    format!("`{reference}`: schemas may only reference `{REF_3}...`"),
                )
            })?;
        if self.schema_component(&unescape(name)).is_none() {
            return Err(ConvertError::new(
                loc,
                format!(
                    "`{reference}`: `components.schemas` has no `{}`",
                    unescape(name)
                ),
            ));
        }
        Ok(format!("{REF_2}{name}"))
    }

    /// Copies the allowed keys verbatim plus every converted `x-` extension.
    fn pick(&self, value: &Value, loc: &str, allowed: &[&str]) -> Result<Value, ConvertError> {
        let obj = as_object(value, loc, "this object")?;
        let mut out = Map::new();
        for (key, v) in ordered_entries(obj) {
            if is_extension(key) {
                out.insert(key.to_owned(), self.extension_value(v, &child(loc, key))?);
            } else if allowed.contains(&key) {
                out.insert(key.to_owned(), v.clone());
            }
        }
        Ok(Value::Object(out))
    }

    /// Extension values are carried unchanged except for what they embed from the 3.1 world:
    /// members named `schema` (as in `x-ms-notification-content`) are converted as schemas and
    /// `$ref`s into `components.schemas` are rewritten.
    fn extension_value(&self, value: &Value, loc: &str) -> Result<Value, ConvertError> {
        match value {
            Value::Object(obj) => {
                let mut out = Map::new();
                for (key, v) in obj {
                    let here = child(loc, key);
                    let converted = match (key.as_str(), v) {
                        ("schema", Value::Object(_)) => self.schema(v, &here)?,
                        ("$ref", Value::String(r)) if r.starts_with(REF_3) => {
                            Value::String(self.schema_ref(v, &here)?)
                        }
                        _ => self.extension_value(v, &here)?,
                    };
                    out.insert(key.clone(), converted);
                }
                Ok(Value::Object(out))
            }
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| self.extension_value(v, &child(loc, &i.to_string())))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            other => Ok(other.clone()),
        }
    }

    fn info(&self, info: &Value, loc: &str) -> Result<Value, ConvertError> {
        let obj = as_object(info, loc, "`info`")?;
        let mut out = Map::new();
        for (key, v) in ordered_entries(obj) {
            let here = child(loc, key);
            match key {
                "title" | "version" | "description" | "termsOfService" => {
                    out.insert(key.to_owned(), v.clone());
                }
                "contact" => {
                    out.insert(
                        key.to_owned(),
                        self.pick(v, &here, &["name", "url", "email"])?,
                    );
                }
                // 3.1's `license.identifier` (SPDX) is rejected by the 2.0 schema.
                "license" => {
                    out.insert(key.to_owned(), self.pick(v, &here, &["name", "url"])?);
                }
                k if is_extension(k) => {
                    out.insert(key.to_owned(), self.extension_value(v, &here)?);
                }
                // `summary` is 3.1-only.
                _ => {}
            }
        }
        Ok(Value::Object(out))
    }

    fn tags(&self, tags: &Value, loc: &str, exclude: &[&str]) -> Result<Vec<Value>, ConvertError> {
        let mut out = Vec::new();
        for (i, tag) in as_array(tags, loc, "`tags`")?.iter().enumerate() {
            let name = tag.get("name").and_then(Value::as_str).unwrap_or_default();
            if !exclude.contains(&name) {
                out.push(self.pick(
                    tag,
                    &child(loc, &i.to_string()),
                    &["name", "description", "externalDocs"],
                )?);
            }
        }
        Ok(out)
    }

    fn paths(
        &self,
        paths: Option<&Value>,
        loc: &str,
        exclude: &[&str],
    ) -> Result<Value, ConvertError> {
        let mut out = Map::new();
        let Some(paths) = paths else {
            return Ok(Value::Object(out));
        };
        for (key, item) in ordered_entries(as_object(paths, loc, "`paths`")?) {
            let here = child(loc, key);
            if is_extension(key) {
                out.insert(key.to_owned(), self.extension_value(item, &here)?);
            } else if let Some(converted) = self.path_item(item, &here, exclude)? {
                out.insert(key.to_owned(), converted);
            }
        }
        Ok(Value::Object(out))
    }

    fn path_item(
        &self,
        item: &Value,
        loc: &str,
        exclude: &[&str],
    ) -> Result<Option<Value>, ConvertError> {
        let obj = as_object(item, loc, "a path item")?;
        if obj.contains_key("$ref") {
            return Err(ConvertError::new(
                child(loc, "$ref"),
                "path item references cannot be converted",
            ));
        }
        for method in ["trace", "query"] {
            if obj.get(method).is_some_and(|op| !is_excluded(op, exclude)) {
                return Err(ConvertError::new(
                    child(loc, method),
                    format!("Swagger 2.0 has no `{method}` operation; exclude it by tag"),
                ));
            }
        }
        if let Some(extra) = obj.get("additionalOperations").and_then(Value::as_object)
            && let Some((method, _)) = extra.iter().find(|(_, op)| !is_excluded(op, exclude))
        {
            return Err(ConvertError::new(
                child(&child(loc, "additionalOperations"), method),
                format!("Swagger 2.0 has no `{method}` operation; exclude it by tag"),
            ));
        }
        let kept = METHODS_2
            .iter()
            .any(|m| obj.get(*m).is_some_and(|op| !is_excluded(op, exclude)));
        if !kept {
            return Ok(None);
        }

        let mut out = Map::new();
        for (key, v) in ordered_entries(obj) {
            let here = child(loc, key);
            match key {
                m if METHODS_2.contains(&m) && !is_excluded(v, exclude) => {
                    out.insert(key.to_owned(), self.operation(v, &here)?);
                }
                "parameters" => {
                    let params = self.parameters(v, &here)?;
                    if !params.is_empty() {
                        out.insert(key.to_owned(), Value::Array(params));
                    }
                }
                k if is_extension(k) => {
                    out.insert(key.to_owned(), self.extension_value(v, &here)?);
                }
                // `summary`, `description`, `servers` have no 2.0 place on a path item.
                _ => {}
            }
        }
        Ok(Some(Value::Object(out)))
    }

    fn parameters(&self, list: &Value, loc: &str) -> Result<Vec<Value>, ConvertError> {
        as_array(list, loc, "`parameters`")?
            .iter()
            .enumerate()
            .map(|(i, p)| self.parameter(p, &child(loc, &i.to_string())))
            .collect()
    }

    fn operation(&self, op: &Value, loc: &str) -> Result<Value, ConvertError> {
        let obj = as_object(op, loc, "an operation")?;
        let mut consumes = Vec::new();
        let mut produces = Vec::new();
        // Swagger 2.0 keeps the request body among the parameters; it goes last.
        let mut params = match obj.get("parameters") {
            Some(list) => self.parameters(list, &child(loc, "parameters"))?,
            None => Vec::new(),
        };
        if let Some(body) = obj.get("requestBody") {
            params.push(self.request_body(body, &child(loc, "requestBody"), &mut consumes)?);
        }
        let mut params = Some(params);

        let mut out = Map::new();
        for (key, v) in ordered_entries(obj) {
            let here = child(loc, key);
            match key {
                "tags" | "summary" | "description" | "externalDocs" | "operationId"
                | "deprecated" | "security" => {
                    out.insert(key.to_owned(), v.clone());
                }
                "parameters" | "requestBody" => {
                    if let Some(params) = params.take().filter(|p| !p.is_empty()) {
                        out.insert("parameters".into(), Value::Array(params));
                    }
                }
                "responses" => {
                    let mut responses = Map::new();
                    for (code, response) in ordered_entries(as_object(v, &here, "`responses`")?) {
                        let at = child(&here, code);
                        let converted = if is_extension(code) {
                            self.extension_value(response, &at)?
                        } else {
                            self.response(response, &at, &mut produces)?
                        };
                        responses.insert(code.to_owned(), converted);
                    }
                    out.insert(key.to_owned(), Value::Object(responses));
                }
                k if is_extension(k) => {
                    out.insert(key.to_owned(), self.extension_value(v, &here)?);
                }
                // `callbacks` and `servers` have no 2.0 form.
                _ => {}
            }
        }
        // The root declares JSON; only operations that differ say so.
        if !consumes.is_empty() && consumes != ["application/json"] {
            out.insert("consumes".into(), json!(consumes));
        }
        if !produces.is_empty() && produces != ["application/json"] {
            out.insert("produces".into(), json!(produces));
        }
        Ok(Value::Object(out))
    }

    fn request_body(
        &self,
        body: &Value,
        loc: &str,
        consumes: &mut Vec<String>,
    ) -> Result<Value, ConvertError> {
        let body = self.resolve(body, "requestBodies", loc)?;
        let obj = as_object(body, loc, "`requestBody`")?;
        let content_loc = child(loc, "content");
        let content = obj
            .get("content")
            .and_then(Value::as_object)
            .ok_or_else(|| ConvertError::new(&content_loc, "request body has no `content`"))?;
        let (media, media_obj) = pick_media(content)
            .ok_or_else(|| ConvertError::new(&content_loc, "request body `content` is empty"))?;
        let media_loc = child(&content_loc, media);
        if media.starts_with("multipart/form-data")
            || media.starts_with("application/x-www-form-urlencoded")
        {
            return Err(ConvertError::new(
                media_loc,
                "form bodies become `formData` parameters in 2.0, which this converter does not produce",
            ));
        }
        let schema = media_obj.get("schema").ok_or_else(|| {
            ConvertError::new(&media_loc, "request body media type has no `schema`")
        })?;
        consumes.push(media.to_owned());

        let mut out = Map::new();
        out.insert("name".into(), json!("body"));
        out.insert("in".into(), json!("body"));
        if let Some(description) = obj.get("description") {
            out.insert("description".into(), description.clone());
        }
        let required = obj
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        out.insert("required".into(), Value::Bool(required));
        out.insert(
            "schema".into(),
            self.schema(schema, &child(&media_loc, "schema"))?,
        );
        // Extensions of the request body win over those of its media type.
        let mut extensions: Vec<(&str, &Value, String)> = obj
            .iter()
            .filter(|(k, _)| is_extension(k))
            .map(|(k, v)| (k.as_str(), v, child(loc, k)))
            .collect();
        if let Some(media_map) = media_obj.as_object() {
            for (k, v) in media_map {
                if is_extension(k) && !obj.contains_key(k) {
                    extensions.push((k.as_str(), v, child(&media_loc, k)));
                }
            }
        }
        extensions.sort_by(|a, b| a.0.cmp(b.0));
        for (key, v, at) in extensions {
            out.insert(key.to_owned(), self.extension_value(v, &at)?);
        }
        Ok(Value::Object(out))
    }

    fn parameter(&self, param: &Value, loc: &str) -> Result<Value, ConvertError> {
        let param = self.resolve(param, "parameters", loc)?;
        let obj = as_object(param, loc, "a parameter")?;
        let location = obj.get("in").and_then(Value::as_str).unwrap_or_default();
        match location {
            "query" | "header" | "path" => {}
            "cookie" => {
                return Err(ConvertError::new(
                    child(loc, "in"),
                    "Swagger 2.0 has no cookie parameters",
                ));
            }
            other => {
                return Err(ConvertError::new(
                    child(loc, "in"),
                    format!("unknown parameter location `{other}`"),
                ));
            }
        }
        if obj.contains_key("content") {
            return Err(ConvertError::new(
                child(loc, "content"),
                "parameters described by `content` cannot be converted; use `schema`",
            ));
        }
        let schema_loc = child(loc, "schema");
        let schema = obj
            .get("schema")
            .ok_or_else(|| ConvertError::new(&schema_loc, "parameter has no `schema`"))?;
        let flat = self.primitive(schema, &schema_loc, false)?;

        let mut out = Map::new();
        for (key, v) in ordered_entries(obj) {
            let here = child(loc, key);
            match key {
                "name" | "in" | "description" | "required" => {
                    out.insert(key.to_owned(), v.clone());
                }
                "allowEmptyValue" if location == "query" => {
                    out.insert(key.to_owned(), v.clone());
                }
                "schema" => {
                    for (k, sv) in &flat {
                        // The parameter's own description and extensions win over the schema's.
                        if !obj.contains_key(k) {
                            out.insert(k.clone(), sv.clone());
                        }
                    }
                    if flat.get("type").is_some_and(|t| t == "array")
                        && !flat.contains_key("collectionFormat")
                    {
                        out.insert(
                            "collectionFormat".into(),
                            json!(collection_format(obj, location, loc)?),
                        );
                    }
                }
                k if is_extension(k) => {
                    out.insert(key.to_owned(), self.extension_value(v, &here)?);
                }
                // `deprecated`, `style`, `explode`, `allowReserved`, `example(s)`: no 2.0 form.
                _ => {}
            }
        }
        Ok(Value::Object(out))
    }

    fn header(&self, header: &Value, loc: &str) -> Result<Value, ConvertError> {
        let header = self.resolve(header, "headers", loc)?;
        let obj = as_object(header, loc, "a header")?;
        let schema_loc = child(loc, "schema");
        let schema = obj
            .get("schema")
            .ok_or_else(|| ConvertError::new(&schema_loc, "header has no `schema`"))?;
        let flat = self.primitive(schema, &schema_loc, false)?;
        let mut out = Map::new();
        for (k, v) in &flat {
            if !obj.contains_key(k) {
                out.insert(k.clone(), v.clone());
            }
        }
        for (key, v) in ordered_entries(obj) {
            if key == "description" {
                out.insert(key.to_owned(), v.clone());
            } else if is_extension(key) {
                out.insert(key.to_owned(), self.extension_value(v, &child(loc, key))?);
            }
        }
        Ok(Value::Object(out))
    }

    fn response(
        &self,
        response: &Value,
        loc: &str,
        produces: &mut Vec<String>,
    ) -> Result<Value, ConvertError> {
        let response = self.resolve(response, "responses", loc)?;
        let obj = as_object(response, loc, "a response")?;
        let mut out = Map::new();
        out.insert(
            "description".into(),
            obj.get("description").cloned().unwrap_or_else(|| json!("")),
        );
        for (key, v) in ordered_entries(obj) {
            let here = child(loc, key);
            match key {
                "content" => {
                    let content = as_object(v, &here, "`content`")?;
                    if let Some((media, media_obj)) = pick_media(content) {
                        if !produces.iter().any(|p| p == media) {
                            produces.push(media.to_owned());
                        }
                        let media_loc = child(&here, media);
                        if let Some(schema) = media_obj.get("schema") {
                            out.insert(
                                "schema".into(),
                                self.schema(schema, &child(&media_loc, "schema"))?,
                            );
                        }
                        if let Some(example) = media_example(media_obj) {
                            out.insert("examples".into(), json!({ media: example }));
                        }
                    }
                }
                "headers" => {
                    let mut headers = Map::new();
                    for (name, h) in ordered_entries(as_object(v, &here, "`headers`")?) {
                        headers.insert(name.to_owned(), self.header(h, &child(&here, name))?);
                    }
                    if !headers.is_empty() {
                        out.insert(key.to_owned(), Value::Object(headers));
                    }
                }
                k if is_extension(k) => {
                    out.insert(key.to_owned(), self.extension_value(v, &here)?);
                }
                // `description` is already in; `links` has no 2.0 form.
                _ => {}
            }
        }
        Ok(Value::Object(out))
    }

    /// Flattens a schema for a non-body parameter, a header or their `items`: Swagger 2.0 gives
    /// them no `schema`, so `$ref`s (which utoipa emits for enum types) are resolved and only the
    /// keywords 2.0 allows there are kept. Siblings of a `$ref` (description, `x-nullable`) win
    /// over the referenced schema.
    fn primitive(
        &self,
        schema: &Value,
        loc: &str,
        is_items: bool,
    ) -> Result<Map<String, Value>, ConvertError> {
        let mut current = self.schema(schema, loc)?;
        let mut current_loc = loc.to_owned();
        let mut overrides = Map::new();
        for _ in 0..32 {
            let Some(reference) = current.get("$ref").and_then(Value::as_str) else {
                break;
            };
            let name = reference
                .strip_prefix(REF_2)
                .map(unescape)
                .unwrap_or_default();
            let target = self.schema_component(&name).ok_or_else(|| {
                ConvertError::new(
                    child(&current_loc, "$ref"),
                    format!("`{reference}` does not exist"),
                )
            })?;
            if let Some(obj) = current.as_object() {
                for (k, v) in obj {
                    if k != "$ref" && !overrides.contains_key(k) {
                        overrides.insert(k.clone(), v.clone());
                    }
                }
            }
            current_loc = child("/components/schemas", &name);
            current = self.schema(target, &current_loc)?;
        }
        if current.get("$ref").is_some() {
            return Err(ConvertError::new(loc, "`$ref` chain does not end"));
        }
        let mut merged = current.as_object().cloned().unwrap_or_default();
        merged.extend(overrides);

        match merged.get("type").and_then(Value::as_str) {
            None => {
                return Err(ConvertError::new(
                    loc,
                    "Swagger 2.0 needs a `type` here (parameters, headers and their items)",
                ));
            }
            Some("object") => {
                return Err(ConvertError::new(
                    loc,
                    "Swagger 2.0 allows only primitive and array types here, not objects",
                ));
            }
            Some(_) => {}
        }
        let mut out = Map::new();
        for (key, v) in ordered_entries(&merged) {
            if key == "items" {
                out.insert(
                    key.to_owned(),
                    Value::Object(self.primitive(v, &child(loc, "items"), true)?),
                );
            } else if PRIMITIVE_KEYS.contains(&key)
                || (is_extension(key) && !(is_items && key.starts_with("x-ms-")))
                || (key == "description" && !is_items)
            {
                out.insert(key.to_owned(), v.clone());
            }
        }
        Ok(out)
    }

    /// Converts one schema, recursing into everything it nests.
    fn schema(&self, value: &Value, loc: &str) -> Result<Value, ConvertError> {
        let obj = match value {
            Value::Object(obj) => obj,
            Value::Bool(true) => return Ok(json!({})),
            _ => {
                return Err(ConvertError::new(
                    loc,
                    "a schema must be a JSON object (boolean schemas have no Swagger 2.0 form)",
                ));
            }
        };
        if obj.contains_key("oneOf") && obj.contains_key("anyOf") {
            return Err(ConvertError::new(
                loc,
                "`oneOf` and `anyOf` together have no Swagger 2.0 form",
            ));
        }
        for keyword in ["oneOf", "anyOf"] {
            if let Some(alternatives) = obj.get(keyword) {
                return self.nullable_alternative(obj, keyword, alternatives, loc);
            }
        }
        if let Some(merged) = self.decorated_all_of(obj, loc)? {
            return Ok(merged);
        }
        self.plain_schema(obj, loc)
    }

    /// `oneOf`/`anyOf` of one schema and `null` (how utoipa writes `Option<Type>`) becomes that
    /// schema with `x-nullable: true`; real unions have no 2.0 form and are refused.
    fn nullable_alternative(
        &self,
        wrapper: &Map<String, Value>,
        keyword: &str,
        alternatives: &Value,
        loc: &str,
    ) -> Result<Value, ConvertError> {
        let keyword_loc = child(loc, keyword);
        let alternatives = as_array(alternatives, &keyword_loc, keyword)?;
        let non_null: Vec<(usize, &Value)> = alternatives
            .iter()
            .enumerate()
            .filter(|(_, alt)| !is_null_schema(alt))
            .collect();
        let has_null = non_null.len() < alternatives.len();
        let [(index, only)] = non_null.as_slice() else {
            return Err(ConvertError::new(
                keyword_loc,
                format!(
                    "`{keyword}` with {} non-null alternatives has no Swagger 2.0 form (only `T or null` converts)",
                    non_null.len()
                ),
            ));
        };
        let inner = self.schema(only, &child(&keyword_loc, &index.to_string()))?;
        let mut rest = wrapper.clone();
        // `shift_remove` keeps the remaining keys in input order (`remove` swaps the last one in).
        rest.shift_remove(keyword);
        rest.shift_remove("discriminator");
        self.merge_onto(inner, &rest, loc, has_null)
    }

    /// 3.1 decorates a `$ref` with `allOf: [{$ref}, {description...}]` (or a one-item `allOf`);
    /// 2.0 accepts those keywords beside the `$ref`, so they are merged into it. A real
    /// composition (several structural parts, or sibling `properties`) stays an `allOf`.
    fn decorated_all_of(
        &self,
        obj: &Map<String, Value>,
        loc: &str,
    ) -> Result<Option<Value>, ConvertError> {
        let Some(Value::Array(parts)) = obj.get("allOf") else {
            return Ok(None);
        };
        let mut rest = obj.clone();
        rest.shift_remove("allOf");
        if !is_annotation_only(&rest) {
            return Ok(None);
        }
        let structural: Vec<(usize, &Value)> = parts
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.as_object().is_some_and(is_annotation_only))
            .collect();
        let [(index, only)] = structural.as_slice() else {
            return Ok(None);
        };
        let all_of_loc = child(loc, "allOf");
        let mut merged = self.schema(only, &child(&all_of_loc, &index.to_string()))?;
        for (i, part) in parts.iter().enumerate() {
            if i != *index
                && let Some(part) = part.as_object()
            {
                merged =
                    self.merge_onto(merged, part, &child(&all_of_loc, &i.to_string()), false)?;
            }
        }
        self.merge_onto(merged, &rest, loc, false).map(Some)
    }

    /// Converts `extra` and lays its keywords over `base` (which keeps its own order first).
    fn merge_onto(
        &self,
        base: Value,
        extra: &Map<String, Value>,
        loc: &str,
        nullable: bool,
    ) -> Result<Value, ConvertError> {
        let mut merged = match base {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        if let Value::Object(extra) = self.plain_schema(extra, loc)? {
            merged.extend(extra);
        }
        if nullable {
            merged.entry("x-nullable").or_insert(Value::Bool(true));
        }
        Ok(Value::Object(merged))
    }

    fn plain_schema(&self, obj: &Map<String, Value>, loc: &str) -> Result<Value, ConvertError> {
        let mut out = Map::new();
        let mut nullable = false;
        let mut lower_done = false;
        let mut upper_done = false;
        for (key, v) in ordered_entries(obj) {
            let here = child(loc, key);
            match key {
                "$ref" => {
                    out.insert(key.to_owned(), Value::String(self.schema_ref(v, &here)?));
                }
                "type" => {
                    out.insert(key.to_owned(), schema_type(v, &here, &mut nullable)?);
                }
                // 3.0's `nullable` (utoipa does not emit it, hand-written schemas might).
                "nullable" => nullable |= v.as_bool().unwrap_or(false),
                // `const: null` only says "nullable"; an enum cannot hold null in 2.0.
                "const" if v.is_null() => nullable = true,
                "const" if !obj.contains_key("enum") => {
                    out.insert("enum".into(), json!([v]));
                }
                "enum" => match v {
                    Value::Array(values) if values.iter().any(Value::is_null) => {
                        nullable = true;
                        let kept: Vec<Value> =
                            values.iter().filter(|x| !x.is_null()).cloned().collect();
                        out.insert(key.to_owned(), Value::Array(kept));
                    }
                    _ => {
                        out.insert(key.to_owned(), v.clone());
                    }
                },
                "examples" => {
                    let first = v.as_array().and_then(|a| a.first());
                    if let (false, Some(first)) = (obj.contains_key("example"), first) {
                        out.insert("example".into(), first.clone());
                    }
                }
                "minimum" | "exclusiveMinimum" if !lower_done => {
                    lower_done = true;
                    insert_bound(
                        &mut out,
                        fold_bound(obj.get("minimum"), obj.get("exclusiveMinimum"), true),
                        "minimum",
                        "exclusiveMinimum",
                    );
                }
                "maximum" | "exclusiveMaximum" if !upper_done => {
                    upper_done = true;
                    insert_bound(
                        &mut out,
                        fold_bound(obj.get("maximum"), obj.get("exclusiveMaximum"), false),
                        "maximum",
                        "exclusiveMaximum",
                    );
                }
                "format" => {
                    if let Some(format) = v.as_str().and_then(map_format) {
                        out.insert(key.to_owned(), json!(format));
                    }
                }
                "properties" => {
                    let mut props = Map::new();
                    for (name, prop) in as_object(v, &here, "`properties`")? {
                        props.insert(name.clone(), self.schema(prop, &child(&here, name))?);
                    }
                    out.insert(key.to_owned(), Value::Object(props));
                }
                "items" => match v {
                    Value::Object(_) => {
                        out.insert(key.to_owned(), self.schema(v, &here)?);
                    }
                    Value::Array(items) => {
                        let converted = items
                            .iter()
                            .enumerate()
                            .map(|(i, item)| self.schema(item, &child(&here, &i.to_string())))
                            .collect::<Result<Vec<_>, _>>()?;
                        out.insert(key.to_owned(), Value::Array(converted));
                    }
                    // `items: false` closes a 3.1 tuple (`prefixItems`), which 2.0 cannot say.
                    _ => {}
                },
                "additionalProperties" => match v {
                    Value::Bool(_) => {
                        out.insert(key.to_owned(), v.clone());
                    }
                    _ => {
                        out.insert(key.to_owned(), self.schema(v, &here)?);
                    }
                },
                "allOf" => {
                    let converted = as_array(v, &here, "`allOf`")?
                        .iter()
                        .enumerate()
                        .map(|(i, part)| self.schema(part, &child(&here, &i.to_string())))
                        .collect::<Result<Vec<_>, _>>()?;
                    out.insert(key.to_owned(), Value::Array(converted));
                }
                "required" if v.as_array().is_some_and(|r| !r.is_empty()) => {
                    out.insert(key.to_owned(), v.clone());
                }
                // 3.x discriminators are objects; 2.0 keeps only the property name.
                "discriminator" => {
                    let name = v.get("propertyName").unwrap_or(v);
                    if name.is_string() {
                        out.insert(key.to_owned(), name.clone());
                    }
                }
                k if is_extension(k) => {
                    out.insert(key.to_owned(), self.extension_value(v, &here)?);
                }
                k if SCHEMA_VERBATIM.contains(&k) => {
                    out.insert(key.to_owned(), v.clone());
                }
                // 3.1-only keywords (`$schema`, `contentMediaType`, `propertyNames`, `prefixItems`,
                // `unevaluatedProperties`, `writeOnly`, `deprecated`, `not`...) have no 2.0 form.
                _ => {}
            }
        }
        if nullable {
            out.entry("x-nullable").or_insert(Value::Bool(true));
        }
        Ok(Value::Object(out))
    }

    /// Converts the schemas of `components` that the output references, transitively, keeping
    /// the components' order. References are checked while converting, so a dangling one seen
    /// here can only be a `#/definitions/...` written by hand inside an extension; it is reported
    /// at its location in the output.
    fn reachable_definitions(
        &self,
        paths: &Value,
        root_extensions: &Map<String, Value>,
    ) -> Result<Map<String, Value>, ConvertError> {
        let mut pending = Vec::new();
        collect_refs(paths, "/paths", &mut pending);
        for (key, v) in root_extensions {
            collect_refs(v, &child("", key), &mut pending);
        }
        let mut queue: VecDeque<(String, String)> = pending.into();
        let mut converted: Vec<(String, Value)> = Vec::new();
        let mut seen = HashSet::new();
        while let Some((name, at)) = queue.pop_front() {
            if !seen.insert(name.clone()) {
                continue;
            }
            let source = self.schema_component(&name).ok_or_else(|| {
                ConvertError::new(
                    &at,
                    format!(
                        "references schema `{name}`, which `components.schemas` does not define"
                    ),
                )
            })?;
            let loc = child("/components/schemas", &name);
            let schema = self.schema(source, &loc)?;
            let mut refs = Vec::new();
            collect_refs(&schema, &child("/definitions", &name), &mut refs);
            queue.extend(refs);
            converted.push((name, schema));
        }
        let mut out = Map::new();
        if let Some(schemas) = self.components.get("schemas").and_then(Value::as_object) {
            for name in schemas.keys() {
                if let Some(pos) = converted.iter().position(|(n, _)| n == name) {
                    let (name, schema) = converted.swap_remove(pos);
                    out.insert(name, schema);
                }
            }
        }
        Ok(out)
    }
}

fn insert_bound(out: &mut Map<String, Value>, folded: Vec<Value>, plain: &str, exclusive: &str) {
    let mut folded = folded.into_iter();
    if let Some(bound) = folded.next() {
        out.insert(plain.to_owned(), bound);
    }
    if let Some(flag) = folded.next() {
        out.insert(exclusive.to_owned(), flag);
    }
}

/// A 3.1 `type` (string or array) as a single 2.0 type; `null` members set `nullable`.
fn schema_type(value: &Value, loc: &str, nullable: &mut bool) -> Result<Value, ConvertError> {
    let only_null = || {
        ConvertError::new(
            loc,
            "a schema that only admits `null` has no Swagger 2.0 form",
        )
    };
    match value {
        Value::String(t) if t == "null" => Err(only_null()),
        Value::String(_) => Ok(value.clone()),
        Value::Array(types) => {
            let mut kept = Vec::new();
            for t in types {
                match t.as_str() {
                    Some("null") => *nullable = true,
                    Some(_) => kept.push(t.clone()),
                    None => return Err(ConvertError::new(loc, "`type` members must be strings")),
                }
            }
            match kept.len() {
                0 => Err(only_null()),
                1 => Ok(kept.swap_remove(0)),
                _ => Err(ConvertError::new(
                    loc,
                    format!("type union {value} has no Swagger 2.0 form"),
                )),
            }
        }
        _ => Err(ConvertError::new(
            loc,
            "`type` must be a string or an array",
        )),
    }
}

/// The 2.0 `collectionFormat` matching a 3.1 array parameter's `style`/`explode`.
fn collection_format(
    param: &Map<String, Value>,
    location: &str,
    loc: &str,
) -> Result<&'static str, ConvertError> {
    let default_style = if location == "query" {
        "form"
    } else {
        "simple"
    };
    let style = param
        .get("style")
        .and_then(Value::as_str)
        .unwrap_or(default_style);
    let explode = param
        .get("explode")
        .and_then(Value::as_bool)
        .unwrap_or(style == "form");
    match (style, explode) {
        ("form", true) if location == "query" => Ok("multi"),
        ("form", _) | ("simple", _) => Ok("csv"),
        ("spaceDelimited", _) => Ok("ssv"),
        ("pipeDelimited", _) => Ok("pipes"),
        (other, _) => Err(ConvertError::new(
            child(loc, "style"),
            format!("array style `{other}` has no Swagger 2.0 collectionFormat"),
        )),
    }
}

#[cfg(test)]
mod tests;
