//! A minimal element tree over quick-xml.
//!
//! The CIB is attribute-heavy and text-free, so a small owned tree is the
//! simplest faithful intermediate form: it keeps element and attribute order
//! (needed for a byte-stable round trip) and the source position of every
//! element (needed for error messages that point into the file).

use std::fmt;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// Largest document [`parse`] accepts, in bytes. Real CIBs of thousands of
/// nodes and resources stay far below this; readers of files should stop
/// reading here too (see [`read_limited`]), so `/dev/zero` cannot exhaust
/// memory.
pub const MAX_INPUT_BYTES: usize = 256 << 20;

/// Deepest element nesting [`parse`] accepts: libxml2's default limit
/// (without `XML_PARSE_HUGE`). A CIB is at most about ten levels deep; the
/// limit keeps every walk over the tree (including dropping it) shallow.
pub const MAX_DEPTH: usize = 256;

/// Read at most [`MAX_INPUT_BYTES`] (+1, to detect more) from `input` as
/// UTF-8; a longer input is an error, not an allocation without bound.
pub fn read_limited(mut input: impl std::io::Read) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    (&mut input)
        .take(MAX_INPUT_BYTES as u64 + 1)
        .read_to_string(&mut text)?;
    if text.len() > MAX_INPUT_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("input larger than {MAX_INPUT_BYTES} bytes"),
        ));
    }
    Ok(text)
}

/// An XML element with its attributes in document order.
#[derive(Debug, Clone, Default)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    /// 1-based line of the start tag in the source (0 when built in memory).
    pub line: usize,
    /// 1-based column of the start tag in the source (0 when built in memory).
    pub column: usize,
}

/// A malformed document or a document that does not have the expected shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for XmlError {}

/// Equality ignores source positions: two elements are equal when they
/// carry the same document content.
impl PartialEq for Element {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.attrs == other.attrs && self.children == other.children
    }
}

impl Eq for Element {}

impl Element {
    pub fn new(name: &str) -> Self {
        Element {
            name: name.to_string(),
            ..Default::default()
        }
    }

    /// Value of attribute `key`, if present.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Builder-style attribute setter (skips `None`).
    pub fn with_attr(mut self, key: &str, value: Option<&str>) -> Self {
        if let Some(v) = value {
            self.attrs.push((key.to_string(), v.to_string()));
        }
        self
    }

    pub fn set_attr(&mut self, key: &str, value: &str) {
        if let Some(slot) = self.attrs.iter_mut().find(|(k, _)| k == key) {
            slot.1 = value.to_string();
        } else {
            self.attrs.push((key.to_string(), value.to_string()));
        }
    }

    /// Children with element name `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// An error located at this element.
    pub fn error(&self, message: impl Into<String>) -> XmlError {
        XmlError {
            line: self.line,
            column: self.column,
            message: message.into(),
        }
    }

    /// Attribute that must be present.
    pub fn required(&self, key: &str) -> Result<&str, XmlError> {
        self.attr(key)
            .ok_or_else(|| self.error(format!("<{}> needs attribute '{}'", self.name, key)))
    }

    /// Serialise as indented XML (two spaces per level, like cibadmin).
    pub fn to_xml_string(&self) -> String {
        let mut out = String::new();
        self.write_into(&mut out, 0);
        out
    }

    /// [`Self::to_xml_string`] appended to `out`, so that a caller
    /// serialising large trees often can reuse one buffer.
    pub fn write_xml(&self, out: &mut String) {
        self.write_into(out, 0);
    }

    /// The serialisation of this element as a descendant `depth` levels
    /// below the element serialised (indented accordingly): a caller can
    /// keep the text of unchanged subtrees and write only the rest.
    pub fn write_xml_at(&self, out: &mut String, depth: usize) {
        self.write_into(out, depth);
    }

    /// The start tag of an element with children, as [`Self::write_xml_at`]
    /// writes it before the children.
    pub fn write_open_tag(&self, out: &mut String, depth: usize) {
        self.write_start(out, depth);
        out.push_str(">\n");
    }

    /// The end tag of an element with children.
    pub fn write_close_tag(&self, out: &mut String, depth: usize) {
        indent(out, depth);
        out.push_str("</");
        out.push_str(&self.name);
        out.push_str(">\n");
    }

    fn write_start(&self, out: &mut String, depth: usize) {
        indent(out, depth);
        out.push('<');
        out.push_str(&self.name);
        for (k, v) in &self.attrs {
            out.push(' ');
            out.push_str(k);
            out.push_str("=\"");
            escape_into(out, v);
            out.push('"');
        }
    }

    fn write_into(&self, out: &mut String, depth: usize) {
        if self.children.is_empty() {
            self.write_start(out, depth);
            out.push_str("/>\n");
            return;
        }
        self.write_open_tag(out, depth);
        for c in &self.children {
            c.write_into(out, depth + 1);
        }
        self.write_close_tag(out, depth);
    }
}

/// Two spaces per level.
fn indent(out: &mut String, depth: usize) {
    const SPACES: &str = "                                ";
    let mut n = 2 * depth;
    while n > 0 {
        let k = n.min(SPACES.len());
        out.push_str(&SPACES[..k]);
        n -= k;
    }
}

/// Attribute values are written in runs between the characters that need
/// an entity (the CIB manager serialises its whole CIB on every change, so
/// this is on the hot path of large clusters).
fn escape_into(out: &mut String, v: &str) {
    let mut plain = 0;
    for (i, b) in v.bytes().enumerate() {
        let entity = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\n' => "&#10;",
            _ => continue,
        };
        out.push_str(&v[plain..i]);
        out.push_str(entity);
        plain = i + 1;
    }
    out.push_str(&v[plain..]);
}

/// Converts byte offsets into 1-based line/column pairs.
struct Positions {
    line_starts: Vec<usize>,
}

impl Positions {
    fn new(text: &str) -> Self {
        let mut line_starts = vec![0];
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                line_starts.push(i + 1);
            }
        }
        Positions { line_starts }
    }

    fn at(&self, offset: usize) -> (usize, usize) {
        let line = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        (line + 1, offset - self.line_starts[line] + 1)
    }
}

fn start_element(e: &BytesStart<'_>, pos: (usize, usize)) -> Result<Element, XmlError> {
    let mut el = Element {
        name: e.name().into_inner().to_string(),
        line: pos.0,
        column: pos.1,
        ..Default::default()
    };
    for attr in e.attributes() {
        let attr = attr.map_err(|err| XmlError {
            line: pos.0,
            column: pos.1,
            message: format!("bad attribute in <{}>: {err}", el.name),
        })?;
        let key = attr.key.into_inner().to_string();
        #[allow(deprecated)]
        let value = attr
            .unescape_value()
            .map_err(|err| XmlError {
                line: pos.0,
                column: pos.1,
                message: format!("bad value of attribute '{key}' in <{}>: {err}", el.name),
            })?
            .into_owned();
        el.attrs.push((key, value));
    }
    Ok(el)
}

/// Parse a document into its root element. Text content is ignored (the CIB
/// carries everything in attributes).
///
/// Documents over [`MAX_INPUT_BYTES`] or nested deeper than [`MAX_DEPTH`]
/// are refused with an error; the parser keeps open elements on an explicit
/// stack, so no input depth reaches the call stack.
pub fn parse(text: &str) -> Result<Element, XmlError> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(XmlError {
            line: 1,
            column: 1,
            message: format!(
                "document is {} bytes, more than the limit of {MAX_INPUT_BYTES}",
                text.len()
            ),
        });
    }
    let positions = Positions::new(text);
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let before = reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|err| {
            let (line, column) = positions.at(reader.error_position() as usize);
            XmlError {
                line,
                column,
                message: format!("malformed XML: {err}"),
            }
        })?;
        // Skip leading whitespace so the position points at '<'.
        let tag_offset = before + text[before.min(text.len())..].len()
            - text[before.min(text.len())..].trim_start().len();
        match event {
            Event::Start(e) => {
                let el = start_element(&e, positions.at(tag_offset))?;
                if stack.len() >= MAX_DEPTH {
                    return Err(el.error(format!(
                        "excessive depth in document: <{}> is nested more than {MAX_DEPTH} elements deep",
                        el.name
                    )));
                }
                stack.push(el);
            }
            Event::Empty(e) => {
                let el = start_element(&e, positions.at(tag_offset))?;
                attach(&mut stack, &mut root, el, &positions, tag_offset)?;
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(|| {
                    let (line, column) = positions.at(tag_offset);
                    XmlError {
                        line,
                        column,
                        message: "unexpected end tag".into(),
                    }
                })?;
                attach(&mut stack, &mut root, el, &positions, tag_offset)?;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(open.error(format!("element <{}> is never closed", open.name)));
    }
    root.ok_or_else(|| XmlError {
        line: 1,
        column: 1,
        message: "document has no root element".into(),
    })
}

fn attach(
    stack: &mut [Element],
    root: &mut Option<Element>,
    el: Element,
    positions: &Positions,
    offset: usize,
) -> Result<(), XmlError> {
    if let Some(parent) = stack.last_mut() {
        parent.children.push(el);
        Ok(())
    } else if root.is_none() {
        *root = Some(el);
        Ok(())
    } else {
        let (line, column) = positions.at(offset);
        Err(XmlError {
            line,
            column,
            message: "more than one root element".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_in_runs_matches_char_by_char_escaping() {
        fn by_char(v: &str) -> String {
            let mut out = String::new();
            for ch in v.chars() {
                match ch {
                    '&' => out.push_str("&amp;"),
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    '"' => out.push_str("&quot;"),
                    '\n' => out.push_str("&#10;"),
                    c => out.push(c),
                }
            }
            out
        }
        for v in [
            "",
            "plain",
            "&",
            "a&b<c>d\"e\nf",
            "é&ü\n",
            "<<>>",
            "x\u{1F600}&",
            "end&",
        ] {
            let mut out = String::from("keep:");
            escape_into(&mut out, v);
            assert_eq!(out, format!("keep:{}", by_char(v)));
        }
        let mut deep = String::new();
        indent(&mut deep, 20);
        assert_eq!(deep, " ".repeat(40));
    }

    #[test]
    fn parses_and_writes_back() {
        let doc = "<a x=\"1\">\n  <b y=\"&amp;\"/>\n</a>\n";
        let el = parse(doc).expect("parse");
        assert_eq!(el.name, "a");
        assert_eq!(el.children[0].attr("y"), Some("&"));
        assert_eq!(el.children[0].line, 2);
        assert_eq!(el.children[0].column, 3);
        assert_eq!(el.to_xml_string(), doc);
    }

    #[test]
    fn errors_carry_position() {
        let err = parse("<a>\n  <b>\n</a>").expect_err("mismatched");
        assert!(err.line >= 2, "{err}");
        let err = parse("<a>\n  <b x=1/>\n</a>").expect_err("unquoted");
        assert_eq!(err.line, 2, "{err}");
        let err = parse("<a>").expect_err("unclosed");
        assert_eq!(err.line, 1, "{err}");
    }

    fn nested(name: &str, depth: usize) -> String {
        format!("<{name}>").repeat(depth) + &format!("</{name}>").repeat(depth)
    }

    #[test]
    fn deep_nesting_is_refused_cleanly() {
        for (name, depth) in [("group", 10_000), ("x", 100_000)] {
            let err = parse(&nested(name, depth)).expect_err("too deep");
            assert!(err.message.contains("excessive depth"), "{err}");
            assert_eq!(err.line, 1, "{err}");
        }
        let ok = parse(&nested("x", MAX_DEPTH)).expect("at the limit");
        assert_eq!(ok.name, "x");
        assert!(parse(&nested("x", MAX_DEPTH + 1)).is_err());
    }

    #[test]
    fn oversized_input_is_refused() {
        let big = " ".repeat(MAX_INPUT_BYTES + 1);
        let err = parse(&big).expect_err("too big");
        assert!(err.message.contains("limit"), "{err}");
        let err = read_limited(std::io::repeat(b'a')).expect_err("endless input");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        assert_eq!(read_limited(&b"<a/>"[..]).expect("small"), "<a/>");
    }
}
