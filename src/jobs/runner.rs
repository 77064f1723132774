//! The one runner of this replica's background work, with one shutdown path:
//! - `every`: a pass every interval on the replica holding the job's lease (one replica
//!   at a time: the manual-review poller, event retention);
//! - `every_here`: a pass every interval on each replica (work a replica does for itself
//!   or that is safe everywhere: the certificate check, SQLite checkpoints);
//! - `service`: a task that runs until shutdown (the webhook worker).
//!
//! A panicking pass is logged and the next one runs (`jobs::contained`). `Jobs::shutdown`
//! signals every task, lets a pass under way stop at its next step, releases the leases
//! and waits for the tasks.

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use sea_orm::DatabaseConnection;
use tokio::{sync::watch, task::JoinHandle};

use super::Lease;

/// What a pass is given: the database, and whether to go on.
#[derive(Clone)]
pub struct Pass {
    pub db: DatabaseConnection,
    lease: Arc<Lease>,
    stop: watch::Receiver<bool>,
}

impl Pass {
    /// Renews this replica's lease on the job; whether the pass should take another step
    /// (the application is not stopping and the lease is still held).
    pub async fn renew_lease(&self) -> bool {
        if *self.stop.borrow() {
            return false;
        }
        match self.lease.acquire(&self.db).await {
            Ok(held) => held,
            Err(err) => {
                tracing::warn!(job = self.lease.name(), error = %err, "cannot renew the job's lease");
                false
            }
        }
    }
}

type PassFn = Arc<dyn Fn(Pass) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// The running jobs of this replica.
pub struct Jobs {
    db: DatabaseConnection,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Jobs {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            stop: watch::channel(false).0,
            tasks: Vec::new(),
        }
    }

    /// Runs `pass` every `interval` while this replica holds the job's lease. The lease
    /// lasts a few intervals (at least `min_lease`), so that a replica that dies is
    /// replaced soon, while a slow pass keeps it by renewing as it goes (`Pass::renew_lease`).
    pub fn every<F, Fut>(&mut self, name: &'static str, interval: Duration, min_lease: Duration, pass: F)
    where
        F: Fn(Pass) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let lease = Arc::new(Lease::new(name, (interval * 3).max(min_lease)));
        let pass: PassFn = Arc::new(move |context| Box::pin(pass(context)));
        let context = Pass {
            db: self.db.clone(),
            lease,
            stop: self.stop.subscribe(),
        };
        self.tasks.push(tokio::spawn(run(context, interval, pass)));
    }

    /// Runs `pass` every `interval` on this replica, without a lease.
    pub fn every_here<F, Fut>(&mut self, name: &'static str, interval: Duration, pass: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let stop = self.stop.subscribe();
        self.tasks.push(tokio::spawn(ticking(interval, stop, move || {
            let pass = pass();
            async move {
                super::contained(name, pass).await;
            }
        })));
    }

    /// Runs a service until shutdown: `run` is given the stop signal (it turns true) and
    /// returns once it has finished what it had under way.
    pub fn service<F, Fut>(&mut self, name: &'static str, run: F)
    where
        F: FnOnce(watch::Receiver<bool>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let running = run(self.stop.subscribe());
        self.tasks.push(tokio::spawn(async move {
            super::contained(name, running).await;
        }));
    }

    /// Stops every job: the current passes end at their next step, leases are released.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Runs `step` every `interval` until `stop` turns true.
async fn ticking<F, Fut>(interval: Duration, mut stop: watch::Receiver<bool>, step: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => break,
        }
        if *stop.borrow() {
            break;
        }
        step().await;
    }
}

async fn run(context: Pass, interval: Duration, pass: PassFn) {
    ticking(interval, context.stop.clone(), || {
        let context = context.clone();
        let pass = pass.clone();
        async move {
            if context.renew_lease().await {
                super::contained(context.lease.name(), pass(context.clone())).await;
            }
        }
    })
    .await;
    if let Err(err) = context.lease.release(&context.db).await {
        tracing::warn!(job = context.lease.name(), error = %err, "cannot release the job's lease");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Every kind of work runs on the one runner, a panicking pass does not stop its job,
    /// and one shutdown stops them all, a service after finishing what it had under way.
    #[tokio::test]
    async fn one_shutdown_stops_every_kind_of_work_and_a_panic_is_contained() {
        let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
        let mut jobs = Jobs::new(db);
        let passes = Arc::new(AtomicUsize::new(0));
        let counted = passes.clone();
        jobs.every_here("test-pass", Duration::from_millis(5), move || {
            let count = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                assert!(count != 1, "the second pass panics");
            }
        });
        let finished = Arc::new(AtomicUsize::new(0));
        let service_finished = finished.clone();
        jobs.service("test-service", move |mut stop| async move {
            while !*stop.borrow() {
                let _ = stop.changed().await;
            }
            service_finished.store(1, Ordering::SeqCst);
        });
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while passes.load(Ordering::SeqCst) < 4 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the passes went on after a panic"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::timeout(Duration::from_secs(10), jobs.shutdown())
            .await
            .expect("shutdown returns");
        assert_eq!(
            finished.load(Ordering::SeqCst),
            1,
            "the service finished before shutdown returned"
        );
        let after = passes.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(passes.load(Ordering::SeqCst), after, "no pass after shutdown");
    }
}
