//! The NTLM key and response functions of [MS-NLMP] 3.3 and 3.4.5, each a pure function of
//! its inputs so that every intermediate value of the 4.2 test vectors can be checked.
//!
//! Only what NTLMv2 needs is here, plus the NTLMv1 pieces that the session-security code
//! shares (NTOWFv1, its SessionBaseKey and the ESS KXKEY): sfbkit never sends an NTLMv1
//! response, so LMOWFv1 (DES) is deliberately absent.

use hmac::{Hmac, Mac as _};
use md4::Md4;
use md5::{Digest, Md5};
use rc4::consts::{U8, U16};
use rc4::{KeyInit, Rc4, StreamCipher};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::flags;

/// A 16-byte key or hash (NTOWF, SessionBaseKey, signing and sealing keys).
pub type Key16 = [u8; 16];

/// MD4 of `data` ([MS-NLMP] 6: `MD4(M)`).
pub fn md4(data: &[u8]) -> Key16 {
    Md4::digest(data).into()
}

/// MD5 over the concatenation of `parts`.
pub fn md5(parts: &[&[u8]]) -> Key16 {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// HMAC_MD5(key, concatenation of `parts`).
pub fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> Key16 {
    // HMAC accepts keys of any length, so this constructor cannot fail; fall back to an
    // all-zero tag rather than panicking if the crate ever changes that contract.
    let Ok(mut mac) = <Hmac<Md5> as KeyInit>::new_from_slice(key) else { return [0; 16] };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// UTF-16LE encoding of a string (NTLM's "Unicode").
pub fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// Constant-time equality for MACs and proofs: the time taken does not depend on where the
/// first differing byte is, so a forger learns nothing from response timing.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// NTOWFv1(Passwd) = MD4(UNICODE(Passwd)) (3.3.1). The UTF-16 copy of the password is wiped.
pub fn ntowf_v1(password: &str) -> Key16 {
    md4(&Zeroizing::new(utf16le(password)))
}

/// NTLMv1 SessionBaseKey = MD4(NTOWFv1) (3.3.1), used by the KXKEY test vector.
pub fn session_base_key_v1(ntowf_v1: &Key16) -> Key16 {
    md4(ntowf_v1)
}

/// NTOWFv2 = HMAC_MD5(MD4(UNICODE(Passwd)), UNICODE(Uppercase(User) ‖ UserDom)) (3.3.2).
/// The domain keeps the case the user typed; only the user name is upper-cased.
pub fn ntowf_v2(password: &str, user: &str, domain: &str) -> Key16 {
    let mut ud = utf16le(&user.to_uppercase());
    ud.extend(utf16le(domain));
    hmac_md5(&Zeroizing::new(ntowf_v1(password))[..], &[&ud])
}

/// LMOWFv2 is defined to be NTOWFv2 (3.3.2).
pub fn lmowf_v2(password: &str, user: &str, domain: &str) -> Key16 {
    ntowf_v2(password, user, domain)
}

/// The result of the NTLMv2 response computation (3.3.2). Its keys and proofs are wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct V2Response {
    /// HMAC_MD5(NTOWFv2, ServerChallenge ‖ temp).
    pub nt_proof_str: Key16,
    /// NTChallengeResponse = NTProofStr ‖ temp.
    pub nt_response: Vec<u8>,
    /// LMv2 = HMAC_MD5(LMOWFv2, ServerChallenge ‖ ClientChallenge) ‖ ClientChallenge.
    pub lm_response: [u8; 24],
    /// HMAC_MD5(NTOWFv2, NTProofStr); also the KeyExchangeKey for NTLMv2.
    pub session_base_key: Key16,
}

impl std::fmt::Debug for V2Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("V2Response").field("nt_response_len", &self.nt_response.len()).finish_non_exhaustive()
    }
}

/// `temp` of 3.3.2: `01 01 0000 00000000 Time ClientChallenge 00000000 AvPairs 00000000`.
pub fn v2_temp(time: u64, client_challenge: &[u8; 8], target_info: &[u8]) -> Vec<u8> {
    let mut t = Vec::with_capacity(32 + target_info.len());
    t.extend_from_slice(&[1, 1, 0, 0, 0, 0, 0, 0]);
    t.extend_from_slice(&time.to_le_bytes());
    t.extend_from_slice(client_challenge);
    t.extend_from_slice(&[0; 4]);
    t.extend_from_slice(target_info);
    t.extend_from_slice(&[0; 4]);
    t
}

/// ComputeResponse for NTLMv2 (3.3.2) given NTOWFv2 (= LMOWFv2).
pub fn v2_response(
    ntowf: &Key16,
    server_challenge: &[u8; 8],
    client_challenge: &[u8; 8],
    time: u64,
    target_info: &[u8],
) -> V2Response {
    let temp = v2_temp(time, client_challenge, target_info);
    let nt_proof_str = hmac_md5(ntowf, &[server_challenge, &temp]);
    let mut nt_response = nt_proof_str.to_vec();
    nt_response.extend_from_slice(&temp);
    let mut lm_response = [0u8; 24];
    lm_response[..16].copy_from_slice(&hmac_md5(ntowf, &[server_challenge, client_challenge]));
    lm_response[16..].copy_from_slice(client_challenge);
    let session_base_key = hmac_md5(ntowf, &[&nt_proof_str]);
    V2Response { nt_proof_str, nt_response, lm_response, session_base_key }
}

/// KXKEY for NTLMv1 with extended session security (3.4.5.1):
/// HMAC_MD5(SessionBaseKey, ServerChallenge ‖ LmChallengeResponse[0..8]). For NTLMv2 the
/// KeyExchangeKey is the SessionBaseKey itself.
pub fn kxkey_v1_ess(session_base_key: &Key16, server_challenge: &[u8; 8], lm_response: &[u8]) -> Key16 {
    let lm8 = lm_response.get(..8).unwrap_or(lm_response);
    hmac_md5(session_base_key, &[server_challenge, lm8])
}

/// RC4(key, data) with a fresh cipher; RC4 is its own inverse, so this both encrypts the
/// ExportedSessionKey into EncryptedRandomSessionKey and decrypts it on the server.
pub fn rc4_once(key: &Key16, data: &Key16) -> Key16 {
    let mut out = *data;
    Rc4Handle::new(key).apply(&mut out);
    out
}

/// An RC4 keystream ("sealing handle", 3.4.5.3); keys are 16 bytes (ESS or 128-bit
/// non-ESS) or 8 bytes (56/40-bit non-ESS keys of 3.4.5.3). The RC4 state is wiped on drop (the
/// `rc4` crate's `zeroize` feature).
pub enum Rc4Handle {
    /// 128-bit key.
    K16(Box<Rc4<U16>>),
    /// 64-bit key (56- or 40-bit strength padded with the spec's constant bytes).
    K8(Box<Rc4<U8>>),
}

impl std::fmt::Debug for Rc4Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rc4Handle(..)")
    }
}

impl Rc4Handle {
    /// A handle keyed with a 16-byte key.
    pub fn new(key: &Key16) -> Rc4Handle {
        Rc4Handle::K16(Box::new(Rc4::<U16>::new(&(*key).into())))
    }
    /// A handle for a sealing key as [`SealKey`] describes it.
    pub fn for_seal_key(key: &SealKey) -> Rc4Handle {
        match key {
            SealKey::K16(k) => Rc4Handle::new(k),
            SealKey::K8(k) => Rc4Handle::K8(Box::new(Rc4::<U8>::new(&(*k).into()))),
        }
    }
    /// Encrypts (or decrypts) `data` in place, advancing the keystream.
    pub fn apply(&mut self, data: &mut [u8]) {
        match self {
            Rc4Handle::K16(c) => c.apply_keystream(data),
            Rc4Handle::K8(c) => c.apply_keystream(data),
        }
    }
}

/// Which side of the session a key belongs to (the magic constants of 3.4.5.2/3.4.5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Messages the client sends.
    ClientToServer,
    /// Messages the server sends.
    ServerToClient,
}

impl Direction {
    fn sign_magic(self) -> &'static [u8] {
        match self {
            Direction::ClientToServer => b"session key to client-to-server signing key magic constant\0",
            Direction::ServerToClient => b"session key to server-to-client signing key magic constant\0",
        }
    }
    fn seal_magic(self) -> &'static [u8] {
        match self {
            Direction::ClientToServer => b"session key to client-to-server sealing key magic constant\0",
            Direction::ServerToClient => b"session key to server-to-client sealing key magic constant\0",
        }
    }
}

/// SIGNKEY (3.4.5.2): MD5(ExportedSessionKey ‖ magic) with ESS; without ESS there is no
/// signing key (the CRC32 MAC is only sealed), so `None`.
pub fn sign_key(negotiate_flags: u32, exported_session_key: &Key16, dir: Direction) -> Option<Key16> {
    if negotiate_flags & flags::EXTENDED_SESSIONSECURITY == 0 {
        return None;
    }
    Some(md5(&[exported_session_key, dir.sign_magic()]))
}

/// A sealing key: 16 bytes, or 8 bytes for the weakened non-ESS variants. Wiped on drop.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub enum SealKey {
    /// 16-byte key.
    K16(Key16),
    /// 8-byte key (`key[0..7] ‖ A0` or `key[0..5] ‖ E5 38 B0`).
    K8([u8; 8]),
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(..)")
    }
}

/// SEALKEY (3.4.5.3). With ESS the key is cut to 128/56/40 bits by the negotiated strength and
/// hashed with the direction's magic constant; without ESS (and LM_KEY) the 56/40-bit forms
/// are padded with fixed bytes, otherwise the ExportedSessionKey is used as is.
pub fn seal_key(negotiate_flags: u32, exported_session_key: &Key16, dir: Direction) -> SealKey {
    let k = exported_session_key;
    if negotiate_flags & flags::EXTENDED_SESSIONSECURITY != 0 {
        let cut: &[u8] = if negotiate_flags & flags::NEGOTIATE_128 != 0 {
            k
        } else if negotiate_flags & flags::NEGOTIATE_56 != 0 {
            &k[..7]
        } else {
            &k[..5]
        };
        SealKey::K16(md5(&[cut, dir.seal_magic()]))
    } else if negotiate_flags & flags::LM_KEY != 0 {
        if negotiate_flags & flags::NEGOTIATE_56 != 0 {
            SealKey::K8([k[0], k[1], k[2], k[3], k[4], k[5], k[6], 0xA0])
        } else {
            SealKey::K8([k[0], k[1], k[2], k[3], k[4], 0xE5, 0x38, 0xB0])
        }
    } else {
        SealKey::K16(*k)
    }
}

/// The connectionless per-message sealing key of 3.4.4.2 / [MS-SIPAE]: MD5(SealKey ‖ LE32(seq)).
pub fn datagram_seal_key(seal_key: &Key16, seq: u32) -> Key16 {
    md5(&[seal_key, &seq.to_le_bytes()])
}

/// The current time as a FILETIME (100 ns ticks since 1601-01-01), the NTLMv2 blob's clock.
pub fn filetime(unix: std::time::Duration) -> u64 {
    const EPOCH_DIFF_SECS: u64 = 11_644_473_600;
    (unix.as_secs() + EPOCH_DIFF_SECS) * 10_000_000 + u64::from(unix.subsec_nanos() / 100)
}
