//! `GET /api/v1/events`: the shop's event log, newest first; and
//! `POST /api/v1/events/{id}/redeliver`.

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    events::Event,
    http::{
        auth::{Authenticated, scope},
        extract::ApiQuery,
        openapi::problems,
        pagination,
        problem::ApiError,
        state::AppState,
    },
    store::events,
};

pagination::page_query!(EventQuery {});

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

/// List the shop's events, newest first.
#[utoipa::path(
    tag = "events",
    params(EventQuery),
    security(("bearer" = ["webhooks:read"])),
    responses(
        (status = 200, description = "A page of events", body = EventPage),
        problems::Secured,
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
    let rows = events::list(&state.db, &caller.shop_id, before, limit + 1).await?;
    let (rows, next_cursor) = pagination::finish(rows, limit, |e| e.id.to_string());
    Ok(web::Json(EventPage {
        items: rows.iter().filter_map(Event::from_row).collect(),
        next_cursor,
    }))
}

/// Send an event again: a new delivery to every enabled endpoint subscribed to its
/// type, or to the endpoint named.
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
    )
)]
#[post("/events/{id}/redeliver")]
pub async fn redeliver_event(
    caller: Authenticated<scope::WebhooksWrite>,
    id: web::Path<String>,
    query: ApiQuery<RedeliverQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let deliveries = state
        .webhooks()
        .redeliver(&caller.actor(&state), &id, query.endpoint_id.as_deref())
        .await?;
    Ok(HttpResponse::Accepted().json(Redelivery { deliveries }))
}
