//! The `renkei` binary: first start creates the demo client and prints it once; the
//! `clients` commands create, list and revoke; nothing secret reaches the log.

use std::{path::Path, time::Duration};

use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{
    Backend, TestDatabase,
    binary::{Server, command, scratch_dir},
};

on_both_databases!(
    first_start_prints_a_working_demo_client_once_and_logs_no_secret,
    clients_can_be_created_listed_and_revoked_from_the_command_line,
    keys_rotate_reseals_every_secret_under_the_first_key,
);

fn value_after(lines: &[String], label: &str) -> String {
    lines
        .iter()
        .find_map(|l| l.trim().strip_prefix(label))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("no '{label}' in {lines:?}"))
}

async fn first_start_prints_a_working_demo_client_once_and_logs_no_secret(backend: Backend) {
    let database = TestDatabase::new(backend);
    let dir = scratch_dir();
    let server = Server::start(&database, &dir.0);
    let lines = server.read_until("/api/v1/auth/token");
    let client_id = value_after(&lines, "client_id:");
    let client_secret = value_after(&lines, "client_secret:");
    let url = lines
        .iter()
        .find_map(|l| l.split_whitespace().find(|w| w.starts_with("http://127.0.0.1:")))
        .expect("the token URL is printed");
    let base = url.trim_end_matches("/api/v1/auth/token");

    renkei::crypto::install_tls_provider();
    let http = reqwest::Client::new();
    let token_request = |secret: &str| {
        http.post(format!("{base}/api/v1/auth/token")).json(&json!({
            "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret,
        }))
    };
    assert_eq!(token_request("rks_wrong-guess").send().await.unwrap().status(), 401);
    let body: Value = token_request(&client_secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = body["access_token"]
        .as_str()
        .expect("the demo client gets a token")
        .to_string();
    let scopes = body["scope"].as_str().unwrap();
    assert_eq!(
        scopes.split(' ').count(),
        renkei::auth::Scope::ALL.len(),
        "the demo client has every scope"
    );
    let events = http
        .get(format!("{base}/api/v1/audit-events"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    let log = server.stop();
    assert!(log.contains("request completed"), "the server logs requests");
    assert!(!log.contains(&client_secret), "the client secret is in the log");
    assert!(!log.contains(&token), "the access token is in the log");
    assert!(!log.contains("rks_wrong-guess"), "a guessed secret is in the log");

    // A second start finds the database in use and prints no credentials.
    let again = Server::start(&database, &dir.0);
    // Checking that nothing is printed: a bounded wait is all there is.
    std::thread::sleep(Duration::from_secs(2));
    let printed: Vec<String> = again.stdout.try_iter().collect();
    again.stop();
    assert!(printed.iter().all(|l| !l.contains("client_secret")), "{printed:?}");
}

fn run(database: &TestDatabase, dir: &Path, args: &[&str]) -> (bool, String, String) {
    let output = command(database, dir).args(args).output().expect("renkei runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn clients_can_be_created_listed_and_revoked_from_the_command_line(backend: Backend) {
    let database = TestDatabase::new(backend);
    let dir = scratch_dir();
    let (ok, stdout, stderr) = run(
        &database,
        &dir.0,
        &[
            "clients",
            "create",
            "--shop",
            "tokyo-store",
            "--scopes",
            "accounts:read,audit:read",
            "--name",
            "admin",
            "--json",
        ],
    );
    assert!(ok, "{stderr}");
    let created: Value = serde_json::from_str(stdout.trim()).expect("one JSON object on stdout");
    assert_eq!(created["shop"], "tokyo-store");
    assert_eq!(created["scopes"], json!(["accounts:read", "audit:read"]));
    let client_id = created["client_id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    assert!(!stderr.contains(secret));

    let (ok, listed, _) = run(&database, &dir.0, &["clients", "list", "--json"]);
    assert!(ok);
    let listed: Value = serde_json::from_str(listed.trim()).unwrap();
    assert_eq!(listed[0]["client_id"], client_id);
    assert!(listed[0]["revoked_at"].is_null());
    assert!(!listed.to_string().contains(secret));

    let (ok, _, stderr) = run(
        &database,
        &dir.0,
        &["clients", "create", "--shop", "x", "--scopes", "root"],
    );
    assert!(!ok);
    assert!(stderr.contains("--scopes") && stderr.contains("root"), "{stderr}");

    let (ok, _, _) = run(&database, &dir.0, &["clients", "revoke", client_id]);
    assert!(ok);
    let (_, listed, _) = run(
        &database,
        &dir.0,
        &["clients", "list", "--shop", "tokyo-store", "--json"],
    );
    let listed: Value = serde_json::from_str(listed.trim()).unwrap();
    assert!(listed[0]["revoked_at"].is_string());
    let (ok, _, stderr) = run(&database, &dir.0, &["clients", "revoke", "rkc_unknown"]);
    assert!(!ok && stderr.contains("rkc_unknown"));
}

async fn keys_rotate_reseals_every_secret_under_the_first_key(backend: Backend) {
    use base64::Engine;
    use renkei::{
        accounts::{engine::WriteMode, service::Accounts},
        config::DatabaseConfig,
        core::{Actor, Precondition, Secret},
    };
    let database = TestDatabase::new(backend);
    let dir = scratch_dir();
    let (ok, generated, _) = run(&database, &dir.0, &["keys", "generate", "--id", "k2"]);
    assert!(ok);
    let (id, key) = generated.trim().split_once(':').unwrap();
    assert_eq!(id, "k2");
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(key).unwrap().len(), 32);
    let old = base64::engine::general_purpose::STANDARD.encode([1u8; 32]);

    let db = renkei::store::connect(&DatabaseConfig {
        url: Secret::new(database.url.clone()),
        schema: database.schema.clone(),
        max_connections: 2,
        acquire_timeout: Duration::from_secs(5),
        sqlite_heap_mb: renkei::config::DEFAULT_SQLITE_HEAP_MB,
    })
    .await
    .unwrap();
    renkei::store::migrate(&db).await.unwrap();
    let k1 = crate::support::test_master_keys(&[("k1", 1)]);
    let accounts = Accounts {
        db: &db,
        keys: &k1,
        outbound: &Default::default(),
    };
    let actor = Actor::offline("shop-a", "cli");
    let body = json!({"merchant_code": "123456789", "password": "pw-one", "access_key": "key-two"});
    accounts
        .write(
            &actor,
            renkei::accounts::find("yamato").unwrap(),
            body.as_object().unwrap().clone(),
            WriteMode::Put,
            &Precondition::None,
        )
        .await
        .unwrap();

    let mut rotate = command(&database, &dir.0);
    rotate
        .args(["keys", "rotate"])
        .env("RENKEI_MASTER_KEY", format!("k2:{key},k1:{old}"));
    let output = rotate.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("re-sealed 2 secret(s) under key 'k2'"), "{stdout}");

    let k2 = renkei::crypto::seal::MasterKeys::new(vec![(
        "k2".into(),
        Secret::new(base64::engine::general_purpose::STANDARD.decode(key).unwrap()),
    )])
    .unwrap();
    let accounts = Accounts {
        db: &db,
        keys: &k2,
        outbound: &Default::default(),
    };
    let opened = accounts
        .open_secret("shop-a", renkei::accounts::find("yamato").unwrap(), "password")
        .await
        .unwrap();
    assert_eq!(opened.unwrap().expose(), "pw-one");
}
