//! Secrets at rest: upstream API keys saved through the admin are sealed
//! with AES-256-GCM under the server secret before they reach the database,
//! and shown to people only masked.
//!
//! The server secret is `RAGWAY_SECRET_KEY` (32 bytes, base64 or hex), or on
//! a single machine a key file made on first start in the data directory
//! (mode 0600). Replicas sharing PostgreSQL must share the key, so there it
//! must come from the environment.

use secrecy::ExposeSecret;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::config::Settings;

/// The key file's name in the data directory.
pub const KEY_FILE: &str = "secret.key";

/// Sealed values start with this (a later format gets a new tag).
const TAG: &str = "v1:";

const NONCE_LEN: usize = 12;

/// Seals and opens secrets; without a server secret it can do neither and
/// says why.
#[derive(Clone)]
pub struct Secrets {
    cipher: Result<Aes256Gcm, String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("ready", &self.cipher.is_ok())
            .finish()
    }
}

impl Secrets {
    /// The server secret from the settings, or the data directory's key file
    /// (made now if there is none) when the database is local.
    pub fn load(settings: &Settings) -> anyhow::Result<Self> {
        if let Some(text) = settings
            .secret_key
            .as_ref()
            .map(ExposeSecret::expose_secret)
            .filter(|t| !t.is_empty())
        {
            return Ok(Self::from_key(&parse_key(text)?));
        }
        let shared_database = settings
            .database_url
            .as_deref()
            .is_some_and(|url| url.starts_with("postgres"));
        if shared_database {
            return Ok(Self {
                cipher: Err("Set RAGWAY_SECRET_KEY (32 random bytes, base64: `openssl rand -base64 32`), the same on every replica, to store upstream keys in a shared database.".into()),
            });
        }
        let key = key_file(&settings.data_dir.join(KEY_FILE))?;
        Ok(Self::from_key(&key))
    }

    /// Secrets under `key`.
    pub fn from_key(key: &[u8; 32]) -> Self {
        Self {
            cipher: Ok(Aes256Gcm::new(key.into())),
        }
    }

    fn cipher(&self) -> anyhow::Result<&Aes256Gcm> {
        self.cipher.as_ref().map_err(|why| anyhow::anyhow!("{why}"))
    }

    /// `plain` sealed for `purpose` (a sealed value opens only for the same
    /// purpose, so one cannot be moved to another row).
    pub fn seal(&self, purpose: &str, plain: &str) -> anyhow::Result<String> {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let sealed = self
            .cipher()?
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: purpose.as_bytes(),
                },
            )
            .map_err(|_| anyhow::anyhow!("could not seal a secret"))?;
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        Ok(format!("{TAG}{}", STANDARD.encode(bytes)))
    }

    /// The plain text of `sealed`, sealed for `purpose`.
    pub fn open(&self, purpose: &str, sealed: &str) -> anyhow::Result<String> {
        let bytes = sealed
            .strip_prefix(TAG)
            .and_then(|b| STANDARD.decode(b).ok())
            .filter(|b| b.len() > NONCE_LEN)
            .ok_or_else(|| anyhow::anyhow!("a stored secret is not in a known format"))?;
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher()?
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: purpose.as_bytes(),
                },
            )
            .map_err(|_| {
                anyhow::anyhow!(
                    "a stored secret does not open with this server's secret key (was RAGWAY_SECRET_KEY or {KEY_FILE} changed?)"
                )
            })?;
        String::from_utf8(plain).map_err(|_| anyhow::anyhow!("a stored secret is not text"))
    }
}

/// A key from `RAGWAY_SECRET_KEY`: 32 bytes as base64 or as 64 hex digits.
fn parse_key(text: &str) -> anyhow::Result<[u8; 32]> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
        hex::decode(text).ok()
    } else {
        STANDARD.decode(text).ok()
    };
    bytes
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "RAGWAY_SECRET_KEY must be 32 bytes, as base64 (`openssl rand -base64 32`) or as 64 hex digits"
            )
        })
}

/// The key in `path`, made (readable by its owner only) if there is none.
fn key_file(path: &Path) -> anyhow::Result<[u8; 32]> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            warn_if_readable_by_others(path);
            parse_key(&text).map_err(|_| {
                anyhow::anyhow!("{} does not hold a key (32 bytes, base64)", path.display())
            })
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let key: [u8; 32] = rand::random();
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(path) {
                Ok(mut file) => {
                    use std::io::Write;
                    file.write_all(STANDARD.encode(key).as_bytes())?;
                    file.sync_all()?;
                    tracing::info!(path = %path.display(), "made the server's secret key file; back it up with the database");
                    Ok(key)
                }
                // Another process made it first: use theirs.
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => key_file(path),
                Err(err) => Err(anyhow::anyhow!(
                    "could not make the key file {}: {err}",
                    path.display()
                )),
            }
        }
        Err(err) => Err(anyhow::anyhow!("could not read {}: {err}", path.display())),
    }
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(path = %path.display(), "the secret key file is readable by others; `chmod 600` it");
            }
        }
    }
}

/// A secret as people may see it: its start and last four characters
/// (`sk-…abcd`), or `…` alone when it is too short to show any of it.
pub fn mask(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < 12 {
        return "…".into();
    }
    let head: String = if secret.starts_with("sk-") {
        "sk-".into()
    } else {
        chars[..2].iter().collect()
    };
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_for_their_purpose_only() {
        let secrets = Secrets::from_key(&[7; 32]);
        let sealed = secrets.seal("provider:chat", "sk-live-123456").unwrap();
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("sk-live"));
        assert_eq!(
            secrets.open("provider:chat", &sealed).unwrap(),
            "sk-live-123456"
        );
        assert!(secrets.open("provider:images", &sealed).is_err());
        assert!(Secrets::from_key(&[8; 32])
            .open("provider:chat", &sealed)
            .is_err());
        // A fresh nonce each time.
        assert_ne!(
            sealed,
            secrets.seal("provider:chat", "sk-live-123456").unwrap()
        );
    }

    #[test]
    fn keys_are_base64_or_hex_of_32_bytes() {
        assert_eq!(parse_key(&STANDARD.encode([1u8; 32])).unwrap(), [1; 32]);
        assert_eq!(parse_key(&"ab".repeat(32)).unwrap(), [0xab; 32]);
        assert!(parse_key("short").is_err());
        assert!(parse_key(&STANDARD.encode([1u8; 16])).is_err());
    }

    #[test]
    fn the_key_file_is_made_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(KEY_FILE);
        let first = key_file(&path).unwrap();
        assert_eq!(key_file(&path).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn masks_show_only_the_ends() {
        assert_eq!(mask("sk-abcdefghijklmnop1234"), "sk-…1234");
        assert_eq!(mask("AIzaSyExample0000wxyz"), "AI…wxyz");
        assert_eq!(mask("short"), "…");
    }
}
