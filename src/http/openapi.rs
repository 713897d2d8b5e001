//! `GET /api/v1/openapi.json` (no key): the OpenAPI 3.1 document of the API, committed as
//! `docs/openapi.json` and compiled in, so the served bytes are the reviewed file. A test
//! (`api::openapi`) holds the router's routes and methods against its paths and operations.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};

use super::response::Response;

/// The committed document.
pub const DOCUMENT: &str = include_str!("../../docs/openapi.json");

/// The document, as written in the repository.
pub fn document() -> Response {
    let mut response = hyper::Response::new(Full::new(Bytes::from_static(DOCUMENT.as_bytes())));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    // It changes only with the binary.
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}
