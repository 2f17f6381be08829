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
//! version. PostgreSQL and S3 have their own tools (see docs/deploy.md, "Backup and restore").
//!
//! Everything a backup or restore writes is its owner's only (files `0600`,
//! folders `0700`): the copy holds the whole database and the key that opens
//! the saved provider keys. A restore reads only what its manifest names
//! inside the backup folder: an absolute path, a `..` or a symbolic link
//! (named, or met on the way) is refused before anything is written.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write;
#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

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
    private_dir(to)?;
    if !places.database.exists() {
        bail!("there is no database at {}", places.database.display());
    }

    // SQLite first: the snapshot the other copies are at least as new as.
    let db = crate::store::sql::connect(&settings.database_url()).await?;
    let target = to.join(DATABASE);
    // Made empty and private first: SQLite writes into an empty file as it is.
    create_private(&target)?;
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
        private_dir(&vectors)?;
    }
    let blobs = to.join(BLOBS);
    if places.blobs.exists() {
        let from = places.blobs.clone();
        let into = blobs.clone();
        tokio::task::spawn_blocking(move || copy_tree(&from, &into, &|_| true)).await??;
    } else {
        private_dir(&blobs)?;
    }
    let secret_key = if places.key_file.exists() {
        copy_private(&places.key_file, &to.join(KEY_FILE), Links::Follow)?;
        Some(KEY_FILE.to_string())
    } else {
        None
    };
    let manifest = Manifest {
        ragway_version: env!("CARGO_PKG_VERSION").into(),
        created_at: crate::domain::clock::now_ms(),
        database: DATABASE.into(),
        vectors: VECTORS.into(),
        blobs: BLOBS.into(),
        secret_key,
    };
    create_private(&to.join(MANIFEST))?.write_all(&serde_json::to_vec_pretty(&manifest)?)?;
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
    // Every path the manifest names, and every file under them, checked
    // before anything is removed or written.
    let database = inside(from, &manifest.database, "database", Kind::File)?;
    let vectors = inside(from, &manifest.vectors, "vectors", Kind::Dir)?;
    let blobs = inside(from, &manifest.blobs, "blobs", Kind::Dir)?;
    let secret_key = match &manifest.secret_key {
        Some(key) => Some(inside(from, key, "secret_key", Kind::File)?),
        None => None,
    };
    let (vector_files, blob_files) = (regular_files(&vectors)?, regular_files(&blobs)?);
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
    // A data directory that is there keeps its mode; one made here is private.
    if let Some(parent) = places.database.parent().filter(|p| !p.exists()) {
        private_dir(parent)?;
    }
    for stale in ["", "-wal", "-shm"] {
        let path = PathBuf::from(format!("{}{stale}", places.database.display()));
        if path.exists() {
            std::fs::remove_file(&path)?;
        }
    }
    copy_private(&database, &places.database, Links::Refuse)?;
    let (to_vectors, to_blobs) = (places.vectors.clone(), places.blobs.clone());
    tokio::task::spawn_blocking(move || {
        copy_files(&vectors, &vector_files, &to_vectors, Links::Refuse)?;
        copy_files(&blobs, &blob_files, &to_blobs, Links::Refuse)
    })
    .await??;
    if let Some(key) = &secret_key {
        copy_private(key, &places.key_file, Links::Refuse)?;
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
            private_dir(parent)?;
        }
        copy_private(&manifest, &target, Links::Follow)
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
    let mut files = Vec::new();
    collect_files(from, &mut |path| files.push(path.to_path_buf()))?;
    files.retain(|f| keep(f));
    copy_files(from, &files, to, Links::Follow)
}

/// Copy `files` (under `from`) to the same places under `to`, private. A
/// file that vanished meanwhile is skipped.
fn copy_files(from: &Path, files: &[PathBuf], to: &Path, links: Links) -> anyhow::Result<()> {
    private_dir(to)?;
    let mut made = std::collections::HashSet::new();
    for file in files {
        let target = to.join(file.strip_prefix(from)?);
        if let Some(parent) = target.parent().filter(|p| made.insert(p.to_path_buf())) {
            private_dir(parent)?;
        }
        match copy_private(file, &target, links) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(err).with_context(|| format!("copying {}", file.display())),
        }
    }
    Ok(())
}

/// Create `dir` (and missing parents) readable by its owner only: `0700`,
/// set explicitly whatever the umask, also on a folder that was there.
fn private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    #[cfg(unix)]
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("making {} private", dir.display()))?;
    Ok(())
}

/// Create (or empty) the file `path`, readable by its owner only (`0600`).
fn create_private(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let file = options.open(path)?;
    // `mode` applies to new files only; a file that was there is made private too.
    #[cfg(unix)]
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

/// Whether a copy's source may be a symbolic link.
#[derive(Clone, Copy, PartialEq)]
enum Links {
    /// The server's own stores (a `secret.key` linked from a secrets mount, say).
    Follow,
    /// A backup being restored: it holds plain files only.
    Refuse,
}

/// Copy the file `from` into a private file `to`.
fn copy_private(from: &Path, to: &Path, links: Links) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.read(true);
    // A link put in place after the restore's checks is refused here too.
    #[cfg(unix)]
    if links == Links::Refuse {
        options.custom_flags(libc::O_NOFOLLOW);
    }
    let mut source = options.open(from)?;
    std::io::copy(&mut source, &mut create_private(to)?)?;
    Ok(())
}

/// What a manifest entry must be.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    File,
    Dir,
}

/// The path `name` (the manifest's `field`) inside the backup folder
/// `from`: relative, without `..`, no symbolic link on the way, and a
/// `kind`; else why not.
fn inside(from: &Path, name: &str, field: &str, kind: Kind) -> anyhow::Result<PathBuf> {
    let relative = Path::new(name);
    let plain = !name.is_empty()
        && relative
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if !plain {
        bail!(
            "the backup's manifest ({MANIFEST}) names {field} {name:?}: restore reads only relative paths inside the backup folder (no absolute paths, no `..`)"
        );
    }
    let mut path = from.to_path_buf();
    for part in relative.components() {
        path.push(part);
        let meta = std::fs::symlink_metadata(&path)
            .with_context(|| format!("the backup's {field} {name:?} is missing"))?;
        if meta.file_type().is_symlink() {
            bail!(
                "the backup's {field} {name:?} is (or passes through) a symbolic link: restore copies only files the backup folder holds itself"
            );
        }
    }
    let meta = std::fs::symlink_metadata(&path)?;
    match kind {
        Kind::File if !meta.is_file() => bail!("the backup's {field} {name:?} is not a file"),
        Kind::Dir if !meta.is_dir() => bail!("the backup's {field} {name:?} is not a folder"),
        _ => Ok(path),
    }
}

/// Every file under `dir`; a symbolic link (or a device, a pipe) anywhere
/// is refused: a backup holds plain files and folders only.
fn regular_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            files.extend(regular_files(&entry.path())?);
        } else if kind.is_file() {
            files.push(entry.path());
        } else {
            bail!(
                "{} in the backup is a symbolic link or a special file: restore copies only plain files",
                entry.path().display()
            );
        }
    }
    Ok(files)
}
