//! First start: with an empty database, shop `demo` and a client holding every scope,
//! so that a new user can call the API at once.

use sea_orm::DatabaseConnection;

use crate::{
    auth::{
        ScopeSet,
        clients::{self, ClientError, NewCredentials},
    },
    store::shops,
};

pub const DEMO_SHOP: &str = "demo";

/// Creates the demo shop and client when no shop exists yet. Returns the new credentials
/// (to be shown once), or `None` when the database already had shops.
pub async fn demo_client(db: &DatabaseConnection) -> Result<Option<NewCredentials>, ClientError> {
    if shops::count(db).await? > 0 {
        return Ok(None);
    }
    let credentials = clients::create(
        db,
        DEMO_SHOP,
        "demo (created on first start)",
        ScopeSet::all(),
        clients::CLI_ACTOR,
    )
    .await?;
    Ok(Some(credentials))
}
