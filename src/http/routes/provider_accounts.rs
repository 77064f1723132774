//! `/api/v1/provider-accounts`: the list of every provider, and one typed resource per
//! provider. The per-provider operations are one set of handlers (`OPERATIONS`),
//! registered and documented per provider by `http::openapi::providers`.

use actix_web::{HttpResponse, get, http::header, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::{
    accounts::{self, ProviderSpec, certificates::AccountWarning, engine::WriteMode, form, service::Account},
    core::DomainError,
    http::{
        auth::{Authenticated, scope},
        conditional::IfMatch,
        extract::ApiJson,
        openapi::{
            problems,
            providers::{self as documented, AccountOperation},
        },
        problem::ApiError,
        state::AppState,
    },
};

/// The operations on `/api/v1/provider-accounts/{provider}`: each route registered once,
/// and documented for every provider from the same entry.
pub const OPERATIONS: [AccountOperation; 4] = [
    AccountOperation {
        method: "get",
        route: || web::get().to(get_account),
        document: documented::get_account,
    },
    AccountOperation {
        method: "put",
        route: || web::put().to(put_account),
        document: documented::put_account,
    },
    AccountOperation {
        method: "patch",
        route: || web::patch().to(patch_account),
        document: documented::patch_account,
    },
    AccountOperation {
        method: "delete",
        route: || web::delete().to(delete_account),
        document: documented::delete_account,
    },
];

/// One provider and the state of the shop's account with it.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "provider": "gmo-pg", "display_name": "GMO PG", "category": "payment",
    "configured": true, "enabled": true, "mode": "test", "updated_at": "2026-11-23T10:00:00Z",
    "warnings": []
}))]
pub struct ProviderSummary {
    /// The provider's slug: the path segment of its account.
    #[schema(schema_with = documented::provider_slug_ref)]
    pub provider: &'static str,
    pub display_name: &'static str,
    /// What the provider is for.
    #[schema(schema_with = documented::category_ref)]
    pub category: &'static str,
    /// Whether the shop has saved settings for it.
    pub configured: bool,
    pub enabled: bool,
    /// `test` or `live` where the settings tell, else null.
    #[schema(schema_with = documented::nullable_mode_ref)]
    pub mode: Option<&'static str>,
    pub updated_at: Option<DateTime<Utc>>,
    /// Certificates of the account expired or expiring soon (empty when none).
    pub warnings: Vec<AccountWarning>,
}

#[derive(Serialize, ToSchema)]
pub struct ProviderSummaryList {
    /// Every provider, configured or not, in a fixed order.
    pub items: Vec<ProviderSummary>,
    /// Always null: the list is complete.
    pub next_cursor: Option<String>,
}

/// List every provider with the state of the shop's account.
#[utoipa::path(
    tag = "provider-accounts",
    security(("bearer" = ["accounts:read"])),
    responses(
        (status = 200, description = "Every provider", body = ProviderSummaryList),
        problems::Secured,
    )
)]
#[get("/provider-accounts")]
pub async fn list_provider_accounts(
    caller: Authenticated<scope::AccountsRead>,
    state: web::Data<AppState>,
) -> Result<web::Json<ProviderSummaryList>, ApiError> {
    let items = state
        .accounts()
        .list(&caller.shop_id)
        .await?
        .into_iter()
        .map(|summary| ProviderSummary {
            provider: summary.spec.slug,
            display_name: summary.spec.display_name,
            category: summary.spec.category.as_str(),
            configured: summary.account.is_some(),
            enabled: summary.account.as_ref().is_some_and(|a| a.row.enabled),
            mode: summary.account.as_ref().and_then(Account::mode),
            updated_at: summary.account.as_ref().map(|a| a.row.updated_at),
            warnings: summary
                .account
                .as_ref()
                .map(|a| a.warnings(state.cert_warning_days))
                .unwrap_or_default(),
        })
        .collect();
    Ok(web::Json(ProviderSummaryList {
        items,
        next_cursor: None,
    }))
}

pub fn spec_for(slug: &str) -> Result<&'static ProviderSpec, ApiError> {
    accounts::find(slug).ok_or_else(|| {
        ApiError::NotFound(format!(
            "there is no provider '{slug}'; GET /api/v1/provider-accounts lists them"
        ))
    })
}

/// The account as a response, with its ETag.
pub fn account_response(account: &Account, state: &AppState, created: bool) -> HttpResponse {
    let mut response = if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    if created {
        response.insert_header((
            header::LOCATION,
            format!("/api/v1/provider-accounts/{}", account.spec.slug),
        ));
    }
    response
        .insert_header((header::ETAG, account.etag()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(account.to_json(&state.public_url, state.cert_warning_days))
}

/// The shop's saved account of `provider` (404 when the provider is unknown or not
/// configured).
async fn saved_account(
    state: &AppState,
    shop_id: &str,
    provider: &str,
) -> Result<accounts::service::Account, ApiError> {
    let spec = spec_for(provider)?;
    state
        .accounts()
        .get(shop_id, spec)
        .await?
        .ok_or_else(|| DomainError::NotFound(accounts::service::not_configured(spec)).into())
}

pub async fn get_account(
    caller: Authenticated<scope::AccountsRead>,
    provider: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let account = saved_account(&state, &caller.shop_id, &provider).await?;
    Ok(account_response(&account, &state, false))
}

/// `GET /api/v1/provider-accounts/{provider}/form`: the form descriptor for editing the
/// shop's saved account, with its current values and ETag.
pub async fn get_account_form(
    caller: Authenticated<scope::AccountsRead>,
    provider: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let account = saved_account(&state, &caller.shop_id, &provider).await?;
    let etag = account.etag();
    let body = serde_json::json!({
        "fields_schema": form::edit_schema(account.spec, |name| account.secrets_set.contains_key(name)),
        "ui_schema": form::ui_schema(account.spec),
        "form_data": form::form_data(account.spec, account.row.enabled, &account.settings),
        "etag": etag,
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body))
}

pub async fn put_account(
    caller: Authenticated<scope::AccountsWrite>,
    provider: web::Path<String>,
    if_match: IfMatch,
    body: ApiJson<Map<String, Value>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    write(caller, provider, if_match, body, state, WriteMode::Put).await
}

pub async fn patch_account(
    caller: Authenticated<scope::AccountsWrite>,
    provider: web::Path<String>,
    if_match: IfMatch,
    body: ApiJson<Map<String, Value>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    write(caller, provider, if_match, body, state, WriteMode::Patch).await
}

async fn write(
    caller: Authenticated<scope::AccountsWrite>,
    provider: web::Path<String>,
    if_match: IfMatch,
    body: ApiJson<Map<String, Value>>,
    state: web::Data<AppState>,
    mode: WriteMode,
) -> Result<HttpResponse, ApiError> {
    let spec = spec_for(&provider)?;
    let (account, created) = state
        .accounts()
        .write(&caller.actor(&state), spec, body.0, mode, &if_match.0)
        .await?;
    Ok(account_response(&account, &state, created))
}

pub async fn delete_account(
    caller: Authenticated<scope::AccountsWrite>,
    provider: web::Path<String>,
    if_match: IfMatch,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let spec = spec_for(&provider)?;
    state
        .accounts()
        .delete(&caller.actor(&state), spec, &if_match.0)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
