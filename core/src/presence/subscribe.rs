//! The batched presence SUBSCRIBE ([MS-PRES] batch subscription; REFERENCE §8.2, CLIENT-NOTES §9.4, pidgin-sipe
//! `sipe-subscriptions.c`).
//!
//! One SUBSCRIBE to the user's own URI (To = From) lists the contacts (an ad-hoc resource list) and the
//! categories wanted for each; the server answers with a piggy-backed first NOTIFY in the 200 OK and then
//! NOTIFY/BENOTIFY `multipart/related` bodies ([`super::parse_presence_notify`]).
//!
//! Header values below are what pidgin-sipe sends (CLIENT-NOTES §9.4); `Supported` and `Proxy-Require` are listed
//! once per option tag as the client writes them.

use crate::xml::escape;

/// `Require:` of a batched SUBSCRIBE with a category list.
pub const BATCH_SUBSCRIBE_REQUIRE: &str = "adhoclist, categoryList";
/// `Supported:` values of a batched SUBSCRIBE, one header each.
pub const BATCH_SUBSCRIBE_SUPPORTED: &[&str] =
    &["eventlist", "ms-piggyback-first-notify", "ms-benotify", "com.microsoft.autoextend"];
/// `Proxy-Require:` of a batched SUBSCRIBE (BENOTIFY needs the proxy's support).
pub const BATCH_SUBSCRIBE_PROXY_REQUIRE: &str = "ms-benotify";
/// `Accept:` of a batched SUBSCRIBE, in pidgin-sipe's order.
pub const BATCH_SUBSCRIBE_ACCEPT: &str = "application/msrtc-event-categories+xml, text/xml+msrtc.pidf, \
     application/xpidf+xml, application/pidf+xml, application/rlmi+xml, multipart/related";
/// The categories a Lync 2013 client asks for.
pub const BATCH_SUBSCRIBE_CATEGORIES: &[&str] = &["calendarData", "contactCard", "note", "state"];
/// Namespace of the `batchSub` document.
pub const BATCH_SUBSCRIBE_NS: &str = "http://schemas.microsoft.com/2006/01/sip/batch-subscribe";
/// Namespace of its `categoryList`.
pub const CATEGORY_LIST_NS: &str = "http://schemas.microsoft.com/2006/09/sip/categorylist";

/// The body of a batched SUBSCRIBE from `self_uri` for `resources` (contact URIs, `sip:` included), sent with
/// `Content-Type:` [`super::CONTENT_TYPE_BATCH_SUBSCRIBE`]. `action_id` is the client's number for this action.
pub fn batch_subscribe_body(self_uri: &str, resources: &[String], action_id: u32) -> String {
    let mut out = format!(
        "<batchSub xmlns=\"{BATCH_SUBSCRIBE_NS}\" uri=\"{}\" name=\"\"><action name=\"subscribe\" id=\"{action_id}\">\
         <adhocList>",
        escape(self_uri)
    );
    for r in resources {
        out.push_str(&format!("<resource uri=\"{}\"/>", escape(r)));
    }
    out.push_str(&format!("</adhocList><categoryList xmlns=\"{CATEGORY_LIST_NS}\">"));
    for c in BATCH_SUBSCRIBE_CATEGORIES {
        out.push_str(&format!("<category name=\"{c}\"/>"));
    }
    out.push_str("</categoryList></action></batchSub>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Document;

    #[test]
    fn builds_the_batch_subscribe_document() {
        let resources = vec!["sip:bob@contoso.lab".to_owned(), "sip:o'brien&co@fabrikam.lab".to_owned()];
        let body = batch_subscribe_body("sip:alice@contoso.lab", &resources, 63792024);
        assert!(body.starts_with(
            "<batchSub xmlns=\"http://schemas.microsoft.com/2006/01/sip/batch-subscribe\" uri=\"sip:alice@contoso.lab\" \
             name=\"\"><action name=\"subscribe\" id=\"63792024\"><adhocList><resource uri=\"sip:bob@contoso.lab\"/>"
        ));
        let doc = Document::parse(body.as_bytes()).unwrap();
        let action = doc.root.child("action").unwrap();
        let uris: Vec<_> =
            action.child("adhocList").unwrap().children_named("resource").filter_map(|r| r.attr("uri")).collect();
        assert_eq!(uris, ["sip:bob@contoso.lab", "sip:o'brien&co@fabrikam.lab"]);
        let list = action.child("categoryList").unwrap();
        assert_eq!(list.namespace.as_deref(), Some(CATEGORY_LIST_NS));
        let names: Vec<_> = list.children_named("category").filter_map(|c| c.attr("name")).collect();
        assert_eq!(names, ["calendarData", "contactCard", "note", "state"]);
    }

    #[test]
    fn accept_list_covers_what_notifications_carry() {
        for t in [
            "application/rlmi+xml",
            "multipart/related",
            "application/msrtc-event-categories+xml",
            "text/xml+msrtc.pidf",
        ] {
            assert!(BATCH_SUBSCRIBE_ACCEPT.split(", ").any(|a| a == t), "{t}");
        }
    }
}
