//! The faults the fake can be switched to (429s, 5xx, refused keys, hangs,
//! cut streams, bodies that never end), for every request or for one key,
//! for ever or a number of times.

use super::*;

/// What the fake does wrong, for every endpoint, until changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer normally.
    None,
    /// 429 with `Retry-After: 7`.
    RateLimit,
    /// 500 with an error body.
    ServerError,
    /// 401, as for a bad upstream key.
    Unauthorized,
    /// Never answer.
    Hang,
    /// Streams send the role chunk and two content chunks, then stop without finishing.
    CutStream,
    /// 429 with `Retry-After: 0`: try again at once.
    RateLimitNoWait,
    /// 429 without `Retry-After`, saying the day's quota is used up.
    DailyQuota,
    /// 403, as for a key without access.
    Forbidden,
    /// 200 with a body that never ends (the start of an SSE event, then `x` for ever).
    Flood,
    /// 500 with an error body that never ends.
    FloodError,
}

/// Count a request against a fault slot: its fault, healed once a limited one is used up.
pub(super) fn count_down(slot: &mut (Fault, Option<u32>)) -> Fault {
    match slot.1 {
        Some(0) => {
            *slot = (Fault::None, None);
            Fault::None
        }
        Some(n) => {
            slot.1 = Some(n - 1);
            slot.0
        }
        None => slot.0,
    }
}

/// The fault for this request (its key's first, then the one for all),
/// counting it against a limited fault.
pub(super) fn take_fault(shared: &Shared, headers: &axum::http::HeaderMap) -> Fault {
    let keyed = bearer(headers)
        .and_then(|k| {
            shared
                .key_faults
                .lock()
                .unwrap()
                .get_mut(&k)
                .map(count_down)
        })
        .unwrap_or(Fault::None);
    if keyed != Fault::None {
        return keyed;
    }
    count_down(&mut shared.fault.lock().unwrap())
}

/// An OpenAI-shaped error response, with `Retry-After` when given.
pub(super) fn error(
    status: StatusCode,
    retry_after: Option<&'static str>,
    error: Value,
) -> Response {
    let mut response = (status, Json(json!({ "error": error }))).into_response();
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static(secs));
    }
    response
}

/// The response for a fault that fails the whole request, if it does.
pub(super) async fn failing(fault: Fault) -> Option<Response> {
    let rate_limited = json!({"message": "Rate limit reached for requests", "type": "requests", "code": "rate_limit_exceeded"});
    Some(match fault {
        Fault::None | Fault::CutStream => return None,
        Fault::RateLimit => error(StatusCode::TOO_MANY_REQUESTS, Some("7"), rate_limited),
        Fault::RateLimitNoWait => error(StatusCode::TOO_MANY_REQUESTS, Some("0"), rate_limited),
        Fault::DailyQuota => error(
            StatusCode::TOO_MANY_REQUESTS,
            None,
            json!({"message": "You exceeded your current quota, please check your plan and billing details.", "type": "insufficient_quota", "code": "insufficient_quota"}),
        ),
        Fault::ServerError => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            json!({"message": "The fake upstream broke", "type": "server_error"}),
        ),
        Fault::Unauthorized => error(
            StatusCode::UNAUTHORIZED,
            None,
            json!({"message": "Invalid API key", "type": "invalid_request_error"}),
        ),
        Fault::Forbidden => error(
            StatusCode::FORBIDDEN,
            None,
            json!({"message": "This key has no access to the model", "type": "permission_error"}),
        ),
        Fault::Hang => std::future::pending().await,
        Fault::Flood => endless(StatusCode::OK, "data: {\"choices\": \""),
        Fault::FloodError => endless(StatusCode::INTERNAL_SERVER_ERROR, "{\"message\": \""),
    })
}

/// `status` with a body that starts with `start` and never ends.
pub(super) fn endless(status: StatusCode, start: &'static str) -> Response {
    let filler = Bytes::from(vec![b'x'; 64 * 1024]);
    let body = futures::stream::once(futures::future::ready(Bytes::from_static(start.as_bytes())))
        .chain(futures::stream::repeat(filler))
        .map(Ok::<_, std::convert::Infallible>);
    (status, Body::from_stream(body)).into_response()
}
