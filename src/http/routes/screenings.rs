//! `/api/v1/fraud-screenings`: screen an order with O-PLUX at checkout, and find records.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};

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
        decision::ScreeningResult,
        exchange::Exchange,
        oplux::protocol_v2::ManualResult,
        record::{ReviewDecision, ReviewState, Screening},
        request::ScreeningRequest,
        review::UpdateRequest,
    },
    store::screenings::{self, Filter},
};

/// Screen an order before it is created.
///
/// Decides "create the order" or "redirect the buyer", calling O-PLUX when the shop's
/// settings say so. Always answers with a decision — O-PLUX being slow, down or refusing
/// gives result `ERROR` and the account's `on_error` action, never a 5xx. The same order
/// number again returns the stored answer (200) without calling O-PLUX; a different
/// request for a stored order number is a 409.
///
/// The buyer's data is never a reason to refuse: it is normalised as a Japanese checkout
/// types it (full-width, `+81`, `〒`, hyphens), and what still cannot be used is left out
/// of the O-PLUX event and named in `warnings`.
#[utoipa::path(
    tag = "fraud-screenings",
    request_body = ScreeningRequest,
    security(("bearer" = ["screenings:write"])),
    responses(
        (status = 201, description = "Screened now", body = Screening),
        (status = 200, description = "Screened before: the stored answer", body = Screening),
        problems::BadRequest,
        problems::Secured,
        problems::Conflict,
        problems::PayloadTooLarge,
        problems::UnsupportedMediaType,
        problems::Invalid,
        problems::Unavailable,
    )
)]
#[post("/fraud-screenings")]
pub async fn screen_order(
    caller: Authenticated<scope::ScreeningsWrite>,
    body: ApiJson<ScreeningRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let order = body.0.parse()?;
    let (screening, created) = state.screenings().screen(&caller.shop_id, order).await?;
    Ok(if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    }
    .insert_header((
        actix_web::http::header::LOCATION,
        format!("/api/v1/fraud-screenings/{}", screening.order_number),
    ))
    .json(screening))
}

/// Read the screening of an order.
#[utoipa::path(
    tag = "fraud-screenings",
    params(("order_number" = String, Path, description = "The order number")),
    security(("bearer" = ["screenings:read"])),
    responses(
        (status = 200, description = "The screening as answered then", body = Screening),
        problems::Secured,
        problems::NotFound,
    )
)]
#[get("/fraud-screenings/{order_number}")]
pub async fn get_screening(
    caller: Authenticated<scope::ScreeningsRead>,
    order_number: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<web::Json<Screening>, ApiError> {
    let screening = crate::screening::service::find(&state.db, &caller.shop_id, &order_number).await?;
    Ok(web::Json(screening))
}

pagination::page_query!(ScreeningQuery {
    /// Only this result.
    result: Option<ScreeningResult>,
    /// Only this manual review result (O-PLUX's 目視審査).
    manual_result: Option<ManualResult>,
    /// Only screenings whose review (the shop's review queue) is in this state.
    review_state: Option<ReviewState>,
    /// Only screenings whose review was closed with this decision.
    review_decision: Option<ReviewDecision>,
    /// Only screened (true) or not screened (false) orders.
    screened: Option<bool>,
    /// Screened at or after (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// Screened before (RFC 3339).
    to: Option<DateTime<Utc>>,
});

pagination::page!(ScreeningPage of Screening);

/// Find screenings, newest first.
#[utoipa::path(
    tag = "fraud-screenings",
    params(ScreeningQuery),
    security(("bearer" = ["screenings:read"])),
    responses(
        (status = 200, description = "A page of screenings", body = ScreeningPage),
        problems::Secured,
        problems::Invalid,
    )
)]
#[get("/fraud-screenings")]
pub async fn list_screenings(
    caller: Authenticated<scope::ScreeningsRead>,
    query: ApiQuery<ScreeningQuery>,
    state: web::Data<AppState>,
) -> Result<web::Json<ScreeningPage>, ApiError> {
    let limit = pagination::limit(query.limit)?;
    let before = pagination::id_cursor(query.cursor.as_deref())?;
    if let (Some(from), Some(to)) = (query.from, query.to)
        && from >= to
    {
        return Err(ApiError::field("to", "invalid_range", "to must be later than from"));
    }
    let filter = Filter {
        result: query.result.map(|r| r.as_str().to_string()),
        manual_result: query.manual_result.map(|r| r.as_str().to_string()),
        review_state: query.review_state.map(|s| s.as_str().to_string()),
        review_decision: query.review_decision.map(|d| d.as_str().to_string()),
        screened: query.screened,
        from: query.from,
        to: query.to,
    };
    let rows = screenings::search(&state.db, &caller.shop_id, &filter, before, limit + 1).await?;
    let (rows, next_cursor) = pagination::finish(rows, limit, |r| r.id.to_string());
    Ok(web::Json(ScreeningPage {
        items: rows.iter().map(Screening::from_row).collect::<Result<_, _>>()?,
        next_cursor,
    }))
}

/// Read the order's manual review from O-PLUX now.
///
/// Asks O-PLUX (v2) for the manual review (目視審査) its staff entered in O-PLUX's
/// console, and answers the screening with `manual_review` beside the unchanged
/// automatic `result`. A change emits `screening.manual_review_updated`. A background
/// poller does the same for HOLD/REVIEW screenings (`RENKEI_OPLUX_SYNC_INTERVAL_SECS`).
#[utoipa::path(
    tag = "fraud-screenings",
    params(("order_number" = String, Path, description = "The order number")),
    security(("bearer" = ["screenings:write"])),
    responses(
        (status = 200, description = "The screening with O-PLUX's manual review, if any", body = Screening),
        problems::Secured,
        problems::NotFound,
        problems::Conflict,
        problems::BadGateway,
    )
)]
#[post("/fraud-screenings/{order_number}/sync")]
pub async fn sync_screening(
    caller: Authenticated<scope::ScreeningsWrite>,
    order_number: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<web::Json<Screening>, ApiError> {
    let screening = state.reviews().sync(&caller.shop_id, &order_number).await?;
    Ok(web::Json(screening))
}

/// Tell O-PLUX what happened to the order after checkout.
///
/// Sends any of the settlement status, a manual review result, a memo and the buyer's
/// blacklisting to O-PLUX (v2 update). O-PLUX refusing or not answering is a 502 naming
/// its codes; nothing is recorded as sent that O-PLUX did not accept. A manual result
/// O-PLUX accepted becomes the screening's `manual_review`.
#[utoipa::path(
    tag = "fraud-screenings",
    params(("order_number" = String, Path, description = "The order number")),
    request_body = UpdateRequest,
    security(("bearer" = ["screenings:write"])),
    responses(
        (status = 200, description = "O-PLUX accepted the update: the screening", body = Screening),
        problems::JsonBody,
        problems::Secured,
        problems::NotFound,
        problems::Conflict,
        problems::BadGateway,
    )
)]
#[post("/fraud-screenings/{order_number}/updates")]
pub async fn update_screening(
    caller: Authenticated<scope::ScreeningsWrite>,
    order_number: web::Path<String>,
    body: ApiJson<UpdateRequest>,
    state: web::Data<AppState>,
) -> Result<web::Json<Screening>, ApiError> {
    let update = body.0.parse()?;
    let screening = state.reviews().update(&caller.shop_id, &order_number, &update).await?;
    Ok(web::Json(screening))
}

pagination::page_query!(ExchangeQuery {});

pagination::page!(ExchangePage of Exchange);

/// List every exchange with O-PLUX about the order, oldest first.
///
/// Append-only: the registration at checkout, manual-review reads, updates — each with
/// its time, latency, outcome, O-PLUX's HTTP status and codes. Never personal data.
#[utoipa::path(
    tag = "fraud-screenings",
    params(("order_number" = String, Path, description = "The order number"), ExchangeQuery),
    security(("bearer" = ["screenings:read"])),
    responses(
        (status = 200, description = "A page of exchanges, oldest first", body = ExchangePage),
        problems::Secured,
        problems::NotFound,
        problems::Invalid,
    )
)]
#[get("/fraud-screenings/{order_number}/exchanges")]
pub async fn list_exchanges(
    caller: Authenticated<scope::ScreeningsRead>,
    order_number: web::Path<String>,
    query: ApiQuery<ExchangeQuery>,
    state: web::Data<AppState>,
) -> Result<web::Json<ExchangePage>, ApiError> {
    let limit = pagination::limit(query.limit)?;
    let after = pagination::id_cursor(query.cursor.as_deref())?;
    let rows = state
        .reviews()
        .exchanges(&caller.shop_id, &order_number, after, limit + 1)
        .await?;
    let (rows, next_cursor) = pagination::finish(rows, limit, |(id, _)| id.to_string());
    Ok(web::Json(ExchangePage {
        items: rows.into_iter().map(|(_, exchange)| exchange).collect(),
        next_cursor,
    }))
}

/// Check the stored O-PLUX credentials with one test event.
#[utoipa::path(
    tag = "provider-accounts",
    security(("bearer" = ["accounts:write"])),
    responses(
        (status = 200, description = "Whether O-PLUX accepted the credentials (and its error if not)", body = crate::screening::verify::Verification),
        problems::Secured,
        problems::NotFound,
        problems::Conflict,
        problems::BadGateway,
    )
)]
#[post("/provider-accounts/o-plux/verify")]
pub async fn verify_oplux(
    caller: Authenticated<scope::AccountsWrite>,
    state: web::Data<AppState>,
) -> Result<web::Json<crate::screening::verify::Verification>, ApiError> {
    let verification = crate::screening::verify::verify(&state.accounts(), &state.oplux, &caller.shop_id).await?;
    Ok(web::Json(verification))
}
