//! The TLS-DSK record and handshake reader (`auth/tlsdsk/codec.rs`, `record.rs`): record framing, handshake
//! framing, ServerHello, Certificate and CertificateRequest bodies, alerts, and the CBC record protection
//! that opens the server's Finished. Reached through `sfbkit::fuzzing::tlsdsk` (`--cfg fuzzing` only).
//!
//! The first byte picks the reader (and, for records, the version, MAC, IV style and key size).
//!
//! Invariants: records split from a flight lie back to back and cover it exactly; handshake messages split
//! from a payload re-encode to exactly that payload; a certificate list re-encodes to its body; a record
//! sealed under any version/MAC/key opens to the same plaintext and fails under the next sequence number.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sfbkit::fuzzing::tlsdsk;
use sfbkit_fuzz::touch;

fn records(data: &[u8]) {
    let Ok(records) = tlsdsk::split_records(data) else { return };
    let mut at = 0;
    for (content_type, fragment) in &records {
        assert_eq!(data[at], *content_type);
        assert_eq!(usize::from(u16::from_be_bytes([data[at + 3], data[at + 4]])), fragment.len());
        assert_eq!(&data[at + 5..at + 5 + fragment.len()], &fragment[..]);
        at += 5 + fragment.len();
        if *content_type == 21 {
            touch(&tlsdsk::alert(fragment));
        }
    }
    assert_eq!(at, data.len(), "records do not cover the flight");
}

fn handshakes(data: &[u8]) {
    let Ok(messages) = tlsdsk::split_handshakes(data) else { return };
    let mut joined = Vec::new();
    for (msg_type, encoded, body) in &messages {
        let again = tlsdsk::encode_handshake(*msg_type, body).expect("a body that was read fits its length field");
        assert_eq!(&again, encoded);
        joined.extend_from_slice(encoded);
        match msg_type {
            2 => touch(&tlsdsk::parse_server_hello(body)),
            11 => certificates(body),
            13 => {
                touch(&tlsdsk::parse_certificate_request(body, false));
                touch(&tlsdsk::parse_certificate_request(body, true));
            }
            _ => {}
        }
    }
    assert_eq!(joined, data, "handshake messages do not re-encode to the payload");
}

fn certificates(body: &[u8]) {
    let Ok(list) = tlsdsk::parse_certificate_list(body) else { return };
    let inner: Vec<u8> = list.iter().flat_map(|c| tlsdsk::encode_vec(3, c)).collect();
    assert_eq!(tlsdsk::encode_vec(3, &inner), body, "certificate list does not re-encode to its body");
}

fn protection(control: u8, data: &[u8]) {
    let version = [0x0301, 0x0302, 0x0303][usize::from(control >> 2 & 3) % 3];
    let sha256 = control & 0x10 != 0;
    let explicit_iv = version != 0x0301;
    let key_len = if control & 0x20 != 0 { 32 } else { 16 };
    let keys = tlsdsk::RecordKeys::new(version, sha256, explicit_iv, key_len);
    let seq = u64::from(control >> 6);
    touch(&keys.open(seq, 22, data));
    let sealed = keys.seal(seq, 22, data, [0x11; 16]).expect("sealing with valid keys cannot fail");
    assert_eq!(keys.open(seq, 22, &sealed).as_deref(), Ok(data), "sealed record does not open to its plaintext");
    assert!(keys.open(seq + 1, 22, &sealed).is_err(), "a record opened under the wrong sequence number");
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, data)) = data.split_first() else { return };
    match control & 3 {
        0 => records(data),
        1 => handshakes(data),
        2 => certificates(data),
        _ => protection(control, data),
    }
});
