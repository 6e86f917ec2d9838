//! The lab Web Ticket Service's proof-key port: checks a request signed with an earlier ticket's proof key
//! (REFERENCE.md §2.3, CLIENT-NOTES.md §6.3; pidgin-sipe `sipe-webticket.c`, `generate_sha1_proof_wsse`).
//!
//! The `wsse:Security` header must hold a `wsu:Timestamp`, the earlier `saml:Assertion` and an XML-DSig
//! `Signature` whose `SignedInfo` uses exclusive C14N and `hmac-sha1` and has one `Reference` to the Timestamp's
//! `wsu:Id` with a SHA-1 digest; `KeyInfo/SecurityTokenReference/KeyIdentifier` names the assertion's
//! `AssertionID`. The service recomputes the digest of the Timestamp and the HMAC-SHA1 of `SignedInfo` with the
//! proof key it derived when it issued that ticket (its own P_SHA1 here, [`p_sha1`], not sfbkit's), compares in
//! constant time, and wants the Timestamp current (`Created` not later than now + 5 minutes, `Expires` after now).
//!
//! Canonicalisation: the digest and the HMAC are taken over the Timestamp and `SignedInfo` exactly as they appear
//! in the request. That is their exclusive-C14N form when the client sends them canonical, as pidgin-sipe does
//! (it digests its Timestamp string as built and embeds the canonical `SignedInfo` it signed); a client sending
//! a non-canonical but equivalent serialisation would be refused here where a real server would accept it.
//!
//! The request is read with sfbkit's [`Document`] (for the raw bytes of each element) but checked by the lab's
//! own code, so a bug in the client's signing is not mirrored here.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sfbkit::xml::{Document, Element};
use sha1::{Digest, Sha1};

use super::Issued;

/// How far a Timestamp's `Created` may be ahead of the service's clock.
pub const MAX_SKEW: Duration = Duration::from_secs(300);
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const HMAC_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#hmac-sha1";
const SHA1_DIGEST: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

/// Why a proof-key request is refused (each becomes a SOAP fault).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not XML, or no `Header/Security/Signature`.
    NotSigned,
    /// A required part is missing; names it.
    Missing(&'static str),
    /// Another canonicalisation, signature or digest method than exc-c14n / hmac-sha1 / sha1.
    WrongAlgorithm,
    /// The Reference does not point at the Timestamp, or KeyInfo names another assertion than the one sent.
    ReferenceMismatch,
    /// The referenced ticket was not issued here, has expired, or has no proof key.
    UnknownTicket,
    /// The Timestamp's digest differs from the DigestValue: it was changed after signing.
    DigestMismatch,
    /// The HMAC does not verify: another key, or SignedInfo was changed.
    BadSignature,
    /// The Timestamp's `Expires` has passed, or it is not an xs:dateTime.
    Expired,
    /// The Timestamp's `Created` is more than [`MAX_SKEW`] ahead.
    NotYetValid,
}

impl Refusal {
    /// The fault text.
    pub fn text(&self) -> String {
        match self {
            Refusal::NotSigned => "The request carries no WS-Security signature.".to_owned(),
            Refusal::Missing(what) => format!("The signed request has no {what}."),
            Refusal::WrongAlgorithm => "The signature must use exc-c14n, hmac-sha1 and sha1.".to_owned(),
            Refusal::ReferenceMismatch => "The signature does not cover the Timestamp and the token sent.".to_owned(),
            Refusal::UnknownTicket => "ID3242: The security token could not be authenticated or authorized.".to_owned(),
            Refusal::DigestMismatch => "The digest of the Timestamp does not match the signed reference.".to_owned(),
            Refusal::BadSignature => "The signature verification failed.".to_owned(),
            Refusal::Expired => "The message has expired (the Timestamp's Expires has passed).".to_owned(),
            Refusal::NotYetValid => "The Timestamp's Created time is in the future.".to_owned(),
        }
    }
}

/// True when `body` is SOAP whose `Header/Security` holds a `Signature` (a proof-port request).
pub fn is_signed(body: &[u8]) -> bool {
    Document::parse(body).ok().is_some_and(|doc| doc.root.path(&["Header", "Security", "Signature"]).is_some())
}

/// Checks a proof-key request at `now`; the SIP URI the referenced ticket was issued to when it verifies.
pub fn verify(issued: &Issued, body: &[u8], now: SystemTime) -> Result<String, Refusal> {
    let doc = Document::parse(body).map_err(|_| Refusal::NotSigned)?;
    let security = doc.root.path(&["Header", "Security"]).ok_or(Refusal::NotSigned)?;
    let signature = security.child("Signature").ok_or(Refusal::NotSigned)?;
    let timestamp = security.child("Timestamp").ok_or(Refusal::Missing("wsu:Timestamp"))?;
    let assertion = security.child("Assertion").ok_or(Refusal::Missing("saml:Assertion"))?;
    let signed_info = signature.child("SignedInfo").ok_or(Refusal::Missing("SignedInfo"))?;
    let reference = signed_info.child("Reference").ok_or(Refusal::Missing("Reference"))?;
    let algorithm = |el: &Element, name: &str| el.child(name).and_then(|m| m.attr("Algorithm")).map(str::to_owned);
    if algorithm(signed_info, "CanonicalizationMethod").as_deref() != Some(EXC_C14N)
        || algorithm(signed_info, "SignatureMethod").as_deref() != Some(HMAC_SHA1)
        || algorithm(reference, "DigestMethod").as_deref() != Some(SHA1_DIGEST)
    {
        return Err(Refusal::WrongAlgorithm);
    }
    let ts_id = timestamp.attr("Id").ok_or(Refusal::Missing("wsu:Id on the Timestamp"))?;
    if reference.attr("URI") != Some(&format!("#{ts_id}")) {
        return Err(Refusal::ReferenceMismatch);
    }
    let key_id = signature
        .path(&["KeyInfo", "SecurityTokenReference", "KeyIdentifier"])
        .map(|k| k.text.trim().to_owned())
        .ok_or(Refusal::Missing("KeyInfo/SecurityTokenReference/KeyIdentifier"))?;
    if assertion.attr("AssertionID") != Some(key_id.as_str()) {
        return Err(Refusal::ReferenceMismatch);
    }
    let key = issued.proof_key(&key_id, now).ok_or(Refusal::UnknownTicket)?;

    let digest = base64::engine::general_purpose::STANDARD.encode(Sha1::digest(doc.outer_xml(timestamp).as_bytes()));
    let sent_digest = reference.child_text("DigestValue").map(str::trim).ok_or(Refusal::Missing("DigestValue"))?;
    if digest != sent_digest {
        return Err(Refusal::DigestMismatch);
    }
    let sent_value = signature.child_text("SignatureValue").ok_or(Refusal::Missing("SignatureValue"))?;
    let sent_value = base64::engine::general_purpose::STANDARD
        .decode(sent_value.split_whitespace().collect::<String>())
        .map_err(|_| Refusal::BadSignature)?;
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(&key).map_err(|_| Refusal::BadSignature)?;
    mac.update(doc.outer_xml(signed_info).as_bytes());
    mac.verify_slice(&sent_value).map_err(|_| Refusal::BadSignature)?;

    let created = timestamp.child_text("Created").and_then(parse_utc).ok_or(Refusal::Expired)?;
    let expires = timestamp.child_text("Expires").and_then(parse_utc).ok_or(Refusal::Expired)?;
    if expires <= now {
        return Err(Refusal::Expired);
    }
    if created > now + MAX_SKEW {
        return Err(Refusal::NotYetValid);
    }
    issued.holder(&key_id, now).ok_or(Refusal::UnknownTicket)
}

/// WS-Trust `CK/PSHA1`: P_SHA1(secret = client entropy, seed = server entropy), 32 bytes (RFC 2246 §5's P_hash).
pub fn p_sha1(secret: &[u8], seed: &[u8]) -> [u8; 32] {
    let hmac = |parts: &[&[u8]]| -> Vec<u8> {
        let Ok(mut mac) = <Hmac<Sha1> as Mac>::new_from_slice(secret) else { return vec![0; 20] };
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().to_vec()
    };
    let mut out = Vec::with_capacity(40);
    let mut a = hmac(&[seed]); // A(1)
    while out.len() < 32 {
        out.extend(hmac(&[&a, seed]));
        a = hmac(&[&a]);
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(&out[..32]);
    key
}

/// `2026-11-22T05:00:00Z` (optionally with fractional seconds) as a time.
fn parse_utc(s: &str) -> Option<SystemTime> {
    let s = s.trim().strip_suffix('Z')?;
    let (date, time_part) = s.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|x| x.parse::<i32>().ok());
    let (y, mo, da) = (d.next()??, d.next()??, d.next()??);
    let mut t = time_part.split('.').next()?.splitn(3, ':').map(|x| x.parse::<u8>().ok());
    let (h, mi, se) = (t.next()??, t.next()??, t.next()??);
    let date =
        time::Date::from_calendar_date(y, time::Month::try_from(u8::try_from(mo).ok()?).ok()?, u8::try_from(da).ok()?)
            .ok()?;
    let dt = date.with_hms(h, mi, se).ok()?.assume_utc();
    Some(SystemTime::from(dt))
}

#[cfg(test)]
mod tests {
    use super::super::{Issue, rstr};
    use super::*;
    use sfbkit::auth::proof::{ProofKey, proof_rst_request};
    use sfbkit::auth::webticket::{WebTicket, parse_rstr};

    const ALICE: &str = "sip:alice@contoso.lab";
    const CLIENT_ENTROPY: [u8; 32] = [0x11; 32];

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000)
    }

    /// A ticket issued to alice at `now()`, remembered with its proof key as the service does.
    fn issued_ticket() -> (Issued, WebTicket) {
        let issue = Issue {
            issuer: "pool01.contoso.lab",
            sip_uri: ALICE,
            audience: "https://pool/x",
            context: "c",
            assertion_id: "SamlSecurityToken-1",
            now: now(),
            server_entropy: [0x22; 32],
        };
        let ticket = parse_rstr(rstr(&issue).as_bytes()).unwrap();
        let issued = Issued::default();
        let key = p_sha1(&CLIENT_ENTROPY, &issue.server_entropy);
        issued.remember_with_key("SamlSecurityToken-1", ALICE, now() + super::super::TICKET_LIFETIME, now(), key);
        (issued, ticket)
    }

    fn signed(ticket: &WebTicket, key: &ProofKey, created: SystemTime, expires: SystemTime) -> String {
        proof_rst_request("https://pool/p", ticket, key, created, expires, "https://pool/y", ALICE, &[3; 32], "c", "m")
            .unwrap()
    }

    #[test]
    fn the_lab_p_sha1_matches_sfbkit_for_the_same_entropies() {
        let (_, ticket) = issued_ticket();
        assert_eq!(ticket.proof_key(&CLIENT_ENTROPY), Some(p_sha1(&CLIENT_ENTROPY, &[0x22; 32])));
    }

    #[test]
    fn a_correctly_signed_request_names_the_holder() {
        let (issued, ticket) = issued_ticket();
        let key = ProofKey::for_ticket(&ticket, &CLIENT_ENTROPY).unwrap();
        let body = signed(&ticket, &key, ticket.created, ticket.expires);
        assert!(is_signed(body.as_bytes()));
        assert_eq!(verify(&issued, body.as_bytes(), now() + Duration::from_secs(60)), Ok(ALICE.to_owned()));
    }

    #[test]
    fn a_tampered_timestamp_a_wrong_key_and_an_expired_timestamp_are_refused() {
        let (issued, ticket) = issued_ticket();
        let key = ProofKey::for_ticket(&ticket, &CLIENT_ENTROPY).unwrap();
        let later = now() + Duration::from_secs(60);

        let body = signed(&ticket, &key, ticket.created, ticket.expires);
        let expires = sfbkit::auth::proof::xs_datetime(ticket.expires);
        let tampered = body.replacen(&expires, "2099-01-01T00:00:00Z", 1);
        assert_ne!(tampered, body);
        assert_eq!(verify(&issued, tampered.as_bytes(), later), Err(Refusal::DigestMismatch));

        let wrong = signed(&ticket, &ProofKey::new([0x33; 32]), ticket.created, ticket.expires);
        assert_eq!(verify(&issued, wrong.as_bytes(), later), Err(Refusal::BadSignature));

        let past = now() - Duration::from_secs(3600);
        let stale = signed(&ticket, &key, past - Duration::from_secs(300), past);
        assert_eq!(verify(&issued, stale.as_bytes(), later), Err(Refusal::Expired));

        let future = signed(&ticket, &key, now() + Duration::from_secs(3600), now() + Duration::from_secs(7200));
        assert_eq!(verify(&issued, future.as_bytes(), later), Err(Refusal::NotYetValid));
    }

    #[test]
    fn unknown_or_unsigned_requests_are_refused() {
        let (_, ticket) = issued_ticket();
        let key = ProofKey::for_ticket(&ticket, &CLIENT_ENTROPY).unwrap();
        let body = signed(&ticket, &key, ticket.created, ticket.expires);
        assert_eq!(verify(&Issued::default(), body.as_bytes(), now()), Err(Refusal::UnknownTicket));
        let (issued, _) = issued_ticket();
        let after_expiry = now() + super::super::TICKET_LIFETIME;
        assert_eq!(verify(&issued, body.as_bytes(), after_expiry), Err(Refusal::UnknownTicket));
        assert_eq!(verify(&issued, b"<s:Envelope xmlns:s='x'/>", now()), Err(Refusal::NotSigned));
        assert!(!is_signed(b"not xml"));
        let other = body.replacen("#timestamp", "#other", 1);
        assert_eq!(verify(&issued, other.as_bytes(), now()), Err(Refusal::ReferenceMismatch));
    }

    #[test]
    fn times_are_read_as_utc() {
        assert_eq!(parse_utc("2026-11-18T11:06:40Z"), Some(now()));
        assert_eq!(parse_utc("2026-11-18T11:06:40.123Z"), Some(now()));
        assert_eq!(parse_utc("2026-13-18T11:06:40Z"), None);
        assert_eq!(parse_utc("2026-11-18T11:06:40"), None);
    }
}
