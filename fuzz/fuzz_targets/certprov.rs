//! The certificate provisioning reader (`auth/certprov.rs` `parse_certificate`): the DER certificate in a
//! GetAndPublishCertResponse.
//!
//! Invariants: the shared XML reader's invariants on the body; the certificate returned is the base64 of the
//! first `BinarySecurityToken` under a `RequestedSecurityToken`, whitespace removed.
#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use sfbkit::auth::certprov::parse_certificate;
use sfbkit_fuzz::touch;

fuzz_target!(|body: &[u8]| {
    let doc = sfbkit_fuzz::check_document(body);
    let der = match parse_certificate(body) {
        Ok(der) => der,
        Err(e) => return touch(&e),
    };
    let doc = doc.expect("a document the certificate was read from parses");
    let token = doc
        .root
        .descendants("RequestedSecurityToken")
        .into_iter()
        .find_map(|r| r.descendants("BinarySecurityToken").into_iter().next())
        .expect("the token the certificate came from");
    let b64: String = token.text.split_whitespace().collect();
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(b64).ok(), Some(der), "not the first token's bytes");
});
