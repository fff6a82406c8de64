//! `DATABASE_URL` and the pool.

use std::fmt;

use super::parse::{bad, parse_num, SettingsError};
use super::sources::Raw;

/// A database URL whose password never reaches a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        DatabaseUrl(url.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_postgres(&self) -> bool {
        self.0.starts_with("postgres://") || self.0.starts_with("postgresql://")
    }
    /// The SQLite file path, for a `sqlite:` URL.
    pub fn sqlite_path(&self) -> Option<&str> {
        let rest = self.0.strip_prefix("sqlite:")?;
        Some(rest.strip_prefix("//").unwrap_or(rest))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match url::Url::parse(&self.0) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(Some("REDACTED"));
                write!(f, "{u}")
            }
            _ => write!(f, "{}", self.0),
        }
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

pub fn url(raw: &Raw) -> Result<DatabaseUrl, SettingsError> {
    let url = DatabaseUrl::new(raw.get("DATABASE_URL").unwrap_or("sqlite://latch.db"));
    if !url.is_postgres() && url.sqlite_path().is_none_or(str::is_empty) {
        return Err(bad(
            "DATABASE_URL",
            "expected sqlite://PATH or postgres://USER@HOST/DB",
        ));
    }
    Ok(url)
}

pub fn pool_size(raw: &Raw, url: &DatabaseUrl) -> Result<u32, SettingsError> {
    let default = if url.is_postgres() { 10 } else { 8 };
    let size = raw
        .get("DATABASE_POOL_SIZE")
        .map_or(Ok(default), |v| parse_num::<u32>("DATABASE_POOL_SIZE", v))?;
    if size == 0 {
        return Err(bad("DATABASE_POOL_SIZE", "must be at least 1"));
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_hides_its_password() {
        let url = DatabaseUrl::new("postgres://latch:hunter2@db:5432/latch");
        assert!(!format!("{url:?}").contains("hunter2"));
        assert_eq!(
            DatabaseUrl::new("sqlite://data/latch.db").sqlite_path(),
            Some("data/latch.db")
        );
    }
}
