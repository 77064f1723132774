//! If-Match in the order of RFC 9110 §13.2: what would be a 404 is a 404, a malformed
//! If-Match is a 400, and only then does a stale entity tag (or an empty list of them)
//! give 412.

use serde_json::json;

use crate::on_both_databases;
use crate::support::{Backend, assert_problem, session::session};

on_both_databases!(
    if_match_on_a_missing_account_or_method_is_404,
    a_malformed_if_match_is_400,
    a_stale_if_match_on_an_existing_resource_is_412,
);

async fn if_match_on_a_missing_account_or_method_is_404(backend: Backend) {
    let s = session(backend).await;
    for (method, path) in [
        (reqwest::Method::PATCH, "/api/v1/provider-accounts/zeus"),
        (reqwest::Method::DELETE, "/api/v1/provider-accounts/zeus"),
        (reqwest::Method::PATCH, "/api/v1/payment-methods/none"),
        (reqwest::Method::DELETE, "/api/v1/payment-methods/none"),
    ] {
        let response = s
            .request(method.clone(), path)
            .header("if-match", "\"1-1\"")
            .json(&json!({"display_name": "x"}))
            .send()
            .await
            .unwrap();
        assert_problem(response, 404).await;
    }
}

async fn a_malformed_if_match_is_400(backend: Backend) {
    let s = session(backend).await;
    s.configure("zeus").await;
    for value in ["garbage", "\"open", "0"] {
        let response = s
            .request(reqwest::Method::DELETE, "/api/v1/provider-accounts/zeus")
            .header("if-match", value)
            .send()
            .await
            .unwrap();
        assert_problem(response, 400).await;
    }
    let account = s.get_json("/api/v1/provider-accounts/zeus").await;
    assert_eq!(account["provider"], "zeus", "nothing was deleted");
}

async fn a_stale_if_match_on_an_existing_resource_is_412(backend: Backend) {
    let s = session(backend).await;
    s.configure("zeus").await;
    // An empty list of entity tags is well-formed (RFC 9110 #rule) and matches nothing.
    for value in ["\"0-0\"", ""] {
        let response = s
            .request(reqwest::Method::DELETE, "/api/v1/provider-accounts/zeus")
            .header("if-match", value)
            .send()
            .await
            .unwrap();
        assert_problem(response, 412).await;
    }
    assert_eq!(s.get_json("/api/v1/provider-accounts/zeus").await["provider"], "zeus");
}
