//! Actions on provider accounts: the GMO PG EPOS banner, PayPal and Amazon Pay v2
//! links, and generating the product data feed. Documented in `accounts::schema`.

use actix_web::{HttpRequest, HttpResponse, web};

use super::provider_accounts::{account_response, actor};
use crate::{
    accounts::actions::{
        amazon_pay::{self, AmazonPayLink},
        epos_banner, feed, paypal,
    },
    http::{
        auth::{Authenticated, scope},
        extract::{self, ApiJson},
        problem::ApiError,
        state::AppState,
    },
};

pub async fn upload_epos_banner(
    caller: Authenticated<scope::AccountsWrite>,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = extract::read_body(
        payload.into_inner(),
        extract::declared_length(&req),
        epos_banner::MAX_BYTES,
    )
    .await?;
    if body.is_empty() {
        return Err(ApiError::field(
            "epos_banner",
            "required",
            "send the PNG, JPEG or GIF image as the request body",
        ));
    }
    let account = epos_banner::upload(&state.accounts(), &actor(&caller), body.to_vec()).await?;
    state.changed(&caller.shop_id);
    Ok(account_response(&account, &state, false))
}

pub async fn reset_epos_banner(
    caller: Authenticated<scope::AccountsWrite>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let account = epos_banner::reset(&state.accounts(), &actor(&caller)).await?;
    state.changed(&caller.shop_id);
    Ok(account_response(&account, &state, false))
}

pub async fn link_paypal(
    caller: Authenticated<scope::AccountsWrite>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let account = paypal::link(&state.accounts(), &actor(&caller)).await?;
    state.changed(&caller.shop_id);
    Ok(account_response(&account, &state, false))
}

pub async fn unlink_paypal(
    caller: Authenticated<scope::AccountsWrite>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let account = paypal::unlink(&state.accounts(), &actor(&caller)).await?;
    state.changed(&caller.shop_id);
    Ok(account_response(&account, &state, false))
}

pub async fn link_amazon_pay(
    caller: Authenticated<scope::AccountsWrite>,
    body: ApiJson<AmazonPayLink>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let account = amazon_pay::link(&state.accounts(), &actor(&caller), body.0).await?;
    state.changed(&caller.shop_id);
    Ok(account_response(&account, &state, false))
}

pub async fn unlink_amazon_pay(
    caller: Authenticated<scope::AccountsWrite>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let account = amazon_pay::unlink(&state.accounts(), &actor(&caller)).await?;
    state.changed(&caller.shop_id);
    Ok(account_response(&account, &state, false))
}

pub async fn generate_feed(
    caller: Authenticated<scope::AccountsWrite>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let account = feed::generate(&state.accounts(), &actor(&caller)).await?;
    state.changed(&caller.shop_id);
    Ok(account_response(&account, &state, false))
}

pub async fn rotate_feed_url(
    caller: Authenticated<scope::AccountsWrite>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let account = feed::rotate_url(&state.accounts(), &actor(&caller)).await?;
    state.changed(&caller.shop_id);
    Ok(account_response(&account, &state, false))
}

/// Registers the action routes (before `/provider-accounts/{provider}`).
pub fn register(scope: actix_web::Scope) -> actix_web::Scope {
    let no_route = || web::to(crate::http::openapi::no_route);
    scope
        .service(
            web::resource("/provider-accounts/gmo-pg/epos-banner")
                .route(web::put().to(upload_epos_banner))
                .route(web::delete().to(reset_epos_banner))
                .default_service(no_route()),
        )
        .service(
            web::resource("/provider-accounts/paypal/link")
                .route(web::post().to(link_paypal))
                .route(web::delete().to(unlink_paypal))
                .default_service(no_route()),
        )
        .service(
            web::resource("/provider-accounts/amazon-pay-v2/link")
                .route(web::post().to(link_amazon_pay))
                .route(web::delete().to(unlink_amazon_pay))
                .default_service(no_route()),
        )
        .service(
            web::resource("/provider-accounts/product-data-feed/generate")
                .route(web::post().to(generate_feed))
                .default_service(no_route()),
        )
        .service(
            web::resource("/provider-accounts/product-data-feed/rotate-url")
                .route(web::post().to(rotate_feed_url))
                .default_service(no_route()),
        )
}
