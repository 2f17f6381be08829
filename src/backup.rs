//! `ragway backup --to DIR` and `ragway restore --from DIR` for the embedded
//! stores: the SQLite file, the LanceDB directory, the blob directory and the
//! server's secret key file.
//!
//! A backup may run while the server serves. SQLite is copied with
//! `VACUUM INTO` (one consistent snapshot). LanceDB never changes a file once
//! written: each commit adds data files and then a new version manifest. So
//! the manifests present when the backup starts are noted first, every
//! other file is copied, and then only those manifests: the copy opens at the
//! last version committed before the backup began (files of later commits
//! that came along are unreferenced). Blobs are written once per document
//! version. PostgreSQL and S3 have their own tools (see the README).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use crate::auth::secrets::KEY_FILE;
use crate::config::Settings;

/// What a backup folder holds (`backup.json`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub ragway_version: String,
    pub created_at: i64,
    pub database: String,
    pub vectors: String,
    pub blobs: String,
    pub secret_key: Option<String>,
}

const MANIFEST: &str = "backup.json";
const DATABASE: &str = "ragway.db";
const VECTORS: &str = "lancedb";
const BLOBS: &str = "blobs";

/// The embedded locations of `settings`, or why this setup needs other tools.
struct Places {
    database: PathBuf,
    vectors: PathBuf,
    blobs: PathBuf,
    key_file: PathBuf,
}

fn places(settings: &Settings) -> anyhow::Result<Places> {
    let url = settings.database_url();
    let Some(rest) = url.strip_prefix("sqlite://") else {
        bail!(
            "the database is not SQLite ({}): back PostgreSQL up with pg_dump instead",
            scheme(&url)
        );
    };
    let database = PathBuf::from(rest.split('?').next().unwrap_or(rest));
    let vectors = settings.vector_url();
    if vectors.contains("://") {
        bail!("the vector store is not a local directory ({vectors}): copy the bucket with its own tools");
    }
    let blob_url = settings.blob_url();
    let blobs = url::Url::parse(&blob_url)
        .ok()
        .filter(|u| u.scheme() == "file")
        .and_then(|u| u.to_file_path().ok())
        .with_context(|| format!("the blob store is not a local directory ({blob_url}): copy the bucket with its own tools"))?;
    Ok(Places {
        database,
        vectors: PathBuf::from(vectors),
        blobs,
        key_file: settings.data_dir.join(KEY_FILE),
    })
}

fn scheme(url: &str) -> &str {
    url.split("://").next().unwrap_or(url)
}

/// Copy the stores of `settings` into the new folder `to`.
pub async fn backup(settings: &Settings, to: &Path) -> anyhow::Result<Manifest> {
    let places = places(settings)?;
    if to.exists() && std::fs::read_dir(to)?.next().is_some() {
        bail!("{} is not empty: back up into a new folder", to.display());
    }
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    if !places.database.exists() {
        bail!("there is no database at {}", places.database.display());
    }

    // SQLite first: the snapshot the other copies are at least as new as.
    let db = crate::store::sql::connect(&settings.database_url()).await?;
    let target = to.join(DATABASE);
    let quoted = target.display().to_string().replace('\'', "''");
    sqlx::query(&format!("VACUUM INTO '{quoted}'"))
        .execute(&db)
        .await
        .context("copying the SQLite database (VACUUM INTO)")?;
    db.close().await;

    let vectors = to.join(VECTORS);
    if places.vectors.exists() {
        let from = places.vectors.clone();
        let into = vectors.clone();
        tokio::task::spawn_blocking(move || copy_lance(&from, &into)).await??;
    } else {
        std::fs::create_dir_all(&vectors)?;
    }
    let blobs = to.join(BLOBS);
    if places.blobs.exists() {
        let from = places.blobs.clone();
        let into = blobs.clone();
        tokio::task::spawn_blocking(move || copy_tree(&from, &into, &|_| true)).await??;
    } else {
        std::fs::create_dir_all(&blobs)?;
    }
    let secret_key = if places.key_file.exists() {
        copy_private(&places.key_file, &to.join(KEY_FILE))?;
        Some(KEY_FILE.to_string())
    } else {
        None
    };
    let manifest = Manifest {
        ragway_version: env!("CARGO_PKG_VERSION").into(),
        created_at: crate::store::sql::now_ms(),
        database: DATABASE.into(),
        vectors: VECTORS.into(),
        blobs: BLOBS.into(),
        secret_key,
    };
    std::fs::write(to.join(MANIFEST), serde_json::to_vec_pretty(&manifest)?)?;
    Ok(manifest)
}

/// Put the backup in `from` in place of the stores of `settings`. The
/// server must be stopped; existing stores are refused unless `force`.
pub async fn restore(settings: &Settings, from: &Path, force: bool) -> anyhow::Result<Manifest> {
    let places = places(settings)?;
    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(from.join(MANIFEST)).with_context(|| {
            format!("{} is not a ragway backup (no {MANIFEST})", from.display())
        })?)?;
    if places.database.exists() && !force {
        bail!(
            "a database exists at {}: restore into an empty data directory, or pass --force to replace it",
            places.database.display()
        );
    }
    for dir in [&places.vectors, &places.blobs] {
        if dir.exists() {
            std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
        }
    }
    if let Some(parent) = places.database.parent() {
        std::fs::create_dir_all(parent)?;
    }
    for stale in ["", "-wal", "-shm"] {
        let path = PathBuf::from(format!("{}{stale}", places.database.display()));
        if path.exists() {
            std::fs::remove_file(&path)?;
        }
    }
    std::fs::copy(from.join(&manifest.database), &places.database)?;
    let (vectors, blobs) = (from.join(&manifest.vectors), from.join(&manifest.blobs));
    let (to_vectors, to_blobs) = (places.vectors.clone(), places.blobs.clone());
    tokio::task::spawn_blocking(move || {
        copy_tree(&vectors, &to_vectors, &|_| true)?;
        copy_tree(&blobs, &to_blobs, &|_| true)
    })
    .await??;
    if let Some(key) = &manifest.secret_key {
        copy_private(&from.join(key), &places.key_file)?;
    }
    Ok(manifest)
}

/// Copy a LanceDB directory as of the versions committed now (module docs).
fn copy_lance(from: &Path, to: &Path) -> anyhow::Result<()> {
    let mut manifests = Vec::new();
    collect_files(from, &mut |path| {
        if is_manifest(path) {
            manifests.push(path.to_path_buf());
        }
    })?;
    copy_tree(from, to, &|path| !is_manifest(path))?;
    for manifest in manifests {
        let target = to.join(manifest.strip_prefix(from)?);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(&manifest, &target)
            .with_context(|| format!("copying {}", manifest.display()))?;
    }
    Ok(())
}

fn is_manifest(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "manifest")
}

fn collect_files(dir: &Path, found: &mut impl FnMut(&Path)) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            collect_files(&path, found)?;
        } else {
            found(&path);
        }
    }
    Ok(())
}

/// Copy the files under `from` that `keep` accepts into `to`. A file that
/// vanished meanwhile (a compaction's cleanup) is skipped.
fn copy_tree(from: &Path, to: &Path, keep: &dyn Fn(&Path) -> bool) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    let mut files = Vec::new();
    collect_files(from, &mut |path| files.push(path.to_path_buf()))?;
    for file in files.into_iter().filter(|f| keep(f)) {
        let target = to.join(file.strip_prefix(from)?);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        match std::fs::copy(&file, &target) {
            Ok(_) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(err).with_context(|| format!("copying {}", file.display())),
        }
    }
    Ok(())
}

/// Copy a secret file, readable by its owner only.
fn copy_private(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::copy(from, to)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}
