//! The lint's webhook-trigger rules: a POST whose body carries the one internal, required
//! notification URL, whose path item describes the callback, and whose 201 answer says where
//! to unsubscribe.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::{Linter, Op, Rule, child, is_internal, lists_required, str_of};

impl<'a> Linter<'a> {
    pub(super) fn trigger(&mut self, op: &Op<'a>) {
        if op.method != "post" {
            self.report(
                &op.loc,
                Rule::TriggerPost,
                format!(
                    "webhook trigger is a {}; it must be a POST",
                    op.method.to_uppercase()
                ),
            );
        }
        match op.body() {
            None => self.report(
                &op.loc,
                Rule::TriggerNotificationUrl,
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
                                Rule::TriggerNotificationUrl,
                                "the x-ms-notification-url property must be a string",
                            );
                        }
                        if !is_internal(prop) {
                            self.report(
                                loc,
                                Rule::TriggerNotificationUrlInternal,
                                "the x-ms-notification-url property needs `x-ms-visibility: internal`",
                            );
                        }
                        if prop.contains_key("pattern") {
                            self.report(
                                child(loc, "pattern"),
                                Rule::NotificationUrlPattern,
                                "Power Automate fills the callback URL; a pattern there only risks refusing it (validate it in the service)",
                            );
                        }
                        if !required {
                            self.report(
                                loc,
                                Rule::TriggerNotificationUrlRequired,
                                "the x-ms-notification-url property must be listed in `required` at every level (and the body parameter required)",
                            );
                        }
                    }
                    _ => self.report(
                        &body.loc,
                        Rule::TriggerNotificationUrl,
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
                Rule::TriggerNotificationContent,
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
                Rule::TriggerLocationHeader,
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
}
