//! JSON request bodies. Unlike actix's own extractor, the whole body must be UTF-8 (serde
//! skips the bytes of fields it ignores without looking at them), and every failure maps
//! straight to the documented problem: `415` not JSON, `413` over the limit, `400`
//! anything that does not parse.

use std::future::{poll_fn, Future};
use std::ops::Deref;
use std::pin::Pin;

use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{dev::Payload, FromRequest, HttpRequest};
use futures_core::Stream;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ApiResult};
use crate::startup::MAX_BODY;

/// A JSON body of type `T`.
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// A body that may be empty (`None`); anything else must be JSON of type `T`.
pub struct OptionalJson<T>(pub Option<T>);

type Body<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

fn is_json(req: &HttpRequest) -> bool {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return false;
    };
    // The usual answer without parsing; anything else by the rules of media types.
    value.as_bytes().eq_ignore_ascii_case(b"application/json")
        || value
            .to_str()
            .ok()
            .and_then(|v| v.parse::<mime::Mime>().ok())
            .is_some_and(|m| m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON))
}

fn read_error(e: PayloadError) -> ApiError {
    match e {
        PayloadError::Overflow => ApiError::PayloadTooLarge,
        _ => ApiError::InvalidRequest("The request body could not be read.".into()),
    }
}

/// The whole body, at most `MAX_BODY` bytes (a larger declared length is refused before
/// anything is read). A body that came in one piece is kept as it is, not copied.
fn whole_body(req: &HttpRequest, payload: &mut Payload) -> impl Future<Output = ApiResult<Bytes>> {
    let declared = req.headers().get(header::CONTENT_LENGTH).map(|l| {
        l.to_str()
            .ok()
            .and_then(|l| l.parse::<usize>().ok())
            .ok_or(PayloadError::UnknownLength)
    });
    let mut stream = payload.take();
    async move {
        if let Some(length) = declared {
            if length.map_err(read_error)? > MAX_BODY {
                return Err(ApiError::PayloadTooLarge);
            }
        }
        let (mut first, mut more) = (None::<Bytes>, BytesMut::new());
        while let Some(chunk) = poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
            let chunk = chunk.map_err(read_error)?;
            let had = first.as_ref().map_or(0, Bytes::len) + more.len();
            if had + chunk.len() > MAX_BODY {
                return Err(ApiError::PayloadTooLarge);
            }
            match first.take() {
                None if more.is_empty() => first = Some(chunk),
                earlier => {
                    more.extend_from_slice(earlier.as_deref().unwrap_or_default());
                    more.extend_from_slice(&chunk);
                }
            }
        }
        Ok(first.unwrap_or_else(|| more.freeze()))
    }
}

/// Parses a whole body as JSON of type `T`.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let text = std::str::from_utf8(bytes).map_err(|_| {
        ApiError::InvalidRequest("The body is not valid JSON: it is not UTF-8.".into())
    })?;
    // Every body is an object: serde would also fill a struct from an array, by position.
    if !text.trim_start().starts_with('{') {
        return Err(ApiError::InvalidRequest(
            "The body must be a JSON object.".into(),
        ));
    }
    serde_json::from_str(text).map_err(|e| ApiError::InvalidRequest(describe(&e)))
}

/// serde_json's message names the field and the expected type; it never quotes values
/// from elsewhere, so it is safe and useful to pass on.
pub fn describe(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Data => format!("A field is missing or has the wrong type: {e}."),
        Category::Syntax | Category::Eof => format!("The body is not valid JSON: {e}."),
        Category::Io => "The body could not be read.".into(),
    }
}

/// No body at all. Anything else, whitespace included, must be JSON: a body of a newline
/// or a form feed is not "no body".
fn is_blank(bytes: &[u8]) -> bool {
    bytes.is_empty()
}

/// Reads the body; `None` when it is blank and `empty_ok`.
fn read<T: DeserializeOwned + 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
    empty_ok: bool,
) -> impl Future<Output = ApiResult<Option<T>>> {
    let json = is_json(req);
    let bytes = whole_body(req, payload);
    async move {
        let bytes = bytes.await?;
        if empty_ok && is_blank(&bytes) {
            return Ok(None);
        }
        if !json {
            return Err(ApiError::UnsupportedMediaType);
        }
        parse(&bytes).map(Some)
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Body<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read::<T>(req, payload, false);
        Box::pin(async move { body.await?.map(Json).ok_or(ApiError::UnsupportedMediaType) })
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = Body<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read::<T>(req, payload, true);
        Box::pin(async move { body.await.map(OptionalJson) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Name {
        #[allow(dead_code)]
        name: Option<String>,
    }

    #[test]
    fn only_no_bytes_at_all_is_an_empty_body() {
        assert!(is_blank(b""));
        // Found by Schemathesis: a lone form feed, or a newline, was taken for no body.
        assert!(!is_blank(b"\x0c"));
        assert!(!is_blank(b"\n"));
        assert!(!is_blank(b" "));
    }

    #[test]
    fn bytes_that_are_not_utf8_are_refused_even_in_ignored_fields() {
        let mut body = br#"{"name": "a", "ignored": ""#.to_vec();
        body.extend_from_slice(&[0xff, 0xfe]);
        body.extend_from_slice(br#""}"#);
        assert!(
            serde_json::from_slice::<Name>(&body).is_ok(),
            "serde alone lets it through"
        );
        assert!(matches!(
            parse::<Name>(&body),
            Err(ApiError::InvalidRequest(_))
        ));
        assert!(parse::<Name>(br#"{"name": "a"}"#).is_ok());
    }

    #[test]
    fn only_an_object_fills_a_struct() {
        assert!(
            serde_json::from_slice::<Name>(b"[null]").is_ok(),
            "serde alone does"
        );
        for body in [&b"[null]"[..], b"[\"a\"]", b"null", b"\"a\"", b"1"] {
            assert!(matches!(
                parse::<Name>(body),
                Err(ApiError::InvalidRequest(_))
            ));
        }
        assert!(parse::<Name>(b" \n{}").is_ok());
    }
}
