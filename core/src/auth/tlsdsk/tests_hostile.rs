//! Tests without a peer: hostile and truncated flights, misuse, configuration checks, redaction, signing.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rustls_pki_types::PrivatePkcs8KeyDer;

use super::codec;
use super::tests_oracle::{Pki, TARGET};
use super::*;

/// A well-formed server first flight (ServerHello, Certificate, CertificateRequest, ServerHelloDone).
fn server_flight(pki: &Pki, version: u16, suite: u16) -> Vec<u8> {
    let mut hello = version.to_be_bytes().to_vec();
    hello.extend_from_slice(&[7; 32]);
    hello.push(0);
    hello.extend_from_slice(&suite.to_be_bytes());
    hello.push(0);
    let mut list = Vec::new();
    codec::push_vec(&mut list, 3, &pki.server_cert);
    let mut certificate = Vec::new();
    codec::push_vec(&mut certificate, 3, &list);
    let mut request = vec![1, 1];
    if version == 0x0303 {
        request.extend_from_slice(&[0, 2, 4, 1]);
    }
    request.extend_from_slice(&[0, 0]);
    let mut messages = Vec::new();
    for (t, body) in [(2, hello), (11, certificate), (13, request), (14, Vec::new())] {
        codec::push_handshake(&mut messages, t, &body).expect("small message");
    }
    let mut out = Vec::new();
    codec::push_records(&mut out, codec::HANDSHAKE, version, &messages);
    out
}

fn started(config: &TlsDskConfig) -> TlsDskClient {
    let mut client = TlsDskClient::new(config.clone(), &mut StdRng::seed_from_u64(1)).expect("client");
    client.start();
    client
}

#[test]
fn client_hello_is_sipe_shaped() {
    let pki = Pki::new(TARGET, true);
    let hello =
        started(&pki.config(TlsVersion::Tls10, &[CipherSuite::RsaAes128CbcSha, CipherSuite::RsaAes256CbcSha])).start();
    // record header, handshake header, client_version 3.1, 32 random, empty session id, 2 suites, null compression.
    assert_eq!(&hello[..3], &[22, 3, 1]);
    assert_eq!(hello[5], 1);
    assert_eq!(&hello[9..11], &[3, 1]);
    assert_eq!(hello[43], 0);
    assert_eq!(&hello[44..50], &[0, 4, 0x00, 0x2F, 0x00, 0x35]);
    assert_eq!(&hello[50..], &[1, 0], "null compression and no extensions");
}

#[test]
fn synthetic_flight_gets_a_client_flight_for_each_version() {
    let pki = Pki::new(TARGET, true);
    for (version, max) in [(0x0301, TlsVersion::Tls10), (0x0302, TlsVersion::Tls11), (0x0303, TlsVersion::Tls12)] {
        let mut client = started(&pki.config(max, &[CipherSuite::RsaAes128CbcSha]));
        let reply = client.handle_server_flight(&server_flight(&pki, version, 0x002F)).expect("client flight");
        assert!(reply.is_some_and(|r| r[..3] == [22, 3, version as u8]));
        assert!(client.keys().is_none(), "no keys before the server Finished is verified");
    }
}

#[test]
fn every_truncation_of_the_first_flight_is_an_error() {
    let pki = Pki::new(TARGET, true);
    let config = pki.config(TlsVersion::Tls10, &[CipherSuite::RsaAes128CbcSha]);
    let flight = server_flight(&pki, 0x0301, 0x002F);
    for n in 0..flight.len() {
        let result = started(&config).handle_server_flight(&flight[..n]);
        assert!(result.is_err(), "prefix of {n} bytes was accepted");
    }
}

#[test]
fn random_and_mutated_flights_never_panic() {
    let pki = Pki::new(TARGET, true);
    let config = pki.config(TlsVersion::Tls12, &[CipherSuite::RsaAes128CbcSha, CipherSuite::RsaAes128CbcSha256]);
    let flight = server_flight(&pki, 0x0303, 0x002F);
    let mut rng = StdRng::seed_from_u64(0x7d5c);
    for _ in 0..300 {
        let mut mutated = flight.clone();
        for _ in 0..rng.random_range(1..6) {
            let at = rng.random_range(0..mutated.len());
            mutated[at] = rng.random();
        }
        let _ = started(&config).handle_server_flight(&mutated);
        let noise: Vec<u8> = (0..rng.random_range(0..600)).map(|_| rng.random()).collect();
        assert!(started(&config).handle_server_flight(&noise).is_err());
        // Noise behind a plausible record header reaches the handshake parser.
        let mut framed = vec![22, 3, 1, (noise.len() >> 8) as u8, noise.len() as u8];
        framed.extend_from_slice(&noise);
        assert!(started(&config).handle_server_flight(&framed).is_err());
    }
}

#[test]
fn hostile_second_flights_are_errors() {
    let pki = Pki::new(TARGET, true);
    let config = pki.config(TlsVersion::Tls10, &[CipherSuite::RsaAes128CbcSha]);
    let first = server_flight(&pki, 0x0301, 0x002F);
    let ready = || {
        let mut client = started(&config);
        client.handle_server_flight(&first).expect("first flight");
        client
    };
    let mut forged = vec![20, 3, 1, 0, 1, 1, 22, 3, 1, 0, 48];
    forged.extend_from_slice(&[0x5a; 48]);
    assert_eq!(ready().handle_server_flight(&forged), Err(TlsDskError::BadRecordMac));
    for n in 0..forged.len() {
        assert!(ready().handle_server_flight(&forged[..n]).is_err());
    }
    assert_eq!(
        ready().handle_server_flight(&[21, 3, 1, 0, 2, 2, 42]),
        Err(TlsDskError::Alert { level: 2, description: 42 })
    );
    let mut rng = StdRng::seed_from_u64(9);
    for _ in 0..100 {
        let noise: Vec<u8> = (0..rng.random_range(0..200)).map(|_| rng.random()).collect();
        let mut client = ready();
        assert!(client.handle_server_flight(&noise).is_err());
        assert!(client.keys().is_none());
    }
}

#[test]
fn server_choices_outside_the_offer_are_refused() {
    let pki = Pki::new(TARGET, true);
    let config = pki.config(TlsVersion::Tls10, &[CipherSuite::RsaAes128CbcSha]);
    let version = started(&config).handle_server_flight(&server_flight(&pki, 0x0303, 0x002F));
    assert_eq!(version, Err(TlsDskError::UnsupportedVersion(0x0303)));
    let suite = started(&config).handle_server_flight(&server_flight(&pki, 0x0301, 0x0035));
    assert_eq!(suite, Err(TlsDskError::UnsupportedCipherSuite(0x0035)));
}

#[test]
fn calls_out_of_order_are_state_errors() {
    let pki = Pki::new(TARGET, true);
    let config = pki.config(TlsVersion::Tls10, &[CipherSuite::RsaAes128CbcSha]);
    let mut client = TlsDskClient::new(config.clone(), &mut StdRng::seed_from_u64(2)).expect("client");
    assert!(matches!(client.handle_server_flight(&[22, 3, 1, 0, 0]), Err(TlsDskError::InvalidState(_))));
    client.start();
    assert!(client.handle_server_flight(&[1, 2, 3]).is_err());
    assert!(matches!(client.handle_server_flight(&[1, 2, 3]), Err(TlsDskError::InvalidState(_))));
}

#[test]
fn bad_configurations_are_typed_errors() {
    let pki = Pki::new(TARGET, true);
    let base = pki.config(TlsVersion::Tls12, &[CipherSuite::RsaAes128CbcSha]);
    let new = |c: TlsDskConfig| TlsDskClient::new(c, &mut StdRng::seed_from_u64(3)).map(|_| ());
    let mut c = base.clone();
    c.min_version = TlsVersion::Tls12;
    c.max_version = TlsVersion::Tls10;
    assert!(matches!(new(c), Err(TlsDskError::InvalidConfig(_))));
    let mut c = base.clone();
    c.max_version = TlsVersion::Tls10;
    c.cipher_suites = vec![CipherSuite::RsaAes128CbcSha256];
    assert!(matches!(new(c), Err(TlsDskError::InvalidConfig(_))));
    let mut c = base.clone();
    c.client_key = PrivatePkcs8KeyDer::from(vec![0x30, 0x03, 1, 2, 3]);
    assert_eq!(new(c), Err(TlsDskError::InvalidClientKey));
    let mut c = base.clone();
    c.client_chain.clear();
    assert_eq!(new(c), Err(TlsDskError::InvalidClientCertificate));
    let mut c = base.clone();
    c.target_name = "not a host name".into();
    assert!(matches!(new(c), Err(TlsDskError::InvalidTargetName(_))));
    let mut c = base;
    c.trust_anchors = Arc::new(rustls::RootCertStore::empty());
    assert!(matches!(new(c), Err(TlsDskError::InvalidConfig(_))));
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let keys = TlsDskKeys { client_key: [0xab; 32], server_key: [0xcd; 32], mac: MacAlgorithm::Sha1 };
    let text = format!("{keys:?}");
    assert!(text.contains("redacted") && !text.contains("171") && !text.contains("ab, ab"), "{text}");
    let pki = Pki::new(TARGET, true);
    let config = pki.config(TlsVersion::Tls10, &[CipherSuite::RsaAes128CbcSha]);
    assert!(format!("{config:?}").contains("redacted"));
    assert!(!format!("{:?}", started(&config)).contains("key"));
}

/// The private key, the key block and the signing keys appear in no `Debug` output, in any form, at any stage.
#[test]
fn no_key_material_in_any_form_in_debug() {
    use crate::auth::secret_tests::assert_redacted;
    let pki = Pki::new(TARGET, true);
    let config = pki.config(TlsVersion::Tls10, &[CipherSuite::RsaAes128CbcSha]);
    let mut client = started(&config);
    client.handle_server_flight(&server_flight(&pki, 0x0301, 0x002F)).expect("client flight");
    assert_eq!(client.eap_material.len(), 128, "the key block was derived");
    let keys = TlsDskKeys {
        client_key: client.eap_material[64..96].try_into().expect("32 bytes"),
        server_key: client.eap_material[96..128].try_into().expect("32 bytes"),
        mac: MacAlgorithm::Sha1,
    };
    let debug = format!("{config:?} {:?} {client:?} {keys:?}", config.clone());
    assert_redacted(&debug, &pki.client_key);
    assert_redacted(&debug, &pki.client_key[pki.client_key.len() / 2..][..48]);
    for quarter in client.eap_material.chunks(32) {
        assert_redacted(&debug, quarter);
    }
}

/// Key material wipes itself: on drop (checked through the trait) and when zeroized explicitly.
#[test]
fn keys_are_zeroized() {
    use crate::auth::secret_tests::assert_zeroize_on_drop;
    use zeroize::Zeroize as _;
    assert_zeroize_on_drop::<TlsDskKeys>();
    assert_zeroize_on_drop::<TlsDskConfig>();
    assert_zeroize_on_drop::<super::record::DirectionKeys>();
    let mut keys = TlsDskKeys { client_key: [0xab; 32], server_key: [0xcd; 32], mac: MacAlgorithm::Sha256 };
    let copy = keys.clone();
    keys.zeroize();
    assert_eq!((keys.client_key, keys.server_key), ([0; 32], [0; 32]));
    assert_eq!(keys.mac, MacAlgorithm::Sha256, "the algorithm is not a secret");
    assert_eq!(copy.client_key, [0xab; 32], "a clone holds (and wipes) its own copy");
}

#[test]
fn signatures_use_the_suite_hmac_and_the_right_key() {
    for (mac, len) in [(MacAlgorithm::Sha1, 20), (MacAlgorithm::Sha256, 32)] {
        let keys = TlsDskKeys { client_key: [1; 32], server_key: [2; 32], mac };
        let buffer = b"<TLS-DSK><13317733><1><SIP Communications Service><pool01.contoso.test>";
        let ours = keys.sign(buffer);
        assert_eq!(ours.len(), len);
        assert!(!keys.verify(buffer, &ours), "the client key must not verify server signatures");
        let server_view = TlsDskKeys { client_key: keys.server_key, server_key: keys.client_key, mac };
        let theirs = server_view.sign(buffer);
        assert!(keys.verify(buffer, &theirs));
        assert!(!keys.verify(b"other", &theirs));
    }
}
