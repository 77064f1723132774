//! Limits failed token requests per source address. Past the limit a wrong secret is
//! answered 429 at once, but a correct one still gets its token: the limit slows guessing
//! (pointless against 256-bit secrets anyway) and never lets anybody lock a client out by
//! failing on its behalf. Kept in memory, bounded: each replica limits on its own.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

pub struct FailureLimiter {
    limit: u32,
    window: Duration,
    capacity: usize,
    entries: Mutex<HashMap<IpAddr, Window>>,
}

struct Window {
    started: Instant,
    failures: u32,
}

/// Source addresses remembered at most (about 50 bytes each).
pub const DEFAULT_CAPACITY: usize = 100_000;

impl FailureLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self::with_capacity(limit, window, DEFAULT_CAPACITY)
    }

    pub fn with_capacity(limit: u32, window: Duration, capacity: usize) -> Self {
        Self {
            limit,
            window,
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds)` to wait when `source` has used up its failures.
    pub fn check(&self, source: IpAddr) -> Result<(), u64> {
        let key = bucket(source);
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let wait = entries
            .get(&key)
            .filter(|w| w.failures >= self.limit)
            .and_then(|w| (w.started + self.window).checked_duration_since(Instant::now()));
        match wait {
            Some(wait) => Err(wait.as_secs().max(1)),
            None => Ok(()),
        }
    }

    pub fn record_failure(&self, source: IpAddr) {
        let key = bucket(source);
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if !entries.contains_key(&key) && entries.len() >= self.capacity {
            entries.retain(|_, w| now.duration_since(w.started) < self.window);
            if entries.len() >= self.capacity {
                // Still full of live windows: forget the oldest to stay bounded.
                if let Some(oldest) = entries.iter().min_by_key(|(_, w)| w.started).map(|(k, _)| *k) {
                    entries.remove(&oldest);
                }
            }
        }
        let window = entries.entry(key).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now.duration_since(window.started) >= self.window {
            *window = Window {
                started: now,
                failures: 0,
            };
        }
        window.failures = window.failures.saturating_add(1);
    }

    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One IPv6 host usually holds a whole /64: count it as one source.
fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        IpAddr::V6(v6) => IpAddr::V4(v6.to_ipv4_mapped().unwrap_or(std::net::Ipv4Addr::UNSPECIFIED)),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn blocks_after_the_limit_until_the_window_ends() {
        let limiter = FailureLimiter::new(2, Duration::from_millis(50));
        assert!(limiter.check(ip("192.0.2.1")).is_ok());
        limiter.record_failure(ip("192.0.2.1"));
        limiter.record_failure(ip("192.0.2.1"));
        assert_eq!(limiter.check(ip("192.0.2.1")), Err(1));
        assert!(limiter.check(ip("192.0.2.2")).is_ok());
        std::thread::sleep(Duration::from_millis(60));
        assert!(limiter.check(ip("192.0.2.1")).is_ok());
    }

    #[test]
    fn an_ipv6_slash_64_is_one_source() {
        let limiter = FailureLimiter::new(1, Duration::from_secs(60));
        limiter.record_failure(ip("2001:db8::1"));
        assert!(limiter.check(ip("2001:db8::ffff")).is_err());
        assert!(limiter.check(ip("2001:db8:0:1::1")).is_ok());
    }

    #[test]
    fn memory_stays_within_its_capacity() {
        let limiter = FailureLimiter::with_capacity(1, Duration::from_secs(60), 100);
        for i in 0..1000u32 {
            limiter.record_failure(IpAddr::V4(i.into()));
        }
        assert_eq!(limiter.len(), 100);
        assert!(limiter.check(IpAddr::V4(999u32.into())).is_err(), "the newest is kept");
    }
}
