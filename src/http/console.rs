//! The web console (SPEC 6.3): the plain files of `console/` (HTML, CSS, JavaScript
//! modules; no build step), compiled into the binary so it works air-gapped, served at
//! `/ui/` with `/` redirecting there (`server.console = false` answers 404 for both).
//!
//! Assets are served as `/ui/assets/<stem>.<build>.<ext>`, where `<build>` hashes every
//! file of the console: a change to any file renames them all, so each can be cached
//! forever (`immutable`) without a stale module ever importing another's old name.
//! `index.html` itself is `no-cache`. The references are rewritten once, at first use:
//! each `"./NAME"` of a console file in `index.html` and in the modules.
//!
//! Every answer under `/ui` carries the console's Content-Security-Policy (scripts,
//! styles and connections only from this origin; no inline script or style; no framing),
//! `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`.

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{
    HeaderValue, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use hyper::{Method, StatusCode};

use super::error::ApiError;
use super::response::Response;

/// The console's policy (SPEC 6.3).
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Where the console lives.
pub const ROOT: &str = "/ui/";

/// The files of `console/`, as committed (`tidy::the_console_files_are_all_embedded`
/// holds this list against the directory).
pub const FILES: &[(&str, &[u8])] = &[
    ("index.html", include_bytes!("../../console/index.html")),
    ("app.js", include_bytes!("../../console/app.js")),
    ("api.js", include_bytes!("../../console/api.js")),
    ("views.js", include_bytes!("../../console/views.js")),
    ("chart.js", include_bytes!("../../console/chart.js")),
    ("dom.js", include_bytes!("../../console/dom.js")),
    ("style.css", include_bytes!("../../console/style.css")),
];

/// The console as served: the rewritten `index.html` and the assets by their served names.
struct Built {
    index: Bytes,
    assets: HashMap<String, (Bytes, &'static str)>,
}

fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let build = build_hash();
        let served = |name: &str| match name.rsplit_once('.') {
            Some((stem, ext)) => format!("{stem}.{build}.{ext}"),
            None => format!("{name}.{build}"),
        };
        // `"./NAME"` and `'./NAME'` of every asset, in any file, become its served name
        // (modules sit beside each other in `assets/`; the page one level up).
        let rewrite = |text: &str, prefix: &str| {
            let mut text = text.to_owned();
            for (name, _) in FILES.iter().filter(|(n, _)| *n != "index.html") {
                for quote in ['"', '\''] {
                    text = text.replace(
                        &format!("{quote}./{name}{quote}"),
                        &format!("{quote}./{prefix}{}{quote}", served(name)),
                    );
                }
            }
            text
        };
        let mut index = Bytes::new();
        let mut assets = HashMap::new();
        for (name, bytes) in FILES {
            let text = String::from_utf8_lossy(bytes);
            if *name == "index.html" {
                index = Bytes::from(rewrite(&text, "assets/"));
            } else {
                let body = Bytes::from(rewrite(&text, ""));
                assets.insert(served(name), (body, content_type(name)));
            }
        }
        Built { index, assets }
    })
}

/// The first 12 hex digits of SHA-256 over every file's name and bytes.
fn build_hash() -> String {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    for (name, bytes) in FILES {
        context.update(name.as_bytes());
        context.update(&(bytes.len() as u64).to_le_bytes());
        context.update(bytes);
    }
    let digest = context.finish();
    digest.as_ref()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

/// Whether `path` is the console's (`/`, `/ui` and below).
pub fn is_console_path(path: &str) -> bool {
    path == "/" || path == "/ui" || path.starts_with("/ui/")
}

/// Answers a request for a console path: the page, an asset, a redirect, or an error in
/// the API's shape — each with the console's headers (a redirect of `/` has none to
/// need). `enabled` is `server.console`.
pub fn serve(enabled: bool, method: &Method, path: &str) -> Response {
    if !enabled {
        return ApiError::NotFound("the web console is turned off (server.console)")
            .into_response();
    }
    if method != Method::GET && method != Method::HEAD {
        return secured(ApiError::MethodNotAllowed(&[Method::GET]).into_response());
    }
    match path {
        "/" | "/ui" => redirect(ROOT),
        ROOT => secured(body(
            built().index.clone(),
            "text/html; charset=utf-8",
            "no-cache",
        )),
        _ => {
            let found = path
                .strip_prefix("/ui/assets/")
                .and_then(|name| built().assets.get(name));
            match found {
                Some((bytes, kind)) => secured(body(
                    bytes.clone(),
                    kind,
                    "public, max-age=31536000, immutable",
                )),
                None => secured(ApiError::NotFound("no such console file").into_response()),
            }
        }
    }
}

fn body(bytes: Bytes, kind: &'static str, cache: &'static str) -> Response {
    let mut response = hyper::Response::new(Full::new(bytes));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

fn redirect(to: &'static str) -> Response {
    let mut response = hyper::Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::FOUND;
    response
        .headers_mut()
        .insert(LOCATION, HeaderValue::from_static(to));
    secured(response)
}

/// The console's security headers.
fn secured(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_of_the_page_and_the_modules_names_a_served_asset() {
        let built = built();
        let index = String::from_utf8_lossy(&built.index).into_owned();
        let mut referenced = 0;
        for (served, (bytes, _)) in &built.assets {
            let text = String::from_utf8_lossy(bytes);
            for (name, _) in FILES {
                assert!(
                    !text.contains(&format!("\"./{name}\""))
                        && !text.contains(&format!("'./{name}'")),
                    "{served} still imports ./{name}"
                );
            }
            if index.contains(&format!("./assets/{served}")) {
                referenced += 1;
            }
        }
        assert!(
            referenced >= 2,
            "the page loads its script and its style: {index}"
        );
        assert!(!index.contains("\"./app.js\""));
    }

    #[test]
    fn the_console_is_small_and_has_no_inline_script_style_or_remote_file() {
        let total: usize = FILES.iter().map(|(_, b)| b.len()).sum();
        assert!(total < 200 * 1024, "{total} bytes");
        let index = String::from_utf8_lossy(FILES[0].1).to_lowercase();
        assert!(!index.contains("<style"), "no inline style");
        assert!(!index.contains(" style="), "no style attribute");
        assert!(
            index.matches("<script").count()
                == index.matches("<script type=\"module\" src=\"./").count(),
            "every script is a file of the console"
        );
        let handler = index.split(" on").skip(1).any(|rest| {
            rest.split('=')
                .next()
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_lowercase()))
        });
        assert!(!handler, "no inline event handler");
        for (name, bytes) in FILES {
            let text = String::from_utf8_lossy(bytes);
            assert!(
                !text.contains("innerHTML")
                    && !text.contains("outerHTML")
                    && !text.contains("insertAdjacentHTML"),
                "{name}: values go in as text"
            );
            for remote in [
                "src=\"http",
                "href=\"http",
                "url(http",
                "from \"http",
                "from 'http",
                "@import",
                "eval(",
            ] {
                assert!(!text.contains(remote), "{name}: {remote}");
            }
        }
    }
}
