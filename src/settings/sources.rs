//! Where settings come from and how the layers stack: defaults < config file <
//! environment (`.env` counts; the real environment wins) < command-line flags.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::parse::{bad, SettingsError};
use super::social::FileProvider;

/// Where the settings come from, so the binary reads the process environment and tests
/// pass their own.
#[derive(Default)]
pub struct Sources {
    /// An explicit `--config FILE`, which must exist.
    pub config_file: Option<PathBuf>,
    /// The default `config/latch.toml`, read when present.
    pub default_config_file: Option<PathBuf>,
    pub env: HashMap<String, String>,
    /// Command-line flags, by setting name.
    pub flags: HashMap<String, String>,
}

/// The environment Latch runs in: the process environment over the `.env` file in the
/// working directory (the real environment wins). A line of `.env` that cannot be read
/// stops the start: a half-read file would drop settings without a word.
pub fn process_env() -> Result<HashMap<String, String>, SettingsError> {
    let mut env = super::dotenv::read(std::path::Path::new(".env")).map_err(SettingsError)?;
    env.extend(std::env::vars());
    Ok(env)
}

impl Sources {
    /// `env` (see `process_env`), filtered to the names Latch knows.
    pub fn from_env(
        all: &HashMap<String, String>,
        config_file: Option<PathBuf>,
        flags: HashMap<String, String>,
    ) -> Self {
        let mut env: HashMap<String, String> = all
            .iter()
            .filter(|(k, _)| super::is_known(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // LibreChat's REDIS_KEY_PREFIX_VAR names another variable that holds the prefix.
        let prefix = env
            .get("REDIS_KEY_PREFIX_VAR")
            .and_then(|var| all.get(var))
            .cloned();
        if let Some(prefix) = prefix {
            env.insert(super::moderation::PREFIX_FROM_VAR.into(), prefix);
        }
        Sources {
            config_file,
            default_config_file: Some(PathBuf::from("config/latch.toml")),
            env,
            flags,
        }
    }
}

/// The raw text of every setting after layering, and the providers of the config file's
/// `[[oauth.providers]]` (a table has no environment form).
#[derive(Debug, Default)]
pub struct Raw {
    values: HashMap<String, String>,
    pub file_providers: Vec<FileProvider>,
    /// The config file's `[[webhooks]]`.
    pub file_webhooks: Vec<super::webhooks::FileWebhook>,
}

impl Raw {
    /// The value, trimmed; an empty value counts as unset.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }

    #[cfg(test)]
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Raw {
        Raw {
            values: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            file_providers: Vec::new(),
            file_webhooks: Vec::new(),
        }
    }
}

/// The config file's `[oauth]` table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileOAuth {
    #[serde(default)]
    providers: Vec<FileProvider>,
}

#[derive(Deserialize)]
#[serde(transparent)]
struct FileTable(HashMap<String, config::Value>);

pub fn read_layers(sources: &Sources) -> Result<Raw, SettingsError> {
    let mut raw = HashMap::new();
    let mut file_providers = Vec::new();
    let mut file_webhooks = Vec::new();
    let file = match (&sources.config_file, &sources.default_config_file) {
        (Some(path), _) => {
            if !path.exists() {
                return Err(SettingsError(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            Some(path.as_path())
        }
        (None, Some(path)) if path.exists() => Some(path.as_path()),
        _ => None,
    };
    if let Some(path) = file {
        let table: FileTable = config::Config::builder()
            .add_source(config::File::from(path).format(config::FileFormat::Toml))
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| SettingsError(format!("config file {}: {e}", path.display())))?;
        for (key, value) in table.0 {
            if key == "oauth" {
                let oauth: FileOAuth = value.try_deserialize().map_err(|e| {
                    SettingsError(format!("config file {}: [oauth]: {e}", path.display()))
                })?;
                file_providers = oauth.providers;
                continue;
            }
            if key == "webhooks" {
                file_webhooks = value.try_deserialize().map_err(|e| {
                    SettingsError(format!("config file {}: [[webhooks]]: {e}", path.display()))
                })?;
                continue;
            }
            let name = key.to_ascii_uppercase();
            if !super::is_known(&name) {
                return Err(SettingsError(format!(
                    "config file {}: unknown setting `{key}`",
                    path.display()
                )));
            }
            let text = value
                .into_string()
                .map_err(|e| bad(&name, format!("in {}: {e}", path.display())))?;
            raw.insert(name, text);
        }
    }
    for (k, v) in sources.env.iter().chain(sources.flags.iter()) {
        if super::is_known(k) || k == super::moderation::PREFIX_FROM_VAR {
            raw.insert(k.clone(), v.clone());
        }
    }
    Ok(Raw {
        values: raw,
        file_providers,
        file_webhooks,
    })
}
