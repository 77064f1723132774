//! The review queue: `GET /api/v1/reviews` and the shop's decision,
//! `POST /api/v1/fraud-screenings/{order_number}/review`.

use actix_web::{get, post, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    http::{
        auth::{Authenticated, scope},
        extract::{ApiJson, ApiQuery},
        openapi::problems,
        pagination,
        problem::ApiError,
        state::AppState,
    },
    screening::{
        record::{ReviewState, Screening},
        review_queue::{DecisionRequest, ReviewItem},
    },
    store::reviews::Position,
};

pagination::page_query!(ReviewQuery {
    /// `open` (default): waiting for a decision, oldest opened first; `closed`: decided,
    /// newest opened first.
    state: Option<ReviewState>,
});

/// A page of the review queue.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "items": [{
        "order_number": "R0000123", "result": "HOLD",
        "reasons": [{"code": "R001", "description": "同一電話番号で短時間に複数注文"}],
        "manual_review": null, "screened_at": "2026-11-23T10:00:01Z",
        "review": {"state": "open", "decision": null, "memo": null, "decided_by": null,
            "decided_at": null, "opened_at": "2026-11-23T10:00:01Z"}
    }],
    "next_cursor": null,
    "oldest_open_age_seconds": 5400
}))]
pub struct ReviewPage {
    pub items: Vec<ReviewItem>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
    /// How long the shop's oldest open review has waited, in whole seconds, whatever
    /// `state` and the page; `null` when no review is open.
    #[schema(minimum = 0, required = true)]
    pub oldest_open_age_seconds: Option<i64>,
}

/// List the shop's reviews: the queue of orders waiting for staff.
///
/// A screening whose automatic result is HOLD or REVIEW, or NG while the o-plux
/// account's `on_ng` is `create_order`, opens a review when it is stored. Open reviews
/// come oldest first (by `opened_at`, then as stored); closed ones newest first. Each
/// item carries O-PLUX's automatic result and reasons, O-PLUX's own `manual_review`
/// (from sync, shown beside the shop's review, never closing it) and the review.
/// `oldest_open_age_seconds` tells how long the shop's oldest open review has waited.
#[utoipa::path(
    tag = "reviews",
    params(ReviewQuery),
    security(("bearer" = ["screenings:read"])),
    responses(
        (status = 200, description = "A page of reviews", body = ReviewPage),
        problems::Secured,
        problems::Invalid,
    )
)]
#[get("/reviews")]
pub async fn list_reviews(
    caller: Authenticated<scope::ScreeningsRead>,
    query: ApiQuery<ReviewQuery>,
    state: web::Data<AppState>,
) -> Result<web::Json<ReviewPage>, ApiError> {
    let limit = pagination::limit(query.limit)?;
    let after = pagination::decode_cursor(query.cursor.as_deref(), position)?;
    let review_state = query.state.unwrap_or(ReviewState::Open);
    let page = state
        .reviews()
        .queue(&caller.shop_id, review_state, after, limit + 1)
        .await?;
    let (items, next_cursor) = pagination::finish(page.items, limit, |((at, id), _)| {
        format!("{}:{id}", at.timestamp_micros())
    });
    let now = Utc::now();
    Ok(web::Json(ReviewPage {
        items: items.into_iter().map(|(_, item)| item).collect(),
        next_cursor,
        oldest_open_age_seconds: page.oldest_open.map(|at| (now - at).num_seconds().max(0)),
    }))
}

/// A queue position from its cursor text, `<microseconds>:<id>`.
fn position(text: &str) -> Option<Position> {
    let (micros, id) = text.split_once(':')?;
    let at = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
    Some((at, id.parse().ok()?))
}

/// Decide an order's review: approve or cancel it, and tell O-PLUX.
///
/// Closes the order's open review with the shop's decision and tells O-PLUX in the same
/// step, through the v2 update of `POST …/updates` (recorded in the exchanges):
/// `approved` sends manual result OK; `cancelled` sends manual result NG and settlement
/// status `cancelled`; a `memo` is sent as O-PLUX's memo. The manual result O-PLUX
/// accepted becomes the screening's `manual_review`; `screening.review_closed` is
/// emitted with the decision.
///
/// O-PLUX refusing or not answering is a 502 naming its codes, and the review stays
/// open. The same decision again answers 200 without sending anything. A different
/// decision on a closed review is a 409, as is a decision while another request's
/// different decision is being sent. An order without a review (OK, ERROR, not
/// screened, or NG redirected) is a 409; an order not screened in this shop is a 404.
#[utoipa::path(
    tag = "reviews",
    params(("order_number" = String, Path, description = "The order number")),
    request_body = DecisionRequest,
    security(("bearer" = ["screenings:write"])),
    responses(
        (status = 200, description = "The review is closed with this decision: the screening", body = Screening),
        problems::JsonBody,
        problems::Secured,
        problems::NotFound,
        problems::Conflict,
        problems::BadGateway,
    )
)]
#[post("/fraud-screenings/{order_number}/review")]
pub async fn decide_review(
    caller: Authenticated<scope::ScreeningsWrite>,
    order_number: web::Path<String>,
    body: ApiJson<DecisionRequest>,
    state: web::Data<AppState>,
) -> Result<web::Json<Screening>, ApiError> {
    let (decision, memo) = body.0.parse()?;
    let screening = state
        .reviews()
        .decide(&caller.shop_id, &caller.client_id, &order_number, decision, memo)
        .await?;
    Ok(web::Json(screening))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_names_a_queue_position() {
        let at = DateTime::from_timestamp_micros(1_790_000_000_123_456).unwrap();
        assert_eq!(position("1790000000123456:42"), Some((at, 42)));
        assert_eq!(position("42"), None);
        assert_eq!(position("x:1"), None);
    }
}
