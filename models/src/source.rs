//! Where a local model comes from: a hub repository or a folder.

use std::path::{Path, PathBuf};

use crate::{ModelError, Result};

/// The prefix that marks a model name as local (`local:BAAI/bge-small-zh-v1.5`).
pub const LOCAL_PREFIX: &str = "local:";

/// A local model's origin.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// `owner/name` on the hub, fetched into `<models>/owner/name`.
    Hub(String),
    /// A folder given by its absolute path, used as it is (never fetched).
    Folder(PathBuf),
}

impl Source {
    /// Read a model name with or without its `local:` prefix.
    pub fn parse(name: &str) -> Result<Self> {
        let name = name.strip_prefix(LOCAL_PREFIX).unwrap_or(name).trim();
        if name.starts_with('/') {
            return Ok(Source::Folder(PathBuf::from(name)));
        }
        let bad = || {
            ModelError::Name(format!(
                "`{name}` is neither a hub repository (`owner/name`, as `BAAI/bge-small-zh-v1.5`) nor an absolute folder path"
            ))
        };
        let (owner, repo) = name.split_once('/').ok_or_else(bad)?;
        let part_ok = |part: &str| {
            !part.is_empty()
                && part.len() <= 96
                && !part.starts_with('.')
                && !part.starts_with('-')
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if !part_ok(owner) || !part_ok(repo) || name.contains("..") {
            return Err(bad());
        }
        Ok(Source::Hub(name.to_string()))
    }

    /// Whether `name` names a local model.
    pub fn is_local(name: &str) -> bool {
        name.starts_with(LOCAL_PREFIX)
    }

    /// The folder that holds (or will hold) the model's files.
    pub fn folder(&self, models_dir: &Path) -> PathBuf {
        match self {
            Source::Hub(repo) => models_dir.join(repo),
            Source::Folder(path) => path.clone(),
        }
    }

    /// The name as written after `local:`.
    pub fn name(&self) -> String {
        match self {
            Source::Hub(repo) => repo.clone(),
            Source::Folder(path) => path.display().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_repositories_or_absolute_folders() {
        assert_eq!(
            Source::parse("local:BAAI/bge-small-zh-v1.5").unwrap(),
            Source::Hub("BAAI/bge-small-zh-v1.5".into())
        );
        assert_eq!(
            Source::parse("local:/srv/models/minilm").unwrap(),
            Source::Folder("/srv/models/minilm".into())
        );
        for bad in [
            "local:bge",
            "local:../../etc/passwd",
            "local:a/../b",
            "local:a/b/c",
            "local:.hidden/x",
            "local:a b/c",
            "local:",
            "local:relative/path/x",
        ] {
            assert!(Source::parse(bad).is_err(), "{bad}");
        }
    }
}
