//! Retention: events and delivery attempts older than
//! `RENKEI_EVENT_RETENTION_DAYS` are deleted in small batches, by the replica holding
//! the job's lease (`jobs`). An event a pending delivery still carries is kept, and so is
//! that delivery.

use std::time::Duration;

use chrono::Utc;

use crate::{jobs::Pass, store};

/// Rows looked at per batch (one short write each).
const BATCH: u64 = 500;

/// Deletes what is older than `keep`, batch after batch, while the pass may go on.
pub async fn run_pass(pass: Pass, keep: chrono::Duration) {
    loop {
        let cutoff = Utc::now() - keep;
        let deleted = async {
            let txn = store::begin_write(&pass.db).await?;
            let deleted = store::webhooks::delete_expired(&txn, cutoff, BATCH).await?;
            txn.commit().await?;
            Ok::<_, sea_orm::DbErr>(deleted)
        };
        match deleted.await {
            Ok(0) => return,
            Ok(deleted) => tracing::info!(deleted, "expired events and delivery attempts deleted"),
            Err(err) => {
                tracing::warn!(error = %err, "expired events could not be deleted; retrying later");
                return;
            }
        }
        // Let requests write between batches.
        tokio::time::sleep(Duration::from_millis(50)).await;
        if !pass.renew_lease().await {
            return;
        }
    }
}
