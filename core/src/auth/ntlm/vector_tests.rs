//! Bit-exact checks against the [MS-NLMP] 4.2 vectors and SIPE's captured NTLM-over-SIP
//! exchange (tests/vectors), read from the files as published.

use super::crypto::{self, Direction, Rc4Handle, SealKey};
use super::messages::{AuthenticateMessage, ChallengeMessage};
use super::signing::{self, NtlmSession, Role};
use super::{ClientOptions, ClientRandom, Credentials, NtlmClient, decode_token, flags};

const COMMON: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/MS-NLMP_4.2.1_common-values.txt"));
const V1: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/MS-NLMP_4.2.2_ntlmv1.txt"));
const V1_ESS: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/MS-NLMP_4.2.3_ntlmv1-client-challenge.txt"));
const V2: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/MS-NLMP_4.2.4_ntlmv2.txt"));
pub(super) const SIPE: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/sipe-ntlm-sip-signatures.txt"));

/// True for a 2-digit hex token.
fn hex_pair(t: &str) -> Option<u8> {
    if t.len() == 2 { u8::from_str_radix(t, 16).ok() } else { None }
}

/// A hexdump line: `(address, bytes)`; the address is `None` for lines printed without one.
fn dump_line(line: &str) -> Option<(Option<u32>, Vec<u8>)> {
    let mut tokens = line.split_whitespace().peekable();
    let first = *tokens.peek()?;
    let addr = match first.strip_suffix(':') {
        Some(a) => {
            tokens.next();
            Some(u32::from_str_radix(a, 16).ok()?)
        }
        None => None,
    };
    let bytes: Vec<u8> = tokens.take(16).map_while(hex_pair).collect();
    if bytes.is_empty() { None } else { Some((addr, bytes)) }
}

/// The hexdumps after the first line containing `marker`, one Vec per dump (a dump starts at
/// address 0); stops at the first non-blank line that is not a dump line once one was seen.
pub(super) fn dumps_after(text: &str, marker: &str) -> Vec<Vec<u8>> {
    let start = text.find(marker).unwrap_or_else(|| panic!("marker {marker:?} not in vector file"));
    let mut out: Vec<Vec<u8>> = Vec::new();
    for line in text[start..].lines().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        match dump_line(line) {
            Some((addr, bytes)) => {
                if addr == Some(0) || out.is_empty() {
                    out.push(bytes);
                } else if let Some(last) = out.last_mut() {
                    last.extend(bytes);
                }
            }
            None if out.is_empty() => continue,
            None => break,
        }
    }
    out
}

/// The first dump after `marker`.
pub(super) fn dump(text: &str, marker: &str) -> Vec<u8> {
    dumps_after(text, marker).into_iter().next().unwrap_or_default()
}

/// `key = value ...` lines of the SIPE file: the first token of the value.
pub(super) fn kv<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(" = ")?;
            (k.trim() == key).then(|| v.split_whitespace().next().unwrap_or(""))
        })
        .unwrap_or_else(|| panic!("{key} not in vector file"))
}

pub(super) fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap()).collect()
}

fn arr<const N: usize>(v: &[u8]) -> [u8; N] {
    v.try_into().unwrap()
}

/// Inputs of 4.2.1.
struct Common {
    user: String,
    domain: String,
    password: String,
    random_session_key: [u8; 16],
    time: u64,
    client_challenge: [u8; 8],
    server_challenge: [u8; 8],
}

fn utf16_text(b: &[u8]) -> String {
    String::from_utf16(&b.chunks(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect::<Vec<_>>()).unwrap()
}

fn common() -> Common {
    Common {
        user: utf16_text(&dump(COMMON, "User:")),
        domain: utf16_text(&dump(COMMON, "UserDom:")),
        password: utf16_text(&dump(COMMON, "Passwd:")),
        random_session_key: arr(&dump(COMMON, "RandomSessionKey:")),
        time: u64::from_le_bytes(arr(&dump(COMMON, "Time:"))),
        client_challenge: arr(&dump(COMMON, "ClientChallenge:")),
        server_challenge: arr(&dump(COMMON, "ServerChallenge:")),
    }
}

#[test]
fn common_values_read() {
    let c = common();
    assert_eq!((c.user.as_str(), c.domain.as_str(), c.password.as_str()), ("User", "Domain", "Password"));
    assert_eq!(c.server_challenge, [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]);
}

#[test]
fn ntlmv1_shared_functions() {
    let c = common();
    let nt = crypto::ntowf_v1(&c.password);
    assert_eq!(nt.to_vec(), dump(V1, "NTOWFv1(\"Password\", \"User\", \"Domain\") is:"));
    let sbk = crypto::session_base_key_v1(&nt);
    assert_eq!(sbk.to_vec(), dump(V1, "##### 4.2.2.1.3"));
    // KEY_EXCH with KeyExchangeKey = SessionBaseKey (no LM_KEY / non-NT key).
    assert_eq!(crypto::rc4_once(&sbk, &c.random_session_key).to_vec(), dump(V1, "##### 4.2.2.2.3"));
    // 4.2.2.4: non-ESS MAC; SealKey = RandomSessionKey (no LM_KEY), handle shared with the sealed data.
    let flags = u32::from_le_bytes(arr(&dump(V1, "NTLMSSP_NEGOTIATE_UNICODE")));
    let seal = crypto::seal_key(flags, &c.random_session_key, Direction::ClientToServer);
    assert_eq!(seal, SealKey::K16(c.random_session_key));
    assert_eq!(crypto::sign_key(flags, &c.random_session_key, Direction::ClientToServer), None);
    let mut handle = Rc4Handle::for_seal_key(&seal);
    let mut data = dump(V1, "Plaintext data where");
    handle.apply(&mut data);
    assert_eq!(data, dump(V1, "Output_message will contain"));
    let sig = signing::mac_without_ess(&mut handle, 0, &dump(V1, "Plaintext data where"));
    assert_eq!(crc32fast::hash(&dump(V1, "Plaintext data where")).to_le_bytes().to_vec(), dump(V1, "CRC32(Message):"));
    assert_eq!(sig[4..8].to_vec(), dump(V1, "RandomPad: RC4(Handle, RandomPad):"));
    assert_eq!(sig[8..12].to_vec(), dump(V1, "Checksum: RC4(Handle, NTLMSSP_MESSAGE_SIGNATURE.Checksum):"));
    assert_eq!(sig[12..].to_vec(), dump(V1, "SeqNum: XOR:"));
    assert_eq!(sig.to_vec(), dump(V1, "Assembled Signature:"));
}

#[test]
fn ntlmv1_ess_keys_and_mac() {
    let c = common();
    let flags = u32::from_le_bytes(arr(&dump(V1_ESS, "NTLMSSP_NEGOTIATE_UNICODE")));
    assert_eq!(flags, 0x820a_8233);
    let sbk = crypto::session_base_key_v1(&crypto::ntowf_v1(&c.password));
    assert_eq!(sbk.to_vec(), dump(V1_ESS, "##### 4.2.3.1.2"));
    let lm = dump(V1_ESS, "##### 4.2.3.2.1");
    let kx = crypto::kxkey_v1_ess(&sbk, &c.server_challenge, &lm);
    assert_eq!(kx.to_vec(), dump(V1_ESS, "##### 4.2.3.1.3"));
    // No KEY_EXCH: ExportedSessionKey = KeyExchangeKey; 56-bit sealing key.
    assert_eq!(kx[..7].to_vec(), dump(V1_ESS, "Cut [**key exchange key**]"));
    let seal = crypto::seal_key(flags, &kx, Direction::ClientToServer);
    assert_eq!(seal, SealKey::K16(arr(&dump(V1_ESS, "MD5(ConcatenationOf(SealKey"))));
    let sign = crypto::sign_key(flags, &kx, Direction::ClientToServer).unwrap();
    assert_eq!(
        sign.to_vec(),
        dump(V1_ESS, "MD5(ConcatenationOf(RandomSessionKey, \"session key to client-to-server signing")
    );
    let plain = dump(V1_ESS, "Plaintext data where");
    let mut data = plain.clone();
    Rc4Handle::for_seal_key(&seal).apply(&mut data);
    assert_eq!(data, dump(V1_ESS, "Output_message will contain"));
    let sig = signing::mac_ess(&sign, None, 0, &plain);
    assert_eq!(sig[4..12].to_vec(), dump(V1_ESS, "Checksum: HMAC_MD5("));
    assert_eq!(sig.to_vec(), dump(V1_ESS, "Signature:"));
}

#[test]
fn ntlmv2_calculations_and_messages() {
    let c = common();
    let ntowf = crypto::ntowf_v2(&c.password, &c.user, &c.domain);
    assert_eq!(ntowf.to_vec(), dump(V2, "NTOWFv2(\"Password\", \"User\", \"Domain\") is:"));
    assert_eq!(crypto::lmowf_v2(&c.password, &c.user, &c.domain), ntowf);
    let challenge_bytes = dump(V2, "The [CHALLENGE_MESSAGE]");
    let challenge = ChallengeMessage::parse(&challenge_bytes).unwrap();
    assert_eq!(challenge.negotiate_flags, u32::from_le_bytes(arr(&dump(V2, "NTLMSSP_NEGOTIATE_UNICODE"))));
    assert_eq!(challenge.server_challenge, c.server_challenge);
    assert_eq!(challenge.to_bytes(), challenge_bytes, "CHALLENGE re-serializes byte for byte");
    assert_eq!(challenge.av_pairs[0].value, dump(V2, "AV Pair 2 - NetBIOS Domain name:"));
    assert_eq!(challenge.av_pairs[1].value, dump(V2, "AV Pair 1 - NetBIOS Server name:"));
    let temp = crypto::v2_temp(c.time, &c.client_challenge, &challenge.target_info);
    assert_eq!(temp, dump(V2, "##### 4.2.4.1.3 temp"));
    let r = crypto::v2_response(&ntowf, &c.server_challenge, &c.client_challenge, c.time, &challenge.target_info);
    assert_eq!(r.session_base_key.to_vec(), dump(V2, "##### 4.2.4.1.2"));
    assert_eq!(r.lm_response.to_vec(), dump(V2, "##### 4.2.4.2.1"));
    assert_eq!(r.nt_proof_str.to_vec(), dump(V2, "##### 4.2.4.2.2"));
    let enc = crypto::rc4_once(&r.session_base_key, &c.random_session_key);
    assert_eq!(enc.to_vec(), dump(V2, "##### 4.2.4.2.3"));

    // The whole AUTHENTICATE_MESSAGE, through the message builder.
    let auth_bytes = dump(V2, "The [AUTHENTICATE_MESSAGE]");
    let parsed = AuthenticateMessage::parse(&auth_bytes).unwrap();
    assert_eq!(parsed.user_name(), "User");
    assert_eq!(parsed.workstation_name(), "COMPUTER");
    assert_eq!(parsed.lm_response, r.lm_response.to_vec());
    assert_eq!(parsed.nt_response, r.nt_response);
    assert_eq!(parsed.encrypted_session_key, enc.to_vec());
    assert_eq!(parsed.to_bytes(), auth_bytes, "AUTHENTICATE re-serializes byte for byte");

    // 4.2.4.4: keys from the (KEY_EXCH) RandomSessionKey, GSS_WrapEx with a shared handle.
    let f = parsed.negotiate_flags;
    let seal = crypto::seal_key(f, &c.random_session_key, Direction::ClientToServer);
    assert_eq!(
        seal,
        SealKey::K16(arr(&dump(V2, "MD5(ConcatenationOf(RandomSessionKey, \"session key to client-to-server sealing")))
    );
    let sign = crypto::sign_key(f, &c.random_session_key, Direction::ClientToServer).unwrap();
    assert_eq!(
        sign.to_vec(),
        dump(V2, "MD5(ConcatenationOf(RandomSessionKey, \"session key to client-to-server signing")
    );
    let plain = dump(V2, "Plaintext data where");
    let mut handle = Rc4Handle::for_seal_key(&seal);
    let mut data = plain.clone();
    handle.apply(&mut data);
    assert_eq!(data, dump(V2, "Output_message will contain"));
    assert_eq!(crypto::hmac_md5(&sign, &[&[0; 4], &plain])[..8].to_vec(), dump(V2, "Checksum: HMAC_MD5("));
    let sig = signing::mac_ess(&sign, Some(&mut handle), 0, &plain);
    assert_eq!(sig[4..12].to_vec(), dump(V2, "Checksum: RC4(Checksum above):"));
    assert_eq!(sig.to_vec(), dump(V2, "Signature:"));
}

/// Vector A: our AUTHENTICATE builder reproduces OC 2007 R2's type 3 token byte for byte.
#[test]
fn sipe_authenticate_bit_exact() {
    let challenge = decode_token(kv(SIPE, "type2_b64")).unwrap();
    let parsed = ChallengeMessage::parse(&challenge).unwrap();
    assert_eq!(parsed.server_challenge.to_vec(), unhex(kv(SIPE, "server_challenge")));
    assert_eq!(parsed.negotiate_flags, 0xE298_82F3);
    assert_eq!(parsed.target_info, unhex(kv(SIPE, "target_info")));
    assert_eq!(parsed.timestamp(), None);
    let type3 = decode_token(kv(SIPE, "type3_b64")).unwrap();
    let sent = AuthenticateMessage::parse(&type3).unwrap();
    let creds = Credentials {
        user: kv(SIPE, "user").into(),
        domain: kv(SIPE, "domain").into(),
        password: kv(SIPE, "password").into(),
        workstation: kv(SIPE, "host").into(),
    };
    let mut options = ClientOptions::sip();
    options.version = sent.version.unwrap();
    let random = ClientRandom {
        client_challenge: arr(&unhex(kv(SIPE, "client_challenge"))),
        exported_session_key: arr(&unhex(kv(SIPE, "derived ExportedSessionKey"))),
        time: u64::from_le_bytes(arr(&unhex(kv(SIPE, "time (FILETIME LE)")))),
    };
    let (ours, session) = NtlmClient::new(creds, options).authenticate(&challenge, &random).unwrap();
    assert_eq!(session.negotiate_flags(), 0x6298_8255);
    assert_eq!(sent.lm_response, unhex(kv(SIPE, "expected LmChallengeResponse (LMv2)")));
    assert_eq!(sent.nt_response[..16].to_vec(), unhex(kv(SIPE, "expected NTProofStr")));
    assert_eq!(sent.encrypted_session_key, unhex(kv(SIPE, "EncryptedRandomSessionKey (in type3)")));
    assert_eq!(ours, type3);
}

/// Vector A signatures through [`NtlmSession`] with the buffers the file prints.
#[test]
fn sipe_v4_signatures_bit_exact() {
    let exported: [u8; 16] = arr(&unhex(kv(SIPE, "derived ExportedSessionKey")));
    let client = NtlmSession::new(Role::Client, 0x6298_8255, &exported);
    let server = NtlmSession::new(Role::Server, 0x6298_8255, &exported);
    let cbuf = dump_text(SIPE, "--- expected client signature buffer");
    let expected_response = dump_text(SIPE, "--- expected response= value");
    assert_eq!(client.sign_hex(cbuf.as_bytes()), expected_response);
    assert!(server.verify_hex(cbuf.as_bytes(), expected_response));
    let sbuf = dump_text(SIPE, "--- expected server signature buffer");
    let rspauth = dump_text(SIPE, "--- expected rspauth= value");
    assert_eq!(server.sign_hex(sbuf.as_bytes()), rspauth.to_ascii_lowercase());
    assert!(client.verify_hex(sbuf.as_bytes(), rspauth));
    assert!(!client.verify_hex(cbuf.as_bytes(), rspauth));
}

/// Vector B: no extended session security (OCS 2007, version 2).
#[test]
fn sipe_non_ess_signature_bit_exact() {
    let exported: [u8; 16] = arr(&unhex(kv(SIPE, "exported_session_key")));
    let f = flags::UNICODE | flags::SIGN | flags::DATAGRAM | flags::NTLM | flags::KEY_EXCH | flags::NEGOTIATE_128;
    let client = NtlmSession::new(Role::Client, f, &exported);
    let buffer = kv_line(SIPE, "signature buffer");
    let rspauth = kv(SIPE, "expected rspauth");
    assert!(client.verify_hex(buffer.as_bytes(), rspauth));
    let server = NtlmSession::new(Role::Server, f, &exported);
    assert_eq!(server.sign_hex(buffer.as_bytes()), rspauth.to_ascii_lowercase());
}

/// The first non-empty line after a `--- marker` line.
pub(super) fn dump_text<'a>(text: &'a str, marker: &str) -> &'a str {
    let start = text.find(marker).unwrap();
    text[start..].lines().skip(1).find(|l| !l.trim().is_empty()).unwrap().trim()
}

/// The whole value of a `key = value` line.
fn kv_line<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines().find_map(|l| l.split_once(" = ").filter(|(k, _)| k.trim() == key).map(|(_, v)| v.trim())).unwrap()
}
