//! Liveness, readiness and metrics: unauthenticated, for orchestrators and Prometheus.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    http::{openapi::problems, state::AppState},
    store,
};

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `ready`.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "The process is up", body = Health))
)]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// The service can answer requests: its database is reachable.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Health),
        problems::Unavailable,
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, crate::http::problem::ApiError> {
    let reachable = tokio::time::timeout(std::time::Duration::from_secs(2), store::ping(&state.db))
        .await
        .unwrap_or(false);
    if reachable {
        Ok(HttpResponse::Ok().json(Health { status: "ready" }))
    } else {
        Err(crate::http::problem::ApiError::Unavailable(
            "the database is unreachable".into(),
        ))
    }
}

/// Prometheus metrics: request counts and latency histograms by route and status.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format", body = String, content_type = "text/plain; version=0.0.4"))
)]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(render_metrics(&state))
}

fn render_metrics(state: &AppState) -> String {
    use crate::screening::oplux::breaker::State;
    let mut text = state.metrics.render();
    let breakers: Vec<(String, f64)> = state
        .oplux
        .breaker
        .states()
        .into_iter()
        .map(|(endpoint, s)| {
            let value = match s {
                State::Closed => 0.0,
                State::HalfOpen => 0.5,
                State::Open => 1.0,
            };
            (endpoint, value)
        })
        .collect();
    crate::metrics::render_gauge(
        &mut text,
        "renkei_oplux_breaker_open",
        "O-PLUX circuit breaker per endpoint: 0 closed, 0.5 half-open (trial), 1 open.",
        "endpoint",
        &breakers,
    );
    text
}
