//! The registrar's side of [MS-SIPAE] for one connection: challenge, verify the client's NTLM
//! AUTHENTICATE against the user directory, then verify the signature of every request and sign
//! every response (`Authentication-Info` with `rspauth`, `srand`, `snum`).
//!
//! This is the server's own state machine: it shares only the NTLM and signature-buffer wire
//! formats with the client (both pinned to published vectors), never the client's handshake logic.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use sfbkit::auth::ntlm::crypto::filetime;
use sfbkit::auth::ntlm::server::{NtlmServer, ServerCredentials, ServerIdentity};
use sfbkit::auth::ntlm::{AuthenticateMessage, ChallengeMessage, NtlmSession, decode_token, encode_token};
use sfbkit::auth::signature::{BufferParams, read_client_signature, signature_buffer};
use sfbkit::sip::{AuthHeader, Message};

use crate::config::{Fault, LabConfig};
use crate::tlsdsk::{ServerKeys, ServerStep, TlsDskServer, TlsDskServerConfig};

/// `realm` of every challenge.
pub const REALM: &str = "SIP Communications Service";
/// The [MS-SIPAE] version the pool announces (Lync and SfB: 4).
pub const VERSION: u32 = 4;

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
        }
    }
    fn verify_hex(&self, buffer: &[u8], signature: &str) -> bool {
        match &self.signer {
            Signer::Ntlm(s) => s.verify_hex(buffer, signature),
            Signer::TlsDsk(k) => {
                let bytes: Option<Vec<u8>> = (0..signature.len())
                    .step_by(2)
                    .map(|i| signature.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
                    .collect();
                bytes.is_some_and(|b| crate::tlsdsk::verify(k, buffer, &b))
            }
        }
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
            certprov_url: certprov_url.to_string(),
            sa: None,
        }
    }

    /// Decides whether `req` is authenticated.
    pub fn check(&mut self, config: &LabConfig, req: &Message) -> Verdict {
        let Some(value) = req.header("Authorization") else { return Verdict::Answer(self.challenge(config, req)) };
        let Ok(auth) = AuthHeader::parse("Authorization", value) else {
            return Verdict::Answer(self.challenge(config, req));
        };
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
        if !auth.scheme.eq_ignore_ascii_case("NTLM") {
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
        let mut resp = unauthorized(req).with_header(
            "WWW-Authenticate",
            &format!("NTLM realm=\"{REALM}\", targetname=\"{}\", version={VERSION}", config.pool_fqdn),
        );
        if self.tlsdsk.is_some() {
            resp.headers.push(
                "WWW-Authenticate",
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
                Verdict::Answer(unauthorized(req).with_header("WWW-Authenticate", &value))
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
                Verdict::Answer(unauthorized(req).with_header("WWW-Authenticate", &value))
            }
            Err(e) => {
                tracing::info!(error = %e, "lab pool: TLS-DSK handshake failed");
                Verdict::Answer(self.challenge(config, req))
            }
        }
    }

    /// The second 401: the CHALLENGE_MESSAGE and the opaque naming this association.
    fn ntlm_challenge(&mut self, config: &LabConfig, req: &Message) -> Message {
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or(Duration::ZERO);
        let challenge = self.ntlm.challenge(rand::random::<[u8; 8]>(), filetime(now));
        let opaque = format!("{:08X}", rand::random::<u32>());
        let token = encode_token(&challenge.to_bytes());
        // A client that never finishes must not grow this without bound.
        if self.pending.len() >= 8 {
            self.pending.clear();
        }
        self.pending.insert(opaque.clone(), challenge);
        unauthorized(req).with_header(
            "WWW-Authenticate",
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
            user.password.clone()
        };
        let creds = ServerCredentials { user: message.user_name(), password };
        let Ok(accepted) = self.ntlm.accept(&[], &challenge, &bytes, &creds) else {
            tracing::info!(%account, "lab pool: NTLM credentials refused");
            return Verdict::Answer(self.challenge(config, req));
        };
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
        let Some(sa) = self.sa.as_mut() else { return };
        sa.snum = sa.snum.wrapping_add(1);
        let srand = format!("{:08X}", rand::random::<u32>());
        let params = BufferParams {
            scheme: sa.scheme.into(),
            rand: srand.clone(),
            num: sa.snum.to_string(),
            realm: REALM.into(),
            targetname: config.pool_fqdn.clone(),
            version: VERSION,
        };
        let Ok(buffer) = signature_buffer(msg, &params) else { return };
        let rspauth = sa.sign_hex(buffer.as_bytes());
        let scheme = sa.scheme;
        msg.headers.push(
            "Authentication-Info",
            &format!(
                "{scheme} rspauth=\"{rspauth}\", srand=\"{srand}\", snum=\"{}\", opaque=\"{}\", qop=\"auth\", targetname=\"{}\", realm=\"{REALM}\"",
                sa.snum, sa.opaque, config.pool_fqdn
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

fn unauthorized(req: &Message) -> Message {
    Message::response_to(req, 401, "Unauthorized", Some(&tag()))
}

fn forbidden(config: &LabConfig, req: &Message, reason: &str) -> Message {
    Message::response_to(req, 403, "Forbidden", Some(&tag()))
        .with_header("ms-diagnostics", &format!("4003;reason=\"{reason}\";source=\"{}\"", config.pool_fqdn))
}

fn tag() -> String {
    format!("{:010x}", rand::random::<u64>() & 0xff_ffff_ffff)
}
