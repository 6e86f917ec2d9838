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
}

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
        HttpClient { connector, resolver, timeout, max_body, tap: crate::trace::Tap::default() }
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

    /// GETs `url` on a fresh connection with the given extra headers (`Host` is set from the URL).
    pub async fn get(&self, url: &str, headers: &[(&str, &str)]) -> Result<HttpResponse, HttpError> {
        self.send(http::Method::GET, url, headers, Vec::new()).await
    }

    /// Sends one request on a fresh connection and closes it afterwards. For several requests on one
    /// connection (HTTP NTLM/Negotiate legs), use [`HttpClient::connect`]. Credential headers
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
        let request = build_request(method, &target, headers, body.clone(), trusted)?;
        let mut conn = self.open(&target, deadline, trusted).await?;
        conn.exchange(request, &body, &target, deadline).await
    }

    /// Opens a connection to `url`'s origin (scheme, host, port) within the time budget, for
    /// [`HttpConnection::send`] to use as often as the server keeps it open (no credential headers).
    pub async fn connect(&self, url: &str) -> Result<HttpConnection, HttpError> {
        let target = Target::parse(url)?;
        self.open(&target, Instant::now() + self.timeout, false).await
    }

    /// [`HttpClient::connect`] to a URL the trust model admitted: requests on it may carry credentials
    /// (the legs of HTTP NTLM), to that origin only.
    pub async fn connect_trusted(&self, url: &TrustedUrl) -> Result<HttpConnection, HttpError> {
        let target = Target::parse(url.as_str())?;
        self.open(&target, Instant::now() + self.timeout, true).await
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
