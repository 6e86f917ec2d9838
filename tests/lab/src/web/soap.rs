//! The one SOAP reader the lab's web services share: walks a body's elements, collecting each
//! element's text (text events and entity references arrive separately in quick-xml 0.42) and
//! handing it over when the element ends, with the path of local names that leads to it.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

/// Walks `body`: `on_start(path, name, element)` for every opening (or empty) element, with the
/// path of its ancestors; `on_end(path, text)` when an element ends, with the path including it.
/// `None` when the body is not UTF-8 XML.
pub(crate) fn walk(
    body: &[u8],
    mut on_start: impl FnMut(&[String], &str, &BytesStart<'_>),
    mut on_end: impl FnMut(&[String], String),
) -> Option<()> {
    let xml = std::str::from_utf8(body).ok()?;
    let mut reader = Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_owned();
                on_start(&path, &name, &e);
                text.clear();
                path.push(name);
            }
            Event::Empty(e) => {
                let name = e.local_name().as_ref().to_owned();
                on_start(&path, &name, &e);
            }
            Event::End(_) => {
                on_end(&path, std::mem::take(&mut text));
                path.pop();
            }
            Event::Text(t) => text.push_str(&quick_xml::escape::unescape(&t).ok()?),
            Event::GeneralRef(r) => match r.resolve_char_ref().ok()? {
                Some(c) => text.push(c),
                None => text.push_str(quick_xml::escape::resolve_predefined_entity(&r)?),
            },
            Event::Eof => return Some(()),
            _ => {}
        }
    }
}
