//! The outermost middleware: request ids, the access log, metrics, the body read deadline,
//! and the guarantee that every error body is problem+json (whatever produced it).

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use actix_web::{
    Error, HttpMessage,
    body::{BoxBody, MessageBody},
    dev::{Payload, ServiceRequest, ServiceResponse},
    error::PayloadError,
    http::header::{self, HeaderName, HeaderValue},
    middleware::Next,
    web,
};
use bytes::Bytes;
use futures_util::Stream;
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
    let method = method_label(req.method());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    if let Some(state) = &state
        && has_body(&req)
    {
        let mut req = req;
        let inner = req.take_payload();
        req.set_payload(Payload::Stream {
            payload: Box::pin(Deadline::new(inner, state.body_read_timeout)),
        });
        return finish(req, next, started, request_id, method, Some(state.clone())).await;
    }
    finish(req, next, started, request_id, method, state).await
}

async fn finish(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    started: Instant,
    request_id: String,
    method: &'static str,
    state: Option<web::Data<AppState>>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let span = tracing::info_span!("request", request_id = %request_id, method = %method);

    // Handler errors arrive here as responses already; an `Err` can only come from a
    // middleware inside this one, and actix renders it.
    let response = next.call(req).instrument(span.clone()).await?.map_into_boxed_body();
    let mut response = ensure_problem_body(response);
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    // Public files are served from here too: no response is ever sniffed into HTML.
    response
        .headers_mut()
        .insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));

    let status = response.status().as_u16();
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| UNMATCHED.to_string());
    let elapsed = started.elapsed();
    // Capability URLs carry their secret in the path, and an unmatched path may be one
    // mistyped: the log keeps the route pattern only for those.
    let path = if route != UNMATCHED && !route.contains("{token}") {
        response.request().path()
    } else {
        "-"
    };
    span.in_scope(|| {
        tracing::info!(
            route = %route,
            path,
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request completed"
        );
    });
    if let Some(state) = state {
        let labels = crate::metrics::HttpLabels { method, route, status };
        state.metrics.observe_request(labels, elapsed.as_secs_f64());
    }
    Ok(response)
}

const UNMATCHED: &str = "unmatched";

/// The method as a metrics label: the standard ones by name, anything else `OTHER`, so a
/// caller cannot mint label values.
fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "OTHER",
    }
}

fn has_body(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

/// A request body that must arrive within a deadline: past it, reading fails (and the
/// handler answers an error), so a client trickling bytes cannot hold a worker.
struct Deadline {
    inner: Payload,
    sleep: Pin<Box<tokio::time::Sleep>>,
    expired: bool,
}

impl Deadline {
    fn new(inner: Payload, limit: Duration) -> Self {
        Self {
            inner,
            sleep: Box::pin(tokio::time::sleep(limit)),
            expired: false,
        }
    }
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.expired {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Pending if this.sleep.as_mut().poll(cx).is_ready() => {
                this.expired = true;
                Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the request body did not arrive in time",
                )))))
            }
            other => other,
        }
    }
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
