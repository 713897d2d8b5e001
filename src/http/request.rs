//! Reading a request: the authenticated caller, the body (size- and time-limited) parsed
//! as JSON with errors that name the field, and the paging parameters of lists.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, HOST};
use hyper::http::request::Parts;
use serde::de::DeserializeOwned;

use super::auth::Caller;
use super::error::ApiError;
use crate::ids::{format_cursor, parse_cursor};
use crate::store::PageRequest;

/// Default and largest page sizes of list endpoints.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// Limits that apply to every request body.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimits {
    /// Larger bodies get 413.
    pub max_bytes: u64,
    /// Slower bodies get 408.
    pub timeout: Duration,
}

/// An authenticated API request, handed to a handler.
pub struct ApiRequest {
    /// Who is asking.
    pub caller: Caller,
    /// Method, URI, headers.
    pub parts: Parts,
    body: Incoming,
    limits: BodyLimits,
    /// Where `Link` URLs point.
    links: LinkBase,
}

/// The start of the absolute URLs of `Link` headers.
#[derive(Clone, Debug)]
pub enum LinkBase {
    /// `server.public_url`.
    Public(std::sync::Arc<str>),
    /// The scheme this daemon serves (`http` or `https`), with the request's `Host`.
    Served(&'static str),
}

impl ApiRequest {
    /// Bundles what a handler needs.
    pub fn new(
        caller: Caller,
        parts: Parts,
        body: Incoming,
        limits: BodyLimits,
        links: LinkBase,
    ) -> Self {
        ApiRequest {
            caller,
            parts,
            body,
            limits,
            links,
        }
    }

    /// Reads the body and parses it as `T`.
    pub async fn json<T: DeserializeOwned>(self) -> Result<(Caller, T), ApiError> {
        let bytes = read_body(self.body, &self.parts, self.limits).await?;
        Ok((self.caller, parse_json(&bytes)?))
    }

    /// Reads a body whose every field is optional and parses it as `T`. Serde skips
    /// unknown fields without decoding them, so with no required field a body that is
    /// not JSON we accept (nested too deep, a lone surrogate escape) could pass
    /// unnoticed: it is decoded whole first. These bodies are small and off the hot path.
    pub async fn json_all_optional<T: DeserializeOwned>(self) -> Result<(Caller, T), ApiError> {
        let bytes = read_body(self.body, &self.parts, self.limits).await?;
        parse_json::<serde_json::Value>(&bytes)?;
        Ok((self.caller, parse_json(&bytes)?))
    }

    /// [`ApiRequest::json_all_optional`], where an empty body is `T::default()` (so a
    /// bare `POST` works).
    pub async fn json_or_default<T: DeserializeOwned + Default>(
        self,
    ) -> Result<(Caller, T), ApiError> {
        let bytes = read_body(self.body, &self.parts, self.limits).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok((self.caller, T::default()));
        }
        parse_json::<serde_json::Value>(&bytes)?;
        Ok((self.caller, parse_json(&bytes)?))
    }

    /// `?limit=` and `?cursor=` of a list.
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        parse_page(self.parts.uri.query().unwrap_or(""))
    }

    /// The value of query parameter `name` (the first, if repeated), percent-decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        let query = self.parts.uri.query().unwrap_or("");
        form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }

    /// Whether `?include=` names `what`, the one thing a route can include (anything
    /// else is a 400 naming `include`).
    pub fn include(&self, what: &str) -> Result<bool, ApiError> {
        match self.query("include") {
            None => Ok(false),
            Some(given) if given == what => Ok(true),
            Some(_) => Err(ApiError::Invalid(format!("include: must be {what}"))),
        }
    }

    /// The URL of the page that starts at `cursor`: under `server.public_url` when set;
    /// else the scheme this daemon serves and the request's `Host` if that is a valid
    /// `host[:port]`; else relative (a `Host` we cannot vouch for is not echoed back).
    pub fn next_page_url(&self, page: PageRequest, cursor: u64) -> String {
        // The request's other parameters (filters, `include`) carry over to the next page.
        let mut query = form_urlencoded::Serializer::new(String::new());
        let given = self.parts.uri.query().unwrap_or("");
        for (name, value) in form_urlencoded::parse(given.as_bytes()) {
            if name != "limit" && name != "cursor" {
                query.append_pair(&name, &value);
            }
        }
        query.append_pair("limit", &page.limit.to_string());
        query.append_pair("cursor", &format_cursor(cursor));
        let path = format!("{}?{}", self.parts.uri.path(), query.finish());
        match &self.links {
            LinkBase::Public(base) => format!("{base}{path}"),
            LinkBase::Served(scheme) => match self.host() {
                Some(host) => format!("{scheme}://{host}{path}"),
                None => path,
            },
        }
    }

    /// The request's `Host` (HTTP/2: its `:authority`) if it is a plain `host[:port]`.
    fn host(&self) -> Option<&str> {
        let given = match self.parts.headers.get(HOST) {
            Some(header) => header.to_str().ok()?,
            None => self.parts.uri.authority()?.as_str(),
        };
        let authority: hyper::http::uri::Authority = given.parse().ok()?;
        (!given.contains('@') && !authority.host().is_empty()).then_some(given)
    }
}

/// `?limit=` and `?cursor=` of a list's query string; other parameters are ignored.
pub fn parse_page(query: &str) -> Result<PageRequest, ApiError> {
    let mut page = PageRequest {
        cursor: None,
        limit: DEFAULT_LIMIT,
    };
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "limit" => {
                page.limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        ApiError::Invalid(format!(
                            "limit: must be an integer from 1 to {MAX_LIMIT}"
                        ))
                    })?;
            }
            "cursor" => {
                let cursor = parse_cursor(&value).ok_or_else(|| {
                    ApiError::Invalid("cursor: not a cursor from this list's Link header".into())
                })?;
                page.cursor = Some(cursor);
            }
            _ => {}
        }
    }
    Ok(page)
}

async fn read_body(body: Incoming, parts: &Parts, limits: BodyLimits) -> Result<Bytes, ApiError> {
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limits.max_bytes) {
        return Err(ApiError::PayloadTooLarge(limits.max_bytes));
    }
    let limit = usize::try_from(limits.max_bytes).unwrap_or(usize::MAX);
    match tokio::time::timeout(limits.timeout, Limited::new(body, limit).collect()).await {
        Err(_) => Err(ApiError::BodyTimeout(limits.timeout.as_secs().max(1))),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ApiError::PayloadTooLarge(limits.max_bytes))
        }
        Ok(Err(e)) => Err(ApiError::Invalid(format!(
            "the request body could not be read: {e}"
        ))),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

/// A request field that must be a JSON object. Serde would also accept an array for a
/// struct (its fields by position); the API does not. Errors inside keep their path.
#[derive(Debug)]
pub struct Object<T>(pub T);

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Object<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<T>(std::marker::PhantomData<T>);
        impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for Visit<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        deserializer
            .deserialize_map(Visit(std::marker::PhantomData))
            .map(Object)
    }
}

/// Parses a JSON body; a bad one is a 400 whose message names the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => {
            return Err(ApiError::Invalid(
                "the request body is empty; expected a JSON object".into(),
            ))
        }
        // Serde would also accept a positional array for a struct; the API does not.
        Some(b'{') => {}
        Some(_) => {
            return Err(ApiError::Invalid(
                "request body: must be a JSON object".into(),
            ))
        }
    }
    // Checked up front: serde skips unknown fields without validating their strings.
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ApiError::Invalid(format!(
            "request body: not valid UTF-8 (at byte {})",
            e.valid_up_to()
        ))
    })?;
    // Fast path: plain serde. Only a bad body pays for the second, path-tracking parse
    // that names the field.
    serde_json::from_str(text).map_err(|_| describe_json_error::<T>(text))
}

/// The 400 for a body that did not parse as `T`, naming the field where it went wrong.
fn describe_json_error<T: DeserializeOwned>(text: &str) -> ApiError {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let field = if path == "." {
                "request body".to_owned()
            } else {
                path
            };
            if inner.is_data() {
                ApiError::Invalid(format!("{field}: {inner}"))
            } else {
                ApiError::Invalid(format!("{field}: not valid JSON: {inner}"))
            }
        }
        Ok(_) => match deserializer.end() {
            Err(e) => ApiError::Invalid(format!("the request body is not valid JSON: {e}")),
            Ok(()) => ApiError::Invalid("the request body could not be parsed".into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Outer {
        #[allow(dead_code)]
        inner: Vec<Inner>,
    }
    #[derive(Debug, Deserialize)]
    struct Inner {
        #[allow(dead_code)]
        flag: bool,
    }

    fn message(bytes: &[u8]) -> String {
        match parse_json::<Outer>(bytes) {
            Err(ApiError::Invalid(m)) => m,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_field() {
        assert!(
            message(br#"{"inner":[{"flag":true},{"flag":"yes"}]}"#).starts_with("inner[1].flag:")
        );
        assert!(message(br#"{"inner":[{}]}"#).contains("inner[0]"));
        assert!(message(br#"{"inner":[{}]}"#).contains("flag"));
        assert!(message(br#"{}"#).contains("inner"));
        assert!(message(b"").contains("empty"));
        assert!(message(b"{").contains("not valid JSON"));
        assert!(message(br#"{"inner":[]} x"#).contains("not valid JSON"));
        assert!(message(b"{\"inner\":[], \"x\": \"\xff\"}").contains("UTF-8"));
        assert!(message(b"[1]").starts_with("request body:"));
        assert!(message(b"{\"inner\":[{\"flag\":tru").contains("not valid JSON"));
    }
}
