//! NTLM wire messages ([MS-NLMP] 2.2): NEGOTIATE, CHALLENGE, AUTHENTICATE and AV pairs.
//!
//! Parsing is bounded and total: every length/offset pair ("Fields") is checked against the
//! buffer before it is used, so a hostile peer gets a typed [`NtlmError`], never a panic.
//! Payload bytes are kept raw (TargetInfo in particular is echoed byte for byte inside the
//! NTLMv2 response, so it must not be re-encoded).

use super::NtlmError;
use super::flags;

/// `"NTLMSSP\0"`.
pub const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";
/// Largest NTLM message accepted. Real ones are a few hundred bytes; the bound keeps a peer
/// from making us walk megabytes of AV pairs.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// AV pair ids used by sfbkit (2.2.2.1).
pub mod av {
    /// End of the list.
    pub const EOL: u16 = 0;
    /// NetBIOS computer name.
    pub const NB_COMPUTER_NAME: u16 = 1;
    /// NetBIOS domain name.
    pub const NB_DOMAIN_NAME: u16 = 2;
    /// DNS computer name (FQDN).
    pub const DNS_COMPUTER_NAME: u16 = 3;
    /// DNS domain name.
    pub const DNS_DOMAIN_NAME: u16 = 4;
    /// DNS tree name.
    pub const DNS_TREE_NAME: u16 = 5;
    /// Flags; bit 0x2 says the AUTHENTICATE_MESSAGE carries a MIC.
    pub const FLAGS: u16 = 6;
    /// The server's FILETIME; its presence switches on the MIC/zero-LM rules of 3.1.5.1.2.
    pub const TIMESTAMP: u16 = 7;
}

/// One AV_PAIR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvPair {
    /// AvId.
    pub id: u16,
    /// The value bytes (UTF-16LE for the name ids).
    pub value: Vec<u8>,
}

/// Parses an AV pair list that must end with MsvAvEOL. Bytes after EOL are ignored (Windows
/// pads some lists), a list without EOL is rejected.
pub fn parse_av_pairs(data: &[u8]) -> Result<Vec<AvPair>, NtlmError> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    loop {
        let head = data.get(pos..pos + 4).ok_or(NtlmError::BadTargetInfo { reason: "AV pair list has no MsvAvEOL" })?;
        let id = u16::from_le_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_le_bytes([head[2], head[3]]));
        pos += 4;
        if id == av::EOL {
            return Ok(out);
        }
        let value =
            data.get(pos..pos + len).ok_or(NtlmError::BadTargetInfo { reason: "AV pair runs past the list" })?;
        out.push(AvPair { id, value: value.to_vec() });
        pos += len;
    }
}

/// Serializes AV pairs followed by MsvAvEOL.
pub fn write_av_pairs(pairs: &[AvPair]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in pairs {
        out.extend_from_slice(&p.id.to_le_bytes());
        out.extend_from_slice(&(p.value.len().min(usize::from(u16::MAX)) as u16).to_le_bytes());
        out.extend_from_slice(&p.value[..p.value.len().min(usize::from(u16::MAX))]);
    }
    out.extend_from_slice(&[0; 4]);
    out
}

/// Reads the AV pair timestamp (MsvAvTimestamp), if any.
pub fn timestamp(pairs: &[AvPair]) -> Option<u64> {
    let p = pairs.iter().find(|p| p.id == av::TIMESTAMP)?;
    Some(u64::from_le_bytes(p.value.get(..8)?.try_into().ok()?))
}

/// Checks the common header and the message type.
fn check_header(buf: &[u8], expected: u32) -> Result<(), NtlmError> {
    if buf.len() > MAX_MESSAGE_BYTES {
        return Err(NtlmError::TooLarge { len: buf.len(), limit: MAX_MESSAGE_BYTES });
    }
    if buf.get(..8) != Some(&SIGNATURE[..]) {
        return Err(NtlmError::BadSignature);
    }
    let found = read_u32(buf, 8, "MessageType")?;
    if found != expected {
        return Err(NtlmError::WrongMessageType { expected, found });
    }
    Ok(())
}

fn read_u32(buf: &[u8], at: usize, field: &'static str) -> Result<u32, NtlmError> {
    let b = buf.get(at..at + 4).ok_or(NtlmError::Truncated { field })?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Reads a `Fields` structure at `at` and returns the payload slice it points to.
fn read_field<'a>(buf: &'a [u8], at: usize, field: &'static str) -> Result<&'a [u8], NtlmError> {
    let f = buf.get(at..at + 8).ok_or(NtlmError::Truncated { field })?;
    let len = usize::from(u16::from_le_bytes([f[0], f[1]]));
    let offset = u32::from_le_bytes([f[4], f[5], f[6], f[7]]) as usize;
    if len == 0 {
        return Ok(&[]);
    }
    offset.checked_add(len).and_then(|end| buf.get(offset..end)).ok_or(NtlmError::FieldOutOfBounds { field })
}

/// Reads an 8-byte array.
fn read8(buf: &[u8], at: usize, field: &'static str) -> Result<[u8; 8], NtlmError> {
    let b = buf.get(at..at + 8).ok_or(NtlmError::Truncated { field })?;
    let mut out = [0u8; 8];
    out.copy_from_slice(b);
    Ok(out)
}

/// Lays out a message: fixed header, then each payload appended with its Fields at `slots`.
struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn new(message_type: u32, fixed_len: usize) -> Writer {
        let mut buf = vec![0u8; fixed_len];
        buf[..8].copy_from_slice(SIGNATURE);
        buf[8..12].copy_from_slice(&message_type.to_le_bytes());
        Writer { buf }
    }
    fn put(&mut self, at: usize, bytes: &[u8]) {
        self.buf[at..at + bytes.len()].copy_from_slice(bytes);
    }
    /// Appends `data` to the payload and writes its Fields at `slot`. Lengths are clamped to
    /// u16: callers only pass data that fits (names, 24-byte or TargetInfo-sized responses).
    fn payload(&mut self, slot: usize, data: &[u8]) {
        let len = data.len().min(usize::from(u16::MAX)) as u16;
        let offset = self.buf.len() as u32;
        self.buf.extend_from_slice(&data[..usize::from(len)]);
        let mut f = [0u8; 8];
        f[..2].copy_from_slice(&len.to_le_bytes());
        f[2..4].copy_from_slice(&len.to_le_bytes());
        f[4..].copy_from_slice(&offset.to_le_bytes());
        self.put(slot, &f);
    }
}

/// NEGOTIATE_MESSAGE (2.2.1.1) without domain/workstation (connection-oriented HTTP only; SIP
/// is connectionless and starts with `gssapi-data=""`).
pub fn negotiate_message(negotiate_flags: u32, version: [u8; 8]) -> Vec<u8> {
    let mut w = Writer::new(1, 40);
    w.put(12, &negotiate_flags.to_le_bytes());
    // DomainNameFields and WorkstationFields stay zero-length with offset = payload start.
    w.put(20, &40u32.to_le_bytes());
    w.put(28, &40u32.to_le_bytes());
    w.put(32, &version);
    w.buf
}

/// CHALLENGE_MESSAGE (2.2.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeMessage {
    /// NegotiateFlags offered by the server.
    pub negotiate_flags: u32,
    /// The 8-byte ServerChallenge.
    pub server_challenge: [u8; 8],
    /// TargetName as sent (UTF-16LE when UNICODE).
    pub target_name: Vec<u8>,
    /// TargetInfo exactly as sent (AV pairs including MsvAvEOL); empty when absent.
    pub target_info: Vec<u8>,
    /// The AV pairs of `target_info`, parsed.
    pub av_pairs: Vec<AvPair>,
    /// The Version field when NEGOTIATE_VERSION is set.
    pub version: Option<[u8; 8]>,
}

impl ChallengeMessage {
    /// Parses a CHALLENGE_MESSAGE.
    pub fn parse(buf: &[u8]) -> Result<ChallengeMessage, NtlmError> {
        check_header(buf, 2)?;
        let target_name = read_field(buf, 12, "TargetNameFields")?.to_vec();
        let negotiate_flags = read_u32(buf, 20, "NegotiateFlags")?;
        let server_challenge = read8(buf, 24, "ServerChallenge")?;
        let (target_info, av_pairs) = if negotiate_flags & flags::TARGET_INFO != 0 {
            let ti = read_field(buf, 40, "TargetInfoFields")?.to_vec();
            let pairs = parse_av_pairs(&ti)?;
            (ti, pairs)
        } else {
            (Vec::new(), Vec::new())
        };
        let version = if negotiate_flags & flags::VERSION != 0 { Some(read8(buf, 48, "Version")?) } else { None };
        Ok(ChallengeMessage { negotiate_flags, server_challenge, target_name, target_info, av_pairs, version })
    }

    /// MsvAvTimestamp from TargetInfo.
    pub fn timestamp(&self) -> Option<u64> {
        timestamp(&self.av_pairs)
    }

    /// Serializes with the payload in Windows order (TargetName, TargetInfo).
    pub fn to_bytes(&self) -> Vec<u8> {
        let fixed = if self.version.is_some() { 56 } else { 48 };
        let mut w = Writer::new(2, fixed);
        w.put(20, &self.negotiate_flags.to_le_bytes());
        w.put(24, &self.server_challenge);
        if let Some(v) = self.version {
            w.put(48, &v);
        }
        w.payload(12, &self.target_name);
        w.payload(40, &self.target_info);
        w.buf
    }
}

/// AUTHENTICATE_MESSAGE (2.2.1.3).
#[derive(Clone, PartialEq, Eq)]
pub struct AuthenticateMessage {
    /// LmChallengeResponse (24 bytes: LMv2 or zeros).
    pub lm_response: Vec<u8>,
    /// NtChallengeResponse (NTProofStr ‖ NTLMv2 blob).
    pub nt_response: Vec<u8>,
    /// DomainName as sent.
    pub domain: Vec<u8>,
    /// UserName as sent.
    pub user: Vec<u8>,
    /// Workstation as sent.
    pub workstation: Vec<u8>,
    /// EncryptedRandomSessionKey (empty without KEY_EXCH).
    pub encrypted_session_key: Vec<u8>,
    /// NegotiateFlags the client chose.
    pub negotiate_flags: u32,
    /// Version, when NEGOTIATE_VERSION is set.
    pub version: Option<[u8; 8]>,
    /// The MIC, when the message carries one (payload starts after it).
    pub mic: Option<[u8; 16]>,
}

impl std::fmt::Debug for AuthenticateMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthenticateMessage")
            .field("user", &decode_string(self.negotiate_flags, &self.user))
            .field("domain", &decode_string(self.negotiate_flags, &self.domain))
            .field("negotiate_flags", &format_args!("{:#010x}", self.negotiate_flags))
            .field("has_mic", &self.mic.is_some())
            .finish_non_exhaustive()
    }
}

/// Offset of the MIC field (after the Version).
pub const MIC_OFFSET: usize = 72;

impl AuthenticateMessage {
    fn fixed_len(&self) -> usize {
        match (self.version.is_some(), self.mic.is_some()) {
            (_, true) => MIC_OFFSET + 16,
            (true, false) => 72,
            (false, false) => 64,
        }
    }

    /// Serializes with the payload in Windows order (domain, user, workstation, LM, NT, key).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(3, self.fixed_len());
        w.put(60, &self.negotiate_flags.to_le_bytes());
        if let Some(v) = self.version {
            w.put(64, &v);
        }
        if let Some(m) = self.mic {
            w.put(MIC_OFFSET, &m);
        }
        w.payload(28, &self.domain);
        w.payload(36, &self.user);
        w.payload(44, &self.workstation);
        w.payload(12, &self.lm_response);
        w.payload(20, &self.nt_response);
        w.payload(52, &self.encrypted_session_key);
        w.buf
    }

    /// Parses an AUTHENTICATE_MESSAGE. The MIC is read when the client's NTLMv2 blob announces
    /// one (MsvAvFlags bit 0x2) and the payload leaves room for it.
    pub fn parse(buf: &[u8]) -> Result<AuthenticateMessage, NtlmError> {
        check_header(buf, 3)?;
        let lm_response = read_field(buf, 12, "LmChallengeResponseFields")?.to_vec();
        let nt_response = read_field(buf, 20, "NtChallengeResponseFields")?.to_vec();
        let domain = read_field(buf, 28, "DomainNameFields")?.to_vec();
        let user = read_field(buf, 36, "UserNameFields")?.to_vec();
        let workstation = read_field(buf, 44, "WorkstationFields")?.to_vec();
        let encrypted_session_key = read_field(buf, 52, "EncryptedRandomSessionKeyFields")?.to_vec();
        let negotiate_flags = read_u32(buf, 60, "NegotiateFlags")?;
        let version = if negotiate_flags & flags::VERSION != 0 { Some(read8(buf, 64, "Version")?) } else { None };
        let announces_mic = client_av_pairs(&nt_response)
            .ok()
            .and_then(|p| p.into_iter().find(|a| a.id == av::FLAGS))
            .and_then(|a| a.value.get(..4).map(|v| u32::from_le_bytes([v[0], v[1], v[2], v[3]])))
            .is_some_and(|f| f & 0x2 != 0);
        let mic = if announces_mic {
            let b = buf.get(MIC_OFFSET..MIC_OFFSET + 16).ok_or(NtlmError::Truncated { field: "MIC" })?;
            let mut m = [0u8; 16];
            m.copy_from_slice(b);
            Some(m)
        } else {
            None
        };
        Ok(AuthenticateMessage {
            lm_response,
            nt_response,
            domain,
            user,
            workstation,
            encrypted_session_key,
            negotiate_flags,
            version,
            mic,
        })
    }

    /// The user name, decoded.
    pub fn user_name(&self) -> String {
        decode_string(self.negotiate_flags, &self.user)
    }
    /// The domain name, decoded.
    pub fn domain_name(&self) -> String {
        decode_string(self.negotiate_flags, &self.domain)
    }
    /// The workstation name, decoded.
    pub fn workstation_name(&self) -> String {
        decode_string(self.negotiate_flags, &self.workstation)
    }
}

/// The AV pairs inside an NTLMv2 NtChallengeResponse (after NTProofStr and the 28-byte blob head).
pub fn client_av_pairs(nt_response: &[u8]) -> Result<Vec<AvPair>, NtlmError> {
    let pairs = nt_response.get(44..).ok_or(NtlmError::NotNtlmV2)?;
    parse_av_pairs(pairs)
}

/// Decodes a payload string: UTF-16LE with NEGOTIATE_UNICODE, else OEM (read as Latin-1).
pub fn decode_string(negotiate_flags: u32, raw: &[u8]) -> String {
    if negotiate_flags & flags::UNICODE != 0 {
        let units: Vec<u16> = raw.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        String::from_utf16_lossy(&units)
    } else {
        raw.iter().map(|&b| char::from(b)).collect()
    }
}
