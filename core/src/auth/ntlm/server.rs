//! The NTLM server end ([MS-NLMP] 3.2.5) for the lab pool's registrar and web ticket service.
//!
//! It issues the CHALLENGE_MESSAGE a real OCS/Lync front end sends (flags 0xE29882F3 and a
//! TargetInfo with NetBIOS/DNS names and a timestamp), verifies an NTLMv2 AUTHENTICATE_MESSAGE
//! against a known password, and yields the server side [`NtlmSession`]. It shares only the
//! wire format and crypto primitives with [`super::NtlmClient`], not its state handling.

use super::crypto::{self, Key16};
use super::messages::{self, AuthenticateMessage, AvPair, ChallengeMessage, av};
use super::signing::{NtlmSession, Role};
use super::{NtlmError, flags};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The flags a real OCS 2007 R2 / Lync front end offers (SIPE vector A).
pub const OCS_CHALLENGE_FLAGS: u32 = 0xE298_82F3;

/// Names the server announces in TargetInfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerIdentity {
    /// NetBIOS domain, e.g. `COSMO`.
    pub nb_domain: String,
    /// NetBIOS computer, e.g. `COSMO-OCS-R2`.
    pub nb_computer: String,
    /// DNS domain, e.g. `cosmo.local`.
    pub dns_domain: String,
    /// DNS computer (FQDN), e.g. `cosmo-ocs-r2.cosmo.local`.
    pub dns_computer: String,
}

/// The account the server checks an AUTHENTICATE against. `Debug` hides the password, and the
/// password is wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ServerCredentials {
    /// Account name (compared case-insensitively, as Windows does).
    #[zeroize(skip)]
    pub user: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for ServerCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerCredentials").field("user", &self.user).field("password", &"<redacted>").finish()
    }
}

/// A successfully verified AUTHENTICATE_MESSAGE.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The server-side signing session.
    pub session: NtlmSession,
    /// User name as the client sent it.
    pub user: String,
    /// Domain as the client sent it.
    pub domain: String,
    /// Workstation as the client sent it.
    pub workstation: String,
}

/// An NTLM acceptor.
#[derive(Debug, Clone)]
pub struct NtlmServer {
    identity: ServerIdentity,
    challenge_flags: u32,
    version: [u8; 8],
}

impl NtlmServer {
    /// A server announcing `identity` with the OCS flags and a Windows Server 2008 R2 version.
    pub fn new(identity: ServerIdentity) -> NtlmServer {
        NtlmServer { identity, challenge_flags: OCS_CHALLENGE_FLAGS, version: [6, 1, 0xb1, 0x1d, 0, 0, 0, 0x0f] }
    }

    /// Overrides the offered flags (e.g. without DATAGRAM for HTTP, or without ESS for tests).
    pub fn with_flags(mut self, challenge_flags: u32) -> NtlmServer {
        self.challenge_flags = challenge_flags;
        self
    }

    /// Builds a CHALLENGE_MESSAGE; `server_challenge` and `timestamp` (FILETIME) come from the
    /// caller so the lab pool stays deterministic under test.
    pub fn challenge(&self, server_challenge: [u8; 8], timestamp: u64) -> ChallengeMessage {
        let id = &self.identity;
        let av_pairs = vec![
            AvPair { id: av::NB_DOMAIN_NAME, value: crypto::utf16le(&id.nb_domain) },
            AvPair { id: av::NB_COMPUTER_NAME, value: crypto::utf16le(&id.nb_computer) },
            AvPair { id: av::DNS_DOMAIN_NAME, value: crypto::utf16le(&id.dns_domain) },
            AvPair { id: av::DNS_COMPUTER_NAME, value: crypto::utf16le(&id.dns_computer) },
            AvPair { id: av::TIMESTAMP, value: timestamp.to_le_bytes().to_vec() },
        ];
        ChallengeMessage {
            negotiate_flags: self.challenge_flags,
            server_challenge,
            target_name: Vec::new(),
            target_info: messages::write_av_pairs(&av_pairs),
            av_pairs,
            version: (self.challenge_flags & flags::VERSION != 0).then_some(self.version),
        }
    }

    /// Verifies `authenticate` (the client's answer to `challenge`) against `credentials`.
    /// `negotiate` is the client's NEGOTIATE_MESSAGE in connection-oriented mode (it is part
    /// of the MIC), empty for SIP.
    pub fn accept(
        &self,
        negotiate: &[u8],
        challenge: &ChallengeMessage,
        authenticate: &[u8],
        credentials: &ServerCredentials,
    ) -> Result<Accepted, NtlmError> {
        let msg = AuthenticateMessage::parse(authenticate)?;
        // Datagram mode has no NEGOTIATE to agree on keys: KEY_EXCH is mandatory (2.2.2.5 flag F).
        if challenge.negotiate_flags & flags::DATAGRAM != 0 && msg.negotiate_flags & flags::KEY_EXCH == 0 {
            return Err(NtlmError::MissingFlags { missing: flags::KEY_EXCH });
        }
        let user = msg.user_name();
        if !user.eq_ignore_ascii_case(&credentials.user) && user.to_lowercase() != credentials.user.to_lowercase() {
            return Err(NtlmError::UnknownUser);
        }
        // NTProofStr (16) + blob header (28) at least; a 24-byte response is NTLMv1.
        if msg.nt_response.len() < 16 + 28 || msg.nt_response.get(16..18) != Some(&[1, 1][..]) {
            return Err(NtlmError::NotNtlmV2);
        }
        let domain = msg.domain_name();
        // The client hashed the domain and user it sent, so recompute with exactly those.
        let ntowf = Zeroizing::new(crypto::ntowf_v2(&credentials.password, &user, &domain));
        let (proof, blob) = msg.nt_response.split_at(16);
        let expected = crypto::hmac_md5(&ntowf[..], &[&challenge.server_challenge, blob]);
        if !crypto::ct_eq(&expected, proof) {
            return Err(NtlmError::WrongPassword);
        }
        let session_base_key = Zeroizing::new(crypto::hmac_md5(&ntowf[..], &[proof]));
        let exported =
            Zeroizing::new(exported_key(msg.negotiate_flags, &session_base_key, &msg.encrypted_session_key)?);
        if let Some(mic) = msg.mic {
            let mut zeroed = authenticate.to_vec();
            zeroed[messages::MIC_OFFSET..messages::MIC_OFFSET + 16].fill(0);
            let expected = crypto::hmac_md5(&exported[..], &[negotiate, &challenge.to_bytes(), &zeroed]);
            if !crypto::ct_eq(&expected, &mic) {
                return Err(NtlmError::MicMismatch);
            }
        }
        Ok(Accepted {
            session: NtlmSession::new(Role::Server, msg.negotiate_flags, &exported),
            workstation: msg.workstation_name(),
            user,
            domain,
        })
    }
}

/// Recovers the ExportedSessionKey: RC4(KeyExchangeKey, EncryptedRandomSessionKey) with
/// KEY_EXCH, else the KeyExchangeKey (= SessionBaseKey for NTLMv2) itself.
fn exported_key(negotiate_flags: u32, session_base_key: &Key16, encrypted: &[u8]) -> Result<Key16, NtlmError> {
    if negotiate_flags & flags::KEY_EXCH == 0 {
        return Ok(*session_base_key);
    }
    let enc: Key16 = encrypted.try_into().map_err(|_| NtlmError::BadSessionKey)?;
    Ok(crypto::rc4_once(session_base_key, &enc))
}
