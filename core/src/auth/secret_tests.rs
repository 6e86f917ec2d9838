//! Test helpers for secrets (issue 9, item 4): a value's `Debug` output must not show a secret in any form it
//! could be printed in, and key material must be wiped when its holder is dropped.

use base64::Engine as _;

/// Panics when `debug` (a value's `{:?}` output) contains `secret` as text, as lower- or upper-case hex, as
/// base64 (padded or not, standard or URL alphabet), or as Rust's `Debug` of its bytes (decimal or hex list).
#[track_caller]
pub(crate) fn assert_redacted(debug: &str, secret: &[u8]) {
    assert!(secret.len() >= 4, "a test secret this short could match by chance");
    for form in forms(secret) {
        assert!(!debug.contains(&form), "Debug output shows the secret (as {form:?}): {debug}");
    }
}

fn forms(secret: &[u8]) -> Vec<String> {
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let list = format!("{secret:?}");
    let hex_list = format!("{secret:02x?}");
    let mut forms = vec![
        hex.to_uppercase(),
        hex,
        base64::engine::general_purpose::STANDARD.encode(secret),
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(secret),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret),
        // Without the brackets, so a list cut short or nested in another still matches.
        list.trim_matches(['[', ']']).to_string(),
        hex_list.trim_matches(['[', ']']).to_string(),
    ];
    if let Ok(text) = std::str::from_utf8(secret) {
        forms.push(text.to_string());
        forms.push(text.escape_debug().to_string());
    }
    forms
}

/// Compiles only for types that wipe themselves on drop (`#[derive(ZeroizeOnDrop)]` or a `Drop` that zeroizes,
/// marked with the trait). Freed memory is never read to check it.
pub(crate) fn assert_zeroize_on_drop<T: zeroize::ZeroizeOnDrop>() {}

#[test]
fn every_printed_form_is_caught() {
    let secret = b"Sup3r-Secret";
    assert_redacted("Credentials { user: \"u\", password: \"<redacted>\" }", secret);
    for leaky in [
        format!("{:?}", String::from_utf8_lossy(secret)),
        format!("{secret:?}"),
        format!("{secret:x?}"),
        "5375703372".to_string() + "2d536563726574",
        base64::engine::general_purpose::STANDARD.encode(secret),
    ] {
        let caught = std::panic::catch_unwind(|| assert_redacted(&leaky, secret)).is_err();
        assert!(caught, "not caught: {leaky}");
    }
}
