//! Provider account actions: the EPOS banner, PayPal and Amazon Pay v2 links, the product data
//! feed, and the mail tools' timeline links.

use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{Backend, accounts::Pki, assert_problem, error_fields, session::session};

on_both_databases!(
    an_epos_banner_is_checked_by_content_served_publicly_and_reset,
    paypal_links_the_set_merchant_id_and_unlinking_forgets_it,
    amazon_pay_v2_is_filled_only_by_its_link,
    the_product_feed_is_generated_from_the_items_as_quoted_csv,
    feed_items_are_validated_naming_each_item_field,
    mail_tools_show_their_timeline_link,
);

fn png(size: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.resize(size, 7);
    bytes
}

async fn an_epos_banner_is_checked_by_content_served_publicly_and_reset(backend: Backend) {
    let s = session(backend).await;
    let upload = |body: Vec<u8>, content_type: &'static str| {
        s.request(reqwest::Method::PUT, "/api/v1/provider-accounts/gmo-pg/epos-banner")
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    assert_problem(upload(png(100), "image/png").await.unwrap(), 404).await;
    let account = s
        .configure_with("gmo-pg", &Value::Object(s.valid_account("gmo-pg")))
        .await;
    assert_eq!(account["epos_banner_url"], Value::Null, "no banner while EPOS is off");
    let account: Value = s
        .request(reqwest::Method::PATCH, "/api/v1/provider-accounts/gmo-pg")
        .json(&serde_json::json!({"auto_card_update": true, "epos_enabled": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let default_url = account["epos_banner_url"].as_str().unwrap().to_string();
    assert!(default_url.ends_with("/public/epos-banner-default.png"));
    let default = s.app.http.get(&default_url).send().await.unwrap();
    assert_eq!(default.headers()["content-type"], "image/png");

    let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>".to_vec();
    let problem = assert_problem(upload(svg, "image/png").await.unwrap(), 422).await;
    assert_eq!(error_fields(&problem), ["epos_banner"]);
    assert_problem(upload(png(256 * 1024 + 1), "image/png").await.unwrap(), 413).await;

    let image = png(256 * 1024);
    let uploaded: Value = upload(image.clone(), "application/octet-stream")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = uploaded["epos_banner_url"].as_str().unwrap().to_string();
    assert!(url.contains("/public/epos-banners/"), "{url}");
    let served = s.app.http.get(&url).send().await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.bytes().await.unwrap().to_vec(), image);

    let gif = b"GIF89a\x01\x00\x01\x00".to_vec();
    let replaced: Value = upload(gif, "image/gif").await.unwrap().json().await.unwrap();
    let new_url = replaced["epos_banner_url"].as_str().unwrap().to_string();
    assert_ne!(new_url, url);
    assert_problem(s.app.http.get(&url).send().await.unwrap(), 404).await;

    let reset: Value = s
        .request(reqwest::Method::DELETE, "/api/v1/provider-accounts/gmo-pg/epos-banner")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reset["epos_banner_url"], default_url);
    assert_problem(s.app.http.get(&new_url).send().await.unwrap(), 404).await;
    let events: Value = s
        .request(reqwest::Method::GET, "/api/v1/audit-events")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(events["items"][0]["action"], "reset_epos_banner");
    assert_eq!(events["items"][1]["action"], "upload_epos_banner");
}

async fn paypal_links_the_set_merchant_id_and_unlinking_forgets_it(backend: Backend) {
    let s = session(backend).await;
    let link = || {
        s.request(reqwest::Method::POST, "/api/v1/provider-accounts/paypal/link")
            .send()
    };
    assert_problem(link().await.unwrap(), 404).await;
    let draft = s
        .request(reqwest::Method::PUT, "/api/v1/provider-accounts/paypal")
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(draft.status(), 201);
    let problem = assert_problem(link().await.unwrap(), 422).await;
    assert_eq!(error_fields(&problem), ["seller_merchant_id"]);

    let account = s
        .configure_with("paypal", &Value::Object(s.valid_account("paypal")))
        .await;
    assert_eq!(account["link_status"], "unlinked");
    let linked: Value = link().await.unwrap().json().await.unwrap();
    assert_eq!(linked["link_status"], "linked");
    assert_eq!(linked["seller_merchant_id"], account["seller_merchant_id"]);

    let unlinked: Value = s
        .request(reqwest::Method::DELETE, "/api/v1/provider-accounts/paypal/link")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(unlinked["link_status"], "unlinked");
    assert!(unlinked["seller_merchant_id"].is_null());
    assert_eq!(unlinked["enabled"], false);
}

async fn amazon_pay_v2_is_filled_only_by_its_link(backend: Backend) {
    let s = session(backend).await;
    let rsa = Pki::rsa("amazon");
    let link = |body: Value| {
        s.request(reqwest::Method::POST, "/api/v1/provider-accounts/amazon-pay-v2/link")
            .json(&body)
            .send()
    };
    let body = json!({
        "merchant_id": "A2B3C4D5E6F7G8",
        "store_id": "amzn1.application-oa2-client.0123456789abcdef0123456789abcdef",
        "public_key_id": "SANDBOX-AHABCDEFGHIJKLMNOPQRSTUV",
        "private_key": rsa.key_pem,
    });
    let mut ec = body.clone();
    ec["private_key"] = json!(Pki::new("ec").key_pem);
    ec["public_key_id"] = json!("TEST-1");
    let problem = assert_problem(link(ec).await.unwrap(), 422).await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["private_key", "public_key_id"]);

    let response = link(body.clone()).await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(!text.contains("PRIVATE KEY"), "the private key is never returned");
    let linked: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(linked["enabled"], true);
    assert_eq!(linked["mode"], "test");
    assert_eq!(linked["merchant_id"], "A2B3C4D5E6F7G8");
    assert_eq!(linked["private_key"]["set"], true);

    let refused = s
        .request(reqwest::Method::PATCH, "/api/v1/provider-accounts/amazon-pay-v2")
        .json(&json!({"store_id": "other"}))
        .send()
        .await
        .unwrap();
    assert_eq!(assert_problem(refused, 422).await["errors"][0]["code"], "read_only");
    // Settings PATCHes keep the linked values.
    let disabled: Value = s
        .request(reqwest::Method::PATCH, "/api/v1/provider-accounts/amazon-pay-v2")
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(disabled["merchant_id"], "A2B3C4D5E6F7G8");

    let unlinked: Value = s
        .request(reqwest::Method::DELETE, "/api/v1/provider-accounts/amazon-pay-v2/link")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(unlinked["merchant_id"].is_null());
    assert_eq!(unlinked["private_key"]["set"], false);
    assert_eq!(unlinked["enabled"], false);
    let problem = assert_problem(
        s.request(reqwest::Method::PATCH, "/api/v1/provider-accounts/amazon-pay-v2")
            .json(&json!({"enabled": true}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert!(problem["errors"][0]["message"].as_str().unwrap().contains("link"));
}

fn item(id: &str) -> Value {
    json!({
        "id": id, "title": "緑茶, \"特選\"", "description": "一行目\n二行目",
        "availability": "in stock", "condition": "new", "price": 1280,
        "link": format!("https://shop.example.jp/products/{id}"),
        "image_link": format!("https://shop.example.jp/images/{id}.jpg"), "brand": "Example Tea"
    })
}

async fn the_product_feed_is_generated_from_the_items_as_quoted_csv(backend: Backend) {
    let s = session(backend).await;
    let account = s
        .configure_with(
            "product-data-feed",
            &Value::Object(s.valid_account("product-data-feed")),
        )
        .await;
    let feed_url = account["facebook_feed_url"].as_str().unwrap().to_string();
    assert!(feed_url.ends_with("/facebook.csv"));
    assert!(account["generated_at"].is_null());
    assert_problem(s.app.http.get(&feed_url).send().await.unwrap(), 404).await;

    let upserted: Value = s
        .request(reqwest::Method::PUT, "/api/v1/feed-items")
        .json(&json!({"items": [item("SKU-2"), item("SKU-1")]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(upserted["upserted"], 2);
    let mut changed = item("SKU-2");
    changed["price"] = json!(980);
    s.request(reqwest::Method::PUT, "/api/v1/feed-items")
        .json(&json!({"items": [changed]}))
        .send()
        .await
        .unwrap();

    let generated: Value = s
        .request(
            reqwest::Method::POST,
            "/api/v1/provider-accounts/product-data-feed/generate",
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(generated["generated_at"].is_string());
    assert_eq!(generated["facebook_feed_url"], feed_url.as_str());
    let response = s.app.http.get(&feed_url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = response.text().await.unwrap();
    let expected = "\"id\",\"title\",\"description\",\"availability\",\"condition\",\"price\",\"link\",\"image_link\",\"brand\"\r\n\
        \"SKU-1\",\"緑茶, \"\"特選\"\"\",\"一行目\n二行目\",\"in stock\",\"new\",\"1280 JPY\",\"https://shop.example.jp/products/SKU-1\",\"https://shop.example.jp/images/SKU-1.jpg\",\"Example Tea\"\r\n\
        \"SKU-2\",\"緑茶, \"\"特選\"\"\",\"一行目\n二行目\",\"in stock\",\"new\",\"980 JPY\",\"https://shop.example.jp/products/SKU-2\",\"https://shop.example.jp/images/SKU-2.jpg\",\"Example Tea\"\r\n";
    assert_eq!(csv, expected);

    // Listing and deleting items.
    let page: Value = s
        .request(reqwest::Method::GET, "/api/v1/feed-items?limit=1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"][0]["id"], "SKU-1");
    let cursor = page["next_cursor"].as_str().unwrap();
    let next: Value = s
        .request(
            reqwest::Method::GET,
            &format!("/api/v1/feed-items?limit=1&cursor={cursor}"),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(next["items"][0]["id"], "SKU-2");
    assert_eq!(next["items"][0]["price"], 980);
    assert!(next["next_cursor"].is_null());
    let deleted = s
        .request(reqwest::Method::DELETE, "/api/v1/feed-items/SKU-1")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_problem(
        s.request(reqwest::Method::DELETE, "/api/v1/feed-items/SKU-1")
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;

    // A disabled feed is not served.
    s.request(reqwest::Method::PATCH, "/api/v1/provider-accounts/product-data-feed")
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_problem(s.app.http.get(&feed_url).send().await.unwrap(), 404).await;
}

async fn feed_items_are_validated_naming_each_item_field(backend: Backend) {
    let s = session(backend).await;
    let mut bad = item("SKU-9");
    bad["price"] = json!(-1);
    bad["availability"] = json!("soon");
    bad["link"] = json!("javascript:alert(1)");
    bad["title"] = json!("");
    let response = s
        .request(reqwest::Method::PUT, "/api/v1/feed-items")
        .json(&json!({"items": [item("SKU-1"), bad, item("SKU-1")]}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 422).await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(
        fields,
        [
            "items[1].availability",
            "items[1].link",
            "items[1].price",
            "items[1].title",
            "items[2].id"
        ]
    );
    let listed: Value = s
        .request(reqwest::Method::GET, "/api/v1/feed-items")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(listed["items"].as_array().unwrap().is_empty(), "nothing stored");
    let unknown = s
        .request(reqwest::Method::PUT, "/api/v1/feed-items")
        .json(&json!({"items": [{"id": "x", "colour": "red"}]}))
        .send()
        .await
        .unwrap();
    assert_problem(unknown, 422).await;
}

async fn mail_tools_show_their_timeline_link(backend: Backend) {
    let s = session(backend).await;
    for slug in ["relation", "maildealer"] {
        let account = s.configure_with(slug, &Value::Object(s.valid_account(slug))).await;
        let url = account["timeline_base_url"].as_str().unwrap();
        let subdomain = account["subdomain"].as_str().unwrap();
        let box_id = account["message_box_id"].to_string();
        assert!(url.starts_with(&format!("https://{subdomain}.")), "{url}");
        assert!(url.contains(&box_id), "{url}");
    }
}
