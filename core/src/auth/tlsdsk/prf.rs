//! HMAC helpers and the two TLS pseudo-random functions (RFC 2246 §5, RFC 5246 §5).
//!
//! TLS-DSK keys are a PRF output (REFERENCE §4.3 step 4), so both PRFs are needed even though
//! nothing but one Finished record is ever encrypted.

use hmac::{Hmac, Mac};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The hash under an HMAC or a transcript digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
    Md5,
    Sha1,
    Sha256,
}

/// HMAC over the concatenation of `parts`.
///
/// `new_from_slice` cannot fail for HMAC (any key length is accepted); the empty fallback only keeps the
/// function total without a panic path, and an empty tag can never verify.
pub(crate) fn hmac(hash: Hash, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    macro_rules! run {
        ($d:ty) => {{
            let Ok(mut mac) = <Hmac<$d> as Mac>::new_from_slice(key) else { return Vec::new() };
            for part in parts {
                mac.update(part);
            }
            mac.finalize().into_bytes().to_vec()
        }};
    }
    match hash {
        Hash::Md5 => run!(Md5),
        Hash::Sha1 => run!(Sha1),
        Hash::Sha256 => run!(Sha256),
    }
}

/// P_hash(secret, seed) from RFC 2246 §5, XORed into `out` (so P_MD5 ⊕ P_SHA1 composes in place). The
/// intermediate A(i) and output blocks are wiped.
fn p_hash_xor(hash: Hash, secret: &[u8], seed: &[u8], out: &mut [u8]) {
    let mut a = Zeroizing::new(hmac(hash, secret, &[seed]));
    let mut filled = 0;
    while filled < out.len() {
        let block = Zeroizing::new(hmac(hash, secret, &[&a, seed]));
        if block.is_empty() {
            return;
        }
        for (o, b) in out[filled..].iter_mut().zip(block.iter()) {
            *o ^= b;
        }
        filled += block.len();
        a = Zeroizing::new(hmac(hash, secret, &[&a]));
    }
}

/// Which PRF the negotiated version uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prf {
    /// TLS 1.0/1.1: P_MD5(S1) ⊕ P_SHA1(S2) over the two (overlapping) halves of the secret.
    Tls10,
    /// TLS 1.2 with a SHA-256 suite: P_SHA256.
    Sha256,
}

impl Prf {
    /// PRF(secret, label, seed) truncated to `len` bytes.
    pub(crate) fn derive(self, secret: &[u8], label: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
        let mut label_seed = Vec::with_capacity(label.len() + seed.len());
        label_seed.extend_from_slice(label);
        label_seed.extend_from_slice(seed);
        let mut out = vec![0u8; len];
        match self {
            Prf::Tls10 => {
                let half = secret.len().div_ceil(2);
                p_hash_xor(Hash::Md5, &secret[..half], &label_seed, &mut out);
                p_hash_xor(Hash::Sha1, &secret[secret.len() - half..], &label_seed, &mut out);
            }
            Prf::Sha256 => p_hash_xor(Hash::Sha256, secret, &label_seed, &mut out),
        }
        out
    }

    /// The handshake digest a Finished message's verify_data is computed over.
    pub(crate) fn transcript_hash(self, transcript: &[u8]) -> Vec<u8> {
        match self {
            Prf::Tls10 => {
                let mut out = Md5::digest(transcript).to_vec();
                out.extend_from_slice(&Sha1::digest(transcript));
                out
            }
            Prf::Sha256 => Sha256::digest(transcript).to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2 keeps the HMAC wiring honest.
    #[test]
    fn hmac_sha256_rfc4231() {
        let tag = hmac(Hash::Sha256, b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    /// The widely used TLS 1.2 PRF (SHA-256) test vector from the IETF TLS list (Joseph Birr-Pixton's set).
    #[test]
    fn prf_sha256_vector() {
        let secret = hex("9bbe436ba940f017b17652849a71db35");
        let seed = hex("a0ba9f936cda311827a6f796ffd5198c");
        let out = Prf::Sha256.derive(&secret, b"test label", &seed, 100);
        assert_eq!(
            out,
            hex("e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af\
                 0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701\
                 87347b66")
        );
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or(0)).collect()
    }
}
