//! Test support: each test starts the real application in-process on port 0, against a
//! fresh database built by the migrations — a new SQLite file, or a new PostgreSQL schema.

#![allow(dead_code)]

pub mod accounts;
pub mod binary;
pub mod hostile;
pub mod oplux;
pub mod own_postgres;
pub mod receiver;
pub mod screening_shop;
pub mod session;

use std::{path::PathBuf, time::Duration};

use base64::Engine;
use renkei::{
    auth::{ScopeSet, clients::NewCredentials},
    config::{Config, JwtKeys, NamedKey},
    core::Secret,
    crypto::{random::hex, random_bytes},
    startup::Application,
};
use sea_orm::DatabaseConnection;

pub const POSTGRES_URL_VAR: &str = "RENKEI_TEST_POSTGRES_URL";
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn name(backend: Backend)` once per database, as
/// `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::support::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::support::postgres_missing() {
                    return;
                }
                super::$name($crate::support::Backend::Postgres).await
            }
        }
    )*};
}

pub fn postgres_url() -> String {
    std::env::var(POSTGRES_URL_VAR).unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_string())
}

/// Set (to anything but `0`) by `.ci/run`: a PostgreSQL that cannot be reached fails the
/// PostgreSQL half of the tests instead of skipping it.
pub const REQUIRE_POSTGRES_VAR: &str = "RENKEI_REQUIRE_POSTGRES";

/// Whether the PostgreSQL half of a test is to be skipped: PostgreSQL cannot be reached at
/// [`postgres_url`] and [`REQUIRE_POSTGRES_VAR`] is not set. Says so once per test binary,
/// on the terminal (past the test harness's capture), with what to do about it.
pub fn postgres_missing() -> bool {
    static REACHABLE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let reachable = REACHABLE.get_or_init(|| {
        let url = postgres_url();
        let parsed = reqwest::Url::parse(&url).map_err(|e| format!("{POSTGRES_URL_VAR}={url} is not a URL: {e}"))?;
        let host = parsed.host_str().unwrap_or("127.0.0.1").to_string();
        let port = parsed.port().unwrap_or(5432);
        let addresses = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
            .map_err(|e| format!("{host}:{port} does not resolve: {e}"))?;
        let timeout = Duration::from_secs(3);
        match addresses
            .into_iter()
            .find_map(|a| std::net::TcpStream::connect_timeout(&a, timeout).ok())
        {
            Some(_) => Ok(()),
            None => Err(format!("PostgreSQL is not reachable at {host}:{port}")),
        }
    });
    let Err(why) = reachable else { return false };
    let required = std::env::var(REQUIRE_POSTGRES_VAR).is_ok_and(|v| !v.is_empty() && v != "0");
    assert!(
        !required,
        "{why}, and {REQUIRE_POSTGRES_VAR} is set: the PostgreSQL half must run"
    );
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "note: {why}; the PostgreSQL half of the tests is skipped. Start PostgreSQL there \
             (trust auth, database `test`) or set {POSTGRES_URL_VAR} to run it."
        );
    });
    true
}

/// A fresh, empty database of one backend. Dropped with the test.
pub struct TestDatabase {
    pub backend: Backend,
    pub url: String,
    pub schema: Option<String>,
    dir: Option<PathBuf>,
}

impl TestDatabase {
    pub fn new(backend: Backend) -> Self {
        let name = format!("t_{}", hex(&random_bytes::<8>()));
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("renkei-{name}"));
                std::fs::create_dir_all(&dir).expect("temp dir");
                Self {
                    backend,
                    url: format!("sqlite://{}?mode=rwc", dir.join("renkei.db").display()),
                    schema: None,
                    dir: Some(dir),
                }
            }
            Backend::Postgres => Self {
                backend,
                url: postgres_url(),
                schema: Some(name),
                dir: None,
            },
        }
    }

    /// A fresh schema on the PostgreSQL server at `url` (a test's own server).
    pub fn postgres_at(url: &str) -> Self {
        Self {
            backend: Backend::Postgres,
            url: url.to_string(),
            schema: Some(format!("t_{}", hex(&random_bytes::<8>()))),
            dir: None,
        }
    }

    /// The directory of the SQLite file, or a scratch directory for PostgreSQL tests.
    pub fn dir(&self) -> Option<&PathBuf> {
        self.dir.as_ref()
    }

    /// Environment for running the `renkei` binary against this database.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![("DATABASE_URL", self.url.clone())];
        if let Some(schema) = &self.schema {
            env.push(("RENKEI_DATABASE_SCHEMA", schema.clone()));
        }
        env
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some(schema) = self.schema.clone() {
            let url = self.url.clone();
            // Drop runs inside the test's runtime: clean up from a thread of its own.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                runtime.block_on(async {
                    let db = sea_orm::Database::connect(&url).await.ok()?;
                    use sea_orm::ConnectionTrait;
                    db.execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                        .await
                        .ok()?;
                    db.close().await.ok()
                })
            })
            .join();
        }
    }
}

pub fn test_master_keys(keys: &[(&str, u8)]) -> std::sync::Arc<renkei::crypto::seal::MasterKeys> {
    std::sync::Arc::new(
        renkei::crypto::seal::MasterKeys::new(
            keys.iter()
                .map(|(id, byte)| (id.to_string(), Secret::new(vec![*byte; 32])))
                .collect(),
        )
        .unwrap(),
    )
}

pub fn test_jwt_keys() -> JwtKeys {
    JwtKeys::new(vec![NamedKey {
        id: "test-1".into(),
        secret: Secret::new(TEST_JWT_SECRET.to_vec()),
    }])
    .unwrap()
}

/// How stale a replica's caches may be in tests.
pub const CACHE_TTL: Duration = Duration::from_millis(200);

pub const TEST_JWT_SECRET: &[u8; 32] = b"renkei-test-signing-key-32-bytes";

/// The configuration tests start from: port 0, one worker, the test database.
pub fn test_config(db: &TestDatabase) -> Config {
    let mut config = Config::from_lookup(|_| None).expect("default configuration");
    config.listen = "127.0.0.1:0".into();
    config.workers = 1;
    config.database.url = Secret::new(db.url.clone());
    config.database.schema = db.schema.clone();
    config.database.max_connections = 5;
    config.auth.jwt_keys = Some(test_jwt_keys());
    config.master_keys = Some(test_master_keys(&[("test-k1", 1)]));
    config.bootstrap_demo = false;
    config.shutdown_timeout = Duration::from_secs(0);
    // Short, so that tests of changes seen across replicas wait little.
    config.cache_ttl = CACHE_TTL;
    config
}

pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    pub db: DatabaseConnection,
    pub config: Config,
    pub demo: Option<NewCredentials>,
    server: actix_web::dev::ServerHandle,
    // Last: the database goes after the server (and after every sibling).
    pub database: std::sync::Arc<TestDatabase>,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_on(std::sync::Arc::new(TestDatabase::new(backend)), adjust).await
}

/// Starts an application on an existing test database.
pub async fn spawn_on(database: std::sync::Arc<TestDatabase>, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let backend = database.backend;
    let mut config = test_config(&database);
    adjust(&mut config);
    let app = Application::build(config.clone())
        .await
        .unwrap_or_else(|e| panic!("the application failed to start on {backend:?}: {e:#}"));
    let address = format!("http://127.0.0.1:{}", app.port());
    let db = app.db().clone();
    let server = app.handle();
    let demo = {
        let mut app = app;
        let demo = app.demo_credentials.take();
        tokio::spawn(app.run_until_stopped());
        demo
    };
    TestApp {
        address,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        db,
        config,
        demo,
        server,
        database,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let server = self.server.clone();
        // Stop without waiting: the runtime is going away with the test.
        drop(server.stop(false));
    }
}

impl TestApp {
    /// Another application process on the same database (a second replica).
    pub async fn sibling(&self, adjust: impl FnOnce(&mut Config)) -> TestApp {
        spawn_on(self.database.clone(), adjust).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Creates a client of `shop` with `scopes` (names) the way the CLI does.
    pub async fn client(&self, shop: &str, scopes: &[&str]) -> NewCredentials {
        let scopes = ScopeSet::parse(&scopes.join(" ")).expect("known scopes");
        let peppers = renkei::startup::peppers(&self.config).expect("peppers");
        renkei::auth::clients::create(&self.db, shop, "test client", scopes, "cli", &peppers)
            .await
            .expect("client created")
    }

    /// POSTs client credentials to the token endpoint.
    pub async fn request_token(&self, client_id: &str, client_secret: &str) -> reqwest::Response {
        self.http
            .post(self.url("/api/v1/auth/token"))
            .json(&serde_json::json!({
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": client_secret,
            }))
            .send()
            .await
            .unwrap()
    }

    pub async fn token_of(&self, credentials: &NewCredentials) -> String {
        let response = self
            .request_token(&credentials.client_id, credentials.client_secret.expose())
            .await;
        assert_eq!(response.status(), 200, "token request failed");
        let body: serde_json::Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }

    /// A token for a new client of `shop` holding `scopes`.
    pub async fn token(&self, shop: &str, scopes: &[&str]) -> String {
        let credentials = self.client(shop, scopes).await;
        self.token_of(&credentials).await
    }

    pub fn get(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path)).bearer_auth(token)
    }

    /// The JSON Schema (2020-12) of the `application/json` request body of `method`
    /// `template` in the document this application serves, with its components.
    pub async fn request_body_schema(&self, method: &str, template: &str) -> jsonschema::Validator {
        self.request_body_schema_of(method, template, "application/json").await
    }

    /// The JSON Schema (2020-12) of the `content_type` request body of `method`
    /// `template` in the document this application serves, with its components.
    pub async fn request_body_schema_of(
        &self,
        method: &str,
        template: &str,
        content_type: &str,
    ) -> jsonschema::Validator {
        let doc = self.served_document().await;
        let body = &doc["paths"][template][method.to_lowercase()]["requestBody"]["content"][content_type]["schema"];
        assert!(body.is_object(), "{method} {template} documents no {content_type} body");
        schema_in_document(&doc, body)
            .unwrap_or_else(|e| panic!("the body schema of {method} {template} does not compile: {e}"))
    }

    /// The OpenAPI document this application serves (`GET /openapi.json`).
    pub async fn served_document(&self) -> serde_json::Value {
        self.http
            .get(self.url("/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// A JSON Schema (2020-12) validator of `schema`, one of the OpenAPI document `doc`'s
/// schemas: its references to `#/components/…` resolve in `doc`'s components.
pub fn schema_in_document(
    doc: &serde_json::Value,
    schema: &serde_json::Value,
) -> Result<jsonschema::Validator, jsonschema::ValidationError<'static>> {
    let schema = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": "#/$defs/schema",
        "$defs": {"schema": schema},
        "components": doc["components"],
    });
    jsonschema::options().should_validate_formats(true).build(&schema)
}

/// A deadline for conditions a test waits on: generous, since a loaded CI machine may take
/// far longer than the behaviour's own timing.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// How long a test that checks something does NOT happen watches for it. No condition can
/// end such a wait early: it is bounded, and long beside the background intervals tests
/// configure (30–200 ms).
pub const QUIET: Duration = Duration::from_secs(1);

/// Polls `check` every 20 ms until it gives `Some`, and returns that; panics naming `what`
/// if `timeout` passes first. Tests wait for conditions, not for time.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "waited {timeout:?} for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Asserts a problem+json response with `status`, and returns its body.
pub async fn assert_problem(response: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("application/problem+json"),
        "content type was '{content_type}'"
    );
    let body: serde_json::Value = response.json().await.expect("a JSON problem body");
    assert_eq!(body["status"], status, "{body}");
    assert!(
        body["type"].is_string() && body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

/// The field names listed in a 422 problem.
pub fn error_fields(problem: &serde_json::Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Encodes a JWT by hand, for tokens the service must refuse.
pub fn forge_jwt(header: &serde_json::Value, claims: &serde_json::Value, key: Option<&[u8]>) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    let signing_input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
    let signature = match key {
        Some(key) => {
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
            B64.encode(ring::hmac::sign(&key, signing_input.as_bytes()).as_ref())
        }
        None => String::new(),
    };
    format!("{signing_input}.{signature}")
}

/// Every row of every table of a test database, as text (for scanning for secrets).
pub async fn dump_tables(database: &TestDatabase) -> String {
    use sea_orm::{ConnectionTrait, Statement};
    let db = renkei::store::connect(&renkei::config::DatabaseConfig {
        url: Secret::new(database.url.clone()),
        schema: database.schema.clone(),
        max_connections: 1,
        acquire_timeout: Duration::from_secs(5),
        sqlite_heap_mb: renkei::config::DEFAULT_SQLITE_HEAP_MB,
    })
    .await
    .unwrap();
    let backend = db.get_database_backend();
    let tables_sql = match database.backend {
        Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table'".to_string(),
        Backend::Postgres => format!(
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = '{}'",
            database.schema.as_deref().unwrap_or("public")
        ),
    };
    let tables: Vec<String> = db
        .query_all_raw(Statement::from_string(backend, tables_sql))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get::<String>("", "name").unwrap())
        .collect();
    let mut text = String::new();
    for table in tables {
        text.push_str(&format!("== {table}\n"));
        // Each row as one text value, whatever its column types.
        let select = match database.backend {
            Backend::Postgres => format!("SELECT t::text AS row FROM \"{table}\" t"),
            Backend::Sqlite => {
                let columns: Vec<String> = db
                    .query_all_raw(Statement::from_string(
                        backend,
                        format!("PRAGMA table_info(\"{table}\")"),
                    ))
                    .await
                    .unwrap()
                    .iter()
                    .map(|row| row.try_get::<String>("", "name").unwrap())
                    .collect();
                let quoted: Vec<String> = columns.iter().map(|c| format!("quote(\"{c}\")")).collect();
                format!("SELECT {} AS row FROM \"{table}\"", quoted.join(" || '|' || "))
            }
        };
        for row in db.query_all_raw(Statement::from_string(backend, select)).await.unwrap() {
            text.push_str(&row.try_get::<String>("", "row").unwrap());
            text.push('\n');
        }
    }
    text
}
