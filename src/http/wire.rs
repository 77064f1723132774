//! Errors actix answers before any handler runs — 408 (the request head did not arrive in
//! time), 431 (a request head too large), 400 (a request that is not HTTP) — are written
//! by its connection dispatcher with an empty body, past every middleware. Every error
//! renkei answers is problem+json, so the connection itself is wrapped ([`ProblemBodies`]):
//! a response head with an error status, an empty body and no content type (only the
//! dispatcher writes those: every other error passes `observe::ensure_problem_body`) is
//! given the problem+json body of its status. [`serve`] runs the application on such
//! connections.

use std::{
    io,
    pin::Pin,
    task::{Context, Poll, ready},
    time::Duration,
};

use actix_web::{
    App, Error,
    body::MessageBody,
    dev::{AppConfig, Server, ServiceFactory, ServiceRequest, ServiceResponse},
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::problem::{PROBLEM_JSON, for_status};

/// A connection whose empty-bodied error responses get a problem+json body.
pub struct ProblemBodies<T> {
    inner: T,
    /// A rewritten response still to be written, and how much of it is.
    pending: Vec<u8>,
    written: usize,
}

impl<T> ProblemBodies<T> {
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            pending: Vec::new(),
            written: 0,
        }
    }
}

impl<T: AsyncWrite + Unpin> ProblemBodies<T> {
    /// Writes what is pending; ready once nothing is.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ProblemBodies<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ProblemBodies<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_pending(cx))?;
        if let Some((head_len, response)) = with_problem_body(buf) {
            this.pending = response;
            this.written = 0;
            // The head is taken: what is left of the rewritten response goes out on the
            // next write, flush or shutdown.
            if let Poll::Ready(Err(err)) = this.poll_pending(cx) {
                return Poll::Ready(Err(err));
            }
            return Poll::Ready(Ok(head_len));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// When `buf` starts with a whole response head of an error status, an empty body and no
/// content type: the length of that head, and the response with a problem+json body.
fn with_problem_body(buf: &[u8]) -> Option<(usize, Vec<u8>)> {
    if !(buf.starts_with(b"HTTP/1.1 ") || buf.starts_with(b"HTTP/1.0 ")) {
        return None;
    }
    let status: u16 = std::str::from_utf8(buf.get(9..12)?).ok()?.parse().ok()?;
    if status < 400 {
        return None;
    }
    let head_len = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..head_len]).ok()?;
    let mut lines: Vec<&str> = head.trim_end_matches("\r\n").split("\r\n").collect();
    let name_of = |line: &str| line.split(':').next().unwrap_or_default().trim().to_ascii_lowercase();
    if lines.iter().any(|line| name_of(line) == "content-type") {
        return None;
    }
    let empty = lines
        .iter()
        .any(|line| name_of(line) == "content-length" && line.split(':').nth(1).is_some_and(|v| v.trim() == "0"));
    if !empty {
        return None;
    }
    let status_code = actix_web::http::StatusCode::from_u16(status).ok()?;
    let body = for_status(status_code).to_json();
    lines.retain(|line| name_of(line) != "content-length");
    let mut response = lines.join("\r\n");
    response.push_str(&format!(
        "\r\ncontent-type: {PROBLEM_JSON}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    ));
    Some((head_len, response.into_bytes()))
}

/// Serves `app` on `listener` as `HttpServer` would (workers, graceful shutdown, the
/// request head deadline), on connections wrapped in [`ProblemBodies`].
pub fn serve<F, T, B>(
    listener: std::net::TcpListener,
    workers: usize,
    shutdown_timeout: Duration,
    client_request_timeout: Duration,
    app: F,
) -> io::Result<Server>
where
    F: Fn() -> App<T> + Send + Clone + 'static,
    T: ServiceFactory<ServiceRequest, Config = (), Response = ServiceResponse<B>, Error = Error, InitError = ()>
        + 'static,
    B: MessageBody + 'static,
{
    use actix_service::{IntoServiceFactory, ServiceFactoryExt, fn_service, map_config};
    let addr = listener.local_addr()?;
    Ok(Server::build()
        .workers(workers)
        .shutdown_timeout(shutdown_timeout.as_secs())
        .listen("renkei", listener, move || {
            let host = addr.to_string();
            let http = actix_http::HttpService::<ProblemBodies<tokio::net::TcpStream>, _, _>::build()
                .client_request_timeout(client_request_timeout)
                .local_addr(addr)
                .h1(map_config(app().into_factory(), move |()| {
                    // What `HttpServer` gives its apps (semver-exempt constructor, pinned by the lock file).
                    AppConfig::__priv_test_new(false, host.clone(), addr)
                }));
            fn_service(|io: tokio::net::TcpStream| async move {
                let peer = io.peer_addr().ok();
                Ok::<_, actix_http::error::DispatchError>((ProblemBodies::new(io), peer))
            })
            .and_then(http)
        })?
        .run())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_error_from_the_dispatcher_gets_a_problem_body() {
        let raw = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\ndate: x\r\n\r\n";
        let (taken, response) = with_problem_body(raw).unwrap();
        assert_eq!(taken, raw.len());
        let response = String::from_utf8(response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(head.contains("content-type: application/problem+json"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert!(head.contains("connection: close"));
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["status"], 431);
    }

    #[test]
    fn other_responses_pass_unchanged() {
        for raw in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 40\r\ncontent-type: application/problem+json\r\n\r\n{}",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ncontent-type: text/plain\r\n\r\n",
            b"{\"some\": \"body\"}",
            b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n",
        ] {
            assert!(with_problem_body(raw).is_none(), "{}", String::from_utf8_lossy(raw));
        }
    }
}
