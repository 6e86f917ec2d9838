//! The presence NOTIFY reader (`presence::parse_presence_notify`): batched `multipart/related` notifications
//! (RLMI list plus one categories or msrtc-pidf document per contact) and bare categories bodies, then the
//! per-contact aggregated view (`ContactPresence::apply`).
//!
//! Input: a Content-Type value, NUL, the body. A Content-Type without `boundary` gets the seeds' boundary
//! appended half of the time, so multipart bodies are reached without guessing the header.
//!
//! Invariants: every presentity's categories applied to its contact's view never panic and are idempotent
//! (applying the same categories twice changes nothing the second time); resubscribe directives name only
//! resources with `state="resubscribe"`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sfbkit::presence::{ContactPresence, parse_presence_notify};
use sfbkit_fuzz::{split_at, touch};

fuzz_target!(|data: &[u8]| {
    let (content_type, body) = split_at(data, 0);
    let Ok(content_type) = std::str::from_utf8(content_type) else { return };
    let mut content_type = content_type.to_owned();
    if content_type.starts_with("multipart") && !content_type.contains("boundary") && body.len() % 2 == 0 {
        content_type.push_str("; boundary=e7904a528704417c9a90297d24081f8e");
    }
    let n = match parse_presence_notify(&content_type, body) {
        Ok(n) => n,
        Err(e) => return touch(&e),
    };
    for r in &n.resubscribe {
        for uri in &r.uris {
            let named = n.resources.iter().any(|s| &s.uri == uri && s.state.as_deref() == Some("resubscribe"));
            assert!(named, "{uri} is resubscribed without a resubscribe instance");
        }
    }
    for p in &n.presentities {
        let mut view = ContactPresence::for_contact(&p.uri, "contoso.com");
        let first = view.apply(&p.categories);
        let snapshot = view.clone();
        let second = view.apply(&p.categories);
        assert_eq!(view, snapshot, "applying the same categories twice changed the view");
        assert!(!second.any(), "applying the same categories twice reported a change: {second:?}");
        touch(&(first, second));
    }
    touch(&n);
});
