//! The TLS-DSK record and handshake readers, reachable from the fuzz targets (`fuzz/`) only: this module
//! exists under `--cfg fuzzing` and is re-exported by `crate::fuzzing`. Each function is a thin owned-data
//! wrapper so the targets need none of the crate-private types.

use super::TlsDskError;
use super::codec;
use super::prf::Hash;
use super::record::{DirectionKeys, Protection};

/// [`codec::split_records`]: (content type, fragment) per record.
pub fn split_records(flight: &[u8]) -> Result<Vec<(u8, Vec<u8>)>, TlsDskError> {
    Ok(codec::split_records(flight)?.into_iter().map(|r| (r.content_type, r.fragment.to_vec())).collect())
}

/// [`codec::split_handshakes`]: (type, encoded message, body) per handshake message.
pub fn split_handshakes(data: &[u8]) -> Result<Vec<(u8, Vec<u8>, Vec<u8>)>, TlsDskError> {
    Ok(codec::split_handshakes(data)?.into_iter().map(|h| (h.msg_type, h.encoded.to_vec(), h.body.to_vec())).collect())
}

/// [`codec::push_handshake`] into a new buffer.
pub fn encode_handshake(msg_type: u8, body: &[u8]) -> Result<Vec<u8>, TlsDskError> {
    let mut out = Vec::new();
    codec::push_handshake(&mut out, msg_type, body)?;
    Ok(out)
}

/// [`codec::push_vec`] into a new buffer (`prefix_len` 1, 2 or 3; the caller keeps the length in range).
pub fn encode_vec(prefix_len: usize, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    codec::push_vec(&mut out, prefix_len, data);
    out
}

/// [`codec::parse_server_hello`]: (version, random, cipher suite, compression).
pub fn parse_server_hello(body: &[u8]) -> Result<(u16, [u8; 32], u16, u8), TlsDskError> {
    let h = codec::parse_server_hello(body)?;
    Ok((h.version, h.random, h.cipher_suite, h.compression))
}

/// [`codec::parse_certificate_list`], certificates copied out.
pub fn parse_certificate_list(body: &[u8]) -> Result<Vec<Vec<u8>>, TlsDskError> {
    Ok(codec::parse_certificate_list(body)?.into_iter().map(<[u8]>::to_vec).collect())
}

/// [`codec::parse_certificate_request`].
pub fn parse_certificate_request(body: &[u8], tls12: bool) -> Result<Vec<u16>, TlsDskError> {
    codec::parse_certificate_request(body, tls12)
}

/// [`codec::alert`].
pub fn alert(fragment: &[u8]) -> TlsDskError {
    codec::alert(fragment)
}

/// Record protection with fixed keys: `key_len` 16 or 32 (anything else fails as a crypto error), SHA-256
/// MAC when `sha256`, explicit IVs (TLS 1.1+) when `explicit_iv`.
pub struct RecordKeys {
    protection: Protection,
    keys: DirectionKeys,
}

impl RecordKeys {
    pub fn new(version: u16, sha256: bool, explicit_iv: bool, key_len: usize) -> RecordKeys {
        let mac = if sha256 { Hash::Sha256 } else { Hash::Sha1 };
        let mac_len = if sha256 { 32 } else { 20 };
        RecordKeys {
            protection: Protection { version, mac, explicit_iv },
            keys: DirectionKeys { mac_key: vec![0x5a; mac_len], enc_key: vec![0xa5; key_len], iv: [0x3c; 16] },
        }
    }

    /// `Protection::open`.
    pub fn open(&self, seq: u64, content_type: u8, fragment: &[u8]) -> Result<Vec<u8>, TlsDskError> {
        self.protection.open(&self.keys, seq, content_type, fragment)
    }

    /// `Protection::seal`.
    pub fn seal(&self, seq: u64, content_type: u8, plaintext: &[u8], iv: [u8; 16]) -> Result<Vec<u8>, TlsDskError> {
        self.protection.seal(&self.keys, seq, content_type, plaintext, iv)
    }
}
