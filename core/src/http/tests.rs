//! The client against scripted plain-TCP servers on 127.0.0.1 (the lab's web service covers https).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::*;
use crate::discovery::{BoxFuture, DnsError, DnsResolver, SrvTarget};
use crate::transport::{TlsConnector, TransportError, TrustConfig};

/// Every name is 127.0.0.1, except under `.invalid` (RFC 6761), which does not exist.
struct Loopback;

impl DnsResolver for Loopback {
    fn srv<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<SrvTarget>, DnsError>> {
        Box::pin(async move { Err(DnsError::NoRecords { name: name.to_owned(), rtype: "SRV" }) })
    }
    fn ips<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<IpAddr>, DnsError>> {
        Box::pin(async move {
            if name.ends_with(".invalid") {
                return Err(DnsError::NoSuchName { name: name.to_owned() });
            }
            Ok(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)])
        })
    }
}

fn client(timeout: Duration, max_body: usize) -> HttpClient {
    let pem = rcgen::generate_simple_self_signed(vec!["unused.test".to_owned()]).unwrap().cert.pem();
    let connector = TlsConnector::new(&TrustConfig::empty().with_extra_ca_pem(pem)).unwrap();
    HttpClient::new(connector, Arc::new(Loopback), timeout, max_body)
}

/// A server that answers every request on every connection with the next of `responses` (the last repeats),
/// reporting each request head on the channel and counting connections.
async fn scripted(responses: Vec<&'static str>) -> (SocketAddr, mpsc::UnboundedReceiver<String>, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut next = 0;
        while let Ok((mut tcp, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            while let Some(head) = read_head(&mut tcp).await {
                let _ = tx.send(head);
                let response = responses[next.min(responses.len() - 1)];
                next += 1;
                if tcp.write_all(response.as_bytes()).await.is_err() {
                    break;
                }
            }
        }
    });
    (addr, rx, accepted)
}

/// Reads one request: the head, then as many body bytes as its Content-Length says (returned after the head).
async fn read_head(tcp: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if tcp.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let mut text = String::from_utf8_lossy(&head).into_owned();
    let length = text
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    tcp.read_exact(&mut body).await.ok()?;
    text.push_str(&String::from_utf8_lossy(&body));
    Some(text)
}

const OK_JSON: &str = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                       X-MS-Server-Fqdn: W15-LYNC-SE1.contoso.com\r\nContent-Length: 2\r\n\r\n{}";

#[tokio::test]
async fn get_sends_host_and_headers_and_reads_the_whole_response() {
    let (addr, mut heads, _) = scripted(vec![OK_JSON]).await;
    let url = format!("http://lyncdiscover.contoso.lab:{}/?sipuri=alice@contoso.lab", addr.port());
    let response = client(Duration::from_secs(5), 1024).get(&url, &[("Accept", "application/json")]).await.unwrap();

    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"{}");
    assert_eq!(response.header("X-MS-Server-Fqdn"), Some("W15-LYNC-SE1.contoso.com"));
    assert_eq!(response.media_type().as_deref(), Some("application/json"));
    let head = heads.recv().await.unwrap();
    assert!(head.starts_with("GET /?sipuri=alice@contoso.lab HTTP/1.1\r\n"), "{head}");
    assert!(head.to_ascii_lowercase().contains(&format!("host: lyncdiscover.contoso.lab:{}\r\n", addr.port())));
    assert!(head.to_ascii_lowercase().contains("accept: application/json\r\n"), "{head}");
}

#[tokio::test]
async fn one_connection_carries_several_requests() {
    let (addr, mut heads, accepted) = scripted(vec![OK_JSON]).await;
    let base = format!("http://pool01.contoso.lab:{}", addr.port());
    let mut conn = client(Duration::from_secs(5), 1024).connect(&base).await.unwrap();
    assert!(conn.tls_info().is_none());
    assert_eq!(conn.peer_addr(), addr);

    for path in ["/first", "/second"] {
        let response = conn.send(Method::POST, &format!("{base}{path}"), &[], b"x=1".to_vec()).await.unwrap();
        assert_eq!(response.status, 200);
        let head = heads.recv().await.unwrap();
        assert!(head.starts_with(&format!("POST {path} HTTP/1.1")), "{head}");
        assert!(head.ends_with("\r\n\r\nx=1"), "{head}");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);

    let err = conn.get("http://elsewhere.contoso.lab/", &[]).await.unwrap_err();
    assert!(matches!(err, HttpError::BadUrl { .. }), "{err:?}");
}

#[tokio::test]
async fn redirects_come_back_as_they_are() {
    let moved =
        "HTTP/1.1 301 Moved Permanently\r\nLocation: https://lyncdiscover.contoso.lab/\r\nContent-Length: 0\r\n\r\n";
    let (addr, _, _) = scripted(vec![moved]).await;
    let url = format!("http://lyncdiscover.contoso.lab:{}/", addr.port());
    let response = client(Duration::from_secs(5), 1024).get(&url, &[]).await.unwrap();
    assert_eq!(response.status, 301);
    assert_eq!(response.header("location"), Some("https://lyncdiscover.contoso.lab/"));
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_announced_or_not() {
    let announced = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
    let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n\
                   0123456789012345678901234567890123456789012345678901234567890123\r\n0\r\n\r\n";
    for response in [announced, chunked] {
        let (addr, _, _) = scripted(vec![response]).await;
        let url = format!("http://a.contoso.lab:{}/", addr.port());
        let err = client(Duration::from_secs(5), 16).get(&url, &[]).await.unwrap_err();
        assert!(matches!(err, HttpError::BodyTooLarge { limit: 16, .. }), "{err:?}");
        assert_eq!(err.class(), "body-too-large");
    }
}

#[tokio::test]
async fn a_silent_server_times_out_within_the_budget() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(10)).await;
        drop(tcp);
    });
    let started = std::time::Instant::now();
    let url = format!("http://slow.contoso.lab:{}/", addr.port());
    let err = client(Duration::from_millis(300), 1024).get(&url, &[]).await.unwrap_err();
    assert!(matches!(err, HttpError::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    hold.abort();
}

#[tokio::test]
async fn garbage_is_a_protocol_error() {
    let (addr, _, _) = scripted(vec!["SIP/2.0 200 OK\r\n\r\n"]).await;
    let url = format!("http://a.contoso.lab:{}/", addr.port());
    let err = client(Duration::from_secs(5), 1024).get(&url, &[]).await.unwrap_err();
    assert!(matches!(err, HttpError::Protocol { .. }), "{err:?}");
    assert!(err.hint().ends_with('.'));
}

#[tokio::test]
async fn dns_and_tcp_failures_keep_their_classes() {
    let http = client(Duration::from_secs(5), 1024);
    let err = http.get("https://lyncdiscoverinternal.contoso.invalid/?sipuri=a@contoso.invalid", &[]).await;
    let err = err.unwrap_err();
    assert!(matches!(err, HttpError::Resolve(DnsError::NoSuchName { .. })), "{err:?}");
    assert!(err.is_absent());

    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let err = http.get(&format!("http://a.contoso.lab:{}/", closed.port()), &[]).await.unwrap_err();
    assert!(matches!(&err, HttpError::Transport(e) if matches!(**e, TransportError::Refused { .. })), "{err:?}");
    assert_eq!(err.class(), "refused");
    assert!(err.hint().contains("443"), "{}", err.hint());

    // Refused before connecting: nothing listens on that port, yet the error is about the header.
    let err = http.get(&format!("http://a.contoso.lab:{}/", closed.port()), &[("Bad Header", "x")]).await;
    assert!(matches!(err, Err(HttpError::InvalidHeader { .. })), "{err:?}");
}

#[tokio::test]
async fn requests_to_one_origin_reuse_an_idle_connection_and_documents_are_fetched_once() {
    let (addr, mut heads, accepted) = scripted(vec![OK_JSON]).await;
    let http = client(Duration::from_secs(5), 1024);
    let base = format!("http://lyncdiscover.contoso.lab:{}", addr.port());
    for path in ["/root", "/user", "/domain"] {
        assert_eq!(http.get(&format!("{base}{path}"), &[]).await.unwrap().status, 200);
        assert!(heads.recv().await.unwrap().starts_with(&format!("GET {path} ")));
    }
    // A clone shares the idle connection (discovery and certificate provisioning hold clones of one client).
    assert_eq!(http.clone().get(&format!("{base}/again"), &[]).await.unwrap().status, 200);
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "four requests, one connection");
    // connect() takes the idle connection too (for NTLM's legs); it is the caller's from then on.
    let legs = http.connect(&base).await.unwrap();
    drop(legs); // (the scripted server serves one connection at a time)
    assert_eq!(http.get(&format!("{base}/meanwhile"), &[]).await.unwrap().status, 200);
    assert_eq!(accepted.load(Ordering::SeqCst), 2, "the connection given away is not shared");
    for path in ["/again", "/meanwhile"] {
        assert!(heads.recv().await.unwrap().starts_with(&format!("GET {path} ")));
    }

    let mex = format!("{base}/WebTicket/WebTicketService.svc/mex");
    for _ in 0..3 {
        assert_eq!(http.get_document(&mex).await.unwrap().body, b"{}");
    }
    assert!(heads.recv().await.unwrap().starts_with("GET /WebTicket/WebTicketService.svc/mex "));
    assert!(heads.try_recv().is_err(), "the document was fetched once");
}

#[tokio::test]
async fn an_idle_connection_the_server_closed_is_replaced_without_an_error() {
    // Every response ends its connection: the client notices (hyper reads the close) and opens a new one.
    let closing = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}";
    let (addr, _, accepted) = scripted(vec![closing]).await;
    let http = client(Duration::from_secs(5), 1024);
    let base = format!("http://pool01.contoso.lab:{}", addr.port());
    for path in ["/a", "/b", "/c"] {
        assert_eq!(http.get(&format!("{base}{path}"), &[]).await.unwrap().status, 200);
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
}
