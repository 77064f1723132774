//! The document holds in every state (SPEC 2): a shop populated with every state a
//! resource can be in — all accounts as drafts and complete, linked and unlinked,
//! payment methods, screenings of every result, webhook endpoints, events — answers
//! every GET, PUT and POST with a body valid against its schema in the served document.

use std::{collections::HashMap, time::Duration};

use renkei::accounts::ALL;
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{
    Backend, TestApp,
    accounts::{Pki, valid_body},
    oplux::{Mock, account, order},
    receiver::Receiver,
    spawn_app_with,
};

on_both_databases!(
    every_get_answer_is_valid_against_its_schema_in_every_state,
    every_put_and_post_answer_is_valid_against_its_schema,
    an_integer_written_with_a_zero_fraction_is_an_integer_and_a_digit_string_is_not,
);

const ALL_SCOPES: &[&str] = &[
    "accounts:read",
    "accounts:write",
    "payment-methods:read",
    "payment-methods:write",
    "screenings:read",
    "screenings:write",
    "audit:read",
    "webhooks:read",
    "webhooks:write",
];

/// An answer: what was asked (the documented path template), and what came back.
struct Answer {
    method: &'static str,
    template: String,
    path: String,
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

/// The served document, judging answers against the schema of their operation, status
/// and media type.
struct Contract {
    doc: Value,
    validators: HashMap<String, jsonschema::Validator>,
}

impl Contract {
    async fn served(app: &TestApp) -> Self {
        Self {
            doc: app.served_document().await,
            validators: HashMap::new(),
        }
    }

    /// The documented path template a path (or template) falls under.
    fn template(&self, path: &str) -> String {
        let paths = self.doc["paths"].as_object().unwrap();
        if paths.contains_key(path) {
            return path.to_string();
        }
        let parts: Vec<&str> = path.split('/').collect();
        paths
            .keys()
            .find(|template| {
                let segments: Vec<&str> = template.split('/').collect();
                segments.len() == parts.len()
                    && segments
                        .iter()
                        .zip(&parts)
                        .all(|(s, p)| s == p || (s.starts_with('{') && s.ends_with('}')))
            })
            .cloned()
            .unwrap_or_else(|| path.to_string())
    }

    /// What is wrong with the answer, if anything.
    fn judge(&mut self, answer: &Answer) -> Option<String> {
        let what = format!("{} {} → {}", answer.method, answer.path, answer.status);
        let template = self.template(&answer.template);
        let operation = self.doc["paths"][&template][answer.method.to_lowercase()].clone();
        if operation.is_null() {
            return Some(format!("{what}: {} is not documented", answer.template));
        }
        let response = &operation["responses"][answer.status.to_string()];
        if response.is_null() {
            return Some(format!("{what}: status not documented"));
        }
        let Some(content) = response.get("content").and_then(Value::as_object) else {
            return (!answer.body.is_empty()).then(|| format!("{what}: a body where none is documented"));
        };
        // Documented media types may carry parameters (`text/plain; version=0.0.4`).
        let media = content
            .iter()
            .find(|(name, _)| name.split(';').next().unwrap_or_default().trim() == answer.content_type)
            .map(|(_, media)| media);
        let Some(media) = media else {
            return Some(format!("{what}: {} is not documented", answer.content_type));
        };
        let body: Value = if answer.content_type.ends_with("json") {
            match serde_json::from_slice(&answer.body) {
                Ok(body) => body,
                Err(e) => return Some(format!("{what}: not JSON: {e}")),
            }
        } else if media["schema"]["format"] == "binary" {
            return None;
        } else {
            match String::from_utf8(answer.body.clone()) {
                Ok(text) => Value::String(text),
                Err(_) => return Some(format!("{what}: not UTF-8 text")),
            }
        };
        let key = format!(
            "{}|{}|{}|{}",
            answer.template, answer.method, answer.status, answer.content_type
        );
        let doc = &self.doc;
        let validator = self.validators.entry(key).or_insert_with(|| {
            crate::support::schema_in_document(doc, &media["schema"])
                .unwrap_or_else(|e| panic!("{what}: the schema does not compile: {e}"))
        });
        let errors: Vec<String> = validator
            .iter_errors(&body)
            .take(5)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        (!errors.is_empty()).then(|| format!("{what}: {}", errors.join("; ")))
    }
}

/// A client of one shop that keeps every answer.
struct Client<'a> {
    app: &'a TestApp,
    token: String,
    answers: Vec<Answer>,
}

impl<'a> Client<'a> {
    async fn new(app: &'a TestApp, shop: &str) -> Self {
        Self {
            app,
            token: app.token(shop, ALL_SCOPES).await,
            answers: Vec::new(),
        }
    }

    async fn send(
        &mut self,
        method: &'static str,
        template: &str,
        path: &str,
        body: Option<reqwest::Body>,
        content_type: &str,
    ) -> (u16, Value) {
        let mut request = self
            .app
            .http
            .request(method.parse().unwrap(), self.app.url(path))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.header("content-type", content_type).body(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        let body = response.bytes().await.unwrap().to_vec();
        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
        self.answers.push(Answer {
            method,
            template: template.to_string(),
            path: path.to_string(),
            status,
            content_type,
            body,
        });
        (status, json)
    }

    async fn json(&mut self, method: &'static str, path: &str, body: &Value) -> (u16, Value) {
        self.send(method, path, path, Some(body.to_string().into()), "application/json")
            .await
    }

    async fn get(&mut self, template: &str, path: &str) -> (u16, Value) {
        self.send("GET", template, path, None, "").await
    }
}

/// Every state a shop's resources can be in, over three shops: complete and linked
/// (a), drafts (b), complete and unlinked with O-PLUX unreachable (c).
struct World {
    app: TestApp,
    _mock: Mock,
    _receiver: Receiver,
    shops: Vec<(String, Vec<Answer>)>,
}

async fn populated(backend: Backend) -> World {
    let mock = Mock::start(Duration::ZERO, 0.0).await;
    let receiver = Receiver::start().await;
    let origin = receiver.origin();
    let app = spawn_app_with(backend, |config| {
        mock.allow_in(config);
        crate::support::oplux::allow(config, "http://127.0.0.1:9");
        config.outbound = config.outbound.with(origin);
        config.webhook_poll_interval = Duration::from_millis(30);
        config.webhook_retry_base = Duration::from_millis(30);
    })
    .await;
    let pki = Pki::new("contract.renkei.test");
    let mut shops = Vec::new();

    // Shop a: every account complete, then linked; methods, screenings, a webhook.
    let mut a = Client::new(&app, "shop-a").await;
    let (status, _) = a
        .json(
            "POST",
            "/api/v1/webhook-endpoints",
            &json!({"url": format!("{}/hooks", receiver.url), "events": ["screening.created", "provider_account.updated"]}),
        )
        .await;
    assert_eq!(status, 201);
    configure_all(&mut a, &pki, true).await;
    let mut oplux = account(&mock.url());
    oplux["enabled"] = json!(true);
    let (status, body) = a.json("PUT", "/api/v1/provider-accounts/o-plux", &oplux).await;
    assert!(status < 300, "o-plux: {body}");
    methods(&mut a).await;
    // The ten-key pad needs the card method: enable it now.
    let mut remise = valid_body(renkei::accounts::find("remise-tenkey").unwrap(), &pki);
    remise.remove("holder_name_fixed"); // only with zeus
    let remise = Value::Object(remise);
    let (status, body) = a.json("PUT", "/api/v1/provider-accounts/remise-tenkey", &remise).await;
    assert!(status < 300, "remise-tenkey: {body}");
    let (status, body) = a
        .json("POST", "/api/v1/provider-accounts/paypal/link", &json!({}))
        .await;
    assert!(status < 300, "paypal link: {body}");
    let rsa = Pki::rsa("amazon");
    let link = json!({
        "merchant_id": "A2B3C4D5E6F7G8",
        "store_id": "amzn1.application-oa2-client.0123456789abcdef0123456789abcdef",
        "public_key_id": "SANDBOX-AHABCDEFGHIJKLMNOPQRSTUV",
        "private_key": rsa.key_pem,
    });
    let (status, body) = a
        .json("POST", "/api/v1/provider-accounts/amazon-pay-v2/link", &link)
        .await;
    assert!(status < 300, "amazon link: {body}");
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.resize(200, 7);
    let path = "/api/v1/provider-accounts/gmo-pg/epos-banner";
    let (status, body) = a.send("PUT", path, path, Some(png.into()), "image/png").await;
    assert!(status < 300, "banner: {body}");
    let feed = json!({"items": [{
        "id": "SKU1", "title": "緑茶", "description": "静岡の緑茶", "availability": "in stock",
        "condition": "new", "price": 1200, "link": "https://shop.example.jp/p/1",
        "image_link": "https://shop.example.jp/p/1.jpg", "brand": "renkei"
    }]});
    let (status, body) = a.json("PUT", "/api/v1/feed-items", &feed).await;
    assert!(status < 300, "feed items: {body}");
    let path = "/api/v1/provider-accounts/product-data-feed/generate";
    let (status, body) = a.json("POST", path, &json!({})).await;
    assert!(status < 300, "feed: {body}");
    for (number, digit) in [("C-OK", 0), ("C-HOLD", 1), ("C-REVIEW", 2), ("C-NG", 3)] {
        let (status, body) = a
            .json("POST", "/api/v1/fraud-screenings", &order(number, "cod", digit))
            .await;
        assert_eq!(status, 201, "{number}: {body}");
    }
    let (status, body) = a
        .json("POST", "/api/v1/fraud-screenings", &order("C-SKIP", "transfer", 0))
        .await;
    assert_eq!(status, 201, "not screened: {body}");
    let (status, body) = a
        .json("POST", "/api/v1/provider-accounts/o-plux/verify", &json!({}))
        .await;
    assert!(status < 300, "verify: {body}");
    // Deliveries exist and some are delivered.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while receiver.received().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    walk(&mut a).await;
    shops.push(("shop-a".to_string(), a.answers));

    // Shop b: every account a draft; nothing linked.
    let mut b = Client::new(&app, "shop-b").await;
    for spec in ALL.iter().filter(|s| s.slug != "amazon-pay-v2") {
        let path = format!("/api/v1/provider-accounts/{}", spec.slug);
        let (status, body) = b.json("PUT", &path, &json!({"enabled": false})).await;
        assert!(status < 300, "{} draft: {body}", spec.slug);
    }
    walk(&mut b).await;
    shops.push(("shop-b".to_string(), b.answers));

    // Shop c: complete and unlinked, O-PLUX unreachable (every screening an error).
    let mut c = Client::new(&app, "shop-c").await;
    configure_all(&mut c, &pki, false).await;
    let mut oplux = account("http://127.0.0.1:9");
    oplux["enabled"] = json!(true);
    let (status, body) = c.json("PUT", "/api/v1/provider-accounts/o-plux", &oplux).await;
    assert!(status < 300, "o-plux: {body}");
    methods(&mut c).await;
    let (status, body) = c
        .json("POST", "/api/v1/fraud-screenings", &order("C-ERR", "cod", 0))
        .await;
    assert_eq!(status, 201, "error: {body}");
    walk(&mut c).await;
    shops.push(("shop-c".to_string(), c.answers));

    World {
        app,
        _mock: mock,
        _receiver: receiver,
        shops,
    }
}

/// Every account with valid settings (the ten-key pad as a draft until its card
/// method exists; Amazon Pay v2 only by its link; O-PLUX separately).
async fn configure_all(client: &mut Client<'_>, pki: &Pki, _linked: bool) {
    for spec in ALL.iter().filter(|s| !matches!(s.slug, "amazon-pay-v2" | "o-plux")) {
        let path = format!("/api/v1/provider-accounts/{}", spec.slug);
        let body = if spec.slug == "remise-tenkey" {
            json!({"enabled": false})
        } else {
            Value::Object(valid_body(spec, pki))
        };
        let (status, answer) = client.json("PUT", &path, &body).await;
        assert!(status < 300, "{}: {answer}", spec.slug);
    }
}

async fn methods(client: &mut Client<'_>) {
    for (code, body) in [
        (
            "cod",
            json!({"kind": "cash_on_delivery", "display_name": "代引き", "oplux_screening": true}),
        ),
        ("transfer", json!({"kind": "bank_transfer", "display_name": "銀行振込"})),
        (
            "card",
            json!({"kind": "credit_card", "provider": "gmo-pg", "display_name": "クレジットカード"}),
        ),
        (
            "konbini",
            json!({"kind": "convenience_postpay", "provider": "densan", "display_name": "コンビニ後払い"}),
        ),
        (
            "atobarai",
            json!({"kind": "deferred", "provider": "gmo-atobarai", "display_name": "後払い", "enabled": false}),
        ),
    ] {
        let path = format!("/api/v1/payment-methods/{code}");
        let (status, answer) = client.json("PUT", &path, &body).await;
        assert!(status < 300, "{code}: {answer}");
    }
    let path = "/api/v1/payment-methods/konbini/transaction-ids";
    let (status, answer) = client.json("POST", path, &json!({})).await;
    assert!(status < 300, "transaction id: {answer}");
}

/// GETs every documented GET path with what the shop has: every provider, every method,
/// screening, endpoint and public file it links to.
async fn walk(client: &mut Client<'_>) {
    let doc: Value = serde_json::from_str(renkei::http::openapi::COMMITTED).unwrap();
    let (_, methods) = client.get("/api/v1/payment-methods", "/api/v1/payment-methods").await;
    let (_, screenings) = client.get("/api/v1/fraud-screenings", "/api/v1/fraud-screenings").await;
    let (_, endpoints) = client
        .get("/api/v1/webhook-endpoints", "/api/v1/webhook-endpoints")
        .await;
    let (_, feed) = client
        .get(
            "/api/v1/provider-accounts/product-data-feed",
            "/api/v1/provider-accounts/product-data-feed",
        )
        .await;
    let (_, gmo) = client
        .get("/api/v1/provider-accounts/gmo-pg", "/api/v1/provider-accounts/gmo-pg")
        .await;
    let ids = |list: &Value, key: &str| -> Vec<String> {
        list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item[key].as_str().map(str::to_string))
            .collect()
    };
    let public_path = |url: &Value| -> Vec<String> {
        url.as_str()
            .and_then(|u| {
                u.find("/public/")
                    .or_else(|| u.find("/feeds/"))
                    .map(|i| u[i..].to_string())
            })
            .into_iter()
            .collect()
    };
    let mut values: HashMap<&str, Vec<String>> = HashMap::new();
    values.insert("provider", ALL.iter().map(|s| s.slug.to_string()).collect());
    values.insert("code", ids(&methods, "code"));
    values.insert("order_number", ids(&screenings, "order_number"));
    values.insert("id", ids(&endpoints, "id"));
    let feeds = public_path(&feed["facebook_feed_url"]);
    let banners = public_path(&gmo["epos_banner_url"]);
    for (template, item) in doc["paths"].as_object().unwrap() {
        let Some(operation) = item.get("get") else {
            continue;
        };
        let query: Vec<String> = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "query" && p["required"] == true)
            .map(|p| {
                let value = p["schema"]["enum"][0]
                    .as_str()
                    .or_else(|| p["example"].as_str())
                    .unwrap_or("lp");
                format!("{}={value}", p["name"].as_str().unwrap())
            })
            .collect();
        let suffix = if query.is_empty() {
            String::new()
        } else {
            format!("?{}", query.join("&"))
        };
        let paths: Vec<String> = if template.starts_with("/feeds/") {
            feeds.clone()
        } else if template.starts_with("/public/epos-banners/") {
            banners
                .iter()
                .filter(|p| p.starts_with("/public/epos-banners/"))
                .cloned()
                .collect()
        } else if let Some(start) = template.find('{') {
            let end = template.find('}').unwrap();
            let name = &template[start + 1..end];
            values
                .get(name)
                .into_iter()
                .flatten()
                .map(|value| format!("{}{value}{}", &template[..start], &template[end + 1..]))
                .collect()
        } else {
            vec![template.clone()]
        };
        for path in paths {
            client.get(template, &format!("{path}{suffix}")).await;
        }
    }
}

fn judge_all(world: &World, contract: &mut Contract, methods: &[&str]) {
    let mut failures = Vec::new();
    let mut judged = 0;
    for (shop, answers) in &world.shops {
        for answer in answers.iter().filter(|a| methods.contains(&a.method)) {
            judged += 1;
            if let Some(failure) = contract.judge(answer) {
                failures.push(format!("{shop}: {failure}"));
            }
        }
    }
    assert!(judged > 50, "only {judged} answers judged");
    assert!(
        failures.is_empty(),
        "{} of {judged} answers do not match the document:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

async fn every_get_answer_is_valid_against_its_schema_in_every_state(backend: Backend) {
    let world = populated(backend).await;
    let mut contract = Contract::served(&world.app).await;
    // Every GET succeeded where the shop has the resource, and every one is judged.
    for (shop, answers) in &world.shops {
        for answer in answers.iter().filter(|a| a.method == "GET") {
            // Not configured (shop b has no Amazon Pay v2), or a file of a disabled feed.
            let absent = answer.status == 404
                && (answer.template.starts_with("/api/v1/provider-accounts/")
                    || (shop != "shop-a" && answer.template.starts_with("/feeds/")));
            assert!(
                answer.status < 300 || absent,
                "{shop}: GET {} → {}",
                answer.path,
                answer.status
            );
        }
    }
    judge_all(&world, &mut contract, &["GET"]);
    // The judge is not lenient: a draft with a value outside its enum is refused.
    let wrong = Answer {
        method: "GET",
        template: "/api/v1/provider-accounts/paidy".into(),
        path: "/api/v1/provider-accounts/paidy".into(),
        status: 200,
        content_type: "application/json".into(),
        body: br#"{"provider": "paidy", "modal_page": "bogus"}"#.to_vec(),
    };
    let failure = contract.judge(&wrong).expect("a wrong body is refused");
    assert!(failure.contains("bogus") || failure.contains("required"), "{failure}");
}

async fn every_put_and_post_answer_is_valid_against_its_schema(backend: Backend) {
    let world = populated(backend).await;
    let mut contract = Contract::served(&world.app).await;
    judge_all(&world, &mut contract, &["PUT", "POST"]);
}

/// JSON Schema's rule, which the document states: `3.0` is the integer 3; `"3"` is a
/// string, refused where an integer is expected.
async fn an_integer_written_with_a_zero_fraction_is_an_integer_and_a_digit_string_is_not(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let mut client = Client::new(&app, "shop-a").await;
    let path = "/api/v1/provider-accounts/relation";
    let (status, body) = client
        .json("PUT", path, &json!({"subdomain": "shop", "message_box_id": 3.0}))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["message_box_id"], 3);
    let (status, body) = client
        .json("PUT", path, &json!({"subdomain": "shop", "message_box_id": "3"}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "message_box_id");
    assert_eq!(body["errors"][0]["code"], "invalid_type");
    let (status, body) = client
        .json("PUT", path, &json!({"subdomain": "shop", "message_box_id": 3.5}))
        .await;
    assert_eq!(status, 422, "{body}");

    let method = json!({"kind": "cash_on_delivery", "display_name": "代引き", "position": 7.0});
    let (status, body) = client.json("PUT", "/api/v1/payment-methods/cod", &method).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["position"], 7);
    let method = json!({"kind": "cash_on_delivery", "display_name": "代引き", "position": "7"});
    let (status, body) = client.json("PUT", "/api/v1/payment-methods/cod", &method).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "position");
}
