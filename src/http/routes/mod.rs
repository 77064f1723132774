//! Every endpoint, one module per area. `configure` registers them all; the OpenAPI
//! document is collected from the same registration, so it cannot miss a route.

pub mod account_actions;
pub mod audit_events;
pub mod events;
pub mod feed_items;
pub mod health;
pub mod payment_methods;
pub mod provider_accounts;
pub mod providers;
pub mod public;
pub mod screenings;
pub mod token;
pub mod webhooks;

use utoipa_actix_web::{scope, service_config::ServiceConfig};

use crate::http::openapi::{self, providers::ProviderAccountRoutes};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(openapi::openapi_json)
        .service(health::healthz)
        .service(health::readyz)
        .service(health::metrics)
        .service(public::epos_banner)
        .service(public::default_epos_banner)
        .service(public::facebook_feed)
        .service(
            scope::scope("/api/v1")
                .service(token::issue_token)
                .service(audit_events::list_audit_events)
                .service(provider_accounts::list_provider_accounts)
                .service(feed_items::upsert_feed_items)
                .service(feed_items::list_feed_items)
                .service(feed_items::delete_feed_item)
                .service(payment_methods::list_payment_methods)
                .service(payment_methods::create_payment_method)
                .service(payment_methods::get_payment_method)
                .service(payment_methods::put_payment_method)
                .service(payment_methods::patch_payment_method)
                .service(payment_methods::delete_payment_method)
                .service(payment_methods::issue_transaction_id)
                .service(payment_methods::checkout_config)
                .service(screenings::screen_order)
                .service(screenings::get_screening)
                .service(screenings::list_screenings)
                .service(screenings::sync_screening)
                .service(screenings::update_screening)
                .service(screenings::list_exchanges)
                .service(screenings::verify_oplux)
                .service(providers::list_providers)
                .service(providers::get_provider)
                .service(events::list_events)
                .service(events::redeliver_event)
                .service(webhooks::create_webhook_endpoint)
                .service(webhooks::list_webhook_endpoints)
                .service(webhooks::get_webhook_endpoint)
                .service(webhooks::patch_webhook_endpoint)
                .service(webhooks::delete_webhook_endpoint)
                .service(webhooks::rotate_webhook_secret)
                .service(webhooks::list_webhook_deliveries)
                // One set of handlers for every provider, registered and documented per
                // provider from the same tables. Last: it replaces derived schemas.
                .service(ProviderAccountRoutes),
        );
}
