//! Location profiles (dial plans) and phone-number normalization — [MS-SIPRE] 2.2.8 (document),
//! 2.2.3 / 3.8.5.1 (how a client asks for it), protocol/REFERENCE.md §6.
//!
//! A *location profile* (`LocationProfileDescription`, namespace
//! `http://schemas.microsoft.com/2007/03/LocationProfileDescription`) is the user's dial plan: a
//! `Name` (usable as a tel-URI `phone-context`), ordered `Rule`s of a .NET regex `Pattern` and a
//! .NET replacement `Translation`, an optional `ExternalAccessPrefix` and `OptimizeDeviceDialing`.
//! The client turns what a person dials into an E.164 number (or an internal extension) with it.
//!
//! [`LocationProfile::parse`] reads the document, checks and compiles every pattern
//! ([`pattern`]) and parses every translation ([`translation`]) up front, so a profile either
//! loads completely or is refused with the rule that is wrong. [`LocationProfile::normalize`]
//! then:
//!
//! 1. strips formatting characters ([`strip_formatting`]);
//! 2. tries the rules in document order; the first rule whose pattern matches the **whole**
//!    stripped string wins. "Whole" is decided like this: the first match .NET's `Regex.Match`
//!    would return (leftmost, first alternative) must start at 0 and end at the end of the
//!    string. A pattern without anchors therefore still has to cover everything (`\d{4}` does not
//!    match "12345"), and where it does, the output is exactly what .NET's `Regex.Replace` gives.
//!    A partial match (e.g. `^\+440(\d{10}\d?\d?)` on "+440" and 13 digits) is *not* applied:
//!    `Regex.Replace` would splice the translation into the rest of the string, and a
//!    half-translated number is not a number. How the Lync client treats partial matches is not
//!    documented anywhere we found; this is our decision.
//! 3. applies that rule's translation; no matching rule means "dial it as entered".
//!
//! The wire request for the profile is [`location_profile_request_uri`] (see its evidence).

#[cfg(fuzzing)]
pub(crate) mod fuzzing;
mod pattern;
mod translation;

#[cfg(test)]
mod tests;

use serde::Serialize;

use crate::xml::{Document, Element, XmlError};
pub use pattern::{BACKTRACK_LIMIT, MAX_PATTERN_CHARS, PatternError};
pub use translation::{MAX_TRANSLATION_CHARS, Token, TranslationError};

/// The namespace of a `LocationProfileDescription` ([MS-SIPRE] 2.2.8). Compared ignoring ASCII
/// case: a published capture (shared/seeds/003) shows `locationProfileDescription`.
pub const LOCATION_PROFILE_NAMESPACE: &str = "http://schemas.microsoft.com/2007/03/LocationProfileDescription";

/// Content type of the SERVICE response carrying the profile ([MS-SIPRE] 3.8.5.1 step 4.1). A client
/// sends it as `Accept` on the request: an early (2008) pidgin-sipe copied
/// `Accept: application/ms-location-profile-definition+xml` from Office Communicator 2007 traces.
pub const LOCATION_PROFILE_CONTENT_TYPE: &str = "application/ms-location-profile-definition+xml";

/// The opaque value of a location-profile GRUU ([MS-SIPRE] 2.2.2 `app-locationprofile-opaque-val`,
/// as read in the spec's 2.2.3 ABNF; see [`location_profile_request_uri`] for how sure we are).
pub const LOCATION_PROFILE_OPAQUE: &str = "app:locationprofile:get";

/// Most rules accepted in one profile (real ones have tens).
pub const MAX_RULES: usize = 1000;

/// Longest dialed string considered, after stripping (E.164 is 15 digits; extensions and
/// `;ext=` forms are short too). Longer input matches no rule.
pub const MAX_DIALED_CHARS: usize = 256;

/// Why a location profile cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialPlanError {
    #[error("the location profile is not readable XML: {0}")]
    Xml(#[from] XmlError),
    #[error("the document's root is <{found}>, not <LocationProfileDescription>")]
    NotLocationProfile { found: String },
    #[error("the document is in namespace {found:?}, not {LOCATION_PROFILE_NAMESPACE}")]
    WrongNamespace { found: String },
    #[error("the location profile has no <Name>")]
    MissingName,
    #[error("the location profile has more than {0} rules")]
    TooManyRules(usize),
    #[error("rule {index} has no <{element}>")]
    MissingElement { index: usize, element: &'static str },
    #[error("<{element}> is {value:?}, not a boolean (true, false, 1 or 0){}", rule_suffix(*.rule))]
    NotBoolean { rule: Option<usize>, element: &'static str, value: String },
    #[error("rule {index} pattern {pattern:?} refused: {reason}")]
    Pattern { index: usize, pattern: String, reason: PatternError },
    #[error("rule {index} pattern {pattern:?}: translation {translation:?} refused: {reason}")]
    Translation { index: usize, pattern: String, translation: String, reason: TranslationError },
}

fn rule_suffix(rule: Option<usize>) -> String {
    rule.map(|r| format!(" in rule {r}")).unwrap_or_default()
}

/// One normalization rule ([MS-SIPRE] 2.2.8.2 `RuleType`), compiled.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The .NET pattern as the server sent it.
    pub pattern: String,
    /// The .NET replacement template as the server sent it.
    pub translation: String,
    /// The result is an internal extension rather than an external number.
    pub internal_enterprise_extension: bool,
    /// `ApplicableForDeviceDialing`, when present.
    pub applicable_for_device_dialing: Option<bool>,
    compiled: pattern::CompiledPattern,
    template: translation::Translation,
}

impl Rule {
    /// The translation's parsed tokens.
    pub fn translation_tokens(&self) -> &[Token] {
        self.template.tokens()
    }
}

/// A user's location profile ([MS-SIPRE] 2.2.8.1), with every rule compiled.
#[derive(Debug, Clone)]
pub struct LocationProfile {
    pub name: String,
    pub rules: Vec<Rule>,
    pub external_access_prefix: Option<String>,
    pub optimize_device_dialing: Option<bool>,
}

/// Which rule matched: its 1-based position in the profile and its pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleRef {
    pub index: usize,
    pub pattern: String,
}

/// The result of normalizing one dialed string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Normalized {
    /// What was dialed, as given.
    pub input: String,
    /// After [`strip_formatting`]: what the rules were tried on.
    pub stripped: String,
    /// The translation, or `None` when no rule matches (dial the input as entered).
    pub output: Option<String>,
    pub rule: Option<RuleRef>,
    /// The matching rule's `InternalEnterpriseExtension`.
    pub extension: bool,
    /// Set when a rule could not be evaluated (backtrack limit); rules after it were not tried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl LocationProfile {
    /// Read a `LocationProfileDescription` body, compiling every rule.
    pub fn parse(xml: &[u8]) -> Result<LocationProfile, DialPlanError> {
        let doc = Document::parse(xml)?;
        let root = &doc.root;
        if root.name != "LocationProfileDescription" {
            return Err(DialPlanError::NotLocationProfile { found: root.name.clone() });
        }
        if let Some(ns) = &root.namespace
            && !ns.eq_ignore_ascii_case(LOCATION_PROFILE_NAMESPACE)
        {
            return Err(DialPlanError::WrongNamespace { found: ns.clone() });
        }
        let name =
            root.child_text("Name").map(str::trim).filter(|n| !n.is_empty()).ok_or(DialPlanError::MissingName)?;
        let rule_elements: Vec<&Element> = root.children_named("Rule").collect();
        if rule_elements.len() > MAX_RULES {
            return Err(DialPlanError::TooManyRules(MAX_RULES));
        }
        let rules = rule_elements.iter().enumerate().map(|(i, el)| parse_rule(i + 1, el)).collect::<Result<_, _>>()?;
        Ok(LocationProfile {
            name: name.to_owned(),
            rules,
            external_access_prefix: root.child_text("ExternalAccessPrefix").map(|s| s.trim().to_owned()),
            optimize_device_dialing: boolean(root, "OptimizeDeviceDialing", None)?,
        })
    }

    /// Normalize a dialed string (see the module documentation for the exact rules).
    pub fn normalize(&self, dialed: &str) -> Normalized {
        let stripped = strip_formatting(dialed);
        let mut result = Normalized {
            input: dialed.to_owned(),
            stripped: stripped.clone(),
            output: None,
            rule: None,
            extension: false,
            error: None,
        };
        if stripped.chars().count() > MAX_DIALED_CHARS {
            return result;
        }
        for (i, rule) in self.rules.iter().enumerate() {
            let caps = match rule.compiled.regex.captures(stripped.as_str()) {
                Ok(Some(caps)) => caps,
                Ok(None) => continue,
                Err(e) => {
                    result.error = Some(format!("rule {} ({}): {e}", i + 1, rule.pattern));
                    return result;
                }
            };
            let whole = caps.get(0).is_some_and(|m| m.start() == 0 && m.end() == stripped.len());
            if !whole {
                continue;
            }
            result.output = Some(rule.template.expand(&stripped, &caps, &rule.compiled.groups));
            result.rule = Some(RuleRef { index: i + 1, pattern: rule.pattern.clone() });
            result.extension = rule.internal_enterprise_extension;
            return result;
        }
        result
    }
}

fn parse_rule(index: usize, el: &Element) -> Result<Rule, DialPlanError> {
    let pattern = el.child_text("Pattern").ok_or(DialPlanError::MissingElement { index, element: "Pattern" })?;
    let translation =
        el.child_text("Translation").ok_or(DialPlanError::MissingElement { index, element: "Translation" })?;
    let compiled = pattern::compile(pattern).map_err(|reason| DialPlanError::Pattern {
        index,
        pattern: pattern.to_owned(),
        reason,
    })?;
    let template = translation::Translation::parse(translation, &compiled.groups).map_err(|reason| {
        DialPlanError::Translation { index, pattern: pattern.to_owned(), translation: translation.to_owned(), reason }
    })?;
    Ok(Rule {
        pattern: pattern.to_owned(),
        translation: translation.to_owned(),
        internal_enterprise_extension: boolean(el, "InternalEnterpriseExtension", Some(index))?.unwrap_or(false),
        applicable_for_device_dialing: boolean(el, "ApplicableForDeviceDialing", Some(index))?,
        compiled,
        template,
    })
}

/// An optional `xsd:boolean` child.
fn boolean(parent: &Element, element: &'static str, rule: Option<usize>) -> Result<Option<bool>, DialPlanError> {
    let Some(text) = parent.child_text(element) else { return Ok(None) };
    match text.trim() {
        "true" | "1" => Ok(Some(true)),
        "false" | "0" => Ok(Some(false)),
        other => Err(DialPlanError::NotBoolean { rule, element, value: other.to_owned() }),
    }
}

/// Remove the formatting characters people type or paste around a phone number: whitespace,
/// `(`, `)`, `-` and `.`. Everything else (digits, a `+`, letters such as an `x`/`ext` marker)
/// is kept, so a leading `+` survives.
///
/// Source: the character set is the one pidgin-sipe deletes from phone numbers before using
/// them (protocol/CLIENT-NOTES.md §10, its CSTA/RCC dialing path). SIPE is the only client whose
/// behaviour we can read; Microsoft documents no list for the Lync client, so this is the
/// real-client evidence we have, not a Lync specification.
pub fn strip_formatting(dialed: &str) -> String {
    dialed.chars().filter(|c| !c.is_whitespace() && !matches!(c, '(' | ')' | '-' | '.')).collect()
}

/// The Request-URI of the SERVICE request that fetches a location profile: a location-profile
/// GRUU ([MS-SIPRE] 2.2.3) on the user's address of record, with `default` (the profile the
/// server assigns this user) or `phone-context=NAME` (a named profile).
///
/// Evidence ([MS-SIPRE]): 2.2.3 `location-profile-gruu = "sip:" address-of-record
/// *(";" location-profile-gruu-param)` with params `"gruu" / "opaque=" app-locationprofile-opaque-val
/// / default-param / phone-context-param`; 3.8.5.1: the proxy answers a SERVICE to such a URI
/// with `Content-Type: application/ms-location-profile-definition+xml` and the 2.2.8 document,
/// 485 Ambiguous when neither `default` nor `phone-context` is present, 404 when the user or the
/// profile does not exist. The opaque value `app:locationprofile:get` is from 2.2.2, which we
/// could not read directly (see the report); the parameter order follows the 2.2.3 examples of
/// other GRUUs (`;gruu;opaque=…`). No capture of a real client's request was found, and the
/// retrieved 3.8.5.1 text asks nothing of the request body, so send none.
///
/// `aor` is `user@domain` (a leading `sip:` is accepted). `phone_context` is escaped for a URI
/// parameter value (RFC 3261 `paramchar`).
pub fn location_profile_request_uri(aor: &str, phone_context: Option<&str>) -> String {
    let aor = aor.strip_prefix("sip:").unwrap_or(aor);
    let selector = match phone_context {
        Some(name) => format!("phone-context={}", escape_param(name)),
        None => "default".to_owned(),
    };
    format!("sip:{aor};gruu;opaque={LOCATION_PROFILE_OPAQUE};{selector}")
}

/// Percent-escape everything that is not an RFC 3261 `paramchar`.
fn escape_param(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        let plain = b.is_ascii_alphanumeric() || b"-_.!~*'()[]/:&+$".contains(&b);
        if plain {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
