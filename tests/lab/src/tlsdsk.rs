//! The pool's side of TLS-DSK ("TLS with Derived Session Key", [MS-SIPAE] 3.2.5.1; REFERENCE §4.3): the TLS
//! handshake a client tunnels through SIP `gssapi-data`, one flight per 401, and the two signing keys it yields.
//!
//! [`TlsDskServer`] is sans-I/O: [`handle`](TlsDskServer::handle) takes the bytes decoded from one REGISTER's
//! `gssapi-data` and returns the bytes for the next 401 ([`ServerStep::Continue`]) or, after the client's
//! Finished, the server's ChangeCipherSpec + Finished together with the [`ServerKeys`] ([`ServerStep::Done`]).
//! Flights: ClientHello → ServerHello, Certificate, CertificateRequest, ServerHelloDone → Certificate,
//! ClientKeyExchange, CertificateVerify, ChangeCipherSpec, Finished → ChangeCipherSpec, Finished.
//!
//! The engine is OpenSSL (protocol/DEPENDENCIES.md §5, option 2), deliberately not the client's hand-written
//! RustCrypto handshake (`sfbkit::auth::tlsdsk`): a client bug in the PRF, the record layer or the key layout
//! cannot hide behind the same bug here. OpenSSL 3 refuses TLS 1.0 and SHA-1 at its default security level and
//! Debian's `openssl.cnf` raises the minimum version, so everything is set on the context explicitly (security
//! level 0, versions, suites) and nothing depends on `OPENSSL_CONF`.
//!
//! Keys: `key_material = PRF(master_secret, "client EAP encryption", client_random ‖ server_random)[128]`
//! (OpenSSL's RFC 5705 exporter with no context computes exactly that), client key = bytes 64..96, server
//! key = bytes 96..128; SIP signatures are HMACs with the suite's MAC hash ([`sign`], [`verify`]).
//!
//! Static-RSA key exchange needs an RSA server certificate, while [`LabCa`] issues ECDSA ones;
//! [`issue_rsa_server_cert`] issues the RSA certificate a TLS-DSK pool presents.

use std::fmt;
use std::io::{self, Read, Write};

use hmac::{Hmac, Mac as _};
use openssl::error::ErrorStack;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey};
use openssl::ssl::{
    HandshakeError, MidHandshakeSslStream, Ssl, SslContext, SslContextBuilder, SslMethod, SslOptions, SslRef,
    SslSessionCacheMode, SslVerifyMode, SslVersion,
};
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::{X509, X509VerifyResult};
use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair, KeyUsagePurpose};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use sha1::Sha1;
use sha2::Sha256;

use crate::ca::{CaError, LabCa, ServerCert, Validity};

/// The exporter label TLS-DSK derives its keys with (the EAP-TLS MPPE label, RFC 5216).
const EAP_LABEL: &str = "client EAP encryption";
/// Static-RSA AES-CBC suites, as Schannel pools offer them; OpenSSL uses the SHA-256 ones only in TLS 1.2.
const CIPHERS: &str = "AES128-SHA:AES256-SHA:AES128-SHA256:AES256-SHA256";
/// A client flight is a few kilobytes (one certificate chain); anything far larger is not TLS-DSK.
const MAX_FLIGHT: usize = 64 * 1024;

/// How a [`TlsDskServer`] authenticates itself and its clients.
#[derive(Clone)]
pub struct TlsDskServerConfig {
    /// The pool's certificate chain as PEM, leaf first. The leaf key must be RSA (static-RSA key exchange);
    /// see [`issue_rsa_server_cert`].
    pub cert_chain_pem: String,
    /// The leaf's private key as PEM (PKCS#8 or PKCS#1).
    pub key_pem: String,
    /// The CA (PEM, one or more certificates) that issues user certificates: the server requests a client
    /// certificate and refuses any that does not chain to it.
    pub client_ca_pem: String,
    /// The `tls10-only` fault: accept TLS 1.0 and nothing else, as an unpatched Lync 2010 pool does.
    pub tls10_only: bool,
    /// The `no-tls10` fault: TLS 1.0 and 1.1 disabled, TLS 1.2 only, as a pool hardened after SfB Server 2015
    /// CU6 HF2 is.
    pub no_tls10: bool,
}

impl fmt::Debug for TlsDskServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsDskServerConfig")
            .field("cert_chain_pem_len", &self.cert_chain_pem.len())
            .field("key_pem", &"<redacted>")
            .field("client_ca_pem_len", &self.client_ca_pem.len())
            .field("tls10_only", &self.tls10_only)
            .field("no_tls10", &self.no_tls10)
            .finish()
    }
}

/// Why a TLS-DSK server could not be set up, or why a handshake failed.
#[derive(Debug, thiserror::Error)]
pub enum TlsDskServerError {
    /// The server certificate chain is not PEM OpenSSL can read, or is empty.
    #[error("the TLS-DSK server certificate chain could not be read: {0}")]
    ServerCertificate(String),
    /// The server key is not a PEM private key, or does not belong to the leaf certificate.
    #[error("the TLS-DSK server key could not be used: {0}")]
    ServerKey(String),
    /// The server key is not RSA: TLS-DSK's static-RSA key exchange encrypts the pre-master secret to it.
    #[error("the TLS-DSK server key is not RSA; issue the pool an RSA certificate (issue_rsa_server_cert)")]
    ServerKeyNotRsa,
    /// The client CA is not PEM OpenSSL can read, or is empty.
    #[error("the TLS-DSK client CA could not be read: {0}")]
    ClientCa(String),
    /// OpenSSL refused a context setting (versions, suites); not caused by the client.
    #[error("setting up the TLS-DSK server context failed: {0}")]
    Setup(#[source] ErrorStack),
    /// `handle` was called after the handshake had finished or failed; start a new server per handshake.
    #[error("TLS-DSK server used out of order: {0}")]
    InvalidState(&'static str),
    /// The client flight is larger than any TLS-DSK flight (the limit is 64 KiB).
    #[error("the client flight is {0} bytes, far more than a TLS-DSK handshake sends")]
    FlightTooLarge(usize),
    /// The client flight ended in the middle of a record or message, so the server has nothing to answer.
    #[error("the client flight is incomplete: the server needs more bytes before it can answer")]
    IncompleteFlight,
    /// The client certificate was refused (unknown issuer, expired, bad signature …). `alert` is the TLS alert
    /// the server produced, for a 401's `gssapi-data` if the caller wants the client to see it.
    #[error("the client certificate was refused: {reason}")]
    ClientCertificateRejected {
        /// OpenSSL's verification result in words.
        reason: String,
        /// The alert record(s) OpenSSL wrote, possibly empty.
        alert: Vec<u8>,
    },
    /// The handshake failed for another reason (malformed flight, no common version or suite, no client
    /// certificate, bad Finished …).
    #[error("the TLS-DSK handshake failed: {reason}")]
    Handshake {
        /// OpenSSL's error in words.
        reason: String,
        /// The alert record(s) OpenSSL wrote, possibly empty.
        alert: Vec<u8>,
    },
    /// The handshake completed but the session is unusable for TLS-DSK (no client certificate, or a suite
    /// whose MAC is not SHA-1/SHA-256).
    #[error("the TLS-DSK session is unusable: {0}")]
    Session(&'static str),
    /// The key exporter failed after a completed handshake.
    #[error("deriving the TLS-DSK keys failed: {0}")]
    Export(#[source] ErrorStack),
}

/// What to send after one client flight.
#[derive(Debug)]
pub enum ServerStep {
    /// The server's flight for the next 401; the handshake continues with the client's next flight.
    Continue(Vec<u8>),
    /// The handshake is complete: send `flight` (ChangeCipherSpec + Finished) in the last 401 and sign and
    /// verify from now on with `keys`.
    Done {
        /// The server's ChangeCipherSpec and Finished.
        flight: Vec<u8>,
        /// The derived signing keys and what the handshake authenticated.
        keys: ServerKeys,
    },
}

/// The HMAC that signs SIP messages under the SA: the negotiated suite's MAC hash (REFERENCE §4.3 step 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mac {
    /// HMAC-SHA1 (20-byte signatures), the `*-SHA` suites.
    Sha1,
    /// HMAC-SHA256 (32-byte signatures), the `*-SHA256` suites.
    Sha256,
}

/// The result of a completed TLS-DSK handshake on the server side. `Debug` leaves out both keys, which are
/// wiped on drop.
#[derive(Clone, PartialEq, Eq, zeroize::ZeroizeOnDrop)]
pub struct ServerKeys {
    /// Key for verifying the client's `response` signatures (key material bytes 64..96).
    pub client_key: [u8; 32],
    /// Key for the server's `rspauth` signatures (key material bytes 96..128).
    pub server_key: [u8; 32],
    /// Which HMAC signs.
    #[zeroize(skip)]
    pub mac: Mac,
    /// The client certificate OpenSSL verified against the client CA (DER).
    #[zeroize(skip)]
    pub client_cert_der: Vec<u8>,
    /// Its subject common name (the user's SIP address for provisioned certificates), empty if it has none.
    #[zeroize(skip)]
    pub client_subject_cn: String,
    /// The negotiated protocol version in OpenSSL's words (`TLSv1`, `TLSv1.1`, `TLSv1.2`).
    #[zeroize(skip)]
    pub version: String,
    /// The negotiated suite's OpenSSL name (e.g. `AES128-SHA`).
    #[zeroize(skip)]
    pub cipher: String,
}

impl fmt::Debug for ServerKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerKeys")
            .field("keys", &"<redacted>")
            .field("mac", &self.mac)
            .field("client_subject_cn", &self.client_subject_cn)
            .field("version", &self.version)
            .field("cipher", &self.cipher)
            .finish_non_exhaustive()
    }
}

/// HMAC-`$d` keyed with `$key` over `$buffer`, handed to `$finish`. HMAC accepts keys of any length, so
/// `new_from_slice` cannot fail; `$fallback` only keeps the helpers total without a panic path (an empty
/// signature never verifies).
macro_rules! hmac_run {
    ($d:ty, $key:expr, $buffer:expr, $finish:expr, $fallback:expr) => {
        match <Hmac<$d> as hmac::Mac>::new_from_slice($key) {
            Ok(mut mac) => {
                mac.update($buffer);
                ($finish)(mac)
            }
            Err(_) => $fallback,
        }
    };
}

/// The server's HMAC over a signature buffer (REFERENCE §4.4) with the server key: the raw `rspauth`
/// (hex-encoding it is the caller's).
pub fn sign(keys: &ServerKeys, buffer: &[u8]) -> Vec<u8> {
    match keys.mac {
        Mac::Sha1 => hmac_run!(
            Sha1,
            &keys.server_key,
            buffer,
            |mac: Hmac<Sha1>| mac.finalize().into_bytes().to_vec(),
            Vec::new()
        ),
        Mac::Sha256 => hmac_run!(
            Sha256,
            &keys.server_key,
            buffer,
            |mac: Hmac<Sha256>| mac.finalize().into_bytes().to_vec(),
            Vec::new()
        ),
    }
}

/// Whether `signature` is the client's HMAC over `buffer` with the client key, compared in constant time.
pub fn verify(keys: &ServerKeys, buffer: &[u8], signature: &[u8]) -> bool {
    match keys.mac {
        Mac::Sha1 => {
            hmac_run!(Sha1, &keys.client_key, buffer, |mac: Hmac<Sha1>| mac.verify_slice(signature).is_ok(), false)
        }
        Mac::Sha256 => {
            hmac_run!(Sha256, &keys.client_key, buffer, |mac: Hmac<Sha256>| mac.verify_slice(signature).is_ok(), false)
        }
    }
}

/// The in-memory transport under OpenSSL: reads drain the current client flight, writes collect the reply.
/// An empty inbox reads as `WouldBlock`, which OpenSSL turns into "want read": the end of a flight.
#[derive(Default)]
struct Pipe {
    inbox: Vec<u8>,
    read_at: usize,
    outbox: Vec<u8>,
}

impl Pipe {
    fn feed(&mut self, bytes: &[u8]) {
        self.inbox.drain(..self.read_at);
        self.read_at = 0;
        self.inbox.extend_from_slice(bytes);
    }
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let rest = self.inbox.get(self.read_at..).unwrap_or_default();
        if rest.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.read_at += n;
        Ok(n)
    }
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outbox.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum State {
    /// No client flight yet.
    Fresh(Ssl),
    /// Waiting for the client's next flight.
    Handshaking(MidHandshakeSslStream<Pipe>),
    /// Done or failed; the server is single-use.
    Over,
}

/// One TLS-DSK handshake, server side. Feed each client flight to [`handle`](Self::handle) and send what it
/// returns; after [`ServerStep::Done`] (or any error) the server is spent.
pub struct TlsDskServer {
    state: State,
}

impl fmt::Debug for TlsDskServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Fresh(_) => "fresh",
            State::Handshaking(_) => "handshaking",
            State::Over => "over",
        };
        f.debug_struct("TlsDskServer").field("state", &state).finish()
    }
}

impl TlsDskServer {
    /// A server for one handshake. Fails if the certificate, key or client CA cannot be used.
    pub fn new(cfg: TlsDskServerConfig) -> Result<TlsDskServer, TlsDskServerError> {
        let context = context(&cfg)?;
        let ssl = Ssl::new(&context).map_err(TlsDskServerError::Setup)?;
        Ok(TlsDskServer { state: State::Fresh(ssl) })
    }

    /// Feed one client flight (the bytes decoded from `gssapi-data`). Any error ends the handshake.
    pub fn handle(&mut self, client_flight: &[u8]) -> Result<ServerStep, TlsDskServerError> {
        if client_flight.len() > MAX_FLIGHT {
            self.state = State::Over;
            return Err(TlsDskServerError::FlightTooLarge(client_flight.len()));
        }
        let result = match std::mem::replace(&mut self.state, State::Over) {
            State::Fresh(ssl) => {
                let mut pipe = Pipe::default();
                pipe.feed(client_flight);
                ssl.accept(pipe)
            }
            State::Handshaking(mut mid) => {
                mid.get_mut().feed(client_flight);
                mid.handshake()
            }
            State::Over => return Err(TlsDskServerError::InvalidState("the handshake is already over")),
        };
        match result {
            Ok(mut stream) => {
                let flight = std::mem::take(&mut stream.get_mut().outbox);
                let keys = server_keys(stream.ssl())?;
                Ok(ServerStep::Done { flight, keys })
            }
            Err(HandshakeError::WouldBlock(mut mid)) => {
                let flight = std::mem::take(&mut mid.get_mut().outbox);
                if flight.is_empty() {
                    return Err(TlsDskServerError::IncompleteFlight);
                }
                self.state = State::Handshaking(mid);
                Ok(ServerStep::Continue(coalesce_handshake_records(flight)))
            }
            Err(HandshakeError::Failure(mut mid)) => {
                let alert = std::mem::take(&mut mid.get_mut().outbox);
                let verified = mid.ssl().verify_result();
                if verified != X509VerifyResult::OK {
                    return Err(TlsDskServerError::ClientCertificateRejected {
                        reason: verified.error_string().to_owned(),
                        alert,
                    });
                }
                Err(TlsDskServerError::Handshake { reason: mid.error().to_string(), alert })
            }
            Err(HandshakeError::SetupFailure(e)) => Err(TlsDskServerError::Setup(e)),
        }
    }
}

/// The largest TLS record body (RFC 5246 §6.2.1: 2^14 bytes of plaintext).
const MAX_RECORD: usize = 1 << 14;

/// The flight with consecutive handshake records of one version merged into as few records as fit, the way
/// Schannel sends its ServerHello, Certificate, CertificateRequest and ServerHelloDone: in one record. OpenSSL
/// writes a record per message, and pidgin-sipe's TLS-DSK reader fails a record that holds only the empty
/// ServerHelloDone (sipe-tls.c `handshake_parse`: its success flag comes from the previous message's fields), so
/// against the lab it stopped at "security context continuation failed". Only the framing changes: the
/// handshake messages, and so every hash over them, stay byte for byte the same. Bytes that are not whole records
/// are passed on as they are.
fn coalesce_handshake_records(flight: Vec<u8>) -> Vec<u8> {
    const HANDSHAKE: u8 = 22;
    let mut records = Vec::new();
    let mut rest = flight.as_slice();
    while rest.len() >= 5 {
        let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        if rest.len() < 5 + len {
            return flight;
        }
        records.push((rest[0], [rest[1], rest[2]], &rest[5..5 + len]));
        rest = &rest[5 + len..];
    }
    if !rest.is_empty() {
        return flight;
    }
    let mut out = Vec::with_capacity(flight.len());
    let mut open: Option<(u8, [u8; 2], Vec<u8>)> = None;
    let close = |record: (u8, [u8; 2], Vec<u8>), out: &mut Vec<u8>| {
        out.push(record.0);
        out.extend_from_slice(&record.1);
        out.extend_from_slice(&(record.2.len() as u16).to_be_bytes());
        out.extend_from_slice(&record.2);
    };
    for (kind, version, body) in records {
        match &mut open {
            Some((k, v, acc))
                if *k == HANDSHAKE && kind == HANDSHAKE && *v == version && acc.len() + body.len() <= MAX_RECORD =>
            {
                acc.extend_from_slice(body);
            }
            _ => {
                if let Some(done) = open.take() {
                    close(done, &mut out);
                }
                open = Some((kind, version, body.to_vec()));
            }
        }
    }
    if let Some(done) = open.take() {
        close(done, &mut out);
    }
    out
}

/// The OpenSSL context: versions, suites and security level set here, not taken from `openssl.cnf`.
fn context(cfg: &TlsDskServerConfig) -> Result<SslContext, TlsDskServerError> {
    let setup = TlsDskServerError::Setup;
    let mut b = SslContextBuilder::new(SslMethod::tls_server()).map_err(setup)?;
    // Level 0: TLS 1.0/1.1, SHA-1 and MD5‖SHA-1 CertificateVerify signatures are refused above it.
    b.set_security_level(0);
    let max = if cfg.tls10_only { SslVersion::TLS1 } else { SslVersion::TLS1_2 };
    let min = if cfg.no_tls10 { SslVersion::TLS1_2 } else { SslVersion::TLS1 };
    b.set_min_proto_version(Some(min)).map_err(setup)?;
    b.set_max_proto_version(Some(max)).map_err(setup)?;
    b.set_cipher_list(CIPHERS).map_err(setup)?;
    // The client expects ChangeCipherSpec right after its Finished (no NewSessionTicket) and never resumes.
    b.set_options(SslOptions::NO_TICKET | SslOptions::NO_COMPRESSION);
    b.set_session_cache_mode(SslSessionCacheMode::OFF);

    let mut chain = X509::stack_from_pem(cfg.cert_chain_pem.as_bytes())
        .map_err(|e| TlsDskServerError::ServerCertificate(e.to_string()))?
        .into_iter();
    let leaf = chain.next().ok_or_else(|| TlsDskServerError::ServerCertificate("no certificate in PEM".into()))?;
    b.set_certificate(&leaf).map_err(|e| TlsDskServerError::ServerCertificate(e.to_string()))?;
    for cert in chain {
        b.add_extra_chain_cert(cert).map_err(|e| TlsDskServerError::ServerCertificate(e.to_string()))?;
    }
    let key =
        PKey::private_key_from_pem(cfg.key_pem.as_bytes()).map_err(|e| TlsDskServerError::ServerKey(e.to_string()))?;
    if key.id() != Id::RSA {
        return Err(TlsDskServerError::ServerKeyNotRsa);
    }
    b.set_private_key(&key).map_err(|e| TlsDskServerError::ServerKey(e.to_string()))?;
    b.check_private_key().map_err(|e| TlsDskServerError::ServerKey(e.to_string()))?;

    let client_cas =
        X509::stack_from_pem(cfg.client_ca_pem.as_bytes()).map_err(|e| TlsDskServerError::ClientCa(e.to_string()))?;
    if client_cas.is_empty() {
        return Err(TlsDskServerError::ClientCa("no certificate in PEM".into()));
    }
    let mut store = X509StoreBuilder::new().map_err(setup)?;
    for ca in &client_cas {
        store.add_cert(ca.clone()).map_err(|e| TlsDskServerError::ClientCa(e.to_string()))?;
        // The CertificateRequest names the acceptable issuers, as Schannel does.
        b.add_client_ca(ca).map_err(|e| TlsDskServerError::ClientCa(e.to_string()))?;
    }
    b.set_cert_store(store.build());
    b.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
    Ok(b.build())
}

/// Keys and identity from a completed handshake.
fn server_keys(ssl: &SslRef) -> Result<ServerKeys, TlsDskServerError> {
    let cipher = ssl.current_cipher().map(|c| c.name().to_owned()).unwrap_or_default();
    let mac = if cipher.ends_with("-SHA256") {
        Mac::Sha256
    } else if cipher.ends_with("-SHA") {
        Mac::Sha1
    } else {
        return Err(TlsDskServerError::Session("the negotiated suite has no SHA-1 or SHA-256 MAC"));
    };
    let cert = ssl.peer_certificate().ok_or(TlsDskServerError::Session("the client sent no certificate"))?;
    let client_cert_der = cert.to_der().map_err(TlsDskServerError::Export)?;
    let client_subject_cn = cert
        .subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .and_then(|e| e.data().to_string().ok())
        .unwrap_or_default();
    let mut material = zeroize::Zeroizing::new([0u8; 128]);
    ssl.export_keying_material(&mut material[..], EAP_LABEL, None).map_err(TlsDskServerError::Export)?;
    let mut keys = ServerKeys {
        client_key: [0; 32],
        server_key: [0; 32],
        mac,
        client_cert_der,
        client_subject_cn,
        version: ssl.version_str().to_owned(),
        cipher,
    };
    keys.client_key.copy_from_slice(&material[64..96]);
    keys.server_key.copy_from_slice(&material[96..128]);
    Ok(keys)
}

/// Issues an RSA-2048 TLS server certificate for `dns_names` (the first is also the common name), signed by
/// `ca`: what a TLS-DSK pool presents inside the tunnel, since static-RSA key exchange cannot use the ECDSA
/// certificates [`LabCa::issue_server_cert`] makes. The chain is leaf then CA, as for those.
pub fn issue_rsa_server_cert(ca: &LabCa, dns_names: &[String], validity: Validity) -> Result<ServerCert, CaError> {
    let first = dns_names.first().ok_or(CaError::NoNames)?;
    let (ca_cert_pem, ca_key_pem) = ca.to_pem_pair();
    let ca_key = KeyPair::from_pem(&ca_key_pem).map_err(CaError::CaKeyPem)?;
    let issuer = Issuer::from_ca_cert_pem(&ca_cert_pem, ca_key).map_err(CaError::CaCertPem)?;
    let mut params = CertificateParams::default();
    params.subject_alt_names = dns_names.iter().map(|name| crate::ca::san(name)).collect::<Result<_, _>>()?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, first.as_str());
    // keyEncipherment: the client encrypts the pre-master secret to this key (static RSA).
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = validity.not_before;
    params.not_after = validity.not_after;
    let key = KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).map_err(CaError::Generate)?;
    let cert = params.signed_by(&key, &issuer).map_err(CaError::Generate)?;
    Ok(ServerCert {
        cert_pem: format!("{}{}", cert.pem(), ca.ca_pem()),
        cert_chain_der: vec![cert.der().clone(), ca.ca_der().clone()],
        key_der: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        key_pem: key.serialize_pem(),
    })
}

/// A TLS-DSK user certificate as the pool's Certificate Provisioning Service issues it: RSA-2048,
/// subject `CN=<user@domain>`, clientAuth, signed by the lab CA. Returns (chain DER, PKCS#8 key DER).
pub fn issue_user_cert(ca: &LabCa, sip_address: &str, validity: Validity) -> Result<(Vec<Vec<u8>>, Vec<u8>), CaError> {
    let cn = sip_address.strip_prefix("sip:").unwrap_or(sip_address);
    let (ca_cert_pem, ca_key_pem) = ca.to_pem_pair();
    let ca_key = KeyPair::from_pem(&ca_key_pem).map_err(CaError::CaKeyPem)?;
    let issuer = Issuer::from_ca_cert_pem(&ca_cert_pem, ca_key).map_err(CaError::CaCertPem)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = validity.not_before;
    params.not_after = validity.not_after;
    let key = KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).map_err(CaError::Generate)?;
    let cert = params.signed_by(&key, &issuer).map_err(CaError::Generate)?;
    Ok((vec![cert.der().to_vec(), ca.ca_der().to_vec()], key.serialize_der()))
}

#[cfg(test)]
mod coalescing_tests {
    use super::coalesce_handshake_records;

    fn record(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut r = vec![kind, 3, 1];
        r.extend_from_slice(&(body.len() as u16).to_be_bytes());
        r.extend_from_slice(body);
        r
    }

    #[test]
    fn consecutive_handshake_records_become_one_and_the_messages_stay_the_same() {
        // ServerHello, Certificate, CertificateRequest and an empty ServerHelloDone, one record each (OpenSSL).
        let messages: [&[u8]; 4] = [&[2, 0, 0, 2, 3, 1], &[11, 0, 0, 3, 0, 0, 0], &[13, 0, 0, 1, 0], &[14, 0, 0, 0]];
        let flight: Vec<u8> = messages.iter().flat_map(|m| record(22, m)).collect();
        let merged = coalesce_handshake_records(flight);
        assert_eq!(merged, record(22, &messages.concat()), "one record, as Schannel sends the flight");
    }

    #[test]
    fn other_records_and_broken_flights_pass_unchanged() {
        let ccs_then_finished: Vec<u8> = [record(20, &[1]), record(22, &[20, 0, 0, 1, 9])].concat();
        assert_eq!(coalesce_handshake_records(ccs_then_finished.clone()), ccs_then_finished);
        let truncated = record(22, &[2, 0, 0, 2, 3, 1])[..7].to_vec();
        assert_eq!(coalesce_handshake_records(truncated.clone()), truncated);
        let big = vec![0u8; super::MAX_RECORD - 10];
        let two_big: Vec<u8> = [record(22, &big), record(22, &big)].concat();
        assert_eq!(coalesce_handshake_records(two_big.clone()), two_big, "never past 2^14 bytes per record");
    }
}
