//! The autodiscover readers ([MS-OCDISCWS]): the XML representation (`discovery/autodiscover/xml.rs`) and
//! UCWA's JSON one (`json.rs`), through `discovery::autodiscover::parse`, which picks one by media type.
//!
//! The first byte picks the media type and the resource requested; the rest is the body.
//!
//! Invariants: the document read is the same whether the reader is picked by media type or called directly;
//! `link(token)` finds the first link with that token (compared case-insensitively); for XML, the shared XML
//! reader's invariants hold on the body too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sfbkit::discovery::autodiscover::{Format, Resource, json, parse, xml};
use sfbkit_fuzz::touch;

const URL: &str = "https://lyncdiscover.contoso.com/";

fuzz_target!(|data: &[u8]| {
    let Some((&control, body)) = data.split_first() else { return };
    let media = [Some("application/vnd.microsoft.rtc.autodiscover+xml; v=1"), Some("application/json"), None, None]
        [usize::from(control & 3)];
    let format = if control & 4 != 0 { Format::Json } else { Format::Xml };
    let requested = [Resource::Root, Resource::User, Resource::Domain][usize::from(control >> 3) % 3];
    let doc = match parse(body, media, format, requested, URL) {
        Ok(doc) => doc,
        Err(e) => return touch(&e),
    };
    let is_json = media.map_or(format == Format::Json, |m| m.contains("json"));
    let direct = if is_json { json::parse(body, requested, URL) } else { xml::parse(body, URL) };
    assert_eq!(direct.as_ref(), Ok(&doc));
    if !is_json {
        sfbkit_fuzz::check_document(body);
    }
    for link in &doc.links {
        let first = doc.links.iter().find(|l| l.token.eq_ignore_ascii_case(&link.token)).map(|l| l.href.as_str());
        assert_eq!(doc.link(&link.token), first);
    }
});
