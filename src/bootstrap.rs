//! First start: with an empty database, shop `demo` and a client holding every scope,
//! so that a new user can call the API at once.

use sea_orm::DatabaseConnection;

use crate::{
    accounts::{engine::WriteMode, providers::fraud::OPLUX, service::Accounts},
    auth::{
        ScopeSet,
        clients::{self, ClientError, NewCredentials},
    },
    core::{Actor, Precondition},
    crypto::{password::Peppers, seal::MasterKeys},
    outbound::OutboundPolicy,
    standin::MockCredential,
    store::shops,
};

pub const DEMO_SHOP: &str = "demo";

/// Creates the demo shop and client when no shop exists yet — and, when `oplux_endpoint`
/// is given, an O-PLUX account pointing there with the stand-in's demo credentials.
/// Returns the new credentials (to be shown once), or `None` when the database already
/// had shops. Never called in production (`Config::bootstrap_demo`).
pub async fn demo_client(
    db: &DatabaseConnection,
    oplux_endpoint: Option<&str>,
    keys: &MasterKeys,
    peppers: &Peppers,
    outbound: &OutboundPolicy,
) -> Result<Option<NewCredentials>, ClientError> {
    if shops::count(db).await? > 0 {
        return Ok(None);
    }
    let credentials = clients::create(
        db,
        DEMO_SHOP,
        "demo (created on first start)",
        ScopeSet::all(),
        clients::CLI_ACTOR,
        peppers,
    )
    .await?;
    if let Some(endpoint) = oplux_endpoint {
        let mock = MockCredential::demo();
        let settings = serde_json::json!({
            "merchant_id": mock.merchant_id, "source_id": mock.source_id, "secret_key": mock.secret_key,
            "model_id": "CRD_01", "endpoint": endpoint, "timeout_ms": 3000,
            "on_hold": {"action": "create_order"}, "on_review": {"action": "create_order"},
            "on_ng": {"action": "redirect", "redirect_url": "https://shop.example.jp/orders/ng"},
        });
        let actor = Actor::offline(DEMO_SHOP, clients::CLI_ACTOR);
        let body = settings.as_object().cloned().unwrap_or_default();
        let written = Accounts { db, keys, outbound }
            .write(&actor, &OPLUX, body, WriteMode::Put, &Precondition::None)
            .await;
        if let Err(err) = written {
            tracing::warn!(error = %err, "the demo O-PLUX account could not be created");
        }
    }
    Ok(Some(credentials))
}
