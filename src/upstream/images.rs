//! Pictures from the image upstream, and the download of the links some
//! providers answer with instead of the bytes.
//!
//! A link comes from the provider's answer, so it is handled as untrusted:
//! only `http(s)`, redirects only within the link's own host (a provider's
//! CDN link does not get to send ragway elsewhere), at most
//! `RAGWAY_IMAGE_DOWNLOAD_MAX_BYTES` (checked against `Content-Length` and
//! again while the body streams in), within the upstream time limit. Errors
//! never quote the link: they reach the user's chat and the request log, and
//! a signed link is a credential of sorts.

use super::error::UpstreamError;
use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use serde::Deserialize;
use serde_json::json;

use super::{error_chain, Upstream};
use crate::error::{AppError, AppResult};
use crate::usage::LogHandle;

/// Redirects an image link may take (all within its own host).
const MAX_REDIRECTS: usize = 5;

/// The redirect policy of image downloads: follow a few redirects that stay
/// on the link's scheme, host and port; refuse any other.
pub(super) fn same_host_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let Some(first) = attempt.previous().first() else {
            return attempt.follow();
        };
        let next = attempt.url();
        let same_place = next.scheme() == first.scheme()
            && next.host_str() == first.host_str()
            && next.port_or_known_default() == first.port_or_known_default();
        if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(format!(
                "the image link redirected more than {MAX_REDIRECTS} times"
            ))
        } else if same_place {
            attempt.follow()
        } else {
            attempt.error("the image link redirects to another host, which ragway does not follow")
        }
    })
}

/// A 502 about the image upstream's answer.
fn unexpected(message: String) -> AppError {
    UpstreamError::Unusable(message).into()
}

impl Upstream {
    /// Generate one image for `prompt` at `size` (`WIDTHxHEIGHT`) and return
    /// its bytes. The request carries OpenAI's `size`/`n` and SiliconFlow's
    /// `image_size`/`batch_size`, so both kinds of provider accept it; the
    /// answer may hold `data[].b64_json`, `data[].url` or `images[].url`
    /// (a URL is downloaded at once: providers' links expire).
    #[tracing::instrument(
        level = "debug",
        name = "upstream",
        skip_all,
        fields(path = "/images/generations")
    )]
    pub async fn generate_image(
        &self,
        prompt: &str,
        size: &str,
        log: &LogHandle,
    ) -> AppResult<Bytes> {
        let ready = self.ready()?;
        let body = json!({
            "model": ready.model(),
            "prompt": prompt,
            "size": size,
            "n": 1,
            "image_size": size,
            "batch_size": 1,
        });
        #[derive(Deserialize)]
        struct Image {
            url: Option<String>,
            b64_json: Option<String>,
        }
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            data: Vec<Image>,
            #[serde(default)]
            images: Vec<Image>,
        }
        let answer: Answer = self
            .send_json("/images/generations", ready.model(), &body, log)
            .await?;
        let image = answer
            .data
            .into_iter()
            .chain(answer.images)
            .next()
            .ok_or_else(|| unexpected("The images upstream returned no image.".into()))?;
        if let Some(encoded) = image.b64_json {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|e| unexpected(format!("The images upstream sent invalid base64: {e}")))?;
            if bytes.len() > self.image_max_bytes {
                return Err(self.too_large());
            }
            return Ok(Bytes::from(bytes));
        }
        let url = image.url.ok_or_else(|| {
            unexpected("The images upstream's image has neither url nor b64_json.".into())
        })?;
        tokio::time::timeout(self.timeout, self.download_image(&url))
            .await
            .map_err(|_| {
                unexpected(format!(
                    "Downloading the generated image took longer than {} s.",
                    self.timeout.as_secs()
                ))
            })?
    }

    /// The picture behind `url`, within the limits of the module docs.
    async fn download_image(&self, url: &str) -> AppResult<Bytes> {
        let parsed = url::Url::parse(url)
            .map_err(|_| unexpected("The images upstream's image link is not a URL.".into()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(unexpected(
                "The images upstream's image link is not an http(s) URL; ragway downloads only those."
                    .into(),
            ));
        }
        // `without_url`: reqwest's messages quote the link, which must not reach the user.
        let failed = |err: reqwest::Error| {
            unexpected(format!(
                "Downloading the generated image failed: {}",
                error_chain(&err.without_url())
            ))
        };
        let mut response = self.downloads.get(parsed).send().await.map_err(failed)?;
        if !response.status().is_success() {
            return Err(unexpected(format!(
                "Downloading the generated image failed with status {}.",
                response.status()
            )));
        }
        let max = self.image_max_bytes;
        if response.content_length().is_some_and(|n| n > max as u64) {
            return Err(self.too_large());
        }
        // Read piece by piece, so a body longer than it said (or than the
        // limit, without a length) is dropped at the limit, not after.
        let mut bytes = BytesMut::new();
        while let Some(piece) = response.chunk().await.map_err(failed)? {
            if bytes.len() + piece.len() > max {
                return Err(self.too_large());
            }
            bytes.extend_from_slice(&piece);
        }
        Ok(bytes.freeze())
    }

    fn too_large(&self) -> AppError {
        unexpected(format!(
            "The generated image is larger than the {} bytes ragway accepts (RAGWAY_IMAGE_DOWNLOAD_MAX_BYTES).",
            self.image_max_bytes
        ))
    }
}
