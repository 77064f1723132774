//! `renkei oplux-mock`: a local stand-in for O-PLUX's v3 event registration, so that
//! development, tests, docker-compose and benchmarks need no O-PLUX contract. It checks
//! the signature (403 when wrong) and answers by the last digit of the buyer's phone
//! number: 0 OK, 1 HOLD, 2 REVIEW, 3 NG (with a rule), 7 an error answer (HTTP 200 with
//! `result: 20` and two errors), 8 sleeps past any timeout, 9 HTTP 500; anything else OK. `GET /stats` counts the events received per order;
//! `GET /events/{order_number}` shows the last event received for an order (the most
//! recent orders only), so that tests see what renkei sent.
//!
//! It serves the v2 event API too (`/v2/event`: GET an event's manual review as XML, PUT
//! updates as a form), checking the signature (`request.signiture`). A test sets an
//! event's manual result with `PUT /mock/events/{event_id}/manual-result`
//! (`{result, memo}`), makes O-PLUX refuse the event's v2 requests with
//! `PUT /mock/events/{event_id}/refusal` (`{code}`), and reads how many GETs the event
//! had and every update received with `GET /mock/events/{event_id}`.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    net::TcpListener,
    sync::Mutex,
    time::Duration,
};

use actix_web::{App, HttpResponse, HttpServer, dev::ServerHandle, web};
use serde_json::{Value, json};

use crate::crypto::{random::hex, random_bytes};
use crate::screening::oplux::{
    protocol::{self, EVENT_PATH},
    protocol_v2,
};

/// How long digit 8 (and timeout faults) sleep: past the largest `timeout_ms` (30 s).
pub const SLOW: Duration = Duration::from_secs(35);

#[derive(Debug, Clone)]
pub struct MockCredential {
    pub merchant_id: String,
    pub source_id: String,
    pub secret_key: String,
}

impl MockCredential {
    /// `merchant_id:source_id:secret_key`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.splitn(3, ':').collect();
        match parts.as_slice() {
            [merchant, source, secret] if !merchant.is_empty() && !source.is_empty() && !secret.is_empty() => {
                Ok(Self {
                    merchant_id: merchant.to_string(),
                    source_id: source.to_string(),
                    secret_key: secret.to_string(),
                })
            }
            _ => Err(format!("'{text}' is not merchant_id:source_id:secret_key")),
        }
    }

    /// The credentials of the demo shop (see `.env.example`).
    pub fn demo() -> Self {
        Self {
            merchant_id: "demo-merchant".into(),
            source_id: "demo-source".into(),
            secret_key: "demo-secret-key".into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct MockConfig {
    pub listen: String,
    pub credentials: Vec<MockCredential>,
    /// Added to every answer (stands in for O-PLUX's real round trip).
    pub latency: Duration,
    /// Share of answers (0–1) that fail: half HTTP 500, half a timeout.
    pub fault_rate: f64,
    pub workers: usize,
}

/// How many orders' last events the stand-in keeps (benchmarks send many more).
pub const KEPT_EVENTS: usize = 1000;

#[derive(Default)]
struct Stats {
    total: u64,
    events: BTreeMap<String, u64>,
    /// The last event body per order number, the oldest order dropped first.
    last: HashMap<String, Value>,
    order: VecDeque<String>,
}

impl Stats {
    fn record(&mut self, order: &str, body: Value) {
        self.total += 1;
        *self.events.entry(order.to_string()).or_default() += 1;
        if self.last.insert(order.to_string(), body).is_none() {
            self.order.push_back(order.to_string());
        }
        while self.order.len() > KEPT_EVENTS {
            if let Some(oldest) = self.order.pop_front() {
                self.last.remove(&oldest);
            }
        }
    }
}

/// What the stand-in knows of an event it registered (v2).
#[derive(Default, serde::Serialize)]
struct MockEvent {
    order_number: String,
    verdict: String,
    /// `(result, memo)` once set by a test or a v2 PUT.
    manual: Option<(String, String)>,
    /// An error code every v2 request for the event is refused with.
    #[serde(skip)]
    refusal: Option<String>,
    gets: u64,
    /// Each PUT's `request.update.*` keys (without the prefix), as received.
    updates: Vec<BTreeMap<String, String>>,
}

#[derive(Default)]
struct Events {
    by_id: HashMap<String, MockEvent>,
    order: VecDeque<String>,
}

impl Events {
    fn insert(&mut self, event_id: String, event: MockEvent) {
        self.by_id.insert(event_id.clone(), event);
        self.order.push_back(event_id);
        while self.order.len() > KEPT_EVENTS {
            if let Some(oldest) = self.order.pop_front() {
                self.by_id.remove(&oldest);
            }
        }
    }
}

struct MockState {
    config: MockConfig,
    stats: Mutex<Stats>,
    events: Mutex<Events>,
}

pub struct MockServer {
    pub port: u16,
    handle: ServerHandle,
}

impl MockServer {
    /// Binds and starts the server; the returned future runs it.
    pub fn start(config: MockConfig) -> std::io::Result<(MockServer, actix_web::dev::Server)> {
        let listener = TcpListener::bind(&config.listen)?;
        let port = listener.local_addr()?.port();
        let workers = config.workers.max(1);
        let state = web::Data::new(MockState {
            config,
            stats: Mutex::new(Stats::default()),
            events: Mutex::new(Events::default()),
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(web::JsonConfig::default().limit(1024 * 1024))
                .route(EVENT_PATH, web::post().to(register_event))
                .route(protocol_v2::V2_PATH, web::get().to(v2_get))
                .route(protocol_v2::V2_PATH, web::put().to(v2_put))
                .route("/mock/events/{event_id}", web::get().to(mock_event))
                .route(
                    "/mock/events/{event_id}/manual-result",
                    web::put().to(set_manual_result),
                )
                .route("/mock/events/{event_id}/refusal", web::put().to(set_refusal))
                .route("/stats", web::get().to(stats))
                .route("/stats", web::delete().to(reset_stats))
                .route("/events/{order_number}", web::get().to(last_event))
                .route(
                    "/healthz",
                    web::get().to(|| async { HttpResponse::Ok().json(json!({"status": "ok"})) }),
                )
        })
        .workers(workers)
        .disable_signals()
        .shutdown_timeout(0)
        .listen(listener)?
        .run();
        let handle = server.handle();
        Ok((MockServer { port, handle }, server))
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

fn error(status: u16, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap_or_default())
        .json(json!({"result": 20, "errors": [{"code": code, "message": message}]}))
}

fn chance(rate: f64) -> bool {
    let draw = u32::from_be_bytes(random_bytes::<4>()) as f64 / u32::MAX as f64;
    draw < rate
}

async fn register_event(body: web::Bytes, state: web::Data<MockState>) -> HttpResponse {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(400, "InvalidData.Json", "the body is not JSON");
    };
    let event = &request["telegram"]["event"];
    let order = event["event_id_for_shop"].as_str().unwrap_or_default().to_string();
    state
        .stats
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .record(&order, request.clone());
    let info = &request["info"];
    let shop_id = info["shop_id"].as_str().unwrap_or_default();
    let datetime = info["request_datetime"].as_str().unwrap_or_default();
    let signed = state.config.credentials.iter().any(|c| {
        c.merchant_id == shop_id
            && info["signature"].as_str()
                == Some(protocol::signature(&c.source_id, &c.merchant_id, datetime, &c.secret_key).as_str())
    });
    if !signed {
        return error(
            403,
            "Authentication.InvalidSignature",
            "the signature does not match the shop's credentials",
        );
    }
    if info["version"] != protocol::VERSION || info["hash_method"] != protocol::HASH_METHOD {
        return error(400, "InvalidData.Version", "version must be 3.0 and hash_method SHA256");
    }
    if event["model_id"].as_str().is_none_or(str::is_empty) {
        return error(400, "InvalidData.AuthoriModelNone", "model_id is required");
    }
    if order.is_empty() {
        return error(400, "InvalidData.EventIdForShop", "event_id_for_shop is required");
    }
    if !state.config.latency.is_zero() {
        tokio::time::sleep(state.config.latency).await;
    }
    if chance(state.config.fault_rate) {
        if chance(0.5) {
            return HttpResponse::InternalServerError().body("injected fault");
        }
        tokio::time::sleep(SLOW).await;
    }
    let tel = &event["ec"]["customers"]["buyer"]["tel"];
    // The number that is given: the other one is sent as "".
    let number = [&tel["mobile_number"], &tel["fixed_number"]]
        .into_iter()
        .filter_map(Value::as_str)
        .find(|n| !n.is_empty())
        .unwrap_or_default();
    let (verdict, rules) = match number.chars().last() {
        Some('1') => (
            "HOLD",
            json!([{"code": "TEST_HOLDTEL", "touchpoint": "tel", "description": "保留: テスト用電話番号"}]),
        ),
        Some('2') => (
            "REVIEW",
            json!([{"code": "TEST_REVIEWTEL", "touchpoint": "tel", "description": "要確認: テスト用電話番号"}]),
        ),
        Some('3') => (
            "NG",
            json!([{"code": "TEST_NGTEL", "touchpoint": "tel", "description": "不正: テスト用電話番号"}]),
        ),
        Some('7') => {
            return HttpResponse::Ok().json(json!({"result": 20, "errors": [
                {"code": "InvalidData.TestTel", "message": "an error answer for a phone number ending in 7"},
                {"code": "InvalidData.TestSecond", "message": "every error is answered, not only the first"},
            ]}));
        }
        Some('8') => {
            tokio::time::sleep(SLOW).await;
            ("OK", json!([]))
        }
        Some('9') => return HttpResponse::InternalServerError().body("injected error for a phone number ending in 9"),
        _ => ("OK", json!([])),
    };
    let event_id = hex(&random_bytes::<24>())[..47].to_uppercase();
    state.events.lock().unwrap_or_else(|e| e.into_inner()).insert(
        event_id.clone(),
        MockEvent {
            order_number: order.clone(),
            verdict: verdict.to_string(),
            ..MockEvent::default()
        },
    );
    HttpResponse::Ok().json(json!({
        "time": protocol::jst(chrono::Utc::now()),
        "result": protocol::RESULT_SUCCESS,
        "telegram": {"event": {
            "id": event_id,
            "aaresult": {"result": verdict},
            "rules": rules,
            "similars": [],
            "rule_group": "renkei-mock"
        }}
    }))
}

async fn stats(state: web::Data<MockState>) -> HttpResponse {
    let stats = state.stats.lock().unwrap_or_else(|e| e.into_inner());
    HttpResponse::Ok().json(json!({"total": stats.total, "events": stats.events}))
}

async fn reset_stats(state: web::Data<MockState>) -> HttpResponse {
    *state.stats.lock().unwrap_or_else(|e| e.into_inner()) = Stats::default();
    HttpResponse::NoContent().finish()
}

async fn last_event(order_number: web::Path<String>, state: web::Data<MockState>) -> HttpResponse {
    let stats = state.stats.lock().unwrap_or_else(|e| e.into_inner());
    match stats.last.get(order_number.as_str()) {
        Some(event) => HttpResponse::Ok().json(event),
        None => error(404, "NotFound.Event", "no event was received for this order number"),
    }
}

/// An XML answer of the v2 API.
fn xml(status: u16, body: String) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap_or_default())
        .content_type("application/xml; charset=UTF-8")
        .body(format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}"))
}

fn xml_error(status: u16, code: &str, message: &str) -> HttpResponse {
    xml(
        status,
        format!(
            "<response><time>1</time><result>20</result><errors><error><code>{}</code><message>{}</message></error></errors></response>",
            escape(code),
            escape(message)
        ),
    )
}

fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

/// The v2 keys of a query string or form body.
fn form(bytes: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(bytes).into_owned().collect()
}

/// Checks the common v2 keys; the refusal to answer when they do not hold.
fn check_v2(state: &MockState, keys: &HashMap<String, String>) -> Result<String, Box<HttpResponse>> {
    let get = |key: &str| keys.get(key).map(String::as_str).unwrap_or_default();
    let signed = state.config.credentials.iter().any(|c| {
        c.merchant_id == get("request.shop_id")
            && get("request.signiture")
                == protocol::signature(
                    &c.source_id,
                    &c.merchant_id,
                    get("request.request_datetime"),
                    &c.secret_key,
                )
    });
    if !signed {
        return Err(Box::new(xml_error(
            403,
            "Authentication.InvalidSignature",
            "the signature does not match the shop's credentials",
        )));
    }
    if get("request.version") != protocol_v2::VERSION || get("request.hash_method") != protocol::HASH_METHOD {
        return Err(Box::new(xml_error(
            400,
            "InvalidData.Version",
            "version must be 1.0 and hash_method SHA256",
        )));
    }
    match get("request.condition.event_id") {
        "" => Err(Box::new(xml_error(
            400,
            "InvalidData.EventId",
            "request.condition.event_id is required",
        ))),
        id => Ok(id.to_string()),
    }
}

fn no_event() -> HttpResponse {
    xml_error(200, "InvalidData.EventId", "no event has this id")
}

async fn v2_get(request: actix_web::HttpRequest, state: web::Data<MockState>) -> HttpResponse {
    let keys = form(request.query_string().as_bytes());
    let event_id = match check_v2(&state, &keys) {
        Ok(id) => id,
        Err(refusal) => return *refusal,
    };
    if !state.config.latency.is_zero() {
        tokio::time::sleep(state.config.latency).await;
    }
    let mut events = state.events.lock().unwrap_or_else(|e| e.into_inner());
    let Some(event) = events.by_id.get_mut(&event_id) else {
        return no_event();
    };
    event.gets += 1;
    if let Some(code) = &event.refusal {
        return xml_error(200, code, "refused by the stand-in");
    }
    let (result, memo) = event.manual.clone().unwrap_or_default();
    xml(
        200,
        format!(
            "<response><time>1</time><result>10</result><errors/><events><event><id>{}</id>\
             <request_datetime>{}</request_datetime><event_type>EC</event_type>\
             <aaresult><result>{}</result></aaresult>\
             <maresult><result>{}</result><reason></reason><memo>{}</memo></maresult>\
             <score><ok>0</ok><ng>0</ng><hold>0</hold></score><rules/><similars/></event></events></response>",
            escape(&event_id),
            protocol::jst(chrono::Utc::now()),
            escape(&event.verdict),
            escape(&result),
            escape(&memo)
        ),
    )
}

async fn v2_put(body: web::Bytes, state: web::Data<MockState>) -> HttpResponse {
    let keys = form(&body);
    let event_id = match check_v2(&state, &keys) {
        Ok(id) => id,
        Err(refusal) => return *refusal,
    };
    let mut events = state.events.lock().unwrap_or_else(|e| e.into_inner());
    let Some(event) = events.by_id.get_mut(&event_id) else {
        return no_event();
    };
    if let Some(code) = &event.refusal {
        return xml_error(200, code, "refused by the stand-in");
    }
    let update: BTreeMap<String, String> = keys
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("request.update.")?.to_string(), v.clone())))
        .collect();
    if let Some(code) = update.get("maResult") {
        let result = match code.as_str() {
            "10" => "OK",
            "20" => "NG",
            "30" => "HOLD",
            _ => return xml_error(200, "InvalidData.MaResult", "maResult must be 10, 20 or 30"),
        };
        let memo = update.get("memo").cloned().unwrap_or_default();
        event.manual = Some((result.to_string(), memo));
    }
    event.updates.push(update);
    xml(
        200,
        format!(
            "<response><time>1</time><result>10</result><errors/><id>{}</id></response>",
            escape(&event_id)
        ),
    )
}

#[derive(serde::Deserialize)]
struct ManualResultBody {
    result: String,
    #[serde(default)]
    memo: String,
}

async fn set_manual_result(
    event_id: web::Path<String>,
    body: web::Json<ManualResultBody>,
    state: web::Data<MockState>,
) -> HttpResponse {
    let mut events = state.events.lock().unwrap_or_else(|e| e.into_inner());
    match events.by_id.get_mut(event_id.as_str()) {
        Some(event) => {
            event.manual = Some((body.result.clone(), body.memo.clone()));
            HttpResponse::NoContent().finish()
        }
        None => error(404, "NotFound.Event", "no event has this id"),
    }
}

#[derive(serde::Deserialize)]
struct RefusalBody {
    code: String,
}

async fn set_refusal(
    event_id: web::Path<String>,
    body: web::Json<RefusalBody>,
    state: web::Data<MockState>,
) -> HttpResponse {
    let mut events = state.events.lock().unwrap_or_else(|e| e.into_inner());
    match events.by_id.get_mut(event_id.as_str()) {
        Some(event) => {
            event.refusal = Some(body.code.clone());
            HttpResponse::NoContent().finish()
        }
        None => error(404, "NotFound.Event", "no event has this id"),
    }
}

async fn mock_event(event_id: web::Path<String>, state: web::Data<MockState>) -> HttpResponse {
    let events = state.events.lock().unwrap_or_else(|e| e.into_inner());
    match events.by_id.get(event_id.as_str()) {
        Some(event) => HttpResponse::Ok().json(event),
        None => error(404, "NotFound.Event", "no event has this id"),
    }
}
