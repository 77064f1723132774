//! The HTTP edge: routing, the auth extractor, errors, OpenAPI and observability.
//! Handlers are thin: parse, call the domain, map to a response.

pub mod auth;
pub mod conditional;
pub mod extract;
pub mod observe;
pub mod openapi;
pub mod pagination;
pub mod problem;
pub mod routes;
pub mod state;
pub mod wire;

use actix_cors::Cors;
use actix_web::{
    App, Error, HttpResponse,
    body::MessageBody,
    dev::{ServiceFactory, ServiceRequest, ServiceResponse},
    http::{Method, header},
    middleware::from_fn,
    web,
};
use utoipa_swagger_ui::{Config as SwaggerConfig, SwaggerUi};

use self::{openapi::ServedDocument, state::AppState};

/// The OpenAPI document of every route the server registers (`openapi/openapi.json`).
pub fn document() -> serde_json::Value {
    openapi::build(routes::describe)
}

/// The whole application, as each HTTP worker builds it.
pub fn app(
    state: web::Data<AppState>,
    document: web::Data<ServedDocument>,
    cors_origins: Vec<String>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(state)
        .app_data(document)
        .configure(routes::configure)
        .route(
            "/docs",
            web::get().to(|| async {
                HttpResponse::PermanentRedirect()
                    .insert_header((header::LOCATION, "/docs/"))
                    .finish()
            }),
        )
        .service(SwaggerUi::new("/docs/{_:.*}").config(SwaggerConfig::new(["/openapi.json"])))
        .default_service(web::to(openapi::no_route))
        .wrap(cors(&cors_origins))
        .wrap(from_fn(observe::observe))
}

fn cors(origins: &[String]) -> Cors {
    origins
        .iter()
        .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin))
        .allowed_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::ACCEPT,
            observe::REQUEST_ID,
        ])
        .expose_headers([header::ETAG, header::LOCATION, header::RETRY_AFTER, observe::REQUEST_ID])
        .max_age(3600)
}
