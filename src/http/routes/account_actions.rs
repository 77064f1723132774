//! Actions on provider accounts: the GMO PG EPOS banner, PayPal and Amazon Pay v2
//! links, and generating the product data feed. Each is registered and documented from
//! its entry in `ACTIONS`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::provider_accounts::account_response;
use crate::{
    accounts::providers::{
        feed::catalog as feed,
        gmo::epos_banner,
        wallets::{
            amazon_pay::{self, AmazonPayLink},
            paypal,
        },
    },
    http::{
        auth::{Authenticated, scope},
        extract::{self, ApiJson},
        openapi::providers::{self, ActionOperation},
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
    let account = epos_banner::upload(&state.accounts(), &caller.actor(&state), body.to_vec()).await?;
    Ok(account_response(&account, &state, false))
}

pub async fn reset_epos_banner(
    caller: Authenticated<scope::AccountsWrite>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let account = epos_banner::reset(&state.accounts(), &caller.actor(&state)).await?;
    Ok(account_response(&account, &state, false))
}

pub async fn link_paypal(
    caller: Authenticated<scope::AccountsWrite>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let account = paypal::link(&state.accounts(), &caller.actor(&state)).await?;
    Ok(account_response(&account, &state, false))
}

pub async fn unlink_paypal(
    caller: Authenticated<scope::AccountsWrite>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let account = paypal::unlink(&state.accounts(), &caller.actor(&state)).await?;
    Ok(account_response(&account, &state, false))
}

pub async fn link_amazon_pay(
    caller: Authenticated<scope::AccountsWrite>,
    body: ApiJson<AmazonPayLink>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let account = amazon_pay::link(&state.accounts(), &caller.actor(&state), body.0).await?;
    Ok(account_response(&account, &state, false))
}

pub async fn unlink_amazon_pay(
    caller: Authenticated<scope::AccountsWrite>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let account = amazon_pay::unlink(&state.accounts(), &caller.actor(&state)).await?;
    Ok(account_response(&account, &state, false))
}

pub async fn generate_feed(
    caller: Authenticated<scope::AccountsWrite>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let account = feed::generate(&state.accounts(), &caller.actor(&state)).await?;
    Ok(account_response(&account, &state, false))
}

pub async fn rotate_feed_url(
    caller: Authenticated<scope::AccountsWrite>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let account = feed::rotate_url(&state.accounts(), &caller.actor(&state)).await?;
    Ok(account_response(&account, &state, false))
}

/// The actions: each route registered and documented from the same entry
/// (`http::openapi::providers::ProviderAccountRoutes`).
pub const ACTIONS: [ActionOperation; 8] = [
    ActionOperation {
        path: "gmo-pg/epos-banner",
        method: "put",
        route: || web::put().to(upload_epos_banner),
        document: || {
            let mut operation = action(
                "GmoPg",
                "upload_gmo_pg_epos_banner",
                "Upload the EPOS banner",
                "The request body is the image itself: PNG, JPEG or GIF (recognised by its content), at most 256 KiB. It is served from a public URL, shown as epos_banner_url.",
                &[404, 413, 422],
            );
            // Bytes as generators read them (application/octet-stream); the content, not
            // the Content-Type, tells the format, so image/png and the like are taken too.
            operation["requestBody"] = json!({"required": true, "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary", "minLength": 1}}
            }});
            operation
        },
    },
    ActionOperation {
        path: "gmo-pg/epos-banner",
        method: "delete",
        route: || web::delete().to(reset_epos_banner),
        document: || {
            action(
                "GmoPg",
                "reset_gmo_pg_epos_banner",
                "Go back to the default EPOS banner",
                "Removes the uploaded banner.",
                &[404],
            )
        },
    },
    ActionOperation {
        path: "paypal/link",
        method: "post",
        route: || web::post().to(link_paypal),
        document: || {
            action(
                "Paypal",
                "link_paypal",
                "Link the PayPal account",
                "Links the seller merchant id set on the account (link_status becomes linked).",
                &[404, 422],
            )
        },
    },
    ActionOperation {
        path: "paypal/link",
        method: "delete",
        route: || web::delete().to(unlink_paypal),
        document: || {
            action(
                "Paypal",
                "unlink_paypal",
                "Unlink the PayPal account",
                "Unlinks and deletes the seller merchant id; the account is disabled.",
                &[404],
            )
        },
    },
    ActionOperation {
        path: "amazon-pay-v2/link",
        method: "post",
        route: || web::post().to(link_amazon_pay),
        document: || {
            let mut operation = action(
                "AmazonPayV2",
                "link_amazon_pay_v2",
                "Link the Amazon Pay (v2) account",
                "Stores the credentials from Amazon's account registration; creates the account (enabled) when new.",
                &[400, 413, 415, 422],
            );
            operation["requestBody"] = json!({"required": true, "content": {
                "application/json": {"schema": providers::schema_ref("AmazonPayLink")}
            }});
            operation
        },
    },
    ActionOperation {
        path: "amazon-pay-v2/link",
        method: "delete",
        route: || web::delete().to(unlink_amazon_pay),
        document: || {
            action(
                "AmazonPayV2",
                "unlink_amazon_pay_v2",
                "Unlink the Amazon Pay (v2) account",
                "Removes the linked credentials; the account is disabled.",
                &[404],
            )
        },
    },
    ActionOperation {
        path: "product-data-feed/generate",
        method: "post",
        route: || web::post().to(generate_feed),
        document: || {
            action(
                "ProductDataFeed",
                "generate_product_data_feed",
                "Generate the product data feed now",
                "Builds the Facebook catalog CSV from every feed item and publishes it at facebook_feed_url.",
                &[404],
            )
        },
    },
    ActionOperation {
        path: "product-data-feed/rotate-url",
        method: "post",
        route: || web::post().to(rotate_feed_url),
        document: || {
            action(
                "ProductDataFeed",
                "rotate_product_data_feed_url",
                "Issue a new product data feed URL",
                "Moves the feed to a new unguessable facebook_feed_url; the old URL answers 404 from now on. Use it when the URL has leaked.",
                &[404],
            )
        },
    },
];

/// An action answering with the provider's account (`schema_name`), needing
/// accounts:write; it may conflict with a concurrent write (409).
fn action(schema_name: &str, operation_id: &str, summary: &str, description: &str, errors: &[u16]) -> Value {
    let mut responses = Map::new();
    responses.insert(
        "200".into(),
        providers::account_ok(schema_name, "The account after the action"),
    );
    let mut statuses = vec![409];
    statuses.extend_from_slice(errors);
    providers::account_operation(
        "accounts:write",
        operation_id.to_string(),
        summary.to_string(),
        description,
        responses,
        &statuses,
    )
}
