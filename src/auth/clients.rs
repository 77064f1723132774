//! Creating, revoking and authenticating API clients.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

use super::ScopeSet;
use crate::{
    core::Secret,
    crypto::{
        password::{Peppers, Verified},
        random::hex,
        random_bytes, random_token,
    },
    store::{
        audit::{self, AuditRecord},
        clients::{self, ApiClient, NewClient},
        shops,
    },
};

/// The actor recorded in the audit log for changes made from the command line.
pub const CLI_ACTOR: &str = "cli";

/// A newly created client with its secret, shown once and never stored.
#[derive(Debug)]
pub struct NewCredentials {
    pub client_id: String,
    pub client_secret: Secret<String>,
    pub shop_id: String,
    pub scopes: ScopeSet,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("shop '{0}' is not a valid shop id: expected 1-64 lower-case letters, digits, '-' or '_'")]
    InvalidShop(String),
    #[error("a client needs at least one scope")]
    NoScopes,
    #[error("client name must be 1-200 characters")]
    InvalidName,
    #[error(transparent)]
    Database(#[from] DbErr),
}

pub fn is_valid_shop_id(shop_id: &str) -> bool {
    (1..=64).contains(&shop_id.len())
        && shop_id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Creates a client (and its shop when new) and records it in the audit log.
pub async fn create(
    db: &DatabaseConnection,
    shop_id: &str,
    name: &str,
    scopes: ScopeSet,
    actor: &str,
    peppers: &Peppers,
) -> Result<NewCredentials, ClientError> {
    if !is_valid_shop_id(shop_id) {
        return Err(ClientError::InvalidShop(shop_id.to_string()));
    }
    if scopes.is_empty() {
        return Err(ClientError::NoScopes);
    }
    let name = name.trim();
    if !(1..=200).contains(&name.chars().count()) {
        return Err(ClientError::InvalidName);
    }
    let client_id = format!("rkc_{}", hex(&random_bytes::<12>()));
    let client_secret = format!("rks_{}", random_token::<32>());
    let secret_hash = peppers.hash(&client_secret);

    let txn = crate::store::begin_write(db).await?;
    shops::ensure(&txn, shop_id).await?;
    clients::insert(
        &txn,
        NewClient {
            id: &client_id,
            shop_id,
            name,
            scopes: &scopes.to_string(),
            secret_hash: &secret_hash,
        },
    )
    .await?;
    audit::record(
        &txn,
        AuditRecord {
            shop_id,
            actor,
            request_id: None,
            resource_type: "api_client",
            resource_id: &client_id,
            action: "create",
            fields: &["name", "scopes", "client_secret"],
        },
    )
    .await?;
    txn.commit().await?;
    Ok(NewCredentials {
        client_id,
        client_secret: Secret::new(client_secret),
        shop_id: shop_id.to_string(),
        scopes,
    })
}

/// Revokes a client: its tokens stop working at once. `None` when the id is unknown.
pub async fn revoke(db: &DatabaseConnection, client_id: &str, actor: &str) -> Result<Option<ApiClient>, DbErr> {
    let txn = crate::store::begin_write(db).await?;
    let Some(existing) = clients::find(&txn, client_id).await? else {
        return Ok(None);
    };
    if existing.revoked_at.is_some() {
        return Ok(Some(existing));
    }
    let revoked = clients::revoke(&txn, client_id, Utc::now()).await?;
    audit::record(
        &txn,
        AuditRecord {
            shop_id: &existing.shop_id,
            actor,
            request_id: None,
            resource_type: "api_client",
            resource_id: client_id,
            action: "revoke",
            fields: &["revoked_at"],
        },
    )
    .await?;
    txn.commit().await?;
    Ok(revoked)
}

/// Whether `client_id` has the shape of an id `create` makes (`rkc_` + 24 hex digits).
/// Anything else is refused before any work, and never logged.
pub fn is_plausible_id(client_id: &str) -> bool {
    client_id.len() == 28
        && client_id.starts_with("rkc_")
        && client_id[4..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Recently read clients by id (and ids that do not exist), so that a flood of wrong
/// secrets does not cost a database read each. Only refusals are answered from it: a
/// secret that matches is checked again against the stored row (revocation, new hash)
/// before a token is issued. Entries live `RENKEI_CACHE_TTL_MS`; bounded.
pub struct CredentialCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, Cached>>,
}

/// When a client was read, and what was read (`None`: no such client).
type Cached = (Instant, Option<Arc<ApiClient>>);

const CREDENTIAL_CACHE_CAPACITY: usize = 10_000;

impl CredentialCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The client, and whether it was read from the database just now.
    async fn find(&self, db: &impl ConnectionTrait, client_id: &str) -> Result<(Option<Arc<ApiClient>>, bool), DbErr> {
        let now = Instant::now();
        if let Some((read_at, client)) = self.lock().get(client_id)
            && now.duration_since(*read_at) < self.ttl
        {
            return Ok((client.clone(), false));
        }
        Ok((self.read(db, client_id).await?, true))
    }

    async fn read(&self, db: &impl ConnectionTrait, client_id: &str) -> Result<Option<Arc<ApiClient>>, DbErr> {
        let now = Instant::now();
        let client = clients::find(db, client_id).await?.map(Arc::new);
        if !self.ttl.is_zero() {
            let mut entries = self.lock();
            if entries.len() >= CREDENTIAL_CACHE_CAPACITY {
                entries.retain(|_, (read_at, _)| now.duration_since(*read_at) < self.ttl);
                if entries.len() >= CREDENTIAL_CACHE_CAPACITY {
                    entries.clear();
                }
            }
            entries.insert(client_id.to_string(), (now, client.clone()));
        }
        Ok(client)
    }

    fn forget(&self, client_id: &str) {
        self.lock().remove(client_id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The client when the id and secret match and it is not revoked. Spends the same time
/// whether or not the id exists, so timing does not tell which ids are real. A hash in an
/// older form is replaced by a current one once the secret has matched.
pub async fn authenticate(
    db: &impl ConnectionTrait,
    cache: &CredentialCache,
    peppers: &Arc<Peppers>,
    client_id: &str,
    client_secret: &str,
) -> Result<Option<Arc<ApiClient>>, DbErr> {
    let (mut client, fresh) = cache.find(db, client_id).await?;
    let mut verified = verify(peppers, client.as_ref(), client_secret).await;
    if verified.matches() && !fresh {
        // A cached row may be revoked or rehashed meanwhile: never issue from it.
        client = cache.read(db, client_id).await?;
        verified = verify(peppers, client.as_ref(), client_secret).await;
    }
    let Some(client) = client.filter(|c| verified.matches() && c.revoked_at.is_none()) else {
        return Ok(None);
    };
    if verified == Verified::YesRehash {
        clients::set_secret_hash(db, &client.id, &peppers.hash(client_secret)).await?;
        cache.forget(&client.id);
    }
    Ok(Some(client))
}

async fn verify(peppers: &Arc<Peppers>, client: Option<&Arc<ApiClient>>, secret: &str) -> Verified {
    let stored = client.map_or_else(|| peppers.decoy(), |c| c.secret_hash.clone());
    if Peppers::is_slow(&stored) {
        // The earlier PBKDF2 form is deliberately slow: keep it off the async workers.
        let (peppers, secret) = (peppers.clone(), secret.to_string());
        tokio::task::spawn_blocking(move || peppers.verify(&secret, &stored))
            .await
            .unwrap_or(Verified::No)
    } else {
        peppers.verify(secret, &stored)
    }
}
