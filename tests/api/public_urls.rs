//! SPEC 7, public capability URLs (the feed CSV, EPOS banners): the URL can be rotated,
//! an account's deletion takes its files down, the CSV cannot carry a formula into a
//! spreadsheet, nothing public is sniffed, and the access log never records a token.

use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{
    Backend, TestApp, TestDatabase,
    accounts::{Pki, valid_body},
    assert_problem,
    binary::{Server, scratch_dir},
    spawn_app,
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

struct Shop {
    app: TestApp,
    token: String,
}

impl Shop {
    async fn new(backend: Backend) -> Self {
        let app = spawn_app(backend).await;
        let token = app
            .token("shop-a", &["accounts:read", "accounts:write", "audit:read"])
            .await;
        Self { app, token }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> reqwest::Response {
        let mut request = self
            .app
            .http
            .request(method, self.app.url(path))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    async fn configure(&self, slug: &str) -> Value {
        let body = Value::Object(valid_body(renkei::accounts::find(slug).unwrap(), &Pki::new("x")));
        let response = self
            .call(
                reqwest::Method::PUT,
                &format!("/api/v1/provider-accounts/{slug}"),
                Some(body),
            )
            .await;
        assert!(response.status().is_success(), "{slug}");
        response.json().await.unwrap()
    }

    /// A generated feed with one item titled `title`; returns the feed URL.
    async fn feed(&self, title: &str) -> String {
        self.configure("product-data-feed").await;
        let item = json!({
            "id": "SKU-1", "title": title, "description": "-5% today",
            "availability": "in stock", "condition": "new", "price": 1280,
            "link": "https://shop.example.jp/p/1", "image_link": "https://shop.example.jp/i/1.jpg",
            "brand": "@brand"
        });
        let upserted = self
            .call(
                reqwest::Method::PUT,
                "/api/v1/feed-items",
                Some(json!({"items": [item]})),
            )
            .await;
        assert!(upserted.status().is_success());
        let generated: Value = self
            .call(
                reqwest::Method::POST,
                "/api/v1/provider-accounts/product-data-feed/generate",
                None,
            )
            .await
            .json()
            .await
            .unwrap();
        generated["facebook_feed_url"].as_str().unwrap().to_string()
    }

    async fn banner(&self) -> String {
        let mut body = valid_body(renkei::accounts::find("gmo-pg").unwrap(), &Pki::new("x"));
        body.insert("enabled".into(), json!(false));
        // The banner is shown only while EPOS is enabled.
        body.insert("auto_card_update".into(), json!(true));
        body.insert("epos_enabled".into(), json!(true));
        let put = self
            .call(
                reqwest::Method::PUT,
                "/api/v1/provider-accounts/gmo-pg",
                Some(Value::Object(body)),
            )
            .await;
        assert!(put.status().is_success());
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.resize(64, 7);
        let uploaded: Value = self
            .app
            .http
            .put(self.app.url("/api/v1/provider-accounts/gmo-pg/epos-banner"))
            .bearer_auth(&self.token)
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
}

async fn rotating_the_feed_url_retires_the_old_one(backend: Backend) {
    let shop = Shop::new(backend).await;
    let old = shop.feed("緑茶").await;
    assert_eq!(shop.app.http.get(&old).send().await.unwrap().status(), 200);

    let rotated = shop
        .call(
            reqwest::Method::POST,
            "/api/v1/provider-accounts/product-data-feed/rotate-url",
            None,
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
    let shop = Shop::new(backend).await;
    shop.feed("緑茶").await;
    shop.call(
        reqwest::Method::POST,
        "/api/v1/provider-accounts/product-data-feed/rotate-url",
        None,
    )
    .await;
    let events: Value = shop
        .call(reqwest::Method::GET, "/api/v1/audit-events", None)
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
    let shop = Shop::new(backend).await;
    let url = shop.feed("緑茶").await;
    let deleted = shop
        .call(
            reqwest::Method::DELETE,
            "/api/v1/provider-accounts/product-data-feed",
            None,
        )
        .await;
    assert_eq!(deleted.status(), 204);
    // Configured again, the old URL stays dead.
    shop.configure("product-data-feed").await;
    assert_problem(shop.app.http.get(&url).send().await.unwrap(), 404).await;
}

async fn deleting_the_gmo_pg_account_takes_its_banner_down(backend: Backend) {
    let shop = Shop::new(backend).await;
    let url = shop.banner().await;
    assert_eq!(shop.app.http.get(&url).send().await.unwrap().status(), 200);
    let deleted = shop
        .call(reqwest::Method::DELETE, "/api/v1/provider-accounts/gmo-pg", None)
        .await;
    assert_eq!(deleted.status(), 204);
    assert_problem(shop.app.http.get(&url).send().await.unwrap(), 404).await;
}

async fn feed_cells_that_a_spreadsheet_would_run_are_neutralised(backend: Backend) {
    let shop = Shop::new(backend).await;
    let url = shop.feed("=HYPERLINK(\"https://evil.example\",\"x\")").await;
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
    let shop = Shop::new(backend).await;
    let feed = shop.feed("緑茶").await;
    let banner = shop.banner().await;
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
