//! Opening connections for URLs: resolve through the discovery [`DnsResolver`], connect TCP, verify TLS.

use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Instant, timeout_at};

use super::connection::{HttpConnection, build_request};
use super::error::HttpError;
use super::response::HttpResponse;
use super::target::Target;
use crate::discovery::{DnsError, DnsResolver};
use crate::transport::{TlsConnector, connect_tcp};
use crate::trust::TrustedUrl;

/// Sends HTTP/1.1 requests to web services over connections it opens itself.
///
/// Names resolve through the same [`DnsResolver`] as SIP discovery (so a test or lab zone covers both), and
/// https verifies the server exactly as SIP/TLS does, through the shared [`TlsConnector`]. Cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    connector: TlsConnector,
    resolver: Arc<dyn DnsResolver>,
    timeout: Duration,
    max_body: usize,
    /// Where requests and responses are traced (nowhere by default).
    tap: crate::trace::Tap,
    /// Connections whose last exchange ended cleanly, kept for the next request to their origin (shared by
    /// clones): a sign-in asks autodiscover and the web services several times, and each new connection costs
    /// two round trips (TCP, TLS) before the request.
    idle: Arc<std::sync::Mutex<Vec<HttpConnection>>>,
    /// Public documents fetched with [`HttpClient::get_document`], by URL (shared by clones).
    documents: Arc<std::sync::Mutex<std::collections::HashMap<String, HttpResponse>>>,
}

/// Documents [`HttpClient::get_document`] keeps at most.
const MAX_DOCUMENTS: usize = 8;

/// Idle connections kept at most (a sign-in talks to one or two origins).
const MAX_IDLE: usize = 4;

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("connector", &self.connector)
            .field("timeout", &self.timeout)
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client whose requests each finish within `timeout` (resolving, connecting and the whole response
    /// together) and whose response bodies may be at most `max_body` bytes.
    pub fn new(connector: TlsConnector, resolver: Arc<dyn DnsResolver>, timeout: Duration, max_body: usize) -> Self {
        HttpClient {
            connector,
            resolver,
            timeout,
            max_body,
            tap: crate::trace::Tap::default(),
            idle: Arc::default(),
            documents: Arc::default(),
        }
    }

    /// Traces every request and response of this client and its connections ([`crate::trace`]).
    pub(crate) fn traced(mut self, tap: crate::trace::Tap) -> Self {
        self.tap = tap;
        self
    }

    /// The time budget of one request.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The largest response body accepted, in bytes.
    pub fn max_body(&self) -> usize {
        self.max_body
    }

    /// GETs `url` with the given extra headers (`Host` is set from the URL), on an idle connection to its origin
    /// or a new one.
    pub async fn get(&self, url: &str, headers: &[(&str, &str)]) -> Result<HttpResponse, HttpError> {
        self.send(http::Method::GET, url, headers, Vec::new()).await
    }

    /// GETs a public document that does not change while this client lives (a Web Ticket Service's MEX): the
    /// first 200 response is kept and answers later calls for the same URL, so that discovery and certificate
    /// provisioning, asking for the same metadata, fetch it once.
    pub async fn get_document(&self, url: &str) -> Result<HttpResponse, HttpError> {
        if let Some(known) = self.documents.lock().unwrap_or_else(|p| p.into_inner()).get(url) {
            return Ok(known.clone());
        }
        let response = self.get(url, &[]).await?;
        if response.status == 200 {
            let mut documents = self.documents.lock().unwrap_or_else(|p| p.into_inner());
            if documents.len() < MAX_DOCUMENTS {
                documents.insert(url.to_string(), response.clone());
            }
        }
        Ok(response)
    }

    /// Sends one request on an idle connection to the URL's origin (one a request of this client left open),
    /// else on a new one, which is kept for the next request when the exchange ends cleanly. For requests that
    /// must share one connection (HTTP NTLM/Negotiate legs), use [`HttpClient::connect`]. Credential headers
    /// (`Authorization`, `X-MS-WebTicket`, ...) are refused here: they go through [`HttpClient::send_trusted`].
    pub async fn send(
        &self,
        method: http::Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<HttpResponse, HttpError> {
        self.send_checked(method, url, headers, body, false).await
    }

    /// [`HttpClient::send`] to a URL the trust model admitted: the only way a request carries credentials
    /// (a web ticket, a token in the body).
    pub async fn send_trusted(
        &self,
        method: http::Method,
        url: &TrustedUrl,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<HttpResponse, HttpError> {
        self.send_checked(method, url.as_str(), headers, body, true).await
    }

    async fn send_checked(
        &self,
        method: http::Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
        trusted: bool,
    ) -> Result<HttpResponse, HttpError> {
        let deadline = Instant::now() + self.timeout;
        let target = Target::parse(url)?;
        // Built first, so a bad header fails before any packet leaves.
        let body = Bytes::from(body);
        let build = || build_request(method.clone(), &target, headers, body.clone(), trusted);
        let request = build()?;
        if let Some(mut conn) = self.take_idle(&target, trusted) {
            match conn.exchange(request, &body, &target, deadline).await {
                Ok(response) => {
                    self.keep_idle(conn);
                    return Ok(response);
                }
                // The server closed the idle connection as the request went out: once more on a new one (every
                // request sfbkit sends to the web services may be repeated: GETs, and token requests).
                Err(HttpError::Protocol { .. } | HttpError::Transport(_)) => {}
                Err(other) => return Err(other),
            }
        }
        let mut conn = self.open(&target, deadline, trusted).await?;
        let response = conn.exchange(build()?, &body, &target, deadline).await?;
        self.keep_idle(conn);
        Ok(response)
    }

    /// An idle connection to `target`'s origin, the closed ones dropped. Which requests it carried before does
    /// not matter: trust is a property of the origin, checked when the connection was opened (the same TLS
    /// verification for every request), and a request may carry credentials as `trusted` says.
    fn take_idle(&self, target: &Target, trusted: bool) -> Option<HttpConnection> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.retain(|c| !c.is_closed());
        let at = idle.iter().position(|c| c.origin().same_origin(target))?;
        Some(idle.swap_remove(at).trusting(trusted))
    }

    fn keep_idle(&self, conn: HttpConnection) {
        if conn.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() >= MAX_IDLE {
            idle.remove(0);
        }
        idle.push(conn);
    }

    /// An idle connection to `url`'s origin (scheme, host, port), else a new one opened within the time budget, for
    /// [`HttpConnection::send`] to use as often as the server keeps it open (no credential headers).
    pub async fn connect(&self, url: &str) -> Result<HttpConnection, HttpError> {
        let target = Target::parse(url)?;
        match self.take_idle(&target, false) {
            Some(conn) => Ok(conn),
            None => self.open(&target, Instant::now() + self.timeout, false).await,
        }
    }

    /// [`HttpClient::connect`] to a URL the trust model admitted: requests on it may carry credentials
    /// (the legs of HTTP NTLM), to that origin only.
    pub async fn connect_trusted(&self, url: &TrustedUrl) -> Result<HttpConnection, HttpError> {
        let target = Target::parse(url.as_str())?;
        match self.take_idle(&target, true) {
            Some(conn) => Ok(conn),
            None => self.open(&target, Instant::now() + self.timeout, true).await,
        }
    }

    async fn open(&self, target: &Target, deadline: Instant, trusted: bool) -> Result<HttpConnection, HttpError> {
        let addrs = self.resolve(target, deadline).await?;
        let left = || deadline.saturating_duration_since(Instant::now());
        // Addresses are tried in the resolver's order; once TCP is up, a TLS verdict is final (a certificate
        // problem is the same on every front end of a pool), as in the SIP transport.
        let (tcp, addr) = connect_tcp(&target.host, &addrs, None, left()).await?;
        tracing::debug!(url = %target.url, %addr, "http connected");
        if target.tls {
            let tls = self.connector.handshake_tcp(tcp, addr, &target.host, left()).await?;
            let (stream, info) = tls.into_inner();
            let conn =
                HttpConnection::handshake(stream, target, Some(info), addr, self.timeout, self.max_body, trusted);
            Ok(conn.await?.traced(self.tap.clone()))
        } else {
            let conn = HttpConnection::handshake(tcp, target, None, addr, self.timeout, self.max_body, trusted);
            Ok(conn.await?.traced(self.tap.clone()))
        }
    }

    async fn resolve(&self, target: &Target, deadline: Instant) -> Result<Vec<SocketAddr>, HttpError> {
        if let Some(ip) = target.ip {
            return Ok(vec![SocketAddr::new(ip, target.port)]);
        }
        let name = target.host.as_str();
        let ips = match timeout_at(deadline, self.resolver.ips(name)).await {
            Err(_) => return Err(DnsError::Timeout { name: name.to_owned(), after: self.timeout }.into()),
            Ok(result) => result?,
        };
        if ips.is_empty() {
            return Err(DnsError::NoRecords { name: name.to_owned(), rtype: "A/AAAA" }.into());
        }
        Ok(ips.into_iter().map(|ip| SocketAddr::new(ip, target.port)).collect())
    }
}
