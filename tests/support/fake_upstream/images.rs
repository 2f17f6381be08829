//! The fake's image endpoints: generation (a PNG inline, or a link) and the
//! files those links lead to, as each [`ImageLink`] says.

use super::*;

pub(super) async fn images(
    State(shared): State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
    Json(request): Json<Value>,
) -> Response {
    shared.image_requests.lock().unwrap().push(request.clone());
    if let Some(response) = failing(take_fault(&shared, &headers)).await {
        return response;
    }
    if *shared.images_as_urls.lock().unwrap() {
        let base = shared.base_url.lock().unwrap().clone();
        let url = match &*shared.image_link.lock().unwrap() {
            ImageLink::Png => format!("{base}/files/image.png"),
            ImageLink::Raw(link) => link.clone(),
            _ => format!("{base}/files/linked.png"),
        };
        return Json(json!({"images": [{"url": url}], "timings": {"inference": 1}, "seed": 1}))
            .into_response();
    }
    Json(json!({"created": 1, "data": [{"b64_json": PNG_1X1}]})).into_response()
}

/// The picture behind the links of [`FakeUpstream::set_images_as_urls`].
pub(super) async fn image_file(
    State(shared): State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
) -> Response {
    note_host(&shared, &headers);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(PNG_1X1)
        .unwrap();
    ([(header::CONTENT_TYPE, "image/png")], bytes).into_response()
}

fn note_host(shared: &Shared, headers: &axum::http::HeaderMap) {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    shared
        .file_hosts
        .lock()
        .unwrap()
        .push(host.unwrap_or_default().to_string());
}

/// What [`FakeUpstream::set_image_link`] asked for: an oversized body or a redirect.
pub(super) async fn linked_file(
    State(shared): State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
) -> Response {
    note_host(&shared, &headers);
    let link = shared.image_link.lock().unwrap().clone();
    match link {
        ImageLink::Oversized { bytes, declared } => {
            let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
            png.resize(bytes, 0);
            let body = if declared {
                Body::from(png)
            } else {
                // Streamed in pieces, without a length.
                let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
                    png.chunks(16 * 1024).map(|c| Ok(c.to_vec())).collect();
                Body::from_stream(futures::stream::iter(pieces))
            };
            ([(header::CONTENT_TYPE, "image/png")], body).into_response()
        }
        ImageLink::RedirectTo(location) => {
            (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
        }
        ImageLink::Hang => std::future::pending().await,
        ImageLink::Png | ImageLink::Raw(_) => StatusCode::NOT_FOUND.into_response(),
    }
}
