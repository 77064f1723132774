//! The committed `openapi/openapi.json` is exactly what the server serves, and it is a
//! complete OpenAPI 3.1 description of the API.

use serde_json::Value;

use crate::support::{Backend, spawn_app};

const COMMITTED: &str = include_str!("../../openapi/openapi.json");

#[tokio::test]
async fn the_committed_document_is_what_the_server_serves() {
    let app = spawn_app(Backend::Sqlite).await;
    let served = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        served == COMMITTED,
        "openapi/openapi.json is out of date; regenerate it with: cargo run -- openapi > openapi/openapi.json"
    );
}

#[test]
fn the_committed_document_is_the_one_the_routes_describe() {
    let generated = renkei::http::openapi::document_json(&renkei::http::document());
    assert!(
        generated == COMMITTED,
        "openapi/openapi.json is out of date; regenerate it with: cargo run -- openapi > openapi/openapi.json"
    );
}

#[test]
fn the_document_is_openapi_3_1_with_bearer_security() {
    let doc: Value = serde_json::from_str(COMMITTED).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
}

#[test]
fn every_api_operation_declares_its_scope_and_its_errors_as_problems() {
    let doc: Value = serde_json::from_str(COMMITTED).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let name = format!("{} {path}", method.to_uppercase());
            let responses = operation["responses"].as_object().unwrap();
            if path.starts_with("/api/v1/") && path != "/api/v1/auth/token" {
                let security = &operation["security"][0]["bearer"];
                assert!(
                    security.as_array().is_some_and(|s| s.len() == 1),
                    "{name} declares no scope"
                );
                for status in ["401", "403"] {
                    assert!(responses.contains_key(status), "{name} does not document {status}");
                }
            }
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let content = response["content"].as_object().unwrap();
                    assert!(
                        content.contains_key("application/problem+json"),
                        "{name} {status} is not problem+json"
                    );
                }
            }
            assert!(operation["summary"].is_string(), "{name} has no summary");
        }
    }
}
