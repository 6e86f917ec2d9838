//! The NTLM message decoders ([MS-NLMP] 2.2): CHALLENGE (what a registrar or IIS sends the client),
//! AUTHENTICATE (what the lab pool's server side reads), AV pair lists and base64 `gssapi-data`; then the
//! client answering the CHALLENGE (SIP and HTTP modes) and the server checking the AUTHENTICATE.
//!
//! The first byte picks the reader; the rest is the message.
//!
//! Invariants: a CHALLENGE or AUTHENTICATE that parses serializes and parses again to the same message (when
//! the re-serialized form, which no longer shares payload bytes between fields, stays within the message size
//! limit); an AV pair list that parses writes back and parses to the same pairs; base64 that decodes
//! re-encodes to a token that decodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sfbkit::auth::ntlm::messages::{self, MAX_MESSAGE_BYTES};
use sfbkit::auth::ntlm::server::{NtlmServer, ServerCredentials, ServerIdentity};
use sfbkit::auth::ntlm::{
    AuthenticateMessage, ChallengeMessage, ClientOptions, ClientRandom, Credentials, NtlmClient, decode_token,
    encode_token,
};
use sfbkit_fuzz::touch;

fn credentials() -> Credentials {
    Credentials {
        user: "alice".into(),
        domain: "CONTOSO".into(),
        password: "Passw0rd!".into(),
        workstation: "WS01".into(),
    }
}

fn challenge(data: &[u8]) {
    let msg = match ChallengeMessage::parse(data) {
        Ok(m) => m,
        Err(e) => return touch(&e),
    };
    let bytes = msg.to_bytes();
    if bytes.len() <= MAX_MESSAGE_BYTES {
        assert_eq!(ChallengeMessage::parse(&bytes).as_ref(), Ok(&msg), "CHALLENGE changed through to_bytes");
    }
    let _ = msg.timestamp();
    let random = ClientRandom { client_challenge: [7; 8], exported_session_key: [9; 16], time: 0x01d9_0000_0000_0000 };
    for options in [ClientOptions::sip(), ClientOptions::http()] {
        let mut client = NtlmClient::new(credentials(), options);
        let _ = client.negotiate();
        match client.authenticate(data, &random) {
            Ok((authenticate, session)) => {
                let parsed = AuthenticateMessage::parse(&authenticate);
                assert!(parsed.is_ok(), "our own AUTHENTICATE must parse: {parsed:?}");
                let _ = session.sign_hex(b"<NTLM><buffer>");
            }
            Err(e) => touch(&e),
        }
    }
}

fn authenticate(data: &[u8]) {
    let msg = match AuthenticateMessage::parse(data) {
        Ok(m) => m,
        Err(e) => return touch(&e),
    };
    let bytes = msg.to_bytes();
    if bytes.len() <= MAX_MESSAGE_BYTES {
        assert_eq!(AuthenticateMessage::parse(&bytes).as_ref(), Ok(&msg), "AUTHENTICATE changed through to_bytes");
    }
    let _ = (msg.user_name(), msg.domain_name(), msg.workstation_name(), messages::client_av_pairs(&msg.nt_response));
    touch(&msg);
    let identity = ServerIdentity {
        nb_domain: "CONTOSO".into(),
        nb_computer: "FE01".into(),
        dns_domain: "contoso.com".into(),
        dns_computer: "fe01.contoso.com".into(),
    };
    let server = NtlmServer::new(identity);
    let challenge = server.challenge([1, 2, 3, 4, 5, 6, 7, 8], 0x01d9_0000_0000_0000);
    let creds = ServerCredentials { user: "alice".into(), password: "Passw0rd!".into() };
    if let Err(e) = server.accept(&[], &challenge, data, &creds) {
        touch(&e);
    }
}

fn av_pairs(data: &[u8]) {
    let Ok(pairs) = messages::parse_av_pairs(data) else { return };
    let written = messages::write_av_pairs(&pairs);
    assert_eq!(messages::parse_av_pairs(&written).as_ref(), Ok(&pairs), "AV pairs changed through write_av_pairs");
    let _ = messages::timestamp(&pairs);
}

fn token(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(bytes) = decode_token(text) else { return };
    assert_eq!(decode_token(&encode_token(&bytes)).as_ref(), Ok(&bytes));
    challenge(&bytes);
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, data)) = data.split_first() else { return };
    match which % 4 {
        0 => challenge(data),
        1 => authenticate(data),
        2 => av_pairs(data),
        _ => token(data),
    }
});
