//! The pool's SIP-over-TLS listener: one task per connection, framing with sfbkit's stream
//! parser, answering each request after the configured response delay, and sending what the rest
//! of the lab asks it to (NOTIFYs, deregistrations), signed with the connection's association.

use std::net::SocketAddr;
use std::sync::Arc;

use sfbkit::sip::{Limits, Message, Method, StreamItem, StreamParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::config::{Fault, LabConfig};
use crate::registrar::{self, Registrar};
use crate::sip_services::Outgoing;

/// Shared state of a running pool.
pub(crate) struct PoolState {
    /// This pool's view of the lab: `config.pool_fqdn` is this pool's FQDN.
    pub config: LabConfig,
    pub registrar: Registrar,
    /// Every pool of the lab and its registrar port, for redirects to a user's home pool.
    pub pools: std::collections::HashMap<String, u16>,
    /// TLS-DSK server settings for this pool (its RSA certificate, the CA of user certificates).
    pub tlsdsk: Option<crate::tlsdsk::TlsDskServerConfig>,
    /// The Certificate Provisioning Service's URL, named in TLS-DSK challenges (`sts-uri`).
    pub certprov_url: String,
    /// What all pools of the lab share: presence, contacts, connections.
    pub services: Arc<crate::sip_services::LabServices>,
    /// This pool's registrar port (for Via and Contact of the requests it sends).
    pub port: u16,
    /// The lab's Kerberos realm, when there is one: the registrar accepts Kerberos with its keytab.
    pub kerberos: Option<Arc<crate::kerberos::LabRealm>>,
}

/// Accepts connections until the listener task is aborted.
pub(crate) async fn serve(listener: TcpListener, acceptor: TlsAcceptor, state: Arc<PoolState>) {
    loop {
        let Ok((tcp, peer)) = listener.accept().await else { continue };
        if state.services.paused() {
            // Restarting: the connection is accepted and dropped at once, as a port with no
            // service behind it would reset it.
            drop(tcp);
            continue;
        }
        let acceptor = acceptor.clone();
        let state = state.clone();
        tokio::spawn(async move {
            setup_delay(state.config.response_delay(), true).await;
            match acceptor.accept(tcp).await {
                Ok(tls) => serve_connection(tls, peer, state).await,
                Err(e) => tracing::debug!(%peer, error = %e, "lab pool: TLS handshake failed"),
            }
        });
    }
}

/// The response delay covers connection setup too, so that counting round trips counts every sequential
/// exchange: one for TCP's handshake (whose SYN-ACK the kernel sends at once, so it is taken here) and one for
/// the TLS server's flight (TLS 1.3 has one; the client speaks first, and its ClientHello waits in the socket
/// meanwhile).
pub(crate) async fn setup_delay(delay: std::time::Duration, tls: bool) {
    if !delay.is_zero() {
        tokio::time::sleep(if tls { delay * 2 } else { delay }).await;
    }
}

async fn serve_connection(
    mut tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    peer: SocketAddr,
    state: Arc<PoolState>,
) {
    let (conn, mut outgoing) = state.services.connect(&state.config.pool_fqdn);
    let mut parser = StreamParser::new(Limits::default());
    let mut auth = crate::auth::ConnAuth::new(&state.config, state.tlsdsk.clone(), &state.certprov_url)
        .with_directory(state.services.directory.clone())
        .with_kerberos(state.kerberos.as_ref().map(|k| k.acceptor()));
    let mut buf = vec![0u8; 16 * 1024];
    // REGISTERs on this connection, for the faults that strike at one leg of the handshake.
    let mut registers = 0u32;
    'conn: loop {
        let n = tokio::select! {
            read = tls.read(&mut buf) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            },
            out = outgoing.recv() => {
                match out {
                    Some(Outgoing::Request(mut req)) => {
                        auth.sign(&state.config, &mut req);
                        if tls.write_all(&req.to_bytes()).await.is_err() {
                            break;
                        }
                    }
                    Some(Outgoing::Forged(mut req)) => {
                        auth.sign(&state.config, &mut req);
                        spoil_signature(&mut req);
                        if tls.write_all(&req.to_bytes()).await.is_err() {
                            break;
                        }
                    }
                    Some(Outgoing::Close) | None => break,
                }
                continue;
            }
        };
        if parser.push(&buf[..n]).is_err() {
            break;
        }
        loop {
            let item = match parser.next_item() {
                Ok(Some(item)) => item,
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "lab pool: unframeable stream, closing");
                    break 'conn;
                }
            };
            let reply: Option<Vec<u8>> = match item {
                StreamItem::Ping => Some(b"\r\n".to_vec()),
                StreamItem::Pong => None,
                StreamItem::Message(m) if m.method() == Some(&Method::Register) => {
                    registers += 1;
                    match register_fault(&state, &m, registers) {
                        Some(RegisterFault::Drop) => break 'conn,
                        Some(RegisterFault::Answer(r)) => Some(r.to_bytes()),
                        None => answer(&state, &mut auth, &m, peer, conn).map(|r| r.to_bytes()),
                    }
                }
                StreamItem::Message(m) => answer(&state, &mut auth, &m, peer, conn).map(|r| r.to_bytes()),
                StreamItem::Invalid { error, message }
                    if message.is_request() && message.method() != Some(&Method::Ack) =>
                {
                    let resp = Message::response_to(&message, error.status_code(), "Bad Request", None).with_header(
                        "Warning",
                        &format!("399 {} \"{}\"", state.config.pool_fqdn, error.to_string().replace('"', "'")),
                    );
                    Some(resp.to_bytes())
                }
                StreamItem::Invalid { .. } => None,
            };
            if let Some(bytes) = reply {
                if !state.config.response_delay().is_zero() {
                    tokio::time::sleep(state.config.response_delay()).await;
                }
                if state.config.has(Fault::Trickle) {
                    // One byte a second: a registrar (or a path) that all but stopped.
                    for byte in bytes {
                        if tls.write_all(&[byte]).await.is_err() || tls.flush().await.is_err() {
                            break 'conn;
                        }
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                    continue;
                }
                if tls.write_all(&bytes).await.is_err() {
                    break 'conn;
                }
            }
        }
    }
    let _ = tls.shutdown().await;
    state.services.disconnect(conn, &state.config, state.port);
}

/// What a REGISTER fault does instead of the registrar.
enum RegisterFault {
    /// Close the connection without answering (`drop-register-N`).
    Drop,
    /// Answer this instead (`register-503`).
    Answer(Message),
}

/// The faults that strike the `n`th REGISTER of a connection, once per user: `drop-register-1/2/3`
/// drop the connection when that leg arrives; `register-503` answers the first REGISTER with 503 and
/// `Retry-After: 1`, as a Front End that is starting or overloaded does.
fn register_fault(state: &PoolState, req: &Message, n: u32) -> Option<RegisterFault> {
    let aor = req.to_header().ok().and_then(|t| t.uri.as_sip().map(|u| u.aor())).unwrap_or_default();
    let drop_at = [(Fault::DropRegister1, 1), (Fault::DropRegister2, 2), (Fault::DropRegister3, 3)];
    if drop_at.iter().any(|(f, leg)| state.config.has(*f) && *leg == n)
        && state.services.first_time(&format!("drop-register:{aor}"))
    {
        tracing::info!(%aor, leg = n, "lab pool fault drop-register: closing the connection");
        return Some(RegisterFault::Drop);
    }
    if state.config.has(Fault::Register503) && n == 1 && state.services.first_time(&format!("register-503:{aor}")) {
        let busy = Message::response_to(req, 503, "Service Unavailable", Some(&sfbkit::identity::new_tag()))
            .with_header("Retry-After", "1")
            .with_header(
                "ms-diagnostics",
                &format!("1008;reason=\"Server is busy\";source=\"{}\"", state.config.pool_fqdn),
            )
            .with_header("Server", &state.config.registrar.server_header);
        return Some(RegisterFault::Answer(busy));
    }
    None
}

/// Spoils the signature the pool just added (the first hex digit of `rspauth` changes).
fn spoil_signature(msg: &mut Message) {
    for name in ["Authentication-Info", "Proxy-Authentication-Info"] {
        let Some(value) = msg.header(name).map(str::to_string) else { continue };
        let Some(at) = value.find("rspauth=\"").map(|i| i + "rspauth=\"".len()) else { continue };
        let mut bytes = value.into_bytes();
        bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
        msg.headers.set(name, &String::from_utf8_lossy(&bytes));
    }
}

/// Authenticates the request ([MS-SIPAE]: every request once the pool requires it), answers it,
/// and signs the answer with the connection's security association.
fn answer(
    state: &PoolState,
    auth: &mut crate::auth::ConnAuth,
    req: &Message,
    peer: SocketAddr,
    conn: u64,
) -> Option<Message> {
    if matches!(req.method()?, Method::Ack | Method::Benotify) {
        return None;
    }
    if state.config.auth.required
        && let crate::auth::Verdict::Answer(challenge) = auth.check(&state.config, req)
    {
        return Some(challenge);
    }
    let mut resp = respond(state, req, peer, conn)?;
    auth.sign(&state.config, &mut resp);
    Some(resp)
}

fn respond(state: &PoolState, req: &Message, peer: SocketAddr, conn: u64) -> Option<Message> {
    if req.method() == Some(&Method::Register)
        && let Some(redirect) = home_pool_redirect(state, req)
    {
        return Some(redirect);
    }
    match req.method()? {
        Method::Register => Some(register(state, req, peer, conn)),
        Method::Subscribe => Some(state.services.subscribe(conn, &state.config, state.port, req)),
        Method::Service => Some(state.services.service(&state.config, state.port, req)),
        Method::Options => Some(registrar::options(&state.config, req)),
        Method::Ack | Method::Benotify => None,
        _ => Some(registrar::not_implemented(&state.config, req)),
    }
}

/// REGISTER: users disabled at run time are refused like disabled ones ([MS-OCER] 4141); a
/// registration binds the connection to the endpoint (for notifications), an unregistration
/// ends the endpoint's presence.
fn register(state: &PoolState, req: &Message, peer: SocketAddr, conn: u64) -> Message {
    let aor = req.to_header().ok().and_then(|t| t.uri.as_sip().map(|u| u.aor())).unwrap_or_default();
    if state.services.is_disabled(&aor) {
        return Message::response_to(req, 403, "Forbidden", None).with_header(
            "ms-diagnostics",
            &format!("4141;reason=\"User disabled\";source=\"{}\"", state.config.pool_fqdn),
        );
    }
    let resp = state.registrar.handle_register(&state.config, req, peer);
    if resp.status() != Some(200) {
        return resp;
    }
    let epid = req.from_header().ok().and_then(|f| f.params.value("epid").map(|e| e.into_owned())).unwrap_or_default();
    if req.expires().ok().flatten() == Some(0) {
        return resp;
    }
    let first = state.services.bind(conn, &aor, &epid);
    if first {
        crate::faults::after_first_registration(state, &aor);
    }
    resp
}

/// A user homed on another pool of the lab is sent there: `301 Moved Permanently` with that
/// registrar in Contact (REFERENCE.md §3.2; seed 001 step 4, "Optional Redirection").
fn home_pool_redirect(state: &PoolState, req: &Message) -> Option<Message> {
    let aor = req.to_header().ok()?.uri.as_sip()?.aor();
    let user = state.config.user(&aor)?;
    let home = state.config.home_pool(user);
    if home.eq_ignore_ascii_case(&state.config.pool_fqdn) {
        return None;
    }
    let port = state.pools.get(&home.to_ascii_lowercase())?;
    Some(
        Message::response_to(req, 301, "Moved Permanently", None)
            .with_header("Contact", &format!("<sip:{home}:{port};transport=tls>"))
            .with_header("Server", &state.config.registrar.server_header),
    )
}
