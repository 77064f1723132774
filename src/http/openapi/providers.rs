//! How provider accounts are described: the shape of an account operation and of an
//! action (registered by `routes::provider_routes`), each operation's document, and the
//! schemas made from the declarations: `<Name>Account` (responses) and
//! `<Name>AccountInput` (PUT and PATCH bodies), and the shapes they share by `$ref`.

use serde_json::{Map, Value, json};
use utoipa::openapi::{RefOr, schema::Schema};

use super::problems;
use crate::accounts::{
    ALL,
    form::{self, nullable, value_schema},
    spec::{Access, Category, Field, Kind, ProviderSpec},
};

pub const EXAMPLE_TIME: &str = "2026-11-23T10:00:00Z";

/// An operation on every provider's account: registered once for `{provider}`,
/// documented once per provider.
pub struct AccountOperation {
    pub method: &'static str,
    pub route: fn() -> actix_web::Route,
    pub document: fn(&ProviderSpec) -> Value,
}

/// An action on one provider's account, at its own path under `/provider-accounts/`.
pub struct ActionOperation {
    pub path: &'static str,
    pub method: &'static str,
    pub route: fn() -> actix_web::Route,
    pub document: fn() -> Value,
}

/// The schemas of the provider accounts, made from the declarations: the shared shapes,
/// `<Name>Account` and `<Name>AccountInput` per provider, and `CheckoutPaymentMethod`
/// (replacing the derived schema: the public parameters come from the declarations).
pub fn provider_schemas() -> Vec<(String, Value)> {
    let mut schemas: Vec<(String, Value)> = shared_schemas()
        .into_iter()
        .map(|(name, schema)| (name.to_string(), schema))
        .collect();
    for spec in ALL.iter() {
        schemas.push((format!("{}Account", spec.schema_name), account_schema(spec)));
        schemas.push((format!("{}AccountInput", spec.schema_name), input_schema(spec)));
    }
    schemas.push(("CheckoutPaymentMethod".into(), checkout_method_schema()));
    schemas
}

/// A provider's slug, as a parameter's type (`#/components/schemas/ProviderSlug`).
pub struct ProviderSlug;

impl utoipa::PartialSchema for ProviderSlug {
    fn schema() -> RefOr<Schema> {
        let slugs: Vec<&str> = ALL.iter().map(|spec| spec.slug).collect();
        serde_json::from_value(
            json!({"type": "string", "enum": slugs, "description": "A provider: the path segment of its account."}),
        )
        .expect("a valid schema")
    }
}

impl utoipa::ToSchema for ProviderSlug {}

/// `ProviderSlug`, for a derived schema's field.
pub fn provider_slug_ref() -> utoipa::openapi::Ref {
    utoipa::openapi::Ref::from_schema_name("ProviderSlug")
}

/// `Category`, for a derived schema's field.
pub fn category_ref() -> utoipa::openapi::Ref {
    utoipa::openapi::Ref::from_schema_name("Category")
}

/// `Mode` or null, for a derived schema's field.
pub fn nullable_mode_ref() -> Schema {
    serde_json::from_value(json!({"anyOf": [schema_ref("Mode"), {"type": "null"}]})).expect("a valid schema")
}

/// `$ref` to a component schema.
pub fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// The documented error responses with these statuses.
pub fn problem_responses(responses: &mut Map<String, Value>, statuses: &[u16]) {
    for status in statuses {
        let response = serde_json::to_value(problems::response(*status)).unwrap_or_default();
        responses.insert(status.to_string(), response);
    }
}

/// A provider account operation: its tag, security and the errors of `statuses`.
pub fn account_operation(
    scope: &str,
    operation_id: String,
    summary: String,
    description: &str,
    mut responses: Map<String, Value>,
    statuses: &[u16],
) -> Value {
    let mut all = vec![401, 403];
    all.extend_from_slice(statuses);
    all.sort_unstable();
    all.dedup();
    problem_responses(&mut responses, &all);
    json!({
        "tags": ["provider-accounts"],
        "summary": summary,
        "description": description,
        "operationId": operation_id,
        "security": [{"bearer": [scope]}],
        "responses": responses,
    })
}

/// The 200 answer of an operation that returns the account.
pub fn account_ok(spec_schema_name: &str, description: &str) -> Value {
    json!({
        "description": description,
        "headers": {"ETag": etag_header()},
        "content": {"application/json": {"schema": schema_ref(&format!("{spec_schema_name}Account"))}}
    })
}

fn etag_header() -> Value {
    json!({"description": "The account's entity tag, for If-Match", "schema": {"type": "string"}})
}

fn if_match() -> Value {
    json!({
        "name": "If-Match", "in": "header", "required": false,
        "description": "Apply only if the account's ETag is one of these (or * for any existing account).",
        "schema": {"type": "string"}
    })
}

fn snake(spec: &ProviderSpec) -> String {
    spec.slug.replace('-', "_")
}

pub fn get_account(spec: &ProviderSpec) -> Value {
    let mut responses = Map::new();
    responses.insert(
        "200".into(),
        account_ok(spec.schema_name, "The account; secrets show only whether they are set"),
    );
    account_operation(
        "accounts:read",
        format!("get_{}_account", snake(spec)),
        format!("Read the {} account", spec.display_name),
        spec.summary,
        responses,
        &[404],
    )
}

pub fn get_account_form(spec: &ProviderSpec) -> Value {
    let mut responses = Map::new();
    responses.insert(
        "200".into(),
        json!({
            "description": "The form for editing the account: its schema, uiSchema, current values (never a secret) and ETag",
            "headers": {"ETag": etag_header()},
            "content": {"application/json": {"schema": schema_ref("AccountForm")}}
        }),
    );
    account_operation(
        "accounts:read",
        format!("get_{}_account_form", snake(spec)),
        format!("The form for editing the {} account", spec.display_name),
        "fields_schema (JSON Schema 2020-12) and ui_schema (react-jsonschema-form) of a PUT body for this shop's saved account, with form_data holding its current values and the etag to send as If-Match. A secret already stored is not required: left empty, PUT keeps it. What validates against fields_schema is accepted by PUT with that If-Match, except rules across accounts.",
        responses,
        &[404],
    )
}

fn input_body(spec: &ProviderSpec, content_types: &[&str]) -> Value {
    let input = schema_ref(&format!("{}AccountInput", spec.schema_name));
    let content: Map<String, Value> = content_types
        .iter()
        .map(|t| (t.to_string(), json!({"schema": input})))
        .collect();
    json!({"required": true, "content": content})
}

pub fn put_account(spec: &ProviderSpec) -> Value {
    let mut responses = Map::new();
    responses.insert("200".into(), account_ok(spec.schema_name, "Settings replaced"));
    let mut created = account_ok(spec.schema_name, "Account created");
    created["headers"]["Location"] = json!({"description": "The account's URL", "schema": {"type": "string"}});
    responses.insert("201".into(), created);
    let mut operation = account_operation(
        "accounts:write",
        format!("put_{}_account", snake(spec)),
        format!("Create or replace the {} account", spec.display_name),
        "Omitted secrets keep their stored value; null clears a secret. An incomplete account can be saved only with enabled: false.",
        responses,
        &[400, 409, 412, 413, 415, 422],
    );
    operation["parameters"] = json!([if_match()]);
    operation["requestBody"] = input_body(spec, &["application/json"]);
    operation
}

pub fn patch_account(spec: &ProviderSpec) -> Value {
    let mut responses = Map::new();
    responses.insert("200".into(), account_ok(spec.schema_name, "Settings merged"));
    let mut operation = account_operation(
        "accounts:write",
        format!("patch_{}_account", snake(spec)),
        format!("Change some settings of the {} account", spec.display_name),
        "JSON Merge Patch (RFC 7396): present fields are set, null clears, omitted fields are kept.",
        responses,
        &[400, 404, 409, 412, 413, 415, 422],
    );
    operation["parameters"] = json!([if_match()]);
    operation["requestBody"] = input_body(spec, &["application/merge-patch+json", "application/json"]);
    operation
}

pub fn delete_account(spec: &ProviderSpec) -> Value {
    let mut responses = Map::new();
    responses.insert("204".into(), json!({"description": "Deleted"}));
    let mut operation = account_operation(
        "accounts:write",
        format!("delete_{}_account", snake(spec)),
        format!("Delete the {} account and its secrets", spec.display_name),
        "Deletes the settings and every secret of the account.",
        responses,
        &[400, 404, 409, 412],
    );
    operation["parameters"] = json!([if_match()]);
    operation
}

/// The provider whose account is filled by its link action (Amazon Pay v2).
fn linked_provider() -> &'static ProviderSpec {
    ALL.iter()
        .copied()
        .find(|spec| spec.fields.iter().any(|f| f.access == Access::Linked))
        .expect("a provider is filled by a link action")
}

fn shared_schemas() -> Vec<(&'static str, Value)> {
    let categories: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
    let mut result_action = form::result_action_schema();
    result_action["description"] =
        "What checkout does for an O-PLUX result: create the order, or redirect the buyer (redirect_url required)."
            .into();
    result_action["example"] = json!({"action": "redirect", "redirect_url": "https://shop.example.jp/orders/review"});
    // The schema names and titles stay ASCII (client generators make class names of
    // them); the Japanese labels are in the form descriptors.
    if let Some(action) = result_action.pointer_mut("/properties/action") {
        *action = json!({"type": "string", "enum": ["create_order", "redirect"]});
    }
    if let Some(url) = result_action.pointer_mut("/properties/redirect_url")
        && let Some(object) = url.as_object_mut()
    {
        object.remove("title");
    }
    vec![
        (
            "ProviderSlug",
            serde_json::to_value(<ProviderSlug as utoipa::PartialSchema>::schema()).unwrap_or_default(),
        ),
        (
            "Category",
            json!({"type": "string", "enum": categories, "description": "What a provider is for."}),
        ),
        (
            "Mode",
            json!({"type": "string", "enum": ["test", "live"], "description": "Whether an account is a test or a live one, where its settings tell."}),
        ),
        (
            "SecretStatus",
            json!({
                "type": "object",
                "description": "A write-only secret: whether it is set and when. Its value is never returned.",
                "properties": {
                    "set": {"type": "boolean"},
                    "updated_at": {"type": ["string", "null"], "format": "date-time"}
                },
                "required": ["set", "updated_at"],
                "example": {"set": true, "updated_at": EXAMPLE_TIME}
            }),
        ),
        (
            "CertificateInfo",
            json!({
                "type": "object",
                "description": "What is shown of an uploaded X.509 certificate.",
                "properties": {
                    "subject": {"type": "string"},
                    "issuer": {"type": "string"},
                    "not_after": {"type": "string", "format": "date-time"},
                    "fingerprint_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}
                },
                "required": ["subject", "issuer", "not_after", "fingerprint_sha256"]
            }),
        ),
        ("AmazonPayLink", amazon_pay_link_schema()),
        (
            "AccountForm",
            json!({
                "type": "object",
                "description": "A form for editing a saved account.",
                "properties": {
                    "fields_schema": {"type": "object", "additionalProperties": true, "description": "JSON Schema 2020-12 of the PUT body, as in GET /api/v1/providers/{provider}, with secrets already stored not required."},
                    "ui_schema": {"type": "object", "additionalProperties": true, "description": "react-jsonschema-form's uiSchema: ui:order, ui:widget password for secrets, titles of nested fields."},
                    "form_data": {"type": "object", "additionalProperties": true, "description": "The account's current values (every writable setting; never a secret)."},
                    "etag": {"type": "string", "description": "The account's ETag, for If-Match on PUT."}
                },
                "required": ["fields_schema", "ui_schema", "form_data", "etag"],
                "additionalProperties": false
            }),
        ),
        ("ResultAction", result_action),
    ]
}

/// A method in the checkout configuration: its identity and the public parameters of
/// its provider (every field declared `public`, by name; a checkout device's under its
/// own key).
fn checkout_method_schema() -> Value {
    let mut properties = Map::new();
    properties.insert("code".into(), json!({"type": "string"}));
    properties.insert("kind".into(), schema_ref("Kind"));
    properties.insert("provider".into(), nullable(schema_ref("ProviderSlug")));
    properties.insert("display_name".into(), json!({"type": "string"}));
    let mut device = Map::new();
    let mut device_name = "";
    for spec in ALL.iter() {
        for field in spec.fields.iter().filter(|f| f.public && !f.secret) {
            let schema = describe(field, value_schema(field));
            if spec.category == Category::CheckoutDevice {
                device_name = spec.display_name;
                device.insert(field.name.into(), schema);
            } else {
                properties.entry(field.name.to_string()).or_insert(schema);
            }
        }
    }
    properties.insert(
        "remise_tenkey".into(),
        json!({
            "type": "object",
            "description": format!("{device_name}, on the credit card method when the pad is enabled."),
            "properties": device
        }),
    );
    properties.insert("carriers".into(), schema_ref("Carriers"));
    json!({
        "type": "object",
        "description": "A payment method as a checkout page sees it, with its provider's public parameters (present when set).",
        "properties": properties,
        "required": ["code", "kind", "provider", "display_name"],
        "additionalProperties": false
    })
}

/// The body of the link action: the linked fields, as declared.
fn amazon_pay_link_schema() -> Value {
    let spec = linked_provider();
    let linked: Vec<&Field> = spec.fields.iter().filter(|f| f.access == Access::Linked).collect();
    let properties: Map<String, Value> = linked
        .iter()
        .map(|f| {
            let mut schema = describe(f, value_schema(f));
            if f.secret {
                schema["writeOnly"] = Value::Bool(true);
            }
            (f.name.to_string(), schema)
        })
        .collect();
    let required: Vec<&str> = linked.iter().map(|f| f.name).collect();
    json!({
        "type": "object",
        "description": "The credentials Amazon hands over when the shop registers or links its account.",
        "properties": properties,
        "required": required,
        "additionalProperties": false
    })
}

/// The field's label (Japanese, from the seed) and help in its description.
fn describe(field: &Field, mut schema: Value) -> Value {
    let help = form::help(field);
    let text = if help.is_empty() {
        field.label.to_string()
    } else {
        format!("{} — {help}", field.label)
    };
    // JSON Schema 2020-12 (OpenAPI 3.1) allows a description beside $ref.
    if let Some(object) = schema.as_object_mut() {
        object.insert("description".into(), Value::from(text));
    }
    schema
}

/// A field's value in a document schema: fixed choices by `$ref` where shared, and no
/// labels as titles (they are not ASCII).
fn document_value_schema(field: &Field) -> Value {
    match field.kind {
        Kind::ResultAction => schema_ref("ResultAction"),
        Kind::OneOf(values) => {
            let mut schema = json!({"type": "string", "enum": values});
            if let Some(example) = field.example.and_then(|e| serde_json::from_str::<Value>(e).ok()) {
                schema["examples"] = json!([example]);
            }
            schema
        }
        _ => value_schema(field),
    }
}

fn response_property(field: &Field) -> Value {
    let schema = if field.secret {
        schema_ref("SecretStatus")
    } else if matches!(field.kind, Kind::Certificate) {
        nullable(schema_ref("CertificateInfo"))
    } else if let Access::Constant(value) = field.access {
        json!({"type": "string", "const": value})
    } else if matches!(field.kind, Kind::Bool) {
        document_value_schema(field)
    } else {
        nullable(document_value_schema(field))
    };
    let mut schema = describe(field, schema);
    if !matches!(field.access, Access::Writable) {
        schema["readOnly"] = Value::Bool(true);
    }
    schema
}

fn account_schema(spec: &ProviderSpec) -> Value {
    let mut properties = Map::new();
    properties.insert("provider".into(), json!({"type": "string", "const": spec.slug}));
    properties.insert(
        "display_name".into(),
        json!({"type": "string", "const": spec.display_name}),
    );
    properties.insert("category".into(), schema_ref("Category"));
    properties.insert("configured".into(), json!({"type": "boolean", "const": true}));
    properties.insert(
        "enabled".into(),
        json!({"type": "boolean", "description": "Whether the account is in use; an incomplete account can only be saved disabled."}),
    );
    properties.insert(
        "mode".into(),
        json!({"anyOf": [schema_ref("Mode"), {"type": "null"}], "description": "test or live, where the settings tell."}),
    );
    let mut example = Map::new();
    example.insert("provider".into(), spec.slug.into());
    example.insert("display_name".into(), spec.display_name.into());
    example.insert("category".into(), spec.category.as_str().into());
    example.insert("configured".into(), true.into());
    example.insert("enabled".into(), true.into());
    example.insert("mode".into(), Value::Null);
    for field in spec.fields {
        properties.insert(field.name.into(), response_property(field));
        let value = if field.secret {
            json!({"set": true, "updated_at": EXAMPLE_TIME})
        } else if let Access::Constant(value) = field.access {
            Value::from(value)
        } else {
            field
                .example
                .and_then(|e| serde_json::from_str(e).ok())
                .unwrap_or(Value::Null)
        };
        example.insert(field.name.into(), value);
    }
    properties.insert("created_at".into(), json!({"type": "string", "format": "date-time"}));
    properties.insert("updated_at".into(), json!({"type": "string", "format": "date-time"}));
    properties.insert(
        "warnings".into(),
        json!({"type": "array", "items": schema_ref("AccountWarning"), "readOnly": true,
            "description": "Certificates of the account expired or expiring within RENKEI_CERT_WARNING_DAYS (empty when none)."}),
    );
    example.insert("created_at".into(), EXAMPLE_TIME.into());
    example.insert("updated_at".into(), EXAMPLE_TIME.into());
    example.insert("warnings".into(), json!([]));
    let required: Vec<&String> = properties.keys().collect();
    json!({
        "type": "object",
        "title": format!("{}Account", spec.schema_name),
        "description": format!("{} ({}): {}", spec.display_name, spec.slug, spec.summary),
        "properties": properties,
        "required": required,
        "example": example,
    })
}

fn input_schema(spec: &ProviderSpec) -> Value {
    let mut properties = Map::new();
    properties.insert(
        "enabled".into(),
        json!({"type": "boolean", "description": "Default true. With true, every required field must be present."}),
    );
    let mut example = Map::new();
    example.insert("enabled".into(), true.into());
    for field in spec.fields.iter().filter(|f| f.is_writable()) {
        let mut schema = describe(field, nullable(document_value_schema(field)));
        if field.secret {
            schema["writeOnly"] = Value::Bool(true);
        }
        properties.insert(field.name.into(), schema);
        if let Some(value) = field.example.and_then(|e| serde_json::from_str::<Value>(e).ok()) {
            example.insert(field.name.into(), value);
        }
    }
    json!({
        "type": "object",
        "title": format!("{}AccountInput", spec.schema_name),
        "description": format!(
            "Settings of the {} account. PUT replaces them (omitted secrets are kept); PATCH merges them (JSON Merge Patch: null clears). Unknown and read-only fields are refused. GET /api/v1/providers/{} describes them as a form.",
            spec.display_name, spec.slug
        ),
        "properties": properties,
        "additionalProperties": false,
        "example": example,
    })
}
