//! NTLM message signatures ([MS-NLMP] 3.4.4) and the connectionless SIP session built on them.
//!
//! [MS-SIPAE] signs every SIP message with NTLM `GSS_GetMIC` over the signature buffer
//! ([`crate::auth::signature`]). Two details differ from textbook NTLM and both are pinned by
//! captured traffic (`sipe-ntlm-sip-signatures.txt`):
//! - the sequence number is the constant [`SIP_SEQ_NUM`] (100) for every message, not `cnum`;
//! - connectionless ("datagram") NTLM re-keys RC4 per message: with extended session security
//!   the handle is `RC4(MD5(SealingKey ‖ LE32(seq)))`, without it the handle is the sealing key
//!   itself, restarted for each message.

use super::crypto::{self, Direction, Key16, Rc4Handle, SealKey};
use super::flags;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The SeqNum Office Communicator and OCS/Lync use for every SIP signature.
pub const SIP_SEQ_NUM: u32 = 100;

/// An NTLMSSP_MESSAGE_SIGNATURE (16 bytes: version 1, checksum or random pad + checksum, seq).
pub type Signature = [u8; 16];

/// MAC with extended session security (3.4.4.2):
/// `01000000 ‖ HMAC_MD5(SignKey, LE32(seq) ‖ msg)[0..8] ‖ LE32(seq)`, the checksum RC4-encrypted
/// with `handle` when KEY_EXCH was negotiated (`handle` is `None` otherwise).
pub fn mac_ess(sign_key: &Key16, handle: Option<&mut Rc4Handle>, seq: u32, msg: &[u8]) -> Signature {
    let seq_le = seq.to_le_bytes();
    let hmac = crypto::hmac_md5(sign_key, &[&seq_le, msg]);
    let mut checksum = [0u8; 8];
    checksum.copy_from_slice(&hmac[..8]);
    if let Some(h) = handle {
        h.apply(&mut checksum);
    }
    let mut sig = [0u8; 16];
    sig[..4].copy_from_slice(&1u32.to_le_bytes());
    sig[4..12].copy_from_slice(&checksum);
    sig[12..].copy_from_slice(&seq_le);
    sig
}

/// MAC without extended session security (3.4.4.1): RandomPad, CRC32 and SeqNum each
/// RC4-encrypted in turn with `handle`, SeqNum then XORed with `seq`. The RandomPad input
/// is zero; the output keeps its encrypted form as the 4.2.2 example prints it
/// (SIP zeroes it afterwards, see [`NtlmSession`]).
pub fn mac_without_ess(handle: &mut Rc4Handle, seq: u32, msg: &[u8]) -> Signature {
    let mut pad = [0u8; 4];
    handle.apply(&mut pad);
    let mut checksum = crc32fast::hash(msg).to_le_bytes();
    handle.apply(&mut checksum);
    let mut seq_enc = [0u8; 4];
    handle.apply(&mut seq_enc);
    let seq_enc = (u32::from_le_bytes(seq_enc) ^ seq).to_le_bytes();
    let mut sig = [0u8; 16];
    sig[..4].copy_from_slice(&1u32.to_le_bytes());
    sig[4..8].copy_from_slice(&pad);
    sig[8..12].copy_from_slice(&checksum);
    sig[12..].copy_from_slice(&seq_enc);
    sig
}

/// Which end of the security association a session signs for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The client: signs with client-to-server keys, verifies with server-to-client keys.
    Client,
    /// The server (lab pool): the opposite.
    Server,
}

/// Signing and sealing keys for one direction, wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
struct DirKeys {
    sign: Option<Key16>,
    seal: SealKey,
}

impl DirKeys {
    fn derive(negotiate_flags: u32, exported: &Key16, dir: Direction) -> DirKeys {
        DirKeys {
            sign: crypto::sign_key(negotiate_flags, exported, dir),
            seal: crypto::seal_key(negotiate_flags, exported, dir),
        }
    }
}

/// An established connectionless NTLM security association, as [MS-SIPAE] uses it: produces
/// `response` / `rspauth` values and checks the peer's.
///
/// Obtained from [`super::NtlmClient::authenticate`] (client side) or
/// [`super::server::NtlmServer::accept`] (server side). Key material never appears in `Debug` and is
/// wiped when the session (each clone) is dropped.
#[derive(Clone)]
pub struct NtlmSession {
    role: Role,
    negotiate_flags: u32,
    outgoing: DirKeys,
    incoming: DirKeys,
}

impl std::fmt::Debug for NtlmSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NtlmSession")
            .field("role", &self.role)
            .field("negotiate_flags", &format_args!("{:#010x}", self.negotiate_flags))
            .finish_non_exhaustive()
    }
}

impl NtlmSession {
    /// Derives both directions' keys from the ExportedSessionKey and the negotiated flags
    /// (the flags of the AUTHENTICATE_MESSAGE decide ESS, KEY_EXCH and key strength).
    pub fn new(role: Role, negotiate_flags: u32, exported_session_key: &[u8; 16]) -> NtlmSession {
        let c2s = DirKeys::derive(negotiate_flags, exported_session_key, Direction::ClientToServer);
        let s2c = DirKeys::derive(negotiate_flags, exported_session_key, Direction::ServerToClient);
        let (outgoing, incoming) = match role {
            Role::Client => (c2s, s2c),
            Role::Server => (s2c, c2s),
        };
        NtlmSession { role, negotiate_flags, outgoing, incoming }
    }

    /// Which side this session signs for.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The negotiated NTLM flags.
    pub fn negotiate_flags(&self) -> u32 {
        self.negotiate_flags
    }

    /// Signs a [MS-SIPAE] signature buffer with this side's outgoing keys.
    pub fn sign(&self, buffer: &[u8]) -> Signature {
        datagram_mac(self.negotiate_flags, &self.outgoing, buffer)
    }

    /// Signs and formats the signature the way SIP carries it (32 hex digits, lower case).
    pub fn sign_hex(&self, buffer: &[u8]) -> String {
        hex(&self.sign(buffer))
    }

    /// Checks a peer's signature over `buffer` (constant time).
    pub fn verify(&self, buffer: &[u8], signature: &Signature) -> bool {
        let expected = datagram_mac(self.negotiate_flags, &self.incoming, buffer);
        crypto::ct_eq(&expected, signature)
    }

    /// Checks a peer's signature given as hex (`response=` / `rspauth=`; either case).
    /// Anything that is not exactly 32 hex digits fails.
    pub fn verify_hex(&self, buffer: &[u8], signature_hex: &str) -> bool {
        match unhex16(signature_hex) {
            Some(sig) => self.verify(buffer, &sig),
            None => false,
        }
    }
}

/// The SIP MAC: SeqNum 100 and a fresh RC4 handle per message.
fn datagram_mac(negotiate_flags: u32, keys: &DirKeys, buffer: &[u8]) -> Signature {
    match (&keys.sign, &keys.seal) {
        (Some(sign), SealKey::K16(seal)) => {
            if negotiate_flags & flags::KEY_EXCH != 0 {
                let mut handle = Rc4Handle::new(&Zeroizing::new(crypto::datagram_seal_key(seal, SIP_SEQ_NUM)));
                mac_ess(sign, Some(&mut handle), SIP_SEQ_NUM, buffer)
            } else {
                mac_ess(sign, None, SIP_SEQ_NUM, buffer)
            }
        }
        (_, seal) => {
            let mut handle = Rc4Handle::for_seal_key(seal);
            let mut sig = mac_without_ess(&mut handle, SIP_SEQ_NUM, buffer);
            // OCS sends the RandomPad as zero (3.4.4.1: "Set RandomPad to 0" after use).
            sig[4..8].fill(0);
            sig
        }
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

/// Parses exactly 32 hex digits (either case) into 16 bytes.
pub fn unhex16(s: &str) -> Option<[u8; 16]> {
    let bytes = s.as_bytes();
    if bytes.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}
