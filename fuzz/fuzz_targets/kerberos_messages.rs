//! What sfbkit reads from a KDC, a credential cache and a Kerberos acceptor: AS/TGS replies and KRB-ERRORs,
//! AP-REPs, MIT FILE credential caches, SPNEGO replies and GSS MIC tokens (RFC 4120, RFC 4121, RFC 4757,
//! RFC 4178).
//!
//! The first byte picks the reader; the rest is the input.
//!
//! Invariants: nothing panics; a reply that decrypts was made with the key (never with another etype's); a MIC
//! token made here verifies here and only from the side that made it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sfbkit::auth::kerberos::gss::{self, Side};
use sfbkit::auth::kerberos::{Etype, Key, ccache, der, messages};
use sfbkit_fuzz::touch;

fn keys() -> Vec<Key> {
    Etype::ALL.iter().map(|e| Key::new(*e, &vec![7u8; e.key_len()]).expect("key length")).collect()
}

fn kdc_reply(data: &[u8]) {
    for key in keys() {
        for tag in [11, 13] {
            match messages::read_kdc_rep(data, tag, &key, 42) {
                Ok(c) => assert_eq!(c.session_key.etype.key_len(), c.session_key.bytes().len()),
                Err(e) => touch(&e),
            }
        }
    }
    match messages::read_krb_error(data) {
        Ok(e) => {
            let err = e.into_error();
            let _ = (err.class(), err.hint(), err.to_string());
        }
        Err(e) => touch(&e),
    }
    let _ = messages::ticket_etype(data);
}

fn ap_reply(data: &[u8]) {
    for key in keys() {
        if let Err(e) = messages::read_ap_rep(data, &key) {
            touch(&e);
        }
    }
    if let Ok(inner) = gss::unwrap_reply(data) {
        touch(&inner.len());
    }
}

fn cache(data: &[u8]) {
    match ccache::parse(data) {
        Ok(c) => {
            let _ = c.tgt();
            touch(&c.principal);
        }
        Err(e) => touch(&e),
    }
}

fn tokens(data: &[u8]) {
    if let Ok(r) = gss::spnego_reply(data) {
        touch(&r);
    }
    for key in keys() {
        if let Err(e) = gss::verify_mic(&key, Side::Acceptor, b"<Kerberos><buffer>", data) {
            touch(&e);
        }
        let mine = gss::get_mic(&key, Side::Acceptor, 1, data);
        assert!(gss::verify_mic(&key, Side::Acceptor, data, &mine).is_ok(), "our own MIC must verify");
        assert!(gss::verify_mic(&key, Side::Initiator, data, &mine).is_err(), "a reflected MIC must not");
        // Decryption of arbitrary ciphertext fails cleanly or yields what the key made.
        if let Err(e) = key.decrypt(11, data) {
            touch(&e);
        }
    }
}

fn der_walk(data: &[u8]) {
    if let Ok(f) = der::Fields::of(data) {
        for n in 0..16 {
            let _ = (f.int(n, "int"), f.string(n, "string"), f.time(n, "time"), f.octets(n, "octets"));
        }
    }
    if let Ok(items) = der::seq_of(data) {
        touch(&items.len());
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, data)) = data.split_first() else { return };
    match which % 5 {
        0 => kdc_reply(data),
        1 => ap_reply(data),
        2 => cache(data),
        3 => tokens(data),
        _ => der_walk(data),
    }
});
