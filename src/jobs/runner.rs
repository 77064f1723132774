//! Periodic jobs with graceful shutdown: each job runs a pass every interval on the
//! replica holding its lease; `Jobs::shutdown` lets the current pass stop at its next
//! step, releases the leases and waits for the tasks.

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

    /// Stops every job: the current passes end at their next step, leases are released.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

async fn run(context: Pass, interval: Duration, pass: PassFn) {
    let mut stop = context.stop.clone();
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
        if context.renew_lease().await {
            super::contained(context.lease.name(), pass(context.clone())).await;
        }
    }
    if let Err(err) = context.lease.release(&context.db).await {
        tracing::warn!(job = context.lease.name(), error = %err, "cannot release the job's lease");
    }
}
