//! The registrar's side of [MS-SIPAE] for one connection: challenge, verify the client's NTLM
//! AUTHENTICATE against the user directory, then verify the signature of every request and sign
//! every response (`Authentication-Info` with `rspauth`, `srand`, `snum`).
//!
//! This is the server's own state machine: it shares only the NTLM and signature-buffer wire
//! formats with the client (both pinned to published vectors), never the client's handshake logic.
//!
//! Every challenge carries a `Date` header, as a Front End's does (the [MS-SIPAE] examples show
//! one): clients compare it with their clock (REFERENCE.md §4.1). Two faults change this side:
//! - `proxy-auth`: the pool authenticates as an Edge's access proxy does — 407 with
//!   `Proxy-Authenticate`, answers read from `Proxy-Authorization`, signatures sent in
//!   `Proxy-Authentication-Info` ([MS-SIPAE] 3.1; CLIENT-NOTES.md §5.2), for NTLM and TLS-DSK.
//! - `clock-skew`: the pool's clock is an hour behind. Its `Date` says so, and its NTLM refuses an
//!   AUTHENTICATE whose NTLMv2 timestamp is more than 15 minutes from its clock. So that the
//!   client's own clock reaches the blob, the CHALLENGE then carries no MsvAvTimestamp (a client
//!   echoes the server's timestamp when there is one, [MS-NLMP] 3.1.5.1.2 — which is also why the
//!   `Date` header is the dependable evidence for a client).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sfbkit::auth::ntlm::crypto::filetime;
use sfbkit::auth::ntlm::messages::{av, write_av_pairs};
use sfbkit::auth::ntlm::server::{NtlmServer, ServerCredentials, ServerIdentity};
use sfbkit::auth::ntlm::{AuthenticateMessage, ChallengeMessage, NtlmSession, decode_token, encode_token};
use sfbkit::auth::signature::{BufferParams, read_client_signature, signature_buffer};
use sfbkit::identity::new_tag as tag;
use sfbkit::sip::{AuthHeader, Message};

use crate::config::{Fault, LabConfig};
use crate::tlsdsk::{ServerKeys, ServerStep, TlsDskServer, TlsDskServerConfig};

/// `realm` of every challenge.
pub const REALM: &str = "SIP Communications Service";
/// The [MS-SIPAE] version the pool announces (Lync and SfB: 4).
pub const VERSION: u32 = 4;
/// How far behind the pool's clock is under the `clock-skew` fault.
pub const CLOCK_SKEW: Duration = Duration::from_secs(3600);
/// The skew the pool's NTLM tolerates between the client's NTLMv2 timestamp and its clock.
pub const NTLM_TOLERANCE: Duration = Duration::from_secs(15 * 60);

/// What to do with a request.
#[derive(Debug)]
pub enum Verdict {
    /// Answer with this (a 401 challenge, a 403); the request goes no further.
    Answer(Message),
    /// Authenticated: hand it to the registrar, then sign the answer with [`ConnAuth::sign`].
    Proceed,
}

/// What signs for an association: NTLM's MAC, or HMAC with TLS-DSK's exported keys.
enum Signer {
    Ntlm(NtlmSession),
    TlsDsk(Box<ServerKeys>),
    /// MIT's acceptor context: MIC tokens made and checked by MIT's GSSAPI.
    Kerberos(crate::kerberos::gssapi::Context),
}

struct Association {
    scheme: &'static str,
    opaque: String,
    signer: Signer,
    sip_uri: String,
    snum: u32,
}

impl Association {
    fn sign_hex(&self, buffer: &[u8]) -> String {
        match &self.signer {
            Signer::Ntlm(s) => s.sign_hex(buffer),
            Signer::TlsDsk(k) => crate::tlsdsk::sign(k, buffer).iter().map(|b| format!("{b:02x}")).collect(),
            // Lower case, as an SfB 2015 pool's Kerberos rspauth shows (tieto/sipe#119).
            Signer::Kerberos(c) => c.get_mic(buffer).unwrap_or_default().iter().map(|b| format!("{b:02x}")).collect(),
        }
    }
    fn verify_hex(&self, buffer: &[u8], signature: &str) -> bool {
        let bytes: Option<Vec<u8>> = (0..signature.len())
            .step_by(2)
            .map(|i| signature.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
            .collect();
        match &self.signer {
            Signer::Ntlm(s) => s.verify_hex(buffer, signature),
            Signer::TlsDsk(k) => bytes.is_some_and(|b| crate::tlsdsk::verify(k, buffer, &b)),
            Signer::Kerberos(c) => bytes.is_some_and(|b| c.verify_mic(buffer, &b).is_ok()),
        }
    }

    /// The `targetname` this association signs with: `sip/<fqdn>` for Kerberos ([MS-SIPAE] 2.2.1).
    fn targetname(&self, fqdn: &str) -> String {
        if matches!(self.signer, Signer::Kerberos(_)) { format!("sip/{fqdn}") } else { fqdn.to_string() }
    }
}

/// The authentication state of one client connection.
pub struct ConnAuth {
    ntlm: NtlmServer,
    pending: HashMap<String, ChallengeMessage>,
    /// TLS-DSK tunnels in progress, by opaque.
    tunnels: HashMap<String, TlsDskServer>,
    /// The pool's TLS-DSK settings (certificate, user CA); `None` when TLS-DSK is not offered.
    tlsdsk: Option<TlsDskServerConfig>,
    certprov_url: String,
    sa: Option<Association>,
    /// `proxy-auth`: 407 / `Proxy-Authenticate` / `Proxy-Authorization` / `Proxy-Authentication-Info`.
    proxy: bool,
    /// How far behind real time the pool's clock is (`clock-skew`).
    clock_behind: Duration,
    /// Whether NTLM is offered on SIP: not under `online`, where, as in Office 365, only a
    /// certificate (TLS-DSK) gets a user in.
    ntlm_offered: bool,
    /// The directory's live state: changed passwords, failed logons.
    directory: Arc<crate::directory::Directory>,
    /// The realm's acceptor credential: Kerberos is offered when there is one.
    kerberos: Option<Arc<crate::kerberos::gssapi::Acceptor>>,
    /// `kerberos-only`: NTLM and TLS-DSK are not offered.
    kerberos_only: bool,
}

impl std::fmt::Debug for ConnAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnAuth")
            .field("pending", &self.pending.len())
            .field("established", &self.sa.is_some())
            .finish()
    }
}

impl ConnAuth {
    /// Checks passwords against, and counts refusals in, the lab's `directory` instead of a private one.
    pub fn with_directory(mut self, directory: Arc<crate::directory::Directory>) -> ConnAuth {
        self.directory = directory;
        self
    }

    /// Offers Kerberos and accepts it with `acceptor` (the lab realm's keytab).
    pub fn with_kerberos(mut self, acceptor: Option<Arc<crate::kerberos::gssapi::Acceptor>>) -> ConnAuth {
        self.kerberos = acceptor;
        if self.kerberos.is_some() && self.kerberos_only {
            self.tlsdsk = None;
            self.ntlm_offered = false;
        }
        self
    }

    /// A connection of the pool described by `config`.
    pub fn new(config: &LabConfig, tlsdsk: Option<TlsDskServerConfig>, certprov_url: &str) -> ConnAuth {
        let nb_domain = config.domain.split('.').next().unwrap_or("LAB").to_ascii_uppercase();
        let nb_computer = config.pool_fqdn.split('.').next().unwrap_or("POOL").to_ascii_uppercase();
        let ntlm = NtlmServer::new(ServerIdentity {
            nb_domain,
            nb_computer,
            dns_domain: config.domain.clone(),
            dns_computer: config.pool_fqdn.clone(),
        });
        let tlsdsk = if config.has(Fault::NtlmOnly) { None } else { tlsdsk };
        ConnAuth {
            ntlm,
            pending: HashMap::new(),
            tunnels: HashMap::new(),
            tlsdsk,
            directory: Arc::default(),
            certprov_url: certprov_url.to_string(),
            sa: None,
            proxy: config.has(Fault::ProxyAuth),
            clock_behind: if config.has(Fault::ClockSkew) { CLOCK_SKEW } else { Duration::ZERO },
            ntlm_offered: !config.has(Fault::Online) && !config.has(Fault::TlsDskOnly),
            kerberos: None,
            kerberos_only: config.has(Fault::KerberosOnly),
        }
    }

    /// The pool's clock (an hour behind under `clock-skew`).
    fn now(&self) -> SystemTime {
        SystemTime::now().checked_sub(self.clock_behind).unwrap_or(SystemTime::UNIX_EPOCH)
    }

    /// `WWW-Authenticate`, or `Proxy-Authenticate` under `proxy-auth`.
    fn challenge_header(&self) -> &'static str {
        if self.proxy { "Proxy-Authenticate" } else { "WWW-Authenticate" }
    }

    /// `Authorization`, or `Proxy-Authorization` under `proxy-auth`.
    fn credentials_header(&self) -> &'static str {
        if self.proxy { "Proxy-Authorization" } else { "Authorization" }
    }

    /// `Authentication-Info`, or `Proxy-Authentication-Info` under `proxy-auth`.
    fn info_header(&self) -> &'static str {
        if self.proxy { "Proxy-Authentication-Info" } else { "Authentication-Info" }
    }

    /// An empty challenge response: 401 (407 under `proxy-auth`) with the pool's `Date`.
    fn unauthorized(&self, req: &Message) -> Message {
        let (code, reason) = if self.proxy { (407, "Proxy Authentication Required") } else { (401, "Unauthorized") };
        Message::response_to(req, code, reason, Some(&tag()))
            .with_header("Date", &sfbkit::auth::clock::format_date(self.now()))
    }

    /// Decides whether `req` is authenticated.
    pub fn check(&mut self, config: &LabConfig, req: &Message) -> Verdict {
        let name = self.credentials_header();
        let Some(value) = req.header(name) else { return Verdict::Answer(self.challenge(config, req)) };
        let Ok(auth) = AuthHeader::parse(name, value) else {
            return Verdict::Answer(self.challenge(config, req));
        };
        if auth.scheme.eq_ignore_ascii_case("Kerberos") && self.kerberos.is_some() {
            if auth.param("targetname").as_deref() != Some(format!("sip/{}", config.pool_fqdn).as_str()) {
                return Verdict::Answer(self.challenge(config, req));
            }
            return match auth.param("gssapi-data").map(|g| g.into_owned()) {
                Some(token) if !token.is_empty() => self.kerberos_leg(config, req, &token),
                Some(_) => Verdict::Answer(self.challenge(config, req)),
                None => self.verify_signed(config, req, &auth),
            };
        }
        if auth.param("targetname").as_deref() != Some(config.pool_fqdn.as_str()) {
            return Verdict::Answer(self.challenge(config, req));
        }
        if auth.scheme.eq_ignore_ascii_case("TLS-DSK") && self.tlsdsk.is_some() {
            return match auth.param("gssapi-data").map(|g| g.into_owned()) {
                Some(token) if !token.is_empty() => self.tls_dsk_leg(config, req, &auth, &token),
                Some(_) => Verdict::Answer(self.challenge(config, req)),
                None => self.verify_signed(config, req, &auth),
            };
        }
        if !auth.scheme.eq_ignore_ascii_case("NTLM") || !self.ntlm_offered {
            return Verdict::Answer(self.challenge(config, req));
        }
        match auth.param("gssapi-data").map(|g| g.into_owned()) {
            Some(token) if token.is_empty() => Verdict::Answer(self.ntlm_challenge(config, req)),
            Some(token) => self.authenticate(config, req, &auth, &token),
            None => self.verify_signed(config, req, &auth),
        }
    }

    /// The first 401: one `WWW-Authenticate` per scheme offered (NTLM, and TLS-DSK with the
    /// certificate provisioning URL in `sts-uri`, unless the fault `ntlm-only` is on).
    fn challenge(&self, config: &LabConfig, req: &Message) -> Message {
        let mut resp = self.unauthorized(req);
        if self.kerberos.is_some() {
            // [MS-SIPAE] 4.2's example: Kerberos's targetname is the service principal `sip/<fqdn>`.
            resp.headers.push(
                self.challenge_header(),
                &format!("Kerberos realm=\"{REALM}\", targetname=\"sip/{}\", version={VERSION}", config.pool_fqdn),
            );
        }
        if self.ntlm_offered {
            resp = resp.with_header(
                self.challenge_header(),
                &format!("NTLM realm=\"{REALM}\", targetname=\"{}\", version={VERSION}", config.pool_fqdn),
            );
        }
        if self.tlsdsk.is_some() {
            resp.headers.push(
                self.challenge_header(),
                &format!(
                    "TLS-DSK realm=\"{REALM}\", targetname=\"{}\", version={VERSION}, sts-uri=\"{}\"",
                    config.pool_fqdn, self.certprov_url
                ),
            );
        }
        resp
    }

    /// One TLS-DSK leg: the client's flight in, the server's flight out in the next 401. When the
    /// tunnel completes the association exists; the client's next, signed request proceeds.
    fn tls_dsk_leg(&mut self, config: &LabConfig, req: &Message, auth: &AuthHeader, token: &str) -> Verdict {
        let Ok(flight) = decode_token(token) else { return Verdict::Answer(self.challenge(config, req)) };
        let opaque = auth.param("opaque").map(|o| o.into_owned());
        let (opaque, mut server) = match opaque.and_then(|o| self.tunnels.remove(&o).map(|t| (o, t))) {
            Some(found) => found,
            None => {
                let Some(cfg) = self.tlsdsk.clone() else { return Verdict::Answer(self.challenge(config, req)) };
                let Ok(server) = TlsDskServer::new(cfg) else { return Verdict::Answer(self.challenge(config, req)) };
                (format!("{:08X}", rand::random::<u32>()), server)
            }
        };
        let header = |out: &[u8]| {
            format!(
                "TLS-DSK opaque=\"{opaque}\", gssapi-data=\"{}\", targetname=\"{}\", realm=\"{REALM}\", version={VERSION}",
                encode_token(out),
                config.pool_fqdn
            )
        };
        match server.handle(&flight) {
            Ok(ServerStep::Continue(out)) => {
                if self.tunnels.len() >= 8 {
                    self.tunnels.clear();
                }
                let value = header(&out);
                self.tunnels.insert(opaque, server);
                Verdict::Answer(self.unauthorized(req).with_header(self.challenge_header(), &value))
            }
            Ok(ServerStep::Done { flight: out, keys }) => {
                let sip_uri = format!("sip:{}", keys.client_subject_cn);
                let value = header(&out);
                self.sa = Some(Association {
                    scheme: "TLS-DSK",
                    opaque,
                    signer: Signer::TlsDsk(Box::new(keys)),
                    sip_uri,
                    snum: 0,
                });
                Verdict::Answer(self.unauthorized(req).with_header(self.challenge_header(), &value))
            }
            Err(e) => {
                tracing::info!(error = %e, "lab pool: TLS-DSK handshake failed");
                Verdict::Answer(self.challenge(config, req))
            }
        }
    }

    /// The one Kerberos leg: MIT accepts the AP-REQ with the pool's keytab, the request's own signature
    /// (version 4) must verify with the new context, and the association's opaque goes out in the 200 OK's
    /// `Authentication-Info`. A refused ticket (another key, a skewed clock) gets the challenge again.
    fn kerberos_leg(&mut self, config: &LabConfig, req: &Message, token: &str) -> Verdict {
        let Some(acceptor) = self.kerberos.clone() else { return Verdict::Answer(self.challenge(config, req)) };
        let Ok(bytes) = decode_token(token) else { return Verdict::Answer(self.challenge(config, req)) };
        let (context, principal) = match acceptor.accept(&bytes) {
            Ok((c, p, _)) => (c, p),
            Err(e) => {
                tracing::info!(error = %e, "lab pool: Kerberos AP-REQ refused");
                return Verdict::Answer(self.challenge(config, req));
            }
        };
        let Some(user) = config.user_by_principal(&principal) else {
            tracing::info!(%principal, "lab pool: a Kerberos principal that is no lab user");
            return Verdict::Answer(self.challenge(config, req));
        };
        let sa = Association {
            scheme: "Kerberos",
            opaque: format!("{:08X}", rand::random::<u32>()),
            signer: Signer::Kerberos(context),
            sip_uri: user.sip_uri.clone(),
            snum: 0,
        };
        if !signature_ok(&sa, req) {
            tracing::info!(%principal, "lab pool: the Kerberos REGISTER's signature did not verify");
            return Verdict::Answer(self.challenge(config, req));
        }
        let verdict = acting_as(config, req, &sa.sip_uri);
        self.sa = Some(sa);
        verdict
    }

    /// The second 401: the CHALLENGE_MESSAGE and the opaque naming this association.
    fn ntlm_challenge(&mut self, config: &LabConfig, req: &Message) -> Message {
        let now = self.now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or(Duration::ZERO);
        let mut challenge = self.ntlm.challenge(rand::random::<[u8; 8]>(), filetime(now));
        if !self.clock_behind.is_zero() {
            // `clock-skew`: no MsvAvTimestamp, so the client's own clock goes into its NTLMv2 blob
            // (see the module comment) and the timestamp check below can see the skew.
            challenge.av_pairs.retain(|p| p.id != av::TIMESTAMP);
            challenge.target_info = write_av_pairs(&challenge.av_pairs);
        }
        let opaque = format!("{:08X}", rand::random::<u32>());
        let token = encode_token(&challenge.to_bytes());
        // A client that never finishes must not grow this without bound.
        if self.pending.len() >= 8 {
            self.pending.clear();
        }
        self.pending.insert(opaque.clone(), challenge);
        self.unauthorized(req).with_header(
            self.challenge_header(),
            &format!(
                "NTLM opaque=\"{opaque}\", gssapi-data=\"{token}\", targetname=\"{}\", realm=\"{REALM}\", version={VERSION}",
                config.pool_fqdn
            ),
        )
    }

    fn authenticate(&mut self, config: &LabConfig, req: &Message, auth: &AuthHeader, token: &str) -> Verdict {
        let opaque = auth.param("opaque").map(|o| o.into_owned()).unwrap_or_default();
        let Some(challenge) = self.pending.remove(&opaque) else { return Verdict::Answer(self.challenge(config, req)) };
        let Ok(bytes) = decode_token(token) else { return Verdict::Answer(self.challenge(config, req)) };
        let Ok(message) = AuthenticateMessage::parse(&bytes) else {
            return Verdict::Answer(self.challenge(config, req));
        };
        let account = match message.domain_name() {
            d if d.is_empty() => message.user_name(),
            d => format!("{d}\\{}", message.user_name()),
        };
        // An account the directory does not know, or a wrong password: challenge again, as a
        // pool does; the client reports the refused credentials.
        let Some(user) = config.user_by_account(&account) else { return Verdict::Answer(self.challenge(config, req)) };
        // `wrong-password`: the directory's password never matches what the client proves.
        let password = if config.has(crate::config::Fault::WrongPassword) {
            format!("{}-changed", user.password)
        } else {
            self.directory.password_of(user)
        };
        let creds = ServerCredentials { user: message.user_name(), password };
        let Ok(accepted) = self.ntlm.accept(&[], &challenge, &bytes, &creds) else {
            self.directory.failed_logon(&account);
            tracing::info!(%account, "lab pool: NTLM credentials refused");
            return Verdict::Answer(self.challenge(config, req));
        };
        if !self.timestamp_ok(&message) {
            tracing::info!(%account, "lab pool: NTLMv2 timestamp too far from the pool's clock");
            return Verdict::Answer(self.challenge(config, req));
        }
        let sa = Association {
            scheme: "NTLM",
            opaque,
            signer: Signer::Ntlm(accepted.session),
            sip_uri: user.sip_uri.clone(),
            snum: 0,
        };
        // Version ≥ 3: the AUTHENTICATE request is signed too ([MS-SIPAE] 3.2.5.1).
        if !signature_ok(&sa, req) {
            return Verdict::Answer(self.challenge(config, req));
        }
        let verdict = acting_as(config, req, &sa.sip_uri);
        self.sa = Some(sa);
        verdict
    }

    /// The NTLMv2 blob's timestamp (NTProofStr(16), then RespType, HiRespType, Reserved(6),
    /// TimeStamp(8), [MS-NLMP] 2.2.2.7) within [`NTLM_TOLERANCE`] of the pool's clock.
    fn timestamp_ok(&self, message: &AuthenticateMessage) -> bool {
        let Some(bytes) = message.nt_response.get(24..32).and_then(|b| <[u8; 8]>::try_from(b).ok()) else {
            return false;
        };
        let theirs = u64::from_le_bytes(bytes);
        let ours = filetime(self.now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or(Duration::ZERO));
        // FILETIME counts 100 ns units.
        theirs.abs_diff(ours) <= NTLM_TOLERANCE.as_secs() * 10_000_000
    }

    fn verify_signed(&mut self, config: &LabConfig, req: &Message, auth: &AuthHeader) -> Verdict {
        let Some(sa) = &self.sa else { return Verdict::Answer(self.challenge(config, req)) };
        if !auth.scheme.eq_ignore_ascii_case(sa.scheme)
            || auth.param("opaque").as_deref() != Some(sa.opaque.as_str())
            || !signature_ok(sa, req)
        {
            tracing::info!("lab pool: dropped a request whose signature did not verify");
            return Verdict::Answer(self.challenge(config, req));
        }
        acting_as(config, req, &sa.sip_uri)
    }

    /// Signs a response (or a request the pool sends) once the association exists.
    pub fn sign(&mut self, config: &LabConfig, msg: &mut Message) {
        let info = self.info_header();
        let Some(sa) = self.sa.as_mut() else { return };
        sa.snum = sa.snum.wrapping_add(1);
        let srand = format!("{:08X}", rand::random::<u32>());
        let targetname = sa.targetname(&config.pool_fqdn);
        let params = BufferParams {
            scheme: sa.scheme.into(),
            rand: srand.clone(),
            num: sa.snum.to_string(),
            realm: REALM.into(),
            targetname: targetname.clone(),
            version: VERSION,
        };
        let Ok(buffer) = signature_buffer(msg, &params) else { return };
        let rspauth = sa.sign_hex(buffer.as_bytes());
        let scheme = sa.scheme;
        msg.headers.push(
            info,
            &format!(
                "{scheme} rspauth=\"{rspauth}\", srand=\"{srand}\", snum=\"{}\", opaque=\"{}\", qop=\"auth\", targetname=\"{targetname}\", realm=\"{REALM}\"",
                sa.snum, sa.opaque
            ),
        );
    }
}

fn signature_ok(sa: &Association, req: &Message) -> bool {
    let Some((params, response)) = read_client_signature(req, VERSION) else { return false };
    let Ok(buffer) = signature_buffer(req, &params) else { return false };
    sa.verify_hex(buffer.as_bytes(), &response)
}

/// Proceed when the request's From is the authenticated user; else 403, as a Front End answers.
fn acting_as(config: &LabConfig, req: &Message, sip_uri: &str) -> Verdict {
    if from_matches(req, sip_uri) {
        Verdict::Proceed
    } else {
        Verdict::Answer(forbidden(config, req, "Credentials provided are not authorized to act as specified from uri"))
    }
}

fn from_matches(req: &Message, sip_uri: &str) -> bool {
    let aor = req.from_header().ok().and_then(|f| f.uri.as_sip().map(|u| u.aor()));
    aor.is_some_and(|a| a.eq_ignore_ascii_case(sip_uri.strip_prefix("sip:").unwrap_or(sip_uri)))
}

fn forbidden(config: &LabConfig, req: &Message, reason: &str) -> Message {
    Message::response_to(req, 403, "Forbidden", Some(&tag()))
        .with_header("ms-diagnostics", &format!("4003;reason=\"{reason}\";source=\"{}\"", config.pool_fqdn))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sfbkit::auth::sa::{Challenge, NtlmHandshake, ntlm_credentials};
    use sfbkit::sip::{Limits, parse_message};

    fn register(auth: Option<(&str, &str)>) -> Message {
        let auth = auth.map(|(n, v)| format!("{n}: {v}\r\n")).unwrap_or_default();
        let text = format!(
            "REGISTER sip:contoso.lab SIP/2.0\r\nVia: SIP/2.0/TLS 10.0.0.1:5061;branch=z9hG4bK1\r\nFrom: <sip:alice@contoso.lab>;tag=1\r\nTo: <sip:alice@contoso.lab>\r\nCall-ID: c1\r\nCSeq: 1 REGISTER\r\n{auth}Content-Length: 0\r\n\r\n"
        );
        parse_message(text.as_bytes(), &Limits::default()).unwrap().message
    }

    fn answer(v: Verdict) -> Message {
        match v {
            Verdict::Answer(m) => m,
            Verdict::Proceed => panic!("expected a challenge"),
        }
    }

    /// Runs NTLM against the pool with the client's clock at `client_now`; the final verdict.
    fn ntlm_with_clock(config: &LabConfig, client_now: SystemTime) -> (Message, Verdict) {
        let mut auth = ConnAuth::new(config, None, "https://pool01.contoso.lab/CertProv");
        let first = answer(auth.check(config, &register(None)));
        let challenges = Challenge::all(&first);
        let header = challenges[0].credentials_header_name();
        let h =
            NtlmHandshake::new(&challenges[0], ntlm_credentials("alice@contoso.lab", crate::config::DEFAULT_PASSWORD))
                .unwrap();
        let second = answer(auth.check(config, &register(Some((header, &h.first_leg())))));
        let mut sa = h.answer(&Challenge::all(&second)[0], client_now).unwrap();
        let mut last = register(None);
        sa.authorize_final_leg(&mut last).unwrap();
        (first, auth.check(config, &last))
    }

    #[test]
    fn challenges_carry_the_pools_date() {
        let config = LabConfig::default().with_fault(Fault::NtlmOnly);
        let (first, verdict) = ntlm_with_clock(&config, SystemTime::now());
        assert!(matches!(verdict, Verdict::Proceed));
        let date = sfbkit::auth::clock::parse_date(first.header("Date").unwrap()).unwrap();
        let off = SystemTime::now().duration_since(date).unwrap_or_default();
        assert!(off < Duration::from_secs(5), "{off:?}");
    }

    #[test]
    fn clock_skew_dates_an_hour_back_and_refuses_a_timestamp_from_the_real_clock() {
        let config = LabConfig::default().with_fault(Fault::NtlmOnly).with_fault(Fault::ClockSkew);
        let (first, verdict) = ntlm_with_clock(&config, SystemTime::now());
        let refused = answer(verdict);
        assert_eq!(refused.status(), Some(401));
        let date = sfbkit::auth::clock::parse_date(first.header("Date").unwrap()).unwrap();
        let behind = SystemTime::now().duration_since(date).unwrap();
        assert!(behind >= CLOCK_SKEW - Duration::from_secs(1) && behind < CLOCK_SKEW + Duration::from_secs(5));
        // A client whose clock agrees with the pool's gets in.
        let (_, verdict) = ntlm_with_clock(&config, SystemTime::now() - CLOCK_SKEW);
        assert!(matches!(verdict, Verdict::Proceed));
    }

    #[test]
    fn proxy_auth_challenges_with_407_and_signs_in_proxy_authentication_info() {
        let config = LabConfig::default().with_fault(Fault::NtlmOnly).with_fault(Fault::ProxyAuth);
        let mut auth = ConnAuth::new(&config, None, "https://pool01.contoso.lab/CertProv");
        let first = answer(auth.check(&config, &register(None)));
        assert_eq!(first.status(), Some(407));
        assert!(first.header("WWW-Authenticate").is_none() && first.header("Proxy-Authenticate").is_some());
        assert!(first.header("Date").is_some());
        // Credentials in the registrar's header are not the proxy's: challenged again.
        let h = NtlmHandshake::new(&Challenge::all(&first)[0], ntlm_credentials("alice@contoso.lab", "x")).unwrap();
        assert_eq!(answer(auth.check(&config, &register(Some(("Authorization", &h.first_leg()))))).status(), Some(407));
        let second = answer(auth.check(&config, &register(Some(("Proxy-Authorization", &h.first_leg())))));
        assert!(Challenge::all(&second)[0].gssapi_data.is_some(), "the CHALLENGE, in Proxy-Authenticate");
        let (_, verdict) = ntlm_with_clock(&config, SystemTime::now());
        assert!(matches!(verdict, Verdict::Proceed));
    }
}
