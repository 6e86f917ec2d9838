//! SIP parse throughput on a Skype for Business message mix, sfbkit against rsip 0.4.
//!
//! Run with `sfbkit-bench parse` (or `cargo bench -p sfbkit --bench parse`, which runs this same code). Not a
//! test: it prints a table and asserts only that sfbkit parses its own inputs. Its last line is the ratio
//! `ratio sfbkit / rsip try_from + typed(): Nx`.
//!
//! The mix is what a signed-in endpoint mostly receives or sends: (a) a Lync REGISTER, (b) the 401 with
//! three WWW-Authenticate challenges, (c) the registrar's 200 OK, (d) a presence NOTIFY with a ~10 KB
//! `application/msrtc-event-categories+xml` body. Each is built here with CRLF line ends and a correct
//! Content-Length.
//!
//! Each measurement runs the parser over the set again and again for a fixed wall-clock budget (after a
//! warm-up), five times; the median is reported. rsip is compared only on the messages it accepts. What
//! each row does:
//!
//! - `sfbkit parse_message`: framing, header split, then `validate` (Via, From, To, CSeq, Call-ID,
//!   Max-Forwards, Expires, Contact, Route/Record-Route parsed into typed values; all raw values kept).
//! - `sfbkit StreamParser`: the same per message, fed the concatenated mix in 4 KiB reads as from TLS
//!   (one read if 4 KiB reads lose a message, which the output then says).
//! - `rsip try_from`: rsip's tokenizer and header split; header values stay untyped strings.
//! - `rsip try_from + typed`: the above, then `typed()` on every header rsip offers a typed form for
//!   (Via, From, To, CSeq, Contact, auth headers, Content-Type, Allow, ...) plus `seconds()`/`num()` for
//!   Expires/Max-Forwards: the closest rsip gets to sfbkit's validation (it does more on auth headers, which
//!   sfbkit only parses on demand; failures are counted, not fatal).

use std::hint::black_box;
use std::time::{Duration, Instant};

use rsip::headers::ToTypedHeader;
use rsip::message::HasHeaders;
use sfbkit::sip::{Limits, StreamItem, StreamParser, parse_message};

const WARM_UP: Duration = Duration::from_millis(500);
const BUDGET: Duration = Duration::from_millis(1500);
const REPEATS: usize = 5;
const STREAM_READ: usize = 4096;

/// Runs the benchmark and prints it; the last line is the ratio with rsip's typed parsing.
pub fn run() {
    let mix = messages();
    let limits = Limits::default();
    println!(
        "SIP parse throughput: sfbkit vs rsip 0.4 (median of {REPEATS} runs of >= {BUDGET:?} each, after {WARM_UP:?} warm-up)"
    );
    println!("machine: {} logical CPUs; load average {}", cores(), load_average());
    println!();
    println!("{:<4} {:<34} {:>7}  {:<6} {:<28}", "id", "message", "bytes", "sfbkit", "rsip");
    let mut common = Vec::new();
    for (id, name, bytes) in &mix {
        let ours = parse_message(bytes, &limits).map(|p| p.message);
        assert!(ours.is_ok(), "sfbkit rejected its own benchmark input {id}: {:?}", ours.err());
        let theirs = match rsip::SipMessage::try_from(&bytes[..]) {
            Ok(msg) => {
                let failed = rsip_typed_failures(&msg);
                common.push(bytes.clone());
                if failed.is_empty() { "ok".to_string() } else { format!("ok; typed() failed: {}", failed.join(", ")) }
            }
            Err(e) => format!("REJECTED: {e}"),
        };
        println!("{id:<4} {name:<34} {:>7}  {:<6} {theirs}", bytes.len(), "ok");
    }
    let all: Vec<Vec<u8>> = mix.iter().map(|(_, _, b)| b.clone()).collect();
    println!();

    let full = measure(&all, |m| sfbkit_parse(m, &limits));
    let stream_input: Vec<u8> = all.concat();
    // A message whose head and body arrive in different reads must still come out; if it does not, say so
    // and measure with the whole mix in one read rather than report a rate for a parser that lost messages.
    let framed = stream_frames(&stream_input, STREAM_READ, &limits);
    let (read, stream_label) = if framed == all.len() {
        (STREAM_READ, format!("sfbkit StreamParser ({} KiB reads)", STREAM_READ / 1024))
    } else {
        println!(
            "NOTE: StreamParser fed {} KiB reads framed {framed} of {} messages; measuring it with one read instead",
            STREAM_READ / 1024,
            all.len()
        );
        (stream_input.len(), "sfbkit StreamParser (one read)".to_string())
    };
    let stream = measure_stream(&stream_input, all.len(), read, &limits);
    println!("{:<44} {:>12} {:>9}", "full mix (all 4 messages)", "messages/s", "MB/s");
    print_row("sfbkit parse_message", full);
    print_row(&stream_label, stream);
    println!();

    if common.is_empty() {
        println!("rsip accepted none of the messages: no comparison possible.");
        return;
    }
    let common_bytes: usize = common.iter().map(Vec::len).sum();
    println!(
        "{:<44} {:>12} {:>9}   ({} messages, {} bytes per pass)",
        "common set (both accept)",
        "messages/s",
        "MB/s",
        common.len(),
        common_bytes
    );
    let ours = if common.len() == all.len() { full } else { measure(&common, |m| sfbkit_parse(m, &limits)) };
    let raw = measure(&common, rsip_parse);
    let typed = measure(&common, rsip_parse_typed);
    print_row("sfbkit parse_message", ours);
    print_row("rsip try_from", raw);
    print_row("rsip try_from + typed()", typed);
    // The NOTIFY body is most of the bytes, so per-message rates show where header parsing costs.
    println!();
    println!("{:<44} {:>12} {:>12} {:>7}", "per message (common set)", "sfbkit msg/s", "rsip+typed", "ratio");
    for (id, name, bytes) in mix.iter().filter(|(_, _, b)| common.contains(b)) {
        let one = std::slice::from_ref(bytes);
        let ours = measure(one, |m| sfbkit_parse(m, &limits));
        let theirs = measure(one, rsip_parse_typed);
        let label = format!("{id} {name}");
        println!(
            "{label:<44} {:>12.0} {:>12.0} {:>6.2}x",
            ours.messages_per_s,
            theirs.messages_per_s,
            ours.messages_per_s / theirs.messages_per_s
        );
    }
    println!();
    println!("ratio sfbkit / rsip try_from:           {:.2}x", ours.messages_per_s / raw.messages_per_s);
    println!("ratio sfbkit / rsip try_from + typed(): {:.2}x", ours.messages_per_s / typed.messages_per_s);
}

/// One measured rate.
#[derive(Debug, Clone, Copy)]
struct Rate {
    messages_per_s: f64,
    bytes_per_s: f64,
}

fn print_row(name: &str, rate: Rate) {
    println!("{name:<44} {:>12.0} {:>9.1}", rate.messages_per_s, rate.bytes_per_s / 1e6);
}

/// Runs `parse` over every message in `set` until the budget is spent; median of [`REPEATS`] runs.
fn measure(set: &[Vec<u8>], parse: impl Fn(&[u8]) -> usize) -> Rate {
    let pass_bytes: usize = set.iter().map(Vec::len).sum();
    let run = |budget: Duration| {
        let start = Instant::now();
        let mut passes = 0u64;
        let mut sink = 0usize;
        while start.elapsed() < budget {
            for msg in set {
                sink = sink.wrapping_add(parse(black_box(msg)));
            }
            passes += 1;
        }
        black_box(sink);
        (passes, start.elapsed())
    };
    run(WARM_UP);
    median((0..REPEATS).map(|_| run(BUDGET)).map(|(passes, took)| rate(passes, set.len(), pass_bytes, took)).collect())
}

/// How many messages the stream parser frames from `stream` fed in `read`-byte pieces.
fn stream_frames(stream: &[u8], read: usize, limits: &Limits) -> usize {
    let mut parser = StreamParser::new(*limits);
    let mut got = 0;
    for chunk in black_box(stream).chunks(read) {
        parser.push(chunk).expect("stream push");
        while let Some(item) = parser.next_item().expect("stream frames") {
            assert!(matches!(item, StreamItem::Message(_)), "stream item was {item:?}");
            got += 1;
            black_box(item);
        }
    }
    got
}

/// Like [`measure`] for the stream parser: each pass feeds the whole concatenated mix in `read`-byte pieces.
fn measure_stream(stream: &[u8], messages: usize, read: usize, limits: &Limits) -> Rate {
    let run = |budget: Duration| {
        let start = Instant::now();
        let mut passes = 0u64;
        while start.elapsed() < budget {
            assert_eq!(stream_frames(stream, read, limits), messages);
            passes += 1;
        }
        (passes, start.elapsed())
    };
    run(WARM_UP);
    median((0..REPEATS).map(|_| run(BUDGET)).map(|(passes, took)| rate(passes, messages, stream.len(), took)).collect())
}

fn rate(passes: u64, messages: usize, bytes: usize, took: Duration) -> Rate {
    let secs = took.as_secs_f64();
    Rate { messages_per_s: passes as f64 * messages as f64 / secs, bytes_per_s: passes as f64 * bytes as f64 / secs }
}

fn median(mut rates: Vec<Rate>) -> Rate {
    rates.sort_by(|a, b| a.messages_per_s.total_cmp(&b.messages_per_s));
    rates[rates.len() / 2]
}

fn sfbkit_parse(msg: &[u8], limits: &Limits) -> usize {
    match parse_message(msg, limits) {
        Ok(parsed) => black_box(parsed.message).headers.len(),
        Err(_) => 0,
    }
}

fn rsip_parse(msg: &[u8]) -> usize {
    match rsip::SipMessage::try_from(msg) {
        Ok(parsed) => black_box(parsed).headers().iter().count(),
        Err(_) => 0,
    }
}

fn rsip_parse_typed(msg: &[u8]) -> usize {
    match rsip::SipMessage::try_from(msg) {
        Ok(parsed) => rsip_typed_all(black_box(&parsed)).0,
        Err(_) => 0,
    }
}

/// Names of the headers whose `typed()` form rsip failed to produce for this message.
fn rsip_typed_failures(msg: &rsip::SipMessage) -> Vec<String> {
    rsip_typed_all(msg).1
}

/// Runs every typed conversion rsip offers over the message's headers: (successes, failed header names).
fn rsip_typed_all(msg: &rsip::SipMessage) -> (usize, Vec<String>) {
    use rsip::Header as H;
    let mut ok = 0;
    let mut failed = Vec::new();
    let mut note = |name: &str, result: bool| {
        if result {
            ok += 1;
        } else {
            failed.push(name.to_string());
        }
    };
    for header in msg.headers().iter() {
        match header {
            H::Via(h) => note("Via", black_box(h.typed()).is_ok()),
            H::From(h) => note("From", black_box(h.typed()).is_ok()),
            H::To(h) => note("To", black_box(h.typed()).is_ok()),
            H::CSeq(h) => note("CSeq", black_box(h.typed()).is_ok()),
            H::Contact(h) => note("Contact", black_box(h.typed()).is_ok()),
            H::Route(h) => note("Route", black_box(h.typed()).is_ok()),
            H::RecordRoute(h) => note("Record-Route", black_box(h.typed()).is_ok()),
            H::Authorization(h) => note("Authorization", black_box(h.typed()).is_ok()),
            H::ProxyAuthorization(h) => note("Proxy-Authorization", black_box(h.typed()).is_ok()),
            H::WwwAuthenticate(h) => note("WWW-Authenticate", black_box(h.typed()).is_ok()),
            H::ProxyAuthenticate(h) => note("Proxy-Authenticate", black_box(h.typed()).is_ok()),
            H::AuthenticationInfo(h) => note("Authentication-Info", black_box(h.typed()).is_ok()),
            H::ContentType(h) => note("Content-Type", black_box(h.typed()).is_ok()),
            H::Allow(h) => note("Allow", black_box(h.typed()).is_ok()),
            H::Accept(h) => note("Accept", black_box(h.typed()).is_ok()),
            H::Warning(h) => note("Warning", black_box(h.typed()).is_ok()),
            H::Expires(h) => note("Expires", black_box(h.seconds()).is_ok()),
            H::MaxForwards(h) => note("Max-Forwards", black_box(h.num()).is_ok()),
            _ => {}
        }
    }
    (ok, failed)
}

fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The benchmark mix: (id, description, wire bytes).
fn messages() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    vec![
        ("a", "REGISTER (Lync, NTLM-signed)", wire(REGISTER, b"")),
        ("b", "401 with NTLM/Kerberos/TLS-DSK", wire(UNAUTHORIZED, b"")),
        ("c", "200 OK to REGISTER (gruu)", wire(REGISTER_OK, b"")),
        ("d", "NOTIFY, ~10 KB presence categories", wire(NOTIFY, &categories_body(10 * 1024))),
    ]
}

/// Joins `head` lines with CRLF, adds `Content-Length` for `body` and the empty line, then the body.
fn wire(head: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(head.len() + body.len() + 64);
    for line in head.lines() {
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out
}

/// Shaped like REFERENCE.md §3.2 and [MS-SIP] 4.2: a REGISTER already signed in an NTLM SA.
const REGISTER: &str = r#"REGISTER sip:contoso.com SIP/2.0
Via: SIP/2.0/TLS 192.0.2.20:51234;branch=z9hG4bK6a1b2c3d4e5f60718293
Max-Forwards: 70
From: <sip:alice@contoso.com>;tag=8a3c1d2e4f;epid=8248ca9ebb
To: <sip:alice@contoso.com>
Call-ID: 6b2dec5dfd9a4eaf90180bb2f8f699ea
CSeq: 3 REGISTER
Contact: <sip:192.0.2.20:51234;transport=tls;ms-opaque=d3470f2e1d>;methods="INVITE, MESSAGE, INFO, SUBSCRIBE, OPTIONS, BYE, CANCEL, NOTIFY, ACK, REFER, BENOTIFY";proxy=replace;+sip.instance="<urn:uuid:4233FD41-093B-5FD6-B5D2-651ED55969E6>"
User-Agent: UCCAPI/16.0.4849.1000 OC/16.0.4849.1000 (Skype for Business)
Supported: gruu-10, adhoclist, msrtc-event-categories, com.microsoft.msrtc.presence
Supported: ms-userservices-state-notification
Event: registration
ms-keep-alive: UAC;hop-hop=yes
Authorization: NTLM qop="auth", opaque="2BDBAC9D", realm="SIP Communications Service", targetname="fe01.contoso.com", crand="13317733", cnum="1", response="0100000029618e9651b65a7764000000""#;

/// The first challenge of a sign-in: one WWW-Authenticate per scheme the pool offers ([MS-SIPAE] 3.3.5.1).
const UNAUTHORIZED: &str = r#"SIP/2.0 401 Unauthorized
Date: Tue, 14 Jan 2025 10:00:00 GMT
WWW-Authenticate: NTLM realm="SIP Communications Service", targetname="fe01.contoso.com", version=4
WWW-Authenticate: Kerberos realm="SIP Communications Service", targetname="sip/fe01.contoso.com", version=4
WWW-Authenticate: TLS-DSK realm="SIP Communications Service", targetname="fe01.contoso.com", version=4, sts-uri="https://fe01.contoso.com:443/CertProv/CertProvisioningService.svc"
From: <sip:alice@contoso.com>;tag=8a3c1d2e4f;epid=8248ca9ebb
To: <sip:alice@contoso.com>;tag=9B4C1E2D3F6A7B8C9D0E1F2A3B4C5D6E
Call-ID: 6b2dec5dfd9a4eaf90180bb2f8f699ea
CSeq: 1 REGISTER
Via: SIP/2.0/TLS 192.0.2.20:51234;branch=z9hG4bK0f1e2d3c4b5a69788796;ms-received-port=51234;ms-received-cid=1E00
ms-diagnostics: 4000;reason="Credentials expected";source="fe01.contoso.com"
ms-diagnostics-public: 4000;reason="Credentials expected"
Server: RTC/6.0"#;

/// Shaped like tests/vectors/MS-SIPREGE_200ok-register-client-update.txt, signed in a Kerberos SA.
const REGISTER_OK: &str = r#"SIP/2.0 200 OK
ms-keep-alive: UAS; tcp=no; hop-hop=yes; end-end=no; timeout=300
Authentication-Info: Kerberos rspauth="602306092A864886F71201020201011100FFFFFFFF104A8EDFA12CC095AAA663DF55824DCB", srand="5E058A82", snum="1", opaque="E0DA4F74", qop="auth", targetname="sip/fe01.contoso.com", realm="SIP Communications Service"
From: <sip:alice@contoso.com>;tag=8a3c1d2e4f;epid=8248ca9ebb
To: <sip:alice@contoso.com>;tag=9B4C1E2D3F6A7B8C9D0E1F2A3B4C5D6E
Call-ID: 6b2dec5dfd9a4eaf90180bb2f8f699ea
CSeq: 3 REGISTER
Via: SIP/2.0/TLS 192.0.2.20:51234;branch=z9hG4bK6a1b2c3d4e5f60718293;ms-received-port=51234;ms-received-cid=1E00
Contact: <sip:192.0.2.20:51234;transport=tls;ms-opaque=d3470f2e1d;ms-received-cid=1E00>;expires=7200;+sip.instance="<urn:uuid:4233FD41-093B-5FD6-B5D2-651ED55969E6>";gruu="sip:alice@contoso.com;opaque=user:epid:QJJYwWDmT1mos0tV81jLwQAA;gruu"
Expires: 7200
presence-state: register-action="added";primary-cluster-type="central";is-connected-to-primary="yes"
Allow-Events: vnd-microsoft-provisioning,vnd-microsoft-roaming-contacts,vnd-microsoft-roaming-ACL,presence,presence.wpending,vnd-microsoft-roaming-self,vnd-microsoft-provisioning-v2
Supported: adhoclist
Supported: msrtc-event-categories
Server: RTC/6.0"#;

/// A presence NOTIFY as a front end sends it for a batched subscription ([MS-PRES]), TLS-DSK signed.
const NOTIFY: &str = r#"NOTIFY sip:192.0.2.20:51234;transport=tls;ms-opaque=d3470f2e1d;ms-received-cid=1E00;grid SIP/2.0
Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bK5F1A2B3C.0123456789ABCDEF;branched=FALSE;ms-internal-info="bcJm0sHfXz1Uo5nmZC1-eCvMGXAAA"
Authentication-Info: TLS-DSK qop="auth", opaque="2BDBAC9D", srand="9616454F", snum="57", rspauth="5d1e6f0f4e4a3bd7d37e5d01a44b7b3c2b4b5a11", targetname="fe01.contoso.com", realm="SIP Communications Service", version=4
Max-Forwards: 69
From: <sip:alice@contoso.com>;tag=7C2A0080
To: <sip:alice@contoso.com>;tag=e3ab73a9f8;epid=8248ca9ebb
Call-ID: 0c0f3e2b5a1d4c6e8f9a0b1c2d3e4f50
CSeq: 12 NOTIFY
Event: presence
subscription-state: active;expires=36000
Content-Type: application/msrtc-event-categories+xml"#;

/// An enhanced-presence categories document of at least `min_len` bytes: state, note and contactCard
/// categories for a run of contacts, as a batched presence subscription delivers them.
fn categories_body(min_len: usize) -> Vec<u8> {
    let mut body = String::from(
        r#"<categories xmlns="http://schemas.microsoft.com/2006/09/sip/categories" uri="sip:alice@contoso.com">"#,
    );
    let mut n = 0;
    while body.len() < min_len {
        n += 1;
        body.push_str(&format!(
            concat!(
                r#"<category name="state" instance="{n}" publishTime="2025-01-14T10:00:{s:02}.000" container="2" version="{n}" expireType="user">"#,
                r#"<state xmlns="http://schemas.microsoft.com/2006/09/sip/state" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" manual="false" xsi:type="aggregateState">"#,
                r#"<availability>{a}</availability><delimiter xmlns="http://schemas.microsoft.com/2006/09/sip/commontypes" /></state></category>"#,
                r#"<category name="note" instance="{n}" publishTime="2025-01-14T10:00:{s:02}.000" container="400" version="{n}" expireType="static">"#,
                r#"<note xmlns="http://schemas.microsoft.com/2006/09/sip/note"><body type="personal" uri="">In the lab today, contact {n}</body></note></category>"#,
                r#"<category name="contactCard" instance="0" publishTime="2025-01-14T10:00:{s:02}.000" container="400" version="{n}" expireType="static">"#,
                r#"<contactCard xmlns="http://schemas.microsoft.com/2006/09/sip/contactcard"><identity><name><displayName>Contact {n}</displayName></name>"#,
                r#"<email>contact{n}@contoso.com</email></identity><title>Engineer</title><office>Building {n}</office></contactCard></category>"#,
            ),
            n = n,
            s = n % 60,
            a = [3500, 6500, 9500, 15500, 18500][n % 5],
        ));
    }
    body.push_str("</categories>");
    body.into_bytes()
}
