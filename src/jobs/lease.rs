//! One replica at a time: a row of `job_leases` per job, taken when free or expired,
//! renewed by its holder, released on shutdown. One conditional upsert, on SQLite and
//! PostgreSQL alike (see `store::job_leases::acquire`).

use std::time::Duration;

use chrono::Utc;
use sea_orm::{ConnectionTrait, DbErr};

use crate::{crypto::random_token, store::job_leases};

pub struct Lease {
    name: &'static str,
    /// This replica's id (random per start).
    holder: String,
    /// How long a taken lease lasts without renewal: a replica that dies frees it then.
    ttl: Duration,
}

impl Lease {
    pub fn new(name: &'static str, ttl: Duration) -> Self {
        Self {
            name,
            holder: random_token::<12>(),
            ttl,
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Takes or renews the lease. Returns whether this replica holds it.
    pub async fn acquire(&self, db: &impl ConnectionTrait) -> Result<bool, DbErr> {
        let now = Utc::now();
        let ttl = chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::seconds(60));
        job_leases::acquire(db, self.name, &self.holder, now, now + ttl).await
    }

    /// Gives the lease up, if held.
    pub async fn release(&self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        job_leases::release(db, self.name, &self.holder).await
    }
}
