//! The facade: [`ClientBuilder`] → [`Client`] → [`Client::sign_in`] → [`SignInReport`].
//!
//! Bindings (Python, Swift, Kotlin) wrap this and nothing else, so everything here is owned data,
//! async methods and typed errors. The client signs in the way the Microsoft client does, stage by
//! stage, and records each step in the report.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::identity::Epid;
use crate::registration::{self, RegisterOutcome, RegisterParams};
use crate::report::{Failure, Outcome, SignInReport, SignInResult, Stage};
use crate::session::{SessionError, SipSession};
use crate::sip::transaction::RequestFactory;
use crate::sip::{Host, Limits, Uri};
use crate::transport::{TlsConnector, TransportError, TrustConfig};

/// Where the registrar is, when the caller already knows (discovery comes in a later stage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTarget {
    /// The FQDN the certificate must name (`pool01.contoso.com`).
    pub fqdn: String,
    pub port: u16,
    /// Connect here instead of resolving `fqdn` (a lab pool on 127.0.0.1, a known front end).
    pub addr: Option<SocketAddr>,
}

/// Why a client could not be built or an operation could not run.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0:?} is not a SIP URI of the form sip:user@domain")]
    InvalidSipUri(String),
    #[error("no registrar configured: call ClientBuilder::server (automatic discovery is not available yet)")]
    NoServer,
    #[error("not signed in")]
    NotSignedIn,
    #[error("keep-alive failed: {0}")]
    KeepAlive(Box<SessionError>),
    #[error("sign-out failed: {0}")]
    SignOut(Box<SessionError>),
}

/// Configures a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    sip_uri: String,
    server: Option<ServerTarget>,
    trust: TrustConfig,
    epid: Option<Epid>,
    user_agent: String,
    connect_timeout: Duration,
    limits: Limits,
}

impl ClientBuilder {
    /// A client for `sip:user@domain` (the `sip:` prefix may be omitted).
    pub fn new(sip_uri: &str) -> ClientBuilder {
        ClientBuilder {
            sip_uri: sip_uri.to_string(),
            server: None,
            trust: TrustConfig::system(),
            epid: None,
            user_agent: format!("sfbkit/{} ({})", env!("CARGO_PKG_VERSION"), std::env::consts::OS),
            connect_timeout: Duration::from_secs(10),
            limits: Limits::default(),
        }
    }
    /// The registrar to sign in to.
    pub fn server(mut self, target: ServerTarget) -> ClientBuilder {
        self.server = Some(target);
        self
    }
    /// Which certificate authorities to trust (system roots by default; checks are never off).
    pub fn trust(mut self, trust: TrustConfig) -> ClientBuilder {
        self.trust = trust;
        self
    }
    /// The endpoint id to use; persist it so the pool sees the same endpoint across runs.
    pub fn epid(mut self, epid: Epid) -> ClientBuilder {
        self.epid = Some(epid);
        self
    }
    /// `User-Agent` (some pools filter clients by it: Client Version Filtering).
    pub fn user_agent(mut self, ua: &str) -> ClientBuilder {
        self.user_agent = ua.to_string();
        self
    }
    /// Upper bound for TCP connect plus TLS handshake.
    pub fn connect_timeout(mut self, t: Duration) -> ClientBuilder {
        self.connect_timeout = t;
        self
    }
    /// Parser limits for what the server sends.
    pub fn limits(mut self, limits: Limits) -> ClientBuilder {
        self.limits = limits;
        self
    }
    /// Checks the configuration and builds the client.
    pub fn build(self) -> Result<Client, ClientError> {
        let text =
            if self.sip_uri.starts_with("sip:") { self.sip_uri.clone() } else { format!("sip:{}", self.sip_uri) };
        let aor = Uri::parse(&text).map_err(|_| ClientError::InvalidSipUri(self.sip_uri.clone()))?;
        let domain = match aor.as_sip() {
            Some(s) if s.user().is_some() && s.params().is_empty() && s.port().is_none() => s.host().to_string(),
            _ => return Err(ClientError::InvalidSipUri(self.sip_uri.clone())),
        };
        let server = self.server.clone().ok_or(ClientError::NoServer)?;
        Ok(Client {
            epid: self.epid.clone().unwrap_or_else(Epid::generate),
            aor,
            domain,
            server,
            config: self,
            session: Mutex::new(None),
        })
    }
}

/// One Skype for Business endpoint. Cheap: no thread of its own; all I/O on the caller's tokio runtime.
pub struct Client {
    config: ClientBuilder,
    aor: Uri,
    domain: String,
    epid: Epid,
    server: ServerTarget,
    session: Mutex<Option<SipSession>>,
}

impl Client {
    /// The endpoint id this client registers with.
    pub fn epid(&self) -> &Epid {
        &self.epid
    }

    /// Signs in and reports every step. On success the client stays registered until
    /// [`Client::sign_out`]; on failure the report says which stage failed and why.
    pub async fn sign_in(&self) -> SignInReport {
        let started = Instant::now();
        let target = match self.server.addr {
            Some(a) => format!("{}:{} ({a})", self.server.fqdn, self.server.port),
            None => format!("{}:{}", self.server.fqdn, self.server.port),
        };
        let mut report = SignInReport::new(self.aor.as_str(), &target);
        report.step(
            Stage::ServerDiscovery,
            "configured registrar",
            &self.server.fqdn,
            Duration::ZERO,
            Outcome::Success,
            "registrar given by configuration; DNS and autodiscover were not needed",
        );
        if let Some(session) = self.connect_and_register(&mut report).await {
            *self.session.lock().await = Some(session);
            report.result = SignInResult::Success;
        }
        report.latency_ms = (started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0;
        report
    }

    async fn connect_and_register(&self, report: &mut SignInReport) -> Option<SipSession> {
        let host = self.server.fqdn.clone();
        let t = Instant::now();
        let connector = match TlsConnector::new(&self.config.trust) {
            Ok(c) => c,
            Err(e) => {
                report.fail(
                    Stage::ConnectivityChecks,
                    "trust store",
                    &host,
                    t.elapsed(),
                    Failure { error: e.to_string(), class: "trust-store".into(), diagnosis: None, hint: e.hint() },
                );
                return None;
            }
        };
        let t = Instant::now();
        let connected = match self.server.addr {
            Some(addr) => connector.connect_addr(addr, &host, self.config.connect_timeout).await,
            None => connector.connect(&host, self.server.port, self.config.connect_timeout).await,
        };
        let conn = match connected {
            Ok(c) => c,
            Err(e) => {
                report.fail(
                    Stage::ConnectivityChecks,
                    "TCP connect + TLS handshake",
                    &host,
                    t.elapsed(),
                    transport_failure(&e),
                );
                return None;
            }
        };
        let info = conn.info().clone();
        report.step(
            Stage::ConnectivityChecks,
            "TCP connect + TLS handshake",
            &host,
            t.elapsed(),
            Outcome::Success,
            format!(
                "{} {} to {}; certificate valid for {}",
                info.protocol_version, info.cipher_suite, info.peer_addr, info.server_name
            ),
        );
        let local = info.local_addr;
        let host_of = match local.ip() {
            std::net::IpAddr::V4(a) => Host::Ipv4(a),
            std::net::IpAddr::V6(a) => Host::Ipv6(a),
        };
        let factory = RequestFactory::new(host_of, local.port(), self.aor.clone(), self.epid.clone());
        let mut session = SipSession::new(conn, factory, self.config.limits);
        let params = self.register_params(local, None);
        let t = Instant::now();
        let request = match registration::register_request(&mut session.factory, &self.aor, &params) {
            Ok(r) => r,
            Err(e) => {
                report.fail(
                    Stage::Authentication,
                    "REGISTER",
                    &host,
                    t.elapsed(),
                    Failure {
                        error: e.to_string(),
                        class: "bad-configuration".into(),
                        diagnosis: None,
                        hint: "check the SIP domain in the user's SIP URI".into(),
                    },
                );
                return None;
            }
        };
        let response = match session.request(request).await {
            Ok(r) => r,
            Err(e) => {
                report.fail(Stage::Authentication, "REGISTER", &host, t.elapsed(), session_failure(&e));
                return None;
            }
        };
        match registration::classify_response(&response, &self.epid) {
            RegisterOutcome::Registered(reg) => {
                report.step(
                    Stage::Authentication,
                    "REGISTER",
                    &host,
                    t.elapsed(),
                    Outcome::Success,
                    format!(
                        "200 OK: registered for {} s, keep-alive every {} s, GRUU {}",
                        reg.expires,
                        reg.keep_alive_timeout.map(|k| k.to_string()).unwrap_or_else(|| "?".into()),
                        reg.gruu.as_deref().unwrap_or("(none)")
                    ),
                );
                report.registration = Some(reg);
                Some(session)
            }
            RegisterOutcome::AuthenticationRequired { proxy, challenges } => {
                let schemes: Vec<&str> = challenges.iter().map(|c| c.scheme.as_str()).collect();
                let code = if proxy { 407 } else { 401 };
                report.fail(Stage::Authentication, "REGISTER", &host, t.elapsed(), Failure {
                    error: format!("{code}, the registrar requires authentication ({})", schemes.join(", ")),
                    class: "authentication-required".into(),
                    diagnosis: registration::diagnostics_of(&response).map(|d| d.to_diagnosis()),
                    hint: "this sfbkit build registers without credentials; NTLM and TLS-DSK authentication are not available yet".into(),
                });
                None
            }
            RegisterOutcome::Redirect { contact } => {
                report.fail(
                    Stage::Redirection,
                    "REGISTER",
                    &host,
                    t.elapsed(),
                    Failure {
                        error: format!("301, the user is homed on {contact}"),
                        class: "redirect".into(),
                        diagnosis: registration::diagnostics_of(&response).map(|d| d.to_diagnosis()),
                        hint: format!(
                            "sign in to {contact} directly; following home-pool redirects is not available yet"
                        ),
                    },
                );
                None
            }
            RegisterOutcome::Rejected { code, reason, diagnostics } => {
                report.fail(
                    Stage::Authentication,
                    "REGISTER",
                    &host,
                    t.elapsed(),
                    Failure {
                        hint: register_hint(code, diagnostics.as_ref().map(|d| d.code)),
                        error: format!("{code}, {reason}"),
                        class: code.to_string(),
                        diagnosis: diagnostics.map(|d| d.to_diagnosis()),
                    },
                );
                None
            }
        }
    }

    fn register_params(&self, local: SocketAddr, expires: Option<u32>) -> RegisterParams {
        RegisterParams {
            domain: self.domain.clone(),
            local_addr: local,
            // A per-endpoint constant, as Lync sends: derived from the epid so it is stable too.
            ms_opaque: self.epid.as_str().chars().rev().collect(),
            user_agent: self.config.user_agent.clone(),
            expires,
        }
    }

    /// Sends a keep-alive ping on the signed-in connection and returns the time until the
    /// registrar's pong: a cheap "is my connection alive" check.
    pub async fn keep_alive(&self) -> Result<Duration, ClientError> {
        let mut guard = self.session.lock().await;
        let session = guard.as_mut().ok_or(ClientError::NotSignedIn)?;
        session.ping(Duration::from_secs(10)).await.map_err(|e| ClientError::KeepAlive(Box::new(e)))
    }

    /// Unregisters (REGISTER with `Expires: 0`) and closes the connection.
    pub async fn sign_out(&self) -> Result<(), ClientError> {
        let mut guard = self.session.lock().await;
        let mut session = guard.take().ok_or(ClientError::NotSignedIn)?;
        let local = session.conn.local_addr();
        let params = self.register_params(local, Some(0));
        let request = registration::register_request(&mut session.factory, &self.aor, &params)
            .map_err(|e| ClientError::SignOut(Box::new(SessionError::Stream(e))))?;
        let result = session.request(request).await;
        let _ = session.conn.close().await;
        result.map(|_| ()).map_err(|e| ClientError::SignOut(Box::new(e)))
    }
}

/// A short class and a hint for a transport failure.
fn transport_failure(e: &TransportError) -> Failure {
    let class = match e {
        TransportError::Trust(_) => "trust-store",
        TransportError::InvalidServerName { .. } => "invalid-server-name",
        TransportError::NameNotResolved { .. } => "no-such-name",
        TransportError::Refused { .. } => "refused",
        TransportError::Timeout { .. } => "timeout",
        TransportError::UntrustedRoot { .. } => "untrusted-root",
        TransportError::NameMismatch { .. } => "name-mismatch",
        TransportError::Expired { .. } => "expired-certificate",
        TransportError::NotYetValid { .. } => "certificate-not-yet-valid",
        TransportError::CertificateRejected { .. } => "certificate-rejected",
        TransportError::HandshakeFailure { .. } | TransportError::Protocol { .. } => "tls-refused",
        TransportError::Io { .. } => "io",
    };
    Failure { error: e.to_string(), class: class.into(), diagnosis: None, hint: e.hint() }
}

fn session_failure(e: &SessionError) -> Failure {
    match e {
        SessionError::Transport(t) => transport_failure(t),
        SessionError::TimedOut(_) => Failure {
            error: e.to_string(),
            class: "timeout".into(),
            diagnosis: None,
            hint: "the registrar accepted the connection but never answered REGISTER: check the Front End service and its load".into(),
        },
        SessionError::Closed => Failure {
            error: e.to_string(),
            class: "closed".into(),
            diagnosis: None,
            hint: "the registrar closed the connection after REGISTER: check that this client is allowed (Client Version Filtering) and that the pool is healthy".into(),
        },
        SessionError::Stream(_) | SessionError::Request(_) => Failure {
            error: e.to_string(),
            class: "protocol".into(),
            diagnosis: None,
            hint: "the registrar sent bytes that are not valid SIP: check that the address is a SIP (TLS 5061) port".into(),
        },
    }
}

fn register_hint(code: u16, diag: Option<u32>) -> String {
    match (code, diag) {
        (404, _) => "the user is not enabled for Skype for Business on this pool (Get-CsUser / Enable-CsUser)".into(),
        (403, _) => "the registrar refused this user or endpoint; the diagnosis names the reason".into(),
        (400, Some(4010)) => {
            "the REGISTER lacked an endpoint identity the registrar needs (epid / +sip.instance)".into()
        }
        (489, _) => "the registrar refused the Event header (it must be `registration`)".into(),
        (421, _) => "the registrar needs an extension this client did not announce".into(),
        (503, _) | (504, _) => {
            "the pool is unavailable or overloaded; retry later and check the Front End services".into()
        }
        _ => "see the diagnosis; the registrar's ms-diagnostics code identifies the cause".into(),
    }
}
