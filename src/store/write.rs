//! Writing to the database: transactions that write, and this process's turn to write.
//!
//! SQLite has one writer per database file. A writer that finds the file locked sleeps in
//! SQLite's busy handler, in steps of 1, 2, 5 … 100 ms, and may lose its turn to a later
//! writer that happened to try at the right moment: under hundreds of concurrent orders
//! that made the tail of screening (measured in bench/RESULTS.md, "Screening at checkout
//! peak"). So this process's writers to a
//! SQLite file take turns in a first-come, first-served queue before they write, and the
//! busy handler is left for writers of other processes. PostgreSQL writers need no turn.
//!
//! A write holds the turn (or, on PostgreSQL, a pool connection and row locks) from its
//! first statement to its commit, and between statements its task waits to be polled
//! again. On a request worker that wait is behind every other ready request (hundreds
//! at peak), so one write's few milliseconds became tens and everyone queued behind it.
//! The hot path's writes therefore run on the writer thread (`spawn_on_writer`; see
//! `screening::writes`): a runtime of their own, where a write's next step waits only for
//! other writes.
//!
//! How long writes wait to start is measured (`renkei_db_write_wait_seconds`), and how
//! many are waiting at a moment (`renkei_db_write_queue`), so an operator sees the
//! database becoming the queue before checkout does.

use std::{
    collections::HashMap,
    future::Future,
    ops::Deref,
    path::PathBuf,
    sync::{Arc, LazyLock, Mutex},
    time::{Duration, Instant},
};

use sea_orm::sqlx::{self, Connection, Executor, postgres::PgConnection, sqlite::SqliteConnection};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait, sea_query::Values,
};
use sea_query_sqlx::SqlxValues;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use prometheus_client::{metrics::gauge::Gauge, registry::Registry};

use crate::metrics::{DatabaseLabel, Histograms, histograms};

/// The write queue of each SQLite file this process writes to.
static QUEUES: LazyLock<Mutex<HashMap<PathBuf, Arc<Semaphore>>>> = LazyLock::new(Default::default);

// The write queue is the process's (every database connection shares it), and so are
// its metrics: statics, registered into the process's one registry (`register_metrics`).

/// Writers of this process waiting for their turn (all SQLite files).
static WAITING: LazyLock<Gauge> = LazyLock::new(Gauge::default);

/// How long a write waited to start.
static WAITS: LazyLock<Histograms<DatabaseLabel>> = LazyLock::new(histograms);

/// The writer thread's runtime, started at the first write run on it.
static WRITER: LazyLock<tokio::runtime::Handle> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime can be built");
    let handle = runtime.handle().clone();
    std::thread::Builder::new()
        .name("renkei-db-writer".into())
        .spawn(move || runtime.block_on(std::future::pending::<()>()))
        .expect("the writer thread can be started");
    handle
});

/// How long writes held the turn.
static HOLDS: LazyLock<Histograms<DatabaseLabel>> = LazyLock::new(histograms);

/// Starts a task on the writer thread (a writer that runs until its queue closes).
pub fn spawn_on_writer<F>(task: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    WRITER.spawn(task);
}

/// The connection one of the hot path's writers writes through: taken from the shared
/// pool at its first write and kept, detached from the pool (which may open another in
/// its place), until an error closes it and the next write takes a new one.
///
/// Through a pool, every statement acquired a connection and gave it back, and sqlx
/// pings a connection given back before another statement can take it: one more round
/// trip per statement, to a PostgreSQL backend or to a SQLite connection's worker
/// thread. On SQLite (a pool of one) the next statement waited for that ping; on
/// PostgreSQL it took the pool's least recently used connection, so every backend of
/// the pool served the writers in turn, none of them warm. Kept, a writer's connection
/// does one round trip per statement and stays warm: the same backend and prepared
/// statements, the same page cache.
///
/// On SQLite the writer's connection keeps its page cache across batches (a connection
/// that finds the file changed by another connection drops its cache and reads the pages
/// again; its own commits do not), and its commits do not checkpoint the WAL
/// (`wal_autocheckpoint=0`): a checkpoint copies pages to the database file and waits
/// for `fsync`, and in a commit that wait fell on every write of the batch.
/// `checkpoint` does it beside the writer (a background job).
///
/// One writer's: its transactions assume that no other task uses it meanwhile.
pub struct WriterConnection {
    shared: DatabaseConnection,
    own: tokio::sync::Mutex<Option<Own>>,
}

enum Own {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

/// How long closing a writer's connection may take before it is dropped.
const CLOSE_WITHIN: Duration = Duration::from_secs(5);

impl WriterConnection {
    /// A writer's connection to the shared pool's database; opened at its first write.
    pub fn new(shared: &DatabaseConnection) -> Self {
        Self {
            shared: shared.clone(),
            own: tokio::sync::Mutex::new(None),
        }
    }

    /// The connection, taken from the shared pool when there is none.
    async fn connection(&self) -> Result<tokio::sync::MutexGuard<'_, Option<Own>>, DbErr> {
        let mut own = self.own.lock().await;
        if own.is_none() {
            *own = Some(self.open().await?);
        }
        Ok(own)
    }

    async fn open(&self) -> Result<Own, DbErr> {
        let conn_err = |err| DbErr::Conn(RuntimeErr::SqlxError(Arc::new(err)));
        match self.shared.get_database_backend() {
            DbBackend::Sqlite => {
                let pool = self.shared.get_sqlite_connection_pool();
                let mut conn = pool.acquire().await.map_err(conn_err)?.detach();
                conn.execute("PRAGMA wal_autocheckpoint = 0").await.map_err(conn_err)?;
                Ok(Own::Sqlite(conn))
            }
            _ => {
                let pool = self.shared.get_postgres_connection_pool();
                Ok(Own::Postgres(pool.acquire().await.map_err(conn_err)?.detach()))
            }
        }
    }

    /// Closes the connection, if open (the writer has stopped).
    pub async fn close(&self) {
        let mut own = self.own.lock().await;
        Self::close_connection(&mut own).await;
    }

    async fn close_connection(own: &mut Option<Own>) {
        if let Some(conn) = own.take() {
            let closing = async {
                match conn {
                    Own::Sqlite(conn) => conn.close().await,
                    Own::Postgres(conn) => conn.close().await,
                }
            };
            let _ = tokio::time::timeout(CLOSE_WITHIN, closing).await;
        }
    }

    /// Returns `result`; an error closes the connection first, rolling back whatever it
    /// had begun, so that the next write starts on a new one in a known state.
    async fn checked<T>(own: &mut Option<Own>, result: Result<T, DbErr>) -> Result<T, DbErr> {
        if result.is_err() {
            Self::close_connection(own).await;
        }
        result
    }

    /// `checked`, for an error that came between statements.
    async fn check<T>(&self, result: Result<T, DbErr>) -> Result<T, DbErr> {
        if result.is_err() {
            let mut own = self.own.lock().await;
            return Self::checked(&mut own, result).await;
        }
        result
    }

    /// Waits for this process's turn to write (SQLite; at once on PostgreSQL).
    async fn turn(&self) -> WriteTurn {
        let started = Instant::now();
        let turn = turn(&self.shared).await;
        observe_wait(database(&self.shared), started);
        turn
    }

    /// SQLite: a write transaction in two scripts, each one exchange with the
    /// connection's worker thread, where a statement alone costs one (a hand-off to the
    /// worker and back, each a chance to wait for a core at peak). The first script is
    /// `BEGIN IMMEDIATE` and `first`; `then` builds the second from the first's rows, and
    /// the second ends with `COMMIT`. With nothing in `first`, `BEGIN IMMEDIATE` opens
    /// the second script and the transaction is a single exchange. An error closes the
    /// connection, which rolls back. Returns the rows of both scripts.
    pub async fn script_transaction<F>(
        &self,
        first: Vec<Statement>,
        then: F,
    ) -> Result<(Vec<QueryResult>, Vec<QueryResult>), DbErr>
    where
        F: FnOnce(&[QueryResult]) -> Result<Vec<Statement>, DbErr>,
    {
        let _turn = self.turn().await;
        let result = async {
            let (begun, first_rows) = if first.is_empty() {
                (false, Vec::new())
            } else {
                (true, self.query_all_raw(script(Some(BEGIN), first, None)).await?)
            };
            let second = then(&first_rows)?;
            let begin = (!begun).then_some(BEGIN);
            let second_rows = self.query_all_raw(script(begin, second, Some("COMMIT"))).await?;
            Ok((first_rows, second_rows))
        }
        .await;
        self.check(result).await
    }
}

/// Runs `$run` with `$conn` the open connection, whichever the database, then
/// `WriterConnection::checked`.
macro_rules! on_connection {
    ($self:ident, $conn:ident => $run:expr) => {{
        let mut own = $self.connection().await?;
        let result = match own.as_mut() {
            Some(Own::Sqlite($conn)) => $run,
            Some(Own::Postgres($conn)) => $run,
            None => Err(DbErr::Custom("the writer's connection is not open".into())),
        };
        WriterConnection::checked(&mut own, result).await
    }};
}

#[async_trait::async_trait]
impl ConnectionTrait for WriterConnection {
    fn get_database_backend(&self) -> DbBackend {
        self.shared.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        on_connection!(self, conn => sqlx_query(stmt).execute(&mut *conn).await.map(Into::into).map_err(exec_err))
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        on_connection!(self, conn => conn.execute(sql).await.map(Into::into).map_err(exec_err))
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        on_connection!(self, conn => sqlx_query(stmt)
            .fetch_optional(&mut *conn)
            .await
            .map(|row| row.map(Into::into))
            .map_err(query_err))
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        on_connection!(self, conn => sqlx_query(stmt).fetch_all(&mut *conn).await.map(results).map_err(query_err))
    }

    fn support_returning(&self) -> bool {
        self.shared.support_returning()
    }

    fn is_mock_connection(&self) -> bool {
        false
    }
}

/// A sea-query statement as sqlx's, its text and values moved in (not copied), bound in
/// order.
fn sqlx_query<DB>(stmt: Statement) -> sqlx::query::Query<'static, DB, SqlxValues>
where
    DB: sqlx::Database,
    SqlxValues: sqlx::IntoArguments<DB>,
{
    let values = stmt.values.unwrap_or(Values(Vec::new()));
    sqlx::query_with(sqlx::AssertSqlSafe(stmt.sql), SqlxValues(values))
}

fn query_err(err: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(err)))
}

fn exec_err(err: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(Arc::new(err)))
}

fn results<R: Into<QueryResult>>(rows: Vec<R>) -> Vec<QueryResult> {
    rows.into_iter().map(Into::into).collect()
}

/// The `database` labels of the metrics.
pub const DATABASES: [&str; 2] = ["sqlite", "postgres"];

/// The `database` label of a metric: `sqlite` or `postgres`.
pub fn database(db: &impl ConnectionTrait) -> &'static str {
    match db.get_database_backend() {
        DbBackend::Sqlite => DATABASES[0],
        _ => DATABASES[1],
    }
}

/// How often the WAL is checkpointed (`checkpoint`), on SQLite.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// SQLite: checkpoints the WAL through the shared pool (`PASSIVE`: it copies what no
/// reader still needs and never waits for the writer), so that the writer's commits need
/// not (`WriterConnection`). Run every `CHECKPOINT_EVERY` (the background jobs), the WAL
/// is reused from its start once a checkpoint has copied all of it, so it stays as large
/// as a quarter of a second of writes.
pub async fn checkpoint(db: &DatabaseConnection) {
    if let Err(err) = db.execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)").await {
        tracing::warn!(error = %err, "the SQLite WAL could not be checkpointed");
    }
}

/// This process's turn to write to a SQLite file: the next writer's starts when it is
/// dropped. Holds nothing on PostgreSQL.
struct WriteTurn(Option<(OwnedSemaphorePermit, Instant)>);

impl Drop for WriteTurn {
    fn drop(&mut self) {
        if let Some((_, since)) = &self.0 {
            HOLDS
                .get_or_create(&DatabaseLabel { database: "sqlite" })
                .observe(since.elapsed().as_secs_f64());
        }
    }
}

/// Waits for this process's turn to write (SQLite); at once on PostgreSQL.
async fn turn(db: &DatabaseConnection) -> WriteTurn {
    let Some(queue) = queue(db) else {
        return WriteTurn(None);
    };
    WAITING.inc();
    // The semaphore is never closed: acquiring cannot fail.
    let permit = queue.acquire_owned().await.ok();
    WAITING.dec();
    WriteTurn(permit.map(|permit| (permit, Instant::now())))
}

fn queue(db: &DatabaseConnection) -> Option<Arc<Semaphore>> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return None;
    }
    let file = db
        .get_sqlite_connection_pool()
        .connect_options()
        .get_filename()
        .to_path_buf();
    let mut queues = QUEUES.lock().unwrap_or_else(|e| e.into_inner());
    Some(
        queues
            .entry(file)
            .or_insert_with(|| Arc::new(Semaphore::new(1)))
            .clone(),
    )
}

/// A transaction that writes, holding this process's turn to write until it ends.
pub struct WriteTxn {
    txn: DatabaseTransaction,
    _turn: WriteTurn,
}

impl WriteTxn {
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

impl Deref for WriteTxn {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

/// Begins a transaction that will write: after this process's turn (SQLite), with the
/// write lock taken at once (`BEGIN IMMEDIATE`), so that writers of other processes queue
/// in SQLite instead of failing on upgrade.
pub async fn begin_write(db: &DatabaseConnection) -> Result<WriteTxn, DbErr> {
    let started = Instant::now();
    let turn = turn(db).await;
    let txn = db
        .begin_with_options(TransactionOptions {
            isolation_level: None,
            access_mode: None,
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        })
        .await?;
    observe_wait(database(db), started);
    Ok(WriteTxn { txn, _turn: turn })
}

const BEGIN: &str = "BEGIN IMMEDIATE";

/// SQLite statements as one script: their texts joined, their values in order (`?`
/// placeholders count on from one statement to the next).
fn script(begin: Option<&str>, statements: Vec<Statement>, end: Option<&str>) -> Statement {
    let mut sql = String::new();
    let mut values = Vec::new();
    for text in begin.into_iter() {
        sql.push_str(text);
        sql.push_str(";\n");
    }
    for statement in statements {
        sql.push_str(&statement.sql);
        sql.push_str(";\n");
        values.extend(statement.values.map(|v| v.0).unwrap_or_default());
    }
    for text in end.into_iter() {
        sql.push_str(text);
        sql.push_str(";\n");
    }
    Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)
}

fn observe_wait(database: &'static str, started: Instant) {
    WAITS
        .get_or_create(&DatabaseLabel { database })
        .observe(started.elapsed().as_secs_f64());
}

/// Registers the write queue's metrics (`metrics::Metrics::new`).
pub fn register_metrics(registry: &mut Registry) {
    registry.register(
        "renkei_db_write_wait_seconds",
        "Time a write waited to start: for its turn among this process's SQLite writers, a pool connection and BEGIN",
        WAITS.clone(),
    );
    registry.register(
        "renkei_db_write_turn_seconds",
        "Time a write held this process's turn to write to SQLite (its statements and commit)",
        HOLDS.clone(),
    );
    registry
        .sub_registry_with_label(("database".into(), "sqlite".into()))
        .register(
            "renkei_db_write_queue",
            "Writes waiting for their turn among this process's SQLite writers",
            WAITING.clone(),
        );
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.txn.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.txn.support_returning()
    }

    fn is_mock_connection(&self) -> bool {
        self.txn.is_mock_connection()
    }
}
