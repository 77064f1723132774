//! Every endpoint, one module per area. `configure` registers them all; the OpenAPI
//! document is collected from the same registration, so it cannot miss a route.

pub mod audit_events;
pub mod health;
pub mod provider_accounts;
pub mod token;

use actix_web::web;
use utoipa_actix_web::{scope, service_config::ServiceConfig};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(health::metrics)
        .service(
            scope::scope("/api/v1")
                .service(token::issue_token)
                .service(audit_events::list_audit_events)
                .service(provider_accounts::list_provider_accounts)
                // One set of handlers for every provider; documented per provider by
                // `accounts::schema`.
                .map(|scope| {
                    scope.service(
                        web::resource("/provider-accounts/{provider}")
                            .route(web::get().to(provider_accounts::get_account))
                            .route(web::put().to(provider_accounts::put_account))
                            .route(web::patch().to(provider_accounts::patch_account))
                            .route(web::delete().to(provider_accounts::delete_account))
                            .default_service(web::to(crate::http::openapi::no_route)),
                    )
                }),
        );
}
