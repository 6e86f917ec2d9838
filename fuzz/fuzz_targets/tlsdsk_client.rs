//! The TLS-DSK handshake reader as sign-in drives it (`auth::tlsdsk::TlsDskClient`): the server's first flight
//! (records, handshake order, ServerHello, Certificate checked against a fixed anchor, CertificateRequest),
//! then a second flight (ChangeCipherSpec + Finished). The seed flight carries a certificate that verifies
//! (`fuzz/data/tlsdsk`), so mutations reach the client's second flight too.
//!
//! Input: one control byte (the highest version offered), the first flight, then optionally `\xff\xff\xff` and
//! a second flight.
//!
//! Invariants: no flight ever releases keys (no input can forge the server's Finished); the negotiated version
//! and suite, when the first flight is accepted, are ones the configuration offered; after any error the
//! client refuses further flights.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rustls::RootCertStore;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer, UnixTime};
use sfbkit::auth::tlsdsk::{CipherSuite, TlsDskClient, TlsDskConfig, TlsVersion};

const CA: &[u8] = include_bytes!("../data/tlsdsk/ca.der");
const CLIENT_CERT: &[u8] = include_bytes!("../data/tlsdsk/client.der");
const CLIENT_KEY: &[u8] = include_bytes!("../data/tlsdsk/client.pk8.der");

fn config(max: TlsVersion) -> TlsDskConfig {
    static ANCHORS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    let anchors = ANCHORS.get_or_init(|| {
        let mut store = RootCertStore::empty();
        store.add(CertificateDer::from(CA)).expect("fixed CA certificate");
        Arc::new(store)
    });
    let mut config = TlsDskConfig::new(
        vec![CertificateDer::from(CLIENT_CERT)],
        PrivatePkcs8KeyDer::from(CLIENT_KEY.to_vec()),
        anchors.clone(),
        "fe01.contoso.com",
        UnixTime::since_unix_epoch(Duration::from_secs(1_893_456_000)), // 2030-01-01
    );
    config.max_version = max;
    config.cipher_suites = vec![
        CipherSuite::RsaAes128CbcSha,
        CipherSuite::RsaAes256CbcSha,
        CipherSuite::RsaAes128CbcSha256,
        CipherSuite::RsaAes256CbcSha256,
    ];
    config
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, data)) = data.split_first() else { return };
    let (first, second) = match data.windows(3).position(|w| w == [0xff; 3]) {
        Some(i) => (&data[..i], Some(&data[i + 3..])),
        None => (data, None),
    };
    let max = [TlsVersion::Tls10, TlsVersion::Tls11, TlsVersion::Tls12][usize::from(control) % 3];
    let mut client =
        TlsDskClient::new(config(max), &mut StdRng::seed_from_u64(u64::from(control))).expect("valid configuration");
    let hello = client.start();
    assert!(!hello.is_empty());
    match client.handle_server_flight(first) {
        Ok(reply) => {
            assert!(reply.is_some_and(|r| !r.is_empty()), "the first flight must be answered");
            let (version, suite) = client.negotiated().expect("an accepted ServerHello is recorded");
            assert!(version <= max, "negotiated {version:?} above the offered {max:?}");
            let _ = suite;
        }
        Err(_) => {
            assert!(client.handle_server_flight(first).is_err(), "a failed client must refuse further flights");
            return;
        }
    }
    if let Some(second) = second {
        let result = client.handle_server_flight(second);
        assert!(result.is_err(), "a fuzzed Finished was accepted");
    }
    assert!(client.keys().is_none() && !client.is_established());
});
