//! Every endpoint, one module per area. `configure` registers them all; the OpenAPI
//! document is collected from the same registration, so it cannot miss a route.

pub mod account_actions;
pub mod audit_events;
pub mod events;
pub mod feed_items;
pub mod health;
pub mod payment_methods;
pub mod provider_accounts;
pub mod provider_routes;
pub mod providers;
pub mod public;
pub mod reviews;
pub mod screenings;
pub mod token;
pub mod webhooks;

use actix_web::{
    dev::{HttpServiceFactory, ServiceFactory, ServiceRequest},
    web,
};
use utoipa_actix_web::{OpenApiFactory, scope, service_config::ServiceConfig};

use self::provider_routes::ProviderAccountRoutes;

/// Registers the server's routes (actix only: the served document is the committed one,
/// so a worker does not build the description of 160 operations it never serves).
pub fn configure(cfg: &mut web::ServiceConfig) {
    root(&mut *cfg).service(api(web::scope("/api/v1")));
}

/// Registers the same routes with their OpenAPI description, for `http::document`.
pub fn describe(cfg: &mut ServiceConfig) {
    root(&mut *cfg).service(api(scope::scope("/api/v1")));
}

/// Where a route goes: the server's configuration or the document's. One list of routes
/// serves both, so the document cannot miss a route the server has.
pub trait Routes: Sized {
    fn service<F: HttpServiceFactory + OpenApiFactory + 'static>(self, factory: F) -> Self;
}

impl Routes for &mut web::ServiceConfig {
    fn service<F: HttpServiceFactory + OpenApiFactory + 'static>(self, factory: F) -> Self {
        web::ServiceConfig::service(self, factory);
        self
    }
}

impl Routes for &mut ServiceConfig<'_> {
    fn service<F: HttpServiceFactory + OpenApiFactory + 'static>(self, factory: F) -> Self {
        ServiceConfig::service(self, factory);
        self
    }
}

impl Routes for actix_web::Scope {
    fn service<F: HttpServiceFactory + OpenApiFactory + 'static>(self, factory: F) -> Self {
        actix_web::Scope::service(self, factory)
    }
}

impl<T> Routes for scope::Scope<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    fn service<F: HttpServiceFactory + OpenApiFactory + 'static>(self, factory: F) -> Self {
        scope::Scope::service(self, factory)
    }
}

/// The routes outside `/api/v1`.
fn root<R: Routes>(routes: R) -> R {
    routes
        .service(health::openapi_json)
        .service(health::healthz)
        .service(health::readyz)
        .service(health::metrics)
        .service(public::epos_banner)
        .service(public::default_epos_banner)
        .service(public::facebook_feed)
}

/// The routes of `/api/v1`.
fn api<R: Routes>(routes: R) -> R {
    routes
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
        .service(reviews::decide_review)
        .service(reviews::list_reviews)
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
        .service(webhooks::recover_webhook_endpoint)
        // One set of handlers for every provider, registered and documented per provider
        // from the same tables. Last: it replaces derived schemas.
        .service(ProviderAccountRoutes)
}
