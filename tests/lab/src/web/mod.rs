//! The lab pool's Lync Autodiscover web service ([MS-OCDISCWS]): what `lyncdiscover[internal].<domain>` answers.
//!
//! One HTTPS and one plain-HTTP listener on 127.0.0.1 with OS-chosen ports, served by hyper (HTTP/1.1) behind
//! tokio-rustls, as IIS serves the Front End's web services. The HTTP Root only redirects to HTTPS (as the spec
//! requires); Root links to User and Domain on the host the client asked for; User answers 401 naming the Web
//! Ticket Service unless it is shown a web ticket this pool issued; Domain names the pool's SIP access points.
//! The Web Ticket Service itself ([`sts`]), the Certificate Provisioning Service ([`certprov`], when
//! [`WebConfig::user_ca`] is set), and Office 365's Org ID STS and WsFedBearer port ([`online`]) listen on the
//! same HTTPS port.
//! Tests can add redirect hops, a redirect loop and a delay. The answers themselves are in `routes.rs`.

pub mod certprov;
mod documents;
mod mex;
pub mod online;
mod routes;
mod soap;
pub mod sts;

#[cfg(test)]
mod tests;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use routes::Site;

use crate::config::LabUser;

/// How long a client may take to finish the TLS handshake or send a request head before it is dropped.
const CLIENT_PATIENCE: Duration = Duration::from_secs(30);

/// Settings of the lab's autodiscover service.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The SIP domain (`contoso.lab`).
    pub domain: String,
    /// The pool's FQDN: `X-MS-Server-Fqdn`, the internal web services name, the host of links when the
    /// request has no usable `Host`.
    pub pool_fqdn: String,
    /// `SipClientInternalAccess` (fqdn, port).
    pub sip_internal: (String, u16),
    /// `SipClientExternalAccess` (fqdn, port).
    pub sip_external: (String, u16),
    /// The certificate the HTTPS listener presents (from the lab CA); it must name the hosts clients use.
    pub tls: Arc<rustls::ServerConfig>,
    /// Extra Root hops (`Redirect` to `/redirect/1` … `/redirect/N`) before the real Root.
    pub redirect_hops: u32,
    /// Root answers with a `Redirect` to itself, forever.
    pub redirect_loop: bool,
    /// Applied before every response.
    pub delay: Duration,
    /// `X-MS-WebTicketURL` on the User resource's 401; `None` (the default) names this service's own Web
    /// Ticket Service Auth port, `https://<pool>:<https port>/WebTicket/WebTicketService.svc/Auth`.
    pub web_ticket_url: Option<String>,
    /// The user directory the Web Ticket Service authenticates against (NTLM).
    pub users: Vec<LabUser>,
    /// Every presented web ticket is treated as invalid (28032): the `invalid-ticket` fault.
    pub invalid_ticket: bool,
    /// The CA the Certificate Provisioning Service signs user certificates with; `None` (the default) leaves
    /// the service out (its path answers 404).
    pub user_ca: Option<Arc<crate::ca::LabCa>>,
    /// The Certificate Provisioning Service issues certificates that have already expired: the
    /// `expired-user-cert` fault.
    pub expired_user_cert: bool,
    /// Office 365's Web Ticket Service: no Windows port, its MEX names only `WsFedBearer`, tickets come through
    /// the Org ID STS at `/RST2.srf` ([`online`]): the `online` fault.
    pub online: bool,
    /// The `offdomain-webticket-url` fault: over plain HTTP, Root links to User and Domain over http and User's
    /// 401 names this Web Ticket Service (a foreign host's); the HTTPS Root answers 503.
    pub hijacked_http_ticket_url: Option<String>,
    /// The `mex-http-port` fault: the `WebTicketServiceWinNegotiate` address the MEX names instead of this
    /// service's own Auth port.
    pub mex_win_negotiate: Option<String>,
    /// The `offdomain-autodiscover-redirect` fault: the HTTPS Root redirects here.
    pub root_redirect: Option<String>,
    /// The `webticket-500` fault: every request for a ticket gets HTTP 500 without a SOAP fault.
    pub ticket_500: bool,
    /// The directory's live state (changed passwords, failed logons), shared with the registrars.
    pub directory: Arc<crate::directory::Directory>,
    /// The realm's acceptor: the Web Ticket Service takes Negotiate with Kerberos (SPNEGO) too.
    pub kerberos: Option<Arc<crate::kerberos::gssapi::Acceptor>>,
}

impl WebConfig {
    /// Defaults for `domain`: pool `pool01.<domain>`, SIP access `pool01.<domain>:5061` internally and
    /// `sip.<domain>:443` externally, no redirects, no delay, this service's own Web Ticket Service URL,
    /// nobody in the directory, and no Certificate Provisioning Service.
    pub fn new(domain: &str, tls: Arc<rustls::ServerConfig>) -> WebConfig {
        let pool = format!("pool01.{domain}");
        WebConfig {
            domain: domain.to_owned(),
            sip_internal: (pool.clone(), 5061),
            sip_external: (format!("sip.{domain}"), 443),
            web_ticket_url: None,
            users: Vec::new(),
            invalid_ticket: false,
            user_ca: None,
            expired_user_cert: false,
            online: false,
            hijacked_http_ticket_url: None,
            mex_win_negotiate: None,
            root_redirect: None,
            ticket_500: false,
            directory: Arc::default(),
            kerberos: None,
            pool_fqdn: pool,
            tls,
            redirect_hops: 0,
            redirect_loop: false,
            delay: Duration::ZERO,
        }
    }
}

/// Why the web service could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// Binding 127.0.0.1 with an OS-chosen port failed (out of ports or file descriptors).
    #[error("lab web service could not listen on 127.0.0.1: {0}")]
    Listen(#[source] std::io::Error),
}

/// A running autodiscover service. Dropping it stops the listeners and every open connection.
#[derive(Debug)]
pub struct LabWeb {
    https_addr: SocketAddr,
    http_addr: SocketAddr,
    requests: Arc<AtomicU64>,
    tasks: Vec<JoinHandle<()>>,
}

impl LabWeb {
    /// Binds both listeners and starts serving.
    pub async fn start(cfg: WebConfig) -> Result<LabWeb, WebError> {
        let https = TcpListener::bind(("127.0.0.1", 0)).await.map_err(WebError::Listen)?;
        let http = TcpListener::bind(("127.0.0.1", 0)).await.map_err(WebError::Listen)?;
        let https_addr = https.local_addr().map_err(WebError::Listen)?;
        let http_addr = http.local_addr().map_err(WebError::Listen)?;
        let acceptor = TlsAcceptor::from(cfg.tls.clone());
        let site = Arc::new(Site::new(cfg, https_addr.port(), http_addr.port()));
        let requests = Arc::new(AtomicU64::new(0));
        let tasks = vec![
            tokio::spawn(serve(https, Some(acceptor), site.clone(), requests.clone())),
            tokio::spawn(serve(http, None, site.clone(), requests.clone())),
        ];
        tracing::info!(%https_addr, %http_addr, pool = %site.cfg.pool_fqdn, "lab web service started");
        Ok(LabWeb { https_addr, http_addr, requests, tasks })
    }

    /// The HTTPS port.
    pub fn https_port(&self) -> u16 {
        self.https_addr.port()
    }

    /// The plain-HTTP port.
    pub fn http_port(&self) -> u16 {
        self.http_addr.port()
    }

    /// The HTTPS listener's address.
    pub fn https_addr(&self) -> SocketAddr {
        self.https_addr
    }

    /// The plain-HTTP listener's address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Requests answered so far (both listeners).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

impl Drop for LabWeb {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Accepts connections until aborted; the connections live in a JoinSet owned by this task, so aborting it
/// closes them too.
async fn serve(listener: TcpListener, tls: Option<TlsAcceptor>, site: Arc<Site>, requests: Arc<AtomicU64>) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors and the like: back off rather than spin.
                tracing::warn!(%err, "lab web: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (tls, site, requests) = (tls.clone(), site.clone(), requests.clone());
        connections.spawn(async move {
            crate::sip_server::setup_delay(site.cfg.delay, tls.is_some()).await;
            match tls {
                None => serve_http(tcp, false, site, requests).await,
                Some(acceptor) => match tokio::time::timeout(CLIENT_PATIENCE, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => serve_http(stream, true, site, requests).await,
                    Ok(Err(err)) => tracing::debug!(%peer, %err, "lab web: TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "lab web: TLS handshake timed out"),
                },
            }
        });
    }
}

async fn serve_http<S>(io: S, tls: bool, site: Arc<Site>, requests: Arc<AtomicU64>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // HTTP NTLM authenticates the connection: its state lives as long as the connection does.
    let conn = Arc::new(std::sync::Mutex::new(sts::ConnAuth::default()));
    let service = service_fn(move |req: http::Request<Incoming>| {
        let (site, requests, conn) = (site.clone(), requests.clone(), conn.clone());
        async move {
            requests.fetch_add(1, Ordering::Relaxed);
            if !site.cfg.delay.is_zero() {
                tokio::time::sleep(site.cfg.delay).await;
            }
            let (method, uri) = (req.method().clone(), req.uri().clone());
            let response = if uri.path().trim_end_matches('/').eq_ignore_ascii_case(sts::AUTH_PATH) {
                let (parts, body) = req.into_parts();
                let body = Limited::new(body, sts::MAX_RST).collect().await.ok().map(|b| b.to_bytes());
                sts::respond(&site, &conn, tls, &parts.method, &parts.headers, body)
            } else if uri.path().trim_end_matches('/').eq_ignore_ascii_case(online::ORG_ID_PATH) {
                let (parts, body) = req.into_parts();
                let body = Limited::new(body, online::MAX_REQUEST).collect().await.ok().map(|b| b.to_bytes());
                online::respond_org_id(&site, tls, &parts.method, body)
            } else if uri.path().trim_end_matches('/').eq_ignore_ascii_case(online::BEARER_PATH) {
                let (parts, body) = req.into_parts();
                let body = Limited::new(body, online::MAX_REQUEST).collect().await.ok().map(|b| b.to_bytes());
                online::respond_bearer(&site, tls, &parts.method, body)
            } else if uri.path().trim_end_matches('/').eq_ignore_ascii_case(certprov::CERTPROV_PATH) {
                let (parts, body) = req.into_parts();
                let body = Limited::new(body, certprov::MAX_REQUEST).collect().await.ok().map(|b| b.to_bytes());
                certprov::respond(&site, tls, &parts.method, &parts.headers, body)
            } else {
                routes::respond(&site, tls, req.method(), req.uri(), req.headers())
            };
            tracing::debug!(%method, %uri, status = %response.status(), "lab web");
            Ok::<_, Infallible>(response)
        }
    });
    let served = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(CLIENT_PATIENCE)
        .serve_connection(TokioIo::new(io), service)
        .await;
    if let Err(err) = served {
        tracing::debug!(%err, "lab web: connection ended with an error");
    }
}
