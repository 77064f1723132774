//! JSON Schema (2020-12) of an account's input, from the same declarations as its
//! validation (`formats`, `engine`): the per-field value schemas behind the OpenAPI
//! document, and `fields_schema`, the form descriptor the admin SPA renders as it is.
//!
//! The schemas describe values as the server keeps them. The server is also lenient
//! where a form is not: it trims text, converts full-width ASCII to half-width and reads
//! whole numbers given as strings. What no schema can say is checked by the server only:
//! PEM parsing (expiry, key type), the provider's rules in code (e.g. a certificate that
//! matches its key, keys of one mode) and rules across accounts.

use serde_json::{Map, Value, json};

use super::{
    formats,
    spec::{Access, Field, Kind, ProviderSpec, RESULT_ACTIONS, Rule},
};

/// The JSON Schema dialect of `fields_schema`.
pub const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// One line of text with at least one character that is not a space.
const TEXT_PATTERN: &str =
    r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$";

/// The label of `enabled`, which every account has.
pub const ENABLED_LABEL: &str = "有効・無効";

/// The schema of a field's value (null not included). `$ref`s are never used: the value
/// schema is whole, so that it can stand in a form descriptor on its own.
pub fn value_schema(field: &Field) -> Value {
    let mut schema = match field.kind {
        Kind::Text { max } => json!({"type": "string", "maxLength": max, "pattern": TEXT_PATTERN}),
        Kind::Pattern { regex, expected } => {
            json!({"type": "string", "pattern": format!("^(?:{regex})$"), "description": format!("{expected}.")})
        }
        Kind::Bool => json!({"type": "boolean"}),
        Kind::Integer { min, max } => json!({"type": "integer", "minimum": min, "maximum": max}),
        Kind::IpAddress => json!({
            "type": "string",
            "pattern": formats::ip_address_pattern(),
            "description": "An IPv4 or IPv6 address."
        }),
        Kind::Hostname => json!({
            "type": "string", "maxLength": 253, "pattern": formats::HOSTNAME_PATTERN,
            "description": "A host name such as secure.example.jp (no scheme or path)."
        }),
        Kind::Url { https_only } => json!({"type": "string", "pattern": formats::url_pattern(https_only)}),
        Kind::Uuid => json!({"type": "string", "format": "uuid", "pattern": formats::UUID_PATTERN}),
        Kind::DnsLabel => json!({"type": "string", "pattern": formats::DNS_LABEL_PATTERN}),
        Kind::OneOf(values) => one_of(values, field.choices),
        Kind::Certificate => json!({
            "type": "string", "pattern": "-----BEGIN CERTIFICATE-----",
            "description": "An X.509 certificate in PEM (-----BEGIN CERTIFICATE-----)."
        }),
        Kind::PrivateKey { rsa_only } => json!({
            "type": "string", "pattern": "-----BEGIN [A-Z ]*PRIVATE KEY-----",
            "description": if rsa_only {
                "An unencrypted RSA private key in PEM (PKCS#8 or PKCS#1)."
            } else {
                "An unencrypted private key in PEM (PKCS#8, or PKCS#1 for RSA)."
            }
        }),
        Kind::ResultAction => result_action_schema(),
        Kind::OpluxEndpoint => json!({
            "type": "string",
            "pattern": format!("^(?:test|production)$|{}", formats::url_pattern(false)),
            "description": "test, production, or the http(s) base URL of an O-PLUX stand-in."
        }),
    };
    if let Some(example) = field.example.and_then(|e| serde_json::from_str::<Value>(e).ok()) {
        schema["examples"] = json!([example]);
    }
    schema
}

/// A choice among fixed values, each with its label where the seed gives one.
fn one_of(values: &[&str], labels: &[(&str, &str)]) -> Value {
    if labels.is_empty() {
        return json!({"type": "string", "enum": values});
    }
    let choices: Vec<Value> = values
        .iter()
        .map(|value| {
            let label = labels.iter().find(|(v, _)| v == value).map_or(*value, |(_, l)| *l);
            json!({"const": value, "title": label})
        })
        .collect();
    json!({"type": "string", "oneOf": choices})
}

/// `{action, redirect_url}`: a redirect needs its URL (an empty one counts as none).
pub fn result_action_schema() -> Value {
    let url = formats::url_pattern(false);
    let mut action = one_of(
        &RESULT_ACTIONS.iter().map(|(v, _)| *v).collect::<Vec<_>>(),
        RESULT_ACTIONS,
    );
    action["title"] = ACTION_LABEL.into();
    json!({
        "type": "object",
        "properties": {
            "action": action,
            "redirect_url": {
                "type": ["string", "null"],
                "pattern": format!(r"^\s*$|{url}"),
                "title": REDIRECT_URL_LABEL,
                "description": "An absolute http(s) URL; required when the action is redirect."
            }
        },
        "required": ["action"],
        "additionalProperties": false,
        "if": {"properties": {"action": {"const": "redirect"}}, "required": ["action"]},
        "then": {"properties": {"redirect_url": {"type": "string", "pattern": url}}, "required": ["redirect_url"]}
    })
}

/// The value schema or null (null clears a setting or a secret): `type: [T, "null"]`
/// with `null` among its fixed values, never an `anyOf` a form shows as a chooser
/// (except around a `$ref`, in the OpenAPI document only).
pub fn nullable(schema: Value) -> Value {
    match schema {
        Value::Object(mut object) if object.get("type").is_some_and(Value::is_string) => {
            let kind = object.remove("type").unwrap_or_default();
            object.insert("type".into(), json!([kind, "null"]));
            if let Some(values) = object.get_mut("enum").and_then(Value::as_array_mut) {
                values.push(Value::Null);
            }
            if let Some(choices) = object.get_mut("oneOf").and_then(Value::as_array_mut) {
                choices.push(json!({"const": null, "title": UNSET_LABEL}));
            }
            Value::Object(object)
        }
        other => json!({"anyOf": [other, {"type": "null"}]}),
    }
}

/// The label of a result action's `action`.
pub const ACTION_LABEL: &str = "処理";
/// The label of a result action's `redirect_url`.
pub const REDIRECT_URL_LABEL: &str = "リダイレクトURL";

/// The label of the choice of no value.
pub const UNSET_LABEL: &str = "未設定";

/// What a field is, for people: its description, and what the server does with it.
pub fn help(field: &Field) -> String {
    let mut text = field.description.to_string();
    let mut add = |more: &str| {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(more);
    };
    if field.secret {
        add("Secret: write-only; omit to keep the stored value, null to clear it.");
    }
    match field.access {
        Access::Constant(_) => add("Read-only: fixed by the provider."),
        Access::Computed => add("Read-only: set by renkei."),
        Access::Linked => add("Read-only: set by the link action."),
        Access::Writable => {}
    }
    text
}

/// The fields that `enabled: true` needs (bools never: they have defaults).
pub fn required_to_enable(spec: &ProviderSpec) -> Vec<&'static str> {
    spec.fields
        .iter()
        .filter(|f| {
            !f.optional && matches!(f.access, Access::Writable | Access::Linked) && !matches!(f.kind, Kind::Bool)
        })
        .map(|f| f.name)
        .collect()
}

/// The account's input as a form renders it: JSON Schema 2020-12 of a PUT body.
pub fn fields_schema(spec: &ProviderSpec) -> Value {
    let mut properties = Map::new();
    properties.insert(
        "enabled".into(),
        json!({
            "type": "boolean", "title": ENABLED_LABEL, "default": true,
            "description": "Whether the account is in use. With true, every required field must be set; save with false to keep a draft."
        }),
    );
    for field in spec.fields.iter().filter(|f| f.is_writable()) {
        let mut schema = nullable(value_schema(field));
        schema["title"] = Value::from(field.label);
        let help = help(field);
        if !help.is_empty() {
            schema["description"] = Value::from(help);
        }
        if field.secret {
            schema["writeOnly"] = Value::Bool(true);
        }
        if let Some(default) = field.default.value() {
            schema["default"] = default;
        }
        properties.insert(field.name.into(), schema);
    }
    let mut conditions = vec![completeness(spec)];
    conditions.extend(spec.rules.iter().filter_map(|rule| requires(spec, rule)));
    json!({
        "$schema": DIALECT,
        "title": spec.display_name,
        "description": spec.summary,
        "type": "object",
        "properties": properties,
        "additionalProperties": false,
        "allOf": conditions
    })
}

/// `enabled` (true unless given) needs every required field, set (not null).
fn completeness(spec: &ProviderSpec) -> Value {
    let required = required_to_enable(spec);
    json!({
        "if": {"properties": {"enabled": {"const": true}}},
        "then": set_fields(spec, &required)
    })
}

/// `Requires {when, needs}`: when the bool is true, each need is set (a bool: true).
fn requires(spec: &ProviderSpec, rule: &Rule) -> Option<Value> {
    let Rule::Requires { when, needs } = rule else {
        return None;
    };
    Some(json!({
        "if": {"properties": {*when: {"const": true}}, "required": [when]},
        "then": set_fields(spec, needs)
    }))
}

fn set_fields(spec: &ProviderSpec, names: &[&str]) -> Value {
    let properties: Map<String, Value> = names
        .iter()
        .map(|name| {
            let bool_field = spec.field(name).is_some_and(|f| matches!(f.kind, Kind::Bool));
            let set = if bool_field {
                json!({"const": true})
            } else {
                json!({"not": {"type": "null"}})
            };
            (name.to_string(), set)
        })
        .collect();
    json!({"required": names, "properties": properties})
}

/// react-jsonschema-form's uiSchema of `fields_schema`: the screen's order, a password
/// input for every secret, a text area for PEM text, and a title for every nested field.
pub fn ui_schema(spec: &ProviderSpec) -> Value {
    let mut ui = Map::new();
    let order: Vec<&str> = groups(spec)
        .into_iter()
        .flat_map(|(_, names)| names)
        .filter(|name| *name == "enabled" || spec.field(name).is_some_and(Field::is_writable))
        .collect();
    ui.insert("ui:order".into(), json!(order));
    for field in spec.fields.iter().filter(|f| f.is_writable()) {
        let entry = if field.secret {
            let mut entry = json!({"ui:widget": "password"});
            if matches!(field.kind, Kind::PrivateKey { .. }) {
                entry["ui:help"] = "PEM text (-----BEGIN … PRIVATE KEY-----).".into();
            }
            entry
        } else {
            match field.kind {
                Kind::Certificate => json!({"ui:widget": "textarea"}),
                Kind::ResultAction => json!({
                    "ui:title": field.label,
                    "ui:order": ["action", "redirect_url"],
                    "action": {"ui:title": ACTION_LABEL},
                    "redirect_url": {"ui:title": REDIRECT_URL_LABEL}
                }),
                _ => continue,
            }
        };
        ui.insert(field.name.into(), entry);
    }
    Value::Object(ui)
}

/// `fields_schema` for editing a saved account: a secret already stored is not
/// required (left out, PUT keeps it).
pub fn edit_schema(spec: &ProviderSpec, secret_is_stored: impl Fn(&str) -> bool) -> Value {
    let mut schema = fields_schema(spec);
    let stored: Vec<&str> = spec
        .fields
        .iter()
        .filter(|f| f.secret && f.is_writable() && secret_is_stored(f.name))
        .map(|f| f.name)
        .collect();
    if let Some(conditions) = schema.get_mut("allOf").and_then(Value::as_array_mut) {
        for condition in conditions {
            let Some(then) = condition.get_mut("then").and_then(Value::as_object_mut) else {
                continue;
            };
            if let Some(required) = then.get_mut("required").and_then(Value::as_array_mut) {
                required.retain(|name| !name.as_str().is_some_and(|n| stored.contains(&n)));
            }
            if let Some(properties) = then.get_mut("properties").and_then(Value::as_object_mut) {
                for name in &stored {
                    properties.remove(*name);
                }
            }
        }
    }
    for name in stored {
        if let Some(property) = schema.pointer_mut(&format!("/properties/{name}")) {
            let help = property.get("description").and_then(Value::as_str).unwrap_or_default();
            property["description"] = format!("Stored: leave empty to keep it. {help}").trim_end().into();
        }
    }
    schema
}

/// The current values of a saved account as the form's data: every writable setting
/// (PEM text of certificates included), never a secret.
pub fn form_data(spec: &ProviderSpec, enabled: bool, settings: &Map<String, Value>) -> Value {
    let mut data = Map::new();
    data.insert("enabled".into(), Value::Bool(enabled));
    for field in spec.fields.iter().filter(|f| f.is_writable() && !f.secret) {
        if let Some(value) = settings.get(field.name).filter(|v| !v.is_null()) {
            data.insert(field.name.into(), value.clone());
        }
    }
    Value::Object(data)
}

/// The groups of the seed's screen, in order: (heading, field names). `enabled` leads
/// the first group.
pub fn groups(spec: &ProviderSpec) -> Vec<(String, Vec<&'static str>)> {
    let first = format!("{} 認証情報", spec.display_name);
    let mut groups: Vec<(String, Vec<&'static str>)> = vec![(first.clone(), vec!["enabled"])];
    for field in spec.fields {
        let heading = field.group.map_or_else(|| first.clone(), str::to_string);
        match groups.iter_mut().find(|(h, _)| *h == heading) {
            Some((_, names)) => names.push(field.name),
            None => groups.push((heading, vec![field.name])),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::ALL;

    #[test]
    fn every_choice_has_a_label_and_every_label_a_choice() {
        for spec in ALL {
            for field in spec.fields {
                if let Kind::OneOf(values) = field.kind
                    && !field.choices.is_empty()
                {
                    let labelled: Vec<&str> = field.choices.iter().map(|(v, _)| *v).collect();
                    assert_eq!(labelled, values, "{}.{}", spec.slug, field.name);
                } else {
                    assert!(field.choices.is_empty(), "{}.{} has choices", spec.slug, field.name);
                }
            }
        }
    }

    #[test]
    fn groups_hold_every_field_once() {
        for spec in ALL {
            let names: Vec<&str> = groups(spec).into_iter().flat_map(|(_, names)| names).collect();
            assert_eq!(names.len(), spec.fields.len() + 1, "{}", spec.slug);
        }
    }
}
