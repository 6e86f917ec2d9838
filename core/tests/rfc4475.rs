//! RFC 4475 (SIP torture messages) and RFC 5118 (IPv6 torture messages): every file in
//! `tests/vectors/rfc4475` and `tests/vectors/rfc5118` is parsed the way a receiving
//! element parses a datagram or file. Expectations come from each directory's README.

use std::path::PathBuf;

use sfbkit::sip::{Limits, Message, ParseError, parse_message};

fn vectors(dir: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors").join(dir)
}

fn read(dir: &str, name: &str) -> Vec<u8> {
    let path = vectors(dir).join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Valid,
    Invalid,
    Liberal,
}

/// RFC 4475 categories, from `rfc4475/README.md`: "valid" and "semantic" messages must parse;
/// "invalid" ones must be rejected; "liberal" ones may go either way.
const RFC4475: &[(&str, Expect)] = &[
    ("wsinv.dat", Expect::Valid),
    ("intmeth.dat", Expect::Valid),
    ("esc01.dat", Expect::Valid),
    ("escnull.dat", Expect::Valid),
    ("esc02.dat", Expect::Valid),
    ("lwsdisp.dat", Expect::Valid),
    ("longreq.dat", Expect::Valid),
    ("dblreq.dat", Expect::Valid),
    ("semiuri.dat", Expect::Valid),
    ("transports.dat", Expect::Valid),
    ("mpart01.dat", Expect::Valid),
    ("unreason.dat", Expect::Valid),
    ("noreason.dat", Expect::Valid),
    ("badinv01.dat", Expect::Invalid),
    ("clerr.dat", Expect::Invalid),
    ("ncl.dat", Expect::Invalid),
    ("scalar02.dat", Expect::Invalid),
    ("scalarlg.dat", Expect::Invalid),
    ("quotbal.dat", Expect::Invalid),
    ("ltgtruri.dat", Expect::Invalid),
    ("lwsruri.dat", Expect::Invalid),
    ("lwsstart.dat", Expect::Liberal),
    ("trws.dat", Expect::Liberal),
    ("escruri.dat", Expect::Liberal),
    ("baddate.dat", Expect::Liberal),
    ("regbadct.dat", Expect::Liberal),
    ("badaspec.dat", Expect::Liberal),
    ("baddn.dat", Expect::Invalid),
    ("badvers.dat", Expect::Invalid),
    ("mismatch01.dat", Expect::Invalid),
    ("mismatch02.dat", Expect::Invalid),
    ("bigcode.dat", Expect::Invalid),
    ("badbranch.dat", Expect::Valid),
    ("insuf.dat", Expect::Invalid),
    ("unkscm.dat", Expect::Valid),
    ("novelsc.dat", Expect::Valid),
    ("unksm2.dat", Expect::Valid),
    ("bext01.dat", Expect::Valid),
    ("invut.dat", Expect::Valid),
    ("regaut01.dat", Expect::Valid),
    ("multi01.dat", Expect::Invalid),
    ("mcl01.dat", Expect::Invalid),
    ("bcast.dat", Expect::Valid),
    ("zeromf.dat", Expect::Valid),
    ("cparam01.dat", Expect::Valid),
    ("cparam02.dat", Expect::Valid),
    ("regescrt.dat", Expect::Valid),
    ("sdp01.dat", Expect::Valid),
    ("inv2543.dat", Expect::Valid),
    ("test.dat", Expect::Invalid),
];

/// The meaning of a message: start line, header names (full form, lower case) with unfolded
/// values, and the body.
fn meaning(m: &Message) -> (String, Vec<(String, String)>, Vec<u8>) {
    let start = String::from_utf8(m.to_bytes())
        .map(|s| s.lines().next().unwrap_or_default().to_string())
        .unwrap_or_else(|_| {
            let b = m.to_bytes();
            String::from_utf8_lossy(&b[..b.iter().position(|&x| x == b'\r').unwrap_or(b.len())]).into_owned()
        });
    let headers = m
        .headers
        .iter()
        .filter(|h| !h.is("Content-Length"))
        .map(|h| (sfbkit::sip::full_name(h.name()).to_ascii_lowercase(), h.value().to_string()))
        .collect();
    (start, headers, m.body.clone())
}

fn check_round_trip(name: &str, m: &Message) {
    let bytes = m.to_bytes();
    let again = parse_message(&bytes, &Limits::default())
        .unwrap_or_else(|e| panic!("{name}: re-serialized message does not parse: {e}"));
    assert_eq!(again.trailing, 0, "{name}: re-serialized message has trailing bytes");
    assert_eq!(meaning(m), meaning(&again.message), "{name}: meaning changed in a round trip");
}

#[test]
fn every_rfc4475_file_is_covered() {
    let mut files: Vec<String> = std::fs::read_dir(vectors("rfc4475"))
        .expect("rfc4475 vectors directory")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".dat"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 50, "RFC 4475 has 50 files");
    for f in &files {
        assert!(RFC4475.iter().any(|(n, _)| n == f), "{f} has no expectation in this test");
    }
}

#[test]
fn rfc4475_valid_invalid_and_liberal() {
    for (name, expect) in RFC4475 {
        let data = read("rfc4475", name);
        let result = parse_message(&data, &Limits::default());
        match (expect, &result) {
            (Expect::Valid, Ok(p)) => check_round_trip(name, &p.message),
            (Expect::Valid, Err(e)) => panic!("{name} is valid but was rejected: {e}"),
            (Expect::Invalid, Ok(_)) => panic!("{name} is invalid but was accepted"),
            (Expect::Invalid, Err(e)) => assert!(!e.to_string().is_empty(), "{name}: error without text"),
            (Expect::Liberal, Ok(p)) => check_round_trip(name, &p.message),
            (Expect::Liberal, Err(_)) => {}
        }
    }
}

fn err_of(name: &str) -> ParseError {
    match parse_message(&read("rfc4475", name), &Limits::default()) {
        Ok(_) => panic!("{name} was accepted"),
        Err(e) => e,
    }
}

#[test]
fn rfc4475_invalid_messages_say_what_is_wrong() {
    assert!(matches!(err_of("badvers.dat"), ParseError::Version { .. }));
    assert_eq!(err_of("badvers.dat").status_code(), 505);
    assert!(matches!(err_of("clerr.dat"), ParseError::Truncated { declared: 9999, .. }));
    assert!(matches!(err_of("ncl.dat"), ParseError::HeaderValue { header, .. } if header == "Content-Length"));
    assert!(matches!(err_of("mcl01.dat"), ParseError::Duplicate { header: "Content-Length", count: 2 }));
    assert!(matches!(err_of("insuf.dat"), ParseError::MissingHeader(_)));
    assert!(matches!(err_of("multi01.dat"), ParseError::Duplicate { .. }));
    assert!(matches!(err_of("mismatch01.dat"), ParseError::CSeqMismatch { .. }));
    assert!(matches!(err_of("mismatch02.dat"), ParseError::CSeqMismatch { .. }));
    assert!(matches!(err_of("scalar02.dat"), ParseError::HeaderValue { header, .. } if header == "CSeq"));
    assert!(matches!(err_of("scalarlg.dat"), ParseError::HeaderValue { header, .. } if header == "CSeq"));
    assert!(matches!(err_of("quotbal.dat"), ParseError::HeaderValue { header, .. } if header == "To"));
    assert!(matches!(err_of("ltgtruri.dat"), ParseError::Uri { .. }));
    assert!(matches!(err_of("lwsruri.dat"), ParseError::StartLine { .. }));
    assert!(matches!(err_of("bigcode.dat"), ParseError::StartLine { .. }));
    assert!(matches!(err_of("badinv01.dat"), ParseError::HeaderValue { header, .. } if header == "Via"));
    assert!(matches!(err_of("baddn.dat"), ParseError::UnterminatedHead));
    assert!(matches!(err_of("test.dat"), ParseError::StartLine { .. }));
    // baddn's real fault is its display name: terminate the header section and it must still fail.
    let mut baddn = read("rfc4475", "baddn.dat");
    baddn.extend_from_slice(b"\r\n");
    let e = parse_message(&baddn, &Limits::default()).expect_err("baddn with CRLF");
    assert!(matches!(e, ParseError::HeaderValue { ref header, .. } if header == "From"), "{e}");
}

#[test]
fn rfc4475_valid_messages_mean_what_the_rfc_says() {
    let p = |name: &str| parse_message(&read("rfc4475", name), &Limits::default()).unwrap().message;
    let wsinv = p("wsinv.dat");
    assert_eq!(wsinv.cseq().unwrap().seq, 9);
    assert_eq!(wsinv.header("Max-Forwards"), Some("0068"));
    assert_eq!(wsinv.header("UnknownHeaderWithUnusualValue"), Some(";;,,;;,;"));
    assert_eq!(wsinv.to_header().unwrap().tag().unwrap(), "1918181833n");
    assert_eq!(wsinv.vias().unwrap().len(), 3);
    assert_eq!(wsinv.header("NewFangledHeader"), Some("newfangled value continued newfangled value"));
    // esc02: `RE%47IST%45R` is not REGISTER and `C%6Fntact` is not Contact.
    let esc02 = p("esc02.dat");
    assert_eq!(esc02.method().unwrap().as_str(), "RE%47IST%45R");
    assert!(esc02.headers.iter().any(|h| h.name() == "C%6Fntact"));
    // escnull: %00 does not truncate.
    let escnull = p("escnull.dat");
    let contacts = escnull.contacts().unwrap();
    assert_eq!(contacts[1].uri.as_sip().unwrap().user_unescaped().unwrap(), b"\0\0");
    // dblreq: the first REGISTER, with the second request reported as trailing bytes.
    let dbl = parse_message(&read("rfc4475", "dblreq.dat"), &Limits::default()).unwrap();
    assert_eq!(dbl.message.method().unwrap().as_str(), "REGISTER");
    assert!(dbl.trailing > 0 && dbl.message.body.is_empty());
    // noreason: an empty reason phrase.
    assert_eq!(p("noreason.dat").reason(), Some(""));
    // mpart01: binary body bytes survive.
    assert!(p("mpart01.dat").body.contains(&0x82));
    // inv2543: no Content-Length in a datagram: the rest is the body.
    assert!(p("inv2543.dat").body.starts_with(b"v=0"));
    // transports: five Via transports, including an unknown one.
    let t: Vec<String> = p("transports.dat").vias().unwrap().into_iter().map(|v| v.transport).collect();
    assert_eq!(t, ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);
}

/// RFC 5118 expectations (`rfc5118/README.md`); `ipv6-bug-abnf-3-colons` is rejected by policy:
/// RFC 5954 corrected the ABNF, and `2001:db8:::192.0.2.1` is not an RFC 4291 address.
const RFC5118: &[(&str, bool)] = &[
    ("ipv6-good", true),
    ("ipv6-bad", false),
    ("port-ambiguous", true),
    ("port-unambiguous", true),
    ("via-received-param-with-delim", true),
    ("via-received-param-no-delim", true),
    ("ipv6-in-sdp", true),
    ("mult-ip-in-header", true),
    ("mult-ip-in-sdp", true),
    ("ipv4-mapped-ipv6", true),
    ("ipv6-correct-abnf-2-colons", true),
    ("ipv6-bug-abnf-3-colons", false),
];

#[test]
fn rfc5118_ipv6() {
    for (name, ok) in RFC5118 {
        let data = read("rfc5118", name);
        // The 4.10 files have no terminating empty line in some copies; terminate them.
        let mut data = data;
        if !data.windows(4).any(|w| w == b"\r\n\r\n") {
            data.extend_from_slice(b"\r\n");
        }
        match (parse_message(&data, &Limits::default()), ok) {
            (Ok(p), true) => check_round_trip(name, &p.message),
            (Err(e), true) => panic!("{name} should parse: {e}"),
            (Ok(_), false) => panic!("{name} should be rejected"),
            (Err(_), false) => {}
        }
    }
    let m = parse_message(&read("rfc5118", "port-ambiguous"), &Limits::default()).unwrap().message;
    assert_eq!(m.request_uri().unwrap().as_sip().unwrap().port(), None);
    let m = parse_message(&read("rfc5118", "port-unambiguous"), &Limits::default()).unwrap().message;
    assert_eq!(m.request_uri().unwrap().as_sip().unwrap().port(), Some(5070));
}
