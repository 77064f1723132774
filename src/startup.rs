//! `Application::build`: connect, migrate, bind, and return the running server. Tests
//! start the real application in-process on port 0.

use std::{net::TcpListener, sync::Arc};

use actix_web::{dev::Server, web};
use anyhow::Context;
use sea_orm::DatabaseConnection;

use crate::{
    accounts::certificates,
    auth::{clients::NewCredentials, rate_limit::FailureLimiter, tokens::TokenService},
    bootstrap,
    cache::{ClientCache, ShopVersions},
    config::Config,
    crypto::password::Peppers,
    dev_keys,
    http::{self, openapi::ServedDocument, state::AppState},
    jobs::Jobs,
    metrics::Metrics,
    screening::{oplux::client::OpluxClient, review::SyncSchedule},
    store,
    webhooks::worker::{Settings, Worker},
};

pub struct Application {
    port: u16,
    server: Server,
    db: DatabaseConnection,
    /// Background work, stopped after the server (see `jobs`).
    jobs: Jobs,
    /// Credentials of the demo client when this start created it (shown once).
    pub demo_credentials: Option<NewCredentials>,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        crate::crypto::install_tls_provider();
        let db = store::connect(&config.database)
            .await
            .context("cannot connect to the database (DATABASE_URL)")?;
        store::migrate(&db).await.context("database migration failed")?;
        let master_keys = dev_keys::master_keys(&config)?;
        let peppers = Arc::new(Peppers::new(config.auth.client_secret_pepper.as_ref(), &master_keys));
        let demo_credentials = if config.bootstrap_demo {
            bootstrap::demo_client(
                &db,
                config.demo_oplux_endpoint.as_deref(),
                &master_keys,
                &peppers,
                &config.outbound,
            )
            .await
            .context("cannot create the demo client")?
        } else {
            None
        };
        let keys = dev_keys::jwt_keys(&config)?;

        let listener = TcpListener::bind(&config.listen)
            .with_context(|| format!("cannot listen on {} (RENKEI_LISTEN)", config.listen))?;
        let local = listener.local_addr()?;
        let port = local.port();
        let public_url = config.public_url.clone().unwrap_or_else(|| {
            if local.ip().is_unspecified() {
                tracing::warn!("RENKEI_PUBLIC_URL is not set: public links (feeds, banners) use {local}");
            }
            format!("http://{local}")
        });

        // The process's one metrics registry (`metrics`).
        let mut metrics = Metrics::new();
        metrics.register(store::write::register_metrics);
        let screening_writes =
            crate::screening::writes::ScreeningWrites::start(&db, &metrics.screening_writes, config.write_gather);
        let state = web::Data::new(AppState {
            db: db.clone(),
            tokens: TokenService::new(&config.auth, keys),
            token_failures: FailureLimiter::new(config.auth.failure_limit, config.auth.failure_window),
            metrics,
            master_keys,
            public_url,
            oplux: OpluxClient::new(
                config.oplux_test_url.clone(),
                config.oplux_production_url.clone(),
                (config.oplux_breaker_threshold, config.oplux_breaker_cool_down),
                &config.outbound,
            )
            .with_v2(config.oplux_test_v2_url.clone(), config.oplux_production_v2_url.clone()),
            checkout_cache: Default::default(),
            shop_versions: ShopVersions::new(config.cache_ttl),
            clients: ClientCache::new(config.cache_ttl),
            screening_contexts: Default::default(),
            screening_writes,
            peppers,
            credentials: crate::auth::clients::CredentialCache::new(config.cache_ttl),
            trusted_proxies: config.auth.trusted_proxies.clone(),
            token_failure_delay: config.auth.failure_delay,
            outbound: config.outbound.clone(),
            metrics_token: config.metrics_token.clone(),
            metrics_served: !config.is_production() || config.metrics_token.is_some(),
            body_read_timeout: config.body_read_timeout,
            cert_warning_days: config.cert_warning_days,
            webhook_requests: crate::webhooks::limit::ShopLimiter::new(
                crate::webhooks::limit::REQUESTS_PER_MINUTE,
                std::time::Duration::from_secs(60),
            ),
        });
        let jobs = start_jobs(&config, &state, &db);
        let document = web::Data::new(ServedDocument::committed());
        let cors_origins = config.cors_origins.clone();
        // Slow clients cannot hold a connection: the head must arrive within
        // `client_request_timeout`, the body within `body_read_timeout` (see
        // `http::observe`). Errors actix answers itself get a problem+json body (`http::wire`).
        let server = http::wire::serve(
            listener,
            config.workers,
            config.shutdown_timeout,
            config.client_request_timeout,
            move || http::app(state.clone(), document.clone(), cors_origins.clone()),
        )?;
        tracing::info!(port, "renkei is listening");
        Ok(Self {
            port,
            server,
            db,
            jobs,
            demo_credentials,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// A handle to stop the server gracefully.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (SIGINT/SIGTERM stop it gracefully), then stops the
    /// background work (passes end at their next step, leases are released).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        self.jobs.shutdown().await;
        served
    }
}

/// The background work of this replica, on one runner: webhook deliveries, the
/// certificate check, SQLite checkpoints, event retention, and the manual-review poller
/// unless `RENKEI_OPLUX_SYNC_INTERVAL_SECS` is 0.
fn start_jobs(config: &Config, state: &web::Data<AppState>, db: &DatabaseConnection) -> Jobs {
    let mut jobs = Jobs::new(db.clone());
    let worker = Worker::new(
        db.clone(),
        state.master_keys.clone(),
        &state.outbound,
        Settings {
            poll_interval: config.webhook_poll_interval,
            retry_base: config.webhook_retry_base,
            disable_after: config.webhook_disable_after,
        },
    );
    jobs.service("webhook-worker", move |stop| worker.run(stop));
    let checked = db.clone();
    jobs.every_here("certificate-expiry", config.cert_check_interval, move || {
        let db = checked.clone();
        async move {
            if let Err(err) = certificates::check_expiring(&db, chrono::Utc::now()).await {
                tracing::warn!(error = %err, "the certificate expiry check failed; it runs again later");
            }
        }
    });
    if !store::is_postgres(db) {
        let checkpointed = db.clone();
        jobs.every_here("sqlite-checkpoint", store::write::CHECKPOINT_EVERY, move || {
            let db = checkpointed.clone();
            async move { store::write::checkpoint(&db).await }
        });
    }
    let keep = config.event_retention;
    jobs.every(
        "event-retention",
        config.event_retention_interval,
        std::time::Duration::from_secs(30),
        move |pass| crate::webhooks::retention::run_pass(pass, keep),
    );
    if !config.oplux_sync_interval.is_zero() {
        let schedule = SyncSchedule {
            interval: config.oplux_sync_interval,
            window: config.oplux_sync_window,
            batch: config.oplux_sync_batch,
        };
        let state = state.clone();
        jobs.every(
            "oplux-manual-review",
            schedule.interval,
            std::time::Duration::from_secs(30),
            move |pass| {
                let state = state.clone();
                async move {
                    match state.reviews().poll(schedule, &pass).await {
                        Ok(asked) if asked > 0 => tracing::info!(asked, "manual reviews polled"),
                        Ok(_) => {}
                        Err(err) => tracing::warn!(error = %err, "the manual-review poller failed"),
                    }
                }
            },
        );
    }
    jobs
}

/// The peppers client secrets are hashed with, for this configuration (the command line
/// creates clients with the same ones the server verifies with).
pub fn peppers(config: &Config) -> anyhow::Result<Peppers> {
    let master_keys = dev_keys::master_keys(config)?;
    Ok(Peppers::new(config.auth.client_secret_pepper.as_ref(), &master_keys))
}
