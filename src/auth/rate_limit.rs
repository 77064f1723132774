//! Limits failed token requests per caller address and per client id, so that secrets
//! cannot be guessed at speed. Kept in memory: each replica limits on its own, which
//! bounds guessing at (replicas × limit) per window.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

pub struct FailureLimiter {
    limit: u32,
    window: Duration,
    entries: Mutex<HashMap<String, Window>>,
}

struct Window {
    started: Instant,
    failures: u32,
}

const PRUNE_ABOVE: usize = 10_000;

impl FailureLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds)` to wait when any of `keys` has used up its failures.
    pub fn check(&self, keys: &[&str]) -> Result<(), u64> {
        let now = Instant::now();
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let wait = keys
            .iter()
            .filter_map(|key| entries.get(*key))
            .filter(|w| w.failures >= self.limit)
            .filter_map(|w| (w.started + self.window).checked_duration_since(now))
            .max();
        match wait {
            Some(wait) => Err(wait.as_secs().max(1)),
            None => Ok(()),
        }
    }

    pub fn record_failure(&self, keys: &[&str]) {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() > PRUNE_ABOVE {
            entries.retain(|_, w| now.duration_since(w.started) < self.window);
        }
        for key in keys {
            let window = entries.entry((*key).to_string()).or_insert(Window {
                started: now,
                failures: 0,
            });
            if now.duration_since(window.started) >= self.window {
                *window = Window {
                    started: now,
                    failures: 0,
                };
            }
            window.failures += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_until_the_window_ends() {
        let limiter = FailureLimiter::new(2, Duration::from_millis(50));
        assert!(limiter.check(&["ip:a"]).is_ok());
        limiter.record_failure(&["ip:a"]);
        limiter.record_failure(&["ip:a"]);
        assert_eq!(limiter.check(&["ip:a"]), Err(1));
        assert!(limiter.check(&["ip:b"]).is_ok());
        std::thread::sleep(Duration::from_millis(60));
        assert!(limiter.check(&["ip:a"]).is_ok());
    }
}
