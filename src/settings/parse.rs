//! Turning setting text into values. Every failure names the setting.

use std::fmt;

/// A setting that could not be used; the message names it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(pub String);

pub fn bad(name: &str, why: impl fmt::Display) -> SettingsError {
    SettingsError(format!("setting {name}: {why}"))
}

pub fn parse_bool(name: &str, v: &str) -> Result<bool, SettingsError> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(bad(name, format!("expected true or false, got `{v}`"))),
    }
}

pub fn parse_num<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, SettingsError> {
    v.parse()
        .map_err(|_| bad(name, format!("expected a whole number, got `{v}`")))
}

/// A whole number, or a product of whole numbers such as LibreChat's documented
/// `1000 * 60 * 15` and `(1000 * 60 * 60 * 24) * 7`. The text is parsed, never evaluated;
/// parentheses may group factors (a product is the same however it is grouped).
pub fn parse_product(name: &str, v: &str) -> Result<u64, SettingsError> {
    let mut depth = 0i32;
    for c in v.chars() {
        depth += match c {
            '(' => 1,
            ')' => -1,
            _ => 0,
        };
        if depth < 0 {
            break;
        }
    }
    if depth != 0 {
        return Err(bad(name, format!("unbalanced parentheses in `{v}`")));
    }
    let mut total: u64 = 1;
    for factor in v.split('*') {
        // Parentheses only group factors: `(5 * 60) * 1000`, never digits (`(1)1`).
        let factor = factor
            .trim_start_matches(|c: char| c == '(' || c.is_whitespace())
            .trim_end_matches(|c: char| c == ')' || c.is_whitespace());
        if factor.is_empty() || !factor.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(
                name,
                format!("expected a whole number or a product like `1000 * 60 * 15`, got `{v}`"),
            ));
        }
        let n: u64 = factor
            .parse()
            .map_err(|_| bad(name, format!("`{factor}` is too large")))?;
        total = total
            .checked_mul(n)
            .ok_or_else(|| bad(name, format!("`{v}` is too large")))?;
    }
    Ok(total)
}

pub fn parse_url(name: &str, v: &str) -> Result<String, SettingsError> {
    let u = url::Url::parse(v).map_err(|e| bad(name, format!("`{v}` is not a URL: {e}")))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(bad(name, format!("`{v}` must be an http or https URL")));
    }
    Ok(v.trim_end_matches('/').to_string())
}

/// The `Origin` form of a URL (scheme, host and port).
pub fn origin_of(u: &str) -> Option<String> {
    url::Url::parse(u)
        .ok()
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
}

/// A comma list, trimmed, without empty items.
pub fn comma_list(v: &str) -> impl Iterator<Item = &str> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_are_parsed_not_evaluated() {
        assert_eq!(parse_product("X", "1000 * 60 * 15").unwrap(), 900_000);
        assert_eq!(parse_product("X", "900000").unwrap(), 900_000);
        assert_eq!(parse_product("X", "(5 * 60) * 1000").unwrap(), 300_000);
        // Found by fuzzing: removing the parentheses first read `((1)1)` as 11.
        assert!(parse_product("X", "((1)1)").is_err());
        assert!(parse_product("X", "(5*)6").is_err());
        // LibreChat documents the refresh expiry with parentheses.
        assert_eq!(
            parse_product("X", "(1000 * 60 * 60 * 24) * 7").unwrap(),
            604_800_000
        );
        for v in [
            "1000 + 5",
            "1000*",
            "abc",
            "-5",
            "1e3",
            "(1000",
            "1000)(",
            "()",
            "18446744073709551615 * 2",
        ] {
            assert!(parse_product("X", v).is_err(), "{v} was accepted");
        }
    }
}
