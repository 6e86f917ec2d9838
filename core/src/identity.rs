//! Endpoint identity: the epid, the `+sip.instance` derived from it, and fresh SIP identifiers.
//!
//! Words used here, each from its spec:
//!
//! - **epid** ([MS-SIPRE] 2.2.7, 3.2.3.1): an identifier of one endpoint (one device/client install) among all
//!   endpoints of the same user. It goes as `;epid=` on the From header of every request, and the registrar keys
//!   the endpoint's registration and GRUU on it. It SHOULD persist across restarts, so callers store it; a fresh
//!   one per start would leave stale registrations behind on the pool. Microsoft clients use 10 lowercase hex
//!   digits; the grammar allows 1 to 16 token characters.
//! - **+sip.instance** ([MS-SIPRE] 2.2.5, 3.2.3): the Contact parameter `+sip.instance="<urn:uuid:…>"`. For
//!   Microsoft endpoints it is a name-based UUID computed from the epid, and the server checks that the two agree
//!   ([MS-SIPAE] 3.3.5.2), so it is derived here rather than chosen.
//! - **Call-ID, tag, branch** (RFC 3261 8.1.1.4, 19.3, 8.1.1.7): random identifiers for dialogs and
//!   transactions. The branch starts with the magic cookie `z9hG4bK` so peers know it is globally unique.
//!
//! Everything here is pure computation (no I/O, no clock); randomness comes from the thread-local CSPRNG.

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use sha1::{Digest, Sha1};

/// The longest epid [MS-SIPRE] 2.2.7 allows (`epid-param-value = 1*16(token)`).
pub const EPID_MAX_LEN: usize = 16;

/// Why an epid or a `+sip.instance` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The epid was empty; the grammar needs at least one character.
    #[error("the epid is empty; use Epid::generate() for a new endpoint or the stored epid of this one")]
    EmptyEpid,
    /// The epid is longer than [`EPID_MAX_LEN`]; servers would refuse the From header.
    #[error("the epid is {len} characters long, the most [MS-SIPRE] allows is {EPID_MAX_LEN}; use Epid::generate()")]
    EpidTooLong {
        /// Length of the refused value, in bytes.
        len: usize,
    },
    /// The epid holds a character that is not a SIP token character (RFC 3261 25.1).
    #[error("the epid has {ch:?} at byte {position}, which is not a SIP token character; use letters and digits")]
    EpidInvalidChar {
        /// The offending character.
        ch: char,
        /// Its byte offset in the input.
        position: usize,
    },
    /// A `+sip.instance` value was not `<urn:uuid:…>` with a well-formed UUID inside.
    #[error("{value:?} is not a +sip.instance value of the form \"<urn:uuid:XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX>\"")]
    MalformedInstance {
        /// The refused value, as given.
        value: String,
    },
}

/// An endpoint identifier ([MS-SIPRE] 2.2.7): who this device is among the user's endpoints.
///
/// Kept exactly as given (case included), because the server compares it byte for byte with what it saw in
/// earlier requests and in the GRUU it handed out.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Epid(String);

impl Epid {
    /// A fresh epid shaped like Microsoft clients' (10 lowercase hex digits).
    ///
    /// Use this once per endpoint and persist the result: a new epid on every start looks to the pool like a
    /// new device each time.
    pub fn generate() -> Epid {
        Epid(random_hex(10))
    }

    /// Accepts any value [MS-SIPRE] 2.2.7 allows (1 to 16 SIP token characters), such as a stored epid or the
    /// epid of a peer read from a header.
    pub fn parse(s: &str) -> Result<Epid, IdentityError> {
        if s.is_empty() {
            return Err(IdentityError::EmptyEpid);
        }
        if let Some((position, ch)) = s.char_indices().find(|&(_, c)| !is_token_char(c)) {
            return Err(IdentityError::EpidInvalidChar { ch, position });
        }
        if s.len() > EPID_MAX_LEN {
            return Err(IdentityError::EpidTooLong { len: s.len() });
        }
        Ok(Epid(s.to_owned()))
    }

    /// The epid as it goes on the wire after `;epid=`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Epid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Epid {
    type Err = IdentityError;

    fn from_str(s: &str) -> Result<Epid, IdentityError> {
        Epid::parse(s)
    }
}

/// RFC 3261 25.1 `token` characters: what a SIP parameter value may hold without quoting.
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

/// The `+sip.instance` UUID of an endpoint ([MS-SIPRE] 2.2.5, 3.2.3), derived from its epid by [`sip_instance`].
///
/// Displays as `<urn:uuid:XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX>` in upper case, as Microsoft clients send it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SipInstance([u8; 16]);

/// The [MS-SIPRE] 3.2.3 namespace GUID `fcacfb03-8a73-46ef-91b1-e5ebeeaba4fe` in Windows (little-endian
/// `GUID` struct) byte order, which is what Microsoft clients feed to SHA-1.
const INSTANCE_NAMESPACE: [u8; 16] =
    [0x03, 0xfb, 0xac, 0xfc, 0x73, 0x8a, 0xef, 0x46, 0x91, 0xb1, 0xe5, 0xeb, 0xee, 0xab, 0xa4, 0xfe];

/// Derives the `+sip.instance` of an endpoint from its epid ([MS-SIPRE] 3.2.3).
///
/// A name-based (version 5) UUID over a Windows-ordered namespace: SHA-1 of the namespace bytes followed by the
/// ASCII epid, the first 16 bytes kept, version and variant bits set, and the first three fields printed
/// byte-reversed as a Windows GUID would be. The server recomputes this and rejects a mismatch, so there is no
/// freedom here; the test vectors in `tests/vectors/MS-SIPRE_3.2.3_sip-instance-vectors.txt` pin it down.
pub fn sip_instance(epid: &Epid) -> SipInstance {
    let mut sha = Sha1::new();
    sha.update(INSTANCE_NAMESPACE);
    sha.update(epid.as_str().as_bytes());
    let digest = sha.finalize();
    let mut h = [0u8; 16];
    h.copy_from_slice(&digest[..16]);
    // Byte 7, not 6: the field holding the version is printed byte-reversed below.
    h[7] = (h[7] & 0x0f) | 0x50;
    h[8] = (h[8] & 0x3f) | 0x80;
    h[0..4].reverse();
    h[4..6].reverse();
    h[6..8].reverse();
    SipInstance(h)
}

impl SipInstance {
    /// The UUID alone, upper case: `4233FD41-093B-5FD6-B5D2-651ED55969E6`.
    ///
    /// Cert provisioning and presence use this same UUID as the device id, without the URN wrapping.
    pub fn uuid(&self) -> String {
        let b = &self.0;
        format!(
            "{}-{}-{}-{}-{}",
            hex_upper(&b[0..4]),
            hex_upper(&b[4..6]),
            hex_upper(&b[6..8]),
            hex_upper(&b[8..10]),
            hex_upper(&b[10..16])
        )
    }

    /// The 16 bytes in the order the UUID is printed (RFC 4122 network order).
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The value that follows `+sip.instance=` in a Contact header, quotes included:
    /// `"<urn:uuid:4233FD41-093B-5FD6-B5D2-651ED55969E6>"`.
    pub fn contact_param_value(&self) -> String {
        format!("\"{self}\"")
    }

    /// Reads a `+sip.instance` value as a peer sent it, with or without the surrounding quotes and in any case,
    /// so a server (the lab pool) can check it against the sender's epid.
    pub fn parse(value: &str) -> Result<SipInstance, IdentityError> {
        let malformed = || IdentityError::MalformedInstance { value: value.to_owned() };
        let unquoted = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
        let inner = unquoted.strip_prefix('<').and_then(|v| v.strip_suffix('>')).ok_or_else(malformed)?;
        let (scheme, uuid) = inner.split_at_checked(9).ok_or_else(malformed)?;
        if !scheme.eq_ignore_ascii_case("urn:uuid:") {
            return Err(malformed());
        }
        parse_uuid(uuid).map(SipInstance).ok_or_else(malformed)
    }
}

impl fmt::Display for SipInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<urn:uuid:{}>", self.uuid())
    }
}

/// Parses `XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX` (any case) into its 16 bytes in text order.
fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    let groups: Vec<&str> = text.split('-').collect();
    let lengths = groups.iter().map(|g| g.len()).collect::<Vec<_>>();
    if lengths != [8, 4, 4, 4, 12] {
        return None;
    }
    let hex: String = groups.concat();
    // from_str_radix alone would also take a leading '+'.
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        let pair = hex.get(2 * i..2 * i + 2)?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

/// A fresh Call-ID: 32 lowercase hex digits (128 random bits), the shape Lync uses.
///
/// No `@host` part: RFC 3261 makes it optional and leaving it out avoids leaking the local address.
pub fn new_call_id() -> String {
    random_hex(32)
}

/// A fresh From/To tag: 10 lowercase hex digits (40 random bits), enough for RFC 3261 19.3's "at least 32".
pub fn new_tag() -> String {
    random_hex(10)
}

/// A fresh Via branch: the RFC 3261 magic cookie `z9hG4bK` followed by 20 lowercase hex digits (80 random bits).
///
/// The cookie tells the peer the branch is unique across space and time, which is what lets it match
/// transactions by branch alone (RFC 3261 17.2.3).
pub fn new_branch() -> String {
    format!("z9hG4bK{}", random_hex(20))
}

/// `digits` lowercase hex digits from the thread-local CSPRNG.
fn random_hex(digits: usize) -> String {
    let mut bytes = vec![0u8; digits.div_ceil(2)];
    rand::rng().fill(&mut bytes[..]);
    let mut text = hex_lower(&bytes);
    text.truncate(digits);
    text
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const VECTORS: &str =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/MS-SIPRE_3.2.3_sip-instance-vectors.txt");

    /// `(epid, uuid)` pairs from the vectors file: non-comment lines, first two whitespace-separated fields.
    fn vector_pairs() -> Vec<(String, String)> {
        let text = std::fs::read_to_string(VECTORS).expect("vectors file next to the repository");
        text.lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| {
                let mut fields = l.split_whitespace();
                let epid = fields.next().expect("epid field").to_owned();
                let uuid = fields.next().expect("uuid field").to_owned();
                (epid, uuid)
            })
            .collect()
    }

    #[test]
    fn sip_instance_matches_all_published_vectors() {
        let pairs = vector_pairs();
        assert_eq!(pairs.len(), 4, "the vectors file holds four pairs");
        for (epid, expected) in pairs {
            let instance = sip_instance(&Epid::parse(&epid).expect("vector epid parses"));
            assert!(
                instance.uuid().eq_ignore_ascii_case(&expected),
                "epid {epid}: got {}, want {expected}",
                instance.uuid()
            );
        }
    }

    #[test]
    fn sip_instance_formats_upper_case_urn() {
        let instance = sip_instance(&Epid::parse("8248ca9ebb").unwrap());
        assert_eq!(instance.uuid(), "4233FD41-093B-5FD6-B5D2-651ED55969E6");
        assert_eq!(instance.to_string(), "<urn:uuid:4233FD41-093B-5FD6-B5D2-651ED55969E6>");
        assert_eq!(instance.contact_param_value(), "\"<urn:uuid:4233FD41-093B-5FD6-B5D2-651ED55969E6>\"");
    }

    #[test]
    fn sip_instance_parses_what_it_prints_in_any_case() {
        let instance = sip_instance(&Epid::parse("2ebb6f264f").unwrap());
        assert_eq!(SipInstance::parse(&instance.contact_param_value()), Ok(instance));
        assert_eq!(SipInstance::parse(&instance.to_string()), Ok(instance));
        let lower = instance.to_string().to_ascii_lowercase();
        assert_eq!(SipInstance::parse(&lower), Ok(instance));
    }

    #[test]
    fn sip_instance_parse_refuses_malformed_values() {
        for bad in [
            "",
            "\"\"",
            "<>",
            "urn:uuid:4233FD41-093B-5FD6-B5D2-651ED55969E6",
            "<urn:uuid:4233FD41-093B-5FD6-B5D2-651ED55969E>",
            "<urn:uuid:4233FD41093B-5FD6-B5D2-651ED55969E6>",
            "<urn:uuid:4233FD41-093B-5FD6-B5D2-651ED55969EG>",
            "<urn:uuid:4233FD41-093B-5FD6-B5D2-651ED55969E6-00>",
            "<urn:oid:4233FD41-093B-5FD6-B5D2-651ED55969E6>",
            "<urn:uuid:4233FD41-093B-5FD6-B5D2-651ED55969É>",
            "<urn:uu>",
            "<urn:uuid:+233FD41-093B-5FD6-B5D2-651ED55969E6>",
        ] {
            assert!(
                matches!(SipInstance::parse(bad), Err(IdentityError::MalformedInstance { .. })),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn generated_epid_is_ten_lowercase_hex_and_parses_back() {
        for _ in 0..1000 {
            let epid = Epid::generate();
            assert_eq!(epid.as_str().len(), 10);
            assert!(epid.as_str().chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')));
            assert_eq!(Epid::parse(epid.as_str()).as_ref(), Ok(&epid));
        }
    }

    #[test]
    fn epid_parse_accepts_grammar_and_keeps_case() {
        for ok in ["a", "8248ca9ebb", "ABCDEF0123456789", "a-b.c!d%e*f_g+h`", "x'y~z"] {
            let epid = Epid::parse(ok).unwrap();
            assert_eq!(epid.as_str(), ok);
            assert_eq!(epid.to_string(), ok);
            assert_eq!(ok.parse::<Epid>(), Ok(epid));
        }
    }

    #[test]
    fn epid_parse_refuses_bad_values() {
        assert_eq!(Epid::parse(""), Err(IdentityError::EmptyEpid));
        assert_eq!(Epid::parse("0123456789abcdef0"), Err(IdentityError::EpidTooLong { len: 17 }));
        assert_eq!(Epid::parse("abc;def"), Err(IdentityError::EpidInvalidChar { ch: ';', position: 3 }));
        assert_eq!(Epid::parse("ab cd"), Err(IdentityError::EpidInvalidChar { ch: ' ', position: 2 }));
        assert_eq!(Epid::parse("é"), Err(IdentityError::EpidInvalidChar { ch: 'é', position: 0 }));
    }

    fn assert_unique_lower_hex(draws: impl Fn() -> String, prefix: &str, hex_len: usize) {
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let value = draws();
            let hex = value.strip_prefix(prefix).expect("prefix present");
            assert_eq!(hex.len(), hex_len, "{value}");
            assert!(hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')), "{value}");
            assert!(seen.insert(value.clone()), "duplicate {value}");
        }
    }

    #[test]
    fn call_ids_are_unique_32_hex() {
        assert_unique_lower_hex(new_call_id, "", 32);
    }

    #[test]
    fn tags_are_unique_10_hex() {
        assert_unique_lower_hex(new_tag, "", 10);
    }

    #[test]
    fn branches_carry_magic_cookie_and_are_unique() {
        assert_unique_lower_hex(new_branch, "z9hG4bK", 20);
    }
}
