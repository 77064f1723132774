//! A webhook receiver on 127.0.0.1: records every request and answers 200, or 500 for as
//! many requests as it is told to fail.

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
    let mut inner = inner.lock().unwrap();
    inner.received.push(Received {
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    if inner.failures_left > 0 {
        inner.failures_left -= 1;
        HttpResponse::InternalServerError().finish()
    } else {
        HttpResponse::Ok().finish()
    }
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

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Waits until at least `n` requests arrived (at most 15 s), and returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..300 {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} webhook requests, got {}", self.received().len());
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        drop(self.server.stop(false));
    }
}
