//! Building responses: JSON bodies and the paged-list `Link` header.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE, LINK};
use hyper::StatusCode;
use serde::Serialize;

/// The buffer a JSON answer starts with: a check without changes is ≈350 bytes.
const ANSWER_CAPACITY: usize = 512;

/// Every response body is fully buffered JSON.
pub type Response = hyper::Response<Full<Bytes>>;

/// A JSON response. Serialising our own view types cannot fail; if it somehow did, the
/// client gets a 500 in the spec's shape rather than a dropped connection.
pub fn json(status: StatusCode, body: &impl Serialize) -> Response {
    // Room for a check's answer at once (serde_json starts at 128 bytes and regrows).
    let mut bytes = Vec::with_capacity(ANSWER_CAPACITY);
    let (status, bytes) = match serde_json::to_writer(&mut bytes, body) {
        Ok(()) => (status, bytes),
        Err(e) => {
            tracing::error!(error = %e, "cannot serialise a response");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                br#"{"error":{"code":"internal","message":"internal error"}}"#.to_vec(),
            )
        }
    };
    let mut response = hyper::Response::new(Full::new(Bytes::from(bytes)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// `200 OK` with a JSON body.
pub fn ok(body: &impl Serialize) -> Response {
    json(StatusCode::OK, body)
}

/// `201 Created` with a JSON body.
pub fn created(body: &impl Serialize) -> Response {
    json(StatusCode::CREATED, body)
}

/// `202 Accepted` with a JSON body: queued, not yet done.
pub fn accepted(body: &impl Serialize) -> Response {
    json(StatusCode::ACCEPTED, body)
}

/// A JSON array, with `Link: <next>; rel="next"` when `next` is given.
pub fn list(body: &impl Serialize, next: Option<String>) -> Response {
    let mut response = ok(body);
    if let Some(v) =
        next.and_then(|url| HeaderValue::from_str(&format!("<{url}>; rel=\"next\"")).ok())
    {
        response.headers_mut().insert(LINK, v);
    }
    response
}
