//! Every provider as a typed resource — create, read back, formats, secrets,
//! merge patch, tenancy, concurrency and the audit log — on both databases.

use renkei::accounts::{self, ALL, spec::Kind};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Map, Value, json};

use crate::on_both_databases;
use crate::support::{
    Backend,
    accounts::{Pki, invalid_value, secret_values, valid_value, writable},
    assert_problem, error_fields,
    session::{Session, session},
};

on_both_databases!(
    every_provider_can_be_created_and_read_back,
    every_format_rule_is_refused_naming_its_field,
    secrets_are_never_returned_nor_stored_in_clear,
    merge_patch_keeps_omitted_secrets_and_clears_on_null,
    put_keeps_omitted_secrets_and_replaces_the_rest,
    an_enabled_account_needs_every_required_field_at_once,
    a_draft_can_be_saved_disabled,
    another_shops_token_sees_no_account,
    a_stale_if_match_is_412_and_leaves_the_account_unchanged,
    changes_are_audited_with_field_names_only,
    the_list_shows_every_provider,
    read_only_fields_cannot_be_written,
    unknown_fields_and_providers_are_refused,
    full_width_input_is_converted_before_checking,
    gmo_pg_card_update_and_epos_need_their_fields,
    paygent_refuses_a_certificate_of_another_key_and_expired_ones,
    paidy_keys_must_be_of_one_mode,
    oplux_redirect_actions_need_a_url,
    delete_removes_the_account_and_its_secrets,
    the_scopes_of_accounts_are_enforced,
);

impl Session {
    async fn send(&self, method: reqwest::Method, slug: &str, body: Option<&Value>) -> reqwest::Response {
        let mut request = self.request(method, &format!("/api/v1/provider-accounts/{slug}"));
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.unwrap()
    }

    async fn put(&self, slug: &str, body: &Value) -> reqwest::Response {
        if slug == "remise-tenkey" {
            self.card_on_zeus().await;
        }
        self.send(reqwest::Method::PUT, slug, Some(body)).await
    }

    /// remise-tenkey can be enabled (with a fixed holder name) only beside an enabled
    /// credit card method on Zeus: set one up.
    async fn card_on_zeus(&self) {
        if self.get("zeus").await.status() == 404 {
            let zeus = Value::Object(self.body("zeus"));
            self.send(reqwest::Method::PUT, "zeus", Some(&zeus)).await;
        }
        self.app
            .http
            .put(self.app.url("/api/v1/payment-methods/card"))
            .bearer_auth(&self.app_token().await)
            .json(&json!({"kind": "credit_card", "provider": "zeus", "display_name": "Card"}))
            .send()
            .await
            .unwrap();
    }

    async fn app_token(&self) -> String {
        self.app.token("shop-a", &["payment-methods:write"]).await
    }

    async fn patch(&self, slug: &str, body: &Value) -> reqwest::Response {
        self.send(reqwest::Method::PATCH, slug, Some(body)).await
    }

    async fn get(&self, slug: &str) -> reqwest::Response {
        self.send(reqwest::Method::GET, slug, None).await
    }

    async fn put_ok(&self, slug: &str, body: &Value) -> Value {
        let response = self.put(slug, body).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status == 200 || status == 201, "PUT {slug}: {status} {text}");
        serde_json::from_str(&text).unwrap()
    }

    fn body(&self, slug: &str) -> Map<String, Value> {
        self.valid_account(slug)
    }
}

async fn every_provider_can_be_created_and_read_back(backend: Backend) {
    let s = session(backend).await;
    for spec in ALL.iter() {
        let body = s.body(spec.slug);
        let created = s.put(spec.slug, &Value::Object(body.clone())).await;
        assert_eq!(
            created.status(),
            201,
            "{}: {}",
            spec.slug,
            created.text().await.unwrap()
        );
        assert!(created.headers().contains_key("etag"));
        let read: Value = s.get(spec.slug).await.json().await.unwrap();
        assert_eq!(read["provider"], spec.slug);
        assert_eq!(read["configured"], true);
        assert_eq!(read["enabled"], body["enabled"]);
        for field in writable(spec) {
            let sent = &body[field.name];
            let shown = &read[field.name];
            if field.secret {
                assert_eq!(shown["set"], true, "{}.{}", spec.slug, field.name);
            } else if matches!(field.kind, Kind::Certificate) {
                assert_eq!(shown["subject"], "CN=renkei test", "{}.{}", spec.slug, field.name);
            } else {
                assert_eq!(shown, sent, "{}.{} read back", spec.slug, field.name);
            }
        }
        // The same PUT again replaces: 200, not 201.
        assert_eq!(
            s.put(spec.slug, &Value::Object(body)).await.status(),
            200,
            "{}",
            spec.slug
        );
    }
}

async fn every_format_rule_is_refused_naming_its_field(backend: Backend) {
    let s = session(backend).await;
    for spec in ALL.iter() {
        for field in writable(spec) {
            let Some(bad) = invalid_value(field) else { continue };
            let mut body = s.body(spec.slug);
            body.insert(field.name.into(), bad.clone());
            let problem = assert_problem(s.put(spec.slug, &Value::Object(body)).await, 422).await;
            let fields = error_fields(&problem);
            assert!(
                fields
                    .iter()
                    .any(|f| f == field.name || f.starts_with(&format!("{}.", field.name))),
                "{}.{} = {bad}: {problem}",
                spec.slug,
                field.name
            );
            let message = problem["errors"][0]["message"].as_str().unwrap();
            assert!(message.contains(field.name), "{message}");
        }
        // Nothing was stored by the refused requests.
        assert_eq!(s.get(spec.slug).await.status(), 404, "{}", spec.slug);
    }
}

async fn secrets_are_never_returned_nor_stored_in_clear(backend: Backend) {
    let s = session(backend).await;
    let mut all_secrets = Vec::new();
    for spec in ALL.iter() {
        let body = s.body(spec.slug);
        let secrets = secret_values(spec, &body);
        let put = s.put(spec.slug, &Value::Object(body)).await.text().await.unwrap();
        let got = s.get(spec.slug).await.text().await.unwrap();
        let listed = s
            .app
            .get("/api/v1/provider-accounts", &s.token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for secret in &secrets {
            for (what, text) in [("PUT", &put), ("GET", &got), ("list", &listed)] {
                assert!(!text.contains(secret.as_str()), "{} {what} shows a secret", spec.slug);
            }
        }
        all_secrets.extend(secrets);
    }
    let declared = ALL.iter().flat_map(|p| writable(p)).filter(|f| f.secret).count();
    assert_eq!(all_secrets.len(), declared, "every writable secret was sent");
    let raw = crate::support::dump_tables(&s.app.database).await;
    assert!(raw.contains("v1.test-k1."), "the dump shows sealed values");
    for secret in &all_secrets {
        let probe = secret.lines().nth(1).unwrap_or(secret);
        assert!(!raw.contains(probe), "a secret is stored in clear: {probe}");
    }
}

async fn merge_patch_keeps_omitted_secrets_and_clears_on_null(backend: Backend) {
    let s = session(backend).await;
    s.put_ok("gmo-pg", &Value::Object(s.body("gmo-pg"))).await;
    let patched: Value = s
        .patch("gmo-pg", &json!({"security_code_required": true}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(patched["security_code_required"], true);
    assert_eq!(patched["shop_password"]["set"], true);
    assert_eq!(patched["site_password"]["set"], true);
    let response = s
        .patch(
            "gmo-pg",
            &json!({"enabled": false, "shop_password": null, "sftp_host": null}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let cleared: Value = response.json().await.unwrap();
    assert_eq!(cleared["shop_password"], json!({"set": false, "updated_at": null}));
    assert_eq!(cleared["site_password"]["set"], true);
    assert!(cleared["sftp_host"].is_null());
    // Nested merge: one key of an O-PLUX action.
    s.put_ok("o-plux", &Value::Object(s.body("o-plux"))).await;
    let patched: Value = s
        .patch("o-plux", &json!({"on_ng": {"action": "create_order"}}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(patched["on_ng"]["action"], "create_order");
    assert_eq!(patched["secret_key"]["set"], true);
    // PATCH of an account that does not exist is 404.
    assert_problem(s.patch("yamato", &json!({"enabled": false})).await, 404).await;
}

async fn put_keeps_omitted_secrets_and_replaces_the_rest(backend: Backend) {
    let s = session(backend).await;
    let mut body = s.body("gmo-pg");
    s.put_ok("gmo-pg", &Value::Object(body.clone())).await;
    for name in ["shop_password", "site_password", "sftp_password", "sftp_host"] {
        body.remove(name);
    }
    body.insert("auto_card_update".into(), false.into());
    body.insert("epos_enabled".into(), false.into());
    let replaced = s.put_ok("gmo-pg", &Value::Object(body)).await;
    assert_eq!(replaced["shop_password"]["set"], true);
    assert_eq!(replaced["sftp_password"]["set"], true);
    assert!(replaced["sftp_host"].is_null(), "an omitted setting is cleared by PUT");
}

async fn an_enabled_account_needs_every_required_field_at_once(backend: Backend) {
    let s = session(backend).await;
    let problem = assert_problem(s.put("yamato", &json!({"enabled": true})).await, 422).await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["access_key", "merchant_code", "password"]);
    let problem = assert_problem(s.put("o-plux", &json!({})).await, 422).await;
    let fields = error_fields(&problem);
    for name in [
        "merchant_id",
        "source_id",
        "secret_key",
        "model_id",
        "on_hold",
        "on_review",
        "on_ng",
    ] {
        assert!(fields.iter().any(|f| f == name), "{name} missing from {fields:?}");
    }
    for optional in ["endpoint", "timeout_ms", "on_error", "screen_existing_customers"] {
        assert!(!fields.iter().any(|f| f == optional), "{optional} is optional");
    }
}

async fn a_draft_can_be_saved_disabled(backend: Backend) {
    let s = session(backend).await;
    let draft = s
        .put_ok("yamato", &json!({"enabled": false, "merchant_code": "123456789"}))
        .await;
    assert_eq!(draft["enabled"], false);
    assert_eq!(draft["merchant_code"], "123456789");
    assert_eq!(draft["password"]["set"], false);
    let problem = assert_problem(s.patch("yamato", &json!({"enabled": true})).await, 422).await;
    assert_eq!(error_fields(&problem).len(), 2);
    // Defaults are stored for omitted fields.
    let oplux = s.put_ok("o-plux", &json!({"enabled": false})).await;
    assert_eq!(oplux["endpoint"], "test");
    assert_eq!(oplux["timeout_ms"], 5000);
    assert_eq!(oplux["on_error"]["action"], "create_order");
    assert_eq!(oplux["screen_existing_customers"], false);
    let paypal = s.put_ok("paypal", &json!({"enabled": false})).await;
    assert_eq!(paypal["sandbox"], true);
    assert_eq!(paypal["link_status"], "unlinked");
}

async fn another_shops_token_sees_no_account(backend: Backend) {
    let s = session(backend).await;
    s.put_ok("gmo-pg", &Value::Object(s.body("gmo-pg"))).await;
    let other = s.app.token("shop-b", &["accounts:read", "accounts:write"]).await;
    let url = s.app.url("/api/v1/provider-accounts/gmo-pg");
    let get = s.app.http.get(&url).bearer_auth(&other).send().await.unwrap();
    assert_problem(get, 404).await;
    let patch = s
        .app
        .http
        .patch(&url)
        .bearer_auth(&other)
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_problem(patch, 404).await;
    let delete = s.app.http.delete(&url).bearer_auth(&other).send().await.unwrap();
    assert_problem(delete, 404).await;
    let list: Value = s
        .app
        .get("/api/v1/provider-accounts", &other)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["configured"] == false)
    );
    // Shop A's account is untouched.
    assert_eq!(s.get("gmo-pg").await.status(), 200);
}

async fn a_stale_if_match_is_412_and_leaves_the_account_unchanged(backend: Backend) {
    let s = session(backend).await;
    let response = s.put("gmo-pg", &Value::Object(s.body("gmo-pg"))).await;
    let first = response.headers()["etag"].to_str().unwrap().to_string();
    let url = s.app.url("/api/v1/provider-accounts/gmo-pg");
    let changed = s
        .app
        .http
        .patch(&url)
        .bearer_auth(&s.token)
        .header("if-match", &first)
        .json(&json!({"security_code_required": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let second = changed.headers()["etag"].to_str().unwrap().to_string();
    assert_ne!(first, second);
    for method in [reqwest::Method::PATCH, reqwest::Method::PUT, reqwest::Method::DELETE] {
        let mut request = s
            .app
            .http
            .request(method.clone(), &url)
            .bearer_auth(&s.token)
            .header("if-match", &first);
        if method != reqwest::Method::DELETE {
            request = request.json(&json!({"enabled": false}));
        }
        assert_problem(request.send().await.unwrap(), 412).await;
    }
    let now: Value = s.get("gmo-pg").await.json().await.unwrap();
    assert_eq!(now["security_code_required"], true);
    assert_eq!(now["enabled"], true);
    // If-Match on an account that does not exist yet fails too.
    let create = s
        .app
        .http
        .put(s.app.url("/api/v1/provider-accounts/yamato"))
        .bearer_auth(&s.token)
        .header("if-match", "*")
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_problem(create, 412).await;
    let weak = s
        .app
        .http
        .patch(&url)
        .bearer_auth(&s.token)
        .header("if-match", format!("W/{second}"))
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_problem(weak, 412).await;
}

async fn changes_are_audited_with_field_names_only(backend: Backend) {
    let s = session(backend).await;
    let body = s.body("gmo-pg");
    let secrets = secret_values(accounts::find("gmo-pg").unwrap(), &body);
    s.put_ok("gmo-pg", &Value::Object(body)).await;
    s.patch(
        "gmo-pg",
        &json!({"shop_password": "a-new-password-9", "security_code_required": true}),
    )
    .await;
    let events: Value = s
        .app
        .get("/api/v1/audit-events", &s.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let events = events["items"].as_array().unwrap();
    assert_eq!(events[0]["resource_type"], "provider_account");
    assert_eq!(events[0]["resource_id"], "gmo-pg");
    assert_eq!(events[0]["action"], "update");
    assert_eq!(events[0]["fields"], json!(["shop_password", "security_code_required"]));
    assert!(events[0]["request_id"].is_string());
    assert_eq!(events[1]["action"], "create");
    let text = Value::Array(events.clone()).to_string();
    assert!(!text.contains("a-new-password-9"));
    for secret in secrets {
        assert!(!text.contains(&secret));
    }
}

async fn the_list_shows_every_provider(backend: Backend) {
    let s = session(backend).await;
    s.put_ok("paidy", &Value::Object(s.body("paidy"))).await;
    let list: Value = s
        .app
        .get("/api/v1/provider-accounts", &s.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 31);
    let slugs: Vec<&str> = items.iter().map(|i| i["provider"].as_str().unwrap()).collect();
    for slug in [
        "gmo-pg",
        "o-plux",
        "fraud-checker",
        "at-score",
        "remise-tenkey",
        "amazon-pay-v2",
    ] {
        assert!(slugs.contains(&slug), "{slug}");
    }
    let paidy = items.iter().find(|i| i["provider"] == "paidy").unwrap();
    assert_eq!(paidy["configured"], true);
    assert_eq!(paidy["enabled"], true);
    assert!(paidy["mode"] == "test" || paidy["mode"] == "live");
    assert!(paidy["updated_at"].is_string());
    assert!(list["next_cursor"].is_null());
}

async fn read_only_fields_cannot_be_written(backend: Backend) {
    let s = session(backend).await;
    for (slug, field, value) in [
        ("score-atobarai", "host", json!("evil.example.jp")),
        ("np-atobarai", "endpoint_url", json!("https://evil.example.jp/wsdl")),
        ("paypal", "link_status", json!("linked")),
        ("amazon-pay-v2", "merchant_id", json!("A1B2C3")),
        ("gmo-pg", "epos_banner_url", json!("https://evil.example.jp/b.png")),
        ("gmo-pg", "configured", json!(true)),
    ] {
        let mut body = s.body(slug);
        body.insert(field.into(), value);
        let problem = assert_problem(s.put(slug, &Value::Object(body)).await, 422).await;
        assert_eq!(error_fields(&problem), [field], "{slug}.{field}");
        assert_eq!(problem["errors"][0]["code"], "read_only");
    }
    let score = s
        .put_ok("score-atobarai", &Value::Object(s.body("score-atobarai")))
        .await;
    assert_eq!(score["host"], "collect-operation.nissen.co.jp");
    let np = s.put_ok("np-atobarai", &Value::Object(s.body("np-atobarai"))).await;
    assert_eq!(
        np["endpoint_url"],
        "https://www.getsafety-online.com/np_set3/npcb1/services/NPConnectPro?wsdl"
    );
}

async fn unknown_fields_and_providers_are_refused(backend: Backend) {
    let s = session(backend).await;
    let mut body = s.body("yamato");
    body.insert("colour".into(), json!("red"));
    let problem = assert_problem(s.put("yamato", &Value::Object(body)).await, 422).await;
    assert_eq!(error_fields(&problem), ["colour"]);
    assert_eq!(problem["errors"][0]["code"], "unknown_field");
    let missing = assert_problem(s.get("no-such-provider").await, 404).await;
    assert!(missing["detail"].as_str().unwrap().contains("no-such-provider"));
    assert_problem(s.put("no-such-provider", &json!({})).await, 404).await;
    assert_problem(s.get("yamato").await, 404).await;
    let not_object = s.put("yamato", &json!(["a"])).await;
    assert_problem(not_object, 422).await;
}

async fn full_width_input_is_converted_before_checking(backend: Backend) {
    let s = session(backend).await;
    let mut body = s.body("gmo-pg");
    body.insert("shop_id".into(), json!("  ｔｓｈｏｐ０００１２３  "));
    let created = s.put_ok("gmo-pg", &Value::Object(body)).await;
    assert_eq!(created["shop_id"], "tshop000123");
    assert_eq!(created["mode"], "test");
    let mut body = s.body("densan");
    body.insert("unique_code".into(), json!("１２３４５６７"));
    assert_eq!(s.put_ok("densan", &Value::Object(body)).await["unique_code"], "1234567");
}

async fn gmo_pg_card_update_and_epos_need_their_fields(backend: Backend) {
    let s = session(backend).await;
    let mut body = s.body("gmo-pg");
    for name in ["sftp_host", "sftp_login_id", "sftp_password", "epos_store_code"] {
        body.remove(name);
    }
    body.insert("auto_card_update".into(), json!(true));
    body.insert("epos_enabled".into(), json!(true));
    let problem = assert_problem(s.put("gmo-pg", &Value::Object(body.clone())).await, 422).await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(
        fields,
        ["epos_store_code", "sftp_host", "sftp_login_id", "sftp_password"]
    );
    body.insert("auto_card_update".into(), json!(false));
    body.insert("epos_store_code".into(), json!("E123"));
    let problem = assert_problem(s.put("gmo-pg", &Value::Object(body)).await, 422).await;
    assert_eq!(error_fields(&problem), ["auto_card_update"]);
    // The same rules hold for a disabled draft.
    let problem = assert_problem(
        s.put("gmo-pg", &json!({"enabled": false, "auto_card_update": true}))
            .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&problem).len(), 3);
}

async fn paygent_refuses_a_certificate_of_another_key_and_expired_ones(backend: Backend) {
    let s = session(backend).await;
    let mut body = s.body("paygent");
    let stranger = Pki::new("someone else");
    body.insert("client_certificate".into(), json!(stranger.cert_pem));
    let problem = assert_problem(s.put("paygent", &Value::Object(body.clone())).await, 422).await;
    assert_eq!(error_fields(&problem), ["client_certificate"]);
    assert_eq!(problem["errors"][0]["code"], "key_mismatch");

    let key = rcgen::KeyPair::from_pem(&s.pki.key_pem).unwrap();
    let expired = crate::support::accounts::certificate(&key, "renkei test", (2025, 1, 1));
    body.insert("client_certificate".into(), json!(expired));
    let problem = assert_problem(s.put("paygent", &Value::Object(body.clone())).await, 422).await;
    assert_eq!(error_fields(&problem), ["client_certificate"]);
    assert!(problem["errors"][0]["message"].as_str().unwrap().contains("expired"));

    // A matching pair is accepted; later, a new certificate must match the stored key.
    let created = s.put_ok("paygent", &Value::Object(s.body("paygent"))).await;
    assert_eq!(created["client_certificate"]["subject"], "CN=renkei test");
    assert!(
        created["client_certificate"]["not_after"]
            .as_str()
            .unwrap()
            .starts_with("2099-12-31")
    );
    let problem = assert_problem(
        s.patch("paygent", &json!({"client_certificate": stranger.cert_pem}))
            .await,
        422,
    )
    .await;
    assert_eq!(problem["errors"][0]["code"], "key_mismatch");
    // An RSA pair works too.
    let rsa = Pki::rsa("rsa pair");
    let patched = s
        .patch(
            "paygent",
            &json!({"private_key": rsa.key_pem, "client_certificate": rsa.cert_pem}),
        )
        .await;
    assert_eq!(patched.status(), 200);
}

async fn paidy_keys_must_be_of_one_mode(backend: Backend) {
    let s = session(backend).await;
    let mut body = s.body("paidy");
    body.insert("public_key".into(), json!("pk_live_abc123"));
    body.insert("secret_key".into(), json!("sk_test_abc123"));
    let problem = assert_problem(s.put("paidy", &Value::Object(body.clone())).await, 422).await;
    assert_eq!(error_fields(&problem), ["secret_key"]);
    body.insert("secret_key".into(), json!("sk_live_abc123"));
    let created = s.put_ok("paidy", &Value::Object(body)).await;
    assert_eq!(created["mode"], "live");
    // Changing only the public key is checked against the stored secret key.
    let problem = assert_problem(s.patch("paidy", &json!({"public_key": "pk_test_xyz"})).await, 422).await;
    assert_eq!(error_fields(&problem), ["secret_key"]);
}

async fn oplux_redirect_actions_need_a_url(backend: Backend) {
    let s = session(backend).await;
    let mut body = s.body("o-plux");
    body.insert("on_hold".into(), json!({"action": "redirect"}));
    body.insert(
        "on_error".into(),
        json!({"action": "redirect", "redirect_url": "javascript:alert(1)"}),
    );
    body.insert("timeout_ms".into(), json!(40000));
    let problem = assert_problem(s.put("o-plux", &Value::Object(body)).await, 422).await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["on_error.redirect_url", "on_hold.redirect_url", "timeout_ms"]);
}

async fn delete_removes_the_account_and_its_secrets(backend: Backend) {
    let s = session(backend).await;
    s.put_ok("yamato", &Value::Object(s.body("yamato"))).await;
    let deleted = s.send(reqwest::Method::DELETE, "yamato", None).await;
    assert_eq!(deleted.status(), 204);
    assert_problem(s.get("yamato").await, 404).await;
    assert_problem(s.send(reqwest::Method::DELETE, "yamato", None).await, 404).await;
    let backend = s.app.db.get_database_backend();
    let left = s
        .app
        .db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT * FROM provider_secrets WHERE provider = 'yamato'",
        ))
        .await
        .unwrap();
    assert!(left.is_empty());
    // Re-created, it starts empty: secrets do not come back.
    let draft = s.put_ok("yamato", &json!({"enabled": false})).await;
    assert_eq!(draft["password"]["set"], false);
}

async fn the_scopes_of_accounts_are_enforced(backend: Backend) {
    let s = session(backend).await;
    let reader = s.app.token("shop-a", &["accounts:read"]).await;
    let url = s.app.url("/api/v1/provider-accounts/yamato");
    let put = s
        .app
        .http
        .put(&url)
        .bearer_auth(&reader)
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_problem(put, 403).await;
    let nobody = s.app.token("shop-a", &["audit:read"]).await;
    let list = s.app.get("/api/v1/provider-accounts", &nobody).send().await.unwrap();
    assert_problem(list, 403).await;
    let anonymous = s.app.http.get(&url).send().await.unwrap();
    assert_problem(anonymous, 401).await;
}

#[test]
fn every_provider_of_the_spec_is_declared_with_examples() {
    let slugs: Vec<&str> = ALL.iter().map(|p| p.slug).collect();
    assert_eq!(slugs.len(), 31);
    let mut unique = slugs.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 31, "slugs are unique");
    let pki = Pki::new("x");
    for spec in ALL.iter() {
        for field in spec.fields {
            if !matches!(field.kind, Kind::Certificate | Kind::PrivateKey { .. }) {
                assert!(field.example.is_some(), "{}.{} has no example", spec.slug, field.name);
            }
            if field.access == renkei::accounts::spec::Access::Writable {
                let value = valid_value(field, &pki);
                assert!(
                    renkei::accounts::formats::parse(field, field.name, &value).is_ok(),
                    "{}.{}'s example {value} is not valid",
                    spec.slug,
                    field.name
                );
            }
        }
    }
}

on_both_databases!(key_rotation_keeps_every_account_readable);

async fn key_rotation_keeps_every_account_readable(backend: Backend) {
    use crate::support::test_master_keys;
    let s = session(backend).await;
    let mut sent = Vec::new();
    for spec in ALL.iter() {
        let body = s.body(spec.slug);
        s.put_ok(spec.slug, &Value::Object(body.clone())).await;
        sent.push((spec, body));
    }
    // A replica configured for the rotation: the new key first, the old one after it.
    let both = test_master_keys(&[("test-k2", 2), ("test-k1", 1)]);
    let replica = s.app.sibling(|config| config.master_keys = Some(both.clone())).await;
    let report = renkei::accounts::rotation::rotate(&replica.db, &both).await.unwrap();
    let declared = ALL.iter().flat_map(|p| writable(p)).filter(|f| f.secret).count() as u64;
    assert_eq!(report.resealed, declared);
    assert_eq!(
        renkei::accounts::rotation::rotate(&replica.db, &both)
            .await
            .unwrap()
            .resealed,
        0
    );

    // With the old key gone, every account is still readable and every secret opens.
    let new_only = test_master_keys(&[("test-k2", 2)]);
    let after = s
        .app
        .sibling(|config| config.master_keys = Some(new_only.clone()))
        .await;
    let service = renkei::accounts::service::Accounts {
        db: &after.db,
        keys: &new_only,
        outbound: &after.config.outbound,
    };
    let token = after.token("shop-a", &["accounts:read", "accounts:write"]).await;
    for (spec, body) in sent {
        let read = after
            .get(&format!("/api/v1/provider-accounts/{}", spec.slug), &token)
            .send()
            .await
            .unwrap();
        assert_eq!(read.status(), 200, "{}", spec.slug);
        for field in spec.fields.iter().filter(|f| f.secret && body.contains_key(f.name)) {
            let opened = service.open_secret("shop-a", spec, field.name).await.unwrap().unwrap();
            assert_eq!(
                opened.expose(),
                body[field.name].as_str().unwrap().trim(),
                "{}.{}",
                spec.slug,
                field.name
            );
        }
        // A write (which opens the stored secrets to check the rules) works too.
        let patched = after
            .http
            .patch(after.url(&format!("/api/v1/provider-accounts/{}", spec.slug)))
            .bearer_auth(&token)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(patched.status(), 200, "{}", spec.slug);
    }
}
