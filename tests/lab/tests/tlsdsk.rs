//! The lab's TLS-DSK server (OpenSSL) against the client's own engine (`sfbkit::auth::tlsdsk`, RustCrypto),
//! in memory: the two independent implementations must agree on the handshake, the derived keys and the
//! SIP signatures, and the server must refuse what a pool refuses.

use std::sync::Arc;

use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair, KeyUsagePurpose};
use rustls::RootCertStore;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer, UnixTime};
use sfbkit::auth::tlsdsk::{CipherSuite, MacAlgorithm, TlsDskClient, TlsDskConfig, TlsDskKeys, TlsVersion};
use sfbkit_lab::ca::{LabCa, Validity};
use sfbkit_lab::tlsdsk::{
    Mac, ServerKeys, ServerStep, TlsDskServer, TlsDskServerConfig, TlsDskServerError, issue_rsa_server_cert, sign,
    verify,
};

const POOL: &str = "pool01.contoso.lab";
const ALICE: &str = "alice@contoso.lab";
const BUFFER: &[u8] = b"<TLS-DSK><13317733><1><SIP Communications Service><pool01.contoso.lab><callid><3><REGISTER>";

/// A user certificate as certificate provisioning would hand it out: RSA-2048, CN = the user's address.
struct UserCert {
    der: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

fn user_cert(ca: &LabCa, cn: &str) -> UserCert {
    let (ca_cert, ca_key) = ca.to_pem_pair();
    let issuer = Issuer::from_ca_cert_pem(&ca_cert, KeyPair::from_pem(&ca_key).expect("ca key")).expect("issuer");
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let v = Validity::days_from_now(30);
    params.not_before = v.not_before;
    params.not_after = v.not_after;
    let key = KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("rsa key");
    let cert = params.signed_by(&key, &issuer).expect("user cert");
    UserCert { der: cert.der().clone(), key: PrivatePkcs8KeyDer::from(key.serialize_der()) }
}

/// The lab CA (pool certificate), the user CA (client certificates), alice's certificate.
struct Lab {
    lab_ca: LabCa,
    user_ca: LabCa,
    server_chain_pem: String,
    server_key_pem: String,
    alice: UserCert,
}

impl Lab {
    fn new() -> Lab {
        let lab_ca = LabCa::generate("sfbkit lab pool CA tlsdsk").expect("lab CA");
        let user_ca = LabCa::generate("contoso user CA").expect("user CA");
        let server = issue_rsa_server_cert(&lab_ca, &[POOL.to_owned()], Validity::days_from_now(30)).expect("cert");
        let alice = user_cert(&user_ca, ALICE);
        Lab { lab_ca, user_ca, server_chain_pem: server.cert_pem, server_key_pem: server.key_pem, alice }
    }

    fn server(&self, tls10_only: bool) -> TlsDskServer {
        TlsDskServer::new(TlsDskServerConfig {
            cert_chain_pem: self.server_chain_pem.clone(),
            key_pem: self.server_key_pem.clone(),
            client_ca_pem: self.user_ca.ca_pem().to_owned(),
            tls10_only,
            no_tls10: false,
        })
        .expect("server")
    }

    fn client_config(&self, user: &UserCert) -> TlsDskConfig {
        let mut roots = RootCertStore::empty();
        roots.add(self.lab_ca.ca_der().clone()).expect("anchor");
        TlsDskConfig::new(vec![user.der.clone()], user.key.clone_key(), Arc::new(roots), POOL, UnixTime::now())
    }
}

/// Runs the handshake as SIP would carry it: ClientHello, 401, client flight, 401.
fn handshake(config: TlsDskConfig, server: &mut TlsDskServer) -> Result<(TlsDskKeys, ServerKeys), TlsDskServerError> {
    let mut client = TlsDskClient::new(config, &mut rand::rng()).expect("client");
    let hello = client.start();
    let ServerStep::Continue(first) = server.handle(&hello)? else { panic!("the server finished after one flight") };
    let second_client = client.handle_server_flight(&first).expect("client accepts the server's first flight");
    let second_client = second_client.expect("the client has a second flight");
    let ServerStep::Done { flight, keys } = server.handle(&second_client)? else {
        panic!("the server did not finish after the client's Finished")
    };
    let none = client.handle_server_flight(&flight).expect("client accepts the server's Finished");
    assert!(none.is_none(), "two server flights complete the client");
    Ok((client.keys().expect("client keys"), keys))
}

fn assert_agree(client: &TlsDskKeys, server: &ServerKeys) {
    assert_eq!(client.client_key, server.client_key, "client keys differ");
    assert_eq!(client.server_key, server.server_key, "server keys differ");
    let response = client.sign(BUFFER);
    assert!(verify(server, BUFFER, &response), "the server rejects the client's signature");
    assert!(!verify(server, b"another buffer", &response));
    assert!(!verify(server, BUFFER, &response[..response.len() - 1]), "a truncated signature verifies");
    assert!(!verify(server, BUFFER, &sign(server, BUFFER)), "the server key verifies as the client's");
    let rspauth = sign(server, BUFFER);
    assert!(client.verify(BUFFER, &rspauth), "the client rejects the server's signature");
    assert_eq!(server.client_subject_cn, ALICE);
}

#[test]
fn default_client_and_server_agree_at_tls10() {
    let lab = Lab::new();
    let mut server = lab.server(false);
    let (client, keys) = handshake(lab.client_config(&lab.alice), &mut server).expect("handshake");
    assert_agree(&client, &keys);
    assert_eq!(keys.client_cert_der, lab.alice.der.to_vec());
    assert_eq!(keys.version, "TLSv1");
    assert_eq!(keys.cipher, "AES128-SHA");
    assert_eq!(keys.mac, Mac::Sha1);
    assert_eq!(client.mac, MacAlgorithm::Sha1);
    assert_eq!(sign(&keys, BUFFER).len(), 20);
    assert!(format!("{keys:?}").contains("<redacted>"));
    let debug = format!("{keys:?} {:?}", ServerStep::Done { flight: Vec::new(), keys: keys.clone() });
    for key in [&keys.client_key, &keys.server_key] {
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let list = format!("{key:?}");
        for leak in [&hex, &hex.to_uppercase(), list.trim_matches(['[', ']'])] {
            assert!(!debug.contains(leak), "a key in {debug}");
        }
    }
    fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>(_: &T) {}
    wiped_on_drop(&keys);
    assert!(matches!(server.handle(b"more"), Err(TlsDskServerError::InvalidState(_))));
}

#[test]
fn tls12_with_each_suite() {
    let lab = Lab::new();
    for (suite, name, mac) in [
        (CipherSuite::RsaAes128CbcSha, "AES128-SHA", Mac::Sha1),
        (CipherSuite::RsaAes256CbcSha, "AES256-SHA", Mac::Sha1),
        (CipherSuite::RsaAes128CbcSha256, "AES128-SHA256", Mac::Sha256),
        (CipherSuite::RsaAes256CbcSha256, "AES256-SHA256", Mac::Sha256),
    ] {
        let mut config = lab.client_config(&lab.alice);
        config.max_version = TlsVersion::Tls12;
        config.cipher_suites = vec![suite];
        let (client, keys) = handshake(config, &mut lab.server(false)).expect(name);
        assert_agree(&client, &keys);
        assert_eq!((keys.version.as_str(), keys.cipher.as_str(), keys.mac), ("TLSv1.2", name, mac));
    }
}

#[test]
fn tls11_is_accepted() {
    let lab = Lab::new();
    let mut config = lab.client_config(&lab.alice);
    config.max_version = TlsVersion::Tls11;
    let (client, keys) = handshake(config, &mut lab.server(false)).expect("handshake");
    assert_agree(&client, &keys);
    assert_eq!((keys.version.as_str(), keys.mac), ("TLSv1.1", Mac::Sha1));
}

#[test]
fn tls10_only_fault_answers_a_tls12_offer_with_tls10() {
    let lab = Lab::new();
    let mut config = lab.client_config(&lab.alice);
    config.max_version = TlsVersion::Tls12;
    let (client, keys) = handshake(config, &mut lab.server(true)).expect("handshake");
    assert_agree(&client, &keys);
    assert_eq!(keys.version, "TLSv1");
}

#[test]
fn client_certificate_from_another_ca_is_refused() {
    let lab = Lab::new();
    let stranger_ca = LabCa::generate("fabrikam user CA").expect("CA");
    let mallory = user_cert(&stranger_ca, ALICE);
    let mut server = lab.server(false);
    match handshake(lab.client_config(&mallory), &mut server) {
        Err(TlsDskServerError::ClientCertificateRejected { reason, alert }) => {
            assert!(!reason.is_empty());
            assert_eq!(alert.first(), Some(&21), "a TLS alert record for the client: {alert:02x?}");
        }
        other => panic!("expected ClientCertificateRejected, got {other:?}"),
    }
    assert!(matches!(server.handle(b"again"), Err(TlsDskServerError::InvalidState(_))));
}

#[test]
fn ecdsa_server_certificate_is_refused_at_setup() {
    let lab = Lab::new();
    let ecdsa = lab.lab_ca.issue_server_cert(&[POOL.to_owned()], Validity::days_from_now(1)).expect("cert");
    let err = TlsDskServer::new(TlsDskServerConfig {
        cert_chain_pem: ecdsa.cert_pem,
        key_pem: ecdsa.key_pem,
        client_ca_pem: lab.user_ca.ca_pem().to_owned(),
        tls10_only: false,
        no_tls10: false,
    })
    .expect_err("ECDSA key");
    assert!(matches!(err, TlsDskServerError::ServerKeyNotRsa), "{err:?}");
    let err = TlsDskServer::new(TlsDskServerConfig {
        cert_chain_pem: "not pem".into(),
        key_pem: lab.server_key_pem.clone(),
        client_ca_pem: lab.user_ca.ca_pem().to_owned(),
        tls10_only: false,
        no_tls10: false,
    })
    .expect_err("garbage chain");
    assert!(matches!(err, TlsDskServerError::ServerCertificate(_)), "{err:?}");
}

#[test]
fn garbage_flights_are_errors() {
    let lab = Lab::new();
    let hello = TlsDskClient::new(lab.client_config(&lab.alice), &mut rand::rng()).expect("client").start();
    let mut flights: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"REGISTER sip:contoso.lab SIP/2.0\r\n\r\n".to_vec(),
        vec![0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00],
        vec![0x16, 0x03, 0x01, 0xff, 0xff],
        vec![0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28],
        vec![0u8; 70 * 1024],
        hello[..hello.len() / 2].to_vec(),
    ];
    // Pseudo-random bytes and single-byte mutations of a real ClientHello.
    let mut x: u32 = 0x1234_5678;
    for i in 0..hello.len() {
        let mut mutated = hello.clone();
        mutated[i] ^= 0x5a;
        flights.push(mutated);
        let noise: Vec<u8> = (0..200)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        flights.push(noise);
    }
    for flight in flights {
        let mut server = lab.server(false);
        // A mutated ClientHello may still be a valid one; whatever happens, no panic, and garbage is an error.
        let _ = server.handle(&flight);
    }
    for flight in [Vec::new(), b"garbage".to_vec(), vec![0x16, 0x03, 0x01, 0x00, 0x01, 0x00]] {
        assert!(lab.server(false).handle(&flight).is_err(), "{flight:02x?}");
    }

    // Garbage instead of the client's second flight.
    let mut server = lab.server(false);
    assert!(matches!(server.handle(&hello), Ok(ServerStep::Continue(_))));
    let err = server.handle(&[0x16, 0x03, 0x01, 0x00, 0x05, 0x0b, 0x00, 0x00, 0x01, 0x00]).expect_err("garbage");
    assert!(matches!(err, TlsDskServerError::Handshake { .. }), "{err:?}");
}

#[test]
fn config_debug_redacts_the_key() {
    let lab = Lab::new();
    let cfg = TlsDskServerConfig {
        cert_chain_pem: lab.server_chain_pem.clone(),
        key_pem: lab.server_key_pem.clone(),
        client_ca_pem: lab.user_ca.ca_pem().to_owned(),
        tls10_only: false,
        no_tls10: false,
    };
    let text = format!("{cfg:?}");
    assert!(!text.contains("PRIVATE KEY") && text.contains("<redacted>"), "{text}");
}
