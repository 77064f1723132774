//! SPEC 7, production mode: `RENKEI_ENV=production` refuses to start without its keys
//! (naming each missing one), never touches the development key file and creates no demo
//! client; a server reachable from other machines must say which mode it runs in.

use std::time::{Duration, Instant};

use base64::Engine;

use crate::on_both_databases;
use crate::support::{
    Backend, TestDatabase,
    binary::{command, scratch_dir},
};

on_both_databases!(
    production_without_keys_refuses_to_start_naming_every_missing_variable,
    every_configuration_error_is_reported_at_once,
    production_with_its_keys_writes_no_key_file_and_creates_no_demo_client,
    an_unset_mode_on_a_public_address_refuses_to_start,
);

fn key() -> String {
    base64::engine::general_purpose::STANDARD.encode(renkei::crypto::random_bytes::<32>())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn production_without_keys_refuses_to_start_naming_every_missing_variable(backend: Backend) {
    let database = TestDatabase::new(backend);
    let dir = scratch_dir();
    let output = command(&database, &dir.0)
        .arg("serve")
        .env("RENKEI_ENV", "production")
        .env("RENKEI_LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("RENKEI_MASTER_KEY") && stderr.contains("RENKEI_JWT_KEYS"),
        "{stderr}"
    );
    assert!(!dir.0.join(renkei::dev_keys::FILE_NAME).exists());
}

async fn every_configuration_error_is_reported_at_once(backend: Backend) {
    // SPEC 10: a short JWT key does not hide the missing master key (nor another bad value).
    let database = TestDatabase::new(backend);
    let dir = scratch_dir();
    let output = command(&database, &dir.0)
        .arg("serve")
        .env("RENKEI_ENV", "production")
        .env("RENKEI_LISTEN", "127.0.0.1:0")
        .env("RENKEI_JWT_KEYS", "j1:c2hvcnQ=")
        .env("RENKEI_LOG_FORMAT", "xml")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    for name in ["RENKEI_JWT_KEYS", "RENKEI_MASTER_KEY", "RENKEI_LOG_FORMAT"] {
        assert!(stderr.contains(name), "{name} is not named: {stderr}");
    }
    assert!(!stderr.contains("c2hvcnQ"), "a key is never printed: {stderr}");
}

async fn production_with_its_keys_writes_no_key_file_and_creates_no_demo_client(backend: Backend) {
    let database = TestDatabase::new(backend);
    let dir = scratch_dir();
    let port = free_port();
    let (master, jwt) = (format!("m1:{}", key()), format!("j1:{}", key()));
    let mut child = command(&database, &dir.0)
        .arg("serve")
        .env("RENKEI_ENV", "production")
        .env("RENKEI_LISTEN", format!("127.0.0.1:{port}"))
        .env("RENKEI_MASTER_KEY", &master)
        .env("RENKEI_JWT_KEYS", &jwt)
        .env("RENKEI_BOOTSTRAP_DEMO", "true")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    renkei::crypto::install_tls_provider();
    let http = reqwest::Client::new();
    let started = Instant::now();
    let mut up = false;
    while started.elapsed() < Duration::from_secs(30) {
        if let Ok(response) = http.get(format!("http://127.0.0.1:{port}/readyz")).send().await
            && response.status() == 200
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(up, "the production server did not start");
    assert!(!dir.0.join(renkei::dev_keys::FILE_NAME).exists());

    let listed = command(&database, &dir.0)
        .args(["clients", "list", "--json"])
        .env("RENKEI_ENV", "production")
        .env("RENKEI_MASTER_KEY", &master)
        .env("RENKEI_JWT_KEYS", &jwt)
        .output()
        .unwrap();
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    assert_eq!(String::from_utf8_lossy(&listed.stdout).trim(), "[]", "no demo client");
}

async fn an_unset_mode_on_a_public_address_refuses_to_start(backend: Backend) {
    let database = TestDatabase::new(backend);
    let dir = scratch_dir();
    let output = command(&database, &dir.0)
        .arg("serve")
        .env("RENKEI_LISTEN", "0.0.0.0:0")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("RENKEI_ENV"), "{stderr}");
}
