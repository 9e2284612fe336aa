//! The generic, ordered corosync.conf tree, built with coroparse's line rules.
//!
//! Corosync reads its configuration one line at a time and decides what a line is by
//! looking for characters, in this order: a `{` opens a section, else a `:` makes a
//! `key: value` pair, else a lone `}` closes the section. Consequences we keep on purpose:
//! - `#` only starts a comment when it is the first non-blank character of a line; a
//!   trailing `# note` becomes part of the value.
//! - there is no quoting: the value is everything after the first `:`, with spaces and
//!   tabs trimmed at both ends (so `ring0_addr: fe80::1` works).
//! - only spaces and tabs are blanks; a trailing `\r` is dropped (CRLF files work).
//! - a line longer than corosync's 512-byte read buffer is an error.
//! - a section header may carry a colon (`totem: {`) which is ignored.

use crate::error::{ParseError, Pos};

/// Corosync reads lines with a 512-byte buffer: at most 510 bytes plus the newline.
pub const MAX_LINE_BYTES: usize = 510;
/// Maximum length of a dotted cmap key name (`totem.interface.mcastaddr`), exclusive.
pub const KEYNAME_MAXLEN: usize = 255;

/// A `key: value` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key, blanks trimmed.
    pub key: String,
    /// The raw value text, blanks trimmed (may be empty).
    pub value: String,
    /// Position of the first character of the key.
    pub key_pos: Pos,
    /// Position of the first character of the value (just after the colon if empty).
    pub value_pos: Pos,
}

/// A `name { ... }` block; the document root is an unnamed section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    /// Section name (`totem`, `interface`, ...); empty for the root.
    pub name: String,
    /// Position of the first character of the name (1:1 for the root).
    pub pos: Pos,
    /// Entries and subsections in file order.
    pub items: Vec<Item>,
}

/// One element of a section, kept in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A `key: value` line.
    Entry(Entry),
    /// A nested section.
    Section(Section),
}

impl Section {
    /// Entries of this section (not of subsections), in order.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.items.iter().filter_map(|i| match i {
            Item::Entry(e) => Some(e),
            Item::Section(_) => None,
        })
    }

    /// Direct subsections, in order.
    pub fn sections(&self) -> impl Iterator<Item = &Section> {
        self.items.iter().filter_map(|i| match i {
            Item::Section(s) => Some(s),
            Item::Entry(_) => None,
        })
    }

    /// Direct subsections with a given name, in order.
    pub fn sections_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Section> {
        self.sections().filter(move |s| s.name == name)
    }

    /// The last entry with this key (corosync keeps the last value of a repeated key).
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries().filter(|e| e.key == key).last()
    }
}

/// A parsed corosync.conf: the root section plus the file name used in messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// File name used in errors and warnings.
    pub file: String,
    /// The unnamed top-level section.
    pub root: Section,
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Trim like coroparse's `remove_whitespace`: leading blanks, then trailing blanks (and,
/// for names and keys, trailing `:` and `{`), never shrinking below one character.
fn trim_token(s: &str, strip_colon_brace: bool) -> (usize, &str) {
    let start = s.len() - s.trim_start_matches(is_blank).len();
    let mut t = &s[start..];
    loop {
        let mut chars = t.chars();
        let Some(last) = chars.next_back() else { break };
        if chars.as_str().is_empty() {
            // Corosync keeps a single remaining character even if it is ':'.
            if is_blank(last) {
                t = "";
            }
            break;
        }
        if is_blank(last) || (strip_colon_brace && (last == ':' || last == '{')) {
            t = chars.as_str();
        } else {
            break;
        }
    }
    (start, t)
}

fn column_of(line: &str, byte_idx: usize) -> u32 {
    let n = line[..byte_idx.min(line.len())].chars().count();
    u32::try_from(n).unwrap_or(u32::MAX - 1).saturating_add(1)
}

fn line_no(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX - 1).saturating_add(1)
}

struct Open {
    section: Section,
    path: String,
}

/// Parse corosync.conf text into its ordered tree.
///
/// `file` is only used to label errors. Fails on the first syntax error, as corosync does.
pub fn parse_tree(file: &str, text: &str) -> Result<Document, ParseError> {
    let mut stack: Vec<Open> = vec![Open {
        section: Section {
            name: String::new(),
            pos: Pos::new(1, 1),
            items: Vec::new(),
        },
        path: String::new(),
    }];
    let raw_lines: Vec<&str> = text.split('\n').collect();
    let ends_with_newline = text.ends_with('\n');
    let mut last_line = 0u32;
    for (i, raw) in raw_lines.iter().enumerate() {
        let is_last = i + 1 == raw_lines.len();
        if is_last && raw.is_empty() {
            break; // text ended with '\n' (or is empty): no further line
        }
        let ln = line_no(i);
        last_line = ln;
        // fgets with a 512 byte buffer: 510 bytes + '\n' fit, a final unterminated line may
        // use 511 bytes.
        let limit = if is_last && !ends_with_newline {
            MAX_LINE_BYTES + 1
        } else {
            MAX_LINE_BYTES
        };
        if raw.len() > limit {
            return Err(ParseError::new(
                file,
                Pos::new(ln, 1),
                format!("expected a line of at most {MAX_LINE_BYTES} bytes (line too long)"),
            ));
        }
        if let Some(nul) = raw.find('\0') {
            return Err(ParseError::new(
                file,
                Pos::new(ln, column_of(raw, nul)),
                "expected text, found a NUL byte",
            ));
        }
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let line = line.trim_end_matches(is_blank);
        let first = line.trim_start_matches(is_blank);
        if first.is_empty() || first.starts_with('#') {
            continue;
        }
        let depth = stack.len() - 1;
        let parent_path = stack.last().map(|o| o.path.clone()).unwrap_or_default();

        if let Some(brace) = line.find('{') {
            let (name_off, name) = trim_token(&line[..brace], true);
            let after = line[brace + 1..].trim_matches(is_blank);
            if name.is_empty() {
                return Err(ParseError::new(
                    file,
                    Pos::new(ln, column_of(line, brace)),
                    "expected a section name before opening bracket '{'",
                ));
            }
            if !after.is_empty() {
                let off = brace
                    + 1
                    + (line[brace + 1..].len()
                        - line[brace + 1..].trim_start_matches(is_blank).len());
                return Err(ParseError::new(
                    file,
                    Pos::new(ln, column_of(line, off)),
                    format!("expected end of line after opening bracket '{{', found {after:?}"),
                ));
            }
            if parent_path.len() + name.len() + 1 >= KEYNAME_MAXLEN {
                return Err(ParseError::new(
                    file,
                    Pos::new(ln, column_of(line, name_off)),
                    format!("expected a section path shorter than {KEYNAME_MAXLEN} characters"),
                ));
            }
            let path = if parent_path.is_empty() {
                name.to_string()
            } else {
                format!("{parent_path}.{name}")
            };
            stack.push(Open {
                section: Section {
                    name: name.to_string(),
                    pos: Pos::new(ln, column_of(line, name_off)),
                    items: Vec::new(),
                },
                path,
            });
            continue;
        }

        if let Some(colon) = line.find(':') {
            let (key_off, key) = trim_token(&line[..colon], true);
            let rest = &line[colon + 1..];
            let value_off = colon + 1 + (rest.len() - rest.trim_start_matches(is_blank).len());
            let value = rest.trim_matches(is_blank);
            if parent_path.len() + key.len() + 1 >= KEYNAME_MAXLEN {
                return Err(ParseError::new(
                    file,
                    Pos::new(ln, column_of(line, key_off)),
                    format!("expected a key path shorter than {KEYNAME_MAXLEN} characters"),
                ));
            }
            let entry = Entry {
                key: key.to_string(),
                value: value.to_string(),
                key_pos: Pos::new(ln, column_of(line, key_off)),
                value_pos: Pos::new(ln, column_of(line, value_off)),
            };
            if let Some(top) = stack.last_mut() {
                top.section.items.push(Item::Entry(entry));
            }
            continue;
        }

        if let Some(close) = line.find('}') {
            if first != "}" {
                return Err(ParseError::new(
                    file,
                    Pos::new(ln, column_of(line, close)),
                    "expected closing bracket '}' alone on its line",
                ));
            }
            if depth == 0 {
                return Err(ParseError::new(
                    file,
                    Pos::new(ln, column_of(line, close)),
                    "expected a section to close, but no section is open (unexpected '}')",
                ));
            }
            if let Some(done) = stack.pop() {
                if let Some(parent) = stack.last_mut() {
                    parent.section.items.push(Item::Section(done.section));
                }
            }
            continue;
        }

        let off = line.len() - first.len();
        return Err(ParseError::new(
            file,
            Pos::new(ln, column_of(line, off)),
            "expected a section opening 'name {', a closing '}' or a 'key: value' line",
        ));
    }
    if stack.len() > 1 {
        let open = stack
            .last()
            .map(|o| (o.path.clone(), o.section.pos))
            .unwrap_or_default();
        return Err(ParseError::new(
            file,
            Pos::new(last_line.max(1), 1),
            format!(
                "expected closing brace '}}' for section '{}' opened at {}",
                open.0, open.1
            ),
        ));
    }
    let root = stack.pop().map(|o| o.section).unwrap_or_default();
    Ok(Document {
        file: file.to_string(),
        root,
    })
}
