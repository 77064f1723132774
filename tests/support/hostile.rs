//! A hostile O-PLUX stand-in (SPEC 10): an in-process HTTP server on loopback that
//! answers what a broken or malicious peer would — XML nested 100,000 deep, bodies over
//! 1 MiB, an answer about another event, 20,000 rules — one behaviour at a time, set by
//! the test. Raw TCP, so that it can send anything (a body without a length included).

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

/// The event id the stand-in gives every registration.
pub const EVENT_ID: &str = "EV-HOSTILE-1";

/// How the stand-in answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// v3: HOLD with one rule; v2: a manual OK with a short memo, about `EVENT_ID`.
    Normal,
    /// 2 MiB (v3: inside a JSON string; v2: a memo), sent without a length.
    Huge,
    /// v2: XML nested 100,000 deep; v3: JSON nested 100,000 deep.
    Deep,
    /// v2: a manual NG about another event than the one asked.
    WrongEvent,
    /// 20,000 rules with long codes and descriptions, and a 10,000-character memo (v2).
    ManyRules,
}

pub struct Hostile {
    url: String,
    behaviour: Arc<Mutex<Behaviour>>,
    requests: Arc<AtomicUsize>,
}

impl Hostile {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let behaviour = Arc::new(Mutex::new(Behaviour::Normal));
        let requests = Arc::new(AtomicUsize::new(0));
        let (mode, count) = (behaviour.clone(), requests.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (mode, count) = (mode.clone(), count.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, mode, count).await;
                });
            }
        });
        Self {
            url,
            behaviour,
            requests,
        }
    }

    pub fn url(&self) -> String {
        self.url.clone()
    }

    pub fn set(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

async fn serve(
    mut stream: tokio::net::TcpStream,
    mode: Arc<Mutex<Behaviour>>,
    count: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    // The head, then as much body as announced (requests are small).
    let mut request = Vec::new();
    let mut buffer = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut buffer).await?;
        if n == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buffer[..n]);
        if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&request[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    while request.len() < head_end + length {
        let n = stream.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(&buffer[..n]);
    }
    count.fetch_add(1, Ordering::SeqCst);
    let behaviour = *mode.lock().unwrap();
    let v2 = head.contains("/v2/event");
    let is_put = head.starts_with("PUT");
    let (content_type, body) = if v2 {
        ("application/xml; charset=UTF-8", v2_answer(behaviour, is_put))
    } else {
        ("application/json", v3_answer(behaviour))
    };
    // No Content-Length: the body ends when the connection closes, so the reader cannot
    // know its size in advance.
    let head = format!("HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await?;
    for chunk in body.as_bytes().chunks(64 * 1024) {
        if stream.write_all(chunk).await.is_err() {
            break; // the reader stopped reading: fine
        }
    }
    let _ = stream.shutdown().await;
    Ok(())
}

/// `n` short rules (so that 20,000 fit in less than 1 MiB), the first with a code of 100
/// characters and a description of 10,000.
fn rules_json(n: usize) -> Vec<serde_json::Value> {
    let mut rules: Vec<serde_json::Value> = (0..n)
        .map(|i| json!({"code": format!("R{i:05}"), "description": "d"}))
        .collect();
    rules[0] = json!({"code": "C".repeat(100), "description": "説".repeat(10_000)});
    rules
}

fn v3_answer(behaviour: Behaviour) -> String {
    let event = |rules: Vec<serde_json::Value>, extra: String| {
        json!({"time": "t", "result": 10, "telegram": {"event": {
            "id": EVENT_ID, "aaresult": {"result": "HOLD"}, "rules": rules, "padding": extra, "similars": []
        }}})
        .to_string()
    };
    match behaviour {
        Behaviour::Huge => event(rules_json(1), "x".repeat(2 * 1024 * 1024)),
        Behaviour::Deep => format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
        Behaviour::ManyRules => event(rules_json(20_000), String::new()),
        Behaviour::Normal | Behaviour::WrongEvent => event(rules_json(1), String::new()),
    }
}

fn v2_event(id: &str, result: &str, memo: &str, rules: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><response><time>1</time><result>10</result><errors/>\
         <events><event><id>{id}</id><aaresult><result>HOLD</result></aaresult>\
         <maresult><result>{result}</result><reason></reason><memo>{memo}</memo></maresult>\
         <rules>{rules}</rules><similars/></event></events></response>"
    )
}

fn v2_answer(behaviour: Behaviour, is_put: bool) -> String {
    let accepted = "<response><time>1</time><result>10</result><errors/></response>".to_string();
    match behaviour {
        Behaviour::Normal if is_put => accepted,
        Behaviour::Normal => v2_event(EVENT_ID, "OK", "checked", ""),
        Behaviour::Huge if is_put => format!(
            "<response><result>10</result><errors/><memo>{}</memo></response>",
            "x".repeat(2 * 1024 * 1024)
        ),
        Behaviour::Huge => v2_event(EVENT_ID, "OK", &"x".repeat(2 * 1024 * 1024), ""),
        Behaviour::Deep => format!(
            "<response>{}{}</response>",
            "<a>".repeat(100_000),
            "</a>".repeat(100_000)
        ),
        Behaviour::WrongEvent if is_put => accepted,
        Behaviour::WrongEvent => v2_event("EV-SOMEONE-ELSE", "NG", "not this order", ""),
        Behaviour::ManyRules if is_put => accepted,
        Behaviour::ManyRules => {
            let long = format!("<rule><code>{}</code></rule>", "C".repeat(100));
            let rules: String = (0..20_000)
                .map(|i| format!("<rule><code>R{i:05}</code></rule>"))
                .collect();
            v2_event(EVENT_ID, "OK", &"メ".repeat(10_000), &format!("{long}{rules}"))
        }
    }
}
