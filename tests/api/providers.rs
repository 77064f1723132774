//! The form descriptors (`/api/v1/providers`): what the admin screen renders, and a
//! `fields_schema` that judges bodies as the server does.

use renkei::accounts::{
    ALL, ProviderSpec,
    spec::{Access, Kind, Rule},
};
use serde_json::{Map, Value, json};

use crate::on_both_databases;
use crate::support::{
    Backend, TestApp,
    accounts::{Pki, invalid_value, valid_body, writable},
    assert_problem, spawn_app,
};

on_both_databases!(
    the_providers_are_listed_in_the_screens_order_with_their_categories,
    a_descriptor_gives_labels_secrets_choices_completeness_and_groups,
    an_unknown_provider_has_no_descriptor,
    the_descriptors_need_accounts_read,
    the_server_and_the_fields_schema_judge_every_corpus_body_alike,
    every_descriptor_has_a_ui_schema_with_password_secrets_and_no_any_of,
    the_account_form_holds_current_values_never_a_secret_and_the_etag,
    every_saved_accounts_form_data_validates_and_put_accepts_it_with_the_etag,
    a_form_of_an_unconfigured_or_another_shops_account_is_404_and_needs_accounts_read,
);

async fn descriptor(app: &TestApp, token: &str, path: &str) -> Value {
    let response = app.get(path, token).send().await.unwrap();
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.unwrap()
}

async fn the_providers_are_listed_in_the_screens_order_with_their_categories(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.token("shop-a", &["accounts:read"]).await;
    let list = descriptor(&app, &token, "/api/v1/providers").await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 31);
    assert_eq!(
        items[0],
        json!({"provider": "gmo-pg", "display_name": "GMO PG", "category": "payment",
               "category_label": "クレジットカード決済", "screen_order": 1})
    );
    let orders: Vec<u64> = items.iter().map(|i| i["screen_order"].as_u64().unwrap()).collect();
    assert_eq!(orders, (1..=31).collect::<Vec<u64>>());
    let oplux = items.iter().find(|i| i["provider"] == "o-plux").unwrap();
    assert_eq!(oplux["category_label"], "不正注文検知");
    assert_eq!(list["next_cursor"], Value::Null);
}

async fn a_descriptor_gives_labels_secrets_choices_completeness_and_groups(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.token("shop-a", &["accounts:read"]).await;
    let oplux = descriptor(&app, &token, "/api/v1/providers/o-plux").await;
    let schema = &oplux["fields_schema"];
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(schema["properties"]["merchant_id"]["title"], "加盟店ID");
    assert_eq!(schema["properties"]["secret_key"]["writeOnly"], true);
    assert_eq!(schema["properties"]["timeout_ms"]["minimum"], 500);
    let actions = &schema["properties"]["on_hold"]["properties"]["action"]["oneOf"];
    assert_eq!(
        actions,
        &json!([{"const": "create_order", "title": "受注を作成する"}, {"const": "redirect", "title": "URLへリダイレクトする"}])
    );
    let completeness = &schema["allOf"][0];
    assert_eq!(completeness["if"], json!({"properties": {"enabled": {"const": true}}}));
    let required = completeness["then"]["required"].as_array().unwrap();
    for name in ["merchant_id", "source_id", "secret_key", "model_id", "on_hold"] {
        assert!(required.contains(&json!(name)), "{name} is needed to enable");
    }
    assert!(!required.contains(&json!("timeout_ms")));
    assert_eq!(oplux["groups"][0]["title"], "O-PLUX 認証情報");
    assert_eq!(oplux["order"][0], "enabled");
    assert_eq!(oplux["screen_order"], 30);

    let paidy = descriptor(&app, &token, "/api/v1/providers/paidy").await;
    assert_eq!(
        paidy["fields_schema"]["properties"]["modal_page"]["oneOf"],
        json!([
            {"const": "input", "title": "入力ページ"},
            {"const": "confirm", "title": "確認ページ"},
            {"const": null, "title": "未設定"}
        ])
    );
    let paypal = descriptor(&app, &token, "/api/v1/providers/paypal").await;
    let groups: Vec<&str> = paypal["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["title"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["PayPal 認証情報", "PayPal サンドボックス"]);
    assert_eq!(paypal["read_only"][0]["name"], "link_status");
}

async fn an_unknown_provider_has_no_descriptor(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.token("shop-a", &["accounts:read"]).await;
    let response = app.get("/api/v1/providers/nope", &token).send().await.unwrap();
    assert_problem(response, 404).await;
}

async fn the_descriptors_need_accounts_read(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.token("shop-a", &["audit:read"]).await;
    for path in ["/api/v1/providers", "/api/v1/providers/gmo-pg"] {
        let response = app.get(path, &token).send().await.unwrap();
        assert_problem(response, 403).await;
    }
}

/// Bodies around a valid one: each field missing, null, of the wrong type or of a bad
/// format; drafts; unknown and read-only fields; each rule between fields switched on.
/// Left out on purpose: bad PEM contents (parsed by the server only) and values the
/// server normalises (full-width text, numbers as strings).
fn corpus(spec: &ProviderSpec, pki: &Pki) -> Vec<(String, Map<String, Value>)> {
    let valid = valid_body(spec, pki);
    let mut bodies = vec![("valid".to_string(), valid.clone())];
    let with = |name: &str, value: Option<Value>, enabled: bool| {
        let mut body = valid.clone();
        match value {
            Some(value) => body.insert(name.to_string(), value),
            None => body.remove(name),
        };
        if !enabled {
            body.insert("enabled".into(), Value::Bool(false));
        }
        body
    };
    bodies.push((
        "draft".into(),
        Map::from_iter([("enabled".to_string(), Value::Bool(false))]),
    ));
    bodies.push(("enabled as text".into(), with("enabled", Some(json!("yes")), true)));
    bodies.push(("unknown field".into(), with("colour", Some(json!("blue")), true)));
    bodies.push((
        "read-only meta field".into(),
        with("provider", Some(json!(spec.slug)), true),
    ));
    for field in spec.fields.iter().filter(|f| f.access != Access::Writable) {
        bodies.push((
            format!("read-only {}", field.name),
            with(field.name, Some(json!("x")), false),
        ));
    }
    for field in writable(spec) {
        let name = field.name;
        bodies.push((format!("without {name}"), with(name, None, true)));
        bodies.push((format!("without {name}, draft"), with(name, None, false)));
        bodies.push((format!("{name} null"), with(name, Some(Value::Null), true)));
        let wrong_type = match field.kind {
            Kind::Bool | Kind::Integer { .. } => json!([true]),
            _ => json!(12345),
        };
        bodies.push((format!("{name} of the wrong type"), with(name, Some(wrong_type), true)));
        if !matches!(field.kind, Kind::Certificate | Kind::PrivateKey { .. }) {
            bodies.push((format!("{name} invalid"), with(name, invalid_value(field), true)));
        }
        if matches!(field.kind, Kind::Text { .. }) {
            bodies.push((format!("{name} blank"), with(name, Some(json!("   ")), true)));
            bodies.push((format!("{name} on two lines"), with(name, Some(json!("a\nb")), true)));
        }
        if matches!(field.kind, Kind::ResultAction) {
            let redirect = json!({"action": "redirect", "redirect_url": "https://shop.example.jp/r"});
            bodies.push((format!("{name} redirecting"), with(name, Some(redirect), true)));
            let stray = json!({"action": "create_order", "redirect_url": null, "wait": true});
            bodies.push((format!("{name} with a stray key"), with(name, Some(stray), true)));
        }
    }
    for rule in spec.rules {
        let Rule::Requires { when, needs } = rule else {
            continue;
        };
        let mut on = with(when, Some(Value::Bool(true)), true);
        bodies.push((format!("{when} on"), on.clone()));
        for need in needs.iter() {
            if spec.field(need).is_some_and(|f| matches!(f.kind, Kind::Bool)) {
                on.insert(need.to_string(), Value::Bool(true));
            }
        }
        bodies.push((format!("{when} on with its switches"), on.clone()));
        for need in needs.iter() {
            let mut without = on.clone();
            without.remove(*need);
            bodies.push((format!("{when} on without {need}"), without));
        }
    }
    bodies
}

/// A refusal only by rules across accounts, which no schema of one account can state.
fn across_accounts(problem: &Value) -> bool {
    problem["errors"]
        .as_array()
        .is_some_and(|errors| errors.iter().all(|e| e["code"] == "payment_method_mismatch"))
}

async fn the_server_and_the_fields_schema_judge_every_corpus_body_alike(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.token("shop-a", &["accounts:read", "accounts:write"]).await;
    let pki = Pki::new("corpus.renkei.test");
    let mut disagreements = Vec::new();
    let mut judged = 0;
    for spec in ALL.iter() {
        let form = descriptor(&app, &token, &format!("/api/v1/providers/{}", spec.slug)).await;
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&form["fields_schema"])
            .unwrap_or_else(|e| panic!("{}: fields_schema is not a valid JSON Schema: {e}", spec.slug));
        for (case, body) in corpus(spec, &pki) {
            let url = app.url(&format!("/api/v1/provider-accounts/{}", spec.slug));
            let response = app.http.put(&url).bearer_auth(&token).json(&body).send().await.unwrap();
            let status = response.status().as_u16();
            let problem: Value = response.json().await.unwrap_or(Value::Null);
            let server = match status {
                200 | 201 => true,
                // Rules across accounts (e.g. the ten-key pad needs a card method).
                409 => continue,
                422 if across_accounts(&problem) => continue,
                422 => false,
                other => panic!("{} {case}: unexpected {other}: {problem}", spec.slug),
            };
            if server {
                let deleted = app.http.delete(&url).bearer_auth(&token).send().await.unwrap();
                assert_eq!(deleted.status(), 204, "{} {case}: delete", spec.slug);
            }
            let schema = validator.is_valid(&Value::Object(body.clone()));
            judged += 1;
            if schema != server {
                disagreements.push(format!(
                    "{} {case}: server {}, fields_schema {} — {}",
                    spec.slug,
                    if server { "accepts" } else { "refuses" },
                    if schema { "accepts" } else { "refuses" },
                    problem["errors"]
                ));
            }
        }
    }
    assert!(judged > 500, "only {judged} bodies judged");
    assert!(
        disagreements.is_empty(),
        "{} of {judged} bodies judged differently:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

fn contains_any_of(schema: &Value) -> bool {
    match schema {
        Value::Object(object) => object.contains_key("anyOf") || object.values().any(contains_any_of),
        Value::Array(items) => items.iter().any(contains_any_of),
        _ => false,
    }
}

async fn every_descriptor_has_a_ui_schema_with_password_secrets_and_no_any_of(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.token("shop-a", &["accounts:read"]).await;
    for spec in ALL.iter() {
        let form = descriptor(&app, &token, &format!("/api/v1/providers/{}", spec.slug)).await;
        let (schema, ui) = (&form["fields_schema"], &form["ui_schema"]);
        assert!(!contains_any_of(schema), "{}: anyOf in {schema}", spec.slug);
        let properties: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
        let mut order: Vec<&str> = ui["ui:order"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(order[0], "enabled", "{}", spec.slug);
        order.sort_unstable();
        let mut names: Vec<&str> = properties.iter().map(|s| s.as_str()).collect();
        names.sort_unstable();
        assert_eq!(order, names, "{}: ui:order lists every property once", spec.slug);
        for field in writable(spec) {
            let property = &schema["properties"][field.name];
            if field.secret {
                assert_eq!(ui[field.name]["ui:widget"], "password", "{}.{}", spec.slug, field.name);
            } else {
                assert_ne!(ui[field.name]["ui:widget"], "password", "{}.{}", spec.slug, field.name);
            }
            if field.optional || !matches!(field.kind, Kind::Bool) {
                let types = property["type"].as_array();
                assert!(
                    types.is_some_and(|t| t.contains(&json!("null"))),
                    "{}.{} is nullable as type: [T, null]: {property}",
                    spec.slug,
                    field.name
                );
            }
            if let Some(nested) = property["properties"].as_object() {
                for (name, inner) in nested {
                    assert!(
                        inner["title"].is_string(),
                        "{}.{}.{name} has a title",
                        spec.slug,
                        field.name
                    );
                    assert!(
                        ui[field.name][name]["ui:title"].is_string(),
                        "{}.{}.{name}",
                        spec.slug,
                        field.name
                    );
                }
            }
        }
    }
}

async fn form_of(app: &TestApp, token: &str, slug: &str) -> (u16, Value, Option<String>) {
    let response = app
        .get(&format!("/api/v1/provider-accounts/{slug}/form"), token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let etag = response.headers().get("etag").map(|v| v.to_str().unwrap().to_string());
    (status, response.json().await.unwrap(), etag)
}

async fn put_account(app: &TestApp, token: &str, slug: &str, body: &Value, etag: Option<&str>) -> reqwest::Response {
    let mut request = app
        .http
        .put(app.url(&format!("/api/v1/provider-accounts/{slug}")))
        .bearer_auth(token)
        .json(body);
    if let Some(etag) = etag {
        request = request.header("if-match", etag);
    }
    request.send().await.unwrap()
}

async fn the_account_form_holds_current_values_never_a_secret_and_the_etag(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.token("shop-a", &["accounts:read", "accounts:write"]).await;
    let pki = Pki::new("form.renkei.test");
    let spec = renkei::accounts::find("paidy").unwrap();
    let mut body = valid_body(spec, &pki);
    // Not the declared example (which the schema shows): this one must never appear.
    body.insert("secret_key".into(), json!("sk_test_formsecret7k2m9q"));
    let saved = put_account(&app, &token, "paidy", &Value::Object(body.clone()), None).await;
    assert_eq!(saved.status(), 201);
    let account_etag = saved.headers()["etag"].to_str().unwrap().to_string();

    let (status, form, etag) = form_of(&app, &token, "paidy").await;
    assert_eq!(status, 200, "{form}");
    assert_eq!(form["etag"], account_etag.as_str());
    assert_eq!(etag.as_deref(), Some(account_etag.as_str()));
    let data = form["form_data"].as_object().unwrap();
    assert_eq!(data["enabled"], true);
    assert_eq!(data["public_key"], body["public_key"]);
    assert_eq!(data["modal_page"], body["modal_page"]);
    assert!(!data.contains_key("secret_key"), "{form}");
    let secret = body["secret_key"].as_str().unwrap();
    assert!(!form.to_string().contains(secret), "a secret in the form");
    // The stored secret is not required; the form says it is kept when left empty.
    let required = &form["fields_schema"]["allOf"][0]["then"]["required"];
    assert!(
        !required.as_array().unwrap().contains(&json!("secret_key")),
        "{required}"
    );
    assert!(
        required.as_array().unwrap().contains(&json!("public_key")),
        "{required}"
    );
    assert_eq!(form["ui_schema"]["secret_key"]["ui:widget"], "password");

    // Submitting the form's data as it is keeps the secret.
    let response = put_account(&app, &token, "paidy", &form["form_data"], Some(&account_etag)).await;
    assert_eq!(response.status(), 200);
    let account: Value = response.json().await.unwrap();
    assert_eq!(account["secret_key"]["set"], true);
    // A draft's form: the secret not stored is not required (the account is disabled).
    let draft = put_account(
        &app,
        &token,
        "paidy",
        &json!({"enabled": false, "secret_key": null}),
        None,
    )
    .await;
    assert_eq!(draft.status(), 200);
    let (_, form, _) = form_of(&app, &token, "paidy").await;
    assert_eq!(form["form_data"], json!({"enabled": false}));
    let required = &form["fields_schema"]["allOf"][0]["then"]["required"];
    assert!(
        required.as_array().unwrap().contains(&json!("secret_key")),
        "{required}"
    );
}

async fn every_saved_accounts_form_data_validates_and_put_accepts_it_with_the_etag(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.token("shop-a", &["accounts:read", "accounts:write"]).await;
    let pki = Pki::new("form.renkei.test");
    for spec in ALL.iter().filter(|s| s.slug != "amazon-pay-v2") {
        // The ten-key pad needs a card method to be enabled (a rule across accounts).
        let body = if spec.slug == "remise-tenkey" {
            json!({"enabled": false, "port": 8080})
        } else {
            Value::Object(valid_body(spec, &pki))
        };
        let saved = put_account(&app, &token, spec.slug, &body, None).await;
        assert!(
            saved.status().is_success(),
            "{}: {}",
            spec.slug,
            saved.text().await.unwrap()
        );
        let (status, form, _) = form_of(&app, &token, spec.slug).await;
        assert_eq!(status, 200, "{}: {form}", spec.slug);
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&form["fields_schema"])
            .unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&form["form_data"])
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: form_data is not valid: {errors:?}", spec.slug);
        let etag = form["etag"].as_str().unwrap();
        let response = put_account(&app, &token, spec.slug, &form["form_data"], Some(etag)).await;
        let status = response.status();
        assert_eq!(status, 200, "{}: {}", spec.slug, response.text().await.unwrap());
        let account: Value = response.json().await.unwrap();
        for field in spec.fields.iter().filter(|f| f.secret && f.is_writable()) {
            let sent = body.get(field.name).is_some_and(|v| !v.is_null());
            assert_eq!(account[field.name]["set"], sent, "{}.{} kept", spec.slug, field.name);
        }
        // Another ETag does not match.
        let stale = put_account(&app, &token, spec.slug, &form["form_data"], Some("\"0-0\"")).await;
        assert_eq!(stale.status(), 412, "{}", spec.slug);
    }
}

async fn a_form_of_an_unconfigured_or_another_shops_account_is_404_and_needs_accounts_read(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.token("shop-a", &["accounts:read", "accounts:write"]).await;
    let (status, problem, _) = form_of(&app, &token, "paidy").await;
    assert_eq!(status, 404, "{problem}");
    let (status, _, _) = form_of(&app, &token, "nope").await;
    assert_eq!(status, 404);
    let draft = put_account(&app, &token, "paidy", &json!({"enabled": false}), None).await;
    assert_eq!(draft.status(), 201);
    let other = app.token("shop-b", &["accounts:read"]).await;
    let (status, _, _) = form_of(&app, &other, "paidy").await;
    assert_eq!(status, 404);
    let unscoped = app.token("shop-a", &["audit:read"]).await;
    let (status, _, _) = form_of(&app, &unscoped, "paidy").await;
    assert_eq!(status, 403);
}
