//! Opening a SIP/TLS connection: resolve, connect TCP, handshake with verification against the server name.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::net::{TcpStream, lookup_host};
use tokio::time::{Instant, timeout_at};

use super::connection::TlsConnection;
use super::error::{Phase, TransportError};
use super::trust::{TrustConfig, TrustError, TrustSummary};

/// Opens verified TLS connections to SIP servers.
///
/// Holds the rustls configuration built once from a [`TrustConfig`] (loading the OS store reads files), so one
/// connector serves every endpoint in the process. Cheap to clone.
#[derive(Clone)]
pub struct TlsConnector {
    inner: tokio_rustls::TlsConnector,
    summary: TrustSummary,
}

impl std::fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConnector").field("trust", &self.summary).finish_non_exhaustive()
    }
}

impl TlsConnector {
    /// Builds the connector; fails when `trust` yields no usable CA.
    pub fn new(trust: &TrustConfig) -> Result<TlsConnector, TrustError> {
        let (config, summary) = trust.client_config()?;
        Ok(TlsConnector::from_config(config, summary))
    }

    /// Wraps a rustls configuration built elsewhere (already carrying its trust anchors).
    pub fn from_config(config: Arc<rustls::ClientConfig>, summary: TrustSummary) -> TlsConnector {
        TlsConnector { inner: tokio_rustls::TlsConnector::from(config), summary }
    }

    /// How many trust anchors the connector holds, for the sign-in report.
    pub fn trust_summary(&self) -> &TrustSummary {
        &self.summary
    }

    /// Resolves `host`, connects to its addresses in order, and completes a TLS handshake verified against
    /// `host`, all within `timeout`.
    ///
    /// Addresses are tried in the resolver's order, as Lync clients do. Each attempt may use at most an equal
    /// share of the time left, so a first address that silently drops packets cannot starve the others. Once
    /// TCP is up the handshake's verdict is final: a certificate problem is the same on every front end of a
    /// pool, so trying the next address would only hide it.
    pub async fn connect(&self, host: &str, port: u16, timeout: Duration) -> Result<TlsConnection, TransportError> {
        let deadline = Instant::now() + timeout;
        let server_name = server_name(host)?;
        let addrs = resolve(host, port, deadline, timeout).await?;
        let (tcp, addr) = connect_any(host, &addrs, None, deadline, timeout).await?;
        self.handshake(host, server_name, tcp, addr, deadline, timeout).await
    }

    /// Connects to `addr` and verifies the certificate against `server_name`, within `timeout`.
    ///
    /// For when the address comes from elsewhere (DNS SRV, a redirect, the lab pool on 127.0.0.1) but the
    /// certificate must still name the pool.
    pub async fn connect_addr(
        &self,
        addr: SocketAddr,
        server_name: &str,
        timeout: Duration,
    ) -> Result<TlsConnection, TransportError> {
        let deadline = Instant::now() + timeout;
        let name = self::server_name(server_name)?;
        let (tcp, addr) = connect_any(server_name, &[addr], None, deadline, timeout).await?;
        self.handshake(server_name, name, tcp, addr, deadline, timeout).await
    }

    /// Completes a verified TLS handshake on an already connected TCP stream (from [`connect_tcp`]),
    /// within `timeout`. Splitting TCP and TLS lets the sign-in report time and classify them apart,
    /// as an admin reads "connectivity checks": the port answers, then the certificate is trusted.
    pub async fn handshake_tcp(
        &self,
        tcp: TcpStream,
        addr: SocketAddr,
        server_name: &str,
        timeout: Duration,
    ) -> Result<TlsConnection, TransportError> {
        let name = self::server_name(server_name)?;
        self.handshake(server_name, name, tcp, addr, Instant::now() + timeout, timeout).await
    }

    async fn handshake(
        &self,
        host: &str,
        name: ServerName<'static>,
        tcp: TcpStream,
        addr: SocketAddr,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<TlsConnection, TransportError> {
        match timeout_at(deadline, self.inner.connect(name, tcp)).await {
            Err(_) => Err(TransportError::Timeout {
                host: host.to_owned(),
                phase: Phase::Handshake,
                addr: Some(addr),
                after: timeout,
            }),
            Ok(Err(err)) => Err(TransportError::from_handshake(host, addr, err)),
            Ok(Ok(stream)) => TlsConnection::new(stream, host),
        }
    }
}

/// One-off form of [`TlsConnector::connect`]; builds the trust store on every call, so prefer a shared
/// [`TlsConnector`] when connecting more than once.
pub async fn connect_tls(
    host: &str,
    port: u16,
    trust: &TrustConfig,
    timeout: Duration,
) -> Result<TlsConnection, TransportError> {
    TlsConnector::new(trust)?.connect(host, port, timeout).await
}

/// One-off form of [`TlsConnector::connect_addr`]; see [`connect_tls`] on when to prefer a shared connector.
pub async fn connect_tls_addr(
    addr: SocketAddr,
    server_name: &str,
    trust: &TrustConfig,
    timeout: Duration,
) -> Result<TlsConnection, TransportError> {
    TlsConnector::new(trust)?.connect_addr(addr, server_name, timeout).await
}

fn server_name(name: &str) -> Result<ServerName<'static>, TransportError> {
    ServerName::try_from(name.to_owned()).map_err(|_| TransportError::InvalidServerName { name: name.to_owned() })
}

async fn resolve(
    host: &str,
    port: u16,
    deadline: Instant,
    timeout: Duration,
) -> Result<Vec<SocketAddr>, TransportError> {
    match timeout_at(deadline, lookup_host((host, port))).await {
        Err(_) => {
            Err(TransportError::Timeout { host: host.to_owned(), phase: Phase::Resolve, addr: None, after: timeout })
        }
        Ok(Err(source)) => Err(TransportError::NameNotResolved { host: host.to_owned(), source: Some(source) }),
        Ok(Ok(addrs)) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.is_empty() {
                return Err(TransportError::NameNotResolved { host: host.to_owned(), source: None });
            }
            tracing::debug!(host, ?addrs, "resolved");
            Ok(addrs)
        }
    }
}

/// Connects TCP to the first of `addrs` that answers within `timeout` (shared out as
/// [`TlsConnector::connect`] describes), from `local` when given: the address of the network adapter
/// chosen in local discovery (ignored for a destination of the other address family).
pub async fn connect_tcp(
    host: &str,
    addrs: &[SocketAddr],
    local: Option<IpAddr>,
    timeout: Duration,
) -> Result<(TcpStream, SocketAddr), TransportError> {
    if addrs.is_empty() {
        return Err(TransportError::NameNotResolved { host: host.to_owned(), source: None });
    }
    connect_any(host, addrs, local, Instant::now() + timeout, timeout).await
}

/// Opens one TCP connection, bound to `local` when it is of the destination's family.
async fn tcp_connect_from(addr: SocketAddr, local: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let Some(local) = local.filter(|l| l.is_ipv4() == addr.is_ipv4()) else {
        return TcpStream::connect(addr).await;
    };
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.bind(SocketAddr::new(local, 0))?;
    socket.connect(addr).await
}

/// Tries each address in order; see [`TlsConnector::connect`] for how the time is shared out.
async fn connect_any(
    host: &str,
    addrs: &[SocketAddr],
    local: Option<IpAddr>,
    deadline: Instant,
    timeout: Duration,
) -> Result<(TcpStream, SocketAddr), TransportError> {
    let mut refused = Vec::new();
    let mut last_failure = None;
    for (i, &addr) in addrs.iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        let share = left / u32::try_from(addrs.len() - i).unwrap_or(u32::MAX);
        match timeout_at(Instant::now() + share, tcp_connect_from(addr, local)).await {
            Ok(Ok(tcp)) => {
                // SIP is request/response with small messages: Nagle's delay would only add latency.
                if let Err(err) = tcp.set_nodelay(true) {
                    tracing::debug!(%addr, %err, "could not disable Nagle");
                }
                tracing::debug!(host, %addr, "tcp connected");
                return Ok((tcp, addr));
            }
            Ok(Err(err)) if err.kind() == std::io::ErrorKind::ConnectionRefused => {
                tracing::debug!(host, %addr, "tcp refused");
                refused.push(addr);
            }
            Ok(Err(source)) => {
                tracing::debug!(host, %addr, %source, "tcp connect failed");
                last_failure =
                    Some(TransportError::Io { host: host.to_owned(), addr: Some(addr), phase: Phase::Connect, source });
            }
            Err(_) => {
                tracing::debug!(host, %addr, "tcp connect timed out");
                last_failure = Some(TransportError::Timeout {
                    host: host.to_owned(),
                    phase: Phase::Connect,
                    addr: Some(addr),
                    after: timeout,
                });
            }
        }
    }
    Err(last_failure.unwrap_or(TransportError::Refused { host: host.to_owned(), addrs: refused }))
}
