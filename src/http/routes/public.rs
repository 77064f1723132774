//! Public files, served without a token at unguessable URLs: EPOS banners and the
//! product data feed.

use actix_web::{HttpResponse, get, http::header, web};

use crate::{
    accounts::providers::{feed::catalog, gmo::epos_banner::DEFAULT_BANNER_PATH},
    http::{
        openapi::{Binary, problems},
        problem::ApiError,
        state::AppState,
    },
    store::public_assets,
};

/// The banner shown when a shop has uploaded none.
const DEFAULT_EPOS_BANNER: &[u8] = include_bytes!("../../../assets/epos-banner-default.png");

/// An uploaded EPOS banner.
#[utoipa::path(
    tag = "public",
    params(("token" = String, Path, description = "The banner's token, from epos_banner_url")),
    responses(
        (status = 200, description = "The image", content((inline(Binary) = "image/png"), (inline(Binary) = "image/jpeg"), (inline(Binary) = "image/gif"))),
        problems::NotFound,
    )
)]
#[get("/public/epos-banners/{token}")]
pub async fn epos_banner(token: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let asset = public_assets::find_by_token(&state.db, public_assets::EPOS_BANNER, &token)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such banner".into()))?;
    Ok(HttpResponse::Ok()
        .content_type(asset.content_type)
        // A new upload gets a new URL, so this one never changes.
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(asset.body))
}

/// The default EPOS banner.
#[utoipa::path(
    tag = "public",
    responses(
        (status = 200, description = "The image", content_type = "image/png", body = inline(Binary)),
        problems::BadRequest,
    )
)]
#[get("/public/epos-banner-default.png")]
pub async fn default_epos_banner() -> HttpResponse {
    debug_assert_eq!(DEFAULT_BANNER_PATH, "/public/epos-banner-default.png");
    HttpResponse::Ok()
        .content_type("image/png")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(DEFAULT_EPOS_BANNER)
}

/// The shop's product data feed in Facebook catalog CSV format, while the feed is enabled.
#[utoipa::path(
    tag = "public",
    params(("token" = String, Path, description = "The feed's token, from facebook_feed_url")),
    responses(
        (status = 200, description = "The CSV (UTF-8 text)", content_type = "text/csv", body = String),
        problems::NotFound,
    )
)]
#[get("/feeds/{token}/facebook.csv")]
pub async fn facebook_feed(token: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let asset = catalog::published(&state.db, &token)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such feed".into()))?;
    Ok(HttpResponse::Ok()
        .content_type(asset.content_type)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(asset.body))
}
