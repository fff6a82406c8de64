//! The `.env` file, read by the rules of the `dotenv` package (version 16) that LibreChat
//! loads its own file with, so an existing file means the same thing here:
//!
//! - an optional `export ` prefix; `KEY=value`, `KEY = value` and `KEY: value`;
//! - an unquoted value runs to the end of the line or to a `#`, and is trimmed: spaces
//!   inside are kept (`BAN_DURATION=1000 * 60 * 60 * 2`, `APP_TITLE=Acme Chat`);
//! - a value in single, double or backtick quotes may span lines and keep `#`; double
//!   quotes expand `\n` and `\r`; nothing else is expanded (no `${VAR}`);
//! - an empty value leaves the name unset; a later line wins over an earlier one.
//!
//! Where dotenv would skip a line without a word, this reader refuses the whole file and
//! names the line: a line that is neither blank, a comment nor a setting, a name that is
//! not a variable name, or a quote that is never closed. A file is never half read.
//! Errors never quote a value: it may be a secret.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

/// A line of the file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based.
    pub line: usize,
    pub why: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.why)
    }
}

/// The settings of a `.env` text, in file order (a name may repeat; the last wins).
pub fn parse(text: &str) -> Result<Vec<(String, String)>, LineError> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let start = i;
        let err = |why: String| LineError {
            line: start + 1,
            why,
        };
        let line = lines[i].trim_start();
        i += 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, rest) = split_setting(line).map_err(err)?;
        let rest = rest.trim_start();
        let value = match rest.chars().next() {
            Some(q @ ('"' | '\'' | '`')) => match quoted(&lines, start, rest, q) {
                Quoted::Value { value, last_line } => {
                    i = last_line + 1;
                    if q == '"' {
                        value.replace("\\n", "\n").replace("\\r", "\r")
                    } else {
                        value
                    }
                }
                // dotenv then reads the line as an unquoted value, quote and all.
                Quoted::TextAfter => unquoted(rest),
                Quoted::Unclosed => {
                    return Err(err(format!(
                        "the value of {name} opens a quote ({q}) that is never closed"
                    )))
                }
            },
            _ => unquoted(rest),
        };
        out.push((name.to_string(), value));
    }
    Ok(out)
}

/// `NAME=rest`, `NAME = rest` or `NAME: rest`, after an optional `export `.
fn split_setting(line: &str) -> Result<(&str, &str), String> {
    let line = match line.strip_prefix("export") {
        Some(after) if after.starts_with([' ', '\t']) => after.trim_start(),
        _ => line,
    };
    let end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-'))
        .unwrap_or(line.len());
    let (name, after) = line.split_at(end);
    let trimmed = after.trim_start();
    if !name.is_empty() {
        if let Some(rest) = trimmed.strip_prefix('=') {
            return Ok((name, rest));
        }
        // dotenv's `KEY: value` needs the space after the colon.
        if let Some(rest) = after.strip_prefix(':') {
            if rest.starts_with([' ', '\t']) || rest.is_empty() {
                return Ok((name, rest));
            }
        }
    }
    match line.split_once('=') {
        Some((before, _)) if !before.trim().is_empty() => Err(format!(
            "`{}` is not a variable name (letters, digits, `_`, `.` and `-`)",
            before.trim()
        )),
        _ => Err("this is neither a setting (`NAME=value`), a comment nor blank".to_string()),
    }
}

/// An unquoted value: up to a `#`, trimmed.
fn unquoted(rest: &str) -> String {
    rest.split('#').next().unwrap_or("").trim().to_string()
}

enum Quoted {
    Value {
        value: String,
        last_line: usize,
    },
    /// Closed, but followed by more than a comment on its line.
    TextAfter,
    Unclosed,
}

/// A value opened by quote `q` at the start of `rest` (on line `first`), which may run
/// over the following lines. A quote preceded by a backslash does not close it.
fn quoted(lines: &[&str], first: usize, rest: &str, q: char) -> Quoted {
    let mut value = String::new();
    let mut text = &rest[1..];
    let mut n = first;
    loop {
        let mut escaped = false;
        for (at, c) in text.char_indices() {
            if c == q && !escaped {
                value.push_str(&text[..at]);
                let after = text[at + 1..].trim_start();
                if !(after.is_empty() || after.starts_with('#')) {
                    return Quoted::TextAfter;
                }
                return Quoted::Value {
                    value,
                    last_line: n,
                };
            }
            escaped = c == '\\' && !escaped;
        }
        n += 1;
        if n >= lines.len() {
            return Quoted::Unclosed;
        }
        value.push_str(text);
        value.push('\n');
        text = lines[n];
    }
}

/// The settings of the `.env` file at `path` (none when there is no such file), with
/// empty values left out. An unreadable line is an error naming the file and the line.
pub fn read(path: &Path) -> Result<HashMap<String, String>, String> {
    let text = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let text = String::from_utf8(text)
        .map_err(|_| format!("{}: the file is not UTF-8 text", path.display()))?;
    let settings = parse(&text).map_err(|e| format!("{}, {e}", path.display()))?;
    Ok(settings
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(text: &str) -> HashMap<String, String> {
        parse(text).unwrap().into_iter().collect()
    }

    #[test]
    fn unquoted_values_keep_inner_spaces_and_stop_at_a_comment() {
        let m = map("BAN_DURATION=1000 * 60 * 60 * 2\nAPP_TITLE=Acme Chat  # the name\nA = b\n");
        assert_eq!(m["BAN_DURATION"], "1000 * 60 * 60 * 2");
        assert_eq!(m["APP_TITLE"], "Acme Chat");
        assert_eq!(m["A"], "b");
        assert_eq!(map("PASS=abc#123")["PASS"], "abc");
    }

    #[test]
    fn quotes_keep_hashes_span_lines_and_double_quotes_expand_newlines() {
        let m = map(
            "A=\"x # y\"\nB='single # kept \\n'\nC=`back`\nD=\"one\\ntwo\"\nE=\"multi\nline\" # c\nF=after\n",
        );
        assert_eq!(m["A"], "x # y");
        assert_eq!(m["B"], "single # kept \\n");
        assert_eq!(m["C"], "back");
        assert_eq!(m["D"], "one\ntwo");
        assert_eq!(m["E"], "multi\nline");
        assert_eq!(m["F"], "after");
        // An escaped quote does not close the value, and is kept as written.
        assert_eq!(map(r#"G="a\"b""#)["G"], r#"a\"b"#);
    }

    #[test]
    fn export_colons_empties_and_repeats() {
        let m = map("export HOST=0.0.0.0\nKEY: value\nEMPTY=\nX=1\nX=2\nexport=3\n");
        assert_eq!(m["HOST"], "0.0.0.0");
        assert_eq!(m["KEY"], "value");
        assert_eq!(m["EMPTY"], "");
        assert_eq!(m["X"], "2");
        assert_eq!(m["export"], "3");
    }

    #[test]
    fn windows_line_ends_are_lines() {
        let m = map("A=1\r\nB=two words\r\n");
        assert_eq!(m["B"], "two words");
    }

    #[test]
    fn a_quote_followed_by_text_is_read_as_dotenv_reads_it() {
        assert_eq!(map("A=\"x\" y")["A"], "\"x\" y");
    }

    #[test]
    fn lines_dotenv_would_skip_stop_the_read_and_are_named() {
        let e = parse("A=1\n\n# c\nnot a setting\nB=2").unwrap_err();
        assert_eq!(e.line, 4);
        let e = parse("A=1\nMY KEY=2").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.why.contains("`MY KEY` is not a variable name"), "{e}");
        let e = parse("A=1\nB=\"never closed\nC=3\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.why.contains("never closed"), "{e}");
        assert!(parse("KEY:value").is_err());
        assert!(parse("=value").is_err());
        // Errors never repeat a value.
        let e = parse("SECRET=\"hunter2").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn the_shapes_of_librechats_example_file() {
        let m = map(include_str!("../../tests/fixtures/librechat-shapes.env"));
        assert_eq!(m["APP_TITLE"], "Acme Chat");
        assert_eq!(m["BAN_DURATION"], "1000 * 60 * 60 * 2");
        assert_eq!(m["SESSION_EXPIRY"], "1000 * 60 * 15");
        assert_eq!(m["REFRESH_TOKEN_EXPIRY"], "(1000 * 60 * 60 * 24) * 7");
        assert_eq!(m["EMAIL_PORT"], "25");
        assert_eq!(m["EMAIL_HOST"], "");
        assert_eq!(m["ALLOW_REGISTRATION"], "false");
        assert_eq!(m["OPENID_SCOPE"], "openid profile email");
        assert_eq!(
            m["OPENID_REQUIRED_ROLE_PARAMETER_PATH"],
            "realm_access.roles"
        );
        assert_eq!(m["CONVO_ACCESS_MAX"], "100");
        assert_eq!(m["DEBUG_LOGGING"], "true");
        assert_eq!(m["HELP_AND_FAQ_URL"], "https://example.com/help#faq");
        assert_eq!(m["PROXY"], "");
    }
}
