//! `/api/v1/payment-methods`, `/api/v1/checkout-config` and densan transaction ids.

use actix_web::{HttpResponse, delete, get, http::header, patch, post, put, web};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use crate::{
    http::{
        auth::{Authenticated, scope},
        conditional::{IfMatch, IfMatchHeader},
        extract::{self, ApiJson, ApiQuery},
        openapi::{self, problems},
        pagination,
        problem::ApiError,
        state::AppState,
    },
    payment_methods::{Channel, PaymentMethod, PaymentMethodInput, checkout::CheckoutConfig, etag, transaction_ids},
    store::payment_methods::PaymentMethodRow,
};

pagination::page!(PaymentMethodPage of PaymentMethod);

pagination::page_query!(PaymentMethodQuery {});

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

/// The body of `POST /api/v1/payment-methods`: `PaymentMethodInput` with `code`
/// required (PUT takes the code from its path).
pub struct PaymentMethodCreate;

impl utoipa::PartialSchema for PaymentMethodCreate {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let mut schema =
            serde_json::to_value(<PaymentMethodInput as utoipa::PartialSchema>::schema()).unwrap_or_default();
        schema["description"] = "A new payment method: its code and its settings.".into();
        schema["properties"]["code"] = serde_json::json!({
            "type": "string",
            "pattern": openapi::PAYMENT_METHOD_CODE_PATTERN,
            "description": "Slug, unique in the shop: 1–64 lower-case letters, digits, '-' and '_', starting with a letter or digit."
        });
        if let Some(required) = schema["required"].as_array_mut() {
            required.insert(0, "code".into());
        }
        serde_json::from_value(schema).expect("a valid schema")
    }
}

impl ToSchema for PaymentMethodCreate {}

/// The body of `PATCH /api/v1/payment-methods/{code}`: a JSON Merge Patch of the method,
/// so every field of `PaymentMethodInput` is optional. Null clears a field to its default
/// where the input has one (`provider`, `enabled`, `position`…); `kind` and `display_name`
/// cannot be cleared, and `code` can only repeat the path's.
pub struct PaymentMethodPatch;

impl utoipa::PartialSchema for PaymentMethodPatch {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let mut schema =
            serde_json::to_value(<PaymentMethodInput as utoipa::PartialSchema>::schema()).unwrap_or_default();
        if let Some(object) = schema.as_object_mut() {
            object.remove("required");
        }
        schema["description"] = "Changes to a payment method (JSON Merge Patch: a field left out is kept, \
            null resets `provider`, `enabled`, `available_in`, `oplux_screening`, \
            `thanks_offer_immediate_settlement`, `position` and `carriers` to their defaults). \
            The merged method must pass the same rules as a PUT."
            .into();
        schema["properties"]["code"] = serde_json::json!({
            "type": "string",
            "pattern": openapi::PAYMENT_METHOD_CODE_PATTERN,
            "description": "The method's code, as in the path: a code cannot be changed."
        });
        schema["example"] = serde_json::json!({"position": 0});
        serde_json::from_value(schema).expect("a valid schema")
    }
}

impl ToSchema for PaymentMethodPatch {}

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
        problems::Secured,
        problems::Invalid,
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
    request_body = PaymentMethodCreate,
    security(("bearer" = ["payment-methods:write"])),
    responses(
        (status = 201, description = "Created", body = PaymentMethod,
            headers(("ETag" = String, description = "Entity tag"), ("Location" = String, description = "The method's URL"))),
        problems::BadRequest,
        problems::Secured,
        problems::Conflict,
        problems::PayloadTooLarge,
        problems::UnsupportedMediaType,
        problems::Invalid,
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
        problems::Secured,
        problems::NotFound,
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
        IfMatchHeader,
    ),
    request_body = PaymentMethodInput,
    security(("bearer" = ["payment-methods:write"])),
    responses(
        (status = 200, description = "Replaced", body = PaymentMethod, headers(("ETag" = String, description = "Entity tag"))),
        (status = 201, description = "Created", body = PaymentMethod, headers(("ETag" = String, description = "Entity tag"))),
        problems::BadRequest,
        problems::Secured,
        problems::Conflict,
        problems::PreconditionFailed,
        problems::PayloadTooLarge,
        problems::UnsupportedMediaType,
        problems::Invalid,
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
        IfMatchHeader,
    ),
    request_body(content((PaymentMethodPatch = "application/merge-patch+json"), (PaymentMethodPatch = "application/json"))),
    security(("bearer" = ["payment-methods:write"])),
    responses(
        (status = 200, description = "Changed", body = PaymentMethod, headers(("ETag" = String, description = "Entity tag"))),
        problems::BadRequest,
        problems::Secured,
        problems::NotFound,
        problems::Conflict,
        problems::PreconditionFailed,
        problems::PayloadTooLarge,
        problems::UnsupportedMediaType,
        problems::Invalid,
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
        IfMatchHeader,
    ),
    security(("bearer" = ["payment-methods:write"])),
    responses(
        (status = 204, description = "Deleted"),
        problems::BadRequest,
        problems::Secured,
        problems::NotFound,
        problems::Conflict,
        problems::PreconditionFailed,
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
        problems::Secured,
        problems::NotFound,
        problems::Conflict,
        problems::Invalid,
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
        problems::Secured,
        problems::Invalid,
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
