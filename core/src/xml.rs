//! The one XML reader the SIP-borne documents share (provisioning, location profiles, contact
//! lists, presence categories, roaming-self, publication faults).
//!
//! [`Document::parse`] turns a body into a small element tree with namespaces resolved, text with
//! entity and character references expanded (quick-xml 0.42 hands those over as separate events),
//! and each element's source span kept, so a caller can hand the raw XML of anything it does not
//! model to the application ([`Document::outer_xml`]). Everything a server sends is bounded: the
//! caller's body limit bounds the input, and [`XmlLimits`] bound nesting and element count.
//!
//! Writing goes through [`escape`], so no builder puts unescaped user text into a document.

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

/// Why a body is not a document we can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("the body is not UTF-8")]
    NotUtf8,
    #[error("malformed XML at byte {position}: {message}")]
    Malformed { position: u64, message: String },
    #[error("the document nests deeper than {0} elements")]
    TooDeep(usize),
    #[error("the document has more than {0} elements")]
    TooManyElements(usize),
    #[error("the document has no root element")]
    Empty,
}

/// Bounds on what a peer's document may hold.
#[derive(Debug, Clone, Copy)]
pub struct XmlLimits {
    pub max_depth: usize,
    pub max_elements: usize,
}

impl Default for XmlLimits {
    fn default() -> Self {
        // A full contact list of 1,000 contacts (the SfB default limit) is about 3,000 elements;
        // a batched presence NOTIFY for them a few times that.
        XmlLimits { max_depth: 64, max_elements: 200_000 }
    }
}

/// One attribute: its local name, its prefix as written (`xsi` in `xsi:type`) and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub prefix: Option<String>,
    pub name: String,
    pub value: String,
}

/// One element: local name, resolved namespace, attributes, child elements and its direct text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub name: String,
    pub namespace: Option<String>,
    pub attributes: Vec<Attribute>,
    pub children: Vec<Element>,
    /// The element's own text (not its children's), references expanded, untrimmed.
    pub text: String,
    /// Byte range of the whole element (start tag to end tag) in the source.
    pub span: std::ops::Range<usize>,
}

impl Element {
    /// The value of the attribute with this local name (prefix ignored: `attr("type")` finds
    /// `xsi:type`).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|a| a.name == name).map(|a| a.value.as_str())
    }

    /// The first child with this local name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child with this local name, in document order.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The trimmed text of the first child with this local name.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }

    /// Follows a path of local names down the first matching children.
    pub fn path(&self, names: &[&str]) -> Option<&Element> {
        names.iter().try_fold(self, |el, name| el.child(name))
    }

    /// Every descendant (depth first, document order) with this local name.
    pub fn descendants<'a>(&'a self, name: &'a str) -> Vec<&'a Element> {
        let mut out = Vec::new();
        let mut stack: Vec<&Element> = self.children.iter().rev().collect();
        while let Some(el) = stack.pop() {
            if el.name == name {
                out.push(el);
            }
            stack.extend(el.children.iter().rev());
        }
        out
    }
}

/// A parsed document: the source and its root element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    source: String,
    pub root: Element,
}

impl Document {
    /// Parses `body` with the default limits.
    pub fn parse(body: &[u8]) -> Result<Document, XmlError> {
        Document::parse_with(body, XmlLimits::default())
    }

    /// Parses `body`, refusing documents deeper or larger than `limits`.
    pub fn parse_with(body: &[u8], limits: XmlLimits) -> Result<Document, XmlError> {
        let source = std::str::from_utf8(body).map_err(|_| XmlError::NotUtf8)?;
        // quick-xml skips a byte-order mark and counts positions from after it, so the source kept for
        // `outer_xml` must not hold one either (with it, every span pointed three bytes early: found by fuzzing).
        // It skips a second one too, so all of them go.
        let stripped = source.trim_start_matches('\u{feff}');
        let skipped = (source.len() - stripped.len()) as u64;
        let source = stripped.to_owned();
        // Errors name bytes of the document as received, marks included.
        let root = build_tree(&source, limits).map_err(|e| match e {
            XmlError::Malformed { position, message } => XmlError::Malformed { position: position + skipped, message },
            other => other,
        })?;
        Ok(Document { source, root })
    }

    /// The XML of `element` exactly as it appears in the source (for data we keep but do not model).
    pub fn outer_xml(&self, element: &Element) -> &str {
        self.source.get(element.span.clone()).unwrap_or("")
    }

    /// The XML between `element`'s start and end tags, as in the source.
    pub fn inner_xml(&self, element: &Element) -> &str {
        let outer = self.outer_xml(element);
        let Some(open_end) = start_tag_end(outer) else { return "" };
        if outer[..open_end].ends_with("/>") {
            return "";
        }
        match outer.rfind("</") {
            Some(close) if close >= open_end => &outer[open_end..close],
            _ => "",
        }
    }

    pub fn source(&self) -> &str {
        &self.source
    }
}

/// The end (exclusive) of the start tag at the beginning of `outer`, skipping `>` inside quotes.
fn start_tag_end(outer: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in outer.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// An error at byte `position` of the source: the reader's own error position for what it refused, the
/// start of the event for what this module refuses (an unknown entity, a bad attribute: the reader has no
/// error position for those, and reported byte 0).
fn malformed(position: usize, e: impl std::fmt::Display) -> XmlError {
    XmlError::Malformed { position: position as u64, message: e.to_string() }
}

fn build_tree(source: &str, limits: XmlLimits) -> Result<Element, XmlError> {
    let mut reader = NsReader::from_reader(source.as_bytes());
    let mut stack: Vec<Element> = Vec::new();
    let mut count = 0usize;
    loop {
        let start = reader.buffer_position() as usize;
        let read = match reader.read_resolved_event() {
            Ok((ResolveResult::Bound(n), event)) => Ok((Some(n.0.to_owned()), event)),
            Ok((_, event)) => Ok((None, event)),
            Err(e) => Err(e.to_string()),
        };
        let (namespace, event) = read.map_err(|e| malformed(reader.error_position() as usize, e))?;
        let end = reader.buffer_position() as usize;
        match event {
            Event::Start(e) | Event::Empty(e) if stack.len() >= limits.max_depth => {
                let _ = e;
                return Err(XmlError::TooDeep(limits.max_depth));
            }
            Event::Start(e) => {
                count += 1;
                if count > limits.max_elements {
                    return Err(XmlError::TooManyElements(limits.max_elements));
                }
                stack.push(element(&e, namespace, start..end)?);
            }
            Event::Empty(e) => {
                count += 1;
                if count > limits.max_elements {
                    return Err(XmlError::TooManyElements(limits.max_elements));
                }
                let el = element(&e, namespace, start..end)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => return Ok(el),
                }
            }
            Event::End(_) => {
                let Some(mut el) = stack.pop() else { return Err(malformed(start, "unexpected end tag")) };
                el.span.end = end;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => return Ok(el),
                }
            }
            Event::Text(t) => {
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&quick_xml::escape::unescape(&t).map_err(|e| malformed(start, e))?);
                }
            }
            Event::CData(t) => {
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&t);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(el) = stack.last_mut() {
                    match r.resolve_char_ref().map_err(|e| malformed(start, e))? {
                        Some(c) => el.text.push(c),
                        None => {
                            let resolved = quick_xml::escape::resolve_predefined_entity(&r)
                                .ok_or_else(|| malformed(start, format!("unknown entity &{};", &*r)))?;
                            el.text.push_str(resolved);
                        }
                    }
                }
            }
            Event::Eof => {
                return Err(if stack.is_empty() { XmlError::Empty } else { malformed(start, "unclosed element") });
            }
            _ => {}
        }
    }
}

fn element(e: &BytesStart<'_>, namespace: Option<String>, span: std::ops::Range<usize>) -> Result<Element, XmlError> {
    let mut attributes = Vec::new();
    for attr in e.attributes() {
        let attr = attr.map_err(|err| malformed(span.start, err))?;
        let key = attr.key;
        let prefix = key.prefix().map(|p| String::from_utf8_lossy(p.as_ref().as_bytes()).into_owned());
        let name = String::from_utf8_lossy(key.local_name().as_ref().as_bytes()).into_owned();
        let value = attr
            .normalized_value(quick_xml::XmlVersion::default())
            .map_err(|err| malformed(span.start, err))?
            .into_owned();
        attributes.push(Attribute { prefix, name, value });
    }
    let name = String::from_utf8_lossy(e.local_name().as_ref().as_bytes()).into_owned();
    Ok(Element { name, namespace, attributes, children: Vec::new(), text: String::new(), span })
}

/// Escapes `text` for use in element content or a double-quoted attribute value.
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CATEGORIES: &str = r#"<categories xmlns="http://schemas.microsoft.com/2006/09/sip/categories" uri="sip:bob@contoso.lab"><category name="note" instance="0" publishTime="2026-11-22T06:00:00Z"><note xmlns="http://schemas.microsoft.com/2006/09/sip/note"><body type="personal" uri="">In a meeting &amp; busy &#x263A;</body></note></category><category name="state" instance="1"><state xmlns="http://schemas.microsoft.com/2006/09/sip/state" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="aggregateState"><availability>6500</availability></state></category></categories>"#;

    #[test]
    fn reads_namespaces_attributes_and_expanded_text() {
        let doc = Document::parse(CATEGORIES.as_bytes()).unwrap();
        assert_eq!(doc.root.name, "categories");
        assert_eq!(doc.root.namespace.as_deref(), Some("http://schemas.microsoft.com/2006/09/sip/categories"));
        assert_eq!(doc.root.attr("uri"), Some("sip:bob@contoso.lab"));
        let cats: Vec<_> = doc.root.children_named("category").collect();
        assert_eq!(cats.len(), 2);
        let body = cats[0].path(&["note", "body"]).unwrap();
        assert_eq!(body.text, "In a meeting & busy \u{263A}");
        assert_eq!(
            cats[0].child("note").unwrap().namespace.as_deref(),
            Some("http://schemas.microsoft.com/2006/09/sip/note")
        );
        let state = cats[1].child("state").unwrap();
        assert_eq!(state.attr("type"), Some("aggregateState"));
        assert_eq!(state.attributes.iter().find(|a| a.name == "type").unwrap().prefix.as_deref(), Some("xsi"));
        assert_eq!(state.child_text("availability"), Some("6500"));
        assert_eq!(doc.root.descendants("availability").len(), 1);
    }

    #[test]
    fn keeps_the_source_of_each_element() {
        let doc = Document::parse(CATEGORIES.as_bytes()).unwrap();
        let state = doc.root.descendants("state")[0];
        let outer = doc.outer_xml(state);
        assert!(outer.starts_with("<state xmlns="), "{outer}");
        assert!(outer.ends_with("</state>"), "{outer}");
        assert_eq!(doc.inner_xml(state), "<availability>6500</availability>");
        let empty = Document::parse(b"<a><b x=\"1>\"/></a>").unwrap();
        assert_eq!(empty.outer_xml(&empty.root.children[0]), "<b x=\"1>\"/>");
        assert_eq!(empty.inner_xml(&empty.root.children[0]), "");
        assert_eq!(empty.outer_xml(&empty.root), "<a><b x=\"1>\"/></a>");
    }

    #[test]
    fn errors_name_the_byte_where_they_are() {
        let at = |xml: &str| match Document::parse(xml.as_bytes()) {
            Err(XmlError::Malformed { position, message }) => (position, message),
            other => panic!("{xml}: {other:?}"),
        };
        let (position, message) = at("<a>price &euro; 5</a>");
        assert_eq!(position, 9, "{message}");
        assert!(message.contains("&euro;"), "{message}");
        assert_eq!(at("<a><b x='1' x='2'/></a>").0, 3);
        assert_eq!(at("<a>ok &#xZZ; </a>").0, 6);
        // Positions count the byte-order mark the reader skipped: they name bytes of the document as received.
        assert_eq!(at("\u{feff}<a>price &euro; 5</a>").0, 12);
    }

    #[test]
    fn a_byte_order_mark_does_not_shift_element_sources() {
        // fuzz/regressions/provisioning/bom-shifted-spans, as the fuzzer found it: the root's source came out
        // three bytes early (`bar/></`), so a provisioning group's raw XML or a web ticket's assertion was wrong.
        let doc = Document::parse(b"\xef\xbb\xbf<bar/></b1rs:root>").unwrap();
        assert_eq!(doc.outer_xml(&doc.root), "<bar/>");
        let doc = Document::parse("\u{feff}<a x=\"1\"><b>t</b></a>".as_bytes()).unwrap();
        assert_eq!(doc.outer_xml(&doc.root.children[0]), "<b>t</b>");
        assert_eq!(doc.inner_xml(&doc.root), "<b>t</b>");
        assert_eq!(doc.source(), "<a x=\"1\"><b>t</b></a>");
        // fuzz/regressions/certprov/two-byte-order-marks: with two, the first fix was three bytes off again.
        let two = include_bytes!("../../fuzz/regressions/certprov/two-byte-order-marks");
        let doc = Document::parse(two).unwrap();
        let outer = doc.outer_xml(&doc.root);
        assert!(outer.starts_with("<s:Envelope ") && outer.ends_with("</s:Envelope>"), "{outer}");
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert_eq!(Document::parse(b"\xff\xfe"), Err(XmlError::NotUtf8));
        assert_eq!(Document::parse(b""), Err(XmlError::Empty));
        assert!(matches!(Document::parse(b"<a><b></a>"), Err(XmlError::Malformed { .. })));
        assert!(matches!(Document::parse(b"<a>&bogus;</a>"), Err(XmlError::Malformed { .. })));
        assert!(matches!(Document::parse(b"<a>"), Err(XmlError::Malformed { .. })));
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert_eq!(Document::parse(deep.as_bytes()), Err(XmlError::TooDeep(64)));
        let wide = format!("<a>{}</a>", "<b/>".repeat(50));
        let limits = XmlLimits { max_depth: 8, max_elements: 10 };
        assert_eq!(Document::parse_with(wide.as_bytes(), limits), Err(XmlError::TooManyElements(10)));
    }

    #[test]
    fn escapes_for_builders() {
        assert_eq!(escape(r#"a<b & "c""#), "a&lt;b &amp; &quot;c&quot;");
    }
}
