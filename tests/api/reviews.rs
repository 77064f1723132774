//! The review queue (SPEC 8), through the HTTP API against the project's O-PLUX stand-in:
//! which screenings open a review, the queue's order and pages, the shop's decision told
//! to O-PLUX once (v2 PUT), conflicts and refusals, the events, isolation and scopes.

use std::time::Duration;

use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{
    Backend, assert_problem, error_fields,
    oplux::{Mock, account},
    receiver::Receiver,
    screening_shop::ScreeningShop,
};

on_both_databases!(
    hold_and_review_open_reviews_and_ok_opens_none,
    an_ng_whose_order_is_created_opens_a_review,
    screenings_stored_together_each_open_their_own_review,
    the_queue_is_oldest_first_and_paginated,
    screenings_are_found_by_review_state_and_decision,
    approving_tells_o_plux_manual_ok_once,
    cancelling_tells_o_plux_manual_ng_and_settlement_cancelled,
    the_same_decision_again_sends_nothing_more,
    a_different_decision_on_a_closed_review_is_409,
    two_decisions_at_once_send_one,
    an_o_plux_refusal_is_a_502_and_the_review_stays_open,
    an_order_without_a_review_is_409_and_an_unknown_one_404,
    a_manual_result_from_sync_shows_beside_the_review_without_closing_it,
    both_events_reach_a_subscribed_endpoint,
    the_queue_is_shop_isolated,
    the_queue_and_the_decision_need_their_scopes,
    metrics_show_open_reviews_per_result_without_shops,
);

fn order_numbers(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["order_number"].as_str().unwrap().to_string())
        .collect()
}

fn creating_on_ng(endpoint: &str) -> Value {
    let mut settings = account(endpoint);
    settings["on_ng"] = json!({"action": "create_order"});
    settings
}

async fn hold_and_review_open_reviews_and_ok_opens_none(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    let ok = shop.screened_order("A-OK", 0).await;
    let hold = shop.screened_order("A-HOLD", 1).await;
    let review = shop.screened_order("A-REVIEW", 2).await;
    let ng = shop.screened_order("A-NG", 3).await;
    assert_eq!(ok["review"], Value::Null);
    assert_eq!(ng["review"], Value::Null, "an NG redirected is no order to review");
    for answer in [&hold, &review] {
        assert_eq!(answer["review"]["state"], "open", "{answer}");
        assert_eq!(answer["review"]["decision"], Value::Null);
        assert_eq!(answer["review"]["memo"], Value::Null);
        assert_eq!(answer["review"]["decided_by"], Value::Null);
        assert_eq!(answer["review"]["decided_at"], Value::Null);
        assert!(answer["review"]["opened_at"].is_string());
    }
    let stored = shop.get_json("/api/v1/fraud-screenings/A-HOLD").await;
    assert_eq!(stored["review"], hold["review"], "the answer is what is stored");
    assert_eq!(
        shop.get_json("/api/v1/fraud-screenings/A-OK").await["review"],
        Value::Null
    );
    let queue = shop.get_json("/api/v1/reviews").await;
    assert_eq!(order_numbers(&queue), ["A-HOLD", "A-REVIEW"]);
    assert_eq!(queue["items"][0]["result"], "HOLD");
    assert_eq!(queue["items"][1]["result"], "REVIEW");
    assert_eq!(queue["items"][0]["reasons"], hold["reasons"]);
    assert_eq!(queue["items"][0]["manual_review"], Value::Null);
    assert_eq!(queue["items"][0]["review"], hold["review"]);
}

async fn an_ng_whose_order_is_created_opens_a_review(backend: Backend) {
    let shop = ScreeningShop::with(backend, Mock::start(Duration::ZERO, 0.0).await, creating_on_ng, |_| {}).await;
    let ng = shop.screened_order("N-1", 3).await;
    assert_eq!(ng["decision"], "create_order");
    assert_eq!(ng["review"]["state"], "open");
    let queue = shop.get_json("/api/v1/reviews?state=open").await;
    assert_eq!(order_numbers(&queue), ["N-1"]);
    assert_eq!(queue["items"][0]["result"], "NG");
}

async fn screenings_stored_together_each_open_their_own_review(backend: Backend) {
    // Concurrent finishes share the writers' batches: reviews and their events must go to
    // the right screenings, and only to those that open one.
    let shop = ScreeningShop::new(backend).await;
    let orders: Vec<(String, u8)> = (0..40).map(|n| (format!("B-{n:02}"), (n % 4) as u8)).collect();
    let answers =
        futures_util::future::join_all(orders.iter().map(|(number, digit)| shop.screened_order(number, *digit))).await;
    let reviewed: Vec<&str> = orders
        .iter()
        .filter(|(_, digit)| matches!(digit, 1 | 2))
        .map(|(number, _)| number.as_str())
        .collect();
    for ((number, digit), answer) in orders.iter().zip(&answers) {
        assert_eq!(
            answer["review"].is_null(),
            !matches!(digit, 1 | 2),
            "{number}: {answer}"
        );
    }
    let mut queued = order_numbers(&shop.get_json("/api/v1/reviews?limit=200").await);
    queued.sort();
    assert_eq!(queued, reviewed);
    let events = renkei::store::events::list(&shop.app.db, "shop-a", None, 200)
        .await
        .unwrap();
    let mut opened: Vec<String> = events
        .iter()
        .filter(|e| e.event_type == "screening.review_opened")
        .map(|e| {
            serde_json::from_str::<Value>(&e.data).unwrap()["order_number"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    opened.sort();
    assert_eq!(opened, reviewed, "one screening.review_opened per review");
}

async fn the_queue_is_oldest_first_and_paginated(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    let numbers = ["Q-1", "Q-2", "Q-3", "Q-4", "Q-5"];
    for (n, number) in numbers.iter().enumerate() {
        shop.screened_order(number, 1 + (n % 2) as u8).await;
        shop.screened_order(&format!("{number}-ok"), 0).await;
    }
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let path = match &cursor {
            Some(cursor) => format!("/api/v1/reviews?limit=2&cursor={cursor}"),
            None => "/api/v1/reviews?limit=2".to_string(),
        };
        let page = shop.get_json(&path).await;
        assert!(page["items"].as_array().unwrap().len() <= 2);
        assert!(page["oldest_open_age_seconds"].as_i64().unwrap() >= 0, "{page}");
        listed.extend(order_numbers(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(listed, numbers, "oldest open first, every review once");

    assert_eq!(shop.decide("Q-1", json!({"decision": "approved"})).await.status(), 200);
    let open = shop.get_json("/api/v1/reviews").await;
    assert_eq!(order_numbers(&open), ["Q-2", "Q-3", "Q-4", "Q-5"]);
    let closed = shop.get_json("/api/v1/reviews?state=closed").await;
    assert_eq!(order_numbers(&closed), ["Q-1"]);
    assert_eq!(closed["items"][0]["review"]["state"], "closed");
    assert!(
        closed["oldest_open_age_seconds"].is_i64(),
        "the shop's oldest open review"
    );

    let response = shop
        .app
        .get("/api/v1/reviews?state=pending", &shop.token)
        .send()
        .await
        .unwrap();
    assert_eq!(error_fields(&assert_problem(response, 422).await), ["state"]);
    let response = shop
        .app
        .get("/api/v1/reviews?cursor=nonsense", &shop.token)
        .send()
        .await
        .unwrap();
    assert_eq!(error_fields(&assert_problem(response, 422).await), ["cursor"]);
}

async fn screenings_are_found_by_review_state_and_decision(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    for (number, digit) in [("F-1", 1), ("F-2", 2), ("F-3", 1), ("F-4", 0)] {
        shop.screened_order(number, digit).await;
    }
    assert_eq!(shop.decide("F-1", json!({"decision": "approved"})).await.status(), 200);
    assert_eq!(shop.decide("F-2", json!({"decision": "cancelled"})).await.status(), 200);
    let found = |query: &'static str| {
        let shop = &shop;
        async move { order_numbers(&shop.get_json(&format!("/api/v1/fraud-screenings?{query}")).await) }
    };
    assert_eq!(found("review_state=open").await, ["F-3"]);
    assert_eq!(found("review_state=closed").await, ["F-2", "F-1"]);
    assert_eq!(found("review_decision=approved").await, ["F-1"]);
    assert_eq!(found("review_decision=cancelled&result=REVIEW").await, ["F-2"]);
    let response = shop
        .app
        .get("/api/v1/fraud-screenings?review_decision=maybe", &shop.token)
        .send()
        .await
        .unwrap();
    assert_eq!(error_fields(&assert_problem(response, 422).await), ["review_decision"]);
}

async fn approving_tells_o_plux_manual_ok_once(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    shop.screened_order("P-1", 1).await;
    let response = shop
        .decide("P-1", json!({"decision": "approved", "memo": "電話で本人確認済み"}))
        .await;
    assert_eq!(response.status(), 200);
    let screening: Value = response.json().await.unwrap();
    let review = &screening["review"];
    assert_eq!(review["state"], "closed");
    assert_eq!(review["decision"], "approved");
    assert_eq!(review["memo"], "電話で本人確認済み");
    assert_eq!(review["decided_by"], shop.client_id.as_str());
    assert!(review["decided_at"].is_string());
    assert_eq!(screening["result"], "HOLD", "the automatic result is unchanged");
    assert_eq!(
        shop.updates("P-1").await,
        [json!({"maResult": "10", "memo": "電話で本人確認済み"})]
    );
    assert_eq!(screening["manual_review"]["result"], "OK", "what O-PLUX was told");
    assert_eq!(shop.get_json("/api/v1/fraud-screenings/P-1").await["review"], *review);
    let exchanges = shop.get_json("/api/v1/fraud-screenings/P-1/exchanges").await;
    let kinds: Vec<&str> = exchanges["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["register", "update"]);
    assert_eq!(exchanges["items"][1]["outcome"], "answered");
}

async fn cancelling_tells_o_plux_manual_ng_and_settlement_cancelled(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    shop.screened_order("C-1", 2).await;
    let response = shop.decide("C-1", json!({"decision": "cancelled"})).await;
    assert_eq!(response.status(), 200);
    let screening: Value = response.json().await.unwrap();
    assert_eq!(screening["review"]["decision"], "cancelled");
    assert_eq!(screening["review"]["memo"], Value::Null);
    assert_eq!(
        shop.updates("C-1").await,
        [json!({"maResult": "20", "settle_status": "99"})]
    );
}

async fn the_same_decision_again_sends_nothing_more(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    shop.screened_order("R-1", 1).await;
    let first: Value = shop
        .decide("R-1", json!({"decision": "cancelled", "memo": "在庫切れ"}))
        .await
        .json()
        .await
        .unwrap();
    let again = shop.decide("R-1", json!({"decision": "cancelled"})).await;
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(
        again["review"], first["review"],
        "the decision as stored the first time"
    );
    assert_eq!(shop.updates("R-1").await.len(), 1, "one PUT");
}

async fn a_different_decision_on_a_closed_review_is_409(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    shop.screened_order("D-1", 1).await;
    assert_eq!(shop.decide("D-1", json!({"decision": "approved"})).await.status(), 200);
    let problem = assert_problem(shop.decide("D-1", json!({"decision": "cancelled"})).await, 409).await;
    assert!(problem["detail"].as_str().unwrap().contains("approved"), "{problem}");
    assert_eq!(shop.updates("D-1").await.len(), 1);
    let stored = shop.get_json("/api/v1/fraud-screenings/D-1").await;
    assert_eq!(stored["review"]["decision"], "approved");
}

async fn two_decisions_at_once_send_one(backend: Backend) {
    // O-PLUX answers after 200 ms, so that the second decision arrives while the first is
    // being sent.
    let shop = ScreeningShop::with(
        backend,
        Mock::start(Duration::from_millis(200), 0.0).await,
        account,
        |_| {},
    )
    .await;
    shop.screened_order("T-1", 1).await;
    shop.screened_order("T-2", 1).await;
    let approve = json!({"decision": "approved"});
    let (first, second) = tokio::join!(shop.decide("T-1", approve.clone()), shop.decide("T-1", approve));
    assert_eq!((first.status().as_u16(), second.status().as_u16()), (200, 200));
    assert_eq!(
        shop.updates("T-1").await.len(),
        1,
        "the same decision twice at once: one PUT"
    );

    let (approve, cancel) = tokio::join!(
        shop.decide("T-2", json!({"decision": "approved"})),
        shop.decide("T-2", json!({"decision": "cancelled"}))
    );
    let mut statuses = [approve.status().as_u16(), cancel.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "one decision wins");
    assert_eq!(shop.updates("T-2").await.len(), 1, "two decisions at once: one PUT");
}

async fn an_o_plux_refusal_is_a_502_and_the_review_stays_open(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    let screened = shop.screened_order("X-1", 1).await;
    shop.mock
        .refuse(screened["oplux_event_id"].as_str().unwrap(), "InvalidData.Locked")
        .await;
    let problem = assert_problem(shop.decide("X-1", json!({"decision": "approved"})).await, 502).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("InvalidData.Locked"),
        "{problem}"
    );
    let stored = shop.get_json("/api/v1/fraud-screenings/X-1").await;
    assert_eq!(stored["review"]["state"], "open");
    assert_eq!(stored["manual_review"], Value::Null, "nothing recorded as sent");
    assert_eq!(order_numbers(&shop.get_json("/api/v1/reviews").await), ["X-1"]);
    let exchanges = shop.get_json("/api/v1/fraud-screenings/X-1/exchanges").await;
    let last = exchanges["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["kind"].as_str(), last["outcome"].as_str()),
        (Some("update"), Some("refused"))
    );
    // Still open: another decision may be tried (and is refused the same way).
    assert_problem(shop.decide("X-1", json!({"decision": "cancelled"})).await, 502).await;
}

async fn an_order_without_a_review_is_409_and_an_unknown_one_404(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    shop.screened_order("O-1", 0).await;
    assert_problem(shop.decide("O-1", json!({"decision": "approved"})).await, 409).await;
    assert_problem(shop.decide("NO-SUCH", json!({"decision": "approved"})).await, 404).await;
    let problem = assert_problem(shop.decide("O-1", json!({"decision": "shipped"})).await, 422).await;
    assert_eq!(error_fields(&problem), ["decision"]);
    let problem = assert_problem(
        shop.decide("O-1", json!({"decision": "approved", "memo": "あ".repeat(1001)}))
            .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&problem), ["memo"]);
    assert_problem(shop.decide("O-1", json!({"memo": "x"})).await, 422).await;
}

async fn a_manual_result_from_sync_shows_beside_the_review_without_closing_it(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    let screened = shop.screened_order("S-1", 2).await;
    shop.mock
        .set_manual_result(screened["oplux_event_id"].as_str().unwrap(), "OK", "確認済み")
        .await;
    let response = shop.post_json("/api/v1/fraud-screenings/S-1/sync", &json!({})).await;
    assert_eq!(response.status(), 200);
    let queue = shop.get_json("/api/v1/reviews").await;
    assert_eq!(order_numbers(&queue), ["S-1"], "still open");
    assert_eq!(queue["items"][0]["manual_review"]["result"], "OK");
    assert_eq!(queue["items"][0]["review"]["state"], "open");
}

async fn both_events_reach_a_subscribed_endpoint(backend: Backend) {
    let receiver = Receiver::start().await;
    let origin = receiver.origin();
    let shop = ScreeningShop::with(
        backend,
        Mock::start(Duration::ZERO, 0.0).await,
        account,
        move |config| {
            config.outbound = config.outbound.with(origin);
            config.webhook_poll_interval = Duration::from_millis(30);
        },
    )
    .await;
    let response = shop
        .post_json(
            "/api/v1/webhook-endpoints",
            &json!({"url": receiver.url, "events": ["screening.review_opened", "screening.review_closed"]}),
        )
        .await;
    assert_eq!(response.status(), 201);
    shop.screened_order("W-OK", 0).await;
    shop.screened_order("W-1", 1).await;
    let opened = receiver.wait_for(1).await[0].json();
    assert_eq!(opened["type"], "screening.review_opened");
    assert_eq!(opened["data"]["order_number"], "W-1");
    assert_eq!(opened["data"]["result"], "HOLD");
    assert_eq!(opened["data"]["review"]["state"], "open");

    assert_eq!(
        shop.decide("W-1", json!({"decision": "cancelled", "memo": "不正の疑い"}))
            .await
            .status(),
        200
    );
    let received = receiver.wait_for(2).await;
    let closed = received[1].json();
    assert_eq!(closed["type"], "screening.review_closed");
    assert_eq!(closed["data"]["order_number"], "W-1");
    assert_eq!(closed["data"]["review"]["state"], "closed");
    assert_eq!(closed["data"]["review"]["decision"], "cancelled");
    assert_eq!(closed["data"]["review"]["memo"], "不正の疑い");
    let events = renkei::store::events::list(&shop.app.db, "shop-a", None, 100)
        .await
        .unwrap();
    let reviews: Vec<&str> = events
        .iter()
        .rev()
        .filter(|e| e.event_type.starts_with("screening.review_"))
        .map(|e| e.event_type.as_str())
        .collect();
    assert_eq!(
        reviews,
        ["screening.review_opened", "screening.review_closed"],
        "the OK screening opened no review"
    );
    for delivery in receiver.received() {
        assert!(
            !delivery.body.contains("0901234567"),
            "no buyer data in {}",
            delivery.body
        );
    }
}

async fn the_queue_is_shop_isolated(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    shop.screened_order("I-1", 1).await;
    let other = shop.app.token("shop-b", &["screenings:read", "screenings:write"]).await;
    let response = shop.app.get("/api/v1/reviews", &other).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let page: Value = response.json().await.unwrap();
    assert_eq!(page["items"], json!([]));
    assert_eq!(page["oldest_open_age_seconds"], Value::Null);
    let response = shop
        .app
        .http
        .post(shop.app.url("/api/v1/fraud-screenings/I-1/review"))
        .bearer_auth(&other)
        .json(&json!({"decision": "approved"}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 404).await;
    assert_eq!(shop.updates("I-1").await.len(), 0, "nothing sent for another shop");
    assert_eq!(order_numbers(&shop.get_json("/api/v1/reviews").await), ["I-1"]);
}

async fn the_queue_and_the_decision_need_their_scopes(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    shop.screened_order("G-1", 1).await;
    let writer = shop.app.token("shop-a", &["screenings:write"]).await;
    let reader = shop.app.token("shop-a", &["screenings:read"]).await;
    let response = shop.app.get("/api/v1/reviews", &writer).send().await.unwrap();
    assert_problem(response, 403).await;
    let response = shop
        .app
        .http
        .post(shop.app.url("/api/v1/fraud-screenings/G-1/review"))
        .bearer_auth(&reader)
        .json(&json!({"decision": "approved"}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 403).await;
    let response = shop.app.http.get(shop.app.url("/api/v1/reviews")).send().await.unwrap();
    assert_problem(response, 401).await;
    assert_eq!(shop.updates("G-1").await.len(), 0);
}

async fn metrics_show_open_reviews_per_result_without_shops(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    shop.screened_order("M-1", 1).await;
    shop.screened_order("M-2", 1).await;
    shop.screened_order("M-3", 2).await;
    shop.screened_order("M-4", 0).await;
    assert_eq!(shop.decide("M-2", json!({"decision": "approved"})).await.status(), 200);
    let text = shop
        .app
        .http
        .get(shop.app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "renkei_reviews_open{result=\"HOLD\"} 1",
        "renkei_reviews_open{result=\"REVIEW\"} 1",
        "renkei_reviews_open{result=\"NG\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
    let age = text
        .lines()
        .find_map(|l| l.strip_prefix("renkei_review_oldest_open_age_seconds "))
        .expect("the oldest open review's age");
    assert!(age.parse::<f64>().unwrap() >= 0.0);
    assert!(!text.contains("shop-a"), "no shop label");
}
