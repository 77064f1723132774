//! After the decision (SPEC 8), through the HTTP API against the project's O-PLUX
//! stand-in: manual reviews read on demand and by the poller (one replica at a time),
//! updates sent to O-PLUX, the history of exchanges, and the events they emit.

use std::time::Duration;

use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{
    Backend, PATIENCE, assert_problem, error_fields, eventually,
    oplux::{Mock, account},
    screening_shop::ScreeningShop,
};

on_both_databases!(
    a_manual_ok_is_picked_up_on_demand_beside_the_automatic_result,
    a_manual_ng_is_picked_up_by_the_poller,
    two_replicas_polling_call_o_plux_once,
    each_update_code_reaches_o_plux,
    an_o_plux_refusal_is_a_502_with_its_code_and_nothing_is_recorded_as_sent,
    the_exchanges_list_every_exchange_without_personal_data,
    screenings_are_found_by_manual_result,
    another_shops_order_is_404,
    an_update_without_fields_is_422_naming_them,
    an_update_with_every_field_null_or_absent_is_invalid_against_its_schema,
    a_new_screening_and_a_manual_review_change_emit_events,
);

const SYNC_INTERVAL: Duration = Duration::from_millis(200);

/// A shop whose replica polls O-PLUX for manual reviews every [`SYNC_INTERVAL`].
async fn polling_shop(backend: Backend) -> ScreeningShop {
    let mock = Mock::start(Duration::ZERO, 0.0).await;
    ScreeningShop::with(backend, mock, account, |config| {
        config.oplux_sync_interval = SYNC_INTERVAL;
    })
    .await
}

/// Waits until `GET` of the screening shows a manual review.
async fn manual_review_of(shop: &ScreeningShop, order_number: &str) -> Value {
    let path = &format!("/api/v1/fraud-screenings/{order_number}");
    eventually(&format!("a manual review of {order_number}"), PATIENCE, || async move {
        let screening = shop.get_json(path).await;
        (!screening["manual_review"].is_null()).then_some(screening)
    })
    .await
}

/// Waits until the poller has made passes that began after now: it screens `witness`
/// (HOLD, never reviewed) and waits until O-PLUX was asked about it twice.
async fn poller_passed(shop: &ScreeningShop, witness: &str) {
    let event = &shop.screened_event(witness, 1).await;
    eventually(
        &format!("two poller passes asking about {witness}"),
        PATIENCE,
        || async move { (shop.mock.event(event).await["gets"].as_u64().unwrap_or(0) >= 2).then_some(()) },
    )
    .await
}

async fn a_manual_ok_is_picked_up_on_demand_beside_the_automatic_result(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    let event = shop.screened_event("M-1", 1).await;
    let before = shop.get_json("/api/v1/fraud-screenings/M-1").await;
    assert_eq!(before["manual_review"], Value::Null);
    shop.mock.set_manual_result(&event, "ok", "本人確認済み").await;

    let response = shop.sync("M-1").await;
    assert_eq!(response.status(), 200);
    let synced: Value = response.json().await.unwrap();
    assert_eq!(synced["result"], "HOLD", "the automatic result is unchanged");
    assert_eq!(synced["manual_review"]["result"], "OK");
    assert_eq!(synced["manual_review"]["memo"], "本人確認済み");
    assert!(synced["manual_review"]["reviewed_at"].is_string());
    let stored = shop.get_json("/api/v1/fraud-screenings/M-1").await;
    assert_eq!(stored["manual_review"], synced["manual_review"]);
    assert_eq!(shop.mock.event(&event).await["gets"], 1);
}

async fn a_manual_ng_is_picked_up_by_the_poller(backend: Backend) {
    let shop = polling_shop(backend).await;
    let event = shop.screened_event("P-1", 2).await;
    shop.mock.set_manual_result(&event, "NG", "").await;
    let screening = manual_review_of(&shop, "P-1").await;
    assert_eq!(screening["result"], "REVIEW");
    assert_eq!(screening["manual_review"]["result"], "NG");
    // Reviewed: no longer asked about, by passes made since.
    let gets = shop.mock.event(&event).await["gets"].as_u64().unwrap();
    poller_passed(&shop, "P-2").await;
    assert_eq!(shop.mock.event(&event).await["gets"].as_u64().unwrap(), gets);
}

async fn two_replicas_polling_call_o_plux_once(backend: Backend) {
    // The first replica screens with its poller off; the manual result is set before
    // any replica polls, so exactly one GET reads it.
    let shop = ScreeningShop::new(backend).await;
    let event = shop.screened_event("R-1", 1).await;
    shop.mock.set_manual_result(&event, "OK", "").await;
    let mock_url = shop.mock.url();
    let second = shop
        .app
        .sibling(|config| {
            crate::support::oplux::allow(config, &mock_url);
            config.oplux_sync_interval = SYNC_INTERVAL;
        })
        .await;
    let third = shop
        .app
        .sibling(|config| {
            crate::support::oplux::allow(config, &mock_url);
            config.oplux_sync_interval = SYNC_INTERVAL;
        })
        .await;
    let screening = manual_review_of(&shop, "R-1").await;
    assert_eq!(screening["manual_review"]["result"], "OK");
    poller_passed(&shop, "R-2").await;
    assert_eq!(shop.mock.event(&event).await["gets"], 1, "one replica asked, once");
    drop((second, third));
}

async fn each_update_code_reaches_o_plux(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    let event = shop.screened_event("U-1", 1).await;
    let statuses = [
        ("not_billed", "00"),
        ("billing", "10"),
        ("paid", "20"),
        ("overdue", "30"),
        ("entrusted", "40"),
        ("bad_debt", "50"),
        ("chargeback", "60"),
        ("cancelled", "99"),
        ("cancelled_after_shipping", "100"),
    ];
    for (status, _) in statuses {
        let response = shop.update("U-1", json!({"settlement_status": status})).await;
        assert_eq!(response.status(), 200, "{status}");
    }
    for result in ["OK", "NG", "HOLD"] {
        let response = shop.update("U-1", json!({"manual_result": result})).await;
        assert_eq!(response.status(), 200, "{result}");
    }
    for blacklisted in [true, false] {
        let response = shop.update("U-1", json!({"blacklisted": blacklisted})).await;
        assert_eq!(response.status(), 200);
    }
    let response = shop.update("U-1", json!({"memo": "発送済み"})).await;
    assert_eq!(response.status(), 200);

    let updates = shop.mock.event(&event).await["updates"].as_array().unwrap().clone();
    let mut expected: Vec<Value> = statuses
        .iter()
        .map(|(_, code)| json!({"settle_status": code}))
        .collect();
    expected.extend(["10", "20", "30"].map(|code| json!({"maResult": code})));
    expected.extend(["1", "0"].map(|flag| json!({"blacked": flag})));
    expected.push(json!({"memo": "発送済み"}));
    assert_eq!(updates, expected);
    // The manual result O-PLUX accepted last is the screening's.
    let screening = shop.get_json("/api/v1/fraud-screenings/U-1").await;
    assert_eq!(screening["manual_review"]["result"], "HOLD");
    assert_eq!(screening["result"], "HOLD");
}

async fn an_o_plux_refusal_is_a_502_with_its_code_and_nothing_is_recorded_as_sent(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    let event = shop.screened_event("F-1", 1).await;
    shop.mock.refuse(&event, "InvalidData.Locked").await;
    let problem = assert_problem(shop.update("F-1", json!({"manual_result": "NG"})).await, 502).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("InvalidData.Locked"),
        "{problem}"
    );
    let screening = shop.get_json("/api/v1/fraud-screenings/F-1").await;
    assert_eq!(screening["manual_review"], Value::Null, "not recorded as sent");
    let exchanges = shop.get_json("/api/v1/fraud-screenings/F-1/exchanges").await;
    let last = exchanges["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["kind"], "update");
    assert_eq!(last["outcome"], "refused");
    assert_eq!(last["codes"], json!(["InvalidData.Locked"]));
    // A sync refused the same way is a 502 too.
    let problem = assert_problem(shop.sync("F-1").await, 502).await;
    assert!(problem["detail"].as_str().unwrap().contains("InvalidData.Locked"));
}

async fn the_exchanges_list_every_exchange_without_personal_data(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    let event = shop.screened_event("H-1", 3).await;
    shop.mock.set_manual_result(&event, "NG", "").await;
    assert_eq!(shop.sync("H-1").await.status(), 200);
    assert_eq!(
        shop.update("H-1", json!({"settlement_status": "cancelled"}))
            .await
            .status(),
        200
    );

    let page = shop.get_json("/api/v1/fraud-screenings/H-1/exchanges").await;
    let items = page["items"].as_array().unwrap();
    let kinds: Vec<&str> = items.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["register", "sync", "update"]);
    for exchange in items {
        assert_eq!(exchange["outcome"], "answered");
        assert_eq!(exchange["http_status"], 200);
        assert!(exchange["latency_ms"].as_i64().unwrap() >= 0);
        assert!(exchange["at"].is_string());
    }
    assert_eq!(items[0]["codes"], json!(["TEST_NGTEL"]));
    let text = page.to_string();
    for personal in ["09012345673", "taro", "example.jp", "山田", "1500001"] {
        assert!(!text.contains(personal), "{personal} in {text}");
    }
    let first = shop.get_json("/api/v1/fraud-screenings/H-1/exchanges?limit=2").await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = shop
        .get_json(&format!(
            "/api/v1/fraud-screenings/H-1/exchanges?limit=2&cursor={cursor}"
        ))
        .await;
    assert_eq!(second["items"][0]["kind"], "update");
    assert_eq!(second["next_cursor"], Value::Null);
}

async fn screenings_are_found_by_manual_result(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    for (number, result) in [("S-1", "OK"), ("S-2", "NG"), ("S-3", "OK")] {
        shop.screened_event(number, 1).await;
        assert_eq!(
            shop.update(number, json!({"manual_result": result})).await.status(),
            200
        );
    }
    shop.screened_event("S-4", 1).await;
    let numbers = |page: Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["order_number"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        numbers(shop.get_json("/api/v1/fraud-screenings?manual_result=OK").await),
        ["S-3", "S-1"]
    );
    assert_eq!(
        numbers(shop.get_json("/api/v1/fraud-screenings?manual_result=NG").await),
        ["S-2"]
    );
    let listed = shop.get_json("/api/v1/fraud-screenings?manual_result=NG").await;
    assert_eq!(listed["items"][0]["manual_review"]["result"], "NG");
    let response = shop
        .app
        .get("/api/v1/fraud-screenings?manual_result=MAYBE", &shop.token)
        .send()
        .await
        .unwrap();
    assert_eq!(error_fields(&assert_problem(response, 422).await), ["manual_result"]);
}

async fn another_shops_order_is_404(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    shop.screened_event("T-1", 1).await;
    let other = shop.app.token("shop-b", &["screenings:read", "screenings:write"]).await;
    let http = &shop.app.http;
    let sync = http
        .post(shop.app.url("/api/v1/fraud-screenings/T-1/sync"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_problem(sync, 404).await;
    let update = http
        .post(shop.app.url("/api/v1/fraud-screenings/T-1/updates"))
        .bearer_auth(&other)
        .json(&json!({"memo": "x"}))
        .send()
        .await
        .unwrap();
    assert_problem(update, 404).await;
    let exchanges = shop
        .app
        .get("/api/v1/fraud-screenings/T-1/exchanges", &other)
        .send()
        .await
        .unwrap();
    assert_problem(exchanges, 404).await;
    let screening = shop.get_json("/api/v1/fraud-screenings/T-1").await;
    let event = shop.mock.event(screening["oplux_event_id"].as_str().unwrap()).await;
    assert_eq!(event["updates"], json!([]), "nothing was sent for another shop");
}

async fn an_update_without_fields_is_422_naming_them(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    shop.screened_event("V-1", 1).await;
    let problem = assert_problem(shop.update("V-1", json!({})).await, 422).await;
    assert_eq!(
        error_fields(&problem),
        ["settlement_status", "manual_result", "memo", "blacklisted"]
    );
    let problem = assert_problem(shop.update("V-1", json!({"settlement_status": "shipped"})).await, 422).await;
    assert_eq!(error_fields(&problem), ["settlement_status"]);
    let problem = assert_problem(shop.update("V-1", json!({"memo": "あ".repeat(1001)})).await, 422).await;
    assert_eq!(error_fields(&problem), ["memo"]);
}

/// The served schema of an update refuses what the server refuses for want of a field
/// (every field null or absent), and allows an update with one field set.
async fn an_update_with_every_field_null_or_absent_is_invalid_against_its_schema(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    shop.screened_event("W-1", 1).await;
    let schema = shop
        .app
        .request_body_schema("POST", "/api/v1/fraud-screenings/{order_number}/updates")
        .await;
    for body in [
        json!({}),
        json!({"blacklisted": null, "manual_result": null}),
        json!({"settlement_status": null, "manual_result": null, "memo": null, "blacklisted": null}),
    ] {
        assert!(!schema.is_valid(&body), "{body} is valid against the schema");
        let problem = assert_problem(shop.update("W-1", body.clone()).await, 422).await;
        assert_eq!(
            error_fields(&problem),
            ["settlement_status", "manual_result", "memo", "blacklisted"],
            "{body}"
        );
        assert_eq!(
            problem["errors"][0]["message"],
            "send at least one of settlement_status, manual_result, memo, blacklisted"
        );
    }
    for body in [
        json!({"memo": "x"}),
        json!({"blacklisted": false, "manual_result": null}),
    ] {
        assert!(schema.is_valid(&body), "{body} is invalid against the schema");
        assert_eq!(shop.update("W-1", body.clone()).await.status(), 200, "{body}");
    }
    assert_eq!(
        shop.updates("W-1").await,
        [json!({"memo": "x"}), json!({"blacked": "0"})]
    );
}

async fn a_new_screening_and_a_manual_review_change_emit_events(backend: Backend) {
    let shop = ScreeningShop::new(backend).await;
    let event = shop.screened_event("E-1", 1).await;
    shop.mock.set_manual_result(&event, "OK", "確認").await;
    for _ in 0..2 {
        assert_eq!(shop.sync("E-1").await.status(), 200);
    }
    // The shop's account set-up emits provider_account.updated; only screenings count here.
    let events: Vec<_> = shop
        .events()
        .await
        .into_iter()
        .filter(|(t, _)| t.starts_with("screening."))
        .collect();
    let types: Vec<&str> = events.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "screening.created",
            "screening.review_opened",
            "screening.manual_review_updated"
        ],
        "a sync that changes nothing emits nothing"
    );
    assert_eq!(
        events[0].1,
        json!({"order_number": "E-1", "screened": true, "result": "HOLD", "decision": "create_order"})
    );
    assert_eq!(events[2].1["order_number"], "E-1");
    assert_eq!(events[2].1["manual_review"]["result"], "OK");
    assert!(!events[0].1.to_string().contains("0901234567"));
}
