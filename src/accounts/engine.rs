//! The one mechanism behind every provider: from the current account and a PUT or
//! PATCH body to the new settings, secret changes and changed field names — or every
//! failing field at once. Pure: no I/O, so each rule is testable on its own.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

use super::{
    formats,
    spec::{Access, Field, ProviderSpec, Rule, View},
};
use crate::{
    core::{FieldError, Secret},
    outbound::OutboundPolicy,
};

/// Fields every account has, shown in responses and never written.
pub const META_FIELDS: &[&str] = &[
    "provider",
    "display_name",
    "category",
    "configured",
    "mode",
    "created_at",
    "updated_at",
];

/// The account as stored, secrets opened.
#[derive(Default)]
pub struct Current {
    pub enabled: bool,
    pub settings: Map<String, Value>,
    pub secrets: HashMap<String, Secret<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Replace the settings; omitted secrets are kept.
    Put,
    /// JSON Merge Patch (RFC 7396).
    Patch,
}

pub enum SecretChange {
    Set(Secret<String>),
    Clear,
}

/// What a write does.
pub struct Outcome {
    pub enabled: bool,
    pub settings: Map<String, Value>,
    pub secret_changes: BTreeMap<&'static str, SecretChange>,
    /// Names of the fields whose value changed (for the audit log).
    pub changed: Vec<String>,
}

/// The account after a write, as rules see it: new settings, secrets as changed.
pub struct Candidate<'a> {
    pub settings: &'a Map<String, Value>,
    pub current: &'a HashMap<String, Secret<String>>,
    pub changes: &'a BTreeMap<&'static str, SecretChange>,
}

impl View for Candidate<'_> {
    fn value(&self, field: &str) -> Option<&Value> {
        self.settings.get(field)
    }

    fn secret_is_set(&self, field: &str) -> bool {
        self.secret_value(field).is_some()
    }

    fn secret_value(&self, field: &str) -> Option<&str> {
        match self.changes.get(field) {
            Some(SecretChange::Set(value)) => Some(value.expose().as_str()),
            Some(SecretChange::Clear) => None,
            None => self.current.get(field).map(|s| s.expose().as_str()),
        }
    }
}

/// Applies a write to the current account (`None`: not configured yet).
pub fn apply(
    spec: &ProviderSpec,
    current: Option<&Current>,
    mut body: Map<String, Value>,
    mode: WriteMode,
    outbound: &OutboundPolicy,
) -> Result<Outcome, Vec<FieldError>> {
    let empty = Current::default();
    let existing = current.unwrap_or(&empty);
    let mut errors = Vec::new();
    let enabled = read_enabled(body.remove("enabled"), mode, current, &mut errors);
    let mut settings = base_settings(spec, existing, mode);
    let mut secret_changes = BTreeMap::new();
    for (name, value) in body {
        let field = match writable_field(spec, &name) {
            Ok(field) => field,
            Err(error) => {
                errors.push(error);
                continue;
            }
        };
        let applied = if field.secret {
            apply_secret(field, value, &mut secret_changes)
        } else {
            apply_setting(field, value, mode, outbound, &mut settings)
        };
        errors.extend(applied.err());
    }
    fill_defaults(spec, &mut settings);
    let view = Candidate {
        settings: &settings,
        current: &existing.secrets,
        changes: &secret_changes,
    };
    if enabled {
        check_completeness(spec, &view, &mut errors);
    }
    check_rules(spec, &view, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    let changed = changed_fields(spec, current, enabled, &settings, &secret_changes);
    // Setting a secret to the value it already has changes nothing.
    secret_changes.retain(|name, change| match change {
        SecretChange::Set(value) => existing.secrets.get(*name) != Some(value),
        SecretChange::Clear => existing.secrets.contains_key(*name),
    });
    Ok(Outcome {
        enabled,
        settings,
        secret_changes,
        changed,
    })
}

/// `enabled` as written, or kept (PATCH), or true.
fn read_enabled(
    value: Option<Value>,
    mode: WriteMode,
    current: Option<&Current>,
    errors: &mut Vec<FieldError>,
) -> bool {
    match value {
        None => match (mode, current) {
            (WriteMode::Patch, Some(current)) => current.enabled,
            _ => true,
        },
        Some(Value::Bool(enabled)) => enabled,
        Some(_) => {
            errors.push(FieldError::new(
                "enabled",
                "invalid_type",
                "enabled must be true or false",
            ));
            true
        }
    }
}

/// The settings a write starts from: PATCH keeps everything; PUT replaces what callers
/// write, and keeps what renkei or a link action wrote.
fn base_settings(spec: &ProviderSpec, existing: &Current, mode: WriteMode) -> Map<String, Value> {
    match mode {
        WriteMode::Patch => existing.settings.clone(),
        WriteMode::Put => existing
            .settings
            .iter()
            .filter(|(name, _)| !spec.field(name).is_some_and(|f| f.is_writable()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

/// The declared field `name`, if callers may write it.
fn writable_field(spec: &ProviderSpec, name: &str) -> Result<&'static Field, FieldError> {
    let Some(field) = spec.field(name) else {
        return Err(if META_FIELDS.contains(&name) {
            FieldError::new(name, "read_only", format!("{name} is read-only"))
        } else {
            FieldError::new(
                name,
                "unknown_field",
                format!("unknown field '{name}'; {} takes: {}", spec.slug, writable_names(spec)),
            )
        });
    };
    let why = match field.access {
        Access::Writable => return Ok(field),
        Access::Constant(value) => format!("always {value}"),
        Access::Computed => "set by renkei".to_string(),
        Access::Linked => format!("set by POST /api/v1/provider-accounts/{}/link", spec.slug),
    };
    Err(FieldError::new(
        name,
        "read_only",
        format!("{} is read-only: {why}", field.name),
    ))
}

/// A secret set (a string) or cleared (null).
fn apply_secret(
    field: &'static Field,
    value: Value,
    changes: &mut BTreeMap<&'static str, SecretChange>,
) -> Result<(), FieldError> {
    if value.is_null() {
        changes.insert(field.name, SecretChange::Clear);
        return Ok(());
    }
    match formats::parse(field, field.name, &value)? {
        Value::String(text) => {
            changes.insert(field.name, SecretChange::Set(Secret::new(text)));
            Ok(())
        }
        _ => Err(FieldError::new(
            field.name,
            "invalid_type",
            format!("{} must be a string", field.name),
        )),
    }
}

/// A setting written (nested objects merge on PATCH), or removed by null. A URL renkei
/// will call must be one the outbound policy allows.
fn apply_setting(
    field: &Field,
    value: Value,
    mode: WriteMode,
    outbound: &OutboundPolicy,
    settings: &mut Map<String, Value>,
) -> Result<(), FieldError> {
    let merged = match (mode, settings.get(field.name), &value) {
        (WriteMode::Patch, Some(old @ Value::Object(_)), Value::Object(_)) => merge_patch(old.clone(), value),
        _ => value,
    };
    if merged.is_null() {
        settings.remove(field.name);
    } else {
        let value = formats::parse(field, field.name, &merged)?;
        settings.insert(field.name.to_string(), formats::check_outbound(field, value, outbound)?);
    }
    Ok(())
}

/// Declared defaults for writable settings left unset.
fn fill_defaults(spec: &ProviderSpec, settings: &mut Map<String, Value>) {
    for field in spec.fields.iter().filter(|f| f.is_writable() && !f.secret) {
        if !settings.contains_key(field.name)
            && let Some(default) = field.default.value()
        {
            settings.insert(field.name.to_string(), default);
        }
    }
}

/// Whether `name` (or a part of it) has failed already: one error per field.
fn failed(errors: &[FieldError], name: &str) -> bool {
    errors
        .iter()
        .any(|e| e.field == name || e.field.starts_with(&format!("{name}.")))
}

/// An enabled account needs every field that is not optional (bools have defaults).
fn check_completeness(spec: &ProviderSpec, view: &Candidate<'_>, errors: &mut Vec<FieldError>) {
    for field in spec.fields.iter() {
        let needed = !field.optional && matches!(field.access, Access::Writable | Access::Linked);
        if !needed || view.is_present(field.name) || failed(errors, field.name) || is_bool_field(field) {
            continue;
        }
        let message = if field.access == Access::Linked {
            format!(
                "{} is missing: link the account first (POST /api/v1/provider-accounts/{}/link)",
                field.name, spec.slug
            )
        } else {
            format!(
                "{} is required while the account is enabled (save with enabled: false to keep a draft)",
                field.name
            )
        };
        errors.push(FieldError::new(field.name, "required", message));
    }
}

/// The provider's rules across fields, for fields that have not failed already.
fn check_rules(spec: &ProviderSpec, view: &Candidate<'_>, errors: &mut Vec<FieldError>) {
    for rule in spec.rules {
        match rule {
            Rule::Requires { when, needs } if view.flag(when) => {
                for need in needs.iter() {
                    if view.is_present(need) || failed(errors, need) {
                        continue;
                    }
                    let what = if spec.field(need).is_some_and(is_bool_field) {
                        "must be true"
                    } else {
                        "is required"
                    };
                    errors.push(FieldError::new(
                        *need,
                        "required",
                        format!("{need} {what} when {when} is true"),
                    ));
                }
            }
            Rule::Requires { .. } => {}
            Rule::Check(check) => {
                let mut found = Vec::new();
                check(view, &mut found);
                let fresh: Vec<FieldError> = found.into_iter().filter(|e| !failed(errors, &e.field)).collect();
                errors.extend(fresh);
            }
        }
    }
}

/// The names of the fields whose value the write changes (for the audit log).
fn changed_fields(
    spec: &ProviderSpec,
    current: Option<&Current>,
    enabled: bool,
    settings: &Map<String, Value>,
    secret_changes: &BTreeMap<&'static str, SecretChange>,
) -> Vec<String> {
    let empty = Current::default();
    let existing = current.unwrap_or(&empty);
    let mut changed = Vec::new();
    if current.is_none_or(|c| c.enabled != enabled) {
        changed.push("enabled".to_string());
    }
    for field in spec.fields.iter() {
        let differs = if field.secret {
            match secret_changes.get(field.name) {
                Some(SecretChange::Set(value)) => existing.secrets.get(field.name) != Some(value),
                Some(SecretChange::Clear) => existing.secrets.contains_key(field.name),
                None => false,
            }
        } else {
            existing.settings.get(field.name) != settings.get(field.name)
        };
        if differs {
            changed.push(field.name.to_string());
        }
    }
    changed
}

fn is_bool_field(field: &Field) -> bool {
    matches!(field.kind, super::spec::Kind::Bool)
}

fn writable_names(spec: &ProviderSpec) -> String {
    let mut names: Vec<&str> = vec!["enabled"];
    names.extend(spec.fields.iter().filter(|f| f.is_writable()).map(|f| f.name));
    names.join(", ")
}

/// RFC 7396: `patch` merged into `target`.
pub fn merge_patch(target: Value, patch: Value) -> Value {
    match patch {
        Value::Object(patch) => {
            let mut target = match target {
                Value::Object(map) => map,
                _ => Map::new(),
            };
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(&key);
                } else {
                    let old = target.remove(&key).unwrap_or(Value::Null);
                    target.insert(key, merge_patch(old, value));
                }
            }
            Value::Object(target)
        }
        other => other,
    }
}
