//! `/api/v1/providers`: the form descriptors of the 外部連携アカウント管理 screen, made from
//! the providers' declarations (`accounts::form`), the same ones the server validates
//! with. They are the same for every shop.

use actix_web::{HttpResponse, get, http::header, web};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::provider_accounts::spec_for;
use crate::{
    accounts::{self, ProviderSpec, form},
    http::{
        auth::{Authenticated, scope},
        openapi::{problems, providers as documented},
        problem::ApiError,
    },
};

/// A provider as the admin screen lists it.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "provider": "gmo-pg", "display_name": "GMO PG", "category": "payment",
    "category_label": "クレジットカード決済", "screen_order": 1
}))]
pub struct ProviderEntry {
    /// The provider's slug: the path segment of its account and of its descriptor.
    #[schema(schema_with = documented::provider_slug_ref)]
    pub provider: &'static str,
    pub display_name: &'static str,
    #[schema(schema_with = documented::category_ref)]
    pub category: &'static str,
    /// The category's name on the admin screen (Japanese).
    pub category_label: &'static str,
    /// Where the provider comes on the screen, from 1.
    #[schema(minimum = 1)]
    pub screen_order: usize,
}

#[derive(Serialize, ToSchema)]
pub struct ProviderEntryList {
    /// Every provider, in screen order.
    pub items: Vec<ProviderEntry>,
    /// Always null: the list is complete.
    pub next_cursor: Option<String>,
}

/// A heading of the provider's screen and the fields under it, in order.
#[derive(Serialize, ToSchema)]
pub struct FieldGroup {
    /// The heading (Japanese, from the seed), e.g. `GMO PG 認証情報`.
    pub title: String,
    /// Field names, in display order: properties of `fields_schema`, or read-only
    /// fields of the account (listed in `read_only`).
    pub fields: Vec<&'static str>,
}

/// A field the account shows but no body writes (fixed, computed or linked).
#[derive(Serialize, ToSchema)]
pub struct ReadOnlyField {
    pub name: &'static str,
    /// The seed's label.
    pub title: &'static str,
    pub description: String,
}

/// Everything a form library needs to render and check a provider's account form.
#[derive(Serialize, ToSchema)]
pub struct ProviderForm {
    #[serde(flatten)]
    pub entry: ProviderEntry,
    /// JSON Schema 2020-12 of the account's input (a PUT body): each property's `title`
    /// is the seed's Japanese label, `description` its help, `writeOnly` marks secrets,
    /// choices are `oneOf` of `const` + `title`, and `allOf` holds the completeness rule
    /// (`enabled` true needs every required field) and the rules between fields. The
    /// server accepts a body exactly when it is valid against it, except for PEM
    /// contents, rules in code and rules across accounts; it also normalises text
    /// (trimming, full-width to half-width).
    #[schema(value_type = Object)]
    pub fields_schema: Value,
    /// react-jsonschema-form's uiSchema for `fields_schema`: `ui:order`, `ui:widget:
    /// "password"` for every secret, a title for every nested field.
    #[schema(value_type = Object)]
    pub ui_schema: Value,
    /// Every field in display order (`enabled` first).
    pub order: Vec<&'static str>,
    /// The headings of the screen, in order.
    pub groups: Vec<FieldGroup>,
    pub read_only: Vec<ReadOnlyField>,
}

fn entry(position: usize, spec: &'static ProviderSpec) -> ProviderEntry {
    ProviderEntry {
        provider: spec.slug,
        display_name: spec.display_name,
        category: spec.category.as_str(),
        category_label: spec.category.label(),
        screen_order: position + 1,
    }
}

/// List every provider, in the order of the admin screen.
#[utoipa::path(
    tag = "providers",
    security(("bearer" = ["accounts:read"])),
    responses(
        (status = 200, description = "Every provider", body = ProviderEntryList),
        problems::Secured,
    )
)]
#[get("/providers")]
pub async fn list_providers(_caller: Authenticated<scope::AccountsRead>) -> HttpResponse {
    let items = accounts::ALL
        .iter()
        .enumerate()
        .map(|(position, spec)| entry(position, spec))
        .collect();
    cached(&ProviderEntryList {
        items,
        next_cursor: None,
    })
}

/// The form descriptor of a provider's account.
#[utoipa::path(
    tag = "providers",
    params(("provider" = documented::ProviderSlug, Path, description = "The provider's slug")),
    security(("bearer" = ["accounts:read"])),
    responses(
        (status = 200, description = "The provider's form", body = ProviderForm),
        problems::Secured,
        problems::NotFound,
    )
)]
#[get("/providers/{provider}")]
pub async fn get_provider(
    _caller: Authenticated<scope::AccountsRead>,
    provider: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let spec = spec_for(&provider)?;
    let position = accounts::ALL
        .iter()
        .position(|p| p.slug == spec.slug)
        .unwrap_or_default();
    let groups = form::groups(spec);
    let read_only = spec
        .fields
        .iter()
        .filter(|f| !f.is_writable())
        .map(|f| ReadOnlyField {
            name: f.name,
            title: f.label,
            description: form::help(f),
        })
        .collect();
    Ok(cached(&ProviderForm {
        entry: entry(position, spec),
        fields_schema: form::fields_schema(spec),
        ui_schema: form::ui_schema(spec),
        order: groups.iter().flat_map(|(_, names)| names.iter().copied()).collect(),
        groups: groups
            .into_iter()
            .map(|(title, fields)| FieldGroup { title, fields })
            .collect(),
        read_only,
    }))
}

/// The descriptors change only with a release.
fn cached(body: &impl Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "private, max-age=300"))
        .json(body)
}
