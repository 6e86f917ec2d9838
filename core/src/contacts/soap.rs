//! Changing the contact list: SOAP bodies carried in `SERVICE` requests ([MS-SIP] 2.2.4.2, 3.7.4.3–3.7.4.4,
//! examples 4.6–4.9, Appendix D 9.2–9.5; CLIENT-NOTES.md §9.2).
//!
//! The request goes to the user's own URI (Request-URI, From and To are the user, not the contact), with
//! `Content-Type: application/SOAP+xml` ([`CONTENT_TYPE`]). The body is the [MS-SIP] 4.6 envelope:
//! `SOAP-ENV:Envelope` / `SOAP-ENV:Body` / `m:<operation>` with `m` bound to [`SIP_SOAP_NAMESPACE`], and every
//! operation ends with `m:deltaNum` (use [`super::ContactList::request_delta_num`]). The builders write it
//! without whitespace between elements, as pidgin-sipe does; the spec examples' line breaks are document
//! formatting (their `Content-Length` values do not even agree with one another).
//!
//! The server answers 200 OK, with no body or (for `addGroup`) a SOAP body carrying the new `groupID`;
//! [`parse_reply`] reads it. The list itself changes when the server's `contactDelta` arrives on the
//! subscription, not when the 200 OK does.

use crate::xml::{Document, escape};

use super::{Contact, ContactsError, normalize_uri};

/// `Content-Type` of the SERVICE request (as written in [MS-SIP] 4.6).
pub const CONTENT_TYPE: &str = "application/SOAP+xml";
/// The SOAP 1.1 envelope namespace, bound to the `SOAP-ENV` prefix.
pub const SOAP_ENVELOPE_NAMESPACE: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The namespace of the operations, bound to the `m` prefix.
pub const SIP_SOAP_NAMESPACE: &str = "http://schemas.microsoft.com/winrtc/2002/11/sip";

/// `setContact`: adds a contact or changes one ([MS-SIP] 4.6). Sends `displayName`, `groups` (space-separated
/// ids), `subscribed`, `URI` (with `sip:`), `externalURI` and `deltaNum`, in the order of Appendix D 9.2; an
/// empty group list or external URI is written as an empty element (`<m:groups />`), as in 4.6. The contact's
/// `extension` is not sent.
pub fn set_contact(delta_num: u32, contact: &Contact) -> String {
    let groups = contact.groups.iter().map(u32::to_string).collect::<Vec<_>>().join(" ");
    let inner = format!(
        "<m:displayName>{}</m:displayName>{}<m:subscribed>{}</m:subscribed><m:URI>{}</m:URI>{}{}",
        escape(&contact.name),
        optional("groups", &groups),
        contact.subscribed,
        escape(&normalize_uri(&contact.uri)),
        optional("externalURI", contact.external_uri.as_deref().unwrap_or("")),
        delta(delta_num),
    );
    envelope("setContact", &inner)
}

/// `deleteContact`: removes a contact, identified by its URI alone ([MS-SIP] 4.7). `uri` may omit `sip:`.
pub fn delete_contact(delta_num: u32, uri: &str) -> String {
    envelope("deleteContact", &format!("<m:URI>{}</m:URI>{}", escape(&normalize_uri(uri)), delta(delta_num)))
}

/// `addGroup`: creates a group ([MS-SIP] 4.8); the server picks the id and returns it in the 200 OK
/// ([`SoapReply::group_id`]).
pub fn add_group(delta_num: u32, name: &str) -> String {
    envelope("addGroup", &format!("<m:name>{}</m:name><m:externalURI />{}", escape(name), delta(delta_num)))
}

/// `modifyGroup`: renames a group (Appendix D 9.3; pidgin-sipe sends the same elements).
pub fn modify_group(delta_num: u32, id: u32, name: &str) -> String {
    let inner =
        format!("<m:groupID>{id}</m:groupID><m:name>{}</m:name><m:externalURI />{}", escape(name), delta(delta_num));
    envelope("modifyGroup", &inner)
}

/// `deleteGroup`: deletes a group ([MS-SIP] 4.9). The group must be empty first ([MS-SIP] 3.7.4.4): move or
/// delete its contacts before. The default group must not be deleted.
pub fn delete_group(delta_num: u32, id: u32) -> String {
    envelope("deleteGroup", &format!("<m:groupID>{id}</m:groupID>{}", delta(delta_num)))
}

/// What the body of the server's answer to a SOAP SERVICE says.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SoapReply {
    /// The operation element in the body (`addGroup`), `None` for an empty body.
    pub method: Option<String>,
    /// `groupID` of an `addGroup` answer: the id the server gave the new group.
    pub group_id: Option<u32>,
}

/// Reads the body of the answer to a SOAP SERVICE request. An empty body (the usual 200 OK) gives an empty
/// [`SoapReply`]; a SOAP `Fault` becomes [`ContactsError::SoapFault`] with its `faultcode`, `faultstring` and
/// the raw XML of its `detail`. The SIP status code and `ms-diagnostics` of the answer are the caller's to
/// read.
pub fn parse_reply(body: &[u8]) -> Result<SoapReply, ContactsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(SoapReply::default());
    }
    let doc = Document::parse(body)?;
    if doc.root.name != "Envelope" {
        return Err(ContactsError::UnexpectedRoot { found: doc.root.name.clone(), expected: "a SOAP <Envelope>" });
    }
    let body = doc.root.child("Body").ok_or_else(|| ContactsError::Missing { what: "SOAP <Body>".into() })?;
    let Some(operation) = body.children.first() else { return Ok(SoapReply::default()) };
    if operation.name == "Fault" {
        return Err(ContactsError::SoapFault {
            code: operation.child_text("faultcode").unwrap_or("").to_owned(),
            text: operation.child_text("faultstring").unwrap_or("").to_owned(),
            detail: operation.child("detail").map(|d| doc.inner_xml(d).trim().to_owned()),
        });
    }
    let group_id = match operation.child_text("groupID") {
        None => None,
        Some(id) => Some(id.parse::<u32>().map_err(|_| ContactsError::Invalid {
            what: format!("<{}> element groupID", operation.name),
            value: id.to_owned(),
            expected: "a group id (non-negative integer)",
        })?),
    };
    Ok(SoapReply { method: Some(operation.name.clone()), group_id })
}

fn envelope(operation: &str, inner: &str) -> String {
    format!(
        "<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"{SOAP_ENVELOPE_NAMESPACE}\"><SOAP-ENV:Body>\
         <m:{operation} xmlns:m=\"{SIP_SOAP_NAMESPACE}\">{inner}</m:{operation}></SOAP-ENV:Body></SOAP-ENV:Envelope>"
    )
}

fn optional(element: &str, value: &str) -> String {
    if value.is_empty() { format!("<m:{element} />") } else { format!("<m:{element}>{}</m:{element}>", escape(value)) }
}

fn delta(delta_num: u32) -> String {
    format!("<m:deltaNum>{delta_num}</m:deltaNum>")
}
