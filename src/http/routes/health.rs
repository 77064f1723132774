//! Liveness, readiness and metrics: unauthenticated, for orchestrators and Prometheus.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    http::{
        openapi::{self, ServedDocument, problems},
        state::AppState,
    },
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

/// Prometheus metrics: request counts and latency histograms by route and status, and
/// the review queue across shops (`renkei_reviews_open` by result,
/// `renkei_review_oldest_open_age_seconds`). When the operator sets
/// `RENKEI_METRICS_TOKEN`, it is required as a bearer token; in production without it,
/// `/metrics` is not served (404).
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text exposition format", body = String, content_type = "text/plain; version=0.0.4"),
        problems::Unauthorized,
        problems::NotFound,
    )
)]
#[get("/metrics")]
pub async fn metrics(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, crate::http::problem::ApiError> {
    if !state.metrics_served {
        // As any unknown path answers: production without a token has no metrics.
        return Err(crate::http::problem::ApiError::NotFound(
            "no resource at /metrics".into(),
        ));
    }
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
        .body(render_metrics(&state).await))
}

async fn render_metrics(state: &AppState) -> String {
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
    render_reviews(state, &mut text).await;
    text
}

/// The review queue across shops (never labelled by shop): open reviews per automatic
/// result, and how long the oldest has waited. One small query (as many index entries as
/// open reviews), bounded in time; left out when the database does not answer.
async fn render_reviews(state: &AppState, text: &mut String) {
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        store::reviews::open_per_result(&state.db),
    );
    let Ok(Ok(open)) = read.await else {
        return;
    };
    let series: Vec<(String, f64)> = ["HOLD", "REVIEW", "NG"]
        .iter()
        .map(|result| {
            let reviews = open
                .iter()
                .filter(|o| o.result.as_deref() == Some(*result))
                .map(|o| o.reviews)
                .sum::<i64>();
            (result.to_string(), reviews as f64)
        })
        .collect();
    crate::metrics::render_gauge(
        text,
        "renkei_reviews_open",
        "Reviews waiting for a shop's decision (the review queue), by automatic result; all shops.",
        "result",
        &series,
    );
    let oldest = open.iter().filter_map(|o| o.oldest).min();
    let age = oldest.map_or(0, |at| (chrono::Utc::now() - at).num_seconds().max(0));
    crate::metrics::render_value(
        text,
        "renkei_review_oldest_open_age_seconds",
        "How long the oldest open review of any shop has waited (0 when none is open).",
        age as f64,
    );
}

/// The OpenAPI 3.1 document of this API (what `openapi/openapi.json` holds).
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object),
        problems::BadRequest,
    )
)]
#[get("/openapi.json")]
pub async fn openapi_json(doc: web::Data<ServedDocument>) -> HttpResponse {
    openapi::serve_document(doc).await
}
