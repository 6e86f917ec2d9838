//! Client ↔ server round trips and hostile-input checks for the NTLM module.

use super::server::{NtlmServer, OCS_CHALLENGE_FLAGS, ServerCredentials, ServerIdentity};
use super::vector_tests::{SIPE, kv};
use super::{
    AuthenticateMessage, ChallengeMessage, ClientOptions, ClientRandom, Credentials, MicPolicy, NtlmClient, NtlmError,
    decode_token, flags,
};

fn identity() -> ServerIdentity {
    ServerIdentity {
        nb_domain: "COSMO".into(),
        nb_computer: "COSMO-OCS-R2".into(),
        dns_domain: "cosmo.local".into(),
        dns_computer: "cosmo-ocs-r2.cosmo.local".into(),
    }
}

fn creds(password: &str) -> Credentials {
    Credentials { user: "User".into(), domain: "COSMO".into(), password: password.into(), workstation: "WS1".into() }
}

fn random() -> ClientRandom {
    ClientRandom { client_challenge: [7; 8], exported_session_key: [9; 16], time: 0x01ca_b927_179a_5159 }
}

fn server_creds() -> ServerCredentials {
    ServerCredentials { user: "user".into(), password: "Pa$$word".into() }
}

const TIMESTAMP: u64 = 0x01d9_0000_1234_5678;

#[test]
fn sip_round_trip_sign_both_ways() {
    for mic in [MicPolicy::Never, MicPolicy::WhenTimestamp] {
        let server = NtlmServer::new(identity());
        let challenge = server.challenge([1, 2, 3, 4, 5, 6, 7, 8], TIMESTAMP);
        assert_eq!(challenge.negotiate_flags, OCS_CHALLENGE_FLAGS);
        let mut options = ClientOptions::sip();
        options.mic = mic;
        let client = NtlmClient::new(creds("Pa$$word"), options);
        let (auth, client_session) = client.authenticate(&challenge.to_bytes(), &random()).unwrap();
        let parsed = AuthenticateMessage::parse(&auth).unwrap();
        // With a server timestamp the LM response is 24 zero bytes (MS-NLMP 3.1.5.1.2).
        assert_eq!(parsed.lm_response, vec![0; 24]);
        assert_eq!(parsed.mic.is_some(), mic == MicPolicy::WhenTimestamp);
        let accepted = server.accept(&[], &challenge, &auth, &server_creds()).unwrap();
        assert_eq!(accepted.user, "User");
        assert_eq!(accepted.workstation, "WS1");
        let server_session = accepted.session;
        let buf = b"<NTLM><13317733><1><SIP Communications Service><x><y><3><REGISTER>";
        let sig = client_session.sign(buf);
        assert!(server_session.verify(buf, &sig));
        let rsp = server_session.sign(buf);
        assert!(client_session.verify(buf, &rsp));
        assert_ne!(sig, rsp, "each direction has its own keys");
        let mut tampered = buf.to_vec();
        tampered[3] ^= 1;
        assert!(!server_session.verify(&tampered, &sig));
        assert!(!client_session.verify(&tampered, &rsp));
        assert!(!client_session.verify_hex(buf, "not hex"));
    }
}

#[test]
fn wrong_password_and_unknown_user_are_typed_errors() {
    let server = NtlmServer::new(identity());
    let challenge = server.challenge([1; 8], TIMESTAMP);
    let (auth, _) =
        NtlmClient::new(creds("wrong"), ClientOptions::sip()).authenticate(&challenge.to_bytes(), &random()).unwrap();
    assert_eq!(server.accept(&[], &challenge, &auth, &server_creds()).unwrap_err(), NtlmError::WrongPassword);
    let other = ServerCredentials { user: "someone".into(), password: "Pa$$word".into() };
    assert_eq!(server.accept(&[], &challenge, &auth, &other).unwrap_err(), NtlmError::UnknownUser);
}

#[test]
fn tampered_mic_is_rejected() {
    let server = NtlmServer::new(identity());
    let challenge = server.challenge([1; 8], TIMESTAMP);
    let mut options = ClientOptions::sip();
    options.mic = MicPolicy::WhenTimestamp;
    let (mut auth, _) =
        NtlmClient::new(creds("Pa$$word"), options).authenticate(&challenge.to_bytes(), &random()).unwrap();
    auth[60] ^= flags::SEAL as u8; // flip a negotiate flag the MIC covers
    assert_eq!(server.accept(&[], &challenge, &auth, &server_creds()).unwrap_err(), NtlmError::MicMismatch);
}

#[test]
fn http_connection_oriented_with_mic() {
    let server = NtlmServer::new(identity()).with_flags(OCS_CHALLENGE_FLAGS & !flags::DATAGRAM);
    let mut client = NtlmClient::new(creds("Pa$$word"), ClientOptions::http());
    let negotiate = client.negotiate();
    assert_eq!(&negotiate[..12], b"NTLMSSP\0\x01\0\0\0");
    let challenge = server.challenge([3; 8], TIMESTAMP);
    let (auth, _) = client.authenticate(&challenge.to_bytes(), &random()).unwrap();
    assert!(AuthenticateMessage::parse(&auth).unwrap().mic.is_some());
    assert!(server.accept(&negotiate, &challenge, &auth, &server_creds()).is_ok());
    // The MIC covers the NEGOTIATE: a different one fails.
    assert_eq!(server.accept(&[], &challenge, &auth, &server_creds()).unwrap_err(), NtlmError::MicMismatch);
}

#[test]
fn sip_requires_datagram_and_key_exch() {
    let server = NtlmServer::new(identity()).with_flags(OCS_CHALLENGE_FLAGS & !flags::KEY_EXCH);
    let challenge = server.challenge([1; 8], TIMESTAMP).to_bytes();
    let err = NtlmClient::new(creds("x"), ClientOptions::sip()).authenticate(&challenge, &random()).unwrap_err();
    assert_eq!(err, NtlmError::MissingFlags { missing: flags::KEY_EXCH });
}

#[test]
fn secrets_stay_out_of_debug() {
    let c = creds("Sup3rSecret");
    assert!(!format!("{c:?}").contains("Sup3rSecret"));
    let s = ServerCredentials { user: "u".into(), password: "Sup3rSecret".into() };
    assert!(!format!("{s:?}").contains("Sup3rSecret"));
    let server = NtlmServer::new(identity());
    let challenge = server.challenge([1; 8], TIMESTAMP);
    let (_, session) = NtlmClient::new(c, ClientOptions::sip()).authenticate(&challenge.to_bytes(), &random()).unwrap();
    let dbg = format!("{session:?} {:?}", random());
    assert!(!dbg.contains("09, 09") && !dbg.contains("[9, 9"), "{dbg}");
}

#[test]
fn hostile_challenges_never_panic() {
    let valid = decode_token(kv(SIPE, "type2_b64")).unwrap();
    assert!(ChallengeMessage::parse(&valid).is_ok());
    // Every truncation fails cleanly.
    for n in 0..valid.len() {
        assert!(ChallengeMessage::parse(&valid[..n]).is_err(), "prefix {n} accepted");
    }
    assert_eq!(ChallengeMessage::parse(b"NTLMSSQ\0\x02\0\0\0").unwrap_err(), NtlmError::BadSignature);
    let mut wrong_type = valid.clone();
    wrong_type[8] = 3;
    assert_eq!(
        ChallengeMessage::parse(&wrong_type).unwrap_err(),
        NtlmError::WrongMessageType { expected: 2, found: 3 }
    );
    let mut far = valid.clone();
    far[44..48].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(ChallengeMessage::parse(&far).unwrap_err(), NtlmError::FieldOutOfBounds { field: "TargetInfoFields" });
    // Random bytes and random single-byte mutations of a valid message.
    let mut rng_state = 0x1234_5678_9abc_def0u64;
    let mut next = || {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        rng_state
    };
    for _ in 0..2000 {
        let len = (next() % 300) as usize;
        let mut junk: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if next() % 2 == 0 && junk.len() >= 12 {
            junk[..8].copy_from_slice(b"NTLMSSP\0");
            junk[8..12].copy_from_slice(&[2 + (next() % 2) as u8, 0, 0, 0]);
        }
        let _ = ChallengeMessage::parse(&junk);
        let _ = AuthenticateMessage::parse(&junk);
        let mut m = valid.clone();
        for _ in 0..4 {
            let i = (next() as usize) % m.len();
            m[i] = next() as u8;
        }
        if let Ok(c) = ChallengeMessage::parse(&m) {
            let _ = NtlmClient::new(creds("x"), ClientOptions::sip()).authenticate(&c.to_bytes(), &random());
        }
    }
    assert!(ChallengeMessage::parse(&vec![0u8; 20_000]).is_err());
    assert_eq!(decode_token("***").unwrap_err(), NtlmError::Base64);
}

#[test]
fn weakened_seal_keys_and_filetime() {
    use super::crypto::{Direction, SealKey, filetime, md5, seal_key};
    let k: [u8; 16] = core::array::from_fn(|i| i as u8);
    let lm56 = flags::LM_KEY | flags::NEGOTIATE_56;
    assert_eq!(seal_key(lm56, &k, Direction::ClientToServer), SealKey::K8([0, 1, 2, 3, 4, 5, 6, 0xA0]));
    assert_eq!(seal_key(flags::LM_KEY, &k, Direction::ClientToServer), SealKey::K8([0, 1, 2, 3, 4, 0xE5, 0x38, 0xB0]));
    let ess40 = seal_key(flags::EXTENDED_SESSIONSECURITY, &k, Direction::ServerToClient);
    let magic = b"session key to server-to-client sealing key magic constant\0";
    assert_eq!(ess40, SealKey::K16(md5(&[&k[..5], magic])));
    // A weakened-key datagram session still round-trips.
    let f = flags::SIGN | flags::DATAGRAM | flags::KEY_EXCH | flags::LM_KEY;
    let c = super::NtlmSession::new(super::Role::Client, f, &k);
    let s = super::NtlmSession::new(super::Role::Server, f, &k);
    assert!(s.verify(b"buf", &c.sign(b"buf")));
    assert_eq!(filetime(std::time::Duration::ZERO), 116_444_736_000_000_000);
}
