//! One open HTTP/1.1 connection: requests go out one after another on the same TCP/TLS stream.
//!
//! This is the unit HTTP NTLM and Negotiate authenticate, which is why it is exposed at all: their legs must
//! share a connection (`protocol/DEPENDENCIES.md` §6).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, HOST, HeaderName, HeaderValue};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};

use super::error::HttpError;
use super::response::HttpResponse;
use super::target::Target;
use crate::transport::{Phase, SessionInfo, TransportError};

/// An open connection to one origin (scheme, host, port), from [`HttpClient::connect`](super::HttpClient).
///
/// Requests are sent one at a time and each waits for its whole response. hyper reads and writes on a small
/// task of its own on the current tokio runtime; dropping the connection stops that task and closes the socket.
pub struct HttpConnection {
    sender: SendRequest<Full<Bytes>>,
    driver: JoinHandle<()>,
    origin: Target,
    tls: Option<SessionInfo>,
    peer_addr: SocketAddr,
    timeout: Duration,
    max_body: usize,
    /// Opened for a URL the trust model admitted: requests may carry credential headers.
    trusted: bool,
    /// Where requests and responses are traced (nowhere by default).
    tap: crate::trace::Tap,
}

impl std::fmt::Debug for HttpConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConnection")
            .field("origin", &self.origin.host_header)
            .field("tls", &self.tls)
            .field("peer_addr", &self.peer_addr)
            .finish_non_exhaustive()
    }
}

impl HttpConnection {
    /// Starts HTTP/1.1 on an established stream (nothing is sent yet).
    pub(crate) async fn handshake<T>(
        io: T,
        origin: &Target,
        tls: Option<SessionInfo>,
        peer_addr: SocketAddr,
        timeout: Duration,
        max_body: usize,
        trusted: bool,
    ) -> Result<HttpConnection, HttpError>
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| exchange_error(origin, peer_addr, &e))?;
        let host = origin.host_header.clone();
        let driver = tokio::spawn(async move {
            if let Err(err) = conn.await {
                tracing::debug!(%host, %err, "http connection ended with an error");
            }
        });
        let tap = crate::trace::Tap::default();
        Ok(HttpConnection { sender, driver, origin: origin.clone(), tls, peer_addr, timeout, max_body, trusted, tap })
    }

    /// Traces this connection's requests and responses ([`crate::trace`]).
    pub(crate) fn traced(mut self, tap: crate::trace::Tap) -> Self {
        self.tap = tap;
        self
    }

    /// What TLS negotiated, `None` for plain http.
    pub fn tls_info(&self) -> Option<&SessionInfo> {
        self.tls.as_ref()
    }

    /// The server's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer_addr
    }

    /// The same connection, for requests that may (`trusted`) or may not carry credential headers.
    pub(crate) fn trusting(mut self, trusted: bool) -> HttpConnection {
        self.trusted = trusted;
        self
    }

    /// The origin (scheme, host, port) this connection goes to.
    pub(crate) fn origin(&self) -> &Target {
        &self.origin
    }

    /// True once the server (or an error) has closed the connection; further requests would fail.
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// GETs `url`, which must be on this connection's origin.
    pub async fn get(&mut self, url: &str, headers: &[(&str, &str)]) -> Result<HttpResponse, HttpError> {
        self.send(http::Method::GET, url, headers, Vec::new()).await
    }

    /// Sends one request for `url` (same origin as the connection) and reads the whole response, within the
    /// client's time budget. After a timeout or an oversize body the connection is closed, since the unread
    /// rest of that response would otherwise be taken for the next one.
    pub async fn send(
        &mut self,
        method: http::Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<HttpResponse, HttpError> {
        let target = Target::parse(url)?;
        if !self.origin.same_origin(&target) {
            let reason = format!("this connection goes to {}", self.origin.host_header);
            return Err(HttpError::BadUrl { url: url.to_owned(), reason });
        }
        let body = Bytes::from(body);
        let request = build_request(method, &target, headers, body.clone(), self.trusted)?;
        self.exchange(request, &body, &target, Instant::now() + self.timeout).await
    }

    /// Sends a built request and reads its response, all before `deadline`.
    pub(crate) async fn exchange(
        &mut self,
        request: http::Request<Full<Bytes>>,
        body: &Bytes,
        target: &Target,
        deadline: Instant,
    ) -> Result<HttpResponse, HttpError> {
        let method = request.method().clone();
        let local = self.tls.as_ref().map(|t| t.local_addr);
        if self.tap.is_on() {
            let start = format!("{method} {} HTTP/1.1", target.path_and_query);
            let mut headers = request
                .headers()
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()));
            let summary = format!("{method} {}", target.url);
            let (dir, peer) = (crate::trace::Direction::Sent, self.peer_addr);
            self.tap.http(dir, local, peer, &target.host, summary, &start, &mut headers, body);
        }
        let (peer, max_body) = (self.peer_addr, self.max_body);
        let sender = &mut self.sender;
        let exchange = async move {
            sender.ready().await.map_err(|e| exchange_error(target, peer, &e))?;
            let response = sender.send_request(request).await.map_err(|e| exchange_error(target, peer, &e))?;
            read_response(response, target, peer, max_body).await
        };
        let result = match timeout_at(deadline, exchange).await {
            Err(_) => Err(HttpError::Timeout { url: target.url.clone(), after: self.timeout }),
            Ok(result) => result,
        };
        if let Ok(r) = &result {
            self.tap.http_status(method.as_str(), &target.path_and_query, r.status);
        }
        if let (true, Ok(r)) = (self.tap.is_on(), &result) {
            let start = format!("HTTP/1.1 {} {}", r.status, reason(r.status));
            let mut headers = r.headers.iter().cloned();
            let summary = format!("{} {}", r.status, target.url);
            let (dir, peer) = (crate::trace::Direction::Received, self.peer_addr);
            self.tap.http(dir, local, peer, &target.host, summary, &start, &mut headers, &r.body);
        }
        match &result {
            Ok(r) => tracing::debug!(url = %target.url, %method, status = r.status, bytes = r.body.len(), "http"),
            Err(err) => {
                tracing::debug!(url = %target.url, %method, %err, "http failed");
                if matches!(err, HttpError::Timeout { .. } | HttpError::BodyTooLarge { .. }) {
                    self.driver.abort();
                }
            }
        }
        result
    }
}

impl Drop for HttpConnection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// The reason phrase of a status, for the trace's status line.
fn reason(status: u16) -> &'static str {
    http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("")
}

/// Headers that carry credentials: only on requests to a URL the trust model admitted.
const CREDENTIAL_HEADERS: &[&str] = &["authorization", "proxy-authorization", "x-ms-webticket", "cookie"];

/// The request for `target`: origin-form request line, `Host` from the URL, then the caller's headers
/// (credential headers only when `trusted`).
pub(crate) fn build_request(
    method: http::Method,
    target: &Target,
    headers: &[(&str, &str)],
    body: Bytes,
    trusted: bool,
) -> Result<http::Request<Full<Bytes>>, HttpError> {
    if !trusted
        && let Some((name, _)) =
            headers.iter().find(|(n, _)| CREDENTIAL_HEADERS.contains(&n.to_ascii_lowercase().as_str()))
    {
        return Err(HttpError::CredentialsWithheld { url: target.url.clone(), name: (*name).to_owned() });
    }
    let mut request = http::Request::builder()
        .method(method)
        .uri(target.path_and_query.as_str())
        .body(Full::new(body))
        .map_err(|e| HttpError::BadUrl { url: target.url.clone(), reason: e.to_string() })?;
    let host = HeaderValue::from_str(&target.host_header)
        .map_err(|_| HttpError::BadUrl { url: target.url.clone(), reason: "the host is not valid here".into() })?;
    let map = request.headers_mut();
    map.insert(HOST, host);
    for (name, value) in headers {
        let invalid = || HttpError::InvalidHeader { name: (*name).to_owned() };
        let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
        let value = HeaderValue::from_str(value).map_err(|_| invalid())?;
        map.append(header, value);
    }
    Ok(request)
}

/// Reads the whole body, refusing to buffer more than `max_body` bytes.
async fn read_response(
    response: http::Response<Incoming>,
    target: &Target,
    peer: SocketAddr,
    max_body: usize,
) -> Result<HttpResponse, HttpError> {
    let too_large = || HttpError::BodyTooLarge { url: target.url.clone(), limit: max_body };
    let (parts, body) = response.into_parts();
    let announced = parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    if announced.is_some_and(|len: u64| len > max_body as u64) {
        return Err(too_large());
    }
    let collected = Limited::new(body, max_body).collect().await.map_err(|err| {
        if err.downcast_ref::<LengthLimitError>().is_some() {
            return too_large();
        }
        match err.downcast::<hyper::Error>() {
            Ok(e) => exchange_error(target, peer, &e),
            Err(other) => HttpError::Protocol { url: target.url.clone(), detail: other.to_string() },
        }
    })?;
    let headers = parts
        .headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    Ok(HttpResponse { status: parts.status.as_u16(), headers, body: collected.to_bytes().to_vec() })
}

/// An I/O failure underneath hyper (a reset, a TLS alert) stays the transport's to classify; anything else is
/// the server breaking HTTP.
fn exchange_error(target: &Target, peer: SocketAddr, err: &hyper::Error) -> HttpError {
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            return HttpError::from(TransportError::Io {
                host: target.host.clone(),
                addr: Some(peer),
                phase: Phase::Receive,
                source: io::Error::new(io.kind(), io.to_string()),
            });
        }
        source = s.source();
    }
    HttpError::Protocol { url: target.url.clone(), detail: error_chain(err) }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
