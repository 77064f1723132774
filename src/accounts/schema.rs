//! The OpenAPI description of every provider, generated from its declaration: a path
//! `/api/v1/provider-accounts/{slug}` with GET/PUT/PATCH/DELETE, and two named schemas,
//! `<Name>Account` (responses) and `<Name>AccountInput` (PUT and PATCH bodies).

use serde_json::{Map, Value, json};
use utoipa::openapi::{OpenApi, PathItem, RefOr, schema::Schema};

use super::{
    ALL,
    spec::{Access, Category, Field, Kind, ProviderSpec},
};

const EXAMPLE_TIME: &str = "2026-11-23T10:00:00Z";
/// An absolute URL as `formats::is_url` takes it: a host with a dot, `localhost` or an
/// IP address, an optional port, and no white space.
const HTTP_URL_PATTERN: &str =
    r"^https?://(localhost|\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)(:[0-9]{1,5})?([/?#]\S*)?$";
const HTTPS_URL_PATTERN: &str =
    r"^https://(localhost|\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)(:[0-9]{1,5})?([/?#]\S*)?$";

/// Adds the provider paths and schemas to `doc`.
pub fn add_to(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, schema) in shared_schemas() {
        insert_schema(components, name, schema);
    }
    for spec in ALL.iter() {
        insert_schema(
            components,
            &format!("{}Account", spec.schema_name),
            account_schema(spec),
        );
        insert_schema(
            components,
            &format!("{}AccountInput", spec.schema_name),
            input_schema(spec),
        );
        let item: PathItem = serde_json::from_value(path_item(spec)).expect("generated path items are valid OpenAPI");
        doc.paths
            .paths
            .insert(format!("/api/v1/provider-accounts/{}", spec.slug), item);
    }
    // Overrides the derived schema: the public parameters come from the declarations.
    insert_schema(components, "CheckoutPaymentMethod", checkout_method_schema());
    for (path, item) in action_paths() {
        let item: PathItem = serde_json::from_value(item).expect("generated path items are valid OpenAPI");
        doc.paths.paths.insert(path.to_string(), item);
    }
}

/// An action operation answering with the provider's account.
fn action(slug_schema: &str, operation_id: &str, summary: &str, description: &str, errors: &[(&str, &str)]) -> Value {
    let mut responses = Map::new();
    responses.insert(
        "200".into(),
        json!({
            "description": "The account after the action",
            "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{slug_schema}Account")}}}
        }),
    );
    responses.insert("401".into(), problem("Missing or invalid token"));
    responses.insert("403".into(), problem("The token lacks accounts:write"));
    responses.insert("409".into(), problem("Changed by another request at the same time"));
    for (status, text) in errors {
        responses.insert(status.to_string(), problem(text));
    }
    json!({
        "tags": ["provider-accounts"],
        "summary": summary,
        "description": description,
        "operationId": operation_id,
        "security": [{"bearer": ["accounts:write"]}],
        "responses": responses,
    })
}

fn action_paths() -> Vec<(&'static str, Value)> {
    let image = json!({"type": "string", "format": "binary"});
    let mut upload = action(
        "GmoPg",
        "upload_gmo_pg_epos_banner",
        "Upload the EPOS banner",
        "The request body is the image itself: PNG, JPEG or GIF (recognised by its content), at most 256 KiB. It is served from a public URL, shown as epos_banner_url.",
        &[
            ("404", "GMO PG is not configured"),
            ("413", "Image over 256 KiB"),
            ("422", "Not a PNG, JPEG or GIF image"),
        ],
    );
    upload["requestBody"] = json!({"required": true, "content": {
        "image/png": {"schema": image}, "image/jpeg": {"schema": image},
        "image/gif": {"schema": image}, "application/octet-stream": {"schema": image}
    }});
    let link_body = json!({"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AmazonPayLink"}}}});
    let mut amazon_link = action(
        "AmazonPayV2",
        "link_amazon_pay_v2",
        "Link the Amazon Pay (v2) account",
        "Stores the credentials from Amazon's account registration; creates the account (enabled) when new.",
        &[
            ("400", "Malformed JSON"),
            ("413", "Body over 1 MiB"),
            ("415", "Body is not JSON"),
            ("422", "Invalid fields"),
        ],
    );
    amazon_link["requestBody"] = link_body;
    vec![
        (
            "/api/v1/provider-accounts/gmo-pg/epos-banner",
            json!({
                "put": upload,
                "delete": action("GmoPg", "reset_gmo_pg_epos_banner", "Go back to the default EPOS banner", "Removes the uploaded banner.", &[("404", "GMO PG is not configured")]),
            }),
        ),
        (
            "/api/v1/provider-accounts/paypal/link",
            json!({
                "post": action("Paypal", "link_paypal", "Link the PayPal account", "Links the seller merchant id set on the account (link_status becomes linked).", &[("404", "PayPal is not configured"), ("422", "No seller_merchant_id is set")]),
                "delete": action("Paypal", "unlink_paypal", "Unlink the PayPal account", "Unlinks and deletes the seller merchant id; the account is disabled.", &[("404", "PayPal is not configured")]),
            }),
        ),
        (
            "/api/v1/provider-accounts/amazon-pay-v2/link",
            json!({
                "post": amazon_link,
                "delete": action("AmazonPayV2", "unlink_amazon_pay_v2", "Unlink the Amazon Pay (v2) account", "Removes the linked credentials; the account is disabled.", &[("404", "Amazon Pay (v2) is not configured")]),
            }),
        ),
        (
            "/api/v1/provider-accounts/product-data-feed/generate",
            json!({
                "post": action("ProductDataFeed", "generate_product_data_feed", "Generate the product data feed now", "Builds the Facebook catalog CSV from every feed item and publishes it at facebook_feed_url.", &[("404", "The product data feed is not configured")]),
            }),
        ),
        (
            "/api/v1/provider-accounts/product-data-feed/rotate-url",
            json!({
                "post": action("ProductDataFeed", "rotate_product_data_feed_url", "Issue a new product data feed URL", "Moves the feed to a new unguessable facebook_feed_url; the old URL answers 404 from now on. Use it when the URL has leaked.", &[("404", "The product data feed is not configured")]),
            }),
        ),
    ]
}

fn insert_schema(components: &mut utoipa::openapi::Components, name: &str, schema: Value) {
    let schema: RefOr<Schema> = serde_json::from_value(schema).expect("generated schemas are valid OpenAPI");
    components.schemas.insert(name.to_string(), schema);
}

fn shared_schemas() -> Vec<(&'static str, Value)> {
    vec![
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
            "ResultAction",
            json!({
                "type": "object",
                "description": "What checkout does for an O-PLUX result: create the order, or redirect the buyer (redirect_url required).",
                "properties": {
                    "action": {"type": "string", "enum": ["redirect", "create_order"]},
                    "redirect_url": {"type": ["string", "null"], "format": "uri"}
                },
                "required": ["action"],
                "additionalProperties": false,
                "example": {"action": "redirect", "redirect_url": "https://shop.example.jp/orders/review"}
            }),
        ),
    ]
}

/// A method in the checkout configuration: its identity and the public parameters of
/// its provider (every field declared `public`, by name).
fn checkout_method_schema() -> Value {
    let mut properties = Map::new();
    properties.insert("code".into(), json!({"type": "string"}));
    properties.insert("kind".into(), json!({"$ref": "#/components/schemas/Kind"}));
    properties.insert("provider".into(), json!({"type": ["string", "null"]}));
    properties.insert("display_name".into(), json!({"type": "string"}));
    let mut remise = Map::new();
    for spec in ALL.iter() {
        for field in spec.fields.iter().filter(|f| f.public && !f.secret) {
            let schema = describe(field, value_schema(field));
            if spec.slug == "remise-tenkey" {
                remise.insert(field.name.into(), schema);
            } else {
                properties.entry(field.name.to_string()).or_insert(schema);
            }
        }
    }
    properties.insert(
        "remise_tenkey".into(),
        json!({
            "type": "object",
            "description": "ルミーズテンキーパッド, on the credit card method when the pad is enabled.",
            "properties": remise
        }),
    );
    properties.insert("carriers".into(), json!({"$ref": "#/components/schemas/Carriers"}));
    json!({
        "type": "object",
        "description": "A payment method as a checkout page sees it, with its provider's public parameters (present when set).",
        "properties": properties,
        "required": ["code", "kind", "provider", "display_name"],
        "additionalProperties": false
    })
}

/// The body of the Amazon Pay v2 link: its linked fields, as declared.
fn amazon_pay_link_schema() -> Value {
    let spec = super::find("amazon-pay-v2").expect("amazon-pay-v2 is declared");
    let linked: Vec<&Field> = spec.fields.iter().filter(|f| f.access == Access::Linked).collect();
    let properties: Map<String, Value> = linked
        .iter()
        .map(|f| {
            let mut schema = value_schema(f);
            schema["description"] = Value::from(f.label);
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

/// The JSON Schema of a field's value (without null).
fn value_schema(field: &Field) -> Value {
    let mut schema = match field.kind {
        // One line: no control characters (the value is trimmed, and must not be empty).
        Kind::Text { max } => json!({
            "type": "string", "minLength": 1, "maxLength": max, "pattern": "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
        }),
        Kind::Pattern { regex, .. } => json!({"type": "string", "pattern": format!("^(?:{regex})$")}),
        Kind::Bool => json!({"type": "boolean"}),
        Kind::Integer { min, max } => json!({"type": "integer", "minimum": min, "maximum": max}),
        Kind::IpAddress => json!({
            "type": "string",
            "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}],
            "description": "An IPv4 or IPv6 address."
        }),
        Kind::Hostname => json!({"type": "string", "format": "hostname"}),
        Kind::Url { https_only } => json!({
            "type": "string", "format": "uri",
            "pattern": if https_only { HTTPS_URL_PATTERN } else { HTTP_URL_PATTERN }
        }),
        Kind::Uuid => json!({"type": "string", "format": "uuid"}),
        Kind::DnsLabel => json!({"type": "string", "pattern": "^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"}),
        Kind::OneOf(values) => json!({"type": "string", "enum": values}),
        Kind::Certificate | Kind::PrivateKey { .. } => {
            json!({"type": "string", "description": "PEM text (-----BEGIN …-----)."})
        }
        Kind::ResultAction => json!({"$ref": "#/components/schemas/ResultAction"}),
        Kind::OpluxEndpoint => json!({
            "type": "string",
            "description": "test, production, or the http(s) base URL of an O-PLUX stand-in."
        }),
    };
    if let (Some(object), Some(example)) = (
        schema.as_object_mut(),
        field.example.and_then(|e| serde_json::from_str::<Value>(e).ok()),
    ) && !object.contains_key("$ref")
    {
        object.insert("examples".into(), json!([example]));
    }
    schema
}

fn nullable(schema: Value) -> Value {
    match schema {
        Value::Object(mut object) if object.get("type").is_some_and(Value::is_string) => {
            let kind = object.remove("type").unwrap_or_default();
            object.insert("type".into(), json!([kind, "null"]));
            Value::Object(object)
        }
        other => json!({"oneOf": [other, {"type": "null"}]}),
    }
}

fn describe(field: &Field, mut schema: Value) -> Value {
    let mut text = field.label.to_string();
    if !field.description.is_empty() {
        text = format!("{} — {}", field.label, field.description);
    }
    match field.access {
        Access::Constant(_) => text.push_str(" Read-only: fixed by the provider."),
        Access::Computed => text.push_str(" Read-only: set by renkei."),
        Access::Linked => text.push_str(" Read-only: set by the link action."),
        Access::Writable => {}
    }
    // JSON Schema 2020-12 (OpenAPI 3.1) allows a description beside $ref.
    if let Some(object) = schema.as_object_mut() {
        object.insert("description".into(), Value::from(text));
    }
    schema
}

fn response_property(field: &Field) -> Value {
    let schema = if field.secret {
        json!({"$ref": "#/components/schemas/SecretStatus"})
    } else if matches!(field.kind, Kind::Certificate) {
        nullable(json!({"$ref": "#/components/schemas/CertificateInfo"}))
    } else if let Access::Constant(value) = field.access {
        json!({"type": "string", "const": value})
    } else if matches!(field.kind, Kind::Bool) {
        value_schema(field)
    } else {
        nullable(value_schema(field))
    };
    let mut schema = describe(field, schema);
    if !matches!(field.access, Access::Writable) {
        schema["readOnly"] = Value::Bool(true);
    }
    schema
}

fn account_schema(spec: &ProviderSpec) -> Value {
    let categories: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
    let mut properties = Map::new();
    properties.insert("provider".into(), json!({"type": "string", "const": spec.slug}));
    properties.insert(
        "display_name".into(),
        json!({"type": "string", "const": spec.display_name}),
    );
    properties.insert("category".into(), json!({"type": "string", "enum": categories}));
    properties.insert("configured".into(), json!({"type": "boolean", "const": true}));
    properties.insert(
        "enabled".into(),
        json!({"type": "boolean", "description": "Whether the account is in use; an incomplete account can only be saved disabled."}),
    );
    properties.insert(
        "mode".into(),
        json!({"type": ["string", "null"], "enum": ["test", "live", null], "description": "test or live, where the settings tell."}),
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
    example.insert("created_at".into(), EXAMPLE_TIME.into());
    example.insert("updated_at".into(), EXAMPLE_TIME.into());
    let required: Vec<&String> = properties.keys().collect();
    json!({
        "type": "object",
        "title": format!("{} account", spec.display_name),
        "description": spec.summary,
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
        let mut schema = describe(field, nullable(value_schema(field)));
        if field.secret {
            schema["writeOnly"] = Value::Bool(true);
            if let Some(text) = schema["description"].as_str() {
                schema["description"] = Value::from(format!(
                    "{text} Secret: write-only; omit to keep the stored value, null to clear it."
                ));
            }
        }
        properties.insert(field.name.into(), schema);
        if let Some(value) = field.example.and_then(|e| serde_json::from_str::<Value>(e).ok()) {
            example.insert(field.name.into(), value);
        }
    }
    json!({
        "type": "object",
        "title": format!("{} account settings", spec.display_name),
        "description": format!(
            "Settings of the {} account. PUT replaces them (omitted secrets are kept); PATCH merges them (JSON Merge Patch: null clears). Unknown and read-only fields are refused.",
            spec.display_name
        ),
        "properties": properties,
        "additionalProperties": false,
        "example": example,
    })
}

fn problem(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    })
}

fn path_item(spec: &ProviderSpec) -> Value {
    let account = json!({"$ref": format!("#/components/schemas/{}Account", spec.schema_name)});
    let input = json!({"$ref": format!("#/components/schemas/{}AccountInput", spec.schema_name)});
    let snake = spec.slug.replace('-', "_");
    let name = spec.display_name;
    let etag = json!({"ETag": {"description": "The account's entity tag, for If-Match", "schema": {"type": "string"}}});
    let if_match = json!({
        "name": "If-Match", "in": "header", "required": false,
        "description": "Apply only if the account's ETag is one of these (or * for any existing account).",
        "schema": {"type": "string"}
    });
    let read = json!([{"bearer": ["accounts:read"]}]);
    let write = json!([{"bearer": ["accounts:write"]}]);
    let ok = |description: &str| json!({"description": description, "headers": etag, "content": {"application/json": {"schema": account}}});
    let body_errors = |responses: &mut Map<String, Value>| {
        responses.insert("400".into(), problem("Malformed JSON or If-Match"));
        responses.insert("401".into(), problem("Missing or invalid token"));
        responses.insert("403".into(), problem("The token lacks accounts:write"));
        responses.insert("409".into(), problem("Changed by another request at the same time"));
        responses.insert("412".into(), problem("If-Match does not match the account's ETag"));
        responses.insert("413".into(), problem("Body over 1 MiB"));
        responses.insert("415".into(), problem("Body is not JSON"));
        responses.insert("422".into(), problem("Invalid fields: every failing field is listed"));
    };
    let mut put_responses = Map::new();
    put_responses.insert("200".into(), ok("Settings replaced"));
    put_responses.insert(
        "201".into(),
        json!({
            "description": "Account created",
            "headers": {
                "ETag": etag["ETag"],
                "Location": {"description": "The account's URL", "schema": {"type": "string"}}
            },
            "content": {"application/json": {"schema": account}}
        }),
    );
    body_errors(&mut put_responses);
    let mut patch_responses = Map::new();
    patch_responses.insert("200".into(), ok("Settings merged"));
    body_errors(&mut patch_responses);
    patch_responses.insert("404".into(), problem("The account is not configured"));
    json!({
        "get": {
            "tags": ["provider-accounts"],
            "summary": format!("Read the {name} account"),
            "description": spec.summary,
            "operationId": format!("get_{snake}_account"),
            "security": read,
            "responses": {
                "200": ok("The account; secrets show only whether they are set"),
                "401": problem("Missing or invalid token"),
                "403": problem("The token lacks accounts:read"),
                "404": problem("The account is not configured")
            }
        },
        "put": {
            "tags": ["provider-accounts"],
            "summary": format!("Create or replace the {name} account"),
            "description": "Omitted secrets keep their stored value; null clears a secret. An incomplete account can be saved only with enabled: false.",
            "operationId": format!("put_{snake}_account"),
            "security": write,
            "parameters": [if_match],
            "requestBody": {"required": true, "content": {"application/json": {"schema": input}}},
            "responses": put_responses
        },
        "patch": {
            "tags": ["provider-accounts"],
            "summary": format!("Change some settings of the {name} account"),
            "description": "JSON Merge Patch (RFC 7396): present fields are set, null clears, omitted fields are kept.",
            "operationId": format!("patch_{snake}_account"),
            "security": write,
            "parameters": [if_match],
            "requestBody": {"required": true, "content": {
                "application/merge-patch+json": {"schema": input},
                "application/json": {"schema": input}
            }},
            "responses": patch_responses
        },
        "delete": {
            "tags": ["provider-accounts"],
            "summary": format!("Delete the {name} account and its secrets"),
            "operationId": format!("delete_{snake}_account"),
            "security": write,
            "parameters": [if_match],
            "responses": {
                "204": {"description": "Deleted"},
                "400": problem("Malformed If-Match"),
                "401": problem("Missing or invalid token"),
                "403": problem("The token lacks accounts:write"),
                "404": problem("The account is not configured"),
                "409": problem("In use, or changed by another request at the same time"),
                "412": problem("If-Match does not match the account's ETag")
            }
        }
    })
}
