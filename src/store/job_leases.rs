//! Leases of background jobs: one row per job, held by one replica until it expires.

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DbErr,
    sea_query::{Expr, ExprTrait, OnConflict, Query},
};

use super::entities::job_lease::{self, Column};

/// Takes or renews the lease of `name` for `holder` until `until`, when it is free,
/// expired (before `now`) or already `holder`'s. One statement (an upsert guarded by a
/// condition), on SQLite and PostgreSQL alike. Returns whether `holder` holds it now.
pub async fn acquire(
    db: &impl ConnectionTrait,
    name: &str,
    holder: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let statement = Query::insert()
        .into_table(job_lease::Entity)
        .columns([Column::Name, Column::Holder, Column::ExpiresAt])
        .values_panic([name.into(), holder.into(), until.into()])
        .on_conflict(
            OnConflict::column(Column::Name)
                .update_columns([Column::Holder, Column::ExpiresAt])
                .action_and_where(
                    Expr::col((job_lease::Entity, Column::ExpiresAt)).lt(now).or(Expr::col((
                        job_lease::Entity,
                        Column::Holder,
                    ))
                    .eq(holder)),
                )
                .to_owned(),
        )
        .to_owned();
    Ok(db.execute(&statement).await?.rows_affected() == 1)
}

/// Gives the lease up (on shutdown), so that another replica takes over at once.
pub async fn release(db: &impl ConnectionTrait, name: &str, holder: &str) -> Result<(), DbErr> {
    let statement = Query::delete()
        .from_table(job_lease::Entity)
        .and_where(Expr::col(Column::Name).eq(name))
        .and_where(Expr::col(Column::Holder).eq(holder))
        .to_owned();
    db.execute(&statement).await?;
    Ok(())
}
