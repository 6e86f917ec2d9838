//! End-to-end tests of the connector against real tokio-rustls servers on 127.0.0.1.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::test_pki::{TestCa, listener};
use super::*;

const POOL: &str = "sip.contoso.lab";
const BUDGET: Duration = Duration::from_secs(5);

type ServerStream = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;

/// Accepts one connection and completes the server side of the handshake.
fn serve_one(listener: TcpListener, config: Arc<rustls::ServerConfig>) -> JoinHandle<io::Result<ServerStream>> {
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        tokio_rustls::TlsAcceptor::from(config).accept(tcp).await
    })
}

async fn server(
    ca: &TestCa,
    config: Arc<rustls::ServerConfig>,
) -> (SocketAddr, JoinHandle<io::Result<ServerStream>>, TrustConfig) {
    let (listener, addr) = listener().await;
    (addr, serve_one(listener, config), TrustConfig::empty().with_extra_ca_pem(ca.pem()))
}

#[tokio::test]
async fn trusted_server_exchanges_bytes_both_ways_and_closes_orderly() {
    let ca = TestCa::new("lab root");
    let (addr, srv, trust) = server(&ca, ca.valid_config(&[POOL])).await;

    let mut conn = connect_tls_addr(addr, POOL, &trust, BUDGET).await.unwrap();
    let mut srv = srv.await.unwrap().unwrap();

    assert_eq!(conn.peer_addr(), addr);
    assert_eq!(conn.local_addr().ip(), addr.ip());
    assert_eq!(conn.info().server_name, POOL);
    assert_eq!(conn.info().protocol_version, "TLSv1_3");
    assert!(conn.info().cipher_suite.starts_with("TLS13_"), "{}", conn.info().cipher_suite);

    conn.send(b"OPTIONS sip:x SIP/2.0\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 64];
    let n = srv.read(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"OPTIONS sip:x SIP/2.0\r\n\r\n");

    srv.write_all(b"SIP/2.0 200 OK\r\n\r\n").await.unwrap();
    srv.flush().await.unwrap();
    let n = conn.recv(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"SIP/2.0 200 OK\r\n\r\n");

    conn.close().await.unwrap();
    // Ok(0), not UnexpectedEof: the server saw close_notify before the TCP FIN.
    assert_eq!(srv.read(&mut buf).await.unwrap(), 0);
}

#[tokio::test]
async fn split_halves_carry_server_initiated_bytes_and_see_clean_close() {
    let ca = TestCa::new("lab root");
    let (addr, srv, trust) = server(&ca, ca.valid_config(&[POOL])).await;
    let conn = TlsConnector::new(&trust).unwrap().connect_addr(addr, POOL, BUDGET).await.unwrap();
    let mut srv = srv.await.unwrap().unwrap();
    let (mut reader, mut writer) = conn.into_split();

    srv.write_all(b"NOTIFY").await.unwrap();
    srv.flush().await.unwrap();
    let mut buf = [0u8; 16];
    let n = reader.recv(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"NOTIFY");

    writer.send(b"200").await.unwrap();
    let n = srv.read(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"200");

    srv.shutdown().await.unwrap();
    assert_eq!(reader.recv(&mut buf).await.unwrap(), 0);
    writer.close().await.unwrap();
}

#[tokio::test]
async fn connect_by_name_resolves_and_verifies_that_name() {
    let ca = TestCa::new("lab root");
    let (listener, addr) = listener().await;
    let _srv = serve_one(listener, ca.valid_config(&["localhost"]));
    let trust = TrustConfig::empty().with_extra_ca_pem(ca.pem());
    // "localhost" may resolve to ::1 first, where nothing listens: the connector must move on to 127.0.0.1.
    let conn = connect_tls("localhost", addr.port(), &trust, BUDGET).await.unwrap();
    assert_eq!(conn.peer_addr(), addr);
    assert_eq!(conn.info().server_name, "localhost");
}

#[tokio::test]
async fn unknown_ca_with_system_roots_is_untrusted_root() {
    let ca = TestCa::new("lab root");
    let (addr, _srv, _) = server(&ca, ca.valid_config(&[POOL])).await;
    let err = match connect_tls_addr(addr, POOL, &TrustConfig::system(), BUDGET).await {
        Err(TransportError::Trust(TrustError::NoTrustAnchors { .. })) => return, // machine without a CA bundle
        other => other.unwrap_err(),
    };
    let TransportError::UntrustedRoot { host, addr: at } = &err else { panic!("{err:?}") };
    assert_eq!((host.as_str(), *at), (POOL, addr));
    assert!(err.hint().contains("CA"));
}

#[tokio::test]
async fn another_ca_is_untrusted_root() {
    let ca = TestCa::new("lab root");
    let (addr, _srv, _) = server(&ca, ca.valid_config(&[POOL])).await;
    let other = TrustConfig::empty().with_extra_ca_pem(TestCa::new("someone else").pem());
    let err = connect_tls_addr(addr, POOL, &other, BUDGET).await.unwrap_err();
    assert!(matches!(err, TransportError::UntrustedRoot { .. }), "{err:?}");
    assert_eq!(err.phase(), Phase::Handshake);
}

#[tokio::test]
async fn certificate_for_another_host_is_name_mismatch_with_presented_names() {
    let ca = TestCa::new("lab root");
    let (addr, _srv, trust) = server(&ca, ca.valid_config(&["other.contoso.lab", "127.0.0.2"])).await;
    let err = connect_tls_addr(addr, POOL, &trust, BUDGET).await.unwrap_err();
    let TransportError::NameMismatch { host, presented, .. } = &err else { panic!("{err:?}") };
    assert_eq!(host, POOL);
    assert_eq!(presented, &["other.contoso.lab", "127.0.0.2"]);
    assert!(err.to_string().contains("other.contoso.lab"), "{err}");
}

#[tokio::test]
async fn expired_certificate_is_expired_with_its_date() {
    let ca = TestCa::new("lab root");
    let config = ca.server_config(&[POOL], time::Duration::days(-30), time::Duration::days(-1));
    let (addr, _srv, trust) = server(&ca, config).await;
    let err = connect_tls_addr(addr, POOL, &trust, BUDGET).await.unwrap_err();
    let TransportError::Expired { not_after: Some(not_after), .. } = &err else { panic!("{err:?}") };
    assert!(*not_after < std::time::SystemTime::now());
    assert!(err.hint().contains("renew"));
}

#[tokio::test]
async fn future_certificate_is_not_yet_valid() {
    let ca = TestCa::new("lab root");
    let config = ca.server_config(&[POOL], time::Duration::days(1), time::Duration::days(30));
    let (addr, _srv, trust) = server(&ca, config).await;
    let err = connect_tls_addr(addr, POOL, &trust, BUDGET).await.unwrap_err();
    assert!(matches!(err, TransportError::NotYetValid { not_before: Some(_), .. }), "{err:?}");
}

#[tokio::test]
async fn closed_port_is_refused() {
    let (listener, addr) = listener().await;
    drop(listener);
    let trust = TrustConfig::empty().with_extra_ca_pem(TestCa::new("x").pem());
    let err = connect_tls_addr(addr, POOL, &trust, BUDGET).await.unwrap_err();
    let TransportError::Refused { addrs, .. } = &err else { panic!("{err:?}") };
    assert_eq!(addrs, &[addr]);
    assert!(err.hint().contains("5061"));
}

#[tokio::test]
async fn silent_server_times_out_in_the_handshake() {
    let (listener, addr) = listener().await;
    // Accepts TCP, then says nothing and keeps the socket open.
    let holder = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        tokio::time::sleep(Duration::from_secs(10)).await;
        drop(tcp);
        io::Result::Ok(())
    });
    let trust = TrustConfig::empty().with_extra_ca_pem(TestCa::new("x").pem());
    let started = Instant::now();
    let err = connect_tls_addr(addr, POOL, &trust, Duration::from_millis(300)).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    let TransportError::Timeout { phase, addr: at, after, .. } = &err else { panic!("{err:?}") };
    assert_eq!((*phase, *at, *after), (Phase::Handshake, Some(addr), Duration::from_millis(300)));
    holder.abort();
}

#[tokio::test]
async fn plain_tcp_sip_port_is_a_protocol_error_pointing_at_the_port() {
    let (listener, addr) = listener().await;
    let _srv = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await?;
        tcp.write_all(b"SIP/2.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n").await?;
        tokio::time::sleep(Duration::from_secs(5)).await;
        io::Result::Ok(())
    });
    let trust = TrustConfig::empty().with_extra_ca_pem(TestCa::new("x").pem());
    let err = connect_tls_addr(addr, POOL, &trust, BUDGET).await.unwrap_err();
    assert!(matches!(err, TransportError::Protocol { .. }), "{err:?}");
    assert!(err.hint().contains("5060"), "{}", err.hint());
}

#[tokio::test]
async fn bad_server_name_is_refused_before_any_io() {
    let trust = TrustConfig::empty().with_extra_ca_pem(TestCa::new("x").pem());
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let err = connect_tls_addr(addr, "not a name", &trust, BUDGET).await.unwrap_err();
    assert!(matches!(err, TransportError::InvalidServerName { .. }), "{err:?}");
}

#[tokio::test]
async fn unresolvable_name_is_name_not_resolved() {
    let trust = TrustConfig::empty().with_extra_ca_pem(TestCa::new("x").pem());
    let err = connect_tls("no-such-host.invalid", 5061, &trust, BUDGET).await.unwrap_err();
    // A sandbox without DNS may make the resolver hang rather than fail; both are fair answers.
    assert!(
        matches!(err, TransportError::NameNotResolved { .. } | TransportError::Timeout { phase: Phase::Resolve, .. }),
        "{err:?}"
    );
}
