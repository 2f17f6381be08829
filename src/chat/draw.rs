//! 画: a last user message that starts with a drawing trigger goes to the
//! image upstream instead of the chat model. The picture is kept as a blob
//! (providers' links expire), served at `/v1/images/{id}.png`, and the answer
//! is a markdown image, in the same shapes as any other answer.

use bytes::Bytes;
use serde_json::{json, Value};

use super::answer::{Answer, Event, Reply};
use super::error::{ChatError, ChatResult};
use super::{Exchange, Message};
use crate::domain::clock::now_ms;
use crate::store::blobs::BlobStore;
use crate::upstream::Upstream;
use crate::usage::LogHandle;

/// The prompt of a drawing request: `text` without its trigger, when it
/// starts with one of `triggers`.
pub fn prompt(text: &str, triggers: &[String]) -> Option<String> {
    let text = text.trim_start();
    let rest = triggers
        .iter()
        .filter(|t| !t.is_empty())
        .find_map(|t| text.strip_prefix(t.as_str()))?;
    Some(
        rest.trim_start_matches(|c: char| c.is_whitespace() || ":：,，".contains(c))
            .trim_end()
            .to_string(),
    )
}

/// The blob key of image `id`.
fn blob_key(id: &str) -> String {
    format!("images/{id}")
}

/// Draw `prompt`, store the picture and return the answer's text: the
/// markdown image, or a readable failure (never an error response).
/// `images` draws it at `size`; `blobs` keeps it.
async fn draw(
    images: &Upstream,
    size: &str,
    blobs: &BlobStore,
    origin: &str,
    prompt: &str,
    log: &LogHandle,
) -> String {
    if prompt.is_empty() {
        return "请在触发词后描述想要的画面，例如「画 一只在雪地里的橘猫」。\n\
                (Describe the picture after the trigger, e.g. \"画 an orange cat in the snow\".)"
            .into();
    }
    let generated = images.generate_image(prompt, size, log).await;
    let bytes = match generated {
        Ok(bytes) => bytes,
        Err(err) => {
            tracing::warn!(error = %err, "drawing failed");
            log.set_error(&format!("image generation failed: {err}"));
            return format!("图片生成失败 (image generation failed): {err}");
        }
    };
    if content_type(&bytes).is_none() {
        return "图片生成失败 (image generation failed): the images upstream sent something that is not a PNG, JPEG, WebP or GIF image.".into();
    }
    // 122 random bits: the link is the only key to the picture.
    let id = uuid::Uuid::new_v4().simple().to_string();
    if let Err(err) = blobs.put(&blob_key(&id), bytes).await {
        tracing::error!(error = %err, "storing a generated image failed");
        return "图片生成失败 (image generation failed): the picture could not be stored.".into();
    }
    let alt = prompt.replace(['[', ']', '\n'], " ");
    format!("![{alt}]({origin}/v1/images/{id}.png)")
}

/// Answer a drawing request: draw, save the exchange, and reply as a chat
/// completion (or its stream of chunks) whose content is the picture.
pub(crate) async fn answer(
    exchange: Exchange,
    origin: &str,
    prompt: &str,
    stream: bool,
    client_usage: bool,
) -> Answer {
    if let Ok(ready) = exchange.state.upstreams.images.ready() {
        exchange.log.set_model(&exchange.model, Some(ready.model()));
    }
    let state = &exchange.state;
    let content = draw(
        &state.upstreams.images,
        &state.settings.image_size,
        &state.blobs,
        origin,
        prompt,
        &exchange.log,
    )
    .await;
    let message = Message::new("assistant", Value::String(content.clone()));
    let usage = json!({"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0});
    exchange.save(message, Some(usage.clone()), false).await;
    let id = format!("chatcmpl-{}", uuid::Uuid::new_v4().simple());
    let created = now_ms() / 1000;
    let model = exchange.model.clone();
    if stream {
        let chunk = |choices: Value| json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model, "choices": choices});
        let mut events = vec![
            Event::Chunk(chunk(
                json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]),
            )),
            Event::Chunk(chunk(
                json!([{"index": 0, "delta": {"content": content}, "finish_reason": null}]),
            )),
            Event::Chunk(chunk(
                json!([{"index": 0, "delta": {}, "finish_reason": "stop"}]),
            )),
        ];
        if client_usage {
            let mut last = chunk(json!([]));
            last["usage"] = usage;
            events.push(Event::Chunk(last));
        }
        events.push(Event::Done {
            last: chunk(json!([])),
        });
        return exchange.answer(Reply::Stream(Box::pin(futures::stream::iter(events))));
    }
    exchange.answer(Reply::Whole(json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": usage,
    })))
}

/// The stored picture `file` (`{id}.png`) and its content type; a 404
/// for any id that was not generated here.
pub async fn image(blobs: &BlobStore, file: &str) -> ChatResult<(&'static str, Bytes)> {
    let id = file.strip_suffix(".png").unwrap_or(file);
    let not_found = || ChatError::not_found("image", file);
    if id.len() != 32 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(not_found());
    }
    let bytes = match blobs.get(&blob_key(id)).await {
        Ok(bytes) => bytes,
        Err(object_store::Error::NotFound { .. }) => return Err(not_found()),
        Err(err) => return Err(err.into()),
    };
    let kind = content_type(&bytes).unwrap_or("application/octet-stream");
    Ok((kind, bytes))
}

/// The image type of `bytes`, from their magic numbers.
fn content_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if bytes.starts_with(b"GIF8") {
        Some("image/gif")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_are_stripped_from_the_prompt() {
        let triggers = vec!["画".to_string(), "/draw".to_string()];
        assert_eq!(prompt("画一只猫", &triggers).as_deref(), Some("一只猫"));
        assert_eq!(prompt("  画：雪山 ", &triggers).as_deref(), Some("雪山"));
        assert_eq!(
            prompt("/draw a red fox", &triggers).as_deref(),
            Some("a red fox")
        );
        assert_eq!(prompt("画", &triggers).as_deref(), Some(""));
        assert_eq!(prompt("我想画画", &triggers), None);
        assert_eq!(prompt("hello", &[]), None);
    }

    #[test]
    fn image_types_are_sniffed() {
        assert_eq!(content_type(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(content_type(&[0xff, 0xd8, 0xff, 0xe0]), Some("image/jpeg"));
        assert_eq!(content_type(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(content_type(b"<html>"), None);
    }
}
