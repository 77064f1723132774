//! The fault suite: screening under injected O-PLUX faults and duplicate bursts, and the
//! database connections killed under load.

use std::{collections::HashMap, time::Duration};

use futures_util::{StreamExt, stream};
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{
    Backend, PATIENCE, eventually,
    oplux::{Mock, account, order},
    spawn_app_with,
};

on_both_databases!(two_thousand_screenings_with_faults_and_duplicates_get_one_record_and_one_event_each);

const ORDERS: usize = 2_000;
const CONCURRENCY: usize = 48;

async fn two_thousand_screenings_with_faults_and_duplicates_get_one_record_and_one_event_each(backend: Backend) {
    // 20 % of O-PLUX's answers fail: half HTTP 500, half a timeout.
    let mock = Mock::start(Duration::ZERO, 0.2).await;
    // The breaker would stop calling after a run of failures; here every order must reach
    // O-PLUX exactly once, so it is set out of reach.
    let app = spawn_app_with(backend, |config| {
        config.oplux_breaker_threshold = 1_000_000;
        config.database.max_connections = 16;
        mock.allow_in(config);
    })
    .await;
    let token = app
        .token(
            "shop-a",
            &[
                "accounts:write",
                "payment-methods:write",
                "screenings:write",
                "screenings:read",
            ],
        )
        .await;
    let setup = [
        ("/api/v1/provider-accounts/o-plux", account(&mock.url())),
        (
            "/api/v1/payment-methods/cod",
            json!({"kind": "cash_on_delivery", "display_name": "代引き", "oplux_screening": true}),
        ),
    ];
    for (path, body) in setup {
        let response = app
            .http
            .put(app.url(path))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }

    // Bursts: every tenth order is sent three times at once, every fifth twice.
    let mut requests = Vec::new();
    for i in 0..ORDERS {
        let copies = if i % 10 == 0 {
            3
        } else if i % 5 == 0 {
            2
        } else {
            1
        };
        for _ in 0..copies {
            requests.push(i);
        }
    }
    let url = app.url("/api/v1/fraud-screenings");
    let results: Vec<(usize, u16, Value)> = stream::iter(requests)
        .map(|i| {
            let request = app
                .http
                .post(&url)
                .bearer_auth(&token)
                .json(&order(&format!("F-{i:05}"), "cod", (i % 4) as u8))
                .send();
            async move {
                let response = request.await.unwrap();
                let status = response.status().as_u16();
                (i, status, response.json::<Value>().await.unwrap_or_default())
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;

    let mut decisions: HashMap<usize, Value> = HashMap::new();
    for (i, status, body) in &results {
        assert!(*status == 200 || *status == 201, "order {i}: HTTP {status} {body}");
        let decision = body["decision"].as_str().unwrap_or_default();
        assert!(
            decision == "create_order" || decision == "redirect",
            "order {i}: {body}"
        );
        if let Some(previous) = decisions.insert(*i, body.clone()) {
            assert_eq!(&previous, body, "order {i}: duplicates got different answers");
        }
    }
    assert_eq!(decisions.len(), ORDERS);
    let created = results.iter().filter(|(_, status, _)| *status == 201).count();
    assert_eq!(
        created, ORDERS,
        "one record per order: every duplicate got the stored answer"
    );
    let errors = decisions.values().filter(|d| d["result"] == "ERROR").count();
    assert!(
        errors > ORDERS / 10 && errors < ORDERS * 3 / 10,
        "{errors} ERROR results for a 20 % fault rate"
    );

    let stats = mock.stats().await;
    let events = stats["events"].as_object().unwrap();
    assert_eq!(events.len(), ORDERS);
    assert!(
        events.values().all(|count| count == 1),
        "an order reached O-PLUX more than once"
    );
    assert_eq!(stats["total"], ORDERS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_database_connections_give_503_and_the_service_recovers_on_postgres() {
    if crate::support::postgres_missing() {
        return;
    }
    let application_name = format!(
        "renkei_{}",
        renkei::crypto::random::hex(&renkei::crypto::random_bytes::<6>())
    );
    let app = spawn_app_with(Backend::Postgres, |config| {
        let url = format!("{}?application_name={application_name}", config.database.url.expose());
        config.database.url = renkei::core::Secret::new(url);
        config.database.max_connections = 8;
    })
    .await;
    let token = app
        .token("shop-a", &["payment-methods:read", "payment-methods:write"])
        .await;
    let admin = sea_orm::Database::connect(crate::support::postgres_url())
        .await
        .unwrap();
    let kill =
        format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{application_name}'");

    let load = |round: usize| {
        let app = &app;
        let token = &token;
        stream::iter(0..200)
            .map(move |i| async move {
                let response = if i % 2 == 0 {
                    app.get("/api/v1/payment-methods", token).send().await.unwrap()
                } else {
                    app.http
                        .put(app.url(&format!("/api/v1/payment-methods/m{round}-{i}")))
                        .bearer_auth(token)
                        .json(&json!({"kind": "bank_transfer", "display_name": "振込"}))
                        .send()
                        .await
                        .unwrap()
                };
                let status = response.status().as_u16();
                let content_type = response
                    .headers()
                    .get("content-type")
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_default();
                (status, content_type)
            })
            .buffer_unordered(16)
            .collect::<Vec<_>>()
    };
    use sea_orm::ConnectionTrait;
    let (outcomes, killed) = tokio::join!(load(1), async {
        let mut killed = 0;
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(40)).await;
            let statement = sea_orm::Statement::from_string(sea_orm::DatabaseBackend::Postgres, kill.clone());
            killed += admin.query_all_raw(statement).await.unwrap().len();
        }
        killed
    });
    assert!(killed > 0, "no connection of the application was killed");
    for (status, content_type) in &outcomes {
        match status {
            200 | 201 => {}
            503 => assert!(content_type.starts_with("application/problem+json"), "{content_type}"),
            other => panic!("a killed connection gave HTTP {other}, not 503"),
        }
    }
    // The pool reconnects by itself: once the service is ready again, the next load succeeds.
    eventually("the service ready after the kill", PATIENCE, || async {
        let ready = app.http.get(app.url("/readyz")).send().await.ok()?;
        (ready.status() == 200).then_some(())
    })
    .await;
    let after = load(2).await;
    let failed: Vec<_> = after
        .iter()
        .filter(|(status, _)| !(200..300).contains(status))
        .collect();
    assert!(failed.is_empty(), "after the kill: {failed:?}");
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

/// A PostgreSQL restart at peak (stopped for 4 s under 16 concurrent checkouts) costs no
/// checkout and no second O-PLUX call: the claims and finishes that meet the outage are
/// tried again within the request's time (O-PLUX's answer kept in hand), and a checkout's
/// retry of an order finds its record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_at_peak_costs_no_checkout_and_no_second_o_plux_call() {
    use crate::support::{TestDatabase, own_postgres::OwnPostgres, spawn_on};
    if crate::support::postgres_missing() {
        return;
    }
    let Some(server) = OwnPostgres::start() else { return };
    let mock = Mock::start(Duration::from_millis(100), 0.0).await;
    let database = std::sync::Arc::new(TestDatabase::postgres_at(&server.url()));
    let app = spawn_on(database, |config| {
        config.database.max_connections = 16;
        config.database.acquire_timeout = Duration::from_millis(500);
        mock.allow_in(config);
    })
    .await;
    let token = app
        .token(
            "shop-a",
            &["accounts:write", "payment-methods:write", "screenings:write"],
        )
        .await;
    for (path, body) in [
        ("/api/v1/provider-accounts/o-plux", account(&mock.url())),
        (
            "/api/v1/payment-methods/cod",
            json!({"kind": "cash_on_delivery", "display_name": "代引き", "oplux_screening": true}),
        ),
    ] {
        let response = app
            .http
            .put(app.url(path))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
    }

    let screen = |order_number: String| {
        let app = &app;
        let token = &token;
        async move {
            let response = app
                .http
                .post(app.url("/api/v1/fraud-screenings"))
                .bearer_auth(token)
                .json(&order(&order_number, "cod", 0))
                .timeout(Duration::from_secs(30))
                .send()
                .await;
            let status = response.map(|r| r.status().as_u16()).map_err(|e| e.to_string());
            (order_number, status)
        }
    };
    // 16 checkouts at a time, each sending one order after another, until the outage is
    // over and a little more.
    let started = std::time::Instant::now();
    let checkouts = (0..16).map(|lane| async move {
        let mut answers = Vec::new();
        let mut n = 0;
        while started.elapsed() < Duration::from_secs(9) {
            answers.push(screen(format!("R{lane:02}{n:05}")).await);
            n += 1;
        }
        answers
    });
    let outage = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        server.down();
        tokio::time::sleep(Duration::from_secs(4)).await;
        server.up();
    };
    let (answers, ()) = tokio::join!(futures_util::future::join_all(checkouts), outage);
    let answers: Vec<_> = answers.into_iter().flatten().collect();
    let refused: Vec<_> = answers
        .iter()
        .filter(|(_, status)| !matches!(status, Ok(201)))
        .collect();
    assert!(refused.is_empty(), "checkouts refused during the outage: {refused:?}");
    assert!(answers.len() > 32, "the load ran: {} checkouts", answers.len());

    // A checkout retrying an order gets its record, without a new call.
    for (order_number, _) in answers.iter().step_by(7) {
        let (_, status) = screen(order_number.clone()).await;
        assert!(matches!(status, Ok(200)), "{order_number}: {status:?}");
    }
    let stats = mock.stats().await;
    let events = stats["events"].as_object().unwrap();
    let twice: Vec<_> = events.iter().filter(|(_, count)| **count != 1).collect();
    assert!(twice.is_empty(), "orders sent to O-PLUX more than once: {twice:?}");
    assert_eq!(events.len(), answers.len(), "every order reached O-PLUX");
}
