//! Every endpoint, one module per area. `configure` registers them all; the OpenAPI
//! document is collected from the same registration, so it cannot miss a route.

pub mod audit_events;
pub mod health;
pub mod token;

use utoipa_actix_web::{scope, service_config::ServiceConfig};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(health::metrics)
        .service(
            scope::scope("/api/v1")
                .service(token::issue_token)
                .service(audit_events::list_audit_events),
        );
}
