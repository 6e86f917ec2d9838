use std::time::Duration as StdDuration;

use rustls::{ClientConfig, ClientConnection, ServerConnection};
use sfbkit::transport::{TransportError, TrustConfig, connect_tls_addr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

const POOL: &str = "sip.contoso.lab";

fn names(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn client_trusting(ca_pem: &str) -> Arc<ClientConfig> {
    client_with_versions(ca_pem, rustls::DEFAULT_VERSIONS)
}

fn client_with_versions(ca_pem: &str, versions: &[&'static rustls::SupportedProtocolVersion]) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// Runs a full TLS handshake between the two configurations over in-memory buffers; returns the client's
/// verdict (or the server's, if it objects first).
fn handshake(client: Arc<ClientConfig>, server: Arc<rustls::ServerConfig>, name: &str) -> Result<(), rustls::Error> {
    let mut c = ClientConnection::new(client, ServerName::try_from(name.to_owned()).unwrap())?;
    let mut s = ServerConnection::new(server)?;
    for _ in 0..10 {
        let mut flight = Vec::new();
        while c.wants_write() {
            c.write_tls(&mut flight).unwrap();
        }
        let mut rd = &flight[..];
        while !rd.is_empty() {
            s.read_tls(&mut rd).unwrap();
            s.process_new_packets()?;
        }
        let mut flight = Vec::new();
        while s.wants_write() {
            s.write_tls(&mut flight).unwrap();
        }
        let mut rd = &flight[..];
        while !rd.is_empty() {
            c.read_tls(&mut rd).unwrap();
            c.process_new_packets()?;
        }
        if !c.is_handshaking() && !s.is_handshaking() {
            return Ok(());
        }
    }
    panic!("handshake did not finish in 10 round trips");
}

#[test]
fn issued_certificate_verifies_under_the_ca() {
    let ca = LabCa::generate("sfbkit lab root").unwrap();
    let cert = ca.issue_server_cert(&names(&[POOL, "127.0.0.1"]), Validity::default()).unwrap();
    assert_eq!(cert.cert_chain_der.len(), 2);
    assert_eq!(&cert.cert_chain_der[1], ca.ca_der());
    assert_eq!(cert.cert_pem.matches("BEGIN CERTIFICATE").count(), 2);
    assert!(cert.key_pem.contains("BEGIN PRIVATE KEY"));

    let server = server_config(&cert).unwrap();
    handshake(client_trusting(ca.ca_pem()), server.clone(), POOL).unwrap();
    handshake(client_trusting(ca.ca_pem()), server, "127.0.0.1").unwrap();
}

#[test]
fn clients_refuse_what_they_should() {
    let ca = LabCa::generate("root").unwrap();
    let client = client_trusting(ca.ca_pem());
    let cert_err = |names: &[&str], validity: Validity, dial: &str| {
        let cert = ca.issue_server_cert(&self::names(names), validity).unwrap();
        match handshake(client.clone(), server_config(&cert).unwrap(), dial) {
            Err(rustls::Error::InvalidCertificate(e)) => e,
            other => panic!("expected a certificate error, got {other:?}"),
        }
    };
    assert!(matches!(cert_err(&[POOL], Validity::expired(), POOL), rustls::CertificateError::ExpiredContext { .. }));
    assert!(matches!(
        cert_err(&[POOL], Validity::not_yet_valid(), POOL),
        rustls::CertificateError::NotValidYetContext { .. }
    ));
    assert!(matches!(
        cert_err(&["other.contoso.lab"], Validity::default(), POOL),
        rustls::CertificateError::NotValidForNameContext { .. }
    ));

    let stranger = LabCa::generate("someone else").unwrap();
    let cert = stranger.issue_server_cert(&names(&[POOL]), Validity::default()).unwrap();
    let verdict = handshake(client, server_config(&cert).unwrap(), POOL);
    assert_eq!(verdict, Err(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)));
}

#[test]
fn tls12_only_clients_are_served() {
    let ca = LabCa::generate("root").unwrap();
    let cert = ca.issue_server_cert(&names(&[POOL]), Validity::default()).unwrap();
    let client = client_with_versions(ca.ca_pem(), &[&rustls::version::TLS12]);
    handshake(client, server_config(&cert).unwrap(), POOL).unwrap();
}

#[test]
fn wildcard_names_match_one_label() {
    let ca = LabCa::generate("root").unwrap();
    let cert = ca.issue_server_cert(&names(&["*.contoso.lab"]), Validity::default()).unwrap();
    handshake(client_trusting(ca.ca_pem()), server_config(&cert).unwrap(), POOL).unwrap();
}

#[test]
fn bad_names_are_refused_at_issue_time() {
    let ca = LabCa::generate("root").unwrap();
    assert!(matches!(ca.issue_server_cert(&[], Validity::default()), Err(CaError::NoNames)));
    for bad in ["not a name", "", "sip..contoso.lab", "sïp.contoso.lab"] {
        let err = ca.issue_server_cert(&names(&[bad]), Validity::default()).unwrap_err();
        assert!(matches!(&err, CaError::InvalidName { name } if name == bad), "{bad:?}: {err:?}");
    }
}

#[test]
fn ca_round_trips_through_pem() {
    let ca = LabCa::generate("persisted root").unwrap();
    let (cert_pem, key_pem) = ca.to_pem_pair();
    assert!(key_pem.contains("PRIVATE KEY"));
    let restored = LabCa::from_pem_pair(&cert_pem, &key_pem).unwrap();
    assert_eq!(restored.ca_der(), ca.ca_der());
    assert_eq!(restored.ca_pem(), ca.ca_pem());

    // What the restored CA issues verifies under the CA as clients stored it before the restart.
    let cert = restored.issue_server_cert(&names(&[POOL]), Validity::default()).unwrap();
    handshake(client_trusting(&cert_pem), server_config(&cert).unwrap(), POOL).unwrap();
}

#[test]
fn mixed_up_or_damaged_pem_pairs_are_refused() {
    let (cert_a, key_a) = LabCa::generate("a").unwrap().to_pem_pair();
    let (_, key_b) = LabCa::generate("b").unwrap().to_pem_pair();
    assert!(matches!(LabCa::from_pem_pair(&cert_a, &key_b), Err(CaError::CaUnusable(_))));
    assert!(matches!(LabCa::from_pem_pair("garbage", &key_a), Err(CaError::CaCertPem(_))));
    assert!(matches!(LabCa::from_pem_pair(&cert_a, "garbage"), Err(CaError::CaKeyPem(_))));

    // A leaf certificate is not a CA, even with its own key.
    let ca = LabCa::generate("root").unwrap();
    let leaf = ca.issue_server_cert(&names(&[POOL]), Validity::default()).unwrap();
    let leaf_only = leaf.cert_pem.split_inclusive("-----END CERTIFICATE-----\n").next().unwrap();
    assert!(matches!(LabCa::from_pem_pair(leaf_only, &leaf.key_pem), Err(CaError::NotACa)));
}

#[test]
fn debug_output_keeps_keys_out() {
    let ca = LabCa::generate("root").unwrap();
    let cert = ca.issue_server_cert(&names(&[POOL]), Validity::default()).unwrap();
    let (_, key_pem) = ca.to_pem_pair();
    let key_body = key_pem.lines().nth(1).unwrap();
    assert!(!format!("{ca:?}").contains(key_body));
    assert!(!format!("{cert:?}").contains(cert.key_pem.lines().nth(1).unwrap()));
}

/// The lab's certificates work with the client's own connector over real sockets.
#[tokio::test]
async fn sfbkit_transport_connects_to_a_lab_listener() {
    let ca = LabCa::generate("lab root").unwrap();
    let cert = ca.issue_server_cert(&names(&[POOL]), Validity::default()).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(server_config(&cert).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = acceptor.accept(tcp).await.unwrap();
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await.unwrap();
        tls.write_all(&buf).await.unwrap();
        tls.shutdown().await.unwrap();
    });

    let trust = TrustConfig::empty().with_extra_ca_pem(ca.ca_pem());
    let mut conn = connect_tls_addr(addr, POOL, &trust, StdDuration::from_secs(5)).await.unwrap();
    conn.send(b"ping").await.unwrap();
    let mut buf = [0u8; 8];
    let n = conn.recv(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"ping");
    assert_eq!(conn.recv(&mut buf).await.unwrap(), 0);
    conn.close().await.unwrap();
    server.await.unwrap();

    // And an expired lab certificate is reported as such by the client.
    let expired = ca.issue_server_cert(&names(&[POOL]), Validity::expired()).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(server_config(&expired).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let _ = acceptor.accept(tcp).await;
    });
    let err = connect_tls_addr(addr, POOL, &trust, StdDuration::from_secs(5)).await.unwrap_err();
    assert!(matches!(err, TransportError::Expired { .. }), "{err:?}");
}
