//! The security association ([MS-SIPAE] 3.1) from the client's side: the handshake legs of a
//! scheme, then signing every outgoing message and verifying every incoming one.
//!
//! Sans-I/O: [`NtlmHandshake`] turns challenges into `Authorization` header values and ends in a
//! [`SecurityAssociation`]; the session driver puts the headers on REGISTERs and sends them.
//! Only the numeric `snum` and `rspauth` decide whether a message is accepted.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::clock::{self, ClockSkew};
use super::tlsdsk::{TlsDskClient, TlsDskConfig, TlsDskError, TlsDskKeys, TlsDskVersions, TlsVersion};
use crate::keystore::StoredCertificate;

use super::ntlm::{
    ClientOptions, ClientRandom, Credentials, NtlmClient, NtlmError, NtlmSession, decode_token, encode_token,
};
use super::signature::{
    AuthorizationParams, BufferParams, SignedParams, credentials_header, read_server_signature_in, signature_buffer,
};
use crate::sip::{AuthHeader, Message};

/// `realm` every SfB challenge carries (MS-SIPAE 2.2.1 default).
pub const DEFAULT_REALM: &str = "SIP Communications Service";

/// Why authentication failed, in words that say what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The registrar offers no scheme this client can use.
    #[error("the registrar offers {offered}, none of which this client can use here")]
    NoUsableScheme { offered: String },
    /// The challenge lacks what the scheme needs.
    #[error("the {scheme} challenge is malformed: {reason}")]
    BadChallenge { scheme: String, reason: String },
    /// NTLM itself failed (malformed CHALLENGE, flags).
    #[error("NTLM: {0}")]
    Ntlm(#[from] NtlmError),
    /// The server's signature is missing or wrong.
    #[error("the server's signature on {what} is {problem}")]
    BadServerSignature { what: String, problem: &'static str },
    /// The message could not be signed (a header the signature covers is malformed).
    #[error("cannot sign the message: {0}")]
    Signing(String),
    /// The TLS-DSK handshake failed (the pool's certificate inside the tunnel, versions, suites).
    #[error("TLS-DSK: {0}")]
    TlsDsk(#[from] TlsDskError),
    /// The stored certificate could not be used.
    #[error("the stored TLS-DSK certificate cannot be used: {0}")]
    Certificate(String),
    /// The registrar's clock (its `Date`) and this computer's are further apart than the scheme
    /// tolerates (REFERENCE.md §4.1): the credentials would be refused, or were.
    #[error("clock skew: {skew}; {scheme} tolerates at most {tolerance}")]
    ClockSkew {
        /// The scheme whose tolerance is exceeded.
        scheme: String,
        /// Both times and the difference ([`ClockSkew::describe`]).
        skew: String,
        /// The tolerance, in words (`15 min 0 s`).
        tolerance: String,
    },
}

impl AuthError {
    /// The clock-skew error when `skew` exceeds what `scheme` tolerates (for a refusal, the
    /// fallback tolerance is NTLM's); `None` when the clocks agree well enough.
    pub fn clock_skew(scheme: &str, skew: &ClockSkew, fallback: Option<Duration>) -> Option<AuthError> {
        let tolerance = clock::tolerance(scheme).or(fallback)?;
        skew.exceeds(tolerance).then(|| AuthError::ClockSkew {
            scheme: scheme.to_string(),
            skew: skew.describe(),
            tolerance: clock::human(tolerance),
        })
    }
}

/// One challenge from a 401 (`WWW-Authenticate`) or 407 (`Proxy-Authenticate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// True for a 407's `Proxy-Authenticate` (an Edge's access proxy): the answers go in
    /// `Proxy-Authorization` and the server signs in `Proxy-Authentication-Info` ([MS-SIPAE] 3.1,
    /// CLIENT-NOTES.md §5.2). The association it starts is separate from a registrar's.
    pub proxy: bool,
    pub scheme: String,
    pub realm: String,
    pub targetname: Option<String>,
    pub version: Option<u32>,
    pub opaque: Option<String>,
    pub gssapi_data: Option<String>,
    /// TLS-DSK only: the certificate provisioning URL.
    pub sts_uri: Option<String>,
}

impl Challenge {
    /// Reads an [`AuthHeader`] as a challenge.
    pub fn from_header(h: &AuthHeader) -> Challenge {
        let p = |n: &str| h.param(n).map(|v| v.into_owned());
        Challenge {
            proxy: false,
            scheme: h.scheme.clone(),
            realm: p("realm").unwrap_or_else(|| DEFAULT_REALM.to_string()),
            targetname: p("targetname"),
            version: p("version").and_then(|v| v.parse().ok()),
            opaque: p("opaque"),
            gssapi_data: p("gssapi-data"),
            sts_uri: p("sts-uri"),
        }
    }

    /// Every challenge of a 401 (`WWW-Authenticate`) or a 407 (`Proxy-Authenticate`, marked
    /// [`Challenge::proxy`]).
    pub fn all(resp: &Message) -> Vec<Challenge> {
        let proxy = resp.status() == Some(407);
        let name = if proxy { "Proxy-Authenticate" } else { "WWW-Authenticate" };
        resp.headers
            .get_all(name)
            .filter_map(|h| AuthHeader::parse(name, h.value()).ok())
            .map(|h| Challenge { proxy, ..Challenge::from_header(&h) })
            .collect()
    }

    /// The header this challenge's answers go in: `Proxy-Authorization` for a 407,
    /// `Authorization` for a 401.
    pub fn credentials_header_name(&self) -> &'static str {
        if self.proxy { "Proxy-Authorization" } else { "Authorization" }
    }
}

/// The NTLM legs ([MS-SIPAE] 3.2.2; CLIENT-NOTES.md §5.2): an empty first token, then the
/// AUTHENTICATE for the server's CHALLENGE, already signed for version ≥ 3.
pub struct NtlmHandshake {
    client: NtlmClient,
    realm: String,
    targetname: String,
    version: Option<u32>,
    header: &'static str,
}

impl NtlmHandshake {
    /// Starts from the registrar's first NTLM challenge (realm, targetname, version).
    pub fn new(challenge: &Challenge, credentials: Credentials) -> Result<NtlmHandshake, AuthError> {
        let targetname = challenge
            .targetname
            .clone()
            .ok_or_else(|| AuthError::BadChallenge { scheme: "NTLM".into(), reason: "no targetname".into() })?;
        Ok(NtlmHandshake {
            client: NtlmClient::new(credentials, ClientOptions::sip()),
            realm: challenge.realm.clone(),
            targetname,
            version: challenge.version,
            header: challenge.credentials_header_name(),
        })
    }

    /// The header the legs go in (`Authorization`, or `Proxy-Authorization` after a 407).
    pub fn header_name(&self) -> &'static str {
        self.header
    }

    /// The first leg's header value: `gssapi-data=""` (connectionless NTLM has no NEGOTIATE).
    pub fn first_leg(&self) -> String {
        credentials_header(&AuthorizationParams {
            scheme: "NTLM".into(),
            opaque: None,
            realm: self.realm.clone(),
            targetname: self.targetname.clone(),
            gssapi_data: Some(String::new()),
            version: self.version.filter(|v| *v > 2),
            signed: None,
        })
    }

    /// The second leg: answers the CHALLENGE in `challenge.gssapi_data` with the AUTHENTICATE.
    /// Returns the security association; the caller builds the request and calls
    /// [`SecurityAssociation::authorize_final_leg`] on it, which adds the token (and, for
    /// version ≥ 3, the signature, [MS-SIPAE] 3.2.5.1).
    pub fn answer(self, challenge: &Challenge, now: SystemTime) -> Result<SecurityAssociation, AuthError> {
        let token =
            challenge.gssapi_data.as_deref().filter(|t| !t.is_empty()).ok_or_else(|| AuthError::BadChallenge {
                scheme: "NTLM".into(),
                reason: "the second challenge carries no gssapi-data".into(),
            })?;
        let opaque = challenge.opaque.clone().ok_or_else(|| AuthError::BadChallenge {
            scheme: "NTLM".into(),
            reason: "the second challenge carries no opaque".into(),
        })?;
        let challenge_bytes = decode_token(token)?;
        let unix = now.duration_since(SystemTime::UNIX_EPOCH).unwrap_or(Duration::ZERO);
        let (authenticate, session) = self.client.authenticate(&challenge_bytes, &ClientRandom::generate(unix))?;
        Ok(SecurityAssociation {
            scheme: "NTLM".into(),
            realm: self.realm,
            targetname: self.targetname,
            opaque: Some(opaque),
            version: self.version.unwrap_or(2),
            signer: Signer::Ntlm(session),
            cnum: 0,
            pending_token: Some(encode_token(&authenticate)),
            header: self.header,
        })
    }
}

/// What signs for an association: the NTLM MAC, or HMAC with TLS-DSK's derived keys.
enum Signer {
    Ntlm(NtlmSession),
    TlsDsk(TlsDskKeys),
    /// GSS MIC tokens with the context key (the initiator subkey), hex (REFERENCE.md §4.3).
    Kerberos {
        key: super::kerberos::Key,
        seq: std::sync::atomic::AtomicU64,
    },
}

impl Signer {
    fn sign_hex(&self, buffer: &[u8]) -> String {
        match self {
            Signer::Ntlm(s) => s.sign_hex(buffer),
            // Hex case is not significant; real servers send lower case (REFERENCE.md §4.3).
            Signer::TlsDsk(k) => k.sign(buffer).iter().map(|b| format!("{b:02x}")).collect(),
            // SIPE prints Kerberos MICs in upper case (sip-sec.c, `buff_to_hex_str`); the sequence number
            // counts up as MIT's gss_get_mic does, though pools check none (they request no sequencing).
            Signer::Kerberos { key, seq } => {
                let n = seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let token = super::kerberos::gss::get_mic(key, super::kerberos::gss::Side::Initiator, n, buffer);
                token.iter().map(|b| format!("{b:02X}")).collect()
            }
        }
    }
    fn verify_hex(&self, buffer: &[u8], signature: &str) -> bool {
        match self {
            Signer::Ntlm(s) => s.verify_hex(buffer, signature),
            Signer::TlsDsk(k) => match hex_bytes(signature) {
                Some(sig) => k.verify(buffer, &sig),
                None => false,
            },
            Signer::Kerberos { key, .. } => hex_bytes(signature).is_some_and(|token| {
                super::kerberos::gss::verify_mic(key, super::kerberos::gss::Side::Acceptor, buffer, &token).is_ok()
            }),
        }
    }
}

fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 256 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// The TLS-DSK legs ([MS-SIPAE] 3.2.5.1; CLIENT-NOTES.md §5.2): ClientHello, then the client's
/// second flight for the server's first, then the server's Finished closes the tunnel and the next
/// REGISTER is signed with the derived keys. Four REGISTERs in all, as seed 001 counts them.
pub struct TlsDskHandshake {
    client: TlsDskClient,
    realm: String,
    targetname: String,
    version: Option<u32>,
    opaque: Option<String>,
    header: &'static str,
    /// The highest version the ClientHello offers.
    offered: TlsVersion,
}

/// What the next TLS-DSK leg is.
pub enum TlsDskStep {
    /// Send this `Authorization` value on the next REGISTER and wait for the next challenge.
    Continue(String),
    /// The tunnel is complete: the next REGISTER is signed with this association.
    Established(SecurityAssociation),
}

impl TlsDskHandshake {
    /// Starts from the registrar's TLS-DSK challenge with a certificate the pool issued, accepting
    /// `versions` and offering up to `offer` in the ClientHello; `now` checks certificate validity.
    pub fn new(
        challenge: &Challenge,
        certificate: &StoredCertificate,
        anchors: Arc<rustls::RootCertStore>,
        versions: TlsDskVersions,
        offer: TlsVersion,
        now: rustls_pki_types::UnixTime,
    ) -> Result<TlsDskHandshake, AuthError> {
        let targetname = challenge
            .targetname
            .clone()
            .ok_or_else(|| AuthError::BadChallenge { scheme: "TLS-DSK".into(), reason: "no targetname".into() })?;
        let chain: Vec<rustls_pki_types::CertificateDer<'static>> =
            certificate.cert_chain_der.iter().map(|c| rustls_pki_types::CertificateDer::from(c.clone())).collect();
        let key = rustls_pki_types::PrivatePkcs8KeyDer::from(certificate.key_pkcs8_der.clone());
        let mut config = TlsDskConfig::new(chain, key, anchors, &targetname, now);
        config.min_version = versions.min;
        config.max_version = offer.max(versions.min);
        let offered = config.max_version;
        let client = TlsDskClient::new(config, &mut rand::rng())?;
        Ok(TlsDskHandshake {
            client,
            realm: challenge.realm.clone(),
            targetname,
            version: challenge.version,
            opaque: None,
            header: challenge.credentials_header_name(),
            offered,
        })
    }

    /// The highest version the ClientHello offers.
    pub fn offered(&self) -> TlsVersion {
        self.offered
    }

    /// True until the pool's ServerHello arrived: a refusal now is of the ClientHello (its versions or
    /// suites), not of the certificate, which is sent only in the second flight.
    pub fn at_hello(&self) -> bool {
        self.client.negotiated().is_none()
    }

    /// The header the legs go in (`Authorization`, or `Proxy-Authorization` after a 407).
    pub fn header_name(&self) -> &'static str {
        self.header
    }

    /// The first leg: the ClientHello in `gssapi-data`.
    pub fn first_leg(&mut self) -> String {
        let hello = self.client.start();
        self.leg(Some(encode_token(&hello)))
    }

    fn leg(&self, gssapi: Option<String>) -> String {
        credentials_header(&AuthorizationParams {
            scheme: "TLS-DSK".into(),
            opaque: self.opaque.clone(),
            realm: self.realm.clone(),
            targetname: self.targetname.clone(),
            gssapi_data: gssapi,
            version: self.version.filter(|v| *v > 2),
            signed: None,
        })
    }

    /// The inner TLS version and cipher suite the pool chose, once its ServerHello arrived: what the report
    /// shows, so that a pool still on TLS 1.0 is named.
    pub fn negotiated(&self) -> Option<String> {
        self.client.negotiated().map(|(version, suite)| format!("{version}, {suite}"))
    }

    /// Feeds the server's flight from a TLS-DSK challenge.
    pub fn answer(mut self, challenge: &Challenge) -> Result<(TlsDskStep, Option<TlsDskHandshake>), AuthError> {
        if let Some(o) = &challenge.opaque {
            self.opaque = Some(o.clone());
        }
        let token = challenge.gssapi_data.as_deref().filter(|t| !t.is_empty()).ok_or_else(|| {
            AuthError::BadChallenge { scheme: "TLS-DSK".into(), reason: "the challenge carries no gssapi-data".into() }
        })?;
        let flight = decode_token(token)?;
        match self.client.handle_server_flight(&flight)? {
            Some(ours) => {
                let header = self.leg(Some(encode_token(&ours)));
                Ok((TlsDskStep::Continue(header), Some(self)))
            }
            None => {
                let keys = self.client.keys().ok_or(AuthError::BadChallenge {
                    scheme: "TLS-DSK".into(),
                    reason: "the tunnel completed without keys".into(),
                })?;
                let opaque = self
                    .opaque
                    .clone()
                    .ok_or_else(|| AuthError::BadChallenge { scheme: "TLS-DSK".into(), reason: "no opaque".into() })?;
                Ok((
                    TlsDskStep::Established(SecurityAssociation {
                        scheme: "TLS-DSK".into(),
                        realm: self.realm,
                        targetname: self.targetname,
                        opaque: Some(opaque),
                        version: self.version.unwrap_or(4),
                        signer: Signer::TlsDsk(keys),
                        cnum: 0,
                        pending_token: None,
                        header: self.header,
                    }),
                    None,
                ))
            }
        }
    }
}

/// The single Kerberos leg ([MS-SIPAE]; CLIENT-NOTES.md §5.2): the AP-REQ goes out in `gssapi-data` on a
/// REGISTER that is already signed (version 4) with the new context's key, and the 200 OK answers with
/// `rspauth` and the association's `opaque`. No AP-REP comes back: pidgin-sipe requests integrity only and
/// no mutual authentication (sip-sec-gssapi.c), and [MS-SIPREGE]'s 200 OK example carries no `gssapi-data`.
/// The registrar proves who it is by its MIC, which only a holder of the `sip/<pool>` key can make, since
/// only it can read the subkey out of the ticket's authenticator.
pub fn kerberos_association(
    challenge: &Challenge,
    context: &super::kerberos::kdc::InitiatorContext,
) -> Result<SecurityAssociation, AuthError> {
    let targetname = challenge
        .targetname
        .clone()
        .ok_or_else(|| AuthError::BadChallenge { scheme: "Kerberos".into(), reason: "no targetname".into() })?;
    Ok(SecurityAssociation {
        scheme: challenge.scheme.clone(),
        realm: challenge.realm.clone(),
        targetname,
        opaque: challenge.opaque.clone(),
        version: challenge.version.unwrap_or(2),
        signer: Signer::Kerberos { key: context.key.clone(), seq: std::sync::atomic::AtomicU64::new(0) },
        cnum: 0,
        pending_token: Some(encode_token(&context.token)),
        header: challenge.credentials_header_name(),
    })
}

/// An established (or completing) security association: signs and verifies.
pub struct SecurityAssociation {
    scheme: String,
    realm: String,
    targetname: String,
    /// The server's name for the association; Kerberos learns it from the 200 OK.
    opaque: Option<String>,
    version: u32,
    signer: Signer,
    /// The last `cnum` used; starts at 0 so that the first signed message carries 1.
    cnum: u32,
    /// The AUTHENTICATE not yet sent.
    pending_token: Option<String>,
    /// `Authorization`, or `Proxy-Authorization` for an association with a proxy (407).
    header: &'static str,
}

impl std::fmt::Debug for SecurityAssociation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecurityAssociation")
            .field("scheme", &self.scheme)
            .field("targetname", &self.targetname)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl SecurityAssociation {
    /// The scheme (`NTLM`).
    pub fn scheme(&self) -> &str {
        &self.scheme
    }
    /// The server the association is with.
    pub fn targetname(&self) -> &str {
        &self.targetname
    }
    /// True for an association a 407 started (a proxy's): signed in `Proxy-Authorization`,
    /// verified from `Proxy-Authentication-Info`.
    pub fn is_proxy(&self) -> bool {
        self.header == "Proxy-Authorization"
    }
    /// The header this association's signatures go in.
    pub fn header_name(&self) -> &'static str {
        self.header
    }
    /// The header the server's signatures for this association come in.
    pub fn info_header_name(&self) -> &'static str {
        if self.is_proxy() { "Proxy-Authentication-Info" } else { "Authentication-Info" }
    }

    /// Adds the final handshake leg to `msg`: for NTLM the AUTHENTICATE token and, for version
    /// ≥ 3, the signature in the same header (the SIPE vector shows both in one `Authorization`);
    /// for TLS-DSK the signature alone, with `version` (CLIENT-NOTES.md §5.2).
    pub fn authorize_final_leg(&mut self, msg: &mut Message) -> Result<(), AuthError> {
        let token = self.pending_token.take();
        // Kerberos signs its one leg only from version 4 on (sipe `initialize_auth_context`: `version > 3`).
        let signs = if matches!(self.signer, Signer::Kerberos { .. }) { self.version > 3 } else { self.version >= 3 };
        let signed = if signs { Some(self.signature_for(msg)?) } else { None };
        let value = credentials_header(&AuthorizationParams {
            scheme: self.scheme.clone(),
            // Kerberos has no opaque until the 200 OK names one.
            opaque: self.opaque.clone(),
            realm: self.realm.clone(),
            targetname: self.targetname.clone(),
            gssapi_data: token,
            version: (self.version > 2).then_some(self.version),
            signed,
        });
        msg.headers.set(self.header, &value);
        Ok(())
    }

    /// Takes the association's `opaque` from the server's signature on `msg` when the handshake did not name
    /// one (Kerberos: the 200 OK does).
    pub fn learn_opaque(&mut self, msg: &Message) {
        if self.opaque.is_none() {
            self.opaque = read_server_signature_in(msg, self.info_header_name()).and_then(|s| s.opaque);
        }
    }

    /// Signs an outgoing message (request or response) once the association is established.
    pub fn sign(&mut self, msg: &mut Message) -> Result<(), AuthError> {
        msg.headers.remove(self.header);
        let signed = self.signature_for(msg)?;
        let value = credentials_header(&AuthorizationParams {
            scheme: self.scheme.clone(),
            opaque: self.opaque.clone(),
            realm: self.realm.clone(),
            targetname: self.targetname.clone(),
            gssapi_data: None,
            version: None,
            signed: Some(signed),
        });
        msg.headers.push(self.header, &value);
        Ok(())
    }

    fn signature_for(&mut self, msg: &Message) -> Result<SignedParams, AuthError> {
        self.cnum = self.cnum.wrapping_add(1);
        let crand = format!("{:08x}", rand::random::<u32>());
        let params = BufferParams {
            scheme: self.scheme.clone(),
            rand: crand.clone(),
            num: self.cnum.to_string(),
            realm: self.realm.clone(),
            targetname: self.targetname.clone(),
            version: self.version,
        };
        let buffer = signature_buffer(msg, &params).map_err(|e| AuthError::Signing(e.to_string()))?;
        Ok(SignedParams { crand, cnum: self.cnum, response: self.signer.sign_hex(buffer.as_bytes()) })
    }

    /// Verifies the server's signature (`Authentication-Info` … `rspauth`, or
    /// `Proxy-Authentication-Info` for a proxy's association) on an incoming message
    /// ([MS-SIPAE] 3.2.5.2): unsigned or badly signed messages are refused. The values come from
    /// that header only, never from a `Proxy-Authenticate` (pidgin-sipe bug #190).
    pub fn verify(&self, msg: &Message) -> Result<(), AuthError> {
        let what = match msg.status() {
            Some(code) => format!("a {code} response"),
            None => format!("a {} request", msg.method().map(|m| m.as_str()).unwrap_or("?")),
        };
        let sig = read_server_signature_in(msg, self.info_header_name())
            .ok_or(AuthError::BadServerSignature { what: what.clone(), problem: "missing" })?;
        if !sig.scheme.eq_ignore_ascii_case(&self.scheme)
            || !sig.targetname.eq_ignore_ascii_case(&self.targetname)
            || sig.realm != self.realm
        {
            return Err(AuthError::BadServerSignature { what, problem: "for another security association" });
        }
        let buffer =
            signature_buffer(msg, &sig.buffer_params(self.version)).map_err(|e| AuthError::Signing(e.to_string()))?;
        if self.signer.verify_hex(buffer.as_bytes(), &sig.rspauth) {
            Ok(())
        } else {
            Err(AuthError::BadServerSignature { what, problem: "wrong" })
        }
    }
}

/// [MS-SIPAE] 3.2.5.2: once an association exists, a message from the server counts only when
/// its signature verifies; one that does not is dropped, logged and counted in `dropped`. Without
/// an association (before authentication) everything counts.
pub fn admit(sa: Option<&SecurityAssociation>, msg: &Message, dropped: &mut u64) -> bool {
    let Some(sa) = sa else { return true };
    match sa.verify(msg) {
        Ok(()) => true,
        Err(e) => {
            *dropped += 1;
            tracing::warn!(error = %e, "dropped a message whose signature did not verify");
            false
        }
    }
}

/// NTLM credentials from an account name as users type it: `DOMAIN\user` or `user@domain` (kept
/// whole, with an empty domain, as Windows does for UPNs).
pub fn ntlm_credentials(account: &str, password: &str) -> Credentials {
    let (domain, user) = match account.split_once('\\') {
        Some((d, u)) => (d.to_string(), u.to_string()),
        None => (String::new(), account.to_string()),
    };
    let workstation = std::env::var("HOSTNAME").unwrap_or_else(|_| "SFBKIT".into()).to_ascii_uppercase();
    Credentials { user, domain, password: password.to_string(), workstation }
}

#[cfg(test)]
#[path = "sa_tests.rs"]
mod tests;
