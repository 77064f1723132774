//! Payment methods, their rules, the checkout configuration and densan
//! transaction ids.

use std::collections::HashSet;

use renkei::payment_methods::Kind;
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{
    Backend, PATIENCE,
    accounts::secret_values,
    assert_problem, error_fields, eventually,
    session::{Session, session},
};

on_both_databases!(
    a_method_is_created_read_listed_and_deleted,
    the_provider_must_fit_the_kind,
    enabling_needs_a_configured_and_enabled_provider_account,
    a_shop_has_at_most_one_enabled_credit_card_method,
    carriers_are_only_for_carrier_billing,
    an_account_in_use_cannot_be_disabled_or_deleted,
    remise_tenkey_needs_a_supported_card_provider_and_zeus_for_a_fixed_name,
    checkout_config_lists_the_channels_methods_in_order_with_public_params_only,
    checkout_config_leaves_paidy_out_when_the_confirmation_page_is_skipped,
    transaction_ids_are_17_digits_unique_and_start_with_the_unique_code,
    transaction_ids_need_an_enabled_densan_convenience_method,
    methods_of_another_shop_are_not_found,
    patch_merges_and_if_match_guards_changes,
    checkout_config_follows_changes_made_on_another_replica,
    the_create_schema_and_the_server_agree_on_which_providers_fit_each_kind,
    the_replace_schema_and_the_server_agree_on_which_providers_fit_each_kind,
    the_patch_schema_and_the_server_agree_on_which_providers_fit_each_kind,
    a_blank_provider_is_refused_by_the_server_and_the_schemas,
    a_patch_of_one_field_is_valid_against_its_schema_and_accepted,
);

async fn checkout_config_follows_changes_made_on_another_replica(backend: Backend) {
    let s = session(backend).await;
    s.configure("paidy").await;
    s.method_ok("paidy", method("wallet", Some("paidy"))).await;
    s.method_ok("bank", method("bank_transfer", None)).await;
    let codes = |config: &Value| -> Vec<String> {
        config["payment_methods"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["code"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(codes(&s.checkout("channel=shop").await), ["paidy", "bank"]);
    assert_eq!(
        codes(&s.checkout("channel=shop").await),
        ["paidy", "bank"],
        "served from the cache"
    );
    let replica = s.app.sibling(|_| {}).await;
    let changed = replica
        .http
        .patch(replica.url("/api/v1/payment-methods/bank"))
        .bearer_auth(&s.token)
        .json(&json!({"position": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    // Another replica's change shows once this replica's view is older than the TTL.
    let (s, codes) = (&s, &codes);
    eventually("the other replica's new order of methods", PATIENCE, || async move {
        (codes(&s.checkout("channel=shop").await) == ["bank", "paidy"]).then_some(())
    })
    .await;
    let account = replica
        .http
        .patch(replica.url("/api/v1/provider-accounts/paidy"))
        .bearer_auth(&s.token)
        .json(&json!({"modal_page": "confirm"}))
        .send()
        .await
        .unwrap();
    assert_eq!(account.status(), 200);
    eventually("the other replica's paidy modal page", PATIENCE, || async move {
        let config = s.checkout("channel=shop").await;
        (config["payment_methods"][1]["modal_page"] == "confirm").then_some(())
    })
    .await;
}

impl Session {
    async fn put_method(&self, code: &str, body: Value) -> reqwest::Response {
        self.request(reqwest::Method::PUT, &format!("/api/v1/payment-methods/{code}"))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn method_ok(&self, code: &str, body: Value) -> Value {
        let response = self.put_method(code, body).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{code}: {status} {text}");
        serde_json::from_str(&text).unwrap()
    }
}

fn method(kind: &str, provider: Option<&str>) -> Value {
    json!({"kind": kind, "provider": provider, "display_name": format!("{kind} method")})
}

async fn a_method_is_created_read_listed_and_deleted(backend: Backend) {
    let s = session(backend).await;
    s.configure("gmo-pg").await;
    let mut body = method("credit_card", Some("gmo-pg"));
    body["code"] = json!("card");
    body["oplux_screening"] = json!(true);
    let created = s
        .request(reqwest::Method::POST, "/api/v1/payment-methods")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["location"], "/api/v1/payment-methods/card");
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["enabled"], true);
    assert_eq!(created["available_in"], json!(["lp", "shop", "admin_order"]));
    assert_eq!(created["oplux_screening"], true);
    assert_eq!(created["thanks_offer_immediate_settlement"], false);
    assert_eq!(created["position"], 1);
    assert!(created["carriers"].is_null());
    let again = s
        .request(reqwest::Method::POST, "/api/v1/payment-methods")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_problem(again, 409).await;
    let cod = s.method_ok("cod", method("cash_on_delivery", None)).await;
    assert_eq!(cod["position"], 2);
    let read: Value = s
        .request(reqwest::Method::GET, "/api/v1/payment-methods/card")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["provider"], "gmo-pg");
    let page: Value = s
        .request(reqwest::Method::GET, "/api/v1/payment-methods?limit=1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"][0]["code"], "card");
    let cursor = page["next_cursor"].as_str().unwrap();
    let next: Value = s
        .request(
            reqwest::Method::GET,
            &format!("/api/v1/payment-methods?limit=1&cursor={cursor}"),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(next["items"][0]["code"], "cod");
    assert!(next["next_cursor"].is_null());
    let deleted = s
        .request(reqwest::Method::DELETE, "/api/v1/payment-methods/cod")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_problem(
        s.request(reqwest::Method::GET, "/api/v1/payment-methods/cod")
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    let events: Value = s
        .request(reqwest::Method::GET, "/api/v1/audit-events")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(events["items"][0]["resource_type"], "payment_method");
    assert_eq!(events["items"][0]["action"], "delete");
    assert_eq!(events["items"][1]["action"], "create");
    assert_eq!(events["items"][1]["resource_id"], "cod");
    let bad_code = s.put_method("Not A Slug", method("bank_transfer", None)).await;
    assert_eq!(error_fields(&assert_problem(bad_code, 422).await), ["code"]);
}

async fn the_provider_must_fit_the_kind(backend: Backend) {
    let s = session(backend).await;
    for (kind, provider, field) in [
        ("credit_card", Some("paidy"), "provider"),
        ("deferred", Some("gmo-pg"), "provider"),
        ("wallet", Some("densan"), "provider"),
        ("convenience_postpay", Some("np-atobarai"), "provider"),
        ("carrier", Some("sbps"), "provider"),
        ("credit_card", None, "provider"),
        ("bank_transfer", Some("gmo-pg"), "provider"),
        ("credit_card", Some("no-such-provider"), "provider"),
        ("cheque", None, "kind"),
    ] {
        let mut body = method(kind, provider);
        body["enabled"] = json!(false);
        let problem = assert_problem(s.put_method("m", body).await, 422).await;
        assert_eq!(error_fields(&problem), [field], "{kind} on {provider:?}");
        assert!(problem["errors"][0]["message"].as_str().unwrap().len() > 10);
    }
    let mut veritrans_deferred = method("deferred", Some("veritrans"));
    veritrans_deferred["enabled"] = json!(false);
    assert_eq!(s.put_method("m", veritrans_deferred).await.status(), 201);
}

/// Each provider slug, null, a blank provider and no provider (`None`: left out).
fn provider_options() -> Vec<Option<Value>> {
    renkei::accounts::ALL
        .iter()
        .map(|p| Some(json!(p.slug)))
        .chain([Some(Value::Null), Some(json!("")), Some(json!("  ")), None])
        .collect()
}

/// For every kind and each of `providers`: a body the server accepts (`method` on the path
/// `target` gives, with the body it gives and the provider) is valid against the served
/// body schema of `method` `template`, and one it refuses, for its provider only, is not;
/// the server accepts some and refuses some of each kind's.
async fn the_schema_and_the_server_agree_on_providers(
    s: &Session,
    method: reqwest::Method,
    template: &str,
    providers: &[Option<Value>],
    target: impl Fn(Kind, usize) -> (String, Value),
) {
    let schema = s.app.request_body_schema(method.as_str(), template).await;
    let mut disagreements = Vec::new();
    for kind in Kind::ALL {
        let (mut accepted, mut refused) = (0, 0);
        for (i, provider) in providers.iter().enumerate() {
            let (path, mut body) = target(kind, i);
            if let Some(provider) = provider {
                body["provider"] = provider.clone();
            }
            let response = s.request(method.clone(), &path).json(&body).send().await.unwrap();
            let server = match response.status().as_u16() {
                200 | 201 => true,
                422 => {
                    let problem: Value = response.json().await.unwrap();
                    assert_eq!(error_fields(&problem), ["provider"], "{method} {body}: {problem}");
                    false
                }
                other => panic!("{method} {body}: unexpected {other}"),
            };
            if server {
                accepted += 1;
            } else {
                refused += 1;
            }
            if schema.is_valid(&body) != server {
                let (verdict, schema_verdict) = if server {
                    ("accepts", "refuses")
                } else {
                    ("refuses", "allows")
                };
                disagreements.push(format!(
                    "{method} {body}: the server {verdict} it, the schema {schema_verdict} it"
                ));
            }
        }
        assert!(
            accepted > 0 && refused > 0,
            "{method} {}: {accepted} accepted, {refused} refused",
            kind.as_str()
        );
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

/// For every kind, each provider slug, null, a blank one and none: a create body the
/// server accepts is valid against the served create-body schema, and one it refuses for
/// its provider is not.
async fn the_create_schema_and_the_server_agree_on_which_providers_fit_each_kind(backend: Backend) {
    let s = session(backend).await;
    let target = |kind: Kind, i: usize| {
        let code = format!("{}-{i}", kind.as_str());
        let body = json!({"code": code, "kind": kind.as_str(), "display_name": "m", "enabled": false});
        ("/api/v1/payment-methods".to_string(), body)
    };
    the_schema_and_the_server_agree_on_providers(
        &s,
        reqwest::Method::POST,
        "/api/v1/payment-methods",
        &provider_options(),
        target,
    )
    .await;
}

/// The same for PUT, which checks its body alone (it does not merge with a stored
/// method): new methods and replaced ones alike.
async fn the_replace_schema_and_the_server_agree_on_which_providers_fit_each_kind(backend: Backend) {
    let s = session(backend).await;
    s.method_ok("stored", method("bank_transfer", None)).await;
    let target = |kind: Kind, i: usize| {
        // Every other body replaces the stored method, the others create one.
        let code = if i % 2 == 0 {
            "stored".to_string()
        } else {
            format!("{}-{i}", kind.as_str())
        };
        let body = json!({"kind": kind.as_str(), "display_name": "m", "enabled": false});
        (format!("/api/v1/payment-methods/{code}"), body)
    };
    the_schema_and_the_server_agree_on_providers(
        &s,
        reqwest::Method::PUT,
        "/api/v1/payment-methods/{code}",
        &provider_options(),
        target,
    )
    .await;
}

/// The same for a PATCH that sends the kind and the provider (one it leaves out comes from
/// the stored method, which the schema cannot know).
async fn the_patch_schema_and_the_server_agree_on_which_providers_fit_each_kind(backend: Backend) {
    let s = session(backend).await;
    s.method_ok("stored", method("bank_transfer", None)).await;
    let sent: Vec<Option<Value>> = provider_options().into_iter().filter(Option::is_some).collect();
    let target = |kind: Kind, _: usize| {
        // carriers: null resets them (a carrier method's are kept by a merge otherwise).
        let body = json!({"kind": kind.as_str(), "enabled": false, "carriers": null});
        ("/api/v1/payment-methods/stored".to_string(), body)
    };
    the_schema_and_the_server_agree_on_providers(
        &s,
        reqwest::Method::PATCH,
        "/api/v1/payment-methods/{code}",
        &sent,
        target,
    )
    .await;
}

/// A blank provider (empty or spaces) is not "no provider": the server refuses it with a
/// 422 on `provider` that says what the kind takes, and every body schema refuses it.
async fn a_blank_provider_is_refused_by_the_server_and_the_schemas(backend: Backend) {
    let s = session(backend).await;
    s.method_ok("stored", method("bank_transfer", None)).await;
    let create = s.app.request_body_schema("POST", "/api/v1/payment-methods").await;
    let replace = s.app.request_body_schema("PUT", "/api/v1/payment-methods/{code}").await;
    let patch = s
        .app
        .request_body_schema("PATCH", "/api/v1/payment-methods/{code}")
        .await;
    for kind in Kind::ALL {
        let providers = renkei::payment_methods::providers_of(kind);
        let expected = if providers.is_empty() {
            format!("a {} method takes no provider (null or absent)", kind.as_str())
        } else {
            format!("a {} method takes one of {}", kind.as_str(), providers.join(", "))
        };
        for blank in ["", "  "] {
            let mut body = json!({"kind": kind.as_str(), "provider": blank, "display_name": "m", "enabled": false});
            let mut requests = vec![
                (
                    &replace,
                    reqwest::Method::PUT,
                    "/api/v1/payment-methods/new".to_string(),
                    body.clone(),
                ),
                (
                    &patch,
                    reqwest::Method::PATCH,
                    "/api/v1/payment-methods/stored".to_string(),
                    body.clone(),
                ),
                (
                    &patch,
                    reqwest::Method::PATCH,
                    "/api/v1/payment-methods/stored".to_string(),
                    json!({"provider": blank}),
                ),
            ];
            body["code"] = json!("new");
            requests.push((
                &create,
                reqwest::Method::POST,
                "/api/v1/payment-methods".to_string(),
                body,
            ));
            for (schema, method, path, body) in requests {
                assert!(!schema.is_valid(&body), "{method} {body} is valid against its schema");
                let response = s.request(method.clone(), &path).json(&body).send().await.unwrap();
                let problem = assert_problem(response, 422).await;
                assert_eq!(error_fields(&problem), ["provider"], "{method} {body}: {problem}");
                let message = problem["errors"][0]["message"].as_str().unwrap();
                let expected = if body.get("kind").is_some() {
                    expected.clone()
                } else {
                    // The stored method is a bank transfer.
                    "a bank_transfer method takes no provider (null or absent)".to_string()
                };
                assert!(message.contains(&expected), "{method} {body}: {message}");
            }
        }
    }
    let new = s
        .request(reqwest::Method::GET, "/api/v1/payment-methods/new")
        .send()
        .await
        .unwrap();
    assert_eq!(
        new.status(),
        404,
        "a PUT or POST with a blank provider created the method"
    );
}

/// A merge patch of one field is valid against the served PATCH schema (for both content
/// types the server takes) and accepted, while the PUT schema, which needs the whole
/// method, refuses it as the server does.
async fn a_patch_of_one_field_is_valid_against_its_schema_and_accepted(backend: Backend) {
    let s = session(backend).await;
    s.method_ok("bank", method("bank_transfer", None)).await;
    let template = "/api/v1/payment-methods/{code}";
    let patch = |content_type: &str, body: &Value| {
        s.request(reqwest::Method::PATCH, "/api/v1/payment-methods/bank")
            .header("content-type", content_type)
            .body(body.to_string())
            .send()
    };
    for content_type in ["application/json", "application/merge-patch+json"] {
        let schema = s.app.request_body_schema_of("PATCH", template, content_type).await;
        for body in [
            json!({"position": 0}),
            json!({}),
            json!({"provider": null, "enabled": null, "carriers": null}),
            json!({"code": "bank", "display_name": "振込"}),
        ] {
            assert!(
                schema.is_valid(&body),
                "{content_type} {body} is invalid against the PATCH schema"
            );
            let response = patch(content_type, &body).await.unwrap();
            let status = response.status();
            let text = response.text().await.unwrap();
            assert_eq!(status, 200, "{content_type} {body}: {text}");
        }
        for body in [
            json!({"kind": null}),
            json!({"display_name": null}),
            json!({"code": null}),
            json!({"position": -1}),
        ] {
            assert!(
                !schema.is_valid(&body),
                "{content_type} {body} is valid against the PATCH schema"
            );
            let response = patch(content_type, &body).await.unwrap();
            assert_problem(response, 422).await;
        }
    }
    let stored = s.get_json("/api/v1/payment-methods/bank").await;
    assert_eq!(stored["position"], 0);
    assert_eq!(stored["display_name"], "振込");
    let put = s.app.request_body_schema("PUT", template).await;
    assert!(!put.is_valid(&json!({"position": 0})));
    assert_problem(s.put_method("bank", json!({"position": 0})).await, 422).await;
}

async fn enabling_needs_a_configured_and_enabled_provider_account(backend: Backend) {
    let s = session(backend).await;
    let problem = assert_problem(s.put_method("paidy", method("wallet", Some("paidy"))).await, 422).await;
    assert_eq!(error_fields(&problem), ["enabled"]);
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not configured")
    );
    let mut draft = method("wallet", Some("paidy"));
    draft["enabled"] = json!(false);
    assert_eq!(s.put_method("paidy", draft).await.status(), 201);
    s.request(reqwest::Method::PUT, "/api/v1/provider-accounts/paidy")
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(
        s.request(reqwest::Method::PATCH, "/api/v1/payment-methods/paidy")
            .json(&json!({"enabled": true}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert!(problem["errors"][0]["message"].as_str().unwrap().contains("disabled"));
    s.configure("paidy").await;
    let enabled: Value = s
        .request(reqwest::Method::PATCH, "/api/v1/payment-methods/paidy")
        .json(&json!({"enabled": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(enabled["enabled"], true);
}

async fn a_shop_has_at_most_one_enabled_credit_card_method(backend: Backend) {
    let s = session(backend).await;
    s.configure("gmo-pg").await;
    s.configure("zeus").await;
    s.method_ok("card", method("credit_card", Some("gmo-pg"))).await;
    let problem = assert_problem(s.put_method("card2", method("credit_card", Some("zeus"))).await, 422).await;
    assert_eq!(error_fields(&problem), ["enabled"]);
    assert!(problem["errors"][0]["message"].as_str().unwrap().contains("'card'"));
    let mut second = method("credit_card", Some("zeus"));
    second["enabled"] = json!(false);
    assert_eq!(s.put_method("card2", second).await.status(), 201);
    s.request(reqwest::Method::PATCH, "/api/v1/payment-methods/card")
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    let switched = s
        .request(reqwest::Method::PATCH, "/api/v1/payment-methods/card2")
        .json(&json!({"enabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(switched.status(), 200);
}

async fn carriers_are_only_for_carrier_billing(backend: Backend) {
    let s = session(backend).await;
    s.configure("sbps-carrier").await;
    s.configure("gmo-pg").await;
    let carrier = s.method_ok("carrier", method("carrier", Some("sbps-carrier"))).await;
    assert_eq!(
        carrier["carriers"],
        json!({"docomo": true, "au": true, "softbank": true})
    );
    let mut some = method("carrier", Some("sbps-carrier"));
    some["carriers"] = json!({"docomo": true, "au": false, "softbank": false});
    assert_eq!(s.method_ok("carrier", some).await["carriers"]["au"], false);
    let mut card = method("credit_card", Some("gmo-pg"));
    card["carriers"] = json!({"docomo": true, "au": true, "softbank": true});
    let problem = assert_problem(s.put_method("card", card).await, 422).await;
    assert_eq!(error_fields(&problem), ["carriers"]);
    let mut partial = method("carrier", Some("sbps-carrier"));
    partial["carriers"] = json!({"docomo": true});
    let problem = assert_problem(s.put_method("carrier", partial).await, 422).await;
    assert_eq!(error_fields(&problem), ["carriers.au"]);
}

async fn an_account_in_use_cannot_be_disabled_or_deleted(backend: Backend) {
    let s = session(backend).await;
    s.configure("gmo-pg").await;
    s.method_ok("card", method("credit_card", Some("gmo-pg"))).await;
    let disable = s
        .request(reqwest::Method::PATCH, "/api/v1/provider-accounts/gmo-pg")
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(disable, 409).await;
    assert!(problem["detail"].as_str().unwrap().contains("card"));
    let delete = s
        .request(reqwest::Method::DELETE, "/api/v1/provider-accounts/gmo-pg")
        .send()
        .await
        .unwrap();
    assert_problem(delete, 409).await;
    // Once the method is disabled, the account can go.
    s.request(reqwest::Method::PATCH, "/api/v1/payment-methods/card")
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    let delete = s
        .request(reqwest::Method::DELETE, "/api/v1/provider-accounts/gmo-pg")
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 204);
    // Unlinking PayPal disables its account: refused while a method uses it.
    s.configure("paypal").await;
    s.method_ok("paypal", method("wallet", Some("paypal"))).await;
    s.request(reqwest::Method::POST, "/api/v1/provider-accounts/paypal/link")
        .send()
        .await
        .unwrap();
    let unlink = s
        .request(reqwest::Method::DELETE, "/api/v1/provider-accounts/paypal/link")
        .send()
        .await
        .unwrap();
    assert_problem(unlink, 409).await;
}

async fn remise_tenkey_needs_a_supported_card_provider_and_zeus_for_a_fixed_name(backend: Backend) {
    let s = session(backend).await;
    let pad = |body: Value| {
        s.request(reqwest::Method::PUT, "/api/v1/provider-accounts/remise-tenkey")
            .json(&body)
            .send()
    };
    let problem = assert_problem(pad(json!({"port": 4000})).await.unwrap(), 422).await;
    assert_eq!(error_fields(&problem), ["enabled"]);
    s.configure("yamato").await;
    s.method_ok("card", method("credit_card", Some("yamato"))).await;
    let problem = assert_problem(pad(json!({"port": 4000})).await.unwrap(), 422).await;
    assert!(problem["errors"][0]["message"].as_str().unwrap().contains("yamato"));

    s.configure("gmo-pg").await;
    s.method_ok("card", method("credit_card", Some("gmo-pg"))).await;
    assert_eq!(pad(json!({"port": 4000})).await.unwrap().status(), 201);
    let problem = assert_problem(
        pad(json!({"port": 4000, "holder_name_fixed": "TARO YAMADA"}))
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(error_fields(&problem), ["holder_name_fixed"]);

    s.configure("zeus").await;
    s.method_ok("card", method("credit_card", Some("zeus"))).await;
    assert_eq!(
        pad(json!({"port": 4000, "holder_name_fixed": "TARO YAMADA"}))
            .await
            .unwrap()
            .status(),
        200
    );
    // Now the card method cannot move to a provider that breaks the pad's settings.
    let problem = assert_problem(s.put_method("card", method("credit_card", Some("gmo-pg"))).await, 409).await;
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("remise-tenkey") && detail.contains("holder_name_fixed"),
        "{detail}"
    );
}

async fn checkout_config_lists_the_channels_methods_in_order_with_public_params_only(backend: Backend) {
    let s = session(backend).await;
    let mut stored_secrets = Vec::new();
    for slug in [
        "zeus",
        "paygent",
        "veritrans",
        "paidy",
        "amazon-pay-v1",
        "gmo-epsilon",
        "sbps-carrier",
        "densan",
    ] {
        let body = s.configure(slug).await;
        stored_secrets.extend(secret_values(renkei::accounts::find(slug).unwrap(), &body));
    }
    let zeus = s.configure("zeus").await;
    stored_secrets.extend(secret_values(renkei::accounts::find("zeus").unwrap(), &zeus));
    s.request(reqwest::Method::PUT, "/api/v1/provider-accounts/remise-tenkey")
        .json(&json!({"port": 4000, "holder_name_fixed": "TARO YAMADA"}))
        .send()
        .await
        .unwrap();
    let mut card = method("credit_card", Some("zeus"));
    card["position"] = json!(5);
    s.method_ok("card", card.clone()).await;
    s.request(reqwest::Method::PUT, "/api/v1/provider-accounts/remise-tenkey")
        .json(&json!({"port": 4000, "holder_name_fixed": "TARO YAMADA"}))
        .send()
        .await
        .unwrap();
    let mut paidy = method("wallet", Some("paidy"));
    paidy["position"] = json!(1);
    paidy["available_in"] = json!(["lp"]);
    s.method_ok("paidy", paidy).await;
    let mut amazon = method("wallet", Some("amazon-pay-v1"));
    amazon["position"] = json!(3);
    s.method_ok("amazon", amazon).await;
    let mut carrier = method("carrier", Some("sbps-carrier"));
    carrier["position"] = json!(4);
    carrier["available_in"] = json!(["shop"]);
    s.method_ok("carrier", carrier).await;
    let mut off = method("bank_transfer", None);
    off["enabled"] = json!(false);
    off["position"] = json!(2);
    s.method_ok("bank", off).await;
    let mut admin_only = method("cash_on_delivery", None);
    admin_only["available_in"] = json!(["admin_order"]);
    s.method_ok("cod", admin_only).await;

    let lp = s.checkout("channel=lp").await;
    assert_eq!(lp["channel"], "lp");
    let codes: Vec<&str> = lp["payment_methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["paidy", "amazon", "card"]);
    let methods = lp["payment_methods"].as_array().unwrap();
    assert!(methods[0]["public_key"].as_str().unwrap().starts_with("pk_"));
    assert!(methods[0]["modal_page"].is_string());
    assert!(methods[1]["furigana_field_enabled"].is_boolean());
    assert!(methods[2]["security_code_required"].is_boolean());
    assert_eq!(
        methods[2]["remise_tenkey"],
        json!({"port": 4000, "holder_name_fixed": "TARO YAMADA"})
    );
    assert_eq!(methods[2]["kind"], "credit_card");
    assert_eq!(methods[2]["provider"], "zeus");

    let shop = s.checkout("channel=shop").await;
    let codes: Vec<&str> = shop["payment_methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["amazon", "carrier", "card"]);
    assert_eq!(shop["payment_methods"][1]["carriers"]["docomo"], true);
    let admin = s.checkout("channel=admin_order").await;
    let codes: Vec<&str> = admin["payment_methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["amazon", "card", "cod"]);

    for config in [&lp, &shop, &admin] {
        let text = config.to_string();
        for secret in &stored_secrets {
            assert!(!text.contains(secret.trim()), "checkout-config shows a secret");
        }
    }
    let problem = assert_problem(
        s.request(reqwest::Method::GET, "/api/v1/checkout-config?channel=fax")
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(error_fields(&problem), ["channel"]);
    let problem = assert_problem(
        s.request(reqwest::Method::GET, "/api/v1/checkout-config")
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(error_fields(&problem), ["channel"]);
}

async fn checkout_config_leaves_paidy_out_when_the_confirmation_page_is_skipped(backend: Backend) {
    let s = session(backend).await;
    s.configure("paidy").await;
    s.method_ok("paidy", method("wallet", Some("paidy"))).await;
    s.method_ok("bank", method("bank_transfer", None)).await;
    let normal = s.checkout("channel=lp").await;
    assert_eq!(normal["payment_methods"].as_array().unwrap().len(), 2);
    let skipped = s.checkout("channel=lp&confirm_skip=true").await;
    let codes: Vec<&str> = skipped["payment_methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["bank"]);
    assert_eq!(
        s.checkout("channel=lp&confirm_skip=false").await["payment_methods"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

async fn transaction_ids_are_17_digits_unique_and_start_with_the_unique_code(backend: Backend) {
    let s = session(backend).await;
    let densan = s.configure("densan").await;
    let unique_code = densan["unique_code"].as_str().unwrap().to_string();
    s.method_ok("conveni", method("convenience_postpay", Some("densan")))
        .await;
    let url = s.app.url("/api/v1/payment-methods/conveni/transaction-ids");
    let mut ids = HashSet::new();
    const TOTAL: usize = 10_000;
    const CONCURRENCY: usize = 16;
    let mut pending = futures_util::stream::FuturesUnordered::new();
    use futures_util::StreamExt;
    let issue = || {
        let request = s.app.http.post(&url).bearer_auth(&s.token).send();
        async move {
            let response = request.await.unwrap();
            assert_eq!(response.status(), 201);
            let body: Value = response.json().await.unwrap();
            body["transaction_id"].as_str().unwrap().to_string()
        }
    };
    for _ in 0..CONCURRENCY {
        pending.push(issue());
    }
    let mut started = CONCURRENCY;
    while let Some(id) = pending.next().await {
        assert_eq!(id.len(), 17, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_digit()), "{id}");
        assert!(id.starts_with(&unique_code), "{id}");
        assert!(ids.insert(id.clone()), "{id} was issued twice");
        if started < TOTAL {
            pending.push(issue());
            started += 1;
        }
    }
    assert_eq!(ids.len(), TOTAL);
}

async fn transaction_ids_need_an_enabled_densan_convenience_method(backend: Backend) {
    let s = session(backend).await;
    let issue = |code: &'static str| {
        s.request(
            reqwest::Method::POST,
            &format!("/api/v1/payment-methods/{code}/transaction-ids"),
        )
        .send()
    };
    assert_problem(issue("nothing").await.unwrap(), 404).await;
    s.method_ok("bank", method("bank_transfer", None)).await;
    assert_problem(issue("bank").await.unwrap(), 409).await;
    s.configure("densan").await;
    let mut off = method("convenience_postpay", Some("densan"));
    off["enabled"] = json!(false);
    s.method_ok("conveni", off).await;
    assert_problem(issue("conveni").await.unwrap(), 409).await;
}

async fn methods_of_another_shop_are_not_found(backend: Backend) {
    let s = session(backend).await;
    s.method_ok("bank", method("bank_transfer", None)).await;
    let other = s
        .app
        .token("shop-b", &["payment-methods:read", "payment-methods:write"])
        .await;
    let url = s.app.url("/api/v1/payment-methods/bank");
    assert_problem(s.app.http.get(&url).bearer_auth(&other).send().await.unwrap(), 404).await;
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
    assert_problem(s.app.http.delete(&url).bearer_auth(&other).send().await.unwrap(), 404).await;
    let issue = s
        .app
        .http
        .post(s.app.url("/api/v1/payment-methods/bank/transaction-ids"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_problem(issue, 404).await;
    let list: Value = s
        .app
        .get("/api/v1/payment-methods", &other)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(list["items"].as_array().unwrap().is_empty());
    let config: Value = s
        .app
        .get("/api/v1/checkout-config?channel=lp", &other)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(config["payment_methods"].as_array().unwrap().is_empty());
}

async fn patch_merges_and_if_match_guards_changes(backend: Backend) {
    let s = session(backend).await;
    let created = s.put_method("bank", method("bank_transfer", None)).await;
    let etag = created.headers()["etag"].to_str().unwrap().to_string();
    let patched = s
        .request(reqwest::Method::PATCH, "/api/v1/payment-methods/bank")
        .header("if-match", &etag)
        .json(&json!({"display_name": "銀行振込", "available_in": ["shop"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let new_etag = patched.headers()["etag"].to_str().unwrap().to_string();
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(patched["display_name"], "銀行振込");
    assert_eq!(patched["available_in"], json!(["shop"]));
    assert_eq!(patched["kind"], "bank_transfer");
    let stale = s
        .request(reqwest::Method::PATCH, "/api/v1/payment-methods/bank")
        .header("if-match", &etag)
        .json(&json!({"display_name": "x"}))
        .send()
        .await
        .unwrap();
    assert_problem(stale, 412).await;
    let stale_delete = s
        .request(reqwest::Method::DELETE, "/api/v1/payment-methods/bank")
        .header("if-match", &etag)
        .send()
        .await
        .unwrap();
    assert_problem(stale_delete, 412).await;
    let renamed = s
        .request(reqwest::Method::PATCH, "/api/v1/payment-methods/bank")
        .header("if-match", &new_etag)
        .json(&json!({"code": "other"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_fields(&assert_problem(renamed, 422).await), ["code"]);
    let unknown = s
        .request(reqwest::Method::PATCH, "/api/v1/payment-methods/bank")
        .json(&json!({"colour": "red"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_fields(&assert_problem(unknown, 422).await), ["colour"]);
}

on_both_databases!(a_patch_naming_an_unknown_field_is_422_even_with_null);

/// A merge patch that names a field a payment method does not have is refused, also when
/// its value is null (a merge would drop it unseen), and the method is left as it was.
async fn a_patch_naming_an_unknown_field_is_422_even_with_null(backend: Backend) {
    let s = session(backend).await;
    s.put_method("bank", method("bank_transfer", None)).await;
    for body in [json!({"": null}), json!({"colour": null, "display_name": "振込"})] {
        let response = s
            .request(reqwest::Method::PATCH, "/api/v1/payment-methods/bank")
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, 422).await;
        let unknown = body.as_object().unwrap().keys().find(|k| *k != "display_name").unwrap();
        assert_eq!(error_fields(&problem), [unknown.as_str()], "{problem}");
    }
    let method = s.get_json("/api/v1/payment-methods/bank").await;
    assert_ne!(method["display_name"], "振込");
}
