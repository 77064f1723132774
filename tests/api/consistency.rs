//! Settings that cannot contradict each other: each rule refuses the contradiction, and
//! the consistent path works — read back from the account and from checkout.

use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{
    Backend, assert_problem,
    session::{Session, ok_json, session},
};

on_both_databases!(
    a_new_paypal_merchant_id_unlinks_the_account,
    the_same_paypal_merchant_id_keeps_the_link,
    a_deferred_method_on_veritrans_needs_deferred_payment_enabled,
    deferred_payment_cannot_be_switched_off_under_an_enabled_deferred_method,
    a_deferred_method_gets_no_card_parameters_at_checkout,
    the_epos_banner_shows_only_while_epos_is_enabled,
    mail_links_show_only_while_the_account_is_enabled,
    the_card_method_of_an_enabled_pad_cannot_be_disabled_deleted_or_moved,
    the_card_method_can_change_once_the_pad_is_disabled,
);

const VERITRANS: &str = "/api/v1/provider-accounts/veritrans";

fn method(kind: &str, provider: Option<&str>) -> Value {
    json!({"kind": kind, "provider": provider, "display_name": format!("{kind} method")})
}

async fn method_ok(s: &Session, code: &str, body: Value) -> Value {
    let response = s.put_json(&format!("/api/v1/payment-methods/{code}"), &body).await;
    ok_json(response, &format!("PUT method {code}")).await
}

/// The checkout entry of method `code` on the shop front, if offered.
async fn checkout_method(s: &Session, code: &str) -> Option<Value> {
    s.checkout("channel=shop").await["payment_methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["code"] == code)
        .cloned()
}

async fn linked_paypal(s: &Session) -> Value {
    s.configure("paypal").await;
    let response = s.post_json("/api/v1/provider-accounts/paypal/link", &json!({})).await;
    let linked = ok_json(response, "link paypal").await;
    assert_eq!(linked["link_status"], "linked");
    linked
}

async fn a_new_paypal_merchant_id_unlinks_the_account(backend: Backend) {
    let s = session(backend).await;
    linked_paypal(&s).await;
    let response = s
        .patch_json(
            "/api/v1/provider-accounts/paypal",
            &json!({"seller_merchant_id": "ABCDEFGHJKLMN"}),
        )
        .await;
    let changed = ok_json(response, "patch paypal").await;
    assert_eq!(changed["link_status"], "unlinked");
    let shown = s.get_json("/api/v1/provider-accounts/paypal").await;
    assert_eq!(shown["link_status"], "unlinked");
    assert_eq!(shown["seller_merchant_id"], "ABCDEFGHJKLMN");
}

async fn the_same_paypal_merchant_id_keeps_the_link(backend: Backend) {
    let s = session(backend).await;
    let linked = linked_paypal(&s).await;
    let same = json!({"seller_merchant_id": linked["seller_merchant_id"], "sandbox": false});
    let changed = ok_json(s.patch_json("/api/v1/provider-accounts/paypal", &same).await, "patch").await;
    assert_eq!(changed["link_status"], "linked");
    assert_eq!(
        s.get_json("/api/v1/provider-accounts/paypal").await["link_status"],
        "linked"
    );
}

async fn a_deferred_method_on_veritrans_needs_deferred_payment_enabled(backend: Backend) {
    let s = session(backend).await;
    let mut account = s.valid_account("veritrans");
    account.insert("deferred_payment_enabled".into(), false.into());
    s.configure_with("veritrans", &Value::Object(account)).await;

    let response = s
        .put_json(
            "/api/v1/payment-methods/atobarai",
            &method("deferred", Some("veritrans")),
        )
        .await;
    let problem = assert_problem(response, 422).await;
    assert_eq!(problem["errors"][0]["field"], "enabled");
    assert_eq!(problem["errors"][0]["code"], "deferred_payment_disabled");
    assert!(checkout_method(&s, "atobarai").await.is_none());

    let on = json!({"deferred_payment_enabled": true});
    ok_json(s.patch_json(VERITRANS, &on).await, "switch 後払い on").await;
    method_ok(&s, "atobarai", method("deferred", Some("veritrans"))).await;
    let offered = checkout_method(&s, "atobarai").await.expect("offered at checkout");
    assert_eq!(offered["kind"], "deferred");
}

async fn deferred_payment_cannot_be_switched_off_under_an_enabled_deferred_method(backend: Backend) {
    let s = session(backend).await;
    let mut account = s.valid_account("veritrans");
    account.insert("deferred_payment_enabled".into(), true.into());
    s.configure_with("veritrans", &Value::Object(account)).await;
    method_ok(&s, "atobarai", method("deferred", Some("veritrans"))).await;

    let off = json!({"deferred_payment_enabled": false});
    let problem = assert_problem(s.patch_json(VERITRANS, &off).await, 409).await;
    assert!(problem["detail"].as_str().unwrap().contains("atobarai"), "{problem}");
    assert_eq!(s.get_json(VERITRANS).await["deferred_payment_enabled"], true);
    assert!(checkout_method(&s, "atobarai").await.is_some());

    // The consistent path: disable the method first, then 後払い.
    let mut disabled = method("deferred", Some("veritrans"));
    disabled["enabled"] = json!(false);
    method_ok(&s, "atobarai", disabled).await;
    let switched = ok_json(s.patch_json(VERITRANS, &off).await, "switch 後払い off").await;
    assert_eq!(switched["deferred_payment_enabled"], false);
    assert!(checkout_method(&s, "atobarai").await.is_none());
}

async fn a_deferred_method_gets_no_card_parameters_at_checkout(backend: Backend) {
    let s = session(backend).await;
    let mut account = s.valid_account("veritrans");
    account.insert("deferred_payment_enabled".into(), true.into());
    account.insert("security_code_required".into(), true.into());
    s.configure_with("veritrans", &Value::Object(account.clone())).await;
    method_ok(&s, "card", method("credit_card", Some("veritrans"))).await;
    method_ok(&s, "atobarai", method("deferred", Some("veritrans"))).await;

    let card = checkout_method(&s, "card").await.unwrap();
    assert_eq!(card["token_api_key"], account["token_api_key"]);
    assert_eq!(card["security_code_required"], true);
    let deferred = checkout_method(&s, "atobarai").await.unwrap();
    assert!(deferred.get("token_api_key").is_none(), "{deferred}");
    assert!(deferred.get("security_code_required").is_none(), "{deferred}");
}

async fn the_epos_banner_shows_only_while_epos_is_enabled(backend: Backend) {
    let s = session(backend).await;
    let mut account = s.valid_account("gmo-pg");
    account.insert("epos_enabled".into(), false.into());
    let shown = s.configure_with("gmo-pg", &Value::Object(account)).await;
    assert_eq!(shown["epos_banner_url"], Value::Null);
    method_ok(&s, "card", method("credit_card", Some("gmo-pg"))).await;
    assert!(
        checkout_method(&s, "card")
            .await
            .unwrap()
            .get("epos_banner_url")
            .is_none()
    );

    let on = json!({"auto_card_update": true, "epos_enabled": true});
    let shown = ok_json(s.patch_json("/api/v1/provider-accounts/gmo-pg", &on).await, "EPOS on").await;
    let url = shown["epos_banner_url"]
        .as_str()
        .expect("a banner URL while EPOS is on");
    let card = checkout_method(&s, "card").await.unwrap();
    assert_eq!(card["epos_banner_url"], url);
    assert_eq!(card["epos_enabled"], true);
}

async fn mail_links_show_only_while_the_account_is_enabled(backend: Backend) {
    let s = session(backend).await;
    for slug in ["relation", "maildealer"] {
        let path = format!("/api/v1/provider-accounts/{slug}");
        let mut account = s.valid_account(slug);
        account.insert("enabled".into(), true.into());
        let shown = s.configure_with(slug, &Value::Object(account)).await;
        assert!(shown["timeline_base_url"].is_string(), "{slug}: {shown}");
        let off = ok_json(s.patch_json(&path, &json!({"enabled": false})).await, "disable").await;
        assert_eq!(off["timeline_base_url"], Value::Null, "{slug}");
        assert_eq!(s.get_json(&path).await["timeline_base_url"], Value::Null, "{slug}");
    }
}

/// A Zeus card method with the ten-key pad enabled beside it.
async fn card_with_pad(s: &Session) {
    s.configure("zeus").await;
    s.configure("yamato").await;
    method_ok(s, "card", method("credit_card", Some("zeus"))).await;
    let pad = json!({"port": 4000, "holder_name_fixed": "TARO YAMADA"});
    s.configure_with("remise-tenkey", &pad).await;
    let card = checkout_method(s, "card").await.unwrap();
    assert_eq!(card["remise_tenkey"]["port"], 4000);
}

async fn the_card_method_of_an_enabled_pad_cannot_be_disabled_deleted_or_moved(backend: Backend) {
    let s = session(backend).await;
    card_with_pad(&s).await;
    let mut disabled = method("credit_card", Some("zeus"));
    disabled["enabled"] = json!(false);
    let moved = method("credit_card", Some("yamato"));
    for (what, response) in [
        ("disable", s.put_json("/api/v1/payment-methods/card", &disabled).await),
        ("move", s.put_json("/api/v1/payment-methods/card", &moved).await),
        (
            "delete",
            s.request(reqwest::Method::DELETE, "/api/v1/payment-methods/card")
                .send()
                .await
                .unwrap(),
        ),
    ] {
        let problem = assert_problem(response, 409).await;
        assert!(
            problem["detail"].as_str().unwrap().contains("remise-tenkey"),
            "{what}: {problem}"
        );
    }
    let card = checkout_method(&s, "card").await.expect("the card method stays");
    assert_eq!(card["provider"], "zeus");
    assert_eq!(card["remise_tenkey"]["holder_name_fixed"], "TARO YAMADA");
}

async fn the_card_method_can_change_once_the_pad_is_disabled(backend: Backend) {
    let s = session(backend).await;
    card_with_pad(&s).await;
    let off = json!({"enabled": false, "holder_name_fixed": null});
    let pad = s.patch_json("/api/v1/provider-accounts/remise-tenkey", &off).await;
    ok_json(pad, "disable the pad").await;
    let card = method_ok(&s, "card", method("credit_card", Some("yamato"))).await;
    assert_eq!(card["provider"], "yamato");
    let offered = checkout_method(&s, "card").await.unwrap();
    assert_eq!(offered["provider"], "yamato");
    assert!(offered.get("remise_tenkey").is_none(), "{offered}");
}
