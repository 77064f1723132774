//! SPEC 7, public capability URLs (the feed CSV, EPOS banners): the URL can be rotated,
//! an account's deletion takes its files down, the CSV cannot carry a formula into a
//! spreadsheet, nothing public is sniffed, and the access log never records a token.

use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{
    Backend, TestDatabase, assert_problem,
    binary::{Server, scratch_dir},
    session::{Session, session},
};

on_both_databases!(
    rotating_the_feed_url_retires_the_old_one,
    rotating_the_feed_url_is_audited,
    deleting_the_feed_account_takes_its_feed_down,
    deleting_the_gmo_pg_account_takes_its_banner_down,
    feed_cells_that_a_spreadsheet_would_run_are_neutralised,
    every_public_response_says_nosniff,
    the_access_log_records_the_route_pattern_not_the_token,
);

/// Sends a request without a body.
async fn send(shop: &Session, method: reqwest::Method, path: &str) -> reqwest::Response {
    shop.request(method, path).send().await.unwrap()
}

/// A generated feed with one item titled `title`; returns the feed URL.
async fn feed(shop: &Session, title: &str) -> String {
    shop.configure("product-data-feed").await;
    let item = json!({
        "id": "SKU-1", "title": title, "description": "-5% today",
        "availability": "in stock", "condition": "new", "price": 1280,
        "link": "https://shop.example.jp/p/1", "image_link": "https://shop.example.jp/i/1.jpg",
        "brand": "@brand"
    });
    let upserted = shop.put_json("/api/v1/feed-items", &json!({"items": [item]})).await;
    assert!(upserted.status().is_success());
    let generated = send(
        shop,
        reqwest::Method::POST,
        "/api/v1/provider-accounts/product-data-feed/generate",
    )
    .await;
    let generated: Value = generated.json().await.unwrap();
    generated["facebook_feed_url"].as_str().unwrap().to_string()
}

/// An uploaded EPOS banner of a gmo-pg account; returns the banner URL.
async fn banner(shop: &Session) -> String {
    let mut body = shop.valid_account("gmo-pg");
    body.insert("enabled".into(), json!(false));
    // The banner is shown only while EPOS is enabled.
    body.insert("auto_card_update".into(), json!(true));
    body.insert("epos_enabled".into(), json!(true));
    let put = shop
        .put_json("/api/v1/provider-accounts/gmo-pg", &Value::Object(body))
        .await;
    assert!(put.status().is_success());
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.resize(64, 7);
    let uploaded: Value = shop
        .request(reqwest::Method::PUT, "/api/v1/provider-accounts/gmo-pg/epos-banner")
        .header("content-type", "image/png")
        .body(png)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    uploaded["epos_banner_url"].as_str().unwrap().to_string()
}

async fn rotating_the_feed_url_retires_the_old_one(backend: Backend) {
    let shop = session(backend).await;
    let old = feed(&shop, "緑茶").await;
    assert_eq!(shop.app.http.get(&old).send().await.unwrap().status(), 200);

    let rotated = send(
        &shop,
        reqwest::Method::POST,
        "/api/v1/provider-accounts/product-data-feed/rotate-url",
    )
    .await;
    assert_eq!(rotated.status(), 200);
    let rotated: Value = rotated.json().await.unwrap();
    let new = rotated["facebook_feed_url"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert_problem(shop.app.http.get(&old).send().await.unwrap(), 404).await;
    let served = shop.app.http.get(&new).send().await.unwrap();
    assert_eq!(served.status(), 200);
    assert!(served.text().await.unwrap().contains("緑茶"));
}

async fn rotating_the_feed_url_is_audited(backend: Backend) {
    let shop = session(backend).await;
    feed(&shop, "緑茶").await;
    send(
        &shop,
        reqwest::Method::POST,
        "/api/v1/provider-accounts/product-data-feed/rotate-url",
    )
    .await;
    let events: Value = send(&shop, reqwest::Method::GET, "/api/v1/audit-events")
        .await
        .json()
        .await
        .unwrap();
    let rotation = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "rotate_url")
        .unwrap_or_else(|| panic!("no rotate_url event in {events}"));
    assert_eq!(rotation["resource_id"], "product-data-feed");
}

async fn deleting_the_feed_account_takes_its_feed_down(backend: Backend) {
    let shop = session(backend).await;
    let url = feed(&shop, "緑茶").await;
    let deleted = send(
        &shop,
        reqwest::Method::DELETE,
        "/api/v1/provider-accounts/product-data-feed",
    )
    .await;
    assert_eq!(deleted.status(), 204);
    // Configured again, the old URL stays dead.
    shop.configure("product-data-feed").await;
    assert_problem(shop.app.http.get(&url).send().await.unwrap(), 404).await;
}

async fn deleting_the_gmo_pg_account_takes_its_banner_down(backend: Backend) {
    let shop = session(backend).await;
    let url = banner(&shop).await;
    assert_eq!(shop.app.http.get(&url).send().await.unwrap().status(), 200);
    let deleted = send(&shop, reqwest::Method::DELETE, "/api/v1/provider-accounts/gmo-pg").await;
    assert_eq!(deleted.status(), 204);
    assert_problem(shop.app.http.get(&url).send().await.unwrap(), 404).await;
}

async fn feed_cells_that_a_spreadsheet_would_run_are_neutralised(backend: Backend) {
    let shop = session(backend).await;
    let url = feed(&shop, "=HYPERLINK(\"https://evil.example\",\"x\")").await;
    let csv = shop.app.http.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(
        csv.contains("\"'=HYPERLINK(\"\"https://evil.example\"\",\"\"x\"\")\""),
        "{csv}"
    );
    assert!(csv.contains("\"'-5% today\""), "{csv}");
    assert!(csv.contains("\"'@brand\""), "{csv}");
    assert!(!csv.contains(",\"="), "{csv}");
}

async fn every_public_response_says_nosniff(backend: Backend) {
    let shop = session(backend).await;
    let feed = feed(&shop, "緑茶").await;
    let banner = banner(&shop).await;
    let default_banner = shop.app.url("/public/epos-banner-default.png");
    let missing = [
        shop.app.url("/feeds/no-such-token/facebook.csv"),
        shop.app.url("/public/epos-banners/no-such-token"),
    ];
    for url in [feed, banner, default_banner].iter().chain(missing.iter()) {
        let response = shop.app.http.get(url).send().await.unwrap();
        assert_eq!(response.headers()["x-content-type-options"], "nosniff", "{url}");
    }
}

async fn the_access_log_records_the_route_pattern_not_the_token(backend: Backend) {
    let database = TestDatabase::new(backend);
    let dir = scratch_dir();
    let server = Server::start(&database, &dir.0);
    let lines = server.read_until("/api/v1/auth/token");
    let base = lines
        .iter()
        .find_map(|l| l.split_whitespace().find(|w| w.starts_with("http://127.0.0.1:")))
        .unwrap()
        .trim_end_matches("/api/v1/auth/token")
        .to_string();
    let token = "capability-token-that-must-not-be-logged";
    renkei::crypto::install_tls_provider();
    let http = reqwest::Client::new();
    for path in [
        format!("/feeds/{token}/facebook.csv"),
        format!("/public/epos-banners/{token}"),
        format!("/feeds/{token}/facebook.csvx"),
    ] {
        let response = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), 404);
    }
    let log = server.stop();
    assert!(
        log.contains("/feeds/{token}/facebook.csv"),
        "the route pattern is logged"
    );
    assert!(!log.contains(token), "a capability token reached the log");
}
