//! The example runs as its docs say and does what they claim.

use std::process::Command;

#[test]
fn the_presence_bot_reacts_to_bob() {
    let out = Command::new(env!("CARGO_BIN_EXE_presence_bot")).arg("5").output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("watching sip:bob@contoso.lab (Bob Berg)"), "{text}");
    assert!(text.contains("sip:bob@contoso.lab is Busy"), "{text}");
    assert!(text.contains("sip:bob@contoso.lab says: Lunch"), "{text}");
    let reactions: u32 = text
        .lines()
        .find_map(|l| l.strip_prefix("bot signed out after "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("the closing line");
    assert!(reactions >= 4, "{reactions} reactions: {text}");
}
