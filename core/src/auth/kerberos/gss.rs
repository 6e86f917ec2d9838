//! The Kerberos GSS-API mechanism on the wire (RFC 1964, RFC 4121, RFC 4757) and SPNEGO (RFC 4178) for
//! HTTP Negotiate (RFC 4559): the initial context token around an AP-REQ, and the MIC tokens SIP signatures
//! are (REFERENCE.md §4.3): RFC 4121's `04 04` token for the AES etypes, RFC 1964's `01 01` token with
//! SGN_ALG 0x0011 (HMAC-MD5, RFC 4757) for RC4-HMAC.

use super::KerberosError;
use super::crypto::{self, Etype, Key};
use super::der::{self, Fields, ctx, octets, seq, tlv};
use crate::auth::ntlm::crypto::{ct_eq, hmac_md5};

/// 1.2.840.113554.1.2.2, the Kerberos V5 GSS-API mechanism.
const KRB5_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
/// 1.2.840.48018.1.2.2, the OID Windows puts first in SPNEGO (the same mechanism).
const MS_KRB5_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02];
/// 1.3.6.1.5.5.2, SPNEGO.
const SPNEGO_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];

/// GSS context flags (RFC 2744) carried in the GSS checksum.
pub const GSS_MUTUAL: u32 = 2;
pub const GSS_INTEG: u32 = 32;

/// Key usages of RFC 4121 per-message tokens.
const ACCEPTOR_SIGN: u32 = 23;
const INITIATOR_SIGN: u32 = 25;
/// RFC 4757's MIC usage.
const RC4_SIGN: u32 = 15;

/// RFC 4121 token flags.
const SENT_BY_ACCEPTOR: u8 = 0x01;
const ACCEPTOR_SUBKEY: u8 = 0x04;

fn oid(bytes: &[u8]) -> Vec<u8> {
    tlv(0x06, bytes)
}

/// The GSS checksum value (type 0x8003, RFC 4121 §4.1.1): no channel bindings, `flags`.
pub fn checksum_value(flags: u32) -> Vec<u8> {
    let mut v = 16u32.to_le_bytes().to_vec();
    v.extend_from_slice(&[0u8; 16]);
    v.extend_from_slice(&flags.to_le_bytes());
    v
}

/// The initial context token: `[APPLICATION 0]` framing, the krb5 OID, TOK_ID 01 00, the AP-REQ.
pub fn initial_token(ap_req: &[u8]) -> Vec<u8> {
    let mut inner = oid(KRB5_OID);
    inner.extend_from_slice(&[0x01, 0x00]);
    inner.extend_from_slice(ap_req);
    tlv(0x60, &inner)
}

/// The AP-REP (or KRB-ERROR) inside a krb5 mechanism token (TOK_ID 02 00, or 03 00 for an error).
pub fn unwrap_reply(token: &[u8]) -> Result<&[u8], KerberosError> {
    let inner = der::expect(token, 0x60)?;
    let (t, rest) = der::read(inner)?;
    if t.tag != 0x06 || (t.content != KRB5_OID && t.content != MS_KRB5_OID) {
        return Err(KerberosError::Malformed("not a Kerberos mechanism token"));
    }
    match rest {
        [0x02, 0x00, body @ ..] | [0x03, 0x00, body @ ..] => Ok(body),
        _ => Err(KerberosError::Malformed("unexpected Kerberos token id")),
    }
}

/// A SPNEGO NegTokenInit offering Kerberos with `mech_token` (the initial context token) optimistically.
pub fn spnego_init(mech_token: &[u8]) -> Vec<u8> {
    let mechs = seq(&[oid(KRB5_OID)]);
    let init = seq(&[ctx(0, mechs), ctx(2, octets(mech_token))]);
    let mut inner = oid(SPNEGO_OID);
    inner.extend_from_slice(&ctx(0, init));
    tlv(0x60, &inner)
}

/// What a SPNEGO NegTokenResp says.
#[derive(Debug, PartialEq, Eq)]
pub struct SpnegoReply<'a> {
    /// 0 accept-completed, 1 accept-incomplete, 2 reject, 3 request-mic.
    pub state: Option<i64>,
    pub response_token: Option<&'a [u8]>,
}

pub fn spnego_reply(token: &[u8]) -> Result<SpnegoReply<'_>, KerberosError> {
    let f = Fields::of(der::expect(token, 0xa1)?)?;
    let state = match f.get(0) {
        Some(e) => {
            let c = der::expect(e, 0x0a)?;
            Some(*c.first().ok_or(KerberosError::Malformed("negState"))? as i64)
        }
        None => None,
    };
    let response_token = f.get(2).map(|t| der::expect(t, 0x04)).transpose()?;
    Ok(SpnegoReply { state, response_token })
}

/// Who made a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Initiator,
    Acceptor,
}

/// GSS_GetMIC over `message` with the context key `key`, sequence number `seq`, from `side`.
pub fn get_mic(key: &Key, side: Side, seq: u64, message: &[u8]) -> Vec<u8> {
    match key.etype {
        Etype::Aes128 | Etype::Aes256 => {
            let flags = if side == Side::Acceptor { SENT_BY_ACCEPTOR } else { 0 };
            let mut header = vec![0x04, 0x04, flags, 0xff, 0xff, 0xff, 0xff, 0xff];
            header.extend_from_slice(&seq.to_be_bytes());
            let usage = if side == Side::Acceptor { ACCEPTOR_SIGN } else { INITIATOR_SIGN };
            let mut data = message.to_vec();
            data.extend_from_slice(&header);
            let mut token = header;
            token.extend_from_slice(&key.checksum(usage, &data));
            token
        }
        Etype::Rc4Hmac => {
            let header = [0x01, 0x01, 0x11, 0x00, 0xff, 0xff, 0xff, 0xff];
            let cksum = rc4_checksum(key, &header, message);
            let mut snd_seq = (seq as u32).to_be_bytes().to_vec();
            let direction = if side == Side::Acceptor { 0xff } else { 0x00 };
            snd_seq.extend_from_slice(&[direction; 4]);
            crypto::rc4_apply(&rc4_seq_key(key, &cksum), &mut snd_seq);
            let mut inner = oid(KRB5_OID);
            inner.extend_from_slice(&header);
            inner.extend_from_slice(&snd_seq);
            inner.extend_from_slice(&cksum);
            tlv(0x60, &inner)
        }
    }
}

/// GSS_VerifyMIC: `token` must be a MIC over `message` made by `from` with `key`. Sequence numbers are not
/// checked: the contexts SIP uses request neither replay nor sequence detection, and real pools send SND_SEQ 0
/// on every message (tieto/sipe#119's log, snum 78).
pub fn verify_mic(key: &Key, from: Side, message: &[u8], token: &[u8]) -> Result<(), KerberosError> {
    let bad = || KerberosError::BadMic;
    match key.etype {
        Etype::Aes128 | Etype::Aes256 => {
            if token.len() != 16 + 12 || token[..2] != [0x04, 0x04] || token[3..8] != [0xff; 5] {
                return Err(bad());
            }
            let flags = token[2];
            let by_acceptor = flags & SENT_BY_ACCEPTOR != 0;
            if by_acceptor != (from == Side::Acceptor) || flags & ACCEPTOR_SUBKEY != 0 {
                return Err(bad());
            }
            let usage = if from == Side::Acceptor { ACCEPTOR_SIGN } else { INITIATOR_SIGN };
            let mut data = message.to_vec();
            data.extend_from_slice(&token[..16]);
            if ct_eq(&key.checksum(usage, &data), &token[16..]) { Ok(()) } else { Err(bad()) }
        }
        Etype::Rc4Hmac => {
            let inner = der::expect(token, 0x60).map_err(|_| bad())?;
            let (t, rest) = der::read(inner).map_err(|_| bad())?;
            if t.tag != 0x06 || t.content != KRB5_OID || rest.len() != 8 + 8 + 8 {
                return Err(bad());
            }
            let (header, rest) = rest.split_at(8);
            if header != [0x01, 0x01, 0x11, 0x00, 0xff, 0xff, 0xff, 0xff] {
                return Err(bad());
            }
            let (snd_seq, cksum) = rest.split_at(8);
            let expected = rc4_checksum(key, header, message);
            if !ct_eq(&expected, cksum) {
                return Err(bad());
            }
            let mut plain = snd_seq.to_vec();
            crypto::rc4_apply(&rc4_seq_key(key, &expected), &mut plain);
            let direction = if from == Side::Acceptor { 0xff } else { 0x00 };
            if plain[4..] != [direction; 4] {
                return Err(bad());
            }
            Ok(())
        }
    }
}

fn rc4_checksum(key: &Key, header: &[u8], message: &[u8]) -> [u8; 8] {
    let mut data = header.to_vec();
    data.extend_from_slice(message);
    let full = key.checksum(RC4_SIGN, &data);
    let mut out = [0u8; 8];
    out.copy_from_slice(&full[..8]);
    out
}

/// RFC 4757 §7.3: the key that encrypts SND_SEQ, from the context key and the checksum.
fn rc4_seq_key(key: &Key, cksum: &[u8; 8]) -> [u8; 16] {
    let k = key.rc4_hmac(&[&0u32.to_le_bytes()]);
    hmac_md5(&k, &[cksum])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn mic_tokens_verify_from_the_other_side_only() {
        for etype in Etype::ALL {
            let key = Key::new(etype, &vec![3u8; etype.key_len()]).unwrap();
            let msg = b"<Kerberos><41b3a1c2><1><SIP Communications Service><sip/pool01.contoso.lab>";
            let token = get_mic(&key, Side::Acceptor, 0, msg);
            verify_mic(&key, Side::Acceptor, msg, &token).unwrap();
            assert!(verify_mic(&key, Side::Initiator, msg, &token).is_err(), "{etype:?}: a reflected token");
            assert!(verify_mic(&key, Side::Acceptor, b"another message", &token).is_err());
            let other = Key::new(etype, &vec![4u8; etype.key_len()]).unwrap();
            assert!(verify_mic(&other, Side::Acceptor, msg, &token).is_err());
            let mut bad = token.clone();
            *bad.last_mut().unwrap() ^= 1;
            assert!(verify_mic(&key, Side::Acceptor, msg, &bad).is_err());
            assert!(verify_mic(&key, Side::Acceptor, msg, &token[..token.len() - 1]).is_err());
        }
    }

    /// The token layouts REFERENCE.md §4.3 decodes from the [MS-SIPAE] example and tieto/sipe#119.
    #[test]
    fn token_layouts_match_what_pools_send() {
        let rc4 = Key::new(Etype::Rc4Hmac, &[1; 16]).unwrap();
        let t = get_mic(&rc4, Side::Acceptor, 1, b"x");
        assert_eq!(t.len(), 37);
        assert_eq!(&t[..17], &hex("602306092a864886f71201020201011100ffffffff")[..17]);
        let aes = Key::new(Etype::Aes256, &[1; 32]).unwrap();
        let t = get_mic(&aes, Side::Acceptor, 0, b"x");
        assert_eq!(&t[..16], &hex("040401ffffffffff0000000000000000")[..]);
        assert_eq!(t.len(), 28);
    }

    #[test]
    fn spnego_wraps_and_reads() {
        let init = spnego_init(&initial_token(b"\x6e\x00"));
        assert_eq!(init[0], 0x60);
        let reply = tlv(0xa1, &seq(&[ctx(0, tlv(0x0a, &[0])), ctx(2, octets(b"tok"))]));
        let r = spnego_reply(&reply).unwrap();
        assert_eq!(r.state, Some(0));
        assert_eq!(r.response_token, Some(&b"tok"[..]));
        assert!(spnego_reply(&[0xa1, 0x01]).is_err());
        assert!(unwrap_reply(&initial_token(b"x")).is_err(), "an initial token is not a reply");
    }
}
