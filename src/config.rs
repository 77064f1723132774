//! Typed configuration: defaults, then `.env`, then the process environment.
//!
//! Every variable is documented in `.env.example`. A value that does not parse stops
//! start-up with an error naming the variable and what it expects; every such error is
//! reported at once, in one message.

use std::{cell::RefCell, net::ToSocketAddrs, sync::Arc, time::Duration};

pub use crate::store::{DEFAULT_SQLITE_HEAP_MB, DatabaseConfig};
pub use crate::{
    auth::settings::{AuthConfig, JwtKeys, MIN_JWT_KEY_BYTES},
    crypto::keys::{NamedKey, decode_base64, parse_named_keys},
};
use crate::{
    auth::source::Cidr,
    core::Secret,
    crypto::seal::MasterKeys,
    outbound::{Origin, OutboundPolicy},
};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://renkei.db?mode=rwc";

#[derive(Debug, Clone)]
pub struct Config {
    /// `RENKEI_ENV`: `development` (default) or `production`.
    pub env: RunMode,
    /// `RENKEI_LISTEN`: address:port the HTTP server binds.
    pub listen: String,
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    /// `RENKEI_CORS_ORIGINS`: admin SPA origins allowed to call the API from a browser.
    pub cors_origins: Vec<String>,
    /// `RENKEI_WORKERS`: HTTP worker threads.
    pub workers: usize,
    /// `RENKEI_LOG_FORMAT`: `json` (default) or `pretty`.
    pub log_format: LogFormat,
    /// `RENKEI_SHUTDOWN_TIMEOUT_SECS`: how long in-flight requests may finish on stop.
    pub shutdown_timeout: Duration,
    /// `RENKEI_BOOTSTRAP_DEMO`: create shop `demo` and a client on first start.
    pub bootstrap_demo: bool,
    /// `RENKEI_MASTER_KEY`: `id:base64` (32 bytes) keys sealing stored secrets; the first
    /// seals, all open. `None`: a development key kept beside the database.
    pub master_keys: Option<Arc<MasterKeys>>,
    /// `RENKEI_OPLUX_TEST_URL`: O-PLUX's test environment (an account's `endpoint: test`).
    pub oplux_test_url: String,
    /// `RENKEI_OPLUX_PRODUCTION_URL`: O-PLUX's production base URL (`endpoint: production`).
    pub oplux_production_url: Option<String>,
    /// `RENKEI_OPLUX_TEST_V2_URL`: O-PLUX's test v2 event URL (`endpoint: test`).
    pub oplux_test_v2_url: String,
    /// `RENKEI_OPLUX_PRODUCTION_V2_URL`: O-PLUX's production v2 event URL (`endpoint: production`).
    pub oplux_production_v2_url: Option<String>,
    /// `RENKEI_OPLUX_SYNC_INTERVAL_SECS`: how often the manual-review poller runs (0: off).
    pub oplux_sync_interval: Duration,
    /// `RENKEI_OPLUX_SYNC_WINDOW_HOURS`: screenings older than this are no longer polled.
    pub oplux_sync_window: Duration,
    /// `RENKEI_OPLUX_SYNC_BATCH`: at most this many O-PLUX calls per poller pass.
    pub oplux_sync_batch: u64,
    /// `RENKEI_CACHE_TTL_MS`: how stale a replica's view of changes made on other
    /// replicas (payment methods, accounts, revoked clients) may be; 0 disables caching.
    pub cache_ttl: Duration,
    /// `RENKEI_WRITE_GATHER_MS` (default 2, 0: off): how long a screening writer waits for
    /// more claims and finishes to write with the first it took (`screening::gather`).
    pub write_gather: Duration,
    /// `RENKEI_OPLUX_BREAKER_THRESHOLD`: consecutive O-PLUX failures that open the circuit.
    pub oplux_breaker_threshold: u32,
    /// `RENKEI_OPLUX_BREAKER_COOL_DOWN_SECS`: how long an open circuit answers ERROR at once.
    pub oplux_breaker_cool_down: Duration,
    /// `RENKEI_DEMO_OPLUX_ENDPOINT`: on first start, the demo shop's O-PLUX account points
    /// here (e.g. a local `renkei oplux-mock`).
    pub demo_oplux_endpoint: Option<String>,
    /// `RENKEI_PUBLIC_URL`: the base of public links (feeds, banners). `None`: the
    /// address the server is bound to.
    pub public_url: Option<String>,
    /// `RENKEI_OUTBOUND_ALLOWLIST` (plus the origin of `RENKEI_DEMO_OPLUX_ENDPOINT`):
    /// where tenant-configured URLs may point (see `outbound::policy`).
    pub outbound: OutboundPolicy,
    /// `RENKEI_METRICS_TOKEN`: when set, `/metrics` needs it as a bearer token.
    pub metrics_token: Option<Secret<String>>,
    /// `RENKEI_CLIENT_REQUEST_TIMEOUT_MS`: time to receive a request's head.
    pub client_request_timeout: Duration,
    /// `RENKEI_BODY_READ_TIMEOUT_MS`: time to receive a request's body.
    pub body_read_timeout: Duration,
    /// `RENKEI_WEBHOOK_POLL_INTERVAL_MS`: how often the delivery worker looks for due
    /// webhook deliveries.
    pub webhook_poll_interval: Duration,
    /// `RENKEI_WEBHOOK_RETRY_BASE_MS`: the first retry's wait; each next one doubles
    /// (with jitter), for 3 days.
    pub webhook_retry_base: Duration,
    /// `RENKEI_WEBHOOK_DISABLE_AFTER_HOURS` (default 72): an endpoint whose deliveries
    /// have all failed this long is disabled. (Tests set it in seconds.)
    pub webhook_disable_after: Duration,
    /// `RENKEI_EVENT_RETENTION_DAYS` (default 30): events and delivery attempts older
    /// than this are deleted. (Tests set it in seconds.)
    pub event_retention: chrono::Duration,
    /// How often the retention job looks for expired events (not configurable by
    /// environment; tests shorten it).
    pub event_retention_interval: Duration,
    /// `RENKEI_CERT_WARNING_DAYS`: an account warns of a certificate expiring within this
    /// many days.
    pub cert_warning_days: i64,
    /// `RENKEI_CERT_CHECK_INTERVAL_SECS`: how often certificates are checked for the
    /// `provider_account.certificate_expiring` event.
    pub cert_check_interval: Duration,
}

/// `RENKEI_ENV`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("configuration variable {variable}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

/// Every configuration error found, reported together (one message, one per line).
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The variables named, in the order found.
    pub fn variables(&self) -> Vec<&'static str> {
        self.0.iter().map(|e| e.variable).collect()
    }
}

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        match lines.len() {
            1 => write!(f, "{}", lines[0]),
            n => write!(f, "{n} configuration errors:\n  {}", lines.join("\n  ")),
        }
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(error: ConfigError) -> Self {
        Self(vec![error])
    }
}

impl Config {
    /// Reads `.env` (when present; it never overrides the environment) and the environment.
    pub fn load() -> Result<Self, ConfigErrors> {
        if let Err(err) = dotenvy::dotenv()
            && !err.not_found()
        {
            return Err(ConfigError {
                variable: ".env",
                message: format!("cannot be read: {err}"),
            }
            .into());
        }
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from a variable lookup (the environment in production):
    /// each stage reads and checks one group of variables. A stage that finds an error
    /// records it and goes on with a default, so that every error is reported at once.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigErrors> {
        let vars = Vars {
            lookup: &lookup,
            errors: RefCell::new(Vec::new()),
        };
        let (env, explicit_env) = vars.check(run_mode(&vars)).unwrap_or((RunMode::Development, true));
        let listen = vars.check(listen(&vars)).unwrap_or_else(|| DEFAULT_LISTEN.into());
        let database = vars.check(database(&vars)).unwrap_or_else(|| DatabaseConfig {
            url: Secret::new(DEFAULT_DATABASE_URL.into()),
            schema: None,
            max_connections: 10,
            acquire_timeout: Duration::from_secs(3),
            sqlite_heap_mb: DEFAULT_SQLITE_HEAP_MB,
        });
        let (jwt_keys, master_keys) = keys(&vars);
        vars.check(check_mode(
            env,
            explicit_env,
            &listen,
            vars.optional("RENKEI_JWT_KEYS").is_some(),
            vars.optional("RENKEI_MASTER_KEY").is_some(),
        ));
        let mut urls = urls(&vars);
        if env == RunMode::Production {
            // Production has no demo: the stand-in is neither configured nor allowed.
            urls.demo_oplux_endpoint = None;
        }
        let outbound = vars
            .check(outbound(&vars, urls.demo_oplux_endpoint.as_deref()))
            .unwrap_or_default();
        let default_workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let config = Self {
            env,
            listen,
            database,
            auth: auth(&vars, jwt_keys),
            cors_origins: vars.check(cors_origins(&vars)).unwrap_or_default(),
            workers: vars.number("RENKEI_WORKERS", default_workers as u64, 1..=256) as usize,
            log_format: vars.check(log_format(&vars)).unwrap_or(LogFormat::Json),
            shutdown_timeout: Duration::from_secs(vars.number("RENKEI_SHUTDOWN_TIMEOUT_SECS", 30, 0..=3600)),
            // Production never creates the demo shop and its all-scopes client.
            bootstrap_demo: env == RunMode::Development && vars.boolean("RENKEI_BOOTSTRAP_DEMO", true),
            master_keys,
            public_url: urls.public_url,
            oplux_test_url: urls.oplux_test_url,
            oplux_production_url: urls.oplux_production_url,
            oplux_test_v2_url: urls.oplux_test_v2_url,
            oplux_production_v2_url: urls.oplux_production_v2_url,
            oplux_sync_interval: Duration::from_secs(vars.number("RENKEI_OPLUX_SYNC_INTERVAL_SECS", 300, 0..=86_400)),
            oplux_sync_window: Duration::from_secs(3600 * vars.number("RENKEI_OPLUX_SYNC_WINDOW_HOURS", 48, 1..=8760)),
            oplux_sync_batch: vars.number("RENKEI_OPLUX_SYNC_BATCH", 100, 1..=10_000),
            cache_ttl: Duration::from_millis(vars.number("RENKEI_CACHE_TTL_MS", 1000, 0..=60_000)),
            write_gather: Duration::from_millis(vars.number("RENKEI_WRITE_GATHER_MS", 2, 0..=50)),
            oplux_breaker_threshold: vars.number("RENKEI_OPLUX_BREAKER_THRESHOLD", 5, 1..=1_000_000),
            oplux_breaker_cool_down: Duration::from_secs(vars.number(
                "RENKEI_OPLUX_BREAKER_COOL_DOWN_SECS",
                30,
                1..=3600,
            )),
            demo_oplux_endpoint: urls.demo_oplux_endpoint,
            outbound,
            metrics_token: vars.optional("RENKEI_METRICS_TOKEN").map(Secret::new),
            client_request_timeout: Duration::from_millis(vars.number(
                "RENKEI_CLIENT_REQUEST_TIMEOUT_MS",
                5000,
                100..=600_000,
            )),
            body_read_timeout: Duration::from_millis(vars.number("RENKEI_BODY_READ_TIMEOUT_MS", 10_000, 100..=600_000)),
            webhook_poll_interval: Duration::from_millis(vars.number(
                "RENKEI_WEBHOOK_POLL_INTERVAL_MS",
                1000,
                10..=3_600_000,
            )),
            webhook_retry_base: Duration::from_millis(vars.number(
                "RENKEI_WEBHOOK_RETRY_BASE_MS",
                30_000,
                1..=3_600_000,
            )),
            webhook_disable_after: Duration::from_secs(
                3600 * vars.number("RENKEI_WEBHOOK_DISABLE_AFTER_HOURS", 72u64, 1..=24 * 365),
            ),
            event_retention: chrono::Duration::days(vars.number("RENKEI_EVENT_RETENTION_DAYS", 30i64, 1..=3650)),
            event_retention_interval: Duration::from_secs(600),
            cert_warning_days: vars.number("RENKEI_CERT_WARNING_DAYS", 30, 1..=365),
            cert_check_interval: Duration::from_secs(vars.number("RENKEI_CERT_CHECK_INTERVAL_SECS", 3600, 1..=86_400)),
        };
        vars.finish(config)
    }

    pub fn is_production(&self) -> bool {
        self.env == RunMode::Production
    }

    pub fn is_sqlite(&self) -> bool {
        self.database.url.expose().starts_with("sqlite:")
    }
}

/// `RENKEI_ENV`, and whether it was set at all.
fn run_mode<F: Fn(&str) -> Option<String>>(vars: &Vars<'_, F>) -> Result<(RunMode, bool), ConfigError> {
    match vars.optional("RENKEI_ENV").map(|v| v.to_ascii_lowercase()).as_deref() {
        None => Ok((RunMode::Development, false)),
        Some("development") => Ok((RunMode::Development, true)),
        Some("production") => Ok((RunMode::Production, true)),
        Some(other) => Err(ConfigError {
            variable: "RENKEI_ENV",
            message: format!("'{other}' is not one of development, production"),
        }),
    }
}

/// Production needs its own keys (never the development key file), and a server
/// reachable from other machines must say which mode it runs in.
fn check_mode(
    env: RunMode,
    explicit: bool,
    listen: &str,
    has_jwt_keys: bool,
    has_master_key: bool,
) -> Result<(), ConfigError> {
    match env {
        RunMode::Production => {
            let missing: Vec<&str> = [("RENKEI_MASTER_KEY", has_master_key), ("RENKEI_JWT_KEYS", has_jwt_keys)]
                .into_iter()
                .filter(|(_, set)| !set)
                .map(|(name, _)| name)
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(ConfigError {
                    variable: "RENKEI_ENV",
                    message: format!(
                        "production needs {} to be set (generate keys with `renkei keys generate`)",
                        missing.join(" and ")
                    ),
                })
            }
        }
        RunMode::Development if !explicit && !is_loopback(listen) => Err(ConfigError {
            variable: "RENKEI_ENV",
            message: format!(
                "RENKEI_LISTEN={listen} is reachable from other machines: set RENKEI_ENV=production \
                 (with RENKEI_MASTER_KEY and RENKEI_JWT_KEYS), or RENKEI_ENV=development to serve \
                 development keys there on purpose"
            ),
        }),
        RunMode::Development => Ok(()),
    }
}

fn is_loopback(listen: &str) -> bool {
    listen
        .to_socket_addrs()
        .map(|addrs| addrs.collect::<Vec<_>>())
        .is_ok_and(|addrs| !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()))
}

fn listen<F: Fn(&str) -> Option<String>>(vars: &Vars<'_, F>) -> Result<String, ConfigError> {
    let listen = vars.string("RENKEI_LISTEN", DEFAULT_LISTEN);
    if listen.to_socket_addrs().map(|mut a| a.next().is_none()).unwrap_or(true) {
        return Err(ConfigError {
            variable: "RENKEI_LISTEN",
            message: format!("'{listen}' is not an address:port such as 127.0.0.1:8080"),
        });
    }
    Ok(listen)
}

fn database<F: Fn(&str) -> Option<String>>(vars: &Vars<'_, F>) -> Result<DatabaseConfig, ConfigError> {
    let url = vars.string("DATABASE_URL", DEFAULT_DATABASE_URL);
    if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(ConfigError {
            variable: "DATABASE_URL",
            message: "expected a sqlite://… or postgres://… URL".into(),
        });
    }
    let schema = vars.optional("RENKEI_DATABASE_SCHEMA");
    if let Some(schema) = &schema
        && !is_identifier(schema)
    {
        return Err(ConfigError {
            variable: "RENKEI_DATABASE_SCHEMA",
            message: "expected a schema name of letters, digits and '_'".into(),
        });
    }
    Ok(DatabaseConfig {
        url: Secret::new(url),
        schema,
        max_connections: vars.number("RENKEI_DATABASE_MAX_CONNECTIONS", 10, 1..=1000),
        acquire_timeout: Duration::from_millis(vars.number("RENKEI_DATABASE_ACQUIRE_TIMEOUT_MS", 3000, 10..=60_000)),
        sqlite_heap_mb: vars.number("RENKEI_SQLITE_HEAP_MB", DEFAULT_SQLITE_HEAP_MB, 1..=65_536),
    })
}

/// `RENKEI_JWT_KEYS` and `RENKEI_MASTER_KEY`, when set and valid (each error is
/// recorded: a short JWT key does not hide a bad or missing master key).
fn keys<F: Fn(&str) -> Option<String>>(vars: &Vars<'_, F>) -> (Option<JwtKeys>, Option<Arc<MasterKeys>>) {
    let jwt_keys = vars.optional("RENKEI_JWT_KEYS").and_then(|value| {
        vars.check(JwtKeys::parse(&value).map_err(|message| ConfigError {
            variable: "RENKEI_JWT_KEYS",
            message,
        }))
    });
    let master_keys = vars.optional("RENKEI_MASTER_KEY").and_then(|value| {
        vars.check(
            parse_named_keys(&value)
                .and_then(|keys| MasterKeys::new(keys.into_iter().map(|k| (k.id, k.secret)).collect()))
                .map(Arc::new)
                .map_err(|message| ConfigError {
                    variable: "RENKEI_MASTER_KEY",
                    message,
                }),
        )
    });
    (jwt_keys, master_keys)
}

fn auth<F: Fn(&str) -> Option<String>>(vars: &Vars<'_, F>, jwt_keys: Option<JwtKeys>) -> AuthConfig {
    let trusted_proxies = vars
        .check(
            Cidr::parse_list(&vars.string("RENKEI_TRUSTED_PROXIES", "")).map_err(|message| ConfigError {
                variable: "RENKEI_TRUSTED_PROXIES",
                message,
            }),
        )
        .unwrap_or_default();
    let client_secret_pepper = vars.optional("RENKEI_CLIENT_SECRET_PEPPER").and_then(|value| {
        vars.check(match decode_base64(&value) {
            Some(bytes) if bytes.len() >= 32 => Ok(Secret::new(bytes)),
            _ => Err(ConfigError {
                variable: "RENKEI_CLIENT_SECRET_PEPPER",
                message: "expected at least 32 random bytes, base64-encoded".into(),
            }),
        })
    });
    AuthConfig {
        issuer: vars.string("RENKEI_JWT_ISSUER", "renkei"),
        audience: vars.string("RENKEI_JWT_AUDIENCE", "renkei-api"),
        token_ttl: Duration::from_secs(vars.number("RENKEI_TOKEN_TTL_SECS", 900, 60..=86_400)),
        jwt_keys,
        failure_limit: vars.number("RENKEI_TOKEN_FAILURE_LIMIT", 10, 1..=100_000),
        failure_window: Duration::from_secs(vars.number("RENKEI_TOKEN_FAILURE_WINDOW_SECS", 300, 1..=86_400)),
        failure_delay: Duration::from_millis(vars.number("RENKEI_TOKEN_FAILURE_DELAY_MS", 1000, 0..=10_000)),
        trusted_proxies,
        client_secret_pepper,
    }
}

/// Base URLs: public links, O-PLUX's environments, the demo stand-in.
struct Urls {
    public_url: Option<String>,
    oplux_test_url: String,
    oplux_production_url: Option<String>,
    oplux_test_v2_url: String,
    oplux_production_v2_url: Option<String>,
    demo_oplux_endpoint: Option<String>,
}

fn urls<F: Fn(&str) -> Option<String>>(vars: &Vars<'_, F>) -> Urls {
    let url_var = |name: &'static str, example: &str| -> Option<String> {
        match vars.optional(name) {
            Some(url) if !crate::accounts::formats::is_url(&url, false) => {
                vars.check::<()>(Err(ConfigError {
                    variable: name,
                    message: format!("'{url}' is not an http(s) URL such as {example}"),
                }));
                None
            }
            other => other.map(|u| u.trim_end_matches('/').to_string()),
        }
    };
    Urls {
        public_url: url_var("RENKEI_PUBLIC_URL", "https://renkei.example.jp"),
        oplux_test_url: url_var("RENKEI_OPLUX_TEST_URL", "https://api.tst.o-plux.com")
            .unwrap_or_else(|| "https://api.tst.o-plux.com".into()),
        oplux_production_url: url_var("RENKEI_OPLUX_PRODUCTION_URL", "https://api.o-plux.example"),
        oplux_test_v2_url: url_var("RENKEI_OPLUX_TEST_V2_URL", "https://staging.o-plux.com/v2/event")
            .unwrap_or_else(|| crate::screening::oplux::client::V2_TEST_URL.into()),
        oplux_production_v2_url: url_var("RENKEI_OPLUX_PRODUCTION_V2_URL", "https://o-plux.example/v2/event"),
        demo_oplux_endpoint: url_var("RENKEI_DEMO_OPLUX_ENDPOINT", "http://127.0.0.1:18090"),
    }
}

/// `RENKEI_OUTBOUND_ALLOWLIST`, plus the demo stand-in's origin.
fn outbound<F: Fn(&str) -> Option<String>>(
    vars: &Vars<'_, F>,
    demo_oplux_endpoint: Option<&str>,
) -> Result<OutboundPolicy, ConfigError> {
    let mut origins =
        OutboundPolicy::parse_list(&vars.string("RENKEI_OUTBOUND_ALLOWLIST", "")).map_err(|message| ConfigError {
            variable: "RENKEI_OUTBOUND_ALLOWLIST",
            message,
        })?;
    if let Some(url) = demo_oplux_endpoint {
        origins.push(Origin::of_url(url).map_err(|message| ConfigError {
            variable: "RENKEI_DEMO_OPLUX_ENDPOINT",
            message,
        })?);
    }
    Ok(OutboundPolicy::new(origins))
}

fn log_format<F: Fn(&str) -> Option<String>>(vars: &Vars<'_, F>) -> Result<LogFormat, ConfigError> {
    match vars.string("RENKEI_LOG_FORMAT", "json").as_str() {
        "json" => Ok(LogFormat::Json),
        "pretty" => Ok(LogFormat::Pretty),
        other => Err(ConfigError {
            variable: "RENKEI_LOG_FORMAT",
            message: format!("'{other}' is not one of json, pretty"),
        }),
    }
}

fn cors_origins<F: Fn(&str) -> Option<String>>(vars: &Vars<'_, F>) -> Result<Vec<String>, ConfigError> {
    let origins: Vec<String> = vars
        .string("RENKEI_CORS_ORIGINS", "")
        .split(',')
        .map(|o| o.trim().trim_end_matches('/').to_string())
        .filter(|o| !o.is_empty())
        .collect();
    if let Some(bad) = origins
        .iter()
        .find(|o| !(o.starts_with("http://") || o.starts_with("https://")))
    {
        return Err(ConfigError {
            variable: "RENKEI_CORS_ORIGINS",
            message: format!("'{bad}' is not an origin such as https://admin.example.jp"),
        });
    }
    Ok(origins)
}

fn is_identifier(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 63
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !value.starts_with(|c: char| c.is_ascii_digit())
}

/// The variables, and the errors found in them so far.
struct Vars<'a, F: Fn(&str) -> Option<String>> {
    lookup: &'a F,
    errors: RefCell<Vec<ConfigError>>,
}

impl<F: Fn(&str) -> Option<String>> Vars<'_, F> {
    fn optional(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    fn string(&self, name: &str, default: &str) -> String {
        self.optional(name).unwrap_or_else(|| default.to_string())
    }

    /// The value, or `None` with its error recorded.
    fn check<T>(&self, result: Result<T, ConfigError>) -> Option<T> {
        result.map_err(|error| self.errors.borrow_mut().push(error)).ok()
    }

    /// The configuration, unless an error was recorded: then all of them.
    fn finish<T>(self, value: T) -> Result<T, ConfigErrors> {
        let errors = self.errors.into_inner();
        if errors.is_empty() {
            Ok(value)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// A whole number in `range`; the default when unset (or, with the error recorded,
    /// when invalid).
    fn number<T>(&self, name: &'static str, default: T, range: std::ops::RangeInclusive<T>) -> T
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        let Some(value) = self.optional(name) else {
            return default;
        };
        let parsed = match value.parse::<T>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(ConfigError {
                variable: name,
                message: format!(
                    "'{value}' is not a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            }),
        };
        self.check(parsed).unwrap_or(default)
    }

    fn boolean(&self, name: &'static str, default: bool) -> bool {
        let parsed = match self.optional(name).map(|v| v.to_ascii_lowercase()).as_deref() {
            None => Ok(default),
            Some("1" | "true" | "yes" | "on") => Ok(true),
            Some("0" | "false" | "no" | "off") => Ok(false),
            Some(other) => Err(ConfigError {
                variable: name,
                message: format!("'{other}' is not true or false"),
            }),
        };
        self.check(parsed).unwrap_or(default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use std::collections::HashMap;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_need_no_variables() {
        let config = load(&[]).unwrap();
        assert_eq!(config.listen, DEFAULT_LISTEN);
        assert!(config.is_sqlite());
        assert_eq!(config.auth.token_ttl, Duration::from_secs(900));
        assert!(config.auth.jwt_keys.is_none());
        assert_eq!(config.write_gather, Duration::from_millis(2));
        assert_eq!(
            load(&[("RENKEI_WRITE_GATHER_MS", "0")]).unwrap().write_gather,
            Duration::ZERO
        );
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        for (name, value) in [
            ("RENKEI_LISTEN", "not an address"),
            ("DATABASE_URL", "mysql://x"),
            ("RENKEI_TOKEN_TTL_SECS", "forever"),
            ("RENKEI_JWT_KEYS", "k1:c2hvcnQ="),
            ("RENKEI_LOG_FORMAT", "xml"),
            ("RENKEI_CORS_ORIGINS", "admin.example.jp"),
            ("RENKEI_BOOTSTRAP_DEMO", "maybe"),
            ("RENKEI_DATABASE_SCHEMA", "a;drop"),
            ("RENKEI_MASTER_KEY", "k1:c2hvcnQ="),
            ("RENKEI_PUBLIC_URL", "ftp://x"),
            ("RENKEI_ENV", "staging"),
            ("RENKEI_OUTBOUND_ALLOWLIST", "10.0.0.5:2375"),
            ("RENKEI_TRUSTED_PROXIES", "10.0.0.0/40"),
            ("RENKEI_CLIENT_SECRET_PEPPER", "c2hvcnQ="),
            ("RENKEI_BODY_READ_TIMEOUT_MS", "0"),
            ("RENKEI_WRITE_GATHER_MS", "51"),
        ] {
            let err = load(&[(name, value)]).unwrap_err();
            assert_eq!(err.variables(), [name]);
            assert!(err.to_string().contains(name));
        }
    }

    #[test]
    fn jwt_keys_keep_their_order_and_never_print() {
        let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let config = load(&[("RENKEI_JWT_KEYS", &format!("new:{key}, old:{key}"))]).unwrap();
        let keys = config.auth.jwt_keys.unwrap();
        assert_eq!(keys.signing().id, "new");
        assert!(keys.find("old").is_some());
        assert!(!format!("{keys:?}").contains(&key));
    }

    #[test]
    fn production_names_every_missing_key_at_once() {
        let err = load(&[("RENKEI_ENV", "production")]).unwrap_err();
        assert_eq!(err.variables(), ["RENKEI_ENV"]);
        assert!(
            err.0[0].message.contains("RENKEI_MASTER_KEY and RENKEI_JWT_KEYS"),
            "{err}"
        );
    }

    #[test]
    fn every_configuration_error_is_reported_at_once() {
        // A short JWT key does not hide the missing master key, nor other bad values.
        let err = load(&[
            ("RENKEI_ENV", "production"),
            ("RENKEI_JWT_KEYS", "k1:c2hvcnQ="),
            ("RENKEI_TOKEN_TTL_SECS", "forever"),
            ("RENKEI_LOG_FORMAT", "xml"),
        ])
        .unwrap_err();
        let variables = err.variables();
        for name in [
            "RENKEI_JWT_KEYS",
            "RENKEI_ENV",
            "RENKEI_TOKEN_TTL_SECS",
            "RENKEI_LOG_FORMAT",
        ] {
            assert!(variables.contains(&name), "{name} missing from: {err}");
        }
        let message = err.to_string();
        assert!(message.contains("RENKEI_MASTER_KEY"), "{message}");
        assert!(!message.contains("c2hvcnQ"), "a key value is never printed: {message}");
    }

    #[test]
    fn production_ignores_the_demo_stand_in() {
        let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let config = load(&[
            ("RENKEI_ENV", "production"),
            ("RENKEI_JWT_KEYS", &format!("j1:{key}")),
            ("RENKEI_MASTER_KEY", &format!("m1:{key}")),
            ("RENKEI_DEMO_OPLUX_ENDPOINT", "http://127.0.0.1:18090"),
        ])
        .unwrap();
        assert_eq!(config.demo_oplux_endpoint, None);
        assert!(config.outbound.check_configured_url("http://127.0.0.1:18090").is_err());
    }

    #[test]
    fn production_with_its_keys_creates_no_demo() {
        let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let config = load(&[
            ("RENKEI_ENV", "production"),
            ("RENKEI_JWT_KEYS", &format!("j1:{key}")),
            ("RENKEI_MASTER_KEY", &format!("m1:{key}")),
            ("RENKEI_BOOTSTRAP_DEMO", "true"),
            ("RENKEI_LISTEN", "0.0.0.0:8080"),
        ])
        .unwrap();
        assert!(config.is_production());
        assert!(!config.bootstrap_demo);
    }

    #[test]
    fn a_non_loopback_listen_needs_an_explicit_mode() {
        let err = load(&[("RENKEI_LISTEN", "0.0.0.0:8080")]).unwrap_err();
        assert_eq!(err.variables(), ["RENKEI_ENV"]);
        assert!(load(&[("RENKEI_LISTEN", "0.0.0.0:8080"), ("RENKEI_ENV", "development")]).is_ok());
        assert!(load(&[("RENKEI_LISTEN", "[::1]:8080")]).is_ok());
    }

    #[test]
    fn the_demo_endpoint_is_allowed_implicitly() {
        let config = load(&[
            ("RENKEI_OUTBOUND_ALLOWLIST", "https://stand-in.example.jp"),
            ("RENKEI_DEMO_OPLUX_ENDPOINT", "http://127.0.0.1:18090"),
        ])
        .unwrap();
        assert!(config.outbound.check_configured_url("http://127.0.0.1:18090").is_ok());
        assert!(
            config
                .outbound
                .check_configured_url("https://stand-in.example.jp/x")
                .is_ok()
        );
        assert!(config.outbound.check_configured_url("http://127.0.0.1:18091").is_err());
    }
}
