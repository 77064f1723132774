//! Redeliver and recover are limited per shop: at most `limit` calls in a
//! window, then 429 with `Retry-After` until the window ends. Kept in memory and
//! bounded: each replica limits on its own.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

pub struct ShopLimiter {
    limit: u32,
    window: Duration,
    entries: Mutex<HashMap<String, (Instant, u32)>>,
}

/// Redeliver and recover calls a shop may make per minute (on each replica).
pub const REQUESTS_PER_MINUTE: u32 = 120;

/// Shops remembered at most.
const CAPACITY: usize = 100_000;

impl ShopLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one call of the shop; `Err(seconds to wait)` past the limit.
    pub fn take(&self, shop_id: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if !entries.contains_key(shop_id) && entries.len() >= CAPACITY {
            entries.retain(|_, (started, _)| now.duration_since(*started) < self.window);
        }
        let entry = entries.entry(shop_id.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.limit {
            let wait = (entry.0 + self.window).saturating_duration_since(now);
            return Err(wait.as_secs().max(1));
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_limit_per_shop() {
        let limiter = ShopLimiter::new(2, Duration::from_secs(60));
        assert!(limiter.take("a").is_ok());
        assert!(limiter.take("a").is_ok());
        assert!(matches!(limiter.take("a"), Err(wait) if (1..=60).contains(&wait)));
        assert!(limiter.take("b").is_ok());
    }
}
