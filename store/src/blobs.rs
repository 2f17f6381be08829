//! Original uploads (and later generated images) as blobs in any `object_store`
//! backend: a local directory by default, S3/R2/MinIO when configured.

use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::s3::S3Options;

/// A handle on the blob store; cheap to clone.
#[derive(Clone, Debug)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
}

impl BlobStore {
    /// Open the store named by `url` (`file:///abs/dir` or `s3://bucket/prefix`).
    ///
    /// An `s3://` store is reached as `s3` says; keys and anything else
    /// come from the standard `AWS_*` environment variables.
    pub fn open(url: &str, s3: &S3Options) -> anyhow::Result<Self> {
        let parsed = url::Url::parse(url)
            .with_context(|| format!("RAGWAY_BLOB_URL={url:?} is not a URL"))?;
        match parsed.scheme() {
            "file" => {
                let dir = parsed.to_file_path().map_err(|_| {
                    anyhow::anyhow!("RAGWAY_BLOB_URL={url:?} is not an absolute file path")
                })?;
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("creating blob directory {}", dir.display()))?;
                let store = LocalFileSystem::new_with_prefix(&dir)?;
                Ok(Self {
                    store: Arc::new(store),
                    prefix: Path::default(),
                })
            }
            "s3" => {
                let bucket = parsed
                    .host_str()
                    .ok_or_else(|| anyhow::anyhow!("RAGWAY_BLOB_URL={url:?} names no bucket"))?;
                let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
                for (key, value) in s3.pairs() {
                    let key: AmazonS3ConfigKey = key.parse()?;
                    builder = builder.with_config(key, value);
                }
                let store = builder.build().context("configuring the S3 blob store")?;
                Ok(Self {
                    store: Arc::new(store),
                    prefix: Path::from(parsed.path().trim_matches('/')),
                })
            }
            other => anyhow::bail!(
                "RAGWAY_BLOB_URL scheme {other:?} is not supported (use file:// or s3://)"
            ),
        }
    }

    fn path(&self, key: &str) -> Path {
        key.split('/').fold(self.prefix.clone(), Path::join)
    }

    /// Store `bytes` under `key`, replacing what was there.
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), object_store::Error> {
        self.store
            .put(&self.path(key), PutPayload::from_bytes(bytes))
            .await
            .map(|_| ())
    }

    /// Read the whole blob under `key`.
    pub async fn get(&self, key: &str) -> Result<Bytes, object_store::Error> {
        self.store.get(&self.path(key)).await?.bytes().await
    }

    /// Remove the blob under `key`; a missing blob is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), object_store::Error> {
        match self.store.delete(&self.path(key)).await {
            Err(object_store::Error::NotFound { .. }) => Ok(()),
            other => other,
        }
    }

    /// Whether the store answers: writes and reads back a small probe object.
    pub async fn check(&self) -> Result<(), object_store::Error> {
        let key = ".health/probe";
        self.put(key, Bytes::from_static(b"ok")).await?;
        self.get(key).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}", dir.path().join("blobs").display());
        let store = BlobStore::open(&url, &S3Options::default()).unwrap();
        store
            .put("documents/a/original", Bytes::from_static(b"hi"))
            .await
            .unwrap();
        assert_eq!(
            store.get("documents/a/original").await.unwrap(),
            Bytes::from_static(b"hi")
        );
        store.delete("documents/a/original").await.unwrap();
        store.delete("documents/a/original").await.unwrap();
        assert!(store.get("documents/a/original").await.is_err());
    }
}
