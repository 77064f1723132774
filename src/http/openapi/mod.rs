//! The OpenAPI 3.1 document: collected from the registered routes (`http::document`),
//! committed as `openapi/openapi.json` (a test fails while the two differ), served from
//! that committed copy at `/openapi.json`, and used to answer 405s.

pub mod problems;
pub mod providers;

use actix_web::{App, HttpRequest, HttpResponse, http::Method, web};
use serde_json::{Value, json};
use utoipa::{
    Modify, OpenApi,
    openapi::{
        self,
        security::{ClientCredentials, Flow, Http, HttpAuthScheme, OAuth2, Scopes, SecurityScheme},
    },
};
use utoipa_actix_web::AppExt;

use super::problem::{ApiError, FieldError, Problem};
use crate::{
    auth::scopes::Scope,
    payment_methods::{Kind, providers_of},
    screening::{
        request::{MAX_ITEMS, MAX_YEN},
        review::UPDATE_FIELDS,
    },
};

/// Where a token comes from, for the `oauth2` scheme (relative to the server).
pub const TOKEN_URL: &str = "/api/v1/auth/token";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "renkei",
        description = "Integration accounts, payment methods and O-PLUX fraud screening for Japanese e-commerce shops.\n\n\
            Get a token with `POST /api/v1/auth/token` (client credentials) and send it as `Authorization: Bearer <token>`. \
            Errors are `application/problem+json` (RFC 9457); lists are cursor-paginated.",
        license(name = "Proprietary", identifier = "LicenseRef-Proprietary"),
    ),
    servers((url = "/", description = "The server that serves this document")),
    components(schemas(Problem, FieldError)),
    modifiers(&SecurityAddon),
    tags(
        (name = "auth", description = "Access tokens for API clients"),
        (name = "audit", description = "Who changed what"),
        (name = "events", description = "What happened in the shop, and its delivery to webhook endpoints"),
        (name = "webhooks", description = "Where renkei sends the shop's events, signed"),
        (name = "providers", description = "Form descriptors of the providers' accounts, for the admin screen"),
        (name = "provider-accounts", description = "The shop's accounts with payment, deferred-payment, mail and fraud-detection providers: one typed resource per provider"),
        (name = "fraud-screenings", description = "Screening checkout orders with O-PLUX"),
        (name = "reviews", description = "The shop's review queue: HOLD and REVIEW orders decided by staff, and O-PLUX told"),
        (name = "payment-methods", description = "What the shop offers at checkout, and the checkout configuration"),
        (name = "product-data-feed", description = "Products of the shop's Facebook catalog feed"),
        (name = "public", description = "Files served without a token at unguessable URLs"),
        (name = "operations", description = "Health, readiness, metrics and this document"),
    )
)]
struct ApiDoc;

struct SecurityAddon;

impl Modify for SecurityAddon {
    fn modify(&self, openapi: &mut openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.bearer_format = Some("JWT".into());
        bearer.description = Some(
            "An access token from POST /api/v1/auth/token; the scopes listed on an operation are the ones it needs."
                .into(),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        let scopes = Scopes::from_iter(Scope::ALL.map(|scope| (scope.as_str(), scope_description(scope))));
        let oauth2 = OAuth2::with_description(
            [Flow::ClientCredentials(ClientCredentials::new(TOKEN_URL, scopes))],
            "Client credentials of an API client (renkei clients create); the token endpoint takes them as HTTP Basic (what Swagger UI's Authorize sends), as JSON or as a form.",
        );
        components.add_security_scheme("oauth2", SecurityScheme::OAuth2(oauth2));
        let mut basic = Http::new(HttpAuthScheme::Basic);
        basic.description = Some(
            "Client authentication at the token endpoint only (RFC 6749 §2.3.1): the client_id as user name and the client_secret as password, each form-urlencoded."
                .into(),
        );
        components.add_security_scheme("client_basic", SecurityScheme::Http(basic));
    }
}

fn scope_description(scope: Scope) -> &'static str {
    match scope.as_str() {
        "accounts:read" => "Read provider accounts and their form descriptors",
        "accounts:write" => "Change provider accounts",
        "payment-methods:read" => "Read payment methods and the checkout configuration",
        "payment-methods:write" => "Change payment methods",
        "screenings:write" => "Screen orders",
        "screenings:read" => "Read screenings",
        "audit:read" => "Read the audit log",
        "webhooks:read" => "Read the event log, webhook endpoints and their deliveries",
        "webhooks:write" => "Change webhook endpoints and redeliver events",
        _ => "A scope of renkei",
    }
}

/// A response body of bytes (an image, a CSV file): `{type: string, format: binary}`.
/// Use as `body = inline(Binary)`.
pub struct Binary;

impl utoipa::PartialSchema for Binary {
    fn schema() -> openapi::RefOr<openapi::schema::Schema> {
        openapi::schema::ObjectBuilder::new()
            .schema_type(openapi::schema::Type::String)
            .format(Some(openapi::schema::SchemaFormat::KnownFormat(
                openapi::schema::KnownFormat::Binary,
            )))
            .into()
    }
}

impl utoipa::ToSchema for Binary {}

/// The document of every route that `describe` registers (`http::document`), as JSON:
/// utoipa's schema objects carry no `const`, `not`, `if` or `then`, so the document
/// leaves utoipa before it is refined and stays JSON.
pub fn build(describe: impl FnOnce(&mut utoipa_actix_web::service_config::ServiceConfig)) -> Value {
    let (_, doc) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(describe)
        .split_for_parts();
    let mut json = serde_json::to_value(&doc).expect("the document serialises");
    declare_security(&mut json);
    refine(&mut json);
    refine_paths(&mut json);
    if let Some(schemas) = json.pointer_mut("/components/schemas") {
        allow_any_property(schemas);
    }
    if let Some(paths) = json.get_mut("paths") {
        allow_any_property(paths);
    }
    json
}

/// Makes derived schemas of the domains state what the server enforces where their
/// types are looser than the rule (a provider is a slug; a position has bounds…).
fn refine(doc: &mut Value) {
    let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) else {
        return;
    };
    // A payment method is always shown whole (absent values as null).
    if let Some(method) = schemas.get_mut("PaymentMethod")
        && let Some(names) = method
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().cloned().collect::<Vec<_>>())
    {
        method["required"] = json!(names);
    }
    let feed_input = |property: &str| {
        schemas
            .get("FeedItemInput")
            .and_then(|s| s.pointer(&format!("/properties/{property}")))
            .cloned()
    };
    let feed = [
        ("availability", feed_input("availability")),
        ("condition", feed_input("condition")),
    ];
    // The outbound policy takes only absolute http(s) URLs (and then judges the host).
    let webhook_urls: Vec<(&str, Value)> = ["WebhookEndpointInput", "WebhookEndpointPatch"]
        .into_iter()
        .filter_map(|schema| {
            let mut url = schemas.get(schema)?.pointer("/properties/url")?.clone();
            url["pattern"] = json!(crate::accounts::formats::url_pattern(false));
            Some((schema, url))
        })
        .collect();
    let mut set = |schema: &str, property: &str, refined: Value| {
        if let Some(slot) = schemas
            .get_mut(schema)
            .and_then(|s| s.pointer_mut(&format!("/properties/{property}")))
        {
            let description = slot.get("description").cloned();
            *slot = refined;
            if let Some(description) = description {
                slot["description"] = description;
            }
        }
    };
    let provider = json!({"anyOf": [{"$ref": "#/components/schemas/ProviderSlug"}, {"type": "null"}]});
    for schema in [
        "PaymentMethodInput",
        "PaymentMethodCreate",
        "PaymentMethodPatch",
        "PaymentMethod",
    ] {
        set(schema, "provider", provider.clone());
    }
    for schema in ["PaymentMethodInput", "PaymentMethodCreate", "PaymentMethodPatch"] {
        set(
            schema,
            "position",
            json!({"type": ["integer", "null"], "minimum": 0, "maximum": 100_000}),
        );
        set(
            schema,
            "display_name",
            json!({"type": "string", "minLength": 1, "maxLength": 100}),
        );
    }
    let order_number = "^[A-Za-z0-9_-]{1,64}$";
    set(
        "ScreeningRequest",
        "order_number",
        json!({"type": "string", "pattern": order_number}),
    );
    set(
        "ThanksOffer",
        "parent_order_number",
        json!({"type": ["string", "null"], "pattern": order_number}),
    );
    set("Health", "status", json!({"type": "string", "enum": ["ok", "ready"]}));
    // The bounds the screening request's shape check enforces.
    let yen = json!({"type": "integer", "minimum": 0, "maximum": MAX_YEN});
    set("ScreeningRequest", "amount", yen.clone());
    set("Item", "price", yen);
    set(
        "ScreeningRequest",
        "items",
        json!({"type": "array", "items": {"$ref": "#/components/schemas/Item"}, "minItems": 1, "maxItems": MAX_ITEMS}),
    );
    for (schema, url) in webhook_urls {
        set(schema, "url", url);
    }
    set(
        "TokenResponse",
        "token_type",
        json!({"type": "string", "const": "Bearer"}),
    );
    for (property, input) in feed {
        if let Some(input) = input {
            set("FeedItemView", property, input);
        }
    }
    // Rules across the fields of one body, beside the properties (the body stays one
    // object type for generated clients, which ignore `if`/`then` and `not`). POST and
    // PUT check their body alone, so the provider must fit the kind given; a PATCH merges
    // with the stored method, so its body is held to the rule only when it sends both.
    for (schema, sent) in [
        ("PaymentMethodCreate", &["kind"][..]),
        ("PaymentMethodInput", &["kind"][..]),
        ("PaymentMethodPatch", &["kind", "provider"][..]),
    ] {
        if let Some(body) = schemas.get_mut(schema) {
            body["allOf"] = provider_fits_kind(sent);
        }
    }
    if let Some(update) = schemas.get_mut("UpdateRequest") {
        update["not"] = all_null_or_absent(&UPDATE_FIELDS);
    }
}

/// `payment_methods::rules`' provider rule as one `if kind … then provider …` per kind,
/// for a body that sends the fields `sent` (`kind` among them): the provider is one of
/// `providers_of(kind)`, required; for a kind without providers, null or absent.
fn provider_fits_kind(sent: &[&str]) -> Value {
    Kind::ALL
        .into_iter()
        .map(|kind| {
            let providers = providers_of(kind);
            let then = if providers.is_empty() {
                json!({"properties": {"provider": {"type": "null"}}})
            } else {
                json!({"properties": {"provider": {"enum": providers}}, "required": ["provider"]})
            };
            // Each field the `if` requires is among its properties (Redocly's rule).
            let mut properties: serde_json::Map<String, Value> =
                sent.iter().map(|field| (field.to_string(), json!({}))).collect();
            properties.insert("kind".into(), json!({"const": kind.as_str()}));
            json!({"if": {"properties": properties, "required": sent}, "then": then})
        })
        .collect()
}

/// A body where each of `fields` is null or absent: under `not`, at least one is set.
fn all_null_or_absent(fields: &[&str]) -> Value {
    let properties: serde_json::Map<String, Value> = fields
        .iter()
        .map(|field| (field.to_string(), json!({"type": "null"})))
        .collect();
    json!({"properties": properties})
}

/// Path parameters as the server checks them: a payment method's `code`.
fn refine_paths(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        if !path.starts_with("/api/v1/payment-methods/{code}") {
            continue;
        }
        for operation in item.as_object_mut().into_iter().flat_map(|o| o.values_mut()) {
            let Some(parameters) = operation.get_mut("parameters").and_then(Value::as_array_mut) else {
                continue;
            };
            for parameter in parameters {
                if parameter["name"] == "code" && parameter["in"] == "path" {
                    parameter["schema"] = json!({"type": "string", "pattern": PAYMENT_METHOD_CODE_PATTERN});
                }
            }
        }
    }
}

/// `payment_methods::rules::is_valid_code` as a pattern.
pub const PAYMENT_METHOD_CODE_PATTERN: &str = "^[a-z0-9][a-z0-9_-]{0,63}$";

/// A free-form object (`{"type": "object"}` with no properties) allows any property, so
/// that typed clients read `unknown` values, not `never`. Examples are left as they are.
fn allow_any_property(value: &mut Value) {
    match value {
        Value::Object(object) => {
            let free_form = object.get("type").and_then(Value::as_str) == Some("object")
                && [
                    "properties",
                    "additionalProperties",
                    "patternProperties",
                    "$ref",
                    "allOf",
                    "oneOf",
                    "anyOf",
                ]
                .iter()
                .all(|key| !object.contains_key(*key));
            if free_form {
                object.insert("additionalProperties".into(), Value::Bool(true));
            }
            for (key, child) in object.iter_mut() {
                if key != "example" && key != "examples" {
                    allow_any_property(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(allow_any_property),
        _ => {}
    }
}

/// Every operation with a bearer scope also takes an `oauth2` token of that scope; the
/// token endpoint keeps its own (optional HTTP Basic client authentication); every other
/// operation is public and says so (`security: []`).
fn declare_security(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for operation in item.values_mut().filter_map(Value::as_object_mut) {
            let scopes = operation.get("security").and_then(|s| s.pointer("/0/bearer")).cloned();
            let client_authentication = operation
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(|s| s.iter().any(|r| r.get("client_basic").is_some()));
            let security = match scopes {
                Some(scopes) => json!([{"bearer": scopes}, {"oauth2": scopes}]),
                None if client_authentication => json!([{}, {"client_basic": []}]),
                None => json!([]),
            };
            operation.insert("security".into(), security);
        }
    }
}

/// The document as served and committed: pretty JSON with a final newline.
pub fn document_json(doc: &Value) -> String {
    let mut json = serde_json::to_string_pretty(doc).unwrap_or_default();
    json.push('\n');
    json
}

/// The committed document, built into the binary: what `/openapi.json` serves. A
/// replica does not build the document when it starts (building it takes tens of
/// megabytes that the allocator keeps); a test proves it equals `http::document()`.
pub const COMMITTED: &str = include_str!("../../../openapi/openapi.json");

/// What `/openapi.json` serves, with the route table 405 answers are made from.
pub struct ServedDocument {
    pub json: &'static str,
    routes: Vec<(Vec<Segment>, Vec<&'static str>)>,
}

enum Segment {
    Literal(String),
    Parameter,
}

/// The part of a document the route table needs: its paths and their methods.
#[derive(serde::Deserialize)]
struct PathsOnly {
    paths: std::collections::BTreeMap<String, MethodsOnly>,
}

#[derive(serde::Deserialize)]
struct MethodsOnly {
    get: Option<serde::de::IgnoredAny>,
    put: Option<serde::de::IgnoredAny>,
    post: Option<serde::de::IgnoredAny>,
    delete: Option<serde::de::IgnoredAny>,
    patch: Option<serde::de::IgnoredAny>,
}

impl ServedDocument {
    /// The committed document.
    pub fn committed() -> Self {
        Self::new(COMMITTED)
    }

    /// A document given as JSON text; without a readable `paths`, no route is known
    /// (every unmatched request is then a 404).
    pub fn new(json: &'static str) -> Self {
        let paths = match serde_json::from_str::<PathsOnly>(json) {
            Ok(doc) => doc.paths,
            Err(err) => {
                tracing::error!(error = %err, "the built-in OpenAPI document is unreadable; regenerate openapi/openapi.json");
                Default::default()
            }
        };
        let routes = paths
            .iter()
            .map(|(path, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("PUT", item.put.is_some()),
                    ("POST", item.post.is_some()),
                    ("DELETE", item.delete.is_some()),
                    ("PATCH", item.patch.is_some()),
                ]
                .into_iter()
                .filter_map(|(m, present)| present.then_some(m))
                .collect();
                (parse_template(path), methods)
            })
            .collect();
        Self { json, routes }
    }

    /// The methods documented for a concrete path, when some route has its shape.
    pub fn allowed_methods(&self, path: &str) -> Option<&[&'static str]> {
        let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        self.routes.iter().find_map(|(segments, methods)| {
            let matches = segments.len() == parts.len()
                && segments.iter().zip(&parts).all(|(segment, part)| match segment {
                    Segment::Literal(text) => text == part,
                    Segment::Parameter => !part.is_empty(),
                });
            matches.then_some(methods.as_slice())
        })
    }
}

fn parse_template(path: &str) -> Vec<Segment> {
    path.trim_end_matches('/')
        .split('/')
        .map(|part| {
            if part.starts_with('{') && part.ends_with('}') {
                Segment::Parameter
            } else {
                Segment::Literal(part.to_string())
            }
        })
        .collect()
}

pub async fn serve_document(doc: web::Data<ServedDocument>) -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(doc.json)
}

/// Every request no route took: 405 with `Allow` when the path exists, else 404.
pub async fn no_route(req: HttpRequest, doc: web::Data<ServedDocument>) -> Result<HttpResponse, ApiError> {
    Err(if req.method() == Method::OPTIONS {
        ApiError::NotFound(format!("no resource at {}", req.path()))
    } else {
        match doc.allowed_methods(req.path()) {
            Some(methods) if !methods.contains(&req.method().as_str()) => ApiError::MethodNotAllowed {
                method: req.method().to_string(),
                allow: methods.iter().map(|m| m.to_string()).collect(),
            },
            _ => ApiError::NotFound(format!("no resource at {}", req.path())),
        }
    })
}
