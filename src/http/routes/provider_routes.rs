//! The provider accounts as one registration: `ProviderAccountRoutes` registers the
//! account operations (`provider_accounts::OPERATIONS`, one route set for `{provider}`),
//! the editing form, and the actions (`account_actions::ACTIONS`), and documents the same
//! tables — a path `/api/v1/provider-accounts/{slug}` per declared provider with the
//! operations registered, and the action paths — so route and document cannot drift.

use actix_web::{
    dev::{AppService, HttpServiceFactory},
    web,
};
use serde_json::{Map, Value, json};
use utoipa::openapi::{
    RefOr,
    path::{PathItem, Paths},
    schema::Schema,
};
use utoipa_actix_web::OpenApiFactory;

use super::{account_actions, provider_accounts};
use crate::{
    accounts::ALL,
    http::openapi::{
        self,
        providers::{get_account_form, provider_schemas},
    },
};

/// Registers and documents every provider account operation and action.
pub struct ProviderAccountRoutes;

impl HttpServiceFactory for ProviderAccountRoutes {
    fn register(self, config: &mut AppService) {
        let no_route = || web::to(openapi::no_route);
        // Actions first: their paths would otherwise be taken by `{provider}`.
        let mut paths: Vec<&str> = account_actions::ACTIONS.iter().map(|a| a.path).collect();
        paths.dedup();
        for path in paths {
            let resource = account_actions::ACTIONS
                .iter()
                .filter(|a| a.path == path)
                .fold(web::resource(format!("/provider-accounts/{path}")), |r, a| {
                    r.route((a.route)())
                });
            resource.default_service(no_route()).register(config);
        }
        web::resource("/provider-accounts/{provider}/form")
            .route(web::get().to(provider_accounts::get_account_form))
            .default_service(no_route())
            .register(config);
        provider_accounts::OPERATIONS
            .iter()
            .fold(web::resource("/provider-accounts/{provider}"), |r, op| {
                r.route((op.route)())
            })
            .default_service(no_route())
            .register(config);
    }
}

impl OpenApiFactory for ProviderAccountRoutes {
    fn paths(&self) -> Paths {
        let mut paths = Paths::new();
        for spec in ALL.iter() {
            let item: Map<String, Value> = provider_accounts::OPERATIONS
                .iter()
                .map(|op| (op.method.to_string(), (op.document)(spec)))
                .collect();
            paths.paths.insert(
                format!("/provider-accounts/{}", spec.slug),
                path_item(Value::Object(item)),
            );
            paths.paths.insert(
                format!("/provider-accounts/{}/form", spec.slug),
                path_item(json!({"get": get_account_form(spec)})),
            );
        }
        for action in account_actions::ACTIONS {
            let item = path_item(json!({action.method: (action.document)()}));
            let path = format!("/provider-accounts/{}", action.path);
            match paths.paths.get_mut(&path) {
                Some(existing) => existing.merge_operations(item),
                None => {
                    paths.paths.insert(path, item);
                }
            }
        }
        paths
    }

    fn schemas(&self, schemas: &mut Vec<(String, RefOr<Schema>)>) {
        for (name, schema) in provider_schemas() {
            let schema: RefOr<Schema> = serde_json::from_value(schema).expect("generated schemas are valid OpenAPI");
            schemas.push((name, schema));
        }
    }
}

fn path_item(item: Value) -> PathItem {
    serde_json::from_value(item).expect("generated path items are valid OpenAPI")
}
