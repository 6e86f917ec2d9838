//! The web ticket readers (`auth/webticket.rs`): WS-MEX metadata (`parse_mex`, which ports and policy a Web
//! Ticket Service offers) and the RSTR that carries the ticket (`parse_rstr`).
//!
//! The first byte picks the reader; the rest is the document.
//!
//! Invariants: the shared XML reader's invariants on the body; a ticket's assertion is itself a document whose
//! root is `Assertion`, and its `X-MS-WebTicket` header value decodes back to that assertion; the ports read
//! from MEX are ones the metadata names.
#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use sfbkit::auth::webticket::{WebTicketPorts, parse_mex, parse_rstr, proof_port};
use sfbkit::xml::Document;
use sfbkit_fuzz::touch;

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else { return };
    sfbkit_fuzz::check_document(body);
    if which & 1 == 0 {
        let info = match parse_mex(body, "WebTicketServiceWinNegotiate_policy") {
            Ok(info) => info,
            Err(e) => return touch(&e),
        };
        let ports = WebTicketPorts::from_mex(&info);
        for location in [ports.win_negotiate, ports.ws_fed_bearer, proof_port(&info)].into_iter().flatten() {
            assert!(info.ports.values().any(|l| *l == location), "{location} is not a port of the metadata");
        }
        return;
    }
    let ticket = match parse_rstr(body) {
        Ok(t) => t,
        Err(e) => return touch(&e),
    };
    let assertion = Document::parse(ticket.assertion_xml().as_bytes()).expect("the assertion is an element's source");
    assert_eq!(assertion.root.name, "Assertion");
    let header = ticket.header_value();
    let b64 = header.strip_prefix("opaque=").expect("opaque=...");
    let decoded = base64::engine::general_purpose::STANDARD.decode(b64).expect("our own base64");
    assert_eq!(decoded, ticket.assertion_xml().as_bytes());
    let _ = (ticket.proof_key(&[3; 32]), ticket.is_fresh(ticket.created));
    touch(&ticket);
});
