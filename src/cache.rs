//! In-memory caches for the hot paths (checkout pages, screening, token checks), each
//! bounded in staleness. What checkout and screening see is versioned per shop in the
//! database (`shops.config_version`, bumped by every change); a replica re-reads that
//! version at most every `ttl`, and at once after a change it made itself. So a change
//! made through one replica shows on the others within `ttl` (`RENKEI_CACHE_TTL_MS`).

use std::{
    collections::HashMap,
    hash::Hash,
    sync::Mutex,
    time::{Duration, Instant},
};

use sea_orm::{ConnectionTrait, DbErr};

use crate::store::{clients, shops};

/// Entries a cache keeps before starting over.
const CAPACITY: usize = 10_000;
/// How much longer than its time to live a client's last check stands while the database
/// cannot be reached.
const STALE_WHILE_UNAVAILABLE: Duration = Duration::from_secs(30);

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The config version of each shop, re-read from the database at most every `ttl`.
pub struct ShopVersions {
    ttl: Duration,
    entries: Mutex<HashMap<String, (i64, Instant)>>,
}

impl ShopVersions {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub async fn current(&self, db: &impl ConnectionTrait, shop_id: &str) -> Result<i64, DbErr> {
        if let Some((version, read_at)) = lock(&self.entries).get(shop_id)
            && read_at.elapsed() < self.ttl
        {
            return Ok(*version);
        }
        let version = shops::config_version(db, shop_id).await?;
        let mut entries = lock(&self.entries);
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(shop_id.to_string(), (version, Instant::now()));
        Ok(version)
    }

    /// This replica changed the shop: read the version again at the next request.
    pub fn forget(&self, shop_id: &str) {
        lock(&self.entries).remove(shop_id);
    }
}

/// Values valid for one config version of their shop.
pub struct Versioned<K, V> {
    entries: Mutex<HashMap<K, (i64, V)>>,
}

impl<K, V> Default for Versioned<K, V> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq, V: Clone> Versioned<K, V> {
    pub fn get(&self, key: &K, version: i64) -> Option<V> {
        lock(&self.entries)
            .get(key)
            .filter(|(v, _)| *v == version)
            .map(|(_, value)| value.clone())
    }

    pub fn put(&self, key: K, version: i64, value: V) {
        let mut entries = lock(&self.entries);
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(key, (version, value));
    }
}

/// Whether an API client may call (exists, not revoked, of the token's shop), re-checked
/// in the database at most every `ttl`: a client revoked elsewhere is refused within it.
pub struct ClientCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Option<String>, Instant)>>,
}

impl ClientCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the client is active and belongs to `shop_id`.
    pub async fn is_active(&self, db: &impl ConnectionTrait, client_id: &str, shop_id: &str) -> Result<bool, DbErr> {
        let known = lock(&self.entries).get(client_id).cloned();
        if let Some((shop, checked_at)) = &known
            && checked_at.elapsed() < self.ttl
        {
            return Ok(shop.as_deref() == Some(shop_id));
        }
        let active_shop = match clients::find(db, client_id).await {
            Ok(client) => client.filter(|c| c.revoked_at.is_none()).map(|c| c.shop_id),
            // While the database cannot be reached (a restart, a fail-over), the last
            // answer stands a little longer: an outage of seconds refuses no checkout.
            Err(err)
                if crate::store::is_unavailable(&err)
                    && known
                        .as_ref()
                        .is_some_and(|(_, at)| at.elapsed() < self.ttl + STALE_WHILE_UNAVAILABLE) =>
            {
                let shop = known.and_then(|(shop, _)| shop);
                return Ok(shop.as_deref() == Some(shop_id));
            }
            Err(err) => return Err(err),
        };
        let active = active_shop.as_deref() == Some(shop_id);
        let mut entries = lock(&self.entries);
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(client_id.to_string(), (active_shop, Instant::now()));
        Ok(active)
    }
}
