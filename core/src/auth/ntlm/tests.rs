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

/// Every NTLM type that holds a password, a key or a response: its `Debug` shows none of them, in any form.
#[test]
fn no_secret_in_any_form_in_debug() {
    use super::crypto::{self, Direction, Rc4Handle, SealKey};
    use crate::auth::secret_tests::assert_redacted;
    const PASSWORD: &str = "Sup3r-Secret-Pw";
    let exported: [u8; 16] =
        [0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x18, 0x29, 0x3a, 0x4b, 0x5c, 0x6d, 0x7e, 0x8f, 0x90];
    let random = ClientRandom {
        client_challenge: [0x5e, 0xc7, 0x3a, 0x91, 0x22, 0x4d, 0xb8, 0x6f],
        exported_session_key: exported,
        time: 1,
    };
    let c = creds(PASSWORD);
    let client = NtlmClient::new(c.clone(), ClientOptions::sip());
    let server = NtlmServer::new(identity());
    let challenge = server.challenge([1; 8], TIMESTAMP);
    let (auth, session) = client.authenticate(&challenge.to_bytes(), &random).unwrap();
    let s = ServerCredentials { user: "User".into(), password: PASSWORD.into() };
    let accepted = server.accept(&[], &challenge, &auth, &s).unwrap();
    let message = AuthenticateMessage::parse(&auth).unwrap();
    let ntowf = crypto::ntowf_v2(PASSWORD, "User", "COSMO");
    let v2 = crypto::v2_response(&ntowf, &[1; 8], &random.client_challenge, 1, &[]);
    let flags = message.negotiate_flags;
    let sign = crypto::sign_key(flags, &exported, Direction::ClientToServer).unwrap();
    let SealKey::K16(seal) = crypto::seal_key(flags, &exported, Direction::ClientToServer) else { panic!("ESS key") };
    let debug = format!(
        "{c:?} {client:?} {random:?} {session:?} {s:?} {accepted:?} {message:?} {v2:?} {:?} {:?}",
        crypto::seal_key(flags, &exported, Direction::ServerToClient),
        Rc4Handle::new(&seal),
    );
    assert_redacted(&debug, PASSWORD.as_bytes());
    assert_redacted(&debug, &crypto::utf16le(PASSWORD));
    for secret in
        [&ntowf[..], &exported, &random.client_challenge, &sign, &seal, &v2.session_base_key, &v2.nt_proof_str]
    {
        assert_redacted(&debug, secret);
    }
    assert_redacted(&debug, &message.nt_response);
    assert_redacted(&debug, &message.encrypted_session_key);
    assert_redacted(&debug, &auth[..30]);
}

/// Passwords and keys wipe themselves: on drop (checked through the trait, never by reading freed memory) and
/// when zeroized explicitly.
#[test]
fn passwords_and_keys_are_zeroized() {
    use super::crypto::{SealKey, V2Response};
    use crate::auth::secret_tests::assert_zeroize_on_drop;
    use zeroize::Zeroize as _;
    assert_zeroize_on_drop::<Credentials>();
    assert_zeroize_on_drop::<ServerCredentials>();
    assert_zeroize_on_drop::<ClientRandom>();
    assert_zeroize_on_drop::<V2Response>();
    assert_zeroize_on_drop::<SealKey>();

    let mut c = creds("Sup3r-Secret-Pw");
    let copy = c.clone();
    c.zeroize();
    assert!(c.password.is_empty(), "the password is wiped");
    assert_eq!((c.user.as_str(), c.domain.as_str()), ("User", "COSMO"), "the names are not secrets");
    assert_eq!(copy.password, "Sup3r-Secret-Pw", "a clone holds (and wipes) its own copy");
    let mut s = server_creds();
    s.zeroize();
    assert!(s.password.is_empty());

    let mut r = random();
    r.zeroize();
    assert_eq!((r.exported_session_key, r.client_challenge), ([0; 16], [0; 8]));
    let mut k = SealKey::K16([0x5a; 16]);
    k.zeroize();
    assert_eq!(k, SealKey::K16([0; 16]));
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
