//! `/api/v1/feed-items`: the products of the shop's product data feed.

use actix_web::{HttpResponse, delete, get, put, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    accounts::providers::feed::catalog::{self as feed, FeedItemInput, FeedItemView},
    http::{
        auth::{Authenticated, scope},
        extract::{ApiJson, ApiQuery},
        openapi::problems,
        pagination,
        problem::ApiError,
        state::AppState,
    },
    store::feed_items,
};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedItemsUpsert {
    /// 1 to 1000 items, each id once; an item whose id exists replaces it.
    #[schema(min_items = 1, max_items = 1000)]
    pub items: Vec<FeedItemInput>,
}

#[derive(Serialize, ToSchema)]
pub struct FeedItemsUpserted {
    /// How many items were created or replaced.
    pub upserted: usize,
}

pagination::page!(FeedItemPage of FeedItemView);

pagination::page_query!(FeedItemQuery {});

/// Create or replace feed items in bulk.
#[utoipa::path(
    tag = "product-data-feed",
    request_body = FeedItemsUpsert,
    security(("bearer" = ["accounts:write"])),
    responses(
        (status = 200, description = "Items stored", body = FeedItemsUpserted),
        problems::BadRequest,
        problems::Secured,
        problems::PayloadTooLarge,
        problems::UnsupportedMediaType,
        problems::Invalid,
    )
)]
#[put("/feed-items")]
pub async fn upsert_feed_items(
    caller: Authenticated<scope::AccountsWrite>,
    body: ApiJson<FeedItemsUpsert>,
    state: web::Data<AppState>,
) -> Result<web::Json<FeedItemsUpserted>, ApiError> {
    let upserted = feed::upsert(&state.db, &caller.shop_id, body.0.items).await?;
    Ok(web::Json(FeedItemsUpserted { upserted }))
}

/// List feed items in id order.
#[utoipa::path(
    tag = "product-data-feed",
    params(FeedItemQuery),
    security(("bearer" = ["accounts:read"])),
    responses(
        (status = 200, description = "A page of items", body = FeedItemPage),
        problems::Secured,
        problems::Invalid,
    )
)]
#[get("/feed-items")]
pub async fn list_feed_items(
    caller: Authenticated<scope::AccountsRead>,
    query: ApiQuery<FeedItemQuery>,
    state: web::Data<AppState>,
) -> Result<web::Json<FeedItemPage>, ApiError> {
    let limit = pagination::limit(query.limit)?;
    let after = pagination::decode_cursor(query.cursor.as_deref(), |s| Some(s.to_string()))?;
    let items = feed_items::list(&state.db, &caller.shop_id, after.as_deref(), Some(limit + 1)).await?;
    let (items, next_cursor) = pagination::finish(items, limit, |i| i.item_id.clone());
    Ok(web::Json(FeedItemPage {
        items: items.into_iter().map(FeedItemView::from).collect(),
        next_cursor,
    }))
}

/// Delete one feed item.
#[utoipa::path(
    tag = "product-data-feed",
    params(("id" = String, Path, description = "The item's id")),
    security(("bearer" = ["accounts:write"])),
    responses(
        (status = 204, description = "Deleted"),
        problems::Secured,
        problems::NotFound,
    )
)]
#[delete("/feed-items/{id}")]
pub async fn delete_feed_item(
    caller: Authenticated<scope::AccountsWrite>,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if feed_items::delete(&state.db, &caller.shop_id, &id).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound(format!("no feed item '{id}'")))
    }
}
