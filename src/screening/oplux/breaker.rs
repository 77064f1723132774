//! A circuit breaker per O-PLUX endpoint: after repeated failures to get an answer, it
//! answers "no answer" at once for a cool-down instead of making every checkout wait for
//! a timeout; then it lets one trial call through, and closes again on success.

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
    circuits: Mutex<HashMap<String, Circuit>>,
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

    pub fn permit(&self, endpoint: &str) -> Permit {
        let mut circuits = self.circuits.lock().unwrap_or_else(|e| e.into_inner());
        let circuit = circuits.entry(endpoint.to_string()).or_insert(Circuit {
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
    pub fn record(&self, endpoint: &str, answered: bool) {
        let mut circuits = self.circuits.lock().unwrap_or_else(|e| e.into_inner());
        let Some(circuit) = circuits.get_mut(endpoint) else {
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

    pub fn state(&self, endpoint: &str) -> State {
        let circuits = self.circuits.lock().unwrap_or_else(|e| e.into_inner());
        match circuits.get(endpoint).and_then(|c| c.open_until) {
            None => State::Closed,
            Some(until) if Instant::now() < until => State::Open,
            Some(_) => State::HalfOpen,
        }
    }

    /// Every endpoint with its state, for metrics.
    pub fn states(&self) -> Vec<(String, State)> {
        let endpoints: Vec<String> = self
            .circuits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        endpoints.into_iter().map(|e| (e.clone(), self.state(&e))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_then_lets_one_trial_through() {
        let breaker = Breaker::new(3, Duration::from_millis(40));
        for _ in 0..3 {
            assert_eq!(breaker.permit("e"), Permit::Call);
            breaker.record("e", false);
        }
        assert_eq!(breaker.state("e"), State::Open);
        assert_eq!(breaker.permit("e"), Permit::Refuse);
        assert_eq!(breaker.permit("other"), Permit::Call, "circuits are per endpoint");
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(breaker.permit("e"), Permit::Call);
        assert_eq!(breaker.permit("e"), Permit::Refuse, "one trial at a time");
        breaker.record("e", false);
        assert_eq!(breaker.state("e"), State::Open, "a failed trial opens again");
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(breaker.permit("e"), Permit::Call);
        breaker.record("e", true);
        assert_eq!(breaker.state("e"), State::Closed);
        assert_eq!(breaker.permit("e"), Permit::Call);
    }
}
