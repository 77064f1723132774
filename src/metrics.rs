//! Prometheus metrics in text exposition format, without a metrics framework: a few
//! labelled histograms and counters behind short-held locks.

use std::{collections::BTreeMap, fmt::Write, sync::Mutex};

/// Latency buckets in seconds.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

pub struct HistogramVec {
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
    buckets: &'static [f64],
    series: Mutex<BTreeMap<Vec<String>, Series>>,
    /// Also render `<counter_name>` with the observation count per label set.
    counter: Option<(&'static str, &'static str)>,
}

struct Series {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl HistogramVec {
    pub fn new(name: &'static str, help: &'static str, labels: &'static [&'static str]) -> Self {
        Self {
            name,
            help,
            labels,
            buckets: LATENCY_BUCKETS,
            series: Mutex::new(BTreeMap::new()),
            counter: None,
        }
    }

    /// Renders a counter of the observations beside the histogram.
    pub fn with_counter(mut self, name: &'static str, help: &'static str) -> Self {
        self.counter = Some((name, help));
        self
    }

    pub fn observe(&self, label_values: &[&str], value: f64) {
        let key: Vec<String> = label_values.iter().map(|v| v.to_string()).collect();
        let mut series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let entry = series.entry(key).or_insert_with(|| Series {
            counts: vec![0; self.buckets.len()],
            sum: 0.0,
            count: 0,
        });
        for (i, bound) in self.buckets.iter().enumerate() {
            if value <= *bound {
                entry.counts[i] += 1;
            }
        }
        entry.sum += value;
        entry.count += 1;
    }

    pub fn render(&self, out: &mut String) {
        let series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((name, help)) = self.counter {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (values, s) in series.iter() {
                let _ = writeln!(out, "{name}{{{}}} {}", label_text(self.labels, values), s.count);
            }
        }
        let name = self.name;
        let _ = writeln!(out, "# HELP {name} {}\n# TYPE {name} histogram", self.help);
        for (values, s) in series.iter() {
            let labels = label_text(self.labels, values);
            let sep = if labels.is_empty() { "" } else { "," };
            for (bound, count) in self.buckets.iter().zip(&s.counts) {
                let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {count}");
            }
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", s.count);
            let _ = writeln!(out, "{name}_sum{{{labels}}} {}", s.sum);
            let _ = writeln!(out, "{name}_count{{{labels}}} {}", s.count);
        }
    }
}

fn label_text(names: &[&str], values: &[String]) -> String {
    names
        .iter()
        .zip(values)
        .map(|(n, v)| {
            format!(
                "{n}=\"{}\"",
                v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A labelled counter.
pub struct CounterVec {
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
    series: Mutex<BTreeMap<Vec<String>, u64>>,
}

impl CounterVec {
    pub fn new(name: &'static str, help: &'static str, labels: &'static [&'static str]) -> Self {
        Self {
            name,
            help,
            labels,
            series: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn increment(&self, label_values: &[&str]) {
        let key: Vec<String> = label_values.iter().map(|v| v.to_string()).collect();
        *self
            .series
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default() += 1;
    }

    pub fn render(&self, out: &mut String) {
        let name = self.name;
        let _ = writeln!(out, "# HELP {name} {}\n# TYPE {name} counter", self.help);
        for (values, count) in self.series.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let _ = writeln!(out, "{name}{{{}}} {count}", label_text(self.labels, values));
        }
    }
}

/// Renders a gauge with one series per label set.
pub fn render_gauge(out: &mut String, name: &str, help: &str, label: &str, series: &[(String, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (value, gauge) in series {
        let _ = writeln!(
            out,
            "{name}{{{}}} {gauge}",
            label_text(&[label], std::slice::from_ref(value))
        );
    }
}

/// Renders a gauge without labels.
pub fn render_value(out: &mut String, name: &str, help: &str, value: f64) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
}

/// Every metric of the process.
pub struct Metrics {
    pub http_requests: HistogramVec,
    pub screenings: CounterVec,
    pub oplux_latency: HistogramVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            http_requests: HistogramVec::new(
                "renkei_http_request_duration_seconds",
                "Time to answer an HTTP request, by method, route and status.",
                &["method", "route", "status"],
            )
            .with_counter(
                "renkei_http_requests_total",
                "HTTP requests answered, by method, route and status.",
            ),
            screenings: CounterVec::new(
                "renkei_screenings_total",
                "Orders screened, by result (NONE: not screened) and decision.",
                &["result", "decision"],
            ),
            oplux_latency: HistogramVec::new(
                "renkei_oplux_request_duration_seconds",
                "Time of O-PLUX calls, by outcome (answered, rejected, failed).",
                &["outcome"],
            ),
        }
    }
}

impl Metrics {
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.http_requests.render(&mut out);
        self.screenings.render(&mut out);
        self.oplux_latency.render(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_buckets_and_escaped_labels() {
        let metrics = Metrics::default();
        metrics.http_requests.observe(&["GET", "/a\"b", "200"], 0.003);
        metrics.http_requests.observe(&["GET", "/a\"b", "200"], 0.2);
        let text = metrics.render();
        assert!(text.contains("renkei_http_requests_total{method=\"GET\",route=\"/a\\\"b\",status=\"200\"} 2"));
        assert!(text.contains("le=\"0.005\"} 1"));
        assert!(text.contains("le=\"+Inf\"} 2"));
        assert!(text.contains("# TYPE renkei_http_request_duration_seconds histogram"));
    }
}
