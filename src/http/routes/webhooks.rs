//! `/api/v1/webhook-endpoints`: where the shop's events are sent, and what became of
//! each delivery.

use actix_web::{HttpResponse, delete, get, http::header, patch, post, web};

use crate::{
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

fn endpoint_response(row: &EndpointRow) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::ETAG, etag(row)))
        .json(WebhookEndpoint::from_row(row))
}

/// The endpoint with its new secret: never cached.
fn with_secret(mut response: actix_web::HttpResponseBuilder, row: &EndpointRow, secret: String) -> HttpResponse {
    response
        .insert_header((header::ETAG, etag(row)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(WebhookEndpointWithSecret {
            endpoint: WebhookEndpoint::from_row(row),
            secret,
        })
}

/// Create a webhook endpoint. The answer holds its signing secret, shown only this once.
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
    let (row, secret) = state.webhooks().create(&caller.actor(&state), body.0).await?;
    let mut response = HttpResponse::Created();
    response.insert_header((header::LOCATION, format!("/api/v1/webhook-endpoints/{}", row.public_id)));
    Ok(with_secret(response, &row, secret.expose().clone()))
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
        items: rows.iter().map(WebhookEndpoint::from_row).collect(),
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
    Ok(endpoint_response(&row))
}

/// Change a webhook endpoint (JSON Merge Patch).
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
    let row = state
        .webhooks()
        .patch(&caller.actor(&state), &id, body.0, &if_match.0)
        .await?;
    Ok(endpoint_response(&row))
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

/// Issue a new signing secret, shown only this once. The previous secret keeps signing
/// beside it for 24 hours (two `v1=` in `Renkei-Signature`).
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
    Ok(with_secret(HttpResponse::Ok(), &row, secret.expose().clone()))
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
