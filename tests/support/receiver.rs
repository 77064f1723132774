//! A webhook receiver on 127.0.0.1: records every request and answers 200, or 500 for as
//! many requests as it is told to fail, or what it is told to answer (a status with
//! headers), after holding each request as long as it is told.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use renkei::outbound::Origin;

#[derive(Debug, Clone)]
pub struct Received {
    /// Header names lower-cased.
    pub headers: HashMap<String, String>,
    pub body: String,
    /// When the request arrived.
    pub at: chrono::DateTime<chrono::Utc>,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(&name.to_ascii_lowercase()).map_or("", String::as_str)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    failures_left: usize,
    /// Answered to every request when set: a status and headers.
    answer: Option<(u16, Vec<(String, String)>)>,
    /// How long each request is held before the answer.
    hold: Duration,
}

pub struct Receiver {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
    server: actix_web::dev::ServerHandle,
}

async fn receive(req: HttpRequest, body: web::Bytes, inner: web::Data<Mutex<Inner>>) -> HttpResponse {
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                v.to_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let (status, answer_headers, hold) = {
        let mut inner = inner.lock().unwrap();
        inner.received.push(Received {
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            at: chrono::Utc::now(),
        });
        let (status, answer_headers) = if inner.failures_left > 0 {
            inner.failures_left -= 1;
            (500, Vec::new())
        } else {
            inner.answer.clone().unwrap_or((200, Vec::new()))
        };
        (status, answer_headers, inner.hold)
    };
    if !hold.is_zero() {
        tokio::time::sleep(hold).await;
    }
    let mut response = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
    for (name, value) in answer_headers {
        response.insert_header((name, value));
    }
    response.finish()
}

impl Receiver {
    pub async fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let data = web::Data::new(Mutex::new(Inner::default()));
        let shared = data.clone();
        let server = HttpServer::new(move || App::new().app_data(shared.clone()).default_service(web::to(receive)))
            .workers(1)
            .listen(listener)
            .unwrap()
            .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}/hooks"),
            inner: data.into_inner(),
            server: handle,
        }
    }

    pub fn origin(&self) -> Origin {
        Origin::of_url(&self.url).unwrap()
    }

    /// Answers 500 to the next `n` requests.
    pub fn fail_next(&self, n: usize) {
        self.inner.lock().unwrap().failures_left = n;
    }

    /// Answers every next request with `status` and `headers`.
    pub fn answer(&self, status: u16, headers: &[(&str, &str)]) {
        let headers = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.inner.lock().unwrap().answer = Some((status, headers));
    }

    /// Holds every next request this long before answering.
    pub fn hold(&self, hold: Duration) {
        self.inner.lock().unwrap().hold = hold;
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Waits until at least `n` requests arrived (at most [`super::PATIENCE`]), and returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        super::eventually(&format!("{n} webhook requests"), super::PATIENCE, || async move {
            let received = self.received();
            (received.len() >= n).then_some(received)
        })
        .await
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        drop(self.server.stop(false));
    }
}
