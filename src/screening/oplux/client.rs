//! The O-PLUX HTTP client: one shared connection pool, the account's timeout, a circuit
//! breaker per shop and endpoint, and logs without personal data or secrets. Every call
//! goes through the outbound policy (`outbound::policy`): allow-listed stand-ins only,
//! internal addresses refused, no redirects. What a failure reports is only "unreachable",
//! "timed out" or O-PLUX's HTTP status: the details stay in renkei's log.

use std::time::{Duration, Instant};

use super::{
    breaker::{Breaker, Permit},
    protocol::{self, Answer, Credentials},
    protocol_v2::{self, Form, Update, V2Answer},
};
use crate::{
    accounts::providers::fraud::OpluxEndpoint,
    outbound::{
        OutboundPolicy, Refusal, Url,
        body::{MAX_ANSWER_BYTES, ReadError, read_capped},
        policy::Failure,
        redacted, redacted_text,
    },
    screening::request::ScreenedOrder,
};
use chrono::Utc;

pub struct OpluxClient {
    http: reqwest::Client,
    policy: OutboundPolicy,
    pub breaker: Breaker,
    test_url: String,
    production_url: Option<String>,
    /// The v2 event URLs of `endpoint: test` and `endpoint: production`.
    v2_test_url: String,
    v2_production_url: Option<String>,
}

/// A call's outcome and how long it took.
/// O-PLUX's answer, or why there was none (words a tenant may see).
pub type CallOutcome = Result<Answer, String>;

pub struct Call {
    pub outcome: CallOutcome,
    pub latency: Duration,
    /// Whether the request left renkei (false when the breaker refused it).
    pub sent: bool,
    /// O-PLUX's HTTP status, when it answered.
    pub http_status: Option<u16>,
}

impl Call {
    /// A call that never left renkei (policy, configuration or an open circuit).
    fn not_sent(reason: String, started: Instant) -> Self {
        Call {
            outcome: Err(reason),
            latency: started.elapsed(),
            sent: false,
            http_status: None,
        }
    }
}

/// A v2 call's outcome (see `Call`).
pub struct V2Call {
    pub outcome: Result<V2Answer, String>,
    pub latency: Duration,
    pub sent: bool,
    pub http_status: Option<u16>,
}

/// The test environment's v2 event URL.
pub const V2_TEST_URL: &str = "https://staging.o-plux.com/v2/event";

impl OpluxClient {
    /// `breaker`: consecutive failures that open a circuit, and how long it stays open.
    pub fn new(
        test_url: String,
        production_url: Option<String>,
        breaker: (u32, Duration),
        policy: &OutboundPolicy,
    ) -> Self {
        crate::crypto::install_tls_provider();
        let http = policy
            .client_builder()
            // Every concurrent call keeps its connection for the next order: closing all
            // but a few at peak made a new TCP connection per call.
            .pool_max_idle_per_host(1024)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .user_agent(concat!("renkei/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client configuration is valid");
        Self {
            http,
            policy: policy.clone(),
            breaker: Breaker::new(breaker.0, breaker.1),
            test_url,
            production_url,
            v2_test_url: V2_TEST_URL.to_string(),
            v2_production_url: None,
        }
    }

    /// The v2 event URLs of `endpoint: test` and `endpoint: production`.
    pub fn with_v2(mut self, test_url: String, production_url: Option<String>) -> Self {
        self.v2_test_url = test_url;
        self.v2_production_url = production_url;
        self
    }

    /// The outbound policy this client calls under.
    pub fn outbound(&self) -> &OutboundPolicy {
        &self.policy
    }

    /// The base URL of an account's `endpoint` setting (without a trailing slash). A
    /// stand-in URL must still be allow-listed (it may have been saved before the operator
    /// changed the list).
    fn base_url(&self, endpoint: &OpluxEndpoint) -> Result<String, String> {
        match endpoint {
            OpluxEndpoint::Test => Ok(self.test_url.clone()),
            OpluxEndpoint::Production => self.production_url.clone().ok_or_else(|| {
                tracing::error!("an account uses endpoint production, but RENKEI_OPLUX_PRODUCTION_URL is not set");
                Failure::Unreachable.as_str().to_string()
            }),
            OpluxEndpoint::Url(url) => {
                permitted(self.policy.check_configured_url(url))?;
                Ok(url.trim_end_matches('/').to_string())
            }
        }
    }

    /// `base` followed by `path`, parsed once and checked by the outbound policy: the URL
    /// that is checked is the one handed to the HTTP client.
    fn target(&self, base: &str, path: &str) -> Result<Url, String> {
        permitted(
            self.policy
                .check_request_url(&format!("{}{path}", base.trim_end_matches('/'))),
        )
    }

    /// Registers an order event. Never retried once it may have reached O-PLUX; a refused
    /// connection (nothing sent) is tried once more within the time left.
    pub async fn register(
        &self,
        shop_id: &str,
        endpoint: &OpluxEndpoint,
        timeout: Duration,
        credentials: &Credentials<'_>,
        order: &ScreenedOrder<'_>,
    ) -> Call {
        let started = Instant::now();
        let base = match self.permitted_base(shop_id, endpoint) {
            Ok(base) => base,
            Err(message) => return Call::not_sent(message, started),
        };
        let body = protocol::event_request(credentials, order, Utc::now());
        tracing::debug!(
            order_number = %order.request.order_number,
            amount = order.request.amount,
            method = body.settle_method(),
            endpoint = %redacted_text(&base),
            "O-PLUX request (personal data and signature not logged)"
        );
        let url = match self.target(&base, protocol::EVENT_PATH) {
            Ok(url) => url,
            Err(message) => return Call::not_sent(message, started),
        };
        let (outcome, http_status) = self.post_event(url, &body, started + timeout).await;
        let answered = matches!(&outcome, Ok(Answer::Screened { .. }) | Ok(Answer::Rejected { .. }));
        self.breaker.record(shop_id, &base, answered);
        let latency = started.elapsed();
        log_answer(order.request.order_number.as_str(), &outcome, latency);
        Call {
            outcome,
            latency,
            sent: true,
            http_status,
        }
    }

    /// The base URL to call, unless the policy refuses it or the shop's circuit is open.
    fn permitted_base(&self, shop_id: &str, endpoint: &OpluxEndpoint) -> Result<String, String> {
        let base = self.base_url(endpoint)?;
        if self.breaker.permit(shop_id, &base) == Permit::Refuse {
            tracing::debug!(shop = %shop_id, endpoint = %redacted_text(&base), "O-PLUX circuit open: not calling");
            return Err(COOLING_DOWN.into());
        }
        Ok(base)
    }

    /// POSTs the event until `deadline`; once more only when nothing reached O-PLUX.
    async fn post_event(
        &self,
        url: Url,
        body: &protocol::EventRequest<'_>,
        deadline: Instant,
    ) -> (CallOutcome, Option<u16>) {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return (Err(Failure::TimedOut.as_str().into()), None);
            }
            let sent = self
                .http
                .post(url.clone())
                .header("content-type", "application/json; charset=UTF-8")
                .timeout(left)
                .json(body)
                .send()
                .await;
            match sent {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let remaining = deadline.saturating_duration_since(Instant::now());
                    let outcome = read_answer(response, remaining)
                        .await
                        .and_then(|bytes| protocol::parse_answer(status, &bytes));
                    return (outcome, Some(status));
                }
                // Nothing reached O-PLUX: safe to try once more.
                Err(err) if err.is_connect() && attempt == 1 => continue,
                Err(err) => return (Err(failure(&err)), None),
            }
        }
    }

    /// The v2 event URL of an account's `endpoint` setting: O-PLUX's environments by
    /// configuration, `{base}/v2/event` for a stand-in (allow-listed, as for v3).
    fn v2_url(&self, endpoint: &OpluxEndpoint) -> Result<Url, String> {
        match endpoint {
            OpluxEndpoint::Test => self.target(&self.v2_test_url, ""),
            OpluxEndpoint::Production => {
                let url = self.v2_production_url.as_deref().ok_or_else(|| {
                    tracing::error!(
                        "an account uses endpoint production, but RENKEI_OPLUX_PRODUCTION_V2_URL is not set"
                    );
                    Failure::Unreachable.as_str().to_string()
                })?;
                self.target(url, "")
            }
            OpluxEndpoint::Url(_) => self.target(&self.base_url(endpoint)?, protocol_v2::V2_PATH),
        }
    }

    /// GETs one event's review state (v2).
    pub async fn v2_get(
        &self,
        shop_id: &str,
        endpoint: &OpluxEndpoint,
        timeout: Duration,
        credentials: &Credentials<'_>,
        event_id: &str,
    ) -> V2Call {
        let form = protocol_v2::get_query(credentials, event_id, Utc::now());
        let mut call = self.v2_call(shop_id, endpoint, timeout, V2Request::Get(form)).await;
        // An answer about another event is no answer: it is not this order's.
        if let Ok(V2Answer::Event(event)) = &call.outcome
            && event.event_id != event_id
        {
            tracing::warn!(shop = %shop_id, "O-PLUX answered a v2 GET about another event than the one asked");
            call.outcome = Err(protocol_v2::ANOTHER_EVENT.into());
        }
        call
    }

    /// PUTs an update of one event (v2). Never retried once it may have reached O-PLUX.
    pub async fn v2_put(
        &self,
        shop_id: &str,
        endpoint: &OpluxEndpoint,
        timeout: Duration,
        credentials: &Credentials<'_>,
        event_id: &str,
        update: &Update,
    ) -> V2Call {
        let form = protocol_v2::put_form(credentials, event_id, update, Utc::now());
        self.v2_call(shop_id, endpoint, timeout, V2Request::Put(form)).await
    }

    async fn v2_call(&self, shop_id: &str, endpoint: &OpluxEndpoint, timeout: Duration, request: V2Request) -> V2Call {
        let started = Instant::now();
        let not_sent = |message: String| V2Call {
            outcome: Err(message),
            latency: started.elapsed(),
            sent: false,
            http_status: None,
        };
        let url = match self.v2_url(endpoint) {
            Ok(url) => url,
            Err(message) => return not_sent(message),
        };
        let breaker_key = redacted(&url);
        if self.breaker.permit(shop_id, &breaker_key) == Permit::Refuse {
            return not_sent(COOLING_DOWN.into());
        }
        let (builder, parse): (_, ParseV2) = match &request {
            V2Request::Get(form) => {
                let mut url = url.clone();
                url.set_query(Some(&encode(form)));
                (self.http.get(url), protocol_v2::parse_get)
            }
            V2Request::Put(form) => (
                self.http
                    .put(url.clone())
                    .header("content-type", "application/x-www-form-urlencoded; charset=UTF-8")
                    .body(encode(form)),
                protocol_v2::parse_put,
            ),
        };
        let mut http_status = None;
        let outcome = match builder.timeout(timeout).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                http_status = Some(status);
                let remaining = timeout.saturating_sub(started.elapsed());
                read_answer(response, remaining)
                    .await
                    .and_then(|bytes| parse(status, &bytes))
            }
            Err(err) => Err(failure(&err)),
        };
        let answered = outcome.is_ok();
        self.breaker.record(shop_id, &breaker_key, answered);
        let latency = started.elapsed();
        match &outcome {
            Ok(V2Answer::Rejected { status, errors }) => tracing::warn!(
                shop = %shop_id, status,
                codes = %errors.iter().map(|e| e.code.as_str()).collect::<Vec<_>>().join(","),
                "O-PLUX refused a v2 request"
            ),
            Ok(_) => tracing::debug!(shop = %shop_id, latency_ms = latency.as_millis() as u64, "O-PLUX v2 answer"),
            Err(reason) => tracing::warn!(shop = %shop_id, reason = %reason, "O-PLUX gave no v2 answer"),
        }
        V2Call {
            outcome,
            latency,
            sent: true,
            http_status,
        }
    }
}

const COOLING_DOWN: &str = "O-PLUX has failed repeatedly; not called during the cool-down";

/// What a failure says when O-PLUX's answer is larger than renkei reads.
pub const TOO_LARGE: &str = "an answer larger than 1 MiB";

/// Whether a call's failure is an answer that broke a bound (too large, too deep, about
/// another event): O-PLUX answered, but nothing usable.
pub fn is_unbounded_answer(reason: &str) -> bool {
    [
        TOO_LARGE,
        protocol_v2::TOO_DEEP,
        protocol_v2::ANOTHER_EVENT,
        protocol::LONG_EVENT_ID,
    ]
    .contains(&reason)
}

/// `url` when the outbound policy's check let it through; else "unreachable" (the
/// reason is logged for the operator, never shown to the tenant).
fn permitted<T>(checked: Result<T, Refusal>) -> Result<T, String> {
    checked.map_err(|refusal| {
        tracing::warn!(reason = %refusal, "O-PLUX call refused by the outbound policy");
        Failure::Unreachable.as_str().into()
    })
}

/// An answer's body, at most `MAX_ANSWER_BYTES` of it, within `time`.
async fn read_answer(response: reqwest::Response, time: Duration) -> Result<Vec<u8>, String> {
    match tokio::time::timeout(time, read_capped(response, MAX_ANSWER_BYTES)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(ReadError::TooLarge)) => {
            tracing::warn!("O-PLUX answered more than 1 MiB: not read");
            Err(TOO_LARGE.into())
        }
        Ok(Err(ReadError::Transport(err))) => Err(failure(&err)),
        Err(_) => Err(Failure::TimedOut.as_str().into()),
    }
}

/// Reads a v2 answer of an HTTP status.
type ParseV2 = fn(u16, &[u8]) -> Result<V2Answer, String>;

enum V2Request {
    Get(Form),
    Put(Form),
}

fn encode(form: &Form) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
        .finish()
}

/// What the tenant sees of a transport failure; the kind of error goes to renkei's log.
fn failure(err: &reqwest::Error) -> String {
    tracing::debug!(
        kind = crate::outbound::policy::error_kind(err),
        "O-PLUX transport failure"
    );
    Failure::of(err).as_str().to_string()
}

/// What O-PLUX answered, in the debug or warn log (no personal data).
fn log_answer(order_number: &str, outcome: &CallOutcome, latency: Duration) {
    match outcome {
        Ok(Answer::Screened { verdict, event_id, .. }) => tracing::debug!(
            order_number = %order_number, result = verdict.as_str(), event_id = %event_id,
            latency_ms = latency.as_millis() as u64, "O-PLUX answer"
        ),
        Ok(Answer::Rejected { status, errors }) => tracing::warn!(
            order_number = %order_number, status,
            codes = %errors.iter().map(|e| e.code.as_str()).collect::<Vec<_>>().join(","),
            "O-PLUX refused the event"
        ),
        Err(reason) => tracing::warn!(order_number = %order_number, reason = %reason, "O-PLUX gave no answer"),
    }
}
