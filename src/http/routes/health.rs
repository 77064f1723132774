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
    responses(
        (status = 200, description = "The process is up", body = Health),
        problems::BadRequest,
    )
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
        problems::BadRequest,
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

/// Prometheus metrics: request counts and latency histograms by route and status. When
/// the operator sets `RENKEI_METRICS_TOKEN`, it is required as a bearer token.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text exposition format", body = String, content_type = "text/plain; version=0.0.4"),
        problems::Unauthorized,
    )
)]
#[get("/metrics")]
pub async fn metrics(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, crate::http::problem::ApiError> {
    if let Some(expected) = &state.metrics_token {
        let sent = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        // Compared as digests: equal-length values, so the comparison tells nothing by time.
        let digest = |v: &str| ring::digest::digest(&ring::digest::SHA256, v.as_bytes());
        if digest(sent.trim()).as_ref() != digest(expected.expose()).as_ref() {
            return Err(crate::http::problem::ApiError::Unauthorized(
                "/metrics needs the metrics token (RENKEI_METRICS_TOKEN) as a bearer token".into(),
            ));
        }
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(render_metrics(&state)))
}

fn render_metrics(state: &AppState) -> String {
    use crate::screening::oplux::breaker::State;
    let mut text = state.metrics.render();
    // Circuits are per shop and endpoint: counted, never labelled by either.
    let states = state.oplux.breaker.states();
    let count = |wanted: State| states.iter().filter(|s| **s == wanted).count() as f64;
    crate::metrics::render_gauge(
        &mut text,
        "renkei_oplux_breaker_circuits",
        "O-PLUX circuit breakers (one per shop and endpoint) that are open or half-open (trial).",
        "state",
        &[
            ("open".to_string(), count(State::Open)),
            ("half_open".to_string(), count(State::HalfOpen)),
        ],
    );
    // Saturation of the database pool: in use close to max means requests wait for a
    // connection (see RENKEI_DATABASE_MAX_CONNECTIONS).
    let pool = crate::store::pool_usage(&state.db);
    crate::metrics::render_gauge(
        &mut text,
        "renkei_db_pool_connections",
        "Database pool connections: in use, idle, and the pool's maximum.",
        "state",
        &[
            ("in_use".to_string(), f64::from(pool.open.saturating_sub(pool.idle))),
            ("idle".to_string(), f64::from(pool.idle)),
            ("max".to_string(), f64::from(pool.max)),
        ],
    );
    crate::store::write::render_metrics(&mut text);
    crate::screening::writes::render_metrics(&mut text);
    text
}
