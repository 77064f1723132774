//! SQLite's own settings on renkei's connections.

use crate::support::Backend;

/// Every SQLite connection of renkei's sets SQLite's soft heap limit (process-wide):
/// the page caches of the pool's connections together stay near it instead of growing
/// with the database (`RENKEI_SQLITE_HEAP_MB`, 16 MiB by default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_connections_keep_their_page_caches_under_the_soft_heap_limit() {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let app = crate::support::spawn_app(Backend::Sqlite).await;
    let limit = app
        .db
        .query_one_raw(Statement::from_string(DbBackend::Sqlite, "PRAGMA soft_heap_limit"))
        .await
        .unwrap()
        .unwrap();
    let bytes: i64 = limit.try_get_by_index(0).unwrap();
    assert_eq!(bytes, renkei::config::DEFAULT_SQLITE_HEAP_MB as i64 * 1024 * 1024);
}
