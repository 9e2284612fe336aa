//! A minimal element tree over quick-xml.
//!
//! The CIB is attribute-heavy and text-free, so a small owned tree is the
//! simplest faithful intermediate form: it keeps element and attribute order
//! (needed for a byte-stable round trip) and the source position of every
//! element (needed for error messages that point into the file).

use std::fmt;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

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

    fn write_into(&self, out: &mut String, depth: usize) {
        for _ in 0..depth {
            out.push_str("  ");
        }
        out.push('<');
        out.push_str(&self.name);
        for (k, v) in &self.attrs {
            out.push(' ');
            out.push_str(k);
            out.push_str("=\"");
            escape_into(out, v);
            out.push('"');
        }
        if self.children.is_empty() {
            out.push_str("/>\n");
            return;
        }
        out.push_str(">\n");
        for c in &self.children {
            c.write_into(out, depth + 1);
        }
        for _ in 0..depth {
            out.push_str("  ");
        }
        out.push_str("</");
        out.push_str(&self.name);
        out.push_str(">\n");
    }
}

fn escape_into(out: &mut String, v: &str) {
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
pub fn parse(text: &str) -> Result<Element, XmlError> {
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
}
