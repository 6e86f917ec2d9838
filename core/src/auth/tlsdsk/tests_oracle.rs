//! Oracle tests: our client against `openssl s_server`, an independent TLS implementation.
//!
//! s_server requires our client certificate (`-Verify 1`), checks our CertificateVerify and Finished, and
//! prints the RFC 5705 exporter output for "client EAP encryption" (= PRF(master, label, client_random ‖
//! server_random), the TLS-DSK key material). Our 128 bytes must equal it byte for byte.
//! `openssl` missing is a test failure, never a skip: CI runs on the same image, which has it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::RootCertStore;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer, UnixTime};

use super::*;

pub(super) const TARGET: &str = "pool01.contoso.test";

/// A CA, a server certificate for some name and a client certificate, written where s_server can read them.
pub(super) struct Pki {
    pub(super) dir: tempfile::TempDir,
    pub(super) anchors: Arc<RootCertStore>,
    pub(super) client_chain: Vec<CertificateDer<'static>>,
    pub(super) client_key: Vec<u8>,
    pub(super) server_cert: Vec<u8>,
}

fn rsa_key() -> KeyPair {
    KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("RSA key generation (aws-lc-rs)")
}

fn ca(name: &str) -> (Issuer<'static, KeyPair>, rcgen::Certificate) {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = rsa_key();
    let cert = params.self_signed(&key).expect("CA certificate");
    (Issuer::new(params, key), cert)
}

impl Pki {
    /// `server_name` goes in the server certificate; `trusted` = whether its CA is among our anchors.
    pub(super) fn new(server_name: &str, trusted: bool) -> Pki {
        let dir = tempfile::tempdir().expect("tempdir");
        let (issuer, ca_cert) = ca("TLS-DSK test CA");
        let (rogue, _) = ca("Rogue CA");

        let mut params = CertificateParams::new(vec![server_name.to_owned()]).expect("server params");
        params.distinguished_name.push(DnType::CommonName, server_name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_key = rsa_key();
        let server_cert =
            params.signed_by(&server_key, if trusted { &issuer } else { &rogue }).expect("server certificate");

        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, "alice@contoso.test");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_key = rsa_key();
        let client_cert = params.signed_by(&client_key, &issuer).expect("client certificate");

        write(dir.path(), "ca.pem", &ca_cert.pem());
        write(dir.path(), "srv.pem", &server_cert.pem());
        write(dir.path(), "srv.key", &server_key.serialize_pem());
        let mut roots = RootCertStore::empty();
        roots.add(ca_cert.der().clone()).expect("anchor");
        Pki {
            dir,
            anchors: Arc::new(roots),
            client_chain: vec![client_cert.der().clone()],
            client_key: client_key.serialize_der(),
            server_cert: server_cert.der().to_vec(),
        }
    }

    pub(super) fn config(&self, max_version: TlsVersion, suites: &[CipherSuite]) -> TlsDskConfig {
        let mut config = TlsDskConfig::new(
            self.client_chain.clone(),
            PrivatePkcs8KeyDer::from(self.client_key.clone()),
            self.anchors.clone(),
            TARGET,
            UnixTime::now(),
        );
        config.max_version = max_version;
        config.cipher_suites = suites.to_vec();
        config
    }
}

fn write(dir: &Path, name: &str, contents: &str) {
    std::fs::write(dir.join(name), contents).expect("write PEM");
}

/// A running `openssl s_server`, killed on drop; its stdout and stderr lines arrive on `lines`.
struct Server {
    child: Child,
    lines: Receiver<String>,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn spawn(pki: &Pki, version_flag: &str, cipher: &str) -> Server {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let path = |name: &str| pki.dir.path().join(name).display().to_string();
        let mut child = Command::new("openssl")
            .env("OPENSSL_CONF", "/dev/null")
            .args(["s_server", "-accept", &format!("127.0.0.1:{port}"), "-naccept", "1"])
            .args(["-cert", &path("srv.pem"), "-key", &path("srv.key"), "-CAfile", &path("ca.pem"), "-Verify", "1"])
            .args([version_flag, "-cipher", cipher])
            .args(["-keymatexport", "client EAP encryption", "-keymatexportlen", "128"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("`openssl` must be installed: the TLS-DSK oracle tests need openssl s_server (not skipped)");
        let (tx, lines) = mpsc::channel();
        for stream in [
            child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
            child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        let server = Server { child, lines, port };
        server.wait_for("ACCEPT");
        server
    }

    /// The first line containing `needle`, failing the test (with everything seen) after 15 s.
    fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(line) => seen.push(line),
                Err(_) => break,
            }
        }
        panic!("openssl s_server never printed {needle:?}; output was:\n{}", seen.join("\n"));
    }

    /// s_server's "Keying material: <HEX>" line, decoded.
    fn keying_material(&self) -> Vec<u8> {
        let line = self.wait_for("Keying material:");
        let hex = line.rsplit(' ').next().unwrap_or_default();
        (0..hex.len() / 2).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex")).collect()
    }
}

/// Read one server flight: records until the server goes quiet for a moment (each flight is sent at once).
fn read_flight(stream: &mut TcpStream) -> Vec<u8> {
    let mut flight = Vec::new();
    stream.set_read_timeout(Some(Duration::from_secs(15))).expect("timeout");
    loop {
        let mut header = [0u8; 5];
        if stream.read_exact(&mut header).is_err() {
            return flight;
        }
        let mut fragment = vec![0u8; usize::from(u16::from_be_bytes([header[3], header[4]]))];
        stream.read_exact(&mut fragment).expect("record body");
        flight.extend_from_slice(&header);
        flight.extend_from_slice(&fragment);
        stream.set_read_timeout(Some(Duration::from_millis(400))).expect("timeout");
    }
}

/// Drive a full handshake over TCP, as the SIP layer would over gssapi-data.
fn handshake(port: u16, config: TlsDskConfig) -> (TlsDskClient, Result<(), TlsDskError>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to s_server");
    let mut client = TlsDskClient::new(config, &mut rand::rng()).expect("client");
    stream.write_all(&client.start()).expect("send ClientHello");
    loop {
        let flight = read_flight(&mut stream);
        match client.handle_server_flight(&flight) {
            Ok(Some(reply)) => stream.write_all(&reply).expect("send client flight"),
            Ok(None) => return (client, Ok(())),
            Err(e) => return (client, Err(e)),
        }
    }
}

fn oracle_case(version_flag: &str, cipher: &str, max_version: TlsVersion, suite: CipherSuite) {
    let pki = Pki::new(TARGET, true);
    let server = Server::spawn(&pki, version_flag, cipher);
    let (client, result) = handshake(server.port, pki.config(max_version, &[suite]));
    result.expect("handshake with openssl s_server");
    assert!(client.is_established());
    assert_eq!(client.negotiated().map(|n| n.1), Some(suite));
    let expected = server.keying_material();
    assert_eq!(expected.len(), 128);
    assert_eq!(*client.eap_material, expected, "key block differs from s_server's exporter");
    let keys = client.keys().expect("keys");
    assert_eq!(keys.client_key[..], expected[64..96]);
    assert_eq!(keys.server_key[..], expected[96..128]);
    assert_eq!(keys.mac, suite.mac());
}

#[test]
fn tls10_aes128_sha_matches_openssl() {
    oracle_case("-tls1", "AES128-SHA@SECLEVEL=0", TlsVersion::Tls10, CipherSuite::RsaAes128CbcSha);
}

#[test]
fn tls10_aes256_sha_matches_openssl() {
    oracle_case("-tls1", "AES256-SHA@SECLEVEL=0", TlsVersion::Tls10, CipherSuite::RsaAes256CbcSha);
}

#[test]
fn tls11_aes128_sha_matches_openssl() {
    oracle_case("-tls1_1", "AES128-SHA@SECLEVEL=0", TlsVersion::Tls11, CipherSuite::RsaAes128CbcSha);
}

#[test]
fn tls12_aes128_sha_matches_openssl() {
    oracle_case("-tls1_2", "AES128-SHA@SECLEVEL=0", TlsVersion::Tls12, CipherSuite::RsaAes128CbcSha);
}

#[test]
fn tls12_aes128_sha256_matches_openssl() {
    oracle_case("-tls1_2", "AES128-SHA256@SECLEVEL=0", TlsVersion::Tls12, CipherSuite::RsaAes128CbcSha256);
}

#[test]
fn tls12_aes256_sha256_matches_openssl() {
    oracle_case("-tls1_2", "AES256-SHA256@SECLEVEL=0", TlsVersion::Tls12, CipherSuite::RsaAes256CbcSha256);
}

#[test]
fn tls12_offer_negotiates_down_to_tls10_server() {
    // A 1.2 offer to a TLS 1.0-only server (Lync 2013 on Windows 2008 R2 defaults) must still work.
    let pki = Pki::new(TARGET, true);
    let server = Server::spawn(&pki, "-tls1", "AES128-SHA@SECLEVEL=0");
    let suites = [CipherSuite::RsaAes128CbcSha256, CipherSuite::RsaAes128CbcSha];
    let (client, result) = handshake(server.port, pki.config(TlsVersion::Tls12, &suites));
    result.expect("handshake");
    assert_eq!(client.negotiated(), Some((TlsVersion::Tls10, CipherSuite::RsaAes128CbcSha)));
    assert_eq!(*client.eap_material, server.keying_material());
}

#[test]
fn default_offer_to_tls12_only_server_is_an_alert() {
    // The signal for "retry with max_version = Tls12" (module doc): protocol_version (70), fatal.
    let pki = Pki::new(TARGET, true);
    let server = Server::spawn(&pki, "-tls1_2", "AES128-SHA@SECLEVEL=0");
    let (_, result) = handshake(server.port, pki.config(TlsVersion::Tls10, &[CipherSuite::RsaAes128CbcSha]));
    assert_eq!(result, Err(TlsDskError::Alert { level: 2, description: 70 }));
}

#[test]
fn server_certificate_for_another_name_is_refused() {
    let pki = Pki::new("other.contoso.test", true);
    let server = Server::spawn(&pki, "-tls1", "AES128-SHA@SECLEVEL=0");
    let (client, result) = handshake(server.port, pki.config(TlsVersion::Tls10, &[CipherSuite::RsaAes128CbcSha]));
    assert_eq!(result, Err(TlsDskError::ServerCertificate(CertificateProblem::NameMismatch)));
    assert!(client.keys().is_none());
}

#[test]
fn server_certificate_under_another_root_is_refused() {
    let pki = Pki::new(TARGET, false);
    let server = Server::spawn(&pki, "-tls1", "AES128-SHA@SECLEVEL=0");
    let (client, result) = handshake(server.port, pki.config(TlsVersion::Tls10, &[CipherSuite::RsaAes128CbcSha]));
    assert_eq!(result, Err(TlsDskError::ServerCertificate(CertificateProblem::UntrustedRoot)));
    assert!(client.keys().is_none());
}

#[test]
fn expired_server_certificate_is_refused() {
    let pki = Pki::new(TARGET, true);
    let server = Server::spawn(&pki, "-tls1", "AES128-SHA@SECLEVEL=0");
    let mut config = pki.config(TlsVersion::Tls10, &[CipherSuite::RsaAes128CbcSha]);
    // rcgen's default validity ends in 4096; the verifier is given a time after that.
    config.now = UnixTime::since_unix_epoch(Duration::from_secs(4_200_000_000 * 32));
    let (_, result) = handshake(server.port, config);
    assert_eq!(result, Err(TlsDskError::ServerCertificate(CertificateProblem::Expired)));
}
