//! A circuit breaker per shop and O-PLUX endpoint: after repeated failures to get an
//! answer, it answers "no answer" at once for a cool-down instead of making every checkout
//! wait for a timeout; then it lets one trial call through, and closes again on success.
//! Keyed by shop too, so that one shop's bad settings (a wrong stand-in URL, credentials
//! O-PLUX refuses) never open the circuit for the other shops on the same endpoint.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Closed,
    Open,
    HalfOpen,
}

struct Circuit {
    consecutive_failures: u32,
    open_until: Option<Instant>,
    trial_running: bool,
}

pub struct Breaker {
    threshold: u32,
    cool_down: Duration,
    circuits: Mutex<HashMap<(String, String), Circuit>>,
}

/// Whether a call may go ahead.
#[derive(Debug, PartialEq, Eq)]
pub enum Permit {
    Call,
    /// The circuit is open: fail at once.
    Refuse,
}

impl Breaker {
    pub fn new(threshold: u32, cool_down: Duration) -> Self {
        Self {
            threshold,
            cool_down,
            circuits: Mutex::new(HashMap::new()),
        }
    }

    pub fn permit(&self, shop: &str, endpoint: &str) -> Permit {
        let mut circuits = self.circuits.lock().unwrap_or_else(|e| e.into_inner());
        let circuit = circuits.entry(key(shop, endpoint)).or_insert(Circuit {
            consecutive_failures: 0,
            open_until: None,
            trial_running: false,
        });
        match circuit.open_until {
            None => Permit::Call,
            Some(until) if Instant::now() < until => Permit::Refuse,
            // Cool-down over: one trial call at a time.
            Some(_) if circuit.trial_running => Permit::Refuse,
            Some(_) => {
                circuit.trial_running = true;
                Permit::Call
            }
        }
    }

    /// Records the end of a permitted call: `answered` when O-PLUX gave a readable answer.
    pub fn record(&self, shop: &str, endpoint: &str, answered: bool) {
        let mut circuits = self.circuits.lock().unwrap_or_else(|e| e.into_inner());
        let Some(circuit) = circuits.get_mut(&key(shop, endpoint)) else {
            return;
        };
        circuit.trial_running = false;
        if answered {
            circuit.consecutive_failures = 0;
            circuit.open_until = None;
        } else {
            circuit.consecutive_failures += 1;
            if circuit.open_until.is_some() || circuit.consecutive_failures >= self.threshold {
                circuit.open_until = Some(Instant::now() + self.cool_down);
            }
        }
    }

    pub fn state(&self, shop: &str, endpoint: &str) -> State {
        let circuits = self.circuits.lock().unwrap_or_else(|e| e.into_inner());
        circuits.get(&key(shop, endpoint)).map_or(State::Closed, Circuit::state)
    }

    /// The state of every circuit, for metrics (counted, not labelled by shop or URL).
    pub fn states(&self) -> Vec<State> {
        let circuits = self.circuits.lock().unwrap_or_else(|e| e.into_inner());
        circuits.values().map(Circuit::state).collect()
    }
}

impl Circuit {
    fn state(&self) -> State {
        match self.open_until {
            None => State::Closed,
            Some(until) if Instant::now() < until => State::Open,
            Some(_) => State::HalfOpen,
        }
    }
}

fn key(shop: &str, endpoint: &str) -> (String, String) {
    (shop.to_string(), endpoint.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_then_lets_one_trial_through() {
        let breaker = Breaker::new(3, Duration::from_millis(40));
        for _ in 0..3 {
            assert_eq!(breaker.permit("s", "e"), Permit::Call);
            breaker.record("s", "e", false);
        }
        assert_eq!(breaker.state("s", "e"), State::Open);
        assert_eq!(breaker.permit("s", "e"), Permit::Refuse);
        assert_eq!(breaker.permit("s", "other"), Permit::Call, "circuits are per endpoint");
        assert_eq!(breaker.permit("t", "e"), Permit::Call, "circuits are per shop");
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(breaker.permit("s", "e"), Permit::Call);
        assert_eq!(breaker.permit("s", "e"), Permit::Refuse, "one trial at a time");
        breaker.record("s", "e", false);
        assert_eq!(breaker.state("s", "e"), State::Open, "a failed trial opens again");
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(breaker.permit("s", "e"), Permit::Call);
        breaker.record("s", "e", true);
        assert_eq!(breaker.state("s", "e"), State::Closed);
        assert_eq!(breaker.permit("s", "e"), Permit::Call);
    }
}
