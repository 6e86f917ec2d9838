//! A state directory keeps the lab CA across pools: a user certificate issued by one pool verifies against the
//! CA of the next pool started with the same directory.

use rustls_pki_types::pem::PemObject as _;
use x509_parser::prelude::{FromDer, X509Certificate};

use sfbkit_lab::{LabConfig, LabPool};

#[tokio::test]
async fn a_second_pool_with_the_same_state_dir_has_the_same_ca() {
    let dir = std::env::temp_dir().join(format!("sfbkit-lab-pool-state-{:016x}", rand::random::<u64>()));
    let first = LabPool::start_with_state(LabConfig::default(), Some(&dir)).await.expect("first pool starts");
    let ca_pem = first.ca_pem().to_owned();
    let stored = first.issue_user_certificate("sip:alice@contoso.lab").expect("a user certificate");
    drop(first);

    let second = LabPool::start_with_state(LabConfig::default(), Some(&dir)).await.expect("second pool starts");
    assert_eq!(second.ca_pem(), ca_pem);
    let ca_der = rustls_pki_types::CertificateDer::from_pem_slice(second.ca_pem().as_bytes()).expect("CA PEM");
    let (_, ca) = X509Certificate::from_der(&ca_der).expect("CA parses");
    let (_, leaf) = X509Certificate::from_der(&stored.cert_chain_der[0]).expect("leaf parses");
    leaf.verify_signature(Some(ca.public_key()))
        .expect("the first pool's certificate verifies against the second's CA");
    drop(second);

    let fresh = LabPool::start(LabConfig::default()).await.expect("a pool without state starts");
    assert_ne!(fresh.ca_pem(), ca_pem, "no state directory: a fresh CA");
    std::fs::remove_dir_all(&dir).expect("temp dir removed");
}
