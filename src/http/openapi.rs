//! The OpenAPI 3.1 document: collected from the registered routes, served at
//! `/openapi.json`, committed as `openapi/openapi.json`, and used to answer 405s.

use actix_web::{App, HttpRequest, HttpResponse, http::Method, web};
use utoipa::{
    Modify, OpenApi,
    openapi::{
        self,
        security::{Http, HttpAuthScheme, SecurityScheme},
    },
};
use utoipa_actix_web::AppExt;

use super::{problem::ApiError, routes};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "renkei",
        description = "Integration accounts, payment methods and O-PLUX fraud screening for Japanese e-commerce shops.\n\n\
            Get a token with `POST /api/v1/auth/token` (client credentials) and send it as `Authorization: Bearer <token>`. \
            Errors are `application/problem+json` (RFC 9457); lists are cursor-paginated.",
        license(name = "Proprietary", identifier = "LicenseRef-Proprietary"),
    ),
    modifiers(&SecurityAddon),
    tags(
        (name = "auth", description = "Access tokens for API clients"),
        (name = "audit", description = "Who changed what"),
        (name = "provider-accounts", description = "The shop's accounts with payment, deferred-payment, mail and fraud-detection providers: one typed resource per provider"),
        (name = "fraud-screenings", description = "Screening checkout orders with O-PLUX"),
        (name = "payment-methods", description = "What the shop offers at checkout, and the checkout configuration"),
        (name = "product-data-feed", description = "Products of the shop's Facebook catalog feed"),
        (name = "public", description = "Files served without a token at unguessable URLs"),
        (name = "operations", description = "Health, readiness and metrics"),
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
    }
}

/// The document for every registered route.
pub fn document() -> openapi::OpenApi {
    let (_, doc) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes::configure)
        .split_for_parts();
    let mut doc = doc;
    crate::accounts::schema::add_to(&mut doc);
    doc
}

/// The document as served and committed: pretty JSON with a final newline.
pub fn document_json(doc: &openapi::OpenApi) -> String {
    let mut json = doc.to_pretty_json().unwrap_or_default();
    json.push('\n');
    json
}

/// What `/openapi.json` serves, prepared once.
pub struct ServedDocument {
    pub json: String,
    routes: Vec<(Vec<Segment>, Vec<&'static str>)>,
}

enum Segment {
    Literal(String),
    Parameter,
}

impl ServedDocument {
    pub fn new(doc: &openapi::OpenApi) -> Self {
        let routes = doc
            .paths
            .paths
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
        Self {
            json: document_json(doc),
            routes,
        }
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
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.json.clone())
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
