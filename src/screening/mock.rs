//! `renkei oplux-mock`: a local stand-in for O-PLUX's v3 event registration, so that
//! development, tests, docker-compose and benchmarks need no O-PLUX contract. It checks
//! the signature (403 when wrong) and answers by the last digit of the buyer's phone
//! number: 0 OK, 1 HOLD, 2 REVIEW, 3 NG (with a rule), 7 an error answer (HTTP 200 with
//! `result: 20` and two errors), 8 sleeps past any timeout, 9 HTTP 500; anything else OK. `GET /stats` counts the events received per order;
//! `GET /events/{order_number}` shows the last event received for an order (the most
//! recent orders only), so that tests see what renkei sent.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    net::TcpListener,
    sync::Mutex,
    time::Duration,
};

use actix_web::{App, HttpResponse, HttpServer, dev::ServerHandle, web};
use serde_json::{Value, json};

use super::oplux::protocol::{self, EVENT_PATH};
use crate::crypto::{random::hex, random_bytes};

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

struct MockState {
    config: MockConfig,
    stats: Mutex<Stats>,
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
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(web::JsonConfig::default().limit(1024 * 1024))
                .route(EVENT_PATH, web::post().to(register_event))
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
