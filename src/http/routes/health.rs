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
        .content_type(crate::metrics::CONTENT_TYPE)
        .body(encode_metrics(&state).await))
}

/// The registry's text, after setting the gauges read at scrape time.
async fn encode_metrics(state: &AppState) -> String {
    use crate::{metrics::StateLabel, screening::oplux::breaker::State};
    let gauges = &state.metrics.scrape;
    // Circuits are per shop and endpoint: counted, never labelled by either.
    let states = state.oplux.breaker.states();
    let count = |wanted: State| states.iter().filter(|s| **s == wanted).count() as i64;
    for (state, wanted) in [("open", State::Open), ("half_open", State::HalfOpen)] {
        gauges
            .breaker_circuits
            .get_or_create(&StateLabel { state })
            .set(count(wanted));
    }
    // Saturation of the database pool: in use close to max means requests wait for a
    // connection (see RENKEI_DATABASE_MAX_CONNECTIONS).
    let pool = crate::store::pool_usage(&state.db);
    let in_use = pool.open.saturating_sub(pool.idle);
    for (state, connections) in [("in_use", in_use), ("idle", pool.idle), ("max", pool.max)] {
        gauges
            .pool_connections
            .get_or_create(&StateLabel { state })
            .set(connections.into());
    }
    if !crate::store::is_postgres(&state.db) {
        gauges
            .sqlite_memory
            .get_or_create(&crate::metrics::NoLabels {})
            .set(crate::store::sqlite_memory_used());
    }
    read_reviews(state).await;
    state.metrics.encode()
}

/// The review queue across shops (never labelled by shop): open reviews per automatic
/// result, and how long the oldest has waited. One small query (as many index entries as
/// open reviews), bounded in time; its samples are left out when the database does not
/// answer.
async fn read_reviews(state: &AppState) {
    use crate::metrics::{NoLabels, ResultLabel};
    let gauges = &state.metrics.scrape;
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        store::reviews::open_per_result(&state.db),
    );
    let Ok(Ok(open)) = read.await else {
        gauges.reviews_open.clear();
        gauges.review_oldest_age.clear();
        return;
    };
    for result in ["HOLD", "REVIEW", "NG"] {
        let reviews = open
            .iter()
            .filter(|o| o.result.as_deref() == Some(result))
            .map(|o| o.reviews)
            .sum::<i64>();
        gauges.reviews_open.get_or_create(&ResultLabel { result }).set(reviews);
    }
    let oldest = open.iter().filter_map(|o| o.oldest).min();
    let age = oldest.map_or(0, |at| (chrono::Utc::now() - at).num_seconds().max(0));
    gauges.review_oldest_age.get_or_create(&NoLabels {}).set(age);
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
