//! The record protection for the only two protected records TLS-DSK has: our Finished and the server's.
//!
//! AES-CBC with HMAC (MAC-then-encrypt, RFC 2246 §6.2.3.2 / RFC 5246 §6.2.3.2). TLS 1.0 chains the IV
//! from the key block (each Finished is the first record in its direction, so the key-block IV is the
//! one used); TLS 1.1+ sends a fresh explicit IV in front of each record.

use aes::{Aes128, Aes256};
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};

use zeroize::{Zeroize, ZeroizeOnDrop};

use super::TlsDskError;
use super::prf::{Hash, hmac};

const BLOCK: usize = 16;

/// One direction's record keys, cut from the key block. Never printed; wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct DirectionKeys {
    pub(crate) mac_key: Vec<u8>,
    pub(crate) enc_key: Vec<u8>,
    pub(crate) iv: [u8; BLOCK],
}

/// How records are protected under the negotiated version and suite.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Protection {
    pub(crate) version: u16,
    pub(crate) mac: Hash,
    pub(crate) explicit_iv: bool,
}

impl Protection {
    fn mac(&self, keys: &DirectionKeys, seq: u64, content_type: u8, data: &[u8]) -> Vec<u8> {
        let len = (data.len() as u16).to_be_bytes();
        let header = [&seq.to_be_bytes()[..], &[content_type], &self.version.to_be_bytes(), &len];
        hmac(self.mac, &keys.mac_key, &[header[0], header[1], header[2], header[3], data])
    }

    /// Protect `plaintext` as the record fragment for (`seq`, `content_type`). `fresh_iv` is used only when
    /// the version needs an explicit IV.
    pub(crate) fn seal(
        &self,
        keys: &DirectionKeys,
        seq: u64,
        content_type: u8,
        plaintext: &[u8],
        fresh_iv: [u8; BLOCK],
    ) -> Result<Vec<u8>, TlsDskError> {
        let mut buf = plaintext.to_vec();
        buf.extend_from_slice(&self.mac(keys, seq, content_type, plaintext));
        let pad = BLOCK - 1 - buf.len() % BLOCK;
        buf.extend(std::iter::repeat_n(pad as u8, pad + 1));
        let iv = if self.explicit_iv { fresh_iv } else { keys.iv };
        cbc_encrypt(&keys.enc_key, &iv, &mut buf)?;
        if self.explicit_iv {
            let mut out = iv.to_vec();
            out.extend_from_slice(&buf);
            return Ok(out);
        }
        Ok(buf)
    }

    /// Decrypt and authenticate a record fragment. Every failure is the same [`TlsDskError::BadRecordMac`]
    /// so the error says nothing about where the padding or MAC went wrong.
    pub(crate) fn open(
        &self,
        keys: &DirectionKeys,
        seq: u64,
        content_type: u8,
        fragment: &[u8],
    ) -> Result<Vec<u8>, TlsDskError> {
        let (iv, body) = if self.explicit_iv {
            if fragment.len() < BLOCK {
                return Err(TlsDskError::BadRecordMac);
            }
            let (iv, body) = fragment.split_at(BLOCK);
            let mut fixed = [0u8; BLOCK];
            fixed.copy_from_slice(iv);
            (fixed, body)
        } else {
            (keys.iv, fragment)
        };
        let mac_len = hmac(self.mac, b"", &[]).len();
        if body.is_empty() || body.len() % BLOCK != 0 || body.len() < mac_len + 1 {
            return Err(TlsDskError::BadRecordMac);
        }
        let mut buf = body.to_vec();
        cbc_decrypt(&keys.enc_key, &iv, &mut buf).map_err(|_| TlsDskError::BadRecordMac)?;
        let pad = usize::from(buf[buf.len() - 1]);
        if pad + 1 + mac_len > buf.len() || !buf[buf.len() - 1 - pad..].iter().all(|b| usize::from(*b) == pad) {
            return Err(TlsDskError::BadRecordMac);
        }
        let data_len = buf.len() - 1 - pad - mac_len;
        let expected = self.mac(keys, seq, content_type, &buf[..data_len]);
        if !constant_time_eq(&expected, &buf[data_len..data_len + mac_len]) {
            return Err(TlsDskError::BadRecordMac);
        }
        buf.truncate(data_len);
        Ok(buf)
    }
}

/// Compare without an early exit, so timing does not reveal how many leading bytes matched.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn cbc_encrypt(key: &[u8], iv: &[u8; BLOCK], buf: &mut [u8]) -> Result<(), TlsDskError> {
    let len = buf.len();
    let done = match key.len() {
        16 => cbc::Encryptor::<Aes128>::new_from_slices(key, iv)
            .map_err(|_| TlsDskError::Crypto("AES key setup"))?
            .encrypt_padded_mut::<NoPadding>(buf, len)
            .is_ok(),
        32 => cbc::Encryptor::<Aes256>::new_from_slices(key, iv)
            .map_err(|_| TlsDskError::Crypto("AES key setup"))?
            .encrypt_padded_mut::<NoPadding>(buf, len)
            .is_ok(),
        _ => false,
    };
    if done { Ok(()) } else { Err(TlsDskError::Crypto("AES-CBC encryption")) }
}

fn cbc_decrypt(key: &[u8], iv: &[u8; BLOCK], buf: &mut [u8]) -> Result<(), TlsDskError> {
    let done = match key.len() {
        16 => cbc::Decryptor::<Aes128>::new_from_slices(key, iv)
            .map_err(|_| TlsDskError::Crypto("AES key setup"))?
            .decrypt_padded_mut::<NoPadding>(buf)
            .is_ok(),
        32 => cbc::Decryptor::<Aes256>::new_from_slices(key, iv)
            .map_err(|_| TlsDskError::Crypto("AES key setup"))?
            .decrypt_padded_mut::<NoPadding>(buf)
            .is_ok(),
        _ => false,
    };
    if done { Ok(()) } else { Err(TlsDskError::Crypto("AES-CBC decryption")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> DirectionKeys {
        DirectionKeys { mac_key: vec![7; 20], enc_key: vec![9; 16], iv: [3; 16] }
    }

    #[test]
    fn seal_open_round_trip_both_iv_styles() {
        for explicit_iv in [false, true] {
            let p = Protection { version: 0x0301, mac: Hash::Sha1, explicit_iv };
            let sealed = p.seal(&keys(), 0, 22, b"finished message", [5; 16]).unwrap_or_default();
            assert_eq!(p.open(&keys(), 0, 22, &sealed).ok(), Some(b"finished message".to_vec()));
            assert_eq!(p.open(&keys(), 1, 22, &sealed), Err(TlsDskError::BadRecordMac), "wrong seq must fail");
        }
    }
}
