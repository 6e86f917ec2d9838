//! A host outside the pool's domain that wants the user's credentials: what an attacker on the path, a
//! hijacked plain-HTTP autodiscover answer or a misconfigured pool would send a client to.
//!
//! It is the witness of the lab's redirection faults (`offdomain-webticket-url`, `sts-uri-elsewhere`,
//! `mex-http-port`, `offdomain-autodiscover-redirect`): it listens on 127.0.0.1 with one plain-HTTP and one
//! HTTPS port (its certificate, for [`FOREIGN_HOST`], comes from the lab CA, so TLS verifies and only the
//! client's trust model can keep credentials away), counts every byte it receives, and plays a Web Ticket
//! Service that asks for NTLM: 401 `WWW-Authenticate: NTLM`, then a CHALLENGE for a NEGOTIATE, so that a
//! client that trusts it sends the AUTHENTICATE (an NTLMv2 response, crackable offline). Its MEX names a
//! `WebTicketServiceWinNegotiate` port on its plain-HTTP listener. A test asserts [`ForeignHost::bytes_received`]
//! is zero.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sfbkit::auth::ntlm::server::{NtlmServer, ServerIdentity};
use sfbkit::auth::ntlm::{decode_token, encode_token};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::ca::{LabCa, Validity};

/// The foreign host's name: outside any lab domain, in the lab DNS's second zone ([`FOREIGN_ZONE`]).
pub const FOREIGN_HOST: &str = "evil.example.net";
/// The zone the lab DNS serves besides the pool's, holding [`FOREIGN_HOST`].
pub const FOREIGN_ZONE: &str = "example.net";
/// The Web Ticket Service path the foreign host pretends to serve.
pub const WEB_TICKET_PATH: &str = "/WebTicket/WebTicketService.svc/WinNegotiate";

/// A running foreign host. Dropping it stops both listeners.
pub struct ForeignHost {
    http_addr: SocketAddr,
    https_addr: SocketAddr,
    counters: Arc<Counters>,
    tasks: Vec<JoinHandle<()>>,
}

#[derive(Default)]
struct Counters {
    bytes: AtomicU64,
    connections: AtomicU64,
    authenticates: AtomicU64,
}

impl ForeignHost {
    /// Starts both listeners; the HTTPS one presents a certificate for [`FOREIGN_HOST`] from `ca`.
    pub async fn start(ca: &LabCa) -> Result<ForeignHost, crate::LabError> {
        let cert = ca.issue_server_cert(&[FOREIGN_HOST.to_string()], Validity::days_from_now(30))?;
        let acceptor = TlsAcceptor::from(crate::ca::server_config(&cert)?);
        let http = TcpListener::bind(("127.0.0.1", 0)).await.map_err(crate::LabError::Listen)?;
        let https = TcpListener::bind(("127.0.0.1", 0)).await.map_err(crate::LabError::Listen)?;
        let http_addr = http.local_addr().map_err(crate::LabError::Listen)?;
        let https_addr = https.local_addr().map_err(crate::LabError::Listen)?;
        let counters = Arc::new(Counters::default());
        let mex_port = format!("http://{FOREIGN_HOST}:{}{WEB_TICKET_PATH}", http_addr.port());
        let tasks = vec![
            tokio::spawn(serve(http, None, counters.clone(), mex_port.clone())),
            tokio::spawn(serve(https, Some(acceptor), counters.clone(), mex_port)),
        ];
        tracing::info!(%http_addr, %https_addr, host = FOREIGN_HOST, "lab foreign host started");
        Ok(ForeignHost { http_addr, https_addr, counters, tasks })
    }

    /// `http://evil.example.net:<port><path>`.
    pub fn http_url(&self, path: &str) -> String {
        format!("http://{FOREIGN_HOST}:{}{path}", self.http_addr.port())
    }

    /// `https://evil.example.net:<port><path>`.
    pub fn https_url(&self, path: &str) -> String {
        format!("https://{FOREIGN_HOST}:{}{path}", self.https_addr.port())
    }

    /// Every byte received on either listener, TLS records included.
    pub fn bytes_received(&self) -> u64 {
        self.counters.bytes.load(Ordering::SeqCst)
    }

    /// Connections accepted on either listener.
    pub fn connections(&self) -> u64 {
        self.counters.connections.load(Ordering::SeqCst)
    }

    /// NTLM AUTHENTICATE messages received: credentials a client gave away.
    pub fn authenticates(&self) -> u64 {
        self.counters.authenticates.load(Ordering::SeqCst)
    }
}

impl Drop for ForeignHost {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn serve(listener: TcpListener, tls: Option<TlsAcceptor>, counters: Arc<Counters>, mex_port: String) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        counters.connections.fetch_add(1, Ordering::SeqCst);
        let stream = Counting { inner: tcp, counters: counters.clone() };
        let (tls, counters, mex_port) = (tls.clone(), counters.clone(), mex_port.clone());
        tokio::spawn(async move {
            match tls {
                None => answer(stream, counters, mex_port).await,
                Some(acceptor) => {
                    if let Ok(Ok(s)) = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await {
                        answer(s, counters, mex_port).await;
                    }
                }
            }
        });
    }
}

async fn answer<S>(io: S, counters: Arc<Counters>, mex_port: String)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req: http::Request<Incoming>| {
        let (counters, mex_port) = (counters.clone(), mex_port.clone());
        async move { Ok::<_, Infallible>(respond(&req, &counters, &mex_port)) }
    });
    let _ = http1::Builder::new().serve_connection(TokioIo::new(io), service).await;
}

/// MEX for GETs ending in `/mex`; otherwise the NTLM dance of a Web Ticket Service.
fn respond(req: &http::Request<Incoming>, counters: &Counters, mex_port: &str) -> Response<Full<Bytes>> {
    if req.method() == http::Method::GET && req.uri().path().to_ascii_lowercase().ends_with("/mex") {
        let body = crate::web::sts::mex(mex_port);
        return reply(StatusCode::OK, None, body);
    }
    let token = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .and_then(|(_, t)| decode_token(t.trim()).ok());
    match token.as_deref().and_then(|t| t.get(8..12)) {
        // NEGOTIATE (type 1): a CHALLENGE to answer.
        Some([1, 0, 0, 0]) => {
            let server = NtlmServer::new(ServerIdentity {
                nb_domain: "EVIL".into(),
                nb_computer: "EVIL".into(),
                dns_domain: FOREIGN_ZONE.into(),
                dns_computer: FOREIGN_HOST.into(),
            });
            let challenge = server.challenge(rand::random(), 0).to_bytes();
            reply(StatusCode::UNAUTHORIZED, Some(format!("NTLM {}", encode_token(&challenge))), String::new())
        }
        Some([3, 0, 0, 0]) => {
            counters.authenticates.fetch_add(1, Ordering::SeqCst);
            tracing::warn!(host = FOREIGN_HOST, "lab foreign host: an NTLM AUTHENTICATE arrived");
            reply(StatusCode::UNAUTHORIZED, Some("NTLM".into()), String::new())
        }
        _ => reply(StatusCode::UNAUTHORIZED, Some("NTLM".into()), String::new()),
    }
}

fn reply(status: StatusCode, challenge: Option<String>, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Some(c) = challenge.and_then(|c| http::HeaderValue::from_str(&c).ok()) {
        r.headers_mut().insert(http::header::WWW_AUTHENTICATE, c);
    }
    r
}

/// A TCP stream that counts what it reads.
struct Counting {
    inner: TcpStream,
    counters: Arc<Counters>,
}

impl AsyncRead for Counting {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        self.counters.bytes.fetch_add(read as u64, Ordering::SeqCst);
        polled
    }
}

impl AsyncWrite for Counting {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
