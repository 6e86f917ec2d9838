//! The dial-plan pattern compiler (`dialplan/pattern.rs`: .NET regex syntax checked for constructs
//! fancy-regex reads differently, then compiled) and the .NET translation parser (`translation.rs`), then a
//! match and expansion, the way one location-profile rule is applied. Reached through
//! `sfbkit::fuzzing::dialplan` (`--cfg fuzzing` only) so patterns need no XML around them.
//!
//! Input: pattern, NUL, translation, NUL, dialed number.
//!
//! Invariants: the .NET → fancy-regex group map is a permutation of fancy-regex's groups (every .NET group
//! 0..=last maps to a distinct group fancy-regex has, and group 0 to 0); every group a parsed translation
//! refers to exists; compiling is deterministic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sfbkit::dialplan::Token;
use sfbkit::fuzzing::dialplan::compile;
use sfbkit_fuzz::{fields, touch};

fuzz_target!(|data: &[u8]| {
    let f = fields(data, 3);
    let pattern = String::from_utf8_lossy(f[0]);
    let translation = String::from_utf8_lossy(f[1]);
    let number = String::from_utf8_lossy(f[2]);
    let (rule, parsed) = match compile(&pattern, &translation) {
        Ok(r) => r,
        Err(e) => return touch(&e),
    };
    let len = rule.captures_len();
    assert_eq!(rule.last_group() + 1, len, "the group map does not cover fancy-regex's groups");
    assert_eq!(rule.fancy_index(0), Some(0));
    let mut seen = vec![false; len];
    for n in 0..=rule.last_group() {
        let fi = rule.fancy_index(n).expect("every .NET group up to last maps somewhere");
        assert!(fi < len && !seen[fi], "group {n} maps to {fi}, out of range or twice");
        seen[fi] = true;
    }
    match parsed {
        Ok(()) => {
            for token in rule.tokens() {
                if let Token::Group(n) = token {
                    assert!(*n <= rule.last_group(), "translation refers to group {n} of {}", rule.last_group());
                }
            }
        }
        Err(e) => touch(&e),
    }
    let again = compile(&pattern, &translation).map(|(r, _)| (r.captures_len(), r.tokens().to_vec()));
    assert_eq!(again.ok(), Some((len, rule.tokens().to_vec())));
    let _ = rule.apply(&number);
});
