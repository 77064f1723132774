//! `/api/v1/payment-methods`, `/api/v1/checkout-config` and densan transaction ids.

use actix_web::{HttpResponse, delete, get, http::header, patch, post, put, web};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use crate::{
    http::{
        auth::{Authenticated, scope},
        conditional::IfMatch,
        extract::{self, ApiJson, ApiQuery},
        pagination,
        problem::{ApiError, Problem},
        state::AppState,
    },
    payment_methods::{Channel, PaymentMethod, PaymentMethodInput, checkout::CheckoutConfig, etag, transaction_ids},
    store::payment_methods::PaymentMethodRow,
};

#[derive(Serialize, ToSchema)]
pub struct PaymentMethodPage {
    pub items: Vec<PaymentMethod>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PaymentMethodQuery {
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CheckoutQuery {
    /// The checkout channel.
    pub channel: Channel,
    /// The confirmation page is skipped (確認画面スキップ): Paidy is left out.
    pub confirm_skip: Option<bool>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"transaction_id": "12345670123456789"}))]
pub struct TransactionId {
    /// The densan unique code (7 digits) followed by 10 random digits.
    pub transaction_id: String,
}

fn method_response(row: &PaymentMethodRow, created: bool) -> Result<HttpResponse, ApiError> {
    let mut response = if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    if created {
        response.insert_header((header::LOCATION, format!("/api/v1/payment-methods/{}", row.code)));
    }
    Ok(response
        .insert_header((header::ETAG, etag(row)))
        .json(PaymentMethod::from_row(row)?))
}

/// List the shop's payment methods in position order.
#[utoipa::path(
    tag = "payment-methods",
    params(PaymentMethodQuery),
    security(("bearer" = ["payment-methods:read"])),
    responses(
        (status = 200, description = "A page of methods", body = PaymentMethodPage),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks payment-methods:read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid limit or cursor", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/payment-methods")]
pub async fn list_payment_methods(
    caller: Authenticated<scope::PaymentMethodsRead>,
    query: ApiQuery<PaymentMethodQuery>,
    state: web::Data<AppState>,
) -> Result<web::Json<PaymentMethodPage>, ApiError> {
    let limit = pagination::limit(query.limit)?;
    let after = pagination::decode_cursor(query.cursor.as_deref(), |s| {
        let (position, code) = s.split_once(':')?;
        Some((position.parse::<i32>().ok()?, code.to_string()))
    })?;
    let rows = state.payment_methods().list(&caller.shop_id, after, limit + 1).await?;
    let (rows, next_cursor) = pagination::finish(rows, limit, |m| format!("{}:{}", m.position, m.code));
    Ok(web::Json(PaymentMethodPage {
        items: rows.iter().map(PaymentMethod::from_row).collect::<Result<_, _>>()?,
        next_cursor,
    }))
}

/// Create a payment method.
#[utoipa::path(
    tag = "payment-methods",
    request_body = PaymentMethodInput,
    security(("bearer" = ["payment-methods:write"])),
    responses(
        (status = 201, description = "Created", body = PaymentMethod,
            headers(("ETag" = String, description = "Entity tag"), ("Location" = String, description = "The method's URL"))),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks payment-methods:write", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The code is taken", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A rule is broken: every failing field is listed", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/payment-methods")]
pub async fn create_payment_method(
    caller: Authenticated<scope::PaymentMethodsWrite>,
    body: ApiJson<PaymentMethodInput>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let row = state.payment_methods().create(&caller.actor(&state), body.0).await?;
    method_response(&row, true)
}

/// Read a payment method.
#[utoipa::path(
    tag = "payment-methods",
    params(("code" = String, Path, description = "The method's code")),
    security(("bearer" = ["payment-methods:read"])),
    responses(
        (status = 200, description = "The method", body = PaymentMethod, headers(("ETag" = String, description = "Entity tag"))),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks payment-methods:read", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such method in this shop", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/payment-methods/{code}")]
pub async fn get_payment_method(
    caller: Authenticated<scope::PaymentMethodsRead>,
    code: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let row = state.payment_methods().get(&caller.shop_id, &code).await?;
    method_response(&row, false)
}

/// Create or replace a payment method.
#[utoipa::path(
    tag = "payment-methods",
    params(
        ("code" = String, Path, description = "The method's code"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "Apply only if the method's ETag is one of these (or *)"),
    ),
    request_body = PaymentMethodInput,
    security(("bearer" = ["payment-methods:write"])),
    responses(
        (status = 200, description = "Replaced", body = PaymentMethod, headers(("ETag" = String, description = "Entity tag"))),
        (status = 201, description = "Created", body = PaymentMethod, headers(("ETag" = String, description = "Entity tag"))),
        (status = 400, description = "Malformed JSON or If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks payment-methods:write", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Changed by another request at the same time", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A rule is broken: every failing field is listed", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/payment-methods/{code}")]
pub async fn put_payment_method(
    caller: Authenticated<scope::PaymentMethodsWrite>,
    code: web::Path<String>,
    if_match: IfMatch,
    body: ApiJson<PaymentMethodInput>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (row, created) = state
        .payment_methods()
        .put(&caller.actor(&state), &code, body.0, &if_match.0)
        .await?;
    method_response(&row, created)
}

/// Change some fields of a payment method (JSON Merge Patch).
#[utoipa::path(
    tag = "payment-methods",
    params(
        ("code" = String, Path, description = "The method's code"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "Apply only if the method's ETag is one of these (or *)"),
    ),
    request_body(content((PaymentMethodInput = "application/merge-patch+json"), (PaymentMethodInput = "application/json"))),
    security(("bearer" = ["payment-methods:write"])),
    responses(
        (status = 200, description = "Changed", body = PaymentMethod, headers(("ETag" = String, description = "Entity tag"))),
        (status = 400, description = "Malformed JSON or If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks payment-methods:write", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such method in this shop", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Changed by another request at the same time", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A rule is broken: every failing field is listed", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/payment-methods/{code}")]
pub async fn patch_payment_method(
    caller: Authenticated<scope::PaymentMethodsWrite>,
    code: web::Path<String>,
    if_match: IfMatch,
    body: ApiJson<Map<String, Value>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let row = state
        .payment_methods()
        .patch(&caller.actor(&state), &code, body.0, extract::from_value, &if_match.0)
        .await?;
    method_response(&row, false)
}

/// Delete a payment method.
#[utoipa::path(
    tag = "payment-methods",
    params(
        ("code" = String, Path, description = "The method's code"),
        ("If-Match" = Option<String>, Header, nullable = false, description = "Apply only if the method's ETag is one of these (or *)"),
    ),
    security(("bearer" = ["payment-methods:write"])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks payment-methods:write", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such method in this shop", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Changed by another request at the same time", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/payment-methods/{code}")]
pub async fn delete_payment_method(
    caller: Authenticated<scope::PaymentMethodsWrite>,
    code: web::Path<String>,
    if_match: IfMatch,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    state
        .payment_methods()
        .delete(&caller.actor(&state), &code, &if_match.0)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Issue a 電算 transaction id for a convenience-store postpay method.
#[utoipa::path(
    tag = "payment-methods",
    params(("code" = String, Path, description = "An enabled convenience_postpay method on densan")),
    security(("bearer" = ["payment-methods:write"])),
    responses(
        (status = 201, description = "A new transaction id, never issued before in this shop", body = TransactionId),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks payment-methods:write", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such method in this shop", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not an enabled densan convenience_postpay method, or densan is not set up", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The densan account has no unique code", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/payment-methods/{code}/transaction-ids")]
pub async fn issue_transaction_id(
    caller: Authenticated<scope::PaymentMethodsWrite>,
    code: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let transaction_id = transaction_ids::issue(&state.db, &caller.shop_id, &code).await?;
    Ok(HttpResponse::Created().json(TransactionId { transaction_id }))
}

/// What a checkout page needs: the channel's enabled methods, in order, with their
/// providers' public parameters (never a secret).
#[utoipa::path(
    tag = "payment-methods",
    params(CheckoutQuery),
    security(("bearer" = ["payment-methods:read"])),
    responses(
        (status = 200, description = "The checkout configuration", body = CheckoutConfig),
        (status = 401, description = "Missing or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks payment-methods:read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing or unknown channel", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/checkout-config")]
pub async fn checkout_config(
    caller: Authenticated<scope::PaymentMethodsRead>,
    query: ApiQuery<CheckoutQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = state
        .checkout_cache
        .get(
            &state.shop_versions,
            &state.db,
            &caller.shop_id,
            query.channel,
            query.confirm_skip.unwrap_or(false),
            &state.public_url,
        )
        .await?;
    Ok(HttpResponse::Ok().content_type("application/json").body(body))
}
