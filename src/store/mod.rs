//! Persistence: the connection, migrations, entities and the queries on them.
//! Query functions take `&impl ConnectionTrait`, so a handler and a transaction call
//! the same code.

pub mod audit;
pub mod certificate_notices;
pub mod clients;
pub mod entities;
pub mod events;
pub mod feed_items;
pub mod job_leases;
pub mod oplux_exchanges;
pub mod payment_methods;
pub mod provider_accounts;
pub mod public_assets;
pub mod reviews;
pub mod screenings;
pub mod shops;
pub mod webhooks;
pub mod write;

pub use write::{WriteTxn, begin_write};

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, EntityTrait,
    Iterable, QueryFilter, QueryOrder, QuerySelect, RuntimeErr, Select, SqlErr,
    sea_query::{Alias, Expr, ExprTrait, InsertStatement, Query, SelectStatement, ValueTuple},
};

use crate::core::Secret;

/// Where the database is and how many connections to keep (from the configuration:
/// the store reads no configuration itself).
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// `DATABASE_URL`: `sqlite://…` or `postgres://…`. May hold a password.
    pub url: Secret<String>,
    /// `RENKEI_DATABASE_SCHEMA`: PostgreSQL schema (search path) to use.
    pub schema: Option<String>,
    /// `RENKEI_DATABASE_MAX_CONNECTIONS`.
    pub max_connections: u32,
    /// `RENKEI_DATABASE_ACQUIRE_TIMEOUT_MS`: how long a request waits for a connection.
    pub acquire_timeout: Duration,
    /// `RENKEI_SQLITE_HEAP_MB`: SQLite's soft heap limit, in MiB, across every connection.
    pub sqlite_heap_mb: u64,
}

/// SQLite's soft heap limit by default, in MiB. Each pool connection has a page cache of
/// its own (2 MiB by default), filled as the database grows: 32 connections held 25 MiB
/// after 150 s of steady screening and kept growing (bench/RESULTS.md, issue 30). The
/// limit makes SQLite recycle cached pages beyond it; a page read again comes from the
/// operating system's file cache.
pub const DEFAULT_SQLITE_HEAP_MB: u64 = 16;

/// Opens the connection pool. For PostgreSQL with a configured schema, the schema is
/// created when missing and becomes every connection's search path.
pub async fn connect(config: &DatabaseConfig) -> Result<DatabaseConnection, DbErr> {
    let url = config.url.expose();
    if let Some(schema) = &config.schema {
        // One short-lived connection to make sure the schema exists before the pool uses it.
        let bootstrap = Database::connect(pool_options(url, config, None).max_connections(1).to_owned()).await?;
        bootstrap
            .execute_unprepared(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
            .await?;
        bootstrap.close().await?;
    }
    Database::connect(pool_options(url, config, config.schema.as_deref())).await
}

fn pool_options(url: &str, config: &DatabaseConfig, schema: Option<&str>) -> ConnectOptions {
    let mut options = ConnectOptions::new(url.to_string());
    options
        .max_connections(config.max_connections)
        .min_connections(0)
        .acquire_timeout(config.acquire_timeout)
        .connect_timeout(config.acquire_timeout)
        // A connection that has just been used is not pinged again before the next use
        // (one round trip less per statement at peak); one idle for a while is.
        .test_before_acquire_if_idle_for(Duration::from_secs(10))
        .sqlx_logging(false);
    if let Some(schema) = schema {
        options.set_schema_search_path(schema.to_string());
    }
    if url.starts_with("sqlite:") {
        let heap_mb = config.sqlite_heap_mb;
        // WAL with synchronous=NORMAL: commits do not wait for fsync (a power cut may
        // lose the last commits, never corrupt the file); writers wait for each other.
        options.map_sqlx_sqlite_opts(move |o| {
            use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(std::time::Duration::from_secs(10))
                // Process-wide: set again by each connection, to the same value.
                .pragma("soft_heap_limit", (heap_mb * 1024 * 1024).to_string())
                .statement_cache_capacity(SQLITE_STATEMENT_CACHE)
        });
    }
    options
}

/// Prepared statements each SQLite connection keeps (sqlx's default is 100). A prepared
/// statement lives in SQLite's heap, outside the soft heap limit (which recycles cached
/// pages only), and the screening writer's scripts are large and vary with the batch's
/// shape: with 100 kept, the writer's connection alone held tens of MB and grew with
/// every new shape (bench/RESULTS.md, issue 30, session 13). The shapes a checkout peak
/// repeats stay prepared; rare ones are prepared again when they come back.
const SQLITE_STATEMENT_CACHE: usize = 16;

/// The most rows one multi-row statement writes.
const MAX_ROWS_PER_STATEMENT: usize = 64;

/// How many rows each multi-row statement of a batch of `rows` writes: powers of two up
/// to 64, largest first (100 rows: 64, 32, 4). A statement's text depends on its number
/// of rows, and each text is prepared once per connection and kept in the connection's
/// statement cache: with these sizes a batch of any size uses one of seven texts per
/// kind of statement, so the cache neither churns nor grows with the batch sizes.
pub fn statement_sizes(rows: usize) -> impl Iterator<Item = usize> {
    let mut left = rows;
    std::iter::from_fn(move || {
        let size = 1 << left.min(MAX_ROWS_PER_STATEMENT).checked_ilog2()?;
        left -= size;
        Some(size)
    })
}

/// `rows` cut into the slices of `statement_sizes`.
pub fn statement_chunks<T>(rows: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = rows;
    statement_sizes(rows.len()).map(move |size| {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        chunk
    })
}

/// PostgreSQL, in a `WITH` statement: `INSERT INTO … SELECT … FROM (VALUES (key, …), …)
/// WHERE key IN (keys)`: of the models, those whose key the query `keys` returns (the
/// rows an earlier part of the statement wrote). A model without a key (`None`) is
/// never inserted: it keeps a statement's text the same whatever part of its rows have
/// something to insert. The models are built alike (the same columns set); `None` when
/// there are none.
pub fn insert_where_kept<A: ActiveModelTrait>(
    models: &[(Option<i64>, A)],
    keys: SelectStatement,
) -> Option<InsertStatement> {
    let (_, first) = models.first()?;
    let columns: Vec<<A::Entity as EntityTrait>::Column> = <A::Entity as EntityTrait>::Column::iter()
        .filter(|column| first.get(*column).is_set())
        .collect();
    let list = Alias::new("kept");
    let rows = models.iter().map(|(key, model)| {
        let mut values: Vec<sea_orm::Value> = vec![(*key).into()];
        values.extend(columns.iter().filter_map(|column| model.get(*column).into_value()));
        ValueTuple::Many(values)
    });
    // The VALUES list's columns are named column1, column2, …: the key, then the columns.
    let value = |n: usize| Expr::col((list.clone(), Alias::new(format!("column{n}"))));
    let mut select = Query::select();
    select
        .from_values(rows, list.clone())
        .exprs((0..columns.len()).map(|n| value(n + 2)))
        .and_where(value(1).in_subquery(keys));
    let mut insert = Query::insert();
    insert
        .into_table(A::Entity::default())
        .columns(columns)
        .select_from(select)
        .ok()?;
    Some(insert)
}

/// A keyset page of `query`: newest first by the row id `id`, before the id `before`
/// (exclusive) when given, at most `limit` rows.
pub fn newest_first<E: EntityTrait>(query: Select<E>, id: E::Column, before: Option<i64>, limit: u64) -> Select<E> {
    let query = query.order_by_desc(id).limit(limit);
    match before {
        Some(before) => query.filter(id.lt(before)),
        None => query,
    }
}

/// A keyset page of `query`: oldest first by the row id `id`, after the id `after`
/// (exclusive) when given, at most `limit` rows.
pub fn oldest_first<E: EntityTrait>(query: Select<E>, id: E::Column, after: Option<i64>, limit: u64) -> Select<E> {
    let query = query.order_by_asc(id).limit(limit);
    match after {
        Some(after) => query.filter(id.gt(after)),
        None => query,
    }
}

/// Brings the schema up to date.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Whether the database is reachable and answering.
pub async fn ping(db: &DatabaseConnection) -> bool {
    db.ping().await.is_ok()
}

pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Whether the error means the database could not be reached (as opposed to a bad query):
/// no connection, a connection cut (I/O, TLS, a message cut short), the server shutting
/// down or starting up (SQLSTATE classes 08 and 57P), or the pool's time running out.
pub fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => match e.as_ref() {
            Sqlx::Io(_)
            | Sqlx::Tls(_)
            | Sqlx::Protocol(_)
            | Sqlx::PoolTimedOut
            | Sqlx::PoolClosed
            | Sqlx::WorkerCrashed => true,
            Sqlx::Database(database) => database
                .code()
                .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
            _ => false,
        },
        _ => false,
    }
}

/// The connection pool's use: connections open in it, idle ones, and its maximum.
pub struct PoolUsage {
    pub open: u32,
    pub idle: u32,
    pub max: u32,
}

pub fn pool_usage(db: &DatabaseConnection) -> PoolUsage {
    let (open, idle, max) = if is_postgres(db) {
        let pool = db.get_postgres_connection_pool();
        (pool.size(), pool.num_idle(), pool.options().get_max_connections())
    } else {
        let pool = db.get_sqlite_connection_pool();
        (pool.size(), pool.num_idle(), pool.options().get_max_connections())
    };
    PoolUsage {
        open,
        idle: u32::try_from(idle).unwrap_or(u32::MAX),
        max,
    }
}

/// SQLite's own heap in this process, in bytes (page caches, prepared statements,
/// schemas): `sqlite3_memory_used`.
pub fn sqlite_memory_used() -> i64 {
    // SAFETY: takes no argument and reads SQLite's memory statistics, which the bundled
    // library keeps thread-safely (SQLITE_THREADSAFE=1, memory status on by default).
    unsafe { libsqlite3_sys::sqlite3_memory_used() }
}

/// Whether the connected database is PostgreSQL.
pub fn is_postgres(db: &impl ConnectionTrait) -> bool {
    db.get_database_backend() == sea_orm::DatabaseBackend::Postgres
}

#[cfg(test)]
mod tests {
    use super::statement_sizes;

    #[test]
    fn a_batch_is_cut_into_powers_of_two_up_to_64() {
        let sizes = |rows| statement_sizes(rows).collect::<Vec<_>>();
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(1), [1]);
        assert_eq!(sizes(7), [4, 2, 1]);
        assert_eq!(sizes(64), [64]);
        assert_eq!(sizes(100), [64, 32, 4]);
        assert_eq!(sizes(256), [64, 64, 64, 64]);
        assert_eq!(statement_sizes(1000).sum::<usize>(), 1000);
    }
}
