//! Built-in models behind the upstream's face: an embeddings or rerank
//! model named `local:…` runs in this process (ragway-models) instead of
//! being asked of a provider, with the same answers and errors as a
//! provider's, so ingest, search, `/v1/embeddings` and `/v1/rerank` do not
//! know the difference.

use std::sync::Arc;

use ragway_models::hub::HubOptions;
use ragway_models::{Library, LibraryOptions, ModelError};

use super::error::UpstreamError;
use super::{Embedded, InputType, Ranked, Upstream};
use crate::config::Settings;
use crate::error::AppResult;

pub use ragway_models::Source;

/// The models library every upstream shares, as the settings say.
pub(super) fn library(settings: &Settings) -> Arc<Library> {
    Arc::new(Library::new(options(settings)))
}

fn options(settings: &Settings) -> LibraryOptions {
    LibraryOptions {
        models_dir: settings.models_dir(),
        hub: HubOptions {
            max_file_bytes: settings.model_max_file_bytes,
            ..HubOptions::default()
        },
        concurrent_runs: settings.local_model_runs.max(1),
        allow_fetch: settings.models_fetch,
    }
}

/// Fetch and load the built-in models the settings name, in the
/// background: the server answers meanwhile (`/health` shows the progress)
/// and the first upload or question waits for the model instead of failing.
pub fn preload(upstreams: &super::Upstreams, tasks: &tokio_util::task::TaskTracker) {
    let embed = upstreams.embed_model();
    if Source::is_local(&embed) {
        let library = upstreams.embeddings.library().clone();
        tasks.spawn(async move {
            // A failure is logged and shown in /health; calls retry later.
            let _ = library.embedder(&embed).await;
        });
    }
    if let Some(rerank) = upstreams.rerank.model().filter(|m| Source::is_local(m)) {
        let library = upstreams.rerank.library().clone();
        tasks.spawn(async move {
            let _ = library.reranker(&rerank).await;
        });
    }
}

/// `ragway models pull`: fetch each hub model of `names` (the built-in
/// embeddings and rerank models the settings name, when none is given)
/// into the models folder; answers the folders.
pub async fn pull(
    settings: &Settings,
    names: &[String],
) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let mut names: Vec<String> = names
        .iter()
        .map(|n| {
            if Source::is_local(n) {
                n.clone()
            } else {
                format!("{}{n}", ragway_models::LOCAL_PREFIX)
            }
        })
        .collect();
    if names.is_empty() {
        names.push(settings.embed_model_name());
        names.push(settings.rerank_model.clone());
        names.retain(|n| Source::is_local(n));
        anyhow::ensure!(
            !names.is_empty(),
            "no built-in model is configured: name one, e.g. `ragway models pull BAAI/bge-small-zh-v1.5`"
        );
    }
    let library = Library::new(LibraryOptions {
        allow_fetch: true,
        ..options(settings)
    });
    let mut folders = Vec::new();
    for name in &names {
        folders.push(library.pull(name).await?);
    }
    Ok(folders)
}

impl Upstream {
    /// The built-in models (shared by every role).
    pub fn library(&self) -> &Arc<Library> {
        &self.local
    }

    /// Embed with built-in model `model` (`local:…`).
    pub(super) async fn embed_locally(
        &self,
        model: &str,
        inputs: &[String],
        input_type: Option<InputType>,
    ) -> AppResult<Embedded> {
        if inputs.is_empty() {
            return Ok(Embedded::default());
        }
        let query = input_type == Some(InputType::Query);
        let vectors = self
            .local
            .embed(model, inputs, query)
            .await
            .map_err(|e| unusable("embeddings", model, e))?;
        Ok(Embedded {
            vectors,
            usage: None,
        })
    }

    /// Rerank with built-in model `model` (`local:…`): the best `top_n`.
    pub(super) async fn rerank_locally<S: AsRef<str>>(
        &self,
        model: &str,
        query: &str,
        documents: &[S],
        top_n: usize,
    ) -> AppResult<Ranked> {
        let passages: Vec<String> = documents.iter().map(|d| d.as_ref().to_string()).collect();
        let scores = self
            .local
            .rerank(model, query, &passages)
            .await
            .map_err(|e| unusable("rerank", model, e))?;
        let mut ranked: Vec<(usize, f32)> = scores
            .into_iter()
            .enumerate()
            .filter(|(_, s)| s.is_finite())
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        ranked.truncate(top_n);
        Ok(Ranked {
            ranked,
            usage: None,
        })
    }
}

/// A built-in model that cannot answer: missing files or an unreachable
/// hub are the configuration's (503, the message names what to do); a
/// failure inside the model is 502 like a provider's broken answer.
fn unusable(role: &str, model: &str, err: ModelError) -> crate::error::AppError {
    match err {
        ModelError::Name(_) | ModelError::Files(_) | ModelError::Download(_) => {
            UpstreamError::NotConfigured(format!(
                "The built-in {role} model {model} is not usable: {err}"
            ))
            .into()
        }
        ModelError::Tokenizer(_) | ModelError::Model(_) => {
            UpstreamError::Unusable(format!("The built-in {role} model {model} failed: {err}"))
                .into()
        }
    }
}
