//! The NTLM client: NEGOTIATE (HTTP only) and AUTHENTICATE ([MS-NLMP] 3.1.5).

use super::crypto::{self, Key16};
use super::messages::{self, AuthenticateMessage, AvPair, ChallengeMessage, av};
use super::signing::{NtlmSession, Role};
use super::{NtlmError, flags};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// What the user signs in with. `Debug` shows the names but never the password, and the password is
/// wiped when the value is dropped (each clone wipes its own copy).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Credentials {
    /// The account name as typed (NTOWFv2 upper-cases it; the message carries it as typed).
    #[zeroize(skip)]
    pub user: String,
    /// The domain as typed (NTOWFv2 uses it as typed).
    #[zeroize(skip)]
    pub domain: String,
    /// The password.
    pub password: String,
    /// Our workstation name (SIPE sends the upper-case host name).
    #[zeroize(skip)]
    pub workstation: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("domain", &self.domain)
            .field("password", &"<redacted>")
            .field("workstation", &self.workstation)
            .finish()
    }
}

/// Connectionless (SIP) or connection-oriented (HTTP) NTLM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// [MS-SIPAE]: no NEGOTIATE, DATAGRAM + KEY_EXCH + SIGN required.
    Connectionless,
    /// HTTP (IIS web tickets): NEGOTIATE first, same TCP connection for all legs.
    ConnectionOriented,
}

/// Whether to add a MIC when the server's TargetInfo has MsvAvTimestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MicPolicy {
    /// Never send a MIC. SIPE's choice for SIP, and what OC 2007 R2 did; OCS/Lync accept it.
    Never,
    /// Send MIC + MsvAvFlags 0x2 when the CHALLENGE has a timestamp ([MS-NLMP] 3.1.5.1.2 SHOULD).
    WhenTimestamp,
}

/// Client options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOptions {
    /// SIP or HTTP.
    pub mode: Mode,
    /// MIC policy.
    pub mic: MicPolicy,
    /// The Version field we announce (debugging only for servers).
    pub version: [u8; 8],
}

/// Windows 7 SP1 (6.1.7601), NTLM revision 15: an era-appropriate Lync client OS.
pub const DEFAULT_VERSION: [u8; 8] = [6, 1, 0xb1, 0x1d, 0, 0, 0, 0x0f];

impl ClientOptions {
    /// SIP defaults: connectionless, no MIC (as SIPE; see [`MicPolicy::Never`]).
    pub fn sip() -> ClientOptions {
        ClientOptions { mode: Mode::Connectionless, mic: MicPolicy::Never, version: DEFAULT_VERSION }
    }
    /// HTTP defaults: connection-oriented, MIC when the server sends a timestamp (as Windows).
    pub fn http() -> ClientOptions {
        ClientOptions { mode: Mode::ConnectionOriented, mic: MicPolicy::WhenTimestamp, version: DEFAULT_VERSION }
    }
}

/// The random inputs of one AUTHENTICATE, injected so tests are deterministic. The ExportedSessionKey
/// is wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ClientRandom {
    /// The NTLMv2 ClientChallenge.
    pub client_challenge: [u8; 8],
    /// The ExportedSessionKey (sent encrypted when KEY_EXCH is negotiated).
    pub exported_session_key: [u8; 16],
    /// FILETIME used when the CHALLENGE has no MsvAvTimestamp.
    pub time: u64,
}

impl std::fmt::Debug for ClientRandom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRandom").field("time", &self.time).finish_non_exhaustive()
    }
}

impl ClientRandom {
    /// Fresh randomness from the OS-seeded RNG; `unix_now` is the caller's clock (sans-I/O).
    pub fn generate(unix_now: std::time::Duration) -> ClientRandom {
        ClientRandom {
            client_challenge: rand::random(),
            exported_session_key: rand::random(),
            time: crypto::filetime(unix_now),
        }
    }
}

/// Flags sfbkit's SIP client accepts from a CHALLENGE; with REQUEST_TARGET added this gives
/// exactly OC 2007 R2's 0x62988255 against an OCS 0xE29882F3 challenge. SEAL and 56 are left
/// out: SIP never seals, and 128-bit keys are always available.
const SUPPORTED_DATAGRAM: u32 = flags::UNICODE
    | flags::SIGN
    | flags::DATAGRAM
    | flags::NTLM
    | flags::ALWAYS_SIGN
    | flags::EXTENDED_SESSIONSECURITY
    | flags::IDENTIFY
    | flags::TARGET_INFO
    | flags::VERSION
    | flags::NEGOTIATE_128
    | flags::KEY_EXCH;
/// Without these a connectionless SA cannot sign (CLIENT-NOTES §5.5).
const REQUIRED_DATAGRAM: u32 =
    flags::UNICODE | flags::NTLM | flags::TARGET_INFO | flags::SIGN | flags::DATAGRAM | flags::KEY_EXCH;
/// What our NEGOTIATE_MESSAGE offers on HTTP.
const OFFERED_CONNECTION: u32 = flags::UNICODE
    | flags::OEM
    | flags::REQUEST_TARGET
    | flags::SIGN
    | flags::NTLM
    | flags::ALWAYS_SIGN
    | flags::EXTENDED_SESSIONSECURITY
    | flags::VERSION
    | flags::NEGOTIATE_128
    | flags::KEY_EXCH
    | flags::NEGOTIATE_56;
const REQUIRED_CONNECTION: u32 = flags::UNICODE | flags::NTLM | flags::TARGET_INFO;

/// The client end of one NTLM exchange.
#[derive(Debug, Clone)]
pub struct NtlmClient {
    credentials: Credentials,
    options: ClientOptions,
    negotiate: Option<Vec<u8>>,
}

impl NtlmClient {
    /// A client for these credentials.
    pub fn new(credentials: Credentials, options: ClientOptions) -> NtlmClient {
        NtlmClient { credentials, options, negotiate: None }
    }

    /// The NEGOTIATE_MESSAGE (connection-oriented mode). It is remembered because the MIC
    /// covers it.
    pub fn negotiate(&mut self) -> Vec<u8> {
        let msg = messages::negotiate_message(OFFERED_CONNECTION, self.options.version);
        self.negotiate = Some(msg.clone());
        msg
    }

    /// Answers a CHALLENGE_MESSAGE with an AUTHENTICATE_MESSAGE and the resulting session.
    ///
    /// The session signs the [MS-SIPAE] way (connectionless MAC, SeqNum 100); HTTP callers
    /// only need the message, since IIS authenticates the connection and signs nothing.
    pub fn authenticate(
        &self,
        challenge_bytes: &[u8],
        random: &ClientRandom,
    ) -> Result<(Vec<u8>, NtlmSession), NtlmError> {
        let challenge = ChallengeMessage::parse(challenge_bytes)?;
        let negotiate_flags = self.choose_flags(challenge.negotiate_flags)?;
        let creds = &self.credentials;
        let timestamp = challenge.timestamp();
        let with_mic = timestamp.is_some() && self.options.mic == MicPolicy::WhenTimestamp;
        let target_info = if with_mic { with_mic_flag(&challenge.av_pairs) } else { challenge.target_info.clone() };
        let ntowf = Zeroizing::new(crypto::ntowf_v2(&creds.password, &creds.user, &creds.domain));
        let time = timestamp.unwrap_or(random.time);
        let mut resp =
            crypto::v2_response(&ntowf, &challenge.server_challenge, &random.client_challenge, time, &target_info);
        // 3.1.5.1.2: with a server timestamp the LM response is Z(24).
        let lm_response = if timestamp.is_some() { vec![0; 24] } else { resp.lm_response.to_vec() };
        let (exported, encrypted_session_key) = key_exchange(negotiate_flags, &resp.session_base_key, random);
        let exported = Zeroizing::new(exported);
        let unicode = |s: &str| encode_string(negotiate_flags, s);
        let mut msg = AuthenticateMessage {
            lm_response,
            nt_response: std::mem::take(&mut resp.nt_response),
            domain: unicode(&creds.domain),
            user: unicode(&creds.user),
            workstation: unicode(&creds.workstation),
            encrypted_session_key,
            negotiate_flags,
            version: (negotiate_flags & flags::VERSION != 0).then_some(self.options.version),
            mic: with_mic.then_some([0; 16]),
        };
        let mut bytes = msg.to_bytes();
        if with_mic {
            let negotiate = self.negotiate.as_deref().unwrap_or(&[]);
            let mic = crypto::hmac_md5(&exported[..], &[negotiate, challenge_bytes, &bytes]);
            msg.mic = Some(mic);
            bytes[messages::MIC_OFFSET..messages::MIC_OFFSET + 16].copy_from_slice(&mic);
        }
        Ok((bytes, NtlmSession::new(Role::Client, negotiate_flags, &exported)))
    }

    fn choose_flags(&self, offered: u32) -> Result<u32, NtlmError> {
        let (supported, required, extra) = match self.options.mode {
            Mode::Connectionless => (SUPPORTED_DATAGRAM, REQUIRED_DATAGRAM, flags::REQUEST_TARGET),
            Mode::ConnectionOriented => (OFFERED_CONNECTION | flags::TARGET_INFO, REQUIRED_CONNECTION, 0),
        };
        let missing = required & !offered;
        if missing != 0 {
            return Err(NtlmError::MissingFlags { missing });
        }
        Ok((offered & supported) | extra)
    }
}

/// The ExportedSessionKey and what goes in EncryptedRandomSessionKey (3.1.5.1.2).
fn key_exchange(negotiate_flags: u32, session_base_key: &Key16, random: &ClientRandom) -> (Key16, Vec<u8>) {
    if negotiate_flags & flags::KEY_EXCH != 0 {
        let enc = crypto::rc4_once(session_base_key, &random.exported_session_key);
        (random.exported_session_key, enc.to_vec())
    } else {
        (*session_base_key, Vec::new())
    }
}

/// The server's AV pairs with MsvAvFlags bit 0x2 set ("MIC present"), re-serialized with EOL.
fn with_mic_flag(pairs: &[AvPair]) -> Vec<u8> {
    let mut out: Vec<AvPair> = pairs.to_vec();
    match out.iter_mut().find(|p| p.id == av::FLAGS) {
        Some(p) => {
            let mut v = [0u8; 4];
            for (d, s) in v.iter_mut().zip(&p.value) {
                *d = *s;
            }
            p.value = (u32::from_le_bytes(v) | 0x2).to_le_bytes().to_vec();
        }
        None => out.push(AvPair { id: av::FLAGS, value: 2u32.to_le_bytes().to_vec() }),
    }
    messages::write_av_pairs(&out)
}

/// Encodes a payload string per NEGOTIATE_UNICODE (OEM falls back to Latin-1 bytes).
fn encode_string(negotiate_flags: u32, s: &str) -> Vec<u8> {
    if negotiate_flags & flags::UNICODE != 0 {
        crypto::utf16le(s)
    } else {
        s.chars().map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?')).collect()
    }
}
