//! `GET /api/v1/events`: the shop's event log, newest first; and
//! `POST /api/v1/events/{id}/redeliver`.

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    events::{Event, EventType},
    http::{
        auth::{Authenticated, scope},
        extract::ApiQuery,
        openapi::problems,
        pagination,
        problem::ApiError,
        state::AppState,
    },
    store::{events, webhooks},
};

/// Which events a list holds, by what became of their deliveries.
#[derive(Debug, Clone, Copy, serde::Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryFilter {
    /// Events whose delivery to an endpoint failed (retried for 3 days, or refused with
    /// 410 Gone) and was not delivered since.
    Failed,
}

pagination::page_query!(EventQuery {
    /// `failed`: only events whose delivery failed (see `POST /api/v1/webhook-endpoints/{id}/recover`).
    #[param(inline)]
    delivery: Option<DeliveryFilter>,
    /// With `delivery`: to this endpoint only (we_…).
    endpoint_id: Option<String>,
});

pagination::page!(EventPage of Event);

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RedeliverQuery {
    /// Send to this endpoint only (subscribed or not); by default to every enabled
    /// endpoint subscribed to the event's type.
    pub endpoint_id: Option<String>,
}

/// The deliveries queued by a redelivery.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"deliveries": ["whd_Hc1bq0n5xqX3fJ2lQp0a9w"]}))]
pub struct Redelivery {
    /// Ids of the new deliveries (see the endpoints' delivery logs).
    pub deliveries: Vec<String>,
}

/// List the shop's events, newest first. `screening.*` events are listed only to clients
/// that also hold `screenings:read`, `provider_account.*` only with `accounts:read`.
/// `delivery=failed` lists the events whose delivery failed (to `endpoint_id` when given).
#[utoipa::path(
    tag = "events",
    params(EventQuery),
    security(("bearer" = ["webhooks:read"])),
    responses(
        (status = 200, description = "A page of events", body = EventPage),
        problems::Secured,
        problems::NotFound,
        problems::Invalid,
    )
)]
#[get("/events")]
pub async fn list_events(
    caller: Authenticated<scope::WebhooksRead>,
    query: ApiQuery<EventQuery>,
    state: web::Data<AppState>,
) -> Result<web::Json<EventPage>, ApiError> {
    let limit = pagination::limit(query.limit)?;
    let before = pagination::id_cursor(query.cursor.as_deref())?;
    let types: Vec<&str> = EventType::ALL
        .into_iter()
        .filter(|t| t.readable_with(caller.scopes))
        .map(EventType::as_str)
        .collect();
    let rows = match (query.delivery, query.endpoint_id.as_deref()) {
        (None, None) => events::list_of_types(&state.db, &caller.shop_id, &types, before, limit + 1).await?,
        (None, Some(_)) => {
            return Err(ApiError::field(
                "endpoint_id",
                "requires_delivery",
                "endpoint_id filters delivery=failed; add delivery=failed",
            ));
        }
        (Some(DeliveryFilter::Failed), endpoint_id) => {
            let endpoint = match endpoint_id {
                Some(id) => Some(state.webhooks().get(&caller.shop_id, id).await?.id),
                None => None,
            };
            webhooks::failed_events(&state.db, &caller.shop_id, endpoint, &types, before, limit + 1).await?
        }
    };
    let (rows, next_cursor) = pagination::finish(rows, limit, |e| e.id.to_string());
    Ok(web::Json(EventPage {
        items: rows.iter().filter_map(Event::from_row).collect(),
        next_cursor,
    }))
}

/// Send an event again: a new delivery to every enabled endpoint subscribed to its
/// type, or to the endpoint named. Limited per shop: past the limit, 429 with
/// `Retry-After`.
#[utoipa::path(
    tag = "events",
    params(
        ("id" = String, Path, description = "The event's id (evt_…)"),
        RedeliverQuery,
    ),
    security(("bearer" = ["webhooks:write"])),
    responses(
        (status = 202, description = "Queued", body = Redelivery),
        problems::Secured,
        problems::NotFound,
        problems::Conflict,
        problems::Invalid,
        problems::TooManyRequests,
    )
)]
#[post("/events/{id}/redeliver")]
pub async fn redeliver_event(
    caller: Authenticated<scope::WebhooksWrite>,
    id: web::Path<String>,
    query: ApiQuery<RedeliverQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    state.take_webhook_request(&caller.shop_id)?;
    let deliveries = state
        .webhooks()
        .redeliver(&caller.actor(&state), &id, query.endpoint_id.as_deref(), caller.scopes)
        .await?;
    Ok(HttpResponse::Accepted().json(Redelivery { deliveries }))
}
