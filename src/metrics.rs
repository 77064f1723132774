//! The process's metrics: one `prometheus-client` registry, built at start-up and owned
//! by `Metrics` (in the application state), encoded in the Prometheus text format by the
//! crate. Labels are typed label sets: an observation with `&'static str` labels does not
//! allocate once its series exists.

use prometheus_client::{
    encoding::{EncodeLabelSet, prometheus_text},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

/// Latency buckets in seconds.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The `Content-Type` of what `Metrics::encode` writes (text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Latency histograms (`LATENCY_BUCKETS`), one per label set.
pub type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// An empty family of latency histograms.
pub fn histograms<L: Clone + std::hash::Hash + Eq>() -> Histograms<L> {
    Family::new_with_constructor(latency_histogram)
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS.iter().copied())
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: &'static str,
    /// The route's pattern (never the path: a path can carry a secret or mint series).
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScreeningLabels {
    pub result: &'static str,
    pub decision: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DatabaseLabel {
    /// `sqlite` or `postgres`.
    pub database: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WriteLabel {
    /// `claim` or `finish`.
    pub write: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    pub state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: &'static str,
}

/// The single series of a gauge that can be left out (a family of at most one).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NoLabels {}

/// The screening writes' metrics (`screening::writes`), kept by its writers.
#[derive(Clone)]
pub struct ScreeningWriteMetrics {
    pub writes: Histograms<WriteLabel>,
    pub batches: Histograms<DatabaseLabel>,
    pub queue_waits: Histograms<DatabaseLabel>,
    pub queued: Family<DatabaseLabel, Gauge>,
}

/// Gauges read when `/metrics` is scraped (`http::routes::health`) and set just before
/// the registry is encoded.
pub struct ScrapeGauges {
    pub breaker_circuits: Family<StateLabel, Gauge>,
    pub pool_connections: Family<StateLabel, Gauge>,
    pub reviews_open: Family<ResultLabel, Gauge>,
    /// Empty when the review queue could not be read.
    pub review_oldest_age: Family<NoLabels, Gauge>,
    /// SQLite's heap in bytes; empty on PostgreSQL.
    pub sqlite_memory: Family<NoLabels, Gauge>,
}

/// Every metric of the process, in its one registry.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_durations: Histograms<HttpLabels>,
    screenings: Family<ScreeningLabels, Counter>,
    oplux_latency: Histograms<OutcomeLabel>,
    pub screening_writes: ScreeningWriteMetrics,
    pub scrape: ScrapeGauges,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Adds metrics kept elsewhere (`store::write::register_metrics`) to the one registry.
    pub fn register(&mut self, with: impl FnOnce(&mut Registry)) {
        with(&mut self.registry);
    }

    /// The registry with the metrics of the HTTP layer and the screening service; the
    /// store's own join it through `register` (the store imports this module, not the
    /// other way round).
    pub fn new() -> Self {
        let mut registry = Registry::default();
        // Counters are registered without `_total`: the encoder appends it.
        let http_requests = Family::default();
        registry.register(
            "renkei_http_requests",
            "HTTP requests answered, by method, route and status",
            http_requests.clone(),
        );
        let http_durations = histograms();
        registry.register(
            "renkei_http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route and status",
            http_durations.clone(),
        );
        let screenings = Family::default();
        registry.register(
            "renkei_screenings",
            "Orders screened, by result (NONE: not screened) and decision",
            screenings.clone(),
        );
        let oplux_latency = histograms();
        registry.register(
            "renkei_oplux_request_duration_seconds",
            "Time of O-PLUX calls, by outcome (answered, rejected, failed)",
            oplux_latency.clone(),
        );
        let scrape = ScrapeGauges {
            breaker_circuits: Family::default(),
            pool_connections: Family::default(),
            reviews_open: Family::default(),
            review_oldest_age: Family::default(),
            sqlite_memory: Family::default(),
        };
        registry.register(
            "renkei_oplux_breaker_circuits",
            "O-PLUX circuit breakers (one per shop and endpoint) that are open or half-open (trial)",
            scrape.breaker_circuits.clone(),
        );
        registry.register(
            "renkei_db_pool_connections",
            "Database pool connections: in use, idle, and the pool's maximum",
            scrape.pool_connections.clone(),
        );
        let screening_writes = ScreeningWriteMetrics {
            writes: histograms(),
            batches: histograms(),
            queue_waits: histograms(),
            queued: Family::default(),
        };
        registry.register(
            "renkei_screening_write_seconds",
            "Time from queueing a screening's claim or finish to the commit that holds it (group commit included)",
            screening_writes.writes.clone(),
        );
        registry.register(
            "renkei_screening_batch_seconds",
            "Time a batch of screening writes took on its writer's connection: building, statements and commit (retries included)",
            screening_writes.batches.clone(),
        );
        registry.register(
            "renkei_screening_write_queue_seconds",
            "Time a screening's claim or finish waited in the queue until a writer took it into a batch",
            screening_writes.queue_waits.clone(),
        );
        registry.register(
            "renkei_screening_write_queue",
            "Screening claims and finishes waiting in the queue for a writer",
            screening_writes.queued.clone(),
        );
        registry.register(
            "renkei_reviews_open",
            "Reviews waiting for a shop's decision (the review queue), by automatic result; all shops",
            scrape.reviews_open.clone(),
        );
        registry.register(
            "renkei_review_oldest_open_age_seconds",
            "How long the oldest open review of any shop has waited (0 when none is open)",
            scrape.review_oldest_age.clone(),
        );
        registry.register(
            "renkei_sqlite_memory_bytes",
            "SQLite's heap in this process: page caches, prepared statements, schemas (SQLite only)",
            scrape.sqlite_memory.clone(),
        );
        Self {
            registry,
            http_requests,
            http_durations,
            screenings,
            oplux_latency,
            screening_writes,
            scrape,
        }
    }

    /// An HTTP request answered: counted and timed.
    pub fn observe_request(&self, labels: HttpLabels, seconds: f64) {
        self.http_requests.get_or_create(&labels).inc();
        self.http_durations.get_or_create(&labels).observe(seconds);
    }

    /// A screening done (`result` NONE when the order was not screened).
    pub fn observe_screening(&self, result: &'static str, decision: &'static str) {
        self.screenings
            .get_or_create(&ScreeningLabels { result, decision })
            .inc();
    }

    /// An O-PLUX call sent: its outcome and time.
    pub fn observe_oplux(&self, outcome: &'static str, seconds: f64) {
        self.oplux_latency
            .get_or_create(&OutcomeLabel { outcome })
            .observe(seconds);
    }

    /// The registry in the Prometheus text format (`CONTENT_TYPE`).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail; a metric that could would only cut the text.
        let _ = prometheus_text::encode(&mut text, &self.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_counts_buckets_and_escaped_labels() {
        let metrics = Metrics::new();
        let labels = || HttpLabels {
            method: "GET",
            route: "/a\"b".into(),
            status: 200,
        };
        metrics.observe_request(labels(), 0.003);
        metrics.observe_request(labels(), 0.2);
        let text = metrics.encode();
        assert!(
            text.contains("renkei_http_requests_total{method=\"GET\",route=\"/a\\\"b\",status=\"200\"} 2"),
            "{text}"
        );
        assert!(text.contains("le=\"0.005\"} 1"), "{text}");
        assert!(text.contains("le=\"1\"} 2"), "{text}");
        assert!(text.contains("le=\"+Inf\"} 2"), "{text}");
        assert!(text.contains("# TYPE renkei_http_request_duration_seconds histogram"));
        assert!(text.contains("# TYPE renkei_http_requests_total counter"));
        assert!(
            !text.contains("renkei_screenings_total"),
            "no series, no family: {text}"
        );
        metrics.observe_screening("NG", "redirect");
        let text = metrics.encode();
        assert!(text.contains("# HELP renkei_screenings_total Orders screened, by result"));
        assert!(text.contains("renkei_screenings_total{result=\"NG\",decision=\"redirect\"} 1"));
    }

    #[test]
    fn a_gauge_without_labels_is_one_bare_sample_and_can_be_left_out() {
        let metrics = Metrics::new();
        metrics.scrape.review_oldest_age.get_or_create(&NoLabels {}).set(42);
        assert!(
            metrics
                .encode()
                .lines()
                .any(|l| l == "renkei_review_oldest_open_age_seconds 42")
        );
        metrics.scrape.review_oldest_age.clear();
        assert!(
            !metrics
                .encode()
                .lines()
                .any(|l| l.starts_with("renkei_review_oldest_open_age_seconds "))
        );
    }
}
