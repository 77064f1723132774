//! The screening writes at the store: batches of claims and finishes on each database,
//! and the writer's own connection.

use crate::on_both_databases;
use crate::support::Backend;

on_both_databases!(the_writer_keeps_its_connection_until_an_error_closes_it);
on_both_databases!(a_batch_of_more_than_64_claims_and_finishes_is_written_whole);
on_both_databases!(a_failing_batch_is_written_again_write_by_write);

/// On PostgreSQL a batch of claims and finishes is one statement (`claim_and_finish`):
/// new orders are claimed, an order that exists is answered with its row as it is after
/// the statement, and only the finishes whose request still holds the row are written,
/// with their exchange and their event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_batch_of_claims_and_finishes_is_one_statement() {
    if crate::support::postgres_missing() {
        return;
    }
    use chrono::Utc;
    use renkei::store::{
        oplux_exchanges,
        screenings::{self, Claim},
    };
    let app = crate::support::spawn_app(Backend::Postgres).await;
    let db = &app.db;
    renkei::store::shops::ensure(db, "shop-a").await.unwrap();
    let now = Utc::now();
    let (first, held) = screenings::claim_and_finish(db, &[claim("A", "ta"), claim("B", "tb")], &[], now)
        .await
        .unwrap();
    assert!(held.is_empty());
    let ids: Vec<i64> = first
        .iter()
        .map(|claim| match claim {
            Claim::Claimed(row) => row.id,
            Claim::Exists(row) => panic!("{} existed", row.order_number),
        })
        .collect();
    let done = ok_finish(now);
    let exchange = register_exchange("A", now);
    let reported = held_and_lost(&ids, &done, [&exchange, &exchange], now);
    let (second, held) = screenings::claim_and_finish(db, &[claim("C", "tc"), claim("A", "ta2")], &reported, now)
        .await
        .unwrap();
    assert_eq!(held, [true, false]);
    match &second[..] {
        [Claim::Claimed(c), Claim::Exists(a)] => {
            assert_eq!((c.order_number.as_str(), c.state.as_str()), ("C", screenings::PENDING));
            assert_eq!((a.id, a.state.as_str()), (ids[0], screenings::DONE));
            assert_eq!(a.result.as_deref(), Some("OK"));
        }
        _ => panic!("C claimed and A existing expected"),
    }
    let b = screenings::find(db, "shop-a", "B").await.unwrap().unwrap();
    assert_eq!(b.state, screenings::PENDING);
    assert_eq!(
        oplux_exchanges::list(db, "shop-a", "A", None, 10).await.unwrap().len(),
        1
    );
    let events = renkei::store::events::list(db, "shop-a", None, 10).await.unwrap();
    let events: Vec<&str> = events.iter().map(|e| e.public_id.as_str()).collect();
    assert_eq!(events, ["evt_a"]);
}

/// On SQLite a batch is one write transaction of two scripts (`writes::write_script`):
/// new orders are claimed, an order that exists (before the batch, or claimed by a
/// duplicate in it) is answered with its row, only the finishes whose request still
/// holds the row are written, with their exchange, their event and its delivery, and a
/// failing script leaves nothing behind and the connection ready for the next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_batch_is_one_transaction_of_scripts() {
    use chrono::Utc;
    use renkei::{
        screening::writes::write_script,
        store::{
            oplux_exchanges,
            screenings::{self, Claim, Finish, Reported},
            webhooks::{self, NewEndpoint},
        },
    };
    let app = crate::support::spawn_app(Backend::Sqlite).await;
    let db = &renkei::store::write::WriterConnection::new(&app.db);
    renkei::store::shops::ensure(db, "shop-a").await.unwrap();
    let claimed = |claims: &[Claim]| -> Vec<(String, bool)> {
        claims
            .iter()
            .map(|claim| match claim {
                Claim::Claimed(row) => (row.order_number.clone(), true),
                Claim::Exists(row) => (row.order_number.clone(), false),
            })
            .collect()
    };
    let now = Utc::now();
    let (first, held) = write_script(db, &[claim("A", "ta"), claim("B", "tb")], &[])
        .await
        .unwrap();
    assert!(held.is_empty());
    assert_eq!(claimed(&first), [("A".into(), true), ("B".into(), true)]);
    let ids: Vec<i64> = first
        .iter()
        .map(|claim| match claim {
            Claim::Claimed(row) | Claim::Exists(row) => row.id,
        })
        .collect();
    let endpoint = webhooks::insert_endpoint(
        db,
        NewEndpoint {
            public_id: "whe_1",
            shop_id: "shop-a",
            url: "http://127.0.0.1:9/hook",
            description: None,
            events: r#"["screening.created"]"#,
            enabled: true,
            sealed_secret: "sealed",
            at: now,
        },
    )
    .await
    .unwrap();
    let done = ok_finish(now);
    let (exchange_a, exchange_b) = (register_exchange("A", now), register_exchange("B", now));
    let reported = held_and_lost(&ids, &done, [&exchange_a, &exchange_b], now);
    let claims = [claim("C", "tc"), claim("A", "ta2"), claim("D", "td"), claim("D", "td2")];
    let (second, held) = write_script(db, &claims, &reported).await.unwrap();
    assert_eq!(held, [true, false]);
    assert_eq!(
        claimed(&second),
        [
            ("C".into(), true),
            ("A".into(), false),
            ("D".into(), true),
            ("D".into(), false)
        ]
    );
    match &second[..] {
        [_, Claim::Exists(a), Claim::Claimed(d), Claim::Exists(d2)] => {
            assert_eq!((a.id, a.state.as_str()), (ids[0], screenings::DONE));
            assert_eq!(a.result.as_deref(), Some("OK"));
            assert_eq!((d2.id, d2.claim_token.as_str()), (d.id, "td"));
        }
        _ => panic!("A and the second D existing expected"),
    }
    let b = screenings::find(db, "shop-a", "B").await.unwrap().unwrap();
    assert_eq!(b.state, screenings::PENDING);
    for (order, expected) in [("A", 1), ("B", 0)] {
        let exchanges = oplux_exchanges::list(db, "shop-a", order, None, 10).await.unwrap();
        assert_eq!(exchanges.len(), expected, "exchanges of {order}");
    }
    let events = renkei::store::events::list(db, "shop-a", None, 10).await.unwrap();
    let public_ids: Vec<&str> = events.iter().map(|e| e.public_id.as_str()).collect();
    assert_eq!(public_ids, ["evt_a"]);
    let deliveries = webhooks::list_deliveries(db, endpoint.id, None, 10).await.unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].event_id, events[0].id);
    assert!(deliveries[0].public_id.starts_with("whd_"));

    // An event id already taken fails the script: the claim of E and C's finish in it
    // are rolled back, and the next batch writes on the same connection.
    let c_id = match &second[0] {
        Claim::Claimed(row) => row.id,
        Claim::Exists(row) => panic!("{} existed", row.order_number),
    };
    let failing = [Reported {
        finish: Finish {
            id: c_id,
            token: "tc",
            done: &done,
        },
        exchange: None,
        event: created_event("evt_a", now),
        opened: None,
    }];
    assert!(write_script(db, &[claim("E", "te")], &failing).await.is_err());
    assert!(screenings::find(db, "shop-a", "E").await.unwrap().is_none());
    let c = screenings::find(db, "shop-a", "C").await.unwrap().unwrap();
    assert_eq!(c.state, screenings::PENDING);
    let (third, _) = write_script(db, &[claim("E", "te")], &[]).await.unwrap();
    assert_eq!(claimed(&third), [("E".into(), true)]);
}

/// The screening writer's connection (`store::write::WriterConnection`) is one
/// connection, kept from write to write (a temporary table, which only its own
/// connection sees, stays); an error closes it, which rolls back whatever it had begun,
/// and the next write opens another (the temporary table is gone); so does `close`,
/// when its writer stops.
async fn the_writer_keeps_its_connection_until_an_error_closes_it(backend: Backend) {
    use renkei::store::write::WriterConnection;
    use sea_orm::ConnectionTrait;
    let app = crate::support::spawn_app(backend).await;
    let writer = WriterConnection::new(&app.db);
    renkei::store::shops::ensure(&writer, "shop-a").await.unwrap();
    writer
        .execute_unprepared("CREATE TEMPORARY TABLE kept (n INTEGER)")
        .await
        .unwrap();
    for _ in 0..3 {
        writer
            .execute_unprepared("INSERT INTO kept (n) VALUES (1)")
            .await
            .unwrap();
    }
    let kept = writer
        .query_all_raw(count_kept(writer.get_database_backend()))
        .await
        .unwrap();
    assert_eq!(kept[0].try_get::<i64>("", "n").unwrap(), 3);

    // An error closes the connection (rolling back whatever it had begun): the next
    // write opens another, which does not see the old one's temporary table.
    assert!(
        writer
            .execute_unprepared("INSERT INTO no_such_table (n) VALUES (1)")
            .await
            .is_err()
    );
    assert!(
        writer
            .query_all_raw(count_kept(writer.get_database_backend()))
            .await
            .is_err(),
        "a new connection does not see the old one's temporary table"
    );
    renkei::store::shops::ensure(&writer, "shop-b").await.unwrap();
    assert_eq!(count_where(&app.db, "shops", "id = 'shop-b'").await, 1);

    // Closed when its writer stops: a later write opens another.
    writer
        .execute_unprepared("CREATE TEMPORARY TABLE kept (n INTEGER)")
        .await
        .unwrap();
    writer.close().await;
    assert!(
        writer
            .query_all_raw(count_kept(writer.get_database_backend()))
            .await
            .is_err()
    );
}

/// A writer's PostgreSQL connection cut from the server's side (a restart, an
/// administrator) fails the write that finds it cut, and the next write takes a new
/// connection: the writer heals without a restart of renkei.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_connection_cut_by_the_server_is_replaced_at_the_next_write() {
    if crate::support::postgres_missing() {
        return;
    }
    use renkei::store::{screenings, write::WriterConnection};
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let app = crate::support::spawn_app(Backend::Postgres).await;
    let writer = WriterConnection::new(&app.db);
    renkei::store::shops::ensure(&writer, "shop-a").await.unwrap();
    let backend_pid = Statement::from_string(DbBackend::Postgres, "SELECT pg_backend_pid() AS pid");
    let pid = |rows: Vec<sea_orm::QueryResult>| rows[0].try_get::<i32>("", "pid").unwrap();
    let cut = pid(writer.query_all_raw(backend_pid.clone()).await.unwrap());
    app.db
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_terminate_backend($1)",
            [cut.into()],
        ))
        .await
        .unwrap();
    // The server closes the connection a moment after it is told to.
    let one = Statement::from_string(DbBackend::Postgres, "SELECT 1 AS one");
    let (writer_ref, one) = (&writer, &one);
    crate::support::eventually(
        "a write on the cut connection failing",
        crate::support::PATIENCE,
        || async move { writer_ref.query_all_raw(one.clone()).await.err() },
    )
    .await;
    let (claimed, _) = screenings::claim_and_finish(&writer, &[claim("B", "tb")], &[], chrono::Utc::now())
        .await
        .unwrap();
    assert!(matches!(&claimed[..], [screenings::Claim::Claimed(_)]));
    assert_ne!(pid(writer.query_all_raw(backend_pid).await.unwrap()), cut);
}

/// A batch larger than a statement takes (64 claims and 64 finishes; on PostgreSQL a
/// statement per 64 of each, on SQLite one script of them all), through the
/// writers' entry (`screening::writes::write_batch`): 100 new orders are claimed; then,
/// in one batch, their 100 finishes, 70 new claims and a claim of an order that exists
/// are each answered, in order, and the finishes' exchanges and events are written.
async fn a_batch_of_more_than_64_claims_and_finishes_is_written_whole(backend: Backend) {
    use renkei::screening::writes::{Done, Work, write_batch};
    use renkei::store::{screenings::Claim, write::WriterConnection};
    let app = crate::support::spawn_app(backend).await;
    let writer = WriterConnection::new(&app.db);
    renkei::store::shops::ensure(&writer, "shop-a").await.unwrap();
    let claims: Vec<Work> = (0..100).map(|n| claim_work("shop-a", n)).collect();
    let answers = write_batch(&writer, &claims.iter().collect::<Vec<_>>()).await;
    let ids: Vec<i64> = answers
        .into_iter()
        .map(|answer| match answer.expect("a claim written") {
            Done::Claim(claim) => match *claim {
                Claim::Claimed(row) => row.id,
                Claim::Exists(row) => panic!("{} existed", row.order_number),
            },
            Done::Finish(_) => panic!("a claim answered as a finish"),
        })
        .collect();
    assert_eq!(ids.len(), 100);

    let now = chrono::Utc::now();
    let mut works: Vec<Work> = ids.iter().zip(0..).map(|(id, n)| finish_work(*id, n, now)).collect();
    works.extend((100..170).map(|n| claim_work("shop-a", n)));
    works.push(renkei::screening::writes::Work::Claim(
        renkei::screening::writes::ClaimOrder {
            shop_id: "shop-a".into(),
            order_number: "O7".into(),
            fingerprint: "f".into(),
            token: "another request's".into(),
        },
    ));
    let answers = write_batch(&writer, &works.iter().collect::<Vec<_>>()).await;
    assert_eq!(answers.len(), 171);
    for (n, answer) in answers.into_iter().enumerate() {
        match (n, answer.unwrap_or_else(|err| panic!("write {n} failed: {err}"))) {
            (0..100, Done::Finish(held)) => assert!(held, "finish {n} held its row"),
            (100..170, Done::Claim(claim)) => match *claim {
                Claim::Claimed(row) => assert_eq!(row.order_number, format!("O{n}")),
                Claim::Exists(row) => panic!("{} existed", row.order_number),
            },
            (170, Done::Claim(claim)) => match *claim {
                Claim::Exists(row) => {
                    assert_eq!((row.id, row.state.as_str()), (ids[7], renkei::store::screenings::DONE));
                    assert_eq!(row.result.as_deref(), Some("OK"));
                }
                Claim::Claimed(_) => panic!("O7 claimed twice"),
            },
            (n, _) => panic!("write {n} answered as the other kind"),
        }
    }
    for (table, expected) in [("screenings", 170), ("events", 100), ("oplux_exchanges", 100)] {
        assert_eq!(count(&app.db, table).await, expected, "rows of {table}");
    }
    assert_eq!(
        count_where(&app.db, "screenings", "state = 'done'").await,
        100,
        "finished screenings"
    );
}

/// A batch that fails as a whole (here a claim of a shop that does not exist) is written
/// again write by write: the bad write alone is answered with an error, every other
/// write of the batch is written and answered as if it had been alone.
async fn a_failing_batch_is_written_again_write_by_write(backend: Backend) {
    use renkei::screening::writes::{Done, write_batch};
    use renkei::store::{screenings::Claim, write::WriterConnection};
    let app = crate::support::spawn_app(backend).await;
    let writer = WriterConnection::new(&app.db);
    renkei::store::shops::ensure(&writer, "shop-a").await.unwrap();
    let first = [claim_work("shop-a", 0)];
    let id = match write_batch(&writer, &first.iter().collect::<Vec<_>>()).await.remove(0) {
        Ok(Done::Claim(claim)) => match *claim {
            Claim::Claimed(row) => row.id,
            Claim::Exists(_) => panic!("O0 existed"),
        },
        _ => panic!("O0 claimed expected"),
    };
    let now = chrono::Utc::now();
    let works = [
        claim_work("shop-a", 1),
        claim_work("no-such-shop", 2),
        finish_work(id, 0, now),
        claim_work("shop-a", 3),
    ];
    let answers = write_batch(&writer, &works.iter().collect::<Vec<_>>()).await;
    match &answers[..] {
        [
            Ok(Done::Claim(one)),
            Err(_),
            Ok(Done::Finish(true)),
            Ok(Done::Claim(three)),
        ] => {
            assert!(matches!(**one, Claim::Claimed(_)));
            assert!(matches!(**three, Claim::Claimed(_)));
        }
        _ => panic!("only the claim of the unknown shop failing expected"),
    }
    assert_eq!(count(&app.db, "screenings").await, 3);
    assert_eq!(count(&app.db, "events").await, 1);
    assert!(
        renkei::store::screenings::find(&app.db, "no-such-shop", "O2")
            .await
            .unwrap()
            .is_none()
    );
}

/// The claim of order `O{n}` of `shop`, with token `t{n}`.
fn claim_work(shop: &str, n: usize) -> renkei::screening::writes::Work {
    renkei::screening::writes::Work::Claim(renkei::screening::writes::ClaimOrder {
        shop_id: shop.into(),
        order_number: format!("O{n}"),
        fingerprint: "f".into(),
        token: format!("t{n}"),
    })
}

/// The finish of shop-a's row `id`, claimed with token `t{n}`: OK, with its exchange and
/// its `screening.created` event.
fn finish_work(id: i64, n: usize, now: chrono::DateTime<chrono::Utc>) -> renkei::screening::writes::Work {
    renkei::screening::writes::Work::Finish(Box::new(renkei::screening::writes::FinishOrder {
        id,
        token: format!("t{n}"),
        shop_id: "shop-a".into(),
        finished: ok_finish(now),
        exchange: Some(register_exchange(&format!("O{n}"), now)),
        event: serde_json::json!({ "order_number": format!("O{n}") }),
        review_opened: None,
    }))
}

async fn count(db: &sea_orm::DatabaseConnection, table: &str) -> i64 {
    count_where(db, table, "1 = 1").await
}

async fn count_where(db: &sea_orm::DatabaseConnection, table: &str, condition: &str) -> i64 {
    use sea_orm::ConnectionTrait;
    let rows = db
        .query_all_raw(count_statement(db.get_database_backend(), table, condition))
        .await
        .unwrap();
    rows[0].try_get::<i64>("", "n").unwrap()
}

/// `SELECT COUNT(*) AS n FROM table WHERE condition`, as a BIGINT on both databases.
fn count_statement(backend: sea_orm::DbBackend, table: &str, condition: &str) -> sea_orm::Statement {
    let sql = format!("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM {table} WHERE {condition}");
    sea_orm::Statement::from_string(backend, sql)
}

fn count_kept(backend: sea_orm::DbBackend) -> sea_orm::Statement {
    count_statement(backend, "kept", "1 = 1")
}

/// A claim of an order of shop-a, for the store-level batch tests.
fn claim(order_number: &'static str, token: &'static str) -> renkei::store::screenings::NewClaim<'static> {
    renkei::store::screenings::NewClaim {
        shop_id: "shop-a",
        order_number,
        fingerprint: "f",
        token,
    }
}

/// A finish's columns for the store-level batch tests: screened, OK.
fn ok_finish(now: chrono::DateTime<chrono::Utc>) -> renkei::store::screenings::Finished {
    renkei::store::screenings::Finished {
        screened: true,
        skip_reason: None,
        result: Some("OK".into()),
        reasons: "[]".into(),
        decision: "create_order".into(),
        redirect_url: None,
        forced_by_thanks_offer: false,
        oplux_event_id: Some("E1".into()),
        parent_order_number: None,
        error_detail: None,
        oplux_latency_ms: Some(5),
        screened_at: now,
        warnings: "[]".into(),
        parent_screening: None,
        review_opened_at: None,
    }
}

/// An answered registration of an order of shop-a, for the store-level batch tests.
fn register_exchange(
    order_number: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> renkei::store::oplux_exchanges::NewExchange {
    renkei::store::oplux_exchanges::NewExchange {
        shop_id: "shop-a".into(),
        order_number: order_number.into(),
        kind: "register",
        at: now,
        latency_ms: Some(5),
        outcome: "answered",
        http_status: Some(200),
        codes: "[]".into(),
    }
}

/// The finishes of the store-level batch tests: A's request (token `ta`) holds its row,
/// with event `evt_a`; B's finish carries a token that did not claim its row, with
/// `evt_b`.
fn held_and_lost<'a>(
    ids: &[i64],
    done: &'a renkei::store::screenings::Finished,
    exchanges: [&'a renkei::store::oplux_exchanges::NewExchange; 2],
    now: chrono::DateTime<chrono::Utc>,
) -> [renkei::store::screenings::Reported<'a>; 2] {
    use renkei::store::screenings::{Finish, Reported};
    let finish = |id: i64, token: &'a str, exchange, public_id: &str| Reported {
        finish: Finish { id, token, done },
        exchange: Some(exchange),
        event: created_event(public_id, now),
        opened: None,
    };
    [
        finish(ids[0], "ta", exchanges[0], "evt_a"),
        finish(ids[1], "other", exchanges[1], "evt_b"),
    ]
}

/// A `screening.created` event of shop-a, for the store-level batch tests.
fn created_event(public_id: &str, now: chrono::DateTime<chrono::Utc>) -> renkei::store::events::NewEvent {
    renkei::store::events::NewEvent {
        public_id: public_id.into(),
        shop_id: "shop-a".into(),
        event_type: "screening.created",
        data: "{}".into(),
        created_at: now,
    }
}
