//! Screening orders with O-PLUX through the HTTP API, against the project's own O-PLUX
//! stand-in on loopback (which shows what it received).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{
    Backend, TestApp, assert_problem, error_fields,
    oplux::{Mock, account, order},
    screening_shop::{NOTHING_LISTENS, ScreeningShop},
    spawn_app_with,
};

on_both_databases!(
    ok_hold_review_and_ng_follow_the_configured_actions,
    a_timeout_and_a_500_give_error_with_the_on_error_action_in_time,
    wrong_credentials_give_error_and_verify_names_o_pluxs_code,
    orders_that_are_not_screened_say_why_and_create_the_order,
    a_thanks_offer_forces_the_order_when_settlement_is_not_immediate,
    a_replay_returns_the_stored_answer_without_calling_o_plux,
    a_different_request_for_a_screened_order_number_is_409,
    concurrent_duplicates_on_two_replicas_call_o_plux_once,
    a_burst_of_orders_from_two_shops_is_stored_and_reported_per_shop,
    a_wrong_shape_is_422_with_every_field_no_call_and_nothing_stored,
    screenings_are_found_by_result_and_time_and_per_shop,
    repeated_failures_open_the_circuit_breaker,
    an_admin_order_with_odd_buyer_data_and_an_unknown_method_is_not_refused,
    a_shop_with_o_plux_off_never_refuses_an_order,
    an_unknown_payment_method_is_422_when_its_gate_is_reached,
    phone_numbers_as_typed_in_japan_reach_o_plux_as_domestic_digits,
    a_postcode_with_the_postal_mark_reaches_o_plux_as_seven_digits,
    the_ip_address_is_sent_with_the_fingerprint,
    without_a_fingerprint_the_cookie_is_sent_cut_at_500_characters,
    deliveries_reach_o_plux_as_a_list_without_a_wrapper,
    unusable_buyer_data_is_left_out_and_named_in_warnings,
    warnings_are_stored_and_shown_on_get,
    a_thanks_offer_payment_of_a_screened_parent_is_not_screened_again,
    a_thanks_offer_payment_of_an_unknown_parent_is_screened,
    a_thanks_offer_forces_the_order_when_o_plux_fails,
    an_o_plux_error_answer_keeps_every_error_code_in_reasons,
    a_refused_signature_keeps_o_pluxs_code_in_reasons,
);

async fn ok_hold_review_and_ng_follow_the_configured_actions(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    let ok = shop.screened(&order("O-0", "cod", 0)).await;
    assert_eq!(ok["result"], "OK");
    assert_eq!(ok["screened"], true);
    assert_eq!(ok["decision"], "create_order");
    assert_eq!(ok["oplux_event_id"].as_str().unwrap().len(), 47);
    let hold = shop.screened(&order("O-1", "cod", 1)).await;
    assert_eq!(
        (hold["result"].as_str(), hold["decision"].as_str()),
        (Some("HOLD"), Some("create_order"))
    );
    assert_eq!(hold["reasons"][0]["code"], "TEST_HOLDTEL");
    let review = shop.screened(&order("O-2", "cod", 2)).await;
    assert_eq!(
        (review["result"].as_str(), review["decision"].as_str()),
        (Some("REVIEW"), Some("create_order"))
    );
    let ng = shop.screened(&order("O-3", "cod", 3)).await;
    assert_eq!(
        (ng["result"].as_str(), ng["decision"].as_str()),
        (Some("NG"), Some("redirect"))
    );
    assert_eq!(ng["redirect_url"], "https://shop.example.jp/orders/ng");
    assert_eq!(ng["reasons"][0]["description"], "不正: テスト用電話番号");

    // The other action for each result.
    shop.patch_oplux(json!({
        "on_hold": {"action": "redirect", "redirect_url": "https://shop.example.jp/hold"},
        "on_review": {"action": "redirect", "redirect_url": "https://shop.example.jp/review"},
        "on_ng": {"action": "create_order"},
    }))
    .await;
    let hold = shop.screened(&order("P-1", "cod", 1)).await;
    assert_eq!(
        (hold["decision"].as_str(), hold["redirect_url"].as_str()),
        (Some("redirect"), Some("https://shop.example.jp/hold"))
    );
    let review = shop.screened(&order("P-2", "cod", 2)).await;
    assert_eq!(review["redirect_url"], "https://shop.example.jp/review");
    let ng = shop.screened(&order("P-3", "cod", 3)).await;
    assert_eq!(
        (ng["decision"].as_str(), ng["redirect_url"].clone()),
        (Some("create_order"), Value::Null)
    );
    for order_number in ["O-0", "O-1", "O-2", "O-3", "P-1", "P-2", "P-3"] {
        assert_eq!(shop.mock.events_for(order_number).await, 1, "{order_number}");
    }
    // The stored record is what O-PLUX answered then.
    let stored: Value = shop.get("/api/v1/fraud-screenings/O-3").await.json().await.unwrap();
    assert_eq!(stored["result"], "NG");
    assert_eq!(stored["decision"], "redirect");
    let metrics = shop
        .app
        .http
        .get(shop.app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("renkei_screenings_total{result=\"NG\",decision=\"redirect\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("renkei_oplux_request_duration_seconds_count{outcome=\"answered\"} 7"));
    // The writes' histogram is this app's (its writers'): at least these seven each.
    for write in ["claim", "finish"] {
        let count = sample(
            &metrics,
            &format!("renkei_screening_write_seconds_count{{write=\"{write}\"}}"),
        );
        assert!(count >= 7, "{write}: {count}");
    }
    // And the batches that held them, on this database: at least one.
    let database = renkei::store::write::database(&shop.app.db);
    let batches = sample(
        &metrics,
        &format!("renkei_screening_batch_seconds_count{{database=\"{database}\"}}"),
    );
    assert!(batches >= 1, "{batches}");
    // Each claim and finish waited in the queue for a writer: at least these fourteen.
    let waits = sample(
        &metrics,
        &format!("renkei_screening_write_queue_seconds_count{{database=\"{database}\"}}"),
    );
    assert!(waits >= 14, "{waits}");
    // And the writes waiting now (other tests' perhaps) are a count.
    sample(
        &metrics,
        &format!("renkei_screening_write_queue{{database=\"{database}\"}}"),
    );
}

/// The value of a sample (`name{labels}`) in a Prometheus text exposition.
fn sample(metrics: &str, series: &str) -> u64 {
    let prefix = format!("{series} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {series} in {metrics}"))
        .parse()
        .unwrap()
}

async fn a_timeout_and_a_500_give_error_with_the_on_error_action_in_time(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    let started = Instant::now();
    let slow = shop.screened(&order("T-8", "cod", 8)).await;
    let took = started.elapsed();
    assert_eq!(slow["result"], "ERROR");
    assert_eq!(slow["screened"], true);
    assert_eq!(slow["decision"], "create_order");
    // No sooner than the 500 ms timeout; "in time" with a loaded machine's slack (the
    // stand-in never answers this order).
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_secs(5),
        "{took:?}"
    );
    shop.patch_oplux(json!({"on_error": {"action": "redirect", "redirect_url": "https://shop.example.jp/retry"}}))
        .await;
    let failed = shop.screened(&order("T-9", "cod", 9)).await;
    assert_eq!(failed["result"], "ERROR");
    assert_eq!(failed["decision"], "redirect");
    assert_eq!(failed["redirect_url"], "https://shop.example.jp/retry");
    // Exactly one event each: a request that may have reached O-PLUX is never retried.
    assert_eq!(shop.mock.events_for("T-8").await, 1);
    assert_eq!(shop.mock.events_for("T-9").await, 1);
    // O-PLUX down altogether: still a decision.
    shop.patch_oplux(json!({"endpoint": NOTHING_LISTENS})).await;
    let down = shop.screened(&order("T-down", "cod", 0)).await;
    assert_eq!(down["result"], "ERROR");
    assert_eq!(down["decision"], "redirect");
}

async fn wrong_credentials_give_error_and_verify_names_o_pluxs_code(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    let verify = || {
        shop.app
            .http
            .post(shop.app.url("/api/v1/provider-accounts/o-plux/verify"))
            .bearer_auth(&shop.token)
            .send()
    };
    let good: Value = verify().await.unwrap().json().await.unwrap();
    assert_eq!(good["accepted"], true);
    assert_eq!(good["result"], "OK");
    shop.patch_oplux(json!({"secret_key": "not-the-secret"})).await;
    let bad: Value = verify().await.unwrap().json().await.unwrap();
    assert_eq!(bad["accepted"], false);
    assert_eq!(bad["http_status"], 403);
    assert_eq!(bad["error_code"], "Authentication.InvalidSignature");
    let screened = shop.screened(&order("W-0", "cod", 0)).await;
    assert_eq!(screened["result"], "ERROR");
    assert!(!bad.to_string().contains("not-the-secret"));
}

async fn orders_that_are_not_screened_say_why_and_create_the_order(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    shop.put_payment_method(
        "bank",
        json!({"kind": "bank_transfer", "display_name": "振込", "oplux_screening": false}),
    )
    .await;
    for channel in ["admin_order", "csv_import", "subscription_auto", "subscription_manual"] {
        let mut body = order(&format!("C-{channel}"), "cod", 3);
        body["channel"] = json!(channel);
        assert_eq!(skip(&shop, body).await, "channel_not_screened");
    }
    assert_eq!(
        skip(&shop, order("M-1", "bank", 3)).await,
        "payment_method_not_screened"
    );
    shop.screened(&order("O-PARENT", "cod", 0)).await;
    let mut thanks = order("TH-1", "cod", 3);
    thanks["thanks_offer"] =
        json!({"ad_url_enabled": true, "is_thanks_offer_payment": true, "parent_order_number": "O-PARENT"});
    let screening = shop.screened(&thanks).await;
    assert_eq!(screening["skip_reason"], "thanks_offer_payment");
    assert_eq!(screening["parent_order_number"], "O-PARENT");
    let mut existing = order("E-1", "cod", 3);
    existing["customer"]["registered"] = json!(true);
    existing["customer"]["previous_order_count"] = json!(2);
    assert_eq!(skip(&shop, existing.clone()).await, "existing_customer");
    // With "screen existing customers" on, they are screened.
    shop.patch_oplux(json!({"screen_existing_customers": true})).await;
    existing["order_number"] = json!("E-2");
    assert_eq!(shop.screened(&existing).await["result"], "NG");
    // O-PLUX off: nothing is screened.
    shop.patch_oplux(json!({"enabled": false})).await;
    assert_eq!(skip(&shop, order("D-1", "cod", 3)).await, "oplux_disabled");
    assert_eq!(shop.mock.total().await, 2, "only O-PARENT and E-2 reached O-PLUX");
}

async fn a_thanks_offer_forces_the_order_when_settlement_is_not_immediate(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    shop.put_payment_method(
        "card",
        json!({"kind": "cash_on_delivery", "display_name": "即時", "oplux_screening": true, "thanks_offer_immediate_settlement": true}),
    )
    .await;
    let mut offered = order("F-1", "cod", 3);
    offered["thanks_offer"]["ad_url_enabled"] = json!(true);
    let forced = shop.screened(&offered).await;
    assert_eq!(forced["result"], "NG");
    assert_eq!(forced["decision"], "create_order");
    assert_eq!(forced["forced_by_thanks_offer"], true);
    assert!(forced["redirect_url"].is_null());
    let mut immediate = order("F-2", "card", 3);
    immediate["thanks_offer"]["ad_url_enabled"] = json!(true);
    let redirected = shop.screened(&immediate).await;
    assert_eq!(redirected["decision"], "redirect");
    assert_eq!(redirected["forced_by_thanks_offer"], false);
}

async fn a_replay_returns_the_stored_answer_without_calling_o_plux(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    let body = order("R-1", "cod", 1);
    let first = shop.screened(&body).await;
    let replay = shop.screen(&body).await;
    assert_eq!(replay.status(), 200);
    let replay: Value = replay.json().await.unwrap();
    assert_eq!(replay, first);
    assert_eq!(shop.mock.events_for("R-1").await, 1);
}

async fn a_different_request_for_a_screened_order_number_is_409(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    shop.screened(&order("D-1", "cod", 0)).await;
    let mut other = order("D-1", "cod", 0);
    other["amount"] = json!(99);
    let problem = assert_problem(shop.screen(&other).await, 409).await;
    assert!(problem["detail"].as_str().unwrap().contains("different request"));
    assert_eq!(shop.mock.events_for("D-1").await, 1);
}

async fn concurrent_duplicates_on_two_replicas_call_o_plux_once(backend: Backend) {
    // O-PLUX takes 200 ms, so the duplicates arrive while the first is being screened.
    let shop = ScreeningShop::with(
        backend,
        Mock::start(Duration::from_millis(200), 0.0).await,
        account,
        |_| {},
    )
    .await;
    let replica = shop.app.sibling(|config| shop.mock.allow_in(config)).await;
    let body = order("CC-1", "cod", 2);
    let send = |app: &TestApp| {
        app.http
            .post(app.url("/api/v1/fraud-screenings"))
            .bearer_auth(&shop.token)
            .json(&body)
            .send()
    };
    let (a, b, c, d) = tokio::join!(send(&shop.app), send(&replica), send(&shop.app), send(&replica));
    let responses = [a.unwrap(), b.unwrap(), c.unwrap(), d.unwrap()];
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 3, "{statuses:?}");
    let mut bodies = Vec::new();
    for response in responses {
        bodies.push(response.json::<Value>().await.unwrap());
    }
    assert!(bodies.iter().all(|b| b == &bodies[0]));
    assert_eq!(bodies[0]["result"], "REVIEW");
    assert_eq!(shop.mock.events_for("CC-1").await, 1);
}

/// A burst of orders of two shops, each sent twice at once: the writes of many
/// requests share transactions and statements (group commit), and still every order is
/// screened once, answered with what is stored, and reported to its own shop only.
async fn a_burst_of_orders_from_two_shops_is_stored_and_reported_per_shop(backend: Backend) {
    const ORDERS: usize = 30;
    let mock = Mock::start(Duration::from_millis(100), 0.0).await;
    let app = spawn_app_with(backend, |config| {
        mock.allow_in(config);
        // The deliveries stay queued: this test counts them, nothing receives them.
        config.webhook_poll_interval = Duration::from_secs(3600);
    })
    .await;
    let scopes = [
        "accounts:write",
        "payment-methods:write",
        "screenings:write",
        "screenings:read",
        "webhooks:read",
        "webhooks:write",
    ];
    let send =
        |request: reqwest::RequestBuilder, token: &str, body: Value| request.bearer_auth(token).json(&body).send();
    let mut shops = Vec::new();
    for name in ["shop-a", "shop-b"] {
        let token = app.token(name, &scopes).await;
        for (path, body) in [
            ("/api/v1/provider-accounts/o-plux", account(&mock.url())),
            (
                "/api/v1/payment-methods/cod",
                json!({"kind": "cash_on_delivery", "display_name": "代引き", "oplux_screening": true}),
            ),
        ] {
            let response = send(app.http.put(app.url(path)), &token, body).await.unwrap();
            assert!(response.status().is_success(), "{}", response.text().await.unwrap());
        }
        let endpoint = json!({"url": format!("https://hooks.{name}.example.jp/in"), "events": ["screening.created"]});
        let endpoint = send(app.http.post(app.url("/api/v1/webhook-endpoints")), &token, endpoint)
            .await
            .unwrap();
        assert_eq!(endpoint.status(), 201);
        let endpoint: Value = endpoint.json().await.unwrap();
        shops.push((name, token, endpoint["id"].as_str().unwrap().to_string()));
    }
    let get = |path: String, token: &str| {
        let request = app.get(&path, token).send();
        async move {
            let response = request.await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            response.json::<Value>().await.unwrap()
        }
    };
    let mut requests = Vec::new();
    for n in 0..ORDERS {
        for (name, token, _) in &shops {
            let number = format!("{name}-{n}");
            for _ in 0..2 {
                let body = order(&number, "cod", (n % 4) as u8);
                let request = send(app.http.post(app.url("/api/v1/fraud-screenings")), token, body);
                let number = number.clone();
                requests.push(async move { (number, request.await.unwrap()) });
            }
        }
    }
    let mut answers: std::collections::HashMap<String, Vec<(u16, Value)>> = Default::default();
    for (number, response) in futures_util::future::join_all(requests).await {
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        answers.entry(number).or_default().push((status, body));
    }
    assert_eq!(answers.len(), 2 * ORDERS);
    for (number, answered) in &answers {
        let mut statuses: Vec<u16> = answered.iter().map(|(status, _)| *status).collect();
        statuses.sort();
        assert_eq!(statuses, [200, 201], "{number}: {answered:?}");
        assert_eq!(answered[0].1, answered[1].1, "{number}: the replay differs");
        assert_eq!(mock.events_for(number).await, 1, "{number}");
    }
    for (name, token, endpoint) in &shops {
        let own = |number: &Value| number.as_str().unwrap().starts_with(&format!("{name}-"));
        for n in 0..ORDERS {
            let number = format!("{name}-{n}");
            let stored = get(format!("/api/v1/fraud-screenings/{number}"), token).await;
            assert_eq!(stored, answers[&number][0].1, "{number}");
            let exchanges = get(format!("/api/v1/fraud-screenings/{number}/exchanges"), token).await;
            assert_eq!(exchanges["items"].as_array().unwrap().len(), 1, "{number}: {exchanges}");
        }
        let events = get("/api/v1/events?limit=200".into(), token).await;
        let created: Vec<&Value> = events["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "screening.created")
            .collect();
        assert_eq!(created.len(), ORDERS, "{name}: {events}");
        assert!(
            created.iter().all(|e| own(&e["data"]["order_number"])),
            "{name}: {events}"
        );
        let path = format!("/api/v1/webhook-endpoints/{endpoint}/deliveries?limit=200");
        let deliveries = get(path, token).await;
        let mut delivered: Vec<&str> = deliveries["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["event_id"].as_str().unwrap())
            .collect();
        delivered.sort();
        let mut expected: Vec<&str> = created.iter().map(|e| e["id"].as_str().unwrap()).collect();
        expected.sort();
        assert_eq!(delivered, expected, "{name}: one delivery per event of its own");
    }
}

async fn a_wrong_shape_is_422_with_every_field_no_call_and_nothing_stored(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    let mut bad = order("BAD 1", "cod", 0);
    bad["amount"] = json!(-1);
    bad["items"] = json!([{"id": "", "name": "x", "price": -1, "quantity": 0}]);
    bad["thanks_offer"]["parent_order_number"] = json!("not an order number");
    // The buyer's data is not the request's shape: never a reason for a 422.
    bad["customer"]["tel"] = json!("12");
    bad["customer"]["address"]["zipcode"] = json!("15");
    bad["card_bin"] = json!("4111");
    bad["customer"]["email"] = json!("not-an-email");
    let problem = assert_problem(shop.screen(&bad).await, 422).await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(
        fields,
        [
            "amount",
            "items[0].price",
            "items[0].quantity",
            "order_number",
            "thanks_offer.parent_order_number",
        ]
    );
    let mut missing = order("BAD-2", "cod", 0);
    missing["customer"].as_object_mut().unwrap().remove("name");
    let problem = assert_problem(shop.screen(&missing).await, 422).await;
    assert_eq!(error_fields(&problem), ["customer.name"]);
    let mut channel = order("BAD-4", "cod", 0);
    channel["channel"] = json!("phone");
    assert_eq!(
        error_fields(&assert_problem(shop.screen(&channel).await, 422).await),
        ["channel"]
    );
    let mut tel_type = order("BAD-5", "cod", 0);
    tel_type["customer"]["tel"] = json!(9012345670_u64);
    assert_eq!(
        error_fields(&assert_problem(shop.screen(&tel_type).await, 422).await),
        ["customer.tel"]
    );
    assert_eq!(shop.mock.total().await, 0);
    for order_number in ["BAD-2", "BAD-4", "BAD-5"] {
        assert_problem(shop.get(&format!("/api/v1/fraud-screenings/{order_number}")).await, 404).await;
    }
}

async fn screenings_are_found_by_result_and_time_and_per_shop(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    for (number, digit) in [("S-1", 0), ("S-2", 1), ("S-3", 1), ("S-4", 3)] {
        shop.screened(&order(number, "cod", digit)).await;
    }
    let mut unscreened = order("S-5", "cod", 1);
    unscreened["channel"] = json!("admin_order");
    shop.screened(&unscreened).await;
    assert_eq!(list(&shop, "?result=HOLD").await, ["S-3", "S-2"]);
    assert_eq!(list(&shop, "?result=NG").await, ["S-4"]);
    assert_eq!(list(&shop, "?screened=false").await, ["S-5"]);
    assert_eq!(list(&shop, "").await.len(), 5);
    assert_eq!(
        list(&shop, "?from=2000-01-01T00:00:00Z&to=2999-01-01T00:00:00Z&result=OK").await,
        ["S-1"]
    );
    assert!(list(&shop, "?to=2000-01-01T00:00:00Z").await.is_empty());
    let first: Value = shop.get("/api/v1/fraud-screenings?limit=2").await.json().await.unwrap();
    let cursor = first["next_cursor"].as_str().unwrap();
    let second: Value = shop
        .get(&format!("/api/v1/fraud-screenings?limit=2&cursor={cursor}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["items"][0]["order_number"], "S-3");
    let problem = assert_problem(shop.get("/api/v1/fraud-screenings?result=MAYBE").await, 422).await;
    assert_eq!(error_fields(&problem), ["result"]);
    let problem = assert_problem(shop.get("/api/v1/fraud-screenings?reason=R001").await, 422).await;
    assert_eq!(error_fields(&problem), ["reason"]);

    let other = shop.app.token("shop-b", &["screenings:read", "screenings:write"]).await;
    let theirs: Value = shop
        .app
        .get("/api/v1/fraud-screenings", &other)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(theirs["items"].as_array().unwrap().is_empty());
    assert_problem(
        shop.app
            .get("/api/v1/fraud-screenings/S-1", &other)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    // Shop B's order S-1 is its own (shop B has no O-PLUX: not screened).
    let response = shop
        .app
        .http
        .post(shop.app.url("/api/v1/fraud-screenings"))
        .bearer_auth(&other)
        .json(&order("S-1", "cod", 0))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let theirs: Value = response.json().await.unwrap();
    assert_eq!(theirs["skip_reason"], "oplux_disabled");
}

async fn repeated_failures_open_the_circuit_breaker(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    for i in 0..5 {
        let failed = shop.screened(&order(&format!("B-{i}"), "cod", 9)).await;
        assert_eq!(failed["result"], "ERROR");
    }
    assert_eq!(shop.mock.total().await, 5);
    let started = Instant::now();
    let refused = shop.screened(&order("B-open", "cod", 0)).await;
    assert_eq!(refused["result"], "ERROR");
    // Well under the 500 ms timeout on a quiet machine; the call count is what shows the
    // circuit is open.
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(shop.mock.total().await, 5, "an open circuit does not call O-PLUX");
    let metrics = shop
        .app
        .http
        .get(shop.app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("renkei_oplux_breaker_circuits{state=\"open\"} 1"),
        "{metrics}"
    );
    assert!(!metrics.contains(&shop.mock.url()), "no O-PLUX URL is a label");
}

#[test]
fn signature_and_hashes_match_vectors_computed_by_hand() {
    use chrono::TimeZone;
    use renkei::{
        core::Settlement,
        screening::{
            oplux::protocol::{Credentials, event_request, signature},
            request::{ScreenedOrder, ScreeningRequest},
        },
    };
    // Vectors: Python hashlib.sha256(...).hexdigest().upper() on the same strings.
    assert_eq!(
        signature("src-001", "merchant-001", "2026/11/23 19:00:00", "s3cret"),
        "ABF32901917F34E5E8573D16BD7E36C46F0F4EB990FAC801C5E11CA0D3357B4B"
    );
    let mut body = order("V-1", "cod", 0);
    body["customer"]["name"] = json!({"last": "山田", "first": "太郎"});
    body["customer"]["email"] = json!("Taro.Yamada@Example.JP");
    let request: ScreeningRequest = serde_json::from_value(body).unwrap();
    let order = request.parse().unwrap();
    let credentials = Credentials {
        merchant_id: "merchant-001",
        source_id: "src-001",
        secret_key: "s3cret",
        model_id: "CRD_01",
    };
    let now = chrono::Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
    let screened = ScreenedOrder {
        request: &order,
        settlement: Settlement::CreditCard,
    };
    let sent = serde_json::to_value(event_request(&credentials, &screened, now)).unwrap();
    assert_eq!(
        sent["info"]["signature"],
        "ABF32901917F34E5E8573D16BD7E36C46F0F4EB990FAC801C5E11CA0D3357B4B"
    );
    let buyer = &sent["telegram"]["event"]["ec"]["customers"]["buyer"];
    assert_eq!(
        buyer["hashed_name"]["last_name_sha2"],
        "5F34CD8399195FA23A32ACE56C87F461ADCBEE99D90D9E60057F01684B3B46DA"
    );
    assert_eq!(
        buyer["hashed_name"]["first_name_sha2"],
        "3E63216AEC8DBDF61F8A4E80BAB42F3A30AB9C58EBF824B5AF7241C6E30988ED"
    );
    assert_eq!(
        buyer["email"]["pc"]["hashed_account_sha2"],
        "A20A68ED76C38375215B3F5D43F7589788C20553ECE93464F5082936B709EF69"
    );
    let text = sent.to_string();
    for clear in ["山田", "太郎", "Taro.Yamada"] {
        assert!(!text.contains(clear), "{clear} is sent in clear");
    }
    // A half-width katakana name normalises (NFKC, no spaces) before hashing.
    assert_eq!(
        renkei::crypto::sha256_upper(&renkei::screening::oplux::protocol::normalize_name("ﾔﾏﾀﾞ　")),
        "C8F03985F3F1B79D2FB2C472FC1C14CD3625163532A31377D15B90E4B3B3949F"
    );
}

async fn skip(shop: &ScreeningShop, body: Value) -> String {
    let screening = shop.screened(&body).await;
    assert_eq!(screening["screened"], false);
    assert_eq!(screening["decision"], "create_order");
    assert!(screening["result"].is_null());
    screening["skip_reason"].as_str().unwrap().to_string()
}

async fn list(shop: &ScreeningShop, query: &str) -> Vec<String> {
    let page: Value = shop
        .get(&format!("/api/v1/fraud-screenings{query}"))
        .await
        .json()
        .await
        .unwrap();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["order_number"].as_str().unwrap().to_string())
        .collect()
}

/// The event the stand-in received for an order.
async fn received(shop: &ScreeningShop, order_number: &str) -> Value {
    let event = shop.mock.last_event(order_number).await;
    assert!(!event.is_null(), "the stand-in received no event for {order_number}");
    event["telegram"]["event"].clone()
}

async fn an_admin_order_with_odd_buyer_data_and_an_unknown_method_is_not_refused(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    let mut admin = order("G-ADMIN", "no-such-method", 0);
    admin["channel"] = json!("admin_order");
    admin["customer"]["tel"] = json!("12");
    admin["customer"]["address"]["zipcode"] = json!("?");
    let screening = shop.screened(&admin).await;
    assert_eq!(screening["skip_reason"], "channel_not_screened");
    assert_eq!(screening["decision"], "create_order");
    assert_eq!(
        screening["warnings"],
        json!([]),
        "buyer data is looked at only for O-PLUX"
    );
    assert_eq!(shop.mock.total().await, 0);
}

async fn a_shop_with_o_plux_off_never_refuses_an_order(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    shop.patch_oplux(json!({"enabled": false})).await;
    let mut odd = order("G-OFF", "no-such-method", 0);
    odd["customer"]["tel"] = json!("+1 (415) 555");
    odd["customer"]["email"] = json!("nobody");
    let screening = shop.screened(&odd).await;
    assert_eq!(screening["skip_reason"], "oplux_disabled");
    assert_eq!(screening["decision"], "create_order");
}

async fn an_unknown_payment_method_is_422_when_its_gate_is_reached(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    let problem = assert_problem(shop.screen(&order("G-3", "no-such-method", 0)).await, 422).await;
    assert_eq!(error_fields(&problem), ["payment_method"]);
    assert_eq!(problem["errors"][0]["code"], "unknown_payment_method");
    assert_problem(shop.get("/api/v1/fraud-screenings/G-3").await, 404).await;
    assert_eq!(shop.mock.total().await, 0);
}

async fn phone_numbers_as_typed_in_japan_reach_o_plux_as_domestic_digits(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    for (number, typed, digits) in [
        ("N-1", "０９０－１２３４－５６７１", "09012345671"),
        ("N-2", "+81 90-1234-5671", "09012345671"),
        ("N-3", "(03) 1234-5671", "0312345671"),
    ] {
        let mut body = order(number, "cod", 0);
        body["customer"]["tel"] = json!(typed);
        let screening = shop.screened(&body).await;
        assert_eq!(
            screening["result"], "HOLD",
            "{typed}: the stand-in read the last digit 1"
        );
        assert_eq!(screening["warnings"], json!([]), "{typed}");
        let tel = &received(&shop, number).await["ec"]["customers"]["buyer"]["tel"];
        let (mobile, fixed) = if digits.starts_with("090") {
            (digits, "")
        } else {
            ("", digits)
        };
        assert_eq!(tel, &json!({"fixed_number": fixed, "mobile_number": mobile}), "{typed}");
    }
}

async fn a_postcode_with_the_postal_mark_reaches_o_plux_as_seven_digits(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    let mut body = order("Z-1", "cod", 0);
    body["customer"]["address"] =
        json!({"zipcode": "〒150-0001", "prefecture": "東京都", "city": "渋谷区", "line1": "神宮前１－１"});
    let screening = shop.screened(&body).await;
    assert_eq!(screening["warnings"], json!([]));
    let address = &received(&shop, "Z-1").await["ec"]["customers"]["buyer"]["address"];
    assert_eq!(
        address,
        &json!({"country": "JP", "countryName": "JAPAN", "zipcode": "1500001",
                "addressA": "東京都", "addressC": "渋谷区神宮前1-1"})
    );
}

async fn the_ip_address_is_sent_with_the_fingerprint(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    shop.screened(&order("DV-1", "cod", 0)).await;
    let event = received(&shop, "DV-1").await;
    assert_eq!(event["device_info"], "fb-value");
    assert_eq!(event["ip_address_only"], "203.0.113.9");
    assert!(event.get("cookie_only").is_none(), "cookies only without a fingerprint");
}

async fn without_a_fingerprint_the_cookie_is_sent_cut_at_500_characters(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    let mut body = order("DV-2", "cod", 0);
    body["device"] = json!({"ip": "2001:db8::9", "cookie_id": format!("sid={}", "c".repeat(600))});
    shop.screened(&body).await;
    let event = received(&shop, "DV-2").await;
    assert!(event.get("device_info").is_none());
    let cookie = event["cookie_only"].as_str().unwrap();
    assert_eq!(cookie.chars().count(), 500);
    assert!(cookie.starts_with("sid=ccc"));
    assert_eq!(event["ip_address_only"], "2001:db8::9");
}

async fn deliveries_reach_o_plux_as_a_list_without_a_wrapper(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    let mut body = order("DL-1", "cod", 0);
    body["deliveries"] = json!([{"name": {"last": "佐藤", "first": "花子"}, "tel": "03-1234-5678",
        "address": {"zipcode": "530-0001", "prefecture": "大阪府", "city": "大阪市北区", "line1": "梅田1-1"}}]);
    shop.screened(&body).await;
    let deliveries = &received(&shop, "DL-1").await["ec"]["customers"]["deliveries"];
    assert_eq!(deliveries.as_array().unwrap().len(), 1);
    let delivery = &deliveries[0];
    assert!(delivery.get("delivery").is_none());
    assert_eq!(
        delivery["tel"],
        json!({"fixed_number": "0312345678", "mobile_number": ""})
    );
    assert_eq!(delivery["address"]["zipcode"], "5300001");
    assert_eq!(delivery["address"]["addressC"], "大阪市北区梅田1-1");
    assert!(delivery["address"].get("addressB").is_none());
    assert_eq!(delivery["hashed_name"]["last_name_sha2"].as_str().unwrap().len(), 64);
}

async fn unusable_buyer_data_is_left_out_and_named_in_warnings(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    let mut body = order("W-1", "cod", 0);
    body["customer"]["tel"] = json!("12345");
    body["customer"]["address"]["zipcode"] = json!("15");
    body["customer"]["email"] = json!("taro@");
    let screening = shop.screened(&body).await;
    assert_eq!(screening["screened"], true, "the order is still screened");
    assert_eq!(screening["result"], "OK");
    let fields: Vec<&str> = screening["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["customer.tel", "customer.email", "customer.address.zipcode"]);
    assert_eq!(screening["warnings"][0]["code"], "invalid_format");
    let buyer = &received(&shop, "W-1").await["ec"]["customers"]["buyer"];
    assert!(buyer.get("tel").is_none());
    assert!(buyer.get("email").is_none());
    assert!(buyer["address"].get("zipcode").is_none());
}

async fn warnings_are_stored_and_shown_on_get(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    let mut body = order("W-2", "cod", 0);
    body["device"]["ip"] = json!("not-an-ip");
    let answered = shop.screened(&body).await;
    assert_eq!(answered["warnings"][0]["field"], "device.ip");
    let stored: Value = shop.get("/api/v1/fraud-screenings/W-2").await.json().await.unwrap();
    assert_eq!(stored["warnings"], answered["warnings"]);
    assert!(received(&shop, "W-2").await.get("ip_address_only").is_none());
}

async fn a_thanks_offer_payment_of_a_screened_parent_is_not_screened_again(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    shop.screened(&order("TP-PARENT", "cod", 1)).await;
    let mut payment = order("TP-1", "cod", 3);
    payment["thanks_offer"] =
        json!({"ad_url_enabled": true, "is_thanks_offer_payment": true, "parent_order_number": "TP-PARENT"});
    let screening = shop.screened(&payment).await;
    assert_eq!(screening["skip_reason"], "thanks_offer_payment");
    assert_eq!(
        screening["parent_screening"],
        json!({"order_number": "TP-PARENT", "result": "HOLD", "decision": "create_order"})
    );
    assert_eq!(shop.mock.events_for("TP-1").await, 0);
    let stored: Value = shop.get("/api/v1/fraud-screenings/TP-1").await.json().await.unwrap();
    assert_eq!(stored["parent_screening"], screening["parent_screening"]);
}

async fn a_thanks_offer_payment_of_an_unknown_parent_is_screened(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    let mut payment = order("TU-1", "cod", 3);
    payment["thanks_offer"] =
        json!({"ad_url_enabled": false, "is_thanks_offer_payment": true, "parent_order_number": "NEVER-SEEN"});
    let screening = shop.screened(&payment).await;
    assert_eq!(screening["screened"], true);
    assert_eq!(screening["result"], "NG");
    assert!(screening["parent_screening"].is_null());
    assert_eq!(shop.mock.events_for("TU-1").await, 1);
}

async fn a_thanks_offer_forces_the_order_when_o_plux_fails(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    shop.patch_oplux(json!({"on_error": {"action": "redirect", "redirect_url": "https://shop.example.jp/retry"}}))
        .await;
    let mut offered = order("TF-9", "cod", 9);
    offered["thanks_offer"]["ad_url_enabled"] = json!(true);
    let screening = shop.screened(&offered).await;
    assert_eq!(screening["result"], "ERROR");
    assert_eq!(screening["decision"], "create_order");
    assert_eq!(screening["forced_by_thanks_offer"], true);
    assert!(screening["redirect_url"].is_null());
}

async fn an_o_plux_error_answer_keeps_every_error_code_in_reasons(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    let screening = shop.screened(&order("ER-7", "cod", 7)).await;
    assert_eq!(screening["result"], "ERROR");
    let codes: Vec<&str> = screening["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["InvalidData.TestTel", "InvalidData.TestSecond"]);
}

async fn a_refused_signature_keeps_o_pluxs_code_in_reasons(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    shop.patch_oplux(json!({"secret_key": "not-the-secret"})).await;
    let screening = shop.screened(&order("ER-403", "cod", 0)).await;
    assert_eq!(screening["result"], "ERROR");
    assert_eq!(screening["reasons"][0]["code"], "Authentication.InvalidSignature");
}
