//! The outermost middleware: request ids, the access log, metrics, and the guarantee that
//! every error body is problem+json (whatever produced it).

use std::time::Instant;

use actix_web::{
    Error, HttpMessage,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::header::{self, HeaderName, HeaderValue},
    middleware::Next,
    web,
};
use tracing::Instrument;

use super::{
    problem::{PROBLEM_JSON, for_status},
    state::AppState,
};
use crate::crypto::{random::hex, random_bytes};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id, in the request extensions for handlers and the audit log.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_acceptable_request_id(v))
        .map_or_else(|| hex(&random_bytes::<16>()), str::to_string);
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let method = req.method().to_string();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let span = tracing::info_span!("request", request_id = %request_id, method = %method);

    // Handler errors arrive here as responses already; an `Err` can only come from a
    // middleware inside this one, and actix renders it.
    let response = next.call(req).instrument(span.clone()).await?.map_into_boxed_body();
    let mut response = ensure_problem_body(response);
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }

    let status = response.status().as_u16();
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_string());
    let elapsed = started.elapsed();
    if let Some(state) = state {
        state
            .metrics
            .http_requests
            .observe(&[&method, &route, &status.to_string()], elapsed.as_secs_f64());
    }
    span.in_scope(|| {
        tracing::info!(
            route = %route,
            path = %response.request().path(),
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request completed"
        );
    });
    Ok(response)
}

/// Request ids from callers are echoed only when they are short and plain.
fn is_acceptable_request_id(value: &str) -> bool {
    (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/'))
}

/// Replaces a non-problem error body (from actix itself) with problem+json for its status.
fn ensure_problem_body(response: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    response.map_body(|head, _| {
        head.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        head.headers_mut().remove(header::CONTENT_LENGTH);
        BoxBody::new(for_status(status).to_json())
    })
}
