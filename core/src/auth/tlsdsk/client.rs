//! The client side of the TLS-DSK handshake as a sans-I/O state machine: flights in, flights out.

use std::fmt;
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{CryptoRng, RngCore, SeedableRng};
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Pkcs1v15Encrypt, Pkcs1v15Sign, RsaPrivateKey};
use rustls::client::WebPkiServerVerifier;
use rustls_pki_types::ServerName;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::codec;
use super::inbound::{Pending, ServerFlight, on_server_finished};
use super::prf::{Hash, Prf};
use super::record::{DirectionKeys, Protection};
use super::{CipherSuite, MacAlgorithm, TlsDskConfig, TlsDskError, TlsDskKeys, TlsVersion, verify};

/// rsa_pkcs1_sha256 in TLS 1.2's SignatureAndHashAlgorithm (hash 4 = sha256, signature 1 = rsa).
const RSA_PKCS1_SHA256: u16 = 0x0401;

/// Where the handshake is. Secrets live only inside `FinishedSent` / `Established`.
enum State {
    Initial,
    HelloSent,
    FinishedSent(Box<Pending>),
    Established(TlsDskKeys),
    Failed,
}

/// A TLS-DSK handshake in progress: call [`start`](Self::start), send its bytes, feed each server flight to
/// [`handle_server_flight`](Self::handle_server_flight), send what it returns, and read
/// [`keys`](Self::keys) once it returns `Ok(None)`.
///
/// Secrets: `Debug` shows the state, target and negotiated suite only. The private key (`rsa` wipes it on
/// drop), the configuration's PKCS#8 copy, the record keys and the derived signing keys are wiped when the
/// client is dropped; the pre-master secret, master secret and key block are wiped as soon as they are used.
pub struct TlsDskClient {
    config: TlsDskConfig,
    key: RsaPrivateKey,
    verifier: Arc<WebPkiServerVerifier>,
    server_name: ServerName<'static>,
    rng: StdRng,
    client_random: [u8; 32],
    hello: Vec<u8>,
    transcript: Vec<u8>,
    state: State,
    negotiated: Option<(TlsVersion, CipherSuite)>,
    /// The whole 128-byte key block, kept only so the oracle tests can compare it with OpenSSL's.
    #[cfg(test)]
    pub(super) eap_material: Zeroizing<Vec<u8>>,
}

impl TlsDskClient {
    /// Check the configuration and draw the client random. `rng` seeds a private CSPRNG used for the
    /// pre-master secret, PKCS#1 padding, RSA blinding and explicit IVs, so a test can make a run repeatable.
    pub fn new<R: CryptoRng>(config: TlsDskConfig, rng: &mut R) -> Result<Self, TlsDskError> {
        if config.min_version > config.max_version {
            return Err(TlsDskError::InvalidConfig("min_version is above max_version"));
        }
        if !config.cipher_suites.iter().any(|s| s.allowed_in(config.max_version)) {
            return Err(TlsDskError::InvalidConfig("no cipher suite is usable at max_version"));
        }
        let chain_len: usize = config.client_chain.iter().map(|c| c.len() + 3).sum();
        if config.client_chain.is_empty() || chain_len >= 1 << 24 {
            return Err(TlsDskError::InvalidClientCertificate);
        }
        let key = RsaPrivateKey::from_pkcs8_der(config.client_key.secret_pkcs8_der())
            .map_err(|_| TlsDskError::InvalidClientKey)?;
        let server_name = ServerName::try_from(config.target_name.clone())
            .map_err(|_| TlsDskError::InvalidTargetName(config.target_name.clone()))?;
        let verifier = verify::build_verifier(config.trust_anchors.clone())?;
        let mut rng = StdRng::from_rng(rng);
        let mut client_random = [0u8; 32];
        // gmt_unix_time is a 32-bit field by definition (RFC 5246 §7.4.1.2); truncation is intended.
        client_random[..4].copy_from_slice(&(config.now.as_secs() as u32).to_be_bytes());
        rng.fill_bytes(&mut client_random[4..]);
        Ok(TlsDskClient {
            config,
            key,
            verifier,
            server_name,
            rng,
            client_random,
            hello: Vec::new(),
            transcript: Vec::new(),
            state: State::Initial,
            negotiated: None,
            #[cfg(test)]
            eap_material: Zeroizing::new(Vec::new()),
        })
    }

    /// The ClientHello record: no session id, no extensions, null compression (as SIPE, CLIENT-NOTES §5.6).
    /// Calling it again returns the same bytes, for a re-sent REGISTER.
    pub fn start(&mut self) -> Vec<u8> {
        if matches!(self.state, State::Initial) {
            let mut body = self.config.max_version.wire().to_be_bytes().to_vec();
            body.extend_from_slice(&self.client_random);
            body.push(0);
            let suites: Vec<u8> = self.offered_suites().flat_map(|s| s.wire().to_be_bytes()).collect();
            codec::push_vec(&mut body, 2, &suites);
            codec::push_vec(&mut body, 1, &[0]);
            let mut message = Vec::new();
            // A ClientHello body is ~100 bytes, far below the 24-bit limit, so this cannot fail.
            if codec::push_handshake(&mut message, codec::CLIENT_HELLO, &body).is_ok() {
                self.transcript.extend_from_slice(&message);
                codec::push_records(&mut self.hello, codec::HANDSHAKE, 0x0301, &message);
                self.state = State::HelloSent;
            }
        }
        self.hello.clone()
    }

    /// Feed one server flight. The first returns our Certificate … Finished flight; the second checks the
    /// server's Finished and returns `None`: the handshake is complete and [`keys`](Self::keys) is available.
    /// Any error ends the handshake; start a new client to retry.
    pub fn handle_server_flight(&mut self, flight: &[u8]) -> Result<Option<Vec<u8>>, TlsDskError> {
        match std::mem::replace(&mut self.state, State::Failed) {
            State::HelloSent => self.on_server_hello_flight(flight).map(Some),
            State::FinishedSent(pending) => {
                let keys = on_server_finished(flight, &pending)?;
                self.state = State::Established(keys);
                Ok(None)
            }
            State::Initial => {
                self.state = State::Initial;
                Err(TlsDskError::InvalidState("server flight before start()"))
            }
            State::Established(keys) => {
                self.state = State::Established(keys);
                Err(TlsDskError::InvalidState("the handshake is already complete"))
            }
            State::Failed => Err(TlsDskError::InvalidState("the handshake already failed")),
        }
    }

    /// The signing keys, once the server's Finished has been verified.
    pub fn keys(&self) -> Option<TlsDskKeys> {
        match &self.state {
            State::Established(keys) => Some(keys.clone()),
            _ => None,
        }
    }

    /// Whether the handshake completed and the server was authenticated.
    pub fn is_established(&self) -> bool {
        matches!(self.state, State::Established(_))
    }

    /// The version and suite the server chose, once its ServerHello was accepted (for sign-in reports).
    pub fn negotiated(&self) -> Option<(TlsVersion, CipherSuite)> {
        self.negotiated
    }

    fn offered_suites(&self) -> impl Iterator<Item = CipherSuite> + '_ {
        self.config.cipher_suites.iter().copied().filter(|s| s.allowed_in(self.config.max_version))
    }

    fn on_server_hello_flight(&mut self, flight: &[u8]) -> Result<Vec<u8>, TlsDskError> {
        let mut handshake = Vec::new();
        for record in codec::split_records(flight)? {
            match record.content_type {
                codec::ALERT => return Err(codec::alert(record.fragment)),
                codec::HANDSHAKE => handshake.extend_from_slice(record.fragment),
                _ => return Err(TlsDskError::UnexpectedMessage("non-handshake record before ServerHelloDone")),
            }
        }
        let messages = codec::split_handshakes(&handshake)?;
        let flight = ServerFlight::parse(&messages)?;
        let hello = codec::parse_server_hello(flight.hello.body)?;
        let version = TlsVersion::from_wire(hello.version)
            .filter(|v| (self.config.min_version..=self.config.max_version).contains(v))
            .ok_or(TlsDskError::UnsupportedVersion(hello.version))?;
        let suite = self
            .offered_suites()
            .find(|s| s.wire() == hello.cipher_suite && s.allowed_in(version))
            .ok_or(TlsDskError::UnsupportedCipherSuite(hello.cipher_suite))?;
        if hello.compression != 0 {
            return Err(TlsDskError::UnsupportedCompression(hello.compression));
        }
        let chain = codec::parse_certificate_list(flight.certificate.body)?;
        let signature_algorithms = match flight.request {
            Some(m) => Some(codec::parse_certificate_request(m.body, version == TlsVersion::Tls12)?),
            None => None,
        };
        for message in &messages {
            self.transcript.extend_from_slice(message.encoded);
        }
        verify::verify_chain(&self.verifier, &chain, &self.server_name, self.config.now)?;
        let leaf = chain.first().ok_or(TlsDskError::Malformed("server sent no certificate"))?;
        let server_key = verify::server_rsa_key(leaf)?;
        self.negotiated = Some((version, suite));
        self.client_flight(version, suite, &hello.random, &server_key, signature_algorithms.as_deref())
    }

    /// Build Certificate, ClientKeyExchange, CertificateVerify, ChangeCipherSpec and the sealed Finished.
    fn client_flight(
        &mut self,
        version: TlsVersion,
        suite: CipherSuite,
        server_random: &[u8; 32],
        server_key: &rsa::RsaPublicKey,
        signature_algorithms: Option<&[u16]>,
    ) -> Result<Vec<u8>, TlsDskError> {
        let prf = if version == TlsVersion::Tls12 { Prf::Sha256 } else { Prf::Tls10 };
        // The pre-master carries the version we offered, not the one chosen (RFC 5246 §7.4.7.1).
        let mut pre_master = Zeroizing::new([0u8; 48]);
        pre_master[..2].copy_from_slice(&self.config.max_version.wire().to_be_bytes());
        self.rng.fill_bytes(&mut pre_master[2..]);
        let encrypted = server_key
            .encrypt(&mut Compat(&mut self.rng), Pkcs1v15Encrypt, &pre_master[..])
            .map_err(|_| TlsDskError::Crypto("encryption of the pre-master secret"))?;
        let client_server = [&self.client_random[..], &server_random[..]].concat();
        let master = Zeroizing::new(prf.derive(&pre_master[..], b"master secret", &client_server, 48));
        drop(pre_master);

        let mut messages = Vec::new();
        if signature_algorithms.is_some() {
            let mut list = Vec::new();
            for cert in &self.config.client_chain {
                codec::push_vec(&mut list, 3, cert);
            }
            let mut body = Vec::new();
            codec::push_vec(&mut body, 3, &list);
            self.push_message(&mut messages, codec::CERTIFICATE, &body)?;
        }
        let mut body = Vec::new();
        codec::push_vec(&mut body, 2, &encrypted);
        self.push_message(&mut messages, codec::CLIENT_KEY_EXCHANGE, &body)?;
        if let Some(algorithms) = signature_algorithms {
            let body = self.certificate_verify(version, algorithms)?;
            self.push_message(&mut messages, codec::CERTIFICATE_VERIFY, &body)?;
        }

        let (mac, mac_len) = match suite.mac() {
            MacAlgorithm::Sha1 => (Hash::Sha1, 20),
            MacAlgorithm::Sha256 => (Hash::Sha256, 32),
        };
        let key_len = suite.key_len();
        let server_client = [&server_random[..], &self.client_random[..]].concat();
        let block = Zeroizing::new(prf.derive(&master, b"key expansion", &server_client, 2 * (mac_len + key_len + 16)));
        let cut = |at: usize, len: usize| block[at..at + len].to_vec();
        let iv_at = 2 * (mac_len + key_len);
        let mut client_iv = Zeroizing::new([0u8; 16]);
        let mut server_iv = Zeroizing::new([0u8; 16]);
        client_iv.copy_from_slice(&block[iv_at..iv_at + 16]);
        server_iv.copy_from_slice(&block[iv_at + 16..iv_at + 32]);
        let client_keys =
            DirectionKeys { mac_key: cut(0, mac_len), enc_key: cut(2 * mac_len, key_len), iv: *client_iv };
        let server_keys = DirectionKeys {
            mac_key: cut(mac_len, mac_len),
            enc_key: cut(2 * mac_len + key_len, key_len),
            iv: *server_iv,
        };
        let protection = Protection { version: version.wire(), mac, explicit_iv: version >= TlsVersion::Tls11 };

        let verify_data = prf.derive(&master, b"client finished", &prf.transcript_hash(&self.transcript), 12);
        let mut finished = Vec::new();
        self.push_message(&mut finished, codec::FINISHED, &verify_data)?;
        let expected_server_verify =
            prf.derive(&master, b"server finished", &prf.transcript_hash(&self.transcript), 12);
        let mut fresh_iv = [0u8; 16];
        self.rng.fill_bytes(&mut fresh_iv);
        let sealed = protection.seal(&client_keys, 0, codec::HANDSHAKE, &finished, fresh_iv)?;

        let material = Zeroizing::new(prf.derive(&master, b"client EAP encryption", &client_server, 128));
        let mut keys = TlsDskKeys { client_key: [0; 32], server_key: [0; 32], mac: suite.mac() };
        keys.client_key.copy_from_slice(&material[64..96]);
        keys.server_key.copy_from_slice(&material[96..128]);
        #[cfg(test)]
        {
            self.eap_material = material.clone();
        }

        let mut out = Vec::new();
        codec::push_records(&mut out, codec::HANDSHAKE, version.wire(), &messages);
        codec::push_record(&mut out, codec::CHANGE_CIPHER_SPEC, version.wire(), &[1]);
        codec::push_record(&mut out, codec::HANDSHAKE, version.wire(), &sealed);
        self.state = State::FinishedSent(Box::new(Pending { protection, server_keys, expected_server_verify, keys }));
        Ok(out)
    }

    /// Append a handshake message to both the outgoing bytes and the transcript.
    fn push_message(&mut self, out: &mut Vec<u8>, msg_type: u8, body: &[u8]) -> Result<(), TlsDskError> {
        let start = out.len();
        codec::push_handshake(out, msg_type, body)?;
        self.transcript.extend_from_slice(&out[start..]);
        Ok(())
    }

    /// TLS 1.0/1.1 sign MD5 ‖ SHA-1 of the transcript without DigestInfo; TLS 1.2 signs SHA-256 with DigestInfo.
    fn certificate_verify(&mut self, version: TlsVersion, algorithms: &[u16]) -> Result<Vec<u8>, TlsDskError> {
        let mut body = Vec::new();
        let signature = if version == TlsVersion::Tls12 {
            if !algorithms.contains(&RSA_PKCS1_SHA256) {
                return Err(TlsDskError::NoCommonSignatureAlgorithm);
            }
            body.extend_from_slice(&RSA_PKCS1_SHA256.to_be_bytes());
            let digest = Prf::Sha256.transcript_hash(&self.transcript);
            self.key.sign_with_rng(&mut Compat(&mut self.rng), Pkcs1v15Sign::new::<Sha256>(), &digest)
        } else {
            let digest = Prf::Tls10.transcript_hash(&self.transcript);
            self.key.sign_with_rng(&mut Compat(&mut self.rng), Pkcs1v15Sign::new_unprefixed(), &digest)
        }
        .map_err(|_| TlsDskError::Crypto("CertificateVerify signature"))?;
        codec::push_vec(&mut body, 2, &signature);
        Ok(body)
    }
}

/// Adapts our rand 0.9 CSPRNG to the rand_core 0.6 traits the `rsa` 0.9 crate takes.
struct Compat<'a>(&'a mut StdRng);

impl rsa::rand_core::RngCore for Compat<'_> {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
        self.0.fill_bytes(dest);
        Ok(())
    }
}

impl rsa::rand_core::CryptoRng for Compat<'_> {}

impl fmt::Debug for TlsDskClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Initial => "initial",
            State::HelloSent => "hello sent",
            State::FinishedSent(_) => "finished sent",
            State::Established(_) => "established",
            State::Failed => "failed",
        };
        f.debug_struct("TlsDskClient")
            .field("state", &state)
            .field("target_name", &self.config.target_name)
            .field("negotiated", &self.negotiated)
            .finish_non_exhaustive()
    }
}
