//! The screening writes at the store: batches of claims and finishes on each database,
//! and the writer's own connection.

use crate::on_both_databases;
use crate::support::Backend;

on_both_databases!(
    a_batch_of_claims_and_finishes_is_written_together,
    a_batch_of_more_rows_than_a_statement_takes_is_written_whole,
    a_failing_batch_is_written_again_write_by_write,
    the_writer_keeps_its_connection_until_an_error_rolls_it_back,
);

/// A batch of claims and finishes (`store::screening_batch::write`), on either database:
/// new orders are claimed, an order that exists (before the batch, or claimed by a
/// duplicate in it) is answered with its row as the batch leaves it, only the finishes
/// whose request still holds the row are written, with their exchange, their event and
/// its delivery to the shop's enabled endpoint, and a failing batch leaves nothing behind
/// and the connection ready for the next.
async fn a_batch_of_claims_and_finishes_is_written_together(backend: Backend) {
    use chrono::Utc;
    use renkei::store::{
        oplux_exchanges,
        screening_batch::write,
        screenings::{self, Claim, Finish, Reported},
        webhooks::{self, NewEndpoint},
    };
    let app = crate::support::spawn_app(backend).await;
    let db = &renkei::store::write::WriterConnection::new(&app.db);
    renkei::store::shops::ensure(db, "shop-a").await.unwrap();
    let now = Utc::now();
    let (first, held) = write(db, &[claim("A", "ta"), claim("B", "tb")], &[], now)
        .await
        .unwrap();
    assert!(held.is_empty());
    assert_eq!(claimed(&first), [("A".into(), true), ("B".into(), true)]);
    let ids: Vec<i64> = first.iter().map(|claim| claim_row(claim).id).collect();
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
    let (second, held) = write(db, &claims, &reported, now).await.unwrap();
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
        [
            Claim::Claimed(c),
            Claim::Exists(a),
            Claim::Claimed(d),
            Claim::Exists(d2),
        ] => {
            assert_eq!((c.order_number.as_str(), c.state.as_str()), ("C", screenings::PENDING));
            assert_eq!((a.id, a.state.as_str()), (ids[0], screenings::DONE));
            assert_eq!(a.result.as_deref(), Some("OK"));
            assert_eq!((d2.id, d2.claim_token.as_str()), (d.id, "td"));
        }
        _ => panic!("C and D claimed, A and the second D existing expected"),
    }
    let a = screenings::find(db, "shop-a", "A").await.unwrap().unwrap();
    assert_eq!(
        (a.state.as_str(), a.oplux_event_id.as_deref()),
        (screenings::DONE, Some("E1"))
    );
    assert_eq!(a.screened_at.map(|at| at.timestamp()), Some(now.timestamp()));
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

    // An event id already taken fails the batch: the claim of E and C's finish in it
    // are rolled back, and the next batch writes on the same connection.
    let c_id = claim_row(&second[0]).id;
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
    assert!(write(db, &[claim("E", "te")], &failing, now).await.is_err());
    assert!(screenings::find(db, "shop-a", "E").await.unwrap().is_none());
    let c = screenings::find(db, "shop-a", "C").await.unwrap().unwrap();
    assert_eq!(c.state, screenings::PENDING);
    let (third, _) = write(db, &[claim("E", "te")], &[], now).await.unwrap();
    assert_eq!(claimed(&third), [("E".into(), true)]);
}

/// A batch of more rows than one statement of bound values used to take (64 rows; a
/// writer takes up to 256 jobs): every claim and every finish is written, with an event
/// and an exchange each, in the finishes' order.
async fn a_batch_of_more_rows_than_a_statement_takes_is_written_whole(backend: Backend) {
    use chrono::Utc;
    use renkei::store::{
        oplux_exchanges,
        screening_batch::write,
        screenings::{self, Finish, Reported},
    };
    const ROWS: usize = 150;
    let app = crate::support::spawn_app(backend).await;
    let db = &renkei::store::write::WriterConnection::new(&app.db);
    renkei::store::shops::ensure(db, "shop-a").await.unwrap();
    let now = Utc::now();
    let orders: Vec<String> = (0..ROWS).map(|n| format!("O{n:03}")).collect();
    let tokens: Vec<String> = (0..ROWS).map(|n| format!("t{n}")).collect();
    let claims: Vec<_> = orders
        .iter()
        .zip(&tokens)
        .map(|(order_number, token)| renkei::store::screenings::NewClaim {
            shop_id: "shop-a",
            order_number,
            fingerprint: "f",
            token,
        })
        .collect();
    let (claimed_rows, _) = write(db, &claims, &[], now).await.unwrap();
    assert_eq!(claimed(&claimed_rows).iter().filter(|(_, new)| *new).count(), ROWS);
    for (claim, order_number) in claimed_rows.iter().zip(&orders) {
        assert_eq!(&claim_row(claim).order_number, order_number);
    }
    let done = ok_finish(now);
    let exchanges: Vec<_> = orders.iter().map(|order| register_exchange(order, now)).collect();
    let reported: Vec<Reported> = claimed_rows
        .iter()
        .zip(&tokens)
        .zip(&exchanges)
        .enumerate()
        .map(|(n, ((claim, token), exchange))| Reported {
            finish: Finish {
                id: claim_row(claim).id,
                token,
                done: &done,
            },
            exchange: Some(exchange),
            event: created_event(&format!("evt_{n:03}"), now),
            opened: None,
        })
        .collect();
    let (_, held) = write(db, &[], &reported, now).await.unwrap();
    assert_eq!(held, vec![true; ROWS]);
    for order in [&orders[0], &orders[64], &orders[ROWS - 1]] {
        let row = screenings::find(db, "shop-a", order).await.unwrap().unwrap();
        assert_eq!(row.state, screenings::DONE, "{order}");
        let exchanges = oplux_exchanges::list(db, "shop-a", order, None, 10).await.unwrap();
        assert_eq!(exchanges.len(), 1, "exchanges of {order}");
    }
    let mut events = Vec::new();
    let mut cursor = None;
    loop {
        let page = renkei::store::events::list(db, "shop-a", cursor, 100).await.unwrap();
        let Some(last) = page.last() else { break };
        cursor = Some(last.id);
        events.extend(page);
    }
    assert_eq!(events.len(), ROWS);
    let mut by_id: Vec<(i64, String)> = events.into_iter().map(|e| (e.id, e.public_id)).collect();
    by_id.sort();
    let in_order: Vec<String> = by_id.into_iter().map(|(_, public_id)| public_id).collect();
    let expected: Vec<String> = (0..ROWS).map(|n| format!("evt_{n:03}")).collect();
    assert_eq!(in_order, expected, "events are appended in the finishes' order");
}

/// The screening writes (`screening::writes::ScreeningWrites`) take every write waiting
/// into one batch; when that batch fails, each of its writes is written again alone, so
/// one bad write (here a claim of a shop that does not exist) fails only its own request.
async fn a_failing_batch_is_written_again_write_by_write(backend: Backend) {
    use renkei::{screening::writes::ScreeningWrites, store::screenings::Claim};
    use sea_orm::{ConnectionTrait, DbBackend, TransactionTrait};
    const GOOD: usize = 20;
    let app = crate::support::spawn_app(backend).await;
    renkei::store::shops::ensure(&app.db, "shop-a").await.unwrap();
    let metrics = renkei::metrics::Metrics::new();
    let writes = std::sync::Arc::new(ScreeningWrites::start(&app.db, &metrics.screening_writes));
    // Another connection holds the screenings' write lock: the writer's first batch
    // waits for it, and everything sent meanwhile queues up for the next batch.
    let lock = app.db.begin().await.unwrap();
    let hold = match app.db.get_database_backend() {
        DbBackend::Postgres => "LOCK TABLE screenings IN EXCLUSIVE MODE",
        _ => "DELETE FROM shops WHERE id = 'no-such-shop'",
    };
    lock.execute_unprepared(hold).await.unwrap();
    let claim = |shop: &'static str, order: String| {
        let writes = writes.clone();
        tokio::spawn(async move { writes.claim(shop, &order, "f", &format!("t-{order}")).await })
    };
    let sample = |name: &str| {
        let text = metrics.encode();
        text.lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or(0.0) as usize
    };
    let taken = || sample("renkei_screening_write_queue_seconds_count{");
    let queued = || sample("renkei_screening_write_queue{");
    // One claim per writer, one at a time, so that each writer takes one and waits.
    let writers = ScreeningWrites::writers(&app.db);
    let mut firsts = Vec::new();
    for n in 1..=writers {
        firsts.push(claim("shop-a", format!("first-{n}")));
        crate::support::eventually("a claim taken by a writer", crate::support::PATIENCE, || async {
            (taken() == n).then_some(())
        })
        .await;
    }
    let mut others: Vec<_> = (0..GOOD).map(|n| claim("shop-a", format!("O{n}"))).collect();
    others.push(claim("no-such-shop", "ghost".into()));
    crate::support::eventually("every other write queued", crate::support::PATIENCE, || async {
        (queued() == GOOD + 1).then_some(())
    })
    .await;
    lock.commit().await.unwrap();
    for first in firsts {
        assert!(matches!(first.await.unwrap(), Ok(Claim::Claimed(_))));
    }
    let ghost = others.pop().unwrap().await.unwrap();
    assert!(ghost.is_err(), "a claim of a shop that does not exist fails");
    for other in others {
        assert!(matches!(other.await.unwrap(), Ok(Claim::Claimed(_))));
    }
    let count = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM screenings",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(count.try_get::<i64>("", "n").unwrap(), (GOOD + writers) as i64);
}

/// The screening writer's connection (`store::write::WriterConnection`) is one
/// connection, kept from write to write (a temporary table, which only its own
/// connection sees, stays); an error in a batch closes it, which rolls the
/// batch back, and the next write opens another (the temporary table is gone);
/// so does `close`, when its writer stops.
async fn the_writer_keeps_its_connection_until_an_error_rolls_it_back(backend: Backend) {
    use renkei::store::{screening_batch, screenings, write::WriterConnection};
    use sea_orm::ConnectionTrait;
    let now = chrono::Utc::now();
    let ghost = || renkei::store::screenings::NewClaim {
        shop_id: "no-such-shop",
        order_number: "G",
        fingerprint: "f",
        token: "tg",
    };
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

    let failed = screening_batch::write(&writer, &[claim("A", "ta"), ghost()], &[], now).await;
    assert!(failed.is_err());
    assert!(screenings::find(&app.db, "shop-a", "A").await.unwrap().is_none());
    assert!(
        writer
            .query_all_raw(count_kept(writer.get_database_backend()))
            .await
            .is_err(),
        "a new connection does not see the old one's temporary table"
    );
    let (claimed, _) = screening_batch::write(&writer, &[claim("A", "ta")], &[], now)
        .await
        .unwrap();
    assert!(matches!(&claimed[..], [screenings::Claim::Claimed(_)]));
    assert!(screenings::find(&app.db, "shop-a", "A").await.unwrap().is_some());

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
    use renkei::store::{screening_batch, screenings, write::WriterConnection};
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
    let (claimed, _) = screening_batch::write(&writer, &[claim("B", "tb")], &[], chrono::Utc::now())
        .await
        .unwrap();
    assert!(matches!(&claimed[..], [screenings::Claim::Claimed(_)]));
    assert_ne!(pid(writer.query_all_raw(backend_pid).await.unwrap()), cut);
}

/// Each claim's order and whether this batch claimed it (or found it).
fn claimed(claims: &[renkei::store::screenings::Claim]) -> Vec<(String, bool)> {
    use renkei::store::screenings::Claim;
    claims
        .iter()
        .map(|claim| match claim {
            Claim::Claimed(row) => (row.order_number.clone(), true),
            Claim::Exists(row) => (row.order_number.clone(), false),
        })
        .collect()
}

/// A claim's row, claimed or found.
fn claim_row(claim: &renkei::store::screenings::Claim) -> &renkei::store::screenings::ScreeningRow {
    use renkei::store::screenings::Claim;
    match claim {
        Claim::Claimed(row) | Claim::Exists(row) => row,
    }
}

fn count_kept(backend: sea_orm::DbBackend) -> sea_orm::Statement {
    sea_orm::Statement::from_string(backend, "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM kept")
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
