//! `/api/v1/webhook-endpoints`: where the shop's events are sent, and what became of
//! each delivery.

use actix_web::{HttpResponse, delete, get, http::header, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    auth::ScopeSet,
    events::EventType,
    http::{
        auth::{Authenticated, scope},
        conditional::IfMatch,
        extract::{ApiJson, ApiQuery},
        openapi::problems,
        pagination,
        problem::ApiError,
        state::AppState,
    },
    store::webhooks::EndpointRow,
    webhooks::{
        WebhookEndpoint, WebhookEndpointInput, WebhookEndpointPatch,
        service::{WebhookDelivery, WebhookEndpointWithSecret, etag},
    },
};

pagination::page_query!(WebhookEndpointQuery {});
pagination::page!(WebhookEndpointPage of WebhookEndpoint);
pagination::page_query!(DeliveryQuery {});
pagination::page!(WebhookDeliveryPage of WebhookDelivery);

/// The endpoint as the caller may see it: its subscriptions to events the caller may
/// not read are left out.
fn view(row: &EndpointRow, scopes: ScopeSet) -> WebhookEndpoint {
    let mut endpoint = WebhookEndpoint::from_row(row);
    endpoint.events.retain(|kind| kind.readable_with(scopes));
    endpoint
}

/// Subscribing to events the caller may not read is forbidden.
fn check_subscribable(events: Option<&[EventType]>, scopes: ScopeSet) -> Result<(), ApiError> {
    let hidden: Vec<String> = events
        .unwrap_or_default()
        .iter()
        .filter_map(|kind| {
            let scope = kind.read_scope().filter(|scope| !scopes.contains(*scope))?;
            Some(format!("{} needs {scope}", kind.as_str()))
        })
        .collect();
    if hidden.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "events: the token may not subscribe to events it cannot read ({})",
            hidden.join(", ")
        )))
    }
}

fn endpoint_response(row: &EndpointRow, scopes: ScopeSet) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::ETAG, etag(row)))
        .json(view(row, scopes))
}

/// The endpoint with its new secret: never cached.
fn with_secret(
    mut response: actix_web::HttpResponseBuilder,
    row: &EndpointRow,
    secret: String,
    scopes: ScopeSet,
) -> HttpResponse {
    response
        .insert_header((header::ETAG, etag(row)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(WebhookEndpointWithSecret {
            endpoint: view(row, scopes),
            secret,
        })
}

/// Create a webhook endpoint. The answer holds its signing secret, shown only this once.
/// Subscribing to `screening.*` events needs `screenings:read` too, to
/// `provider_account.*` events `accounts:read` (403 otherwise).
#[utoipa::path(
    tag = "webhooks",
    request_body = WebhookEndpointInput,
    security(("bearer" = ["webhooks:write"])),
    responses(
        (status = 201, description = "Created, with its secret", body = WebhookEndpointWithSecret,
            headers(("ETag" = String, description = "Entity tag"), ("Location" = String, description = "The endpoint's URL"))),
        problems::Secured,
        problems::JsonBody,
    )
)]
#[post("/webhook-endpoints")]
pub async fn create_webhook_endpoint(
    caller: Authenticated<scope::WebhooksWrite>,
    body: ApiJson<WebhookEndpointInput>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    check_subscribable(Some(&body.0.events), caller.scopes)?;
    let (row, secret) = state.webhooks().create(&caller.actor(&state), body.0).await?;
    let mut response = HttpResponse::Created();
    response.insert_header((header::LOCATION, format!("/api/v1/webhook-endpoints/{}", row.public_id)));
    Ok(with_secret(response, &row, secret.expose().clone(), caller.scopes))
}

/// List the shop's webhook endpoints, oldest first.
#[utoipa::path(
    tag = "webhooks",
    params(WebhookEndpointQuery),
    security(("bearer" = ["webhooks:read"])),
    responses(
        (status = 200, description = "A page of endpoints", body = WebhookEndpointPage),
        problems::Secured,
        problems::Invalid,
    )
)]
#[get("/webhook-endpoints")]
pub async fn list_webhook_endpoints(
    caller: Authenticated<scope::WebhooksRead>,
    query: ApiQuery<WebhookEndpointQuery>,
    state: web::Data<AppState>,
) -> Result<web::Json<WebhookEndpointPage>, ApiError> {
    let limit = pagination::limit(query.limit)?;
    let after = pagination::id_cursor(query.cursor.as_deref())?;
    let rows = state.webhooks().list(&caller.shop_id, after, limit + 1).await?;
    let (rows, next_cursor) = pagination::finish(rows, limit, |e| e.id.to_string());
    Ok(web::Json(WebhookEndpointPage {
        items: rows.iter().map(|row| view(row, caller.scopes)).collect(),
        next_cursor,
    }))
}

/// Read a webhook endpoint (never its secret).
#[utoipa::path(
    tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint's id (we_…)")),
    security(("bearer" = ["webhooks:read"])),
    responses(
        (status = 200, description = "The endpoint", body = WebhookEndpoint, headers(("ETag" = String, description = "Entity tag"))),
        problems::Secured,
        problems::NotFound,
    )
)]
#[get("/webhook-endpoints/{id}")]
pub async fn get_webhook_endpoint(
    caller: Authenticated<scope::WebhooksRead>,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let row = state.webhooks().get(&caller.shop_id, &id).await?;
    Ok(endpoint_response(&row, caller.scopes))
}

/// Change a webhook endpoint (JSON Merge Patch). `enabled: true` enables a disabled
/// endpoint again, and its pending deliveries go out. Subscribing to events needs the
/// scope that reads them (see create).
#[utoipa::path(
    tag = "webhooks",
    params(
        ("id" = String, Path, description = "The endpoint's id (we_…)"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "Apply only if the endpoint's ETag is one of these (or *)"),
    ),
    request_body(content((WebhookEndpointPatch = "application/merge-patch+json"), (WebhookEndpointPatch = "application/json"))),
    security(("bearer" = ["webhooks:write"])),
    responses(
        (status = 200, description = "Changed", body = WebhookEndpoint, headers(("ETag" = String, description = "Entity tag"))),
        problems::Secured,
        problems::NotFound,
        problems::Conditional,
        problems::JsonBody,
    )
)]
#[patch("/webhook-endpoints/{id}")]
pub async fn patch_webhook_endpoint(
    caller: Authenticated<scope::WebhooksWrite>,
    id: web::Path<String>,
    if_match: IfMatch,
    body: ApiJson<WebhookEndpointPatch>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    check_subscribable(body.0.events.as_deref(), caller.scopes)?;
    let row = state
        .webhooks()
        .patch(&caller.actor(&state), &id, body.0, &if_match.0)
        .await?;
    Ok(endpoint_response(&row, caller.scopes))
}

/// Delete a webhook endpoint and its delivery log.
#[utoipa::path(
    tag = "webhooks",
    params(
        ("id" = String, Path, description = "The endpoint's id (we_…)"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "Apply only if the endpoint's ETag is one of these (or *)"),
    ),
    security(("bearer" = ["webhooks:write"])),
    responses(
        (status = 204, description = "Deleted"),
        problems::Secured,
        problems::NotFound,
        problems::Conditional,
    )
)]
#[delete("/webhook-endpoints/{id}")]
pub async fn delete_webhook_endpoint(
    caller: Authenticated<scope::WebhooksWrite>,
    id: web::Path<String>,
    if_match: IfMatch,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    state.webhooks().delete(&caller.actor(&state), &id, &if_match.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Issue a new signing secret, shown only this once. Every secret issued in the last
/// 24 hours keeps signing beside it (one `v1=` each in `Renkei-Signature`, one `v1,…`
/// each in `webhook-signature`).
#[utoipa::path(
    tag = "webhooks",
    params(
        ("id" = String, Path, description = "The endpoint's id (we_…)"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "Apply only if the endpoint's ETag is one of these (or *)"),
    ),
    security(("bearer" = ["webhooks:write"])),
    responses(
        (status = 200, description = "The endpoint with its new secret", body = WebhookEndpointWithSecret,
            headers(("ETag" = String, description = "Entity tag"))),
        problems::Secured,
        problems::NotFound,
        problems::Conditional,
    )
)]
#[post("/webhook-endpoints/{id}/rotate-secret")]
pub async fn rotate_webhook_secret(
    caller: Authenticated<scope::WebhooksWrite>,
    id: web::Path<String>,
    if_match: IfMatch,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (row, secret) = state
        .webhooks()
        .rotate_secret(&caller.actor(&state), &id, &if_match.0)
        .await?;
    Ok(with_secret(
        HttpResponse::Ok(),
        &row,
        secret.expose().clone(),
        caller.scopes,
    ))
}

/// The endpoint's deliveries, newest first, each with its attempts.
#[utoipa::path(
    tag = "webhooks",
    params(
        ("id" = String, Path, description = "The endpoint's id (we_…)"),
        DeliveryQuery,
    ),
    security(("bearer" = ["webhooks:read"])),
    responses(
        (status = 200, description = "A page of deliveries", body = WebhookDeliveryPage),
        problems::Secured,
        problems::NotFound,
        problems::Invalid,
    )
)]
#[get("/webhook-endpoints/{id}/deliveries")]
pub async fn list_webhook_deliveries(
    caller: Authenticated<scope::WebhooksRead>,
    id: web::Path<String>,
    query: ApiQuery<DeliveryQuery>,
    state: web::Data<AppState>,
) -> Result<web::Json<WebhookDeliveryPage>, ApiError> {
    let limit = pagination::limit(query.limit)?;
    let before = pagination::id_cursor(query.cursor.as_deref())?;
    let rows = state
        .webhooks()
        .deliveries(&caller.shop_id, &id, before, limit + 1)
        .await?;
    let (rows, next_cursor) = pagination::finish(rows, limit, |(id, _)| id.to_string());
    Ok(web::Json(WebhookDeliveryPage {
        items: rows.into_iter().map(|(_, delivery)| delivery).collect(),
        next_cursor,
    }))
}

/// What to recover.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"since": "2026-11-23T00:00:00Z"}))]
pub struct RecoverInput {
    /// Recover the events created at or after this instant (RFC 3339).
    pub since: DateTime<Utc>,
}

/// The deliveries a recovery queued.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"count": 12}))]
pub struct Recovery {
    /// How many events were queued again (one new delivery each).
    pub count: u64,
}

/// Send again every event created since `since` whose delivery to this endpoint failed:
/// one new delivery each (at most 10,000 per call). Limited per shop with redeliver:
/// past the limit, 429 with `Retry-After`.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = String, Path, description = "The endpoint's id (we_…)")),
    request_body = RecoverInput,
    security(("bearer" = ["webhooks:write"])),
    responses(
        (status = 202, description = "Queued", body = Recovery),
        problems::Secured,
        problems::NotFound,
        problems::JsonBody,
        problems::TooManyRequests,
    )
)]
#[post("/webhook-endpoints/{id}/recover")]
pub async fn recover_webhook_endpoint(
    caller: Authenticated<scope::WebhooksWrite>,
    id: web::Path<String>,
    body: ApiJson<RecoverInput>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    state.take_webhook_request(&caller.shop_id)?;
    let count = state.webhooks().recover(&caller.actor(&state), &id, body.since).await?;
    Ok(HttpResponse::Accepted().json(Recovery { count }))
}
