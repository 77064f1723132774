//! Development keys: when no key is configured, one is generated on first start and kept
//! in `renkei.dev-keys` beside the SQLite database (or in the working directory), so that
//! `cargo run` works with no set-up and tokens survive a restart. Production sets keys.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use serde::{Deserialize, Serialize};

use crate::{
    config::{Config, JwtKey, JwtKeys, decode_base64},
    crypto::random_bytes,
    secret::Secret,
};

pub const FILE_NAME: &str = "renkei.dev-keys";

#[derive(Serialize, Deserialize, Default)]
struct DevKeys {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jwt_key: Option<String>,
}

/// Where the development keys live for this configuration.
pub fn path(config: &Config) -> PathBuf {
    let url = config.database.url.expose();
    let file = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .map(|rest| rest.split('?').next().unwrap_or(""))
        .filter(|p| !p.is_empty() && !p.contains(":memory:"));
    match file.map(Path::new).and_then(Path::parent) {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(FILE_NAME),
        _ => PathBuf::from(FILE_NAME),
    }
}

/// The configured JWT keys, or the development key (created when missing).
pub fn jwt_keys(config: &Config) -> anyhow::Result<JwtKeys> {
    if let Some(keys) = &config.auth.jwt_keys {
        return Ok(keys.clone());
    }
    let path = path(config);
    let mut keys: DevKeys = match fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{} is not valid: {e}", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => DevKeys::default(),
        Err(e) => return Err(anyhow::anyhow!("{} cannot be read: {e}", path.display())),
    };
    let encoded = match &keys.jwt_key {
        Some(encoded) => encoded.clone(),
        None => {
            let encoded = STANDARD.encode(random_bytes::<32>());
            keys.jwt_key = Some(encoded.clone());
            write_private(&path, &serde_json::to_string_pretty(&keys)?)?;
            encoded
        }
    };
    tracing::warn!(
        file = %path.display(),
        "RENKEI_JWT_KEYS is not set: using a development signing key; set RENKEI_JWT_KEYS in production"
    );
    let secret =
        decode_base64(&encoded).ok_or_else(|| anyhow::anyhow!("{} holds an invalid jwt_key", path.display()))?;
    JwtKeys::new(vec![JwtKey {
        kid: "dev".into(),
        secret: Secret::new(secret),
    }])
    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Writes a file readable by its owner only.
fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| anyhow::anyhow!("{} cannot be written: {e}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}
