//! The location profile reader (`dialplan::LocationProfile::parse`): a `LocationProfileDescription` whose
//! rules are compiled at load, then normalization of a number with it.
//!
//! Input: the document, then optionally a NUL byte and a dialed number.
//!
//! Invariants: the shared XML reader's invariants on the document; one rule per `Rule` element; normalizing
//! gives the stripped input, names a rule that exists by its 1-based index and pattern, and is the same
//! whether asked once or twice (no state carried between calls).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sfbkit::dialplan::{LocationProfile, strip_formatting};
use sfbkit_fuzz::{split_at, touch};

fuzz_target!(|data: &[u8]| {
    let (body, number) = split_at(data, 0);
    let doc = sfbkit_fuzz::check_document(body);
    let profile = match LocationProfile::parse(body) {
        Ok(p) => p,
        Err(e) => return touch(&e),
    };
    let doc = doc.expect("a location profile is a document");
    assert_eq!(profile.rules.len(), doc.root.children_named("Rule").count());
    for rule in &profile.rules {
        touch(&rule.translation_tokens());
    }
    let number = String::from_utf8_lossy(number);
    let n = profile.normalize(&number);
    assert_eq!(n.stripped, strip_formatting(&number));
    if let Some(rule) = &n.rule {
        assert!(rule.index >= 1 && rule.index <= profile.rules.len());
        assert_eq!(rule.pattern, profile.rules[rule.index - 1].pattern);
        assert!(n.output.is_some());
    }
    assert_eq!(profile.normalize(&number), n, "normalize is not deterministic");
});
