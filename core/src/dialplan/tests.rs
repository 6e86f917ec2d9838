//! Location-profile tests: the two fixture profiles with hand-worked expected results, the .NET
//! replacement traps and every refused pattern construct.

use super::*;

const UK_XML: &str = include_str!("../../../tests/fixtures/location-profiles/uk-seed003.xml");
const UK_EXPECTED: &str = include_str!("../../../tests/fixtures/location-profiles/uk-seed003.expected.json");
const AREA999_XML: &str = include_str!("../../../tests/fixtures/location-profiles/area999.xml");
const AREA999_EXPECTED: &str = include_str!("../../../tests/fixtures/location-profiles/area999.expected.json");

fn assert_table(profile: &LocationProfile, expected: &str) {
    let rows: Vec<serde_json::Value> = serde_json::from_str(expected).unwrap();
    assert!(!rows.is_empty());
    for row in rows {
        let input = row["input"].as_str().unwrap();
        let got = profile.normalize(input);
        assert_eq!(got.output.as_deref(), row["output"].as_str(), "output for {input:?} ({row})");
        assert_eq!(got.rule.as_ref().map(|r| r.index as u64), row["rule"].as_u64(), "rule for {input:?} ({row})");
        if let Some(r) = &got.rule {
            assert_eq!(r.pattern, profile.rules[r.index - 1].pattern);
        }
        assert!(got.error.is_none());
    }
}

/// A profile holding one rule.
fn one_rule(pattern: &str, translation: &str) -> Result<LocationProfile, DialPlanError> {
    let xml = format!(
        "<LocationProfileDescription xmlns=\"{LOCATION_PROFILE_NAMESPACE}\"><Name>t</Name>\
         <Rule><Pattern>{}</Pattern><Translation>{}</Translation></Rule></LocationProfileDescription>",
        crate::xml::escape(pattern),
        crate::xml::escape(translation)
    );
    LocationProfile::parse(xml.as_bytes())
}

fn translate(pattern: &str, translation: &str, input: &str) -> Option<String> {
    one_rule(pattern, translation).unwrap().normalize(input).output
}

#[test]
fn uk_profile_from_seed_003_loads() {
    let p = LocationProfile::parse(UK_XML.as_bytes()).unwrap();
    assert_eq!(p.name, "XXXX_dial_plan");
    assert_eq!(p.rules.len(), 5);
    assert_eq!(p.rules[4].pattern, r"^\+440(\d{10}\d?\d?)");
    assert_eq!(p.rules[4].translation, "+44$1");
    assert!(p.rules.iter().all(|r| !r.internal_enterprise_extension && r.applicable_for_device_dialing.is_none()));
    assert_eq!(p.external_access_prefix.as_deref(), Some("9"));
    assert_eq!(p.optimize_device_dialing, Some(true));
}

#[test]
fn uk_profile_expected_table() {
    let p = LocationProfile::parse(UK_XML.as_bytes()).unwrap();
    assert_table(&p, UK_EXPECTED);
}

#[test]
fn area999_profile_expected_table() {
    let p = LocationProfile::parse(AREA999_XML.as_bytes()).unwrap();
    assert_eq!(p.name, "Area 999");
    assert_eq!(p.rules.len(), 18);
    assert_eq!(p.optimize_device_dialing, Some(true));
    assert_table(&p, AREA999_EXPECTED);
}

#[test]
fn namespace_case_and_absence_are_accepted_others_refused() {
    let lower = UK_XML.replace("LocationProfileDescription\"", "locationProfileDescription\"");
    assert_ne!(lower, UK_XML);
    assert_eq!(LocationProfile::parse(lower.as_bytes()).unwrap().rules.len(), 5);
    let none = UK_XML.replace(&format!(" xmlns=\"{LOCATION_PROFILE_NAMESPACE}\""), "");
    assert_eq!(LocationProfile::parse(none.as_bytes()).unwrap().rules.len(), 5);
    let other = UK_XML.replace("2007/03", "2006/09");
    assert!(matches!(LocationProfile::parse(other.as_bytes()), Err(DialPlanError::WrongNamespace { .. })));
    assert!(matches!(
        LocationProfile::parse(b"<provisionGroupList/>"),
        Err(DialPlanError::NotLocationProfile { found }) if found == "provisionGroupList"
    ));
}

#[test]
fn structural_errors_name_what_is_missing() {
    let no_name = "<LocationProfileDescription><Rule><Pattern>^1$</Pattern><Translation>1</Translation></Rule>\
                   </LocationProfileDescription>";
    assert_eq!(LocationProfile::parse(no_name.as_bytes()).unwrap_err(), DialPlanError::MissingName);
    let no_translation = "<LocationProfileDescription><Name>n</Name><Rule><Pattern>^1$</Pattern></Rule>\
                          </LocationProfileDescription>";
    assert_eq!(
        LocationProfile::parse(no_translation.as_bytes()).unwrap_err(),
        DialPlanError::MissingElement { index: 1, element: "Translation" }
    );
    let bad_bool = UK_XML.replacen("<InternalEnterpriseExtension>false", "<InternalEnterpriseExtension>no", 2);
    let err = LocationProfile::parse(bad_bool.as_bytes()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "<InternalEnterpriseExtension> is \"no\", not a boolean (true, false, 1 or 0) in rule 1"
    );
    assert!(matches!(LocationProfile::parse(b"<LocationProfileDescription"), Err(DialPlanError::Xml(_))));
}

#[test]
fn extension_flag_is_reported() {
    let xml = "<LocationProfileDescription><Name>n</Name><Rule><Pattern>^(\\d{4})$</Pattern>\
               <Translation>+14255550$1</Translation><InternalEnterpriseExtension>true</InternalEnterpriseExtension>\
               <ApplicableForDeviceDialing>1</ApplicableForDeviceDialing></Rule></LocationProfileDescription>";
    let p = LocationProfile::parse(xml.as_bytes()).unwrap();
    assert_eq!(p.rules[0].applicable_for_device_dialing, Some(true));
    let n = p.normalize("1234");
    assert_eq!(n.output.as_deref(), Some("+142555501234"));
    assert!(n.extension);
    let json = serde_json::to_value(&n).unwrap();
    assert_eq!(json["rule"]["index"], 1);
    assert_eq!(json["rule"]["pattern"], "^(\\d{4})$");
    assert!(json.get("error").is_none());
}

#[test]
fn formatting_is_stripped_but_a_leading_plus_kept() {
    assert_eq!(strip_formatting(" +44 (0)20-7946.0018\t"), "+4402079460018");
    assert_eq!(strip_formatting("555 1234 x12"), "5551234x12");
}

#[test]
fn unanchored_pattern_must_cover_the_whole_string() {
    assert_eq!(translate(r"\d{4}", "<$&>", "1234").as_deref(), Some("<1234>"));
    assert_eq!(translate(r"\d{4}", "<$&>", "12345"), None, "a match of 1234 leaves 5 over");
    assert_eq!(translate(r"\d{4}", "<$&>", "x1234"), None, "the first match starts at 1");
    // The first match .NET would find decides, even if another alternative would cover it all.
    assert_eq!(translate(r"\d{3}|\d{4}", "<$&>", "1234"), None);
}

// ---- .NET replacement traps (DEPENDENCIES.md §9; results checked with Mono 6.8) ----

#[test]
fn dollar_digit_then_letter_is_group_then_letter() {
    assert_eq!(translate(r"^(\d)(\d)$", "$1a", "12").as_deref(), Some("1a"));
}

#[test]
fn dollar_ten_with_two_groups_is_literal() {
    // .NET (non-ECMAScript) reads all digits: group 10 does not exist, so "$10" stays literal.
    assert_eq!(translate(r"^(\d)(\d)$", "+1425555$10$2", "12").as_deref(), Some("+1425555$102"));
    // With ten groups it is group 10.
    assert_eq!(translate(r"^(1)(2)(3)(4)(5)(6)(7)(8)(9)(0)$", "$10", "1234567890").as_deref(), Some("0"));
}

#[test]
fn dollar_dollar_and_braces() {
    assert_eq!(translate(r"^(\d)(\d)$", "$$1", "12").as_deref(), Some("$1"));
    assert_eq!(translate(r"^(\d)(\d)$", "${1}0", "12").as_deref(), Some("10"));
    assert_eq!(translate(r"^(\d)(\d)$", "${3}|${x}|${1|$", "12").as_deref(), Some("${3}|${x}|${1|$"));
    assert_eq!(translate(r"^(\d)(\d)$", "a${", "12").as_deref(), Some("a${"));
}

#[test]
fn special_references() {
    assert_eq!(translate(r"^(\d)(\d)$", "$+|$_|$&|$`|$'|$3|$x", "12").as_deref(), Some("2|12|12|||$3|$x"));
    // $+ is the highest-numbered group even when it did not take part.
    assert_eq!(translate(r"^(?<a>\d)(\d)(?<b>\d)?$", "[$+]", "12").as_deref(), Some("[]"));
    assert_eq!(translate(r"^\d+$", "[$+]", "12").as_deref(), Some("[12]"), "no groups: $+ is the match");
}

#[test]
fn named_groups_are_numbered_after_unnamed_ones() {
    assert_eq!(translate(r"^(?<a>\d)(\d)$", "1=$1 2=$2 a=${a}", "12").as_deref(), Some("1=2 2=1 a=1"));
    let p = one_rule(r"^(?<ext>\d{4})$", "+1425555${ext}").unwrap();
    assert_eq!(p.normalize("0100").output.as_deref(), Some("+14255550100"));
}

#[test]
fn lookaround_rules_work() {
    assert_eq!(
        translate(r"^9(\d{4})(?<=\d{5})$", "+14255550100;ext=$1", "90100").as_deref(),
        Some("+14255550100;ext=0100")
    );
    assert_eq!(translate(r"^(?!\+)(\d{10})$", "+1$1", "4255550100").as_deref(), Some("+14255550100"));
}

#[test]
fn translation_tokens_are_parsed_at_load() {
    use translation::Token;
    let p = one_rule(r"^(\d)(\d)$", "+1$1a$$${2}").unwrap();
    assert_eq!(
        p.rules[0].translation_tokens(),
        [Token::Literal("+1".into()), Token::Group(1), Token::Literal("a$".into()), Token::Group(2)]
    );
    let huge = one_rule(r"^(\d)$", "$99999999999").unwrap_err();
    assert!(matches!(huge, DialPlanError::Translation { index: 1, reason: TranslationError::GroupNumberTooLarge, .. }));
}

// ---- refused constructs: each error names the rule (index and pattern) ----

fn refused(pattern: &str) -> PatternError {
    let xml = format!(
        "<LocationProfileDescription><Name>t</Name><Rule><Pattern>^1$</Pattern><Translation>1</Translation></Rule>\
         <Rule><Pattern>{}</Pattern><Translation>x</Translation></Rule></LocationProfileDescription>",
        crate::xml::escape(pattern)
    );
    match LocationProfile::parse(xml.as_bytes()) {
        Err(err @ DialPlanError::Pattern { .. }) => {
            let text = err.to_string();
            assert!(text.starts_with(&format!("rule 2 pattern {pattern:?} refused: ")), "{text}");
            let DialPlanError::Pattern { index, pattern: p, reason } = err else { unreachable!() };
            assert_eq!((index, p.as_str()), (2, pattern));
            reason
        }
        other => panic!("{pattern}: expected a refusal, got {other:?}"),
    }
}

#[test]
fn class_subtraction_is_refused() {
    assert_eq!(refused(r"^[a-z-[aeiou]]$"), PatternError::ClassSubtraction { at: 5 });
    assert_eq!(refused(r"^[[a]]$"), PatternError::NestedClass { at: 2 });
    assert!(matches!(refused(r"^[a&&b]$"), PatternError::ClassOperator { op, .. } if op == "&&"));
}

#[test]
fn balancing_and_numbered_groups_are_refused() {
    assert!(matches!(refused(r"(?<open>\()(?<-open>\))"), PatternError::BalancingGroup { at: 11, .. }));
    assert!(matches!(refused(r"(?<a-b>x)"), PatternError::BalancingGroup { .. }));
    assert!(matches!(refused(r"(?<3>x)"), PatternError::NumberedGroup { .. }));
    assert!(matches!(refused(r"(?<n>a)(?<n>b)"), PatternError::DuplicateName { name } if name == "n"));
}

#[test]
fn unicode_blocks_and_unknown_properties_are_refused() {
    assert!(
        matches!(refused(r"^\p{IsBasicLatin}+$"), PatternError::UnicodeBlock { name, .. } if name == "IsBasicLatin")
    );
    assert!(matches!(refused(r"^\P{IsGreek}$"), PatternError::UnicodeBlock { .. }));
    assert!(matches!(refused(r"^\p{Greek}$"), PatternError::UnknownProperty { .. }));
    assert!(one_rule(r"^\p{Nd}+$", "$&").is_ok());
}

#[test]
fn divergent_inline_options_are_refused() {
    assert_eq!(refused(r"(?n)(\d)"), PatternError::InlineOption { at: 2, option: 'n' });
    assert_eq!(refused(r"(?x)1 2"), PatternError::InlineOption { at: 2, option: 'x' });
    assert_eq!(refused(r"(?i-x:a)"), PatternError::InlineOption { at: 4, option: 'x' });
    assert_eq!(translate(r"^(?i)ext(\d+)$", "$1", "EXT12").as_deref(), Some("12"));
    assert_eq!(translate(r"^(?i:x)(\d)$", "$1", "X5").as_deref(), Some("5"));
}

#[test]
fn other_divergent_syntax_is_refused() {
    assert!(matches!(refused(r"^a{,3}$"), PatternError::Brace { .. }));
    assert!(matches!(refused(r"^\<1$"), PatternError::Escape { .. }));
    assert!(matches!(refused(r"^\b{start}1"), PatternError::Escape { .. }));
    assert!(matches!(refused(r"^(?(1)a|b)$"), PatternError::Conditional { .. }));
    assert!(matches!(refused(r"^a*+$"), PatternError::NestedQuantifier { .. }));
    assert!(matches!(refused(r"^\d{2}{3}$"), PatternError::NestedQuantifier { .. }));
    assert!(matches!(refused(r"^\K1$"), PatternError::Escape { .. }));
    assert!(matches!(refused(r"^\0$"), PatternError::Escape { .. }));
    assert!(matches!(refused(r"(?P<n>a)"), PatternError::UnknownGroup { .. }));
    assert!(matches!(refused(r"^(?<a>\d)(\d)\1$"), PatternError::AmbiguousBackreference { .. }));
    assert!(matches!(refused(r"^(\d"), PatternError::Compile(_)));
    // Lazy quantifiers, escaped braces and backreferences without mixing are fine.
    assert!(one_rule(r"^\d{2,}?\{x\}(\d)\1$", "$1").is_ok());
    assert!(one_rule(r"^(?<d>\d)\k<d>$", "$1").is_ok());
}

#[test]
fn runaway_backtracking_is_an_error_not_a_hang() {
    let p = one_rule(r"^((?=\d)\d+)+$", "$1").unwrap();
    let n = p.normalize(&format!("{}x", "1".repeat(40)));
    assert_eq!(n.output, None);
    assert!(n.error.as_deref().is_some_and(|e| e.starts_with("rule 1 (")), "{n:?}");
}

#[test]
fn overlong_input_matches_nothing() {
    let p = one_rule(r"^(\d+)$", "$1").unwrap();
    assert_eq!(p.normalize(&"1".repeat(MAX_DIALED_CHARS + 1)).output, None);
    assert!(p.normalize(&"1".repeat(MAX_DIALED_CHARS)).output.is_some());
}

#[test]
fn request_uri_for_the_default_and_a_named_profile() {
    assert_eq!(
        location_profile_request_uri("alice@contoso.com", None),
        "sip:alice@contoso.com;gruu;opaque=app:locationprofile:get;default"
    );
    assert_eq!(
        location_profile_request_uri("sip:alice@contoso.com", Some("Area 999")),
        "sip:alice@contoso.com;gruu;opaque=app:locationprofile:get;phone-context=Area%20999"
    );
}
