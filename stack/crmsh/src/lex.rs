//! Statements and tokens: continuation lines joined, comments dropped,
//! quotes removed (`a="b c"` is one token `a=b c`).

use crate::CrmError;

/// One statement: its first line and its tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub line: usize,
    pub tokens: Vec<String>,
}

fn tokenize(text: &str, line: usize) -> Result<Vec<String>, CrmError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut started = false;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                started = true;
            }
            (None, c) if c.is_whitespace() => {
                if started {
                    out.push(std::mem::take(&mut cur));
                    started = false;
                }
            }
            (None, c) => {
                cur.push(c);
                started = true;
            }
        }
    }
    if quote.is_some() {
        return Err(CrmError {
            line,
            message: "unterminated quote".into(),
        });
    }
    if started {
        out.push(cur);
    }
    Ok(out)
}

/// Split a configuration into statements.
pub fn statements(text: &str) -> Result<Vec<Statement>, CrmError> {
    let mut out = Vec::new();
    let mut buf = String::new();
    let mut first = 0;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split_once('#').map_or(raw, |(a, _)| a);
        if buf.is_empty() {
            first = i + 1;
        }
        let trimmed = line.trim_end();
        if let Some(head) = trimmed.strip_suffix('\\') {
            buf.push_str(head);
            buf.push(' ');
            continue;
        }
        buf.push_str(trimmed);
        let tokens = tokenize(&buf, first)?;
        if !tokens.is_empty() {
            out.push(Statement {
                line: first,
                tokens,
            });
        }
        buf.clear();
    }
    if !buf.trim().is_empty() {
        return Err(CrmError {
            line: first,
            message: "continuation at end of input".into(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuations_quotes_comments() {
        let s =
            statements("# c\nprimitive p ocf:x:y \\\n  params a=\"b c\" # tail\n\nproperty x=1\n")
                .unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].line, 2);
        assert_eq!(
            s[0].tokens,
            ["primitive", "p", "ocf:x:y", "params", "a=b c"]
        );
        assert_eq!(s[1].line, 5);
        assert!(statements("primitive p 'x").is_err());
        assert!(statements("primitive p \\").is_err());
    }
}
