//! Development keys: when no key is configured, one is generated on first start and kept
//! in `renkei.dev-keys` beside the SQLite database (or in the working directory), so that
//! `cargo run` works with no set-up and tokens survive a restart. Production sets keys:
//! with `RENKEI_ENV=production` this file is never read or written.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
    sync::Arc,
};

use base64::{Engine, engine::general_purpose::STANDARD};
use serde::{Deserialize, Serialize};

use crate::{
    config::{Config, JwtKeys, NamedKey, decode_base64},
    core::Secret,
    crypto::{random_bytes, seal::MasterKeys},
};

pub const FILE_NAME: &str = "renkei.dev-keys";

#[derive(Serialize, Deserialize, Default)]
struct DevKeys {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jwt_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    master_key: Option<String>,
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
    let secret = dev_key(config, "RENKEI_JWT_KEYS", |k| &mut k.jwt_key)?;
    JwtKeys::new(vec![NamedKey {
        id: "dev".into(),
        secret,
    }])
    .map_err(|e| anyhow::anyhow!("{}: {e}", path(config).display()))
}

/// The configured master keys, or the development key (created when missing).
pub fn master_keys(config: &Config) -> anyhow::Result<Arc<MasterKeys>> {
    if let Some(keys) = &config.master_keys {
        return Ok(keys.clone());
    }
    let secret = dev_key(config, "RENKEI_MASTER_KEY", |k| &mut k.master_key)?;
    MasterKeys::new(vec![("dev".into(), secret)])
        .map(Arc::new)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path(config).display()))
}

/// One 32-byte key of the development keys file, generated and saved when missing.
fn dev_key(
    config: &Config,
    variable: &str,
    slot: impl Fn(&mut DevKeys) -> &mut Option<String>,
) -> anyhow::Result<Secret<Vec<u8>>> {
    if config.is_production() {
        anyhow::bail!("{variable} must be set when RENKEI_ENV=production (no development key is used)");
    }
    let path = path(config);
    let mut keys: DevKeys = match fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{} is not valid: {e}", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => DevKeys::default(),
        Err(e) => return Err(anyhow::anyhow!("{} cannot be read: {e}", path.display())),
    };
    let encoded = match slot(&mut keys).clone() {
        Some(encoded) => encoded,
        None => {
            let encoded = STANDARD.encode(random_bytes::<32>());
            *slot(&mut keys) = Some(encoded.clone());
            write_private(&path, &serde_json::to_string_pretty(&keys)?)?;
            encoded
        }
    };
    tracing::warn!(
        file = %path.display(),
        "{variable} is not set: using a development key kept in this file; set {variable} in production"
    );
    decode_base64(&encoded)
        .map(Secret::new)
        .ok_or_else(|| anyhow::anyhow!("{} holds an invalid key", path.display()))
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
