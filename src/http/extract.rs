//! Request extractors whose every failure is a problem+json naming the field:
//! `ApiJson` for bodies and `ApiQuery` for query strings.

use std::ops::Deref;

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web::BytesMut};
use futures_util::{StreamExt, future::LocalBoxFuture};
use serde::de::DeserializeOwned;

use super::problem::{ApiError, FieldError};

/// Largest JSON body accepted (SPEC 2).
pub const JSON_LIMIT: usize = 1024 * 1024;

/// A JSON body of type `T`: `application/json` (or `+json`), at most 1 MiB.
pub struct ApiJson<T>(pub T);

impl<T> Deref for ApiJson<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type_ok = is_json(req);
        let payload = payload.take();
        let declared = declared_length(req);
        Box::pin(async move {
            if !content_type_ok {
                return Err(ApiError::UnsupportedMediaType(
                    "the request body must be JSON (Content-Type: application/json)".into(),
                ));
            }
            let body = read_body(payload, declared, JSON_LIMIT).await?;
            parse_json(&body).map(ApiJson)
        })
    }
}

pub fn is_json(req: &HttpRequest) -> bool {
    match req.mime_type() {
        Ok(Some(mime)) => {
            mime.type_() == "application" && (mime.subtype() == "json" || mime.suffix().is_some_and(|s| s == "json"))
        }
        _ => false,
    }
}

pub fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Reads the body, refusing it (413) as soon as it is known to exceed `limit`.
pub async fn read_body(mut payload: Payload, declared: Option<usize>, limit: usize) -> Result<BytesMut, ApiError> {
    if declared.is_some_and(|len| len > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(0).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::BadRequest("the request body could not be read".into()))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Parses JSON, reporting syntax errors as 400 and wrong shapes as 422 naming the field.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::BadRequest(
            "the request body is empty; expected a JSON object".into(),
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            // A shape error is only worth naming when the body is JSON at all (and nested no
            // deeper than serde_json's limit of 128).
            serde_json::error::Category::Data => match serde_json::from_slice::<serde_json::Value>(body) {
                Ok(_) => ApiError::Validation(vec![field_error(&path, &inner.to_string())]),
                Err(syntax) => ApiError::BadRequest(format!("the request body is not valid JSON: {syntax}")),
            },
            _ => ApiError::BadRequest(format!("the request body is not valid JSON: {inner}")),
        }
    })?;
    deserializer
        .end()
        .map_err(|err| ApiError::BadRequest(format!("the request body is not valid JSON: {err}")))?;
    Ok(value)
}

/// Deserializes an already parsed JSON value, naming the field of a shape error.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, Vec<FieldError>> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        vec![field_error(&path, &err.into_inner().to_string())]
    })
}

/// Turns a serde message into a field error: the field it names, a code, and the message
/// without serde's position suffix.
fn field_error(path: &str, message: &str) -> FieldError {
    let message = message.split(" at line ").next().unwrap_or(message);
    let path = if path == "." { "" } else { path };
    let join = |name: &str| {
        if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        }
    };
    let quoted = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('`'))
            .and_then(|rest| rest.split('`').next())
            .map(str::to_string)
    };
    if let Some(name) = quoted("unknown field ") {
        let expected = message.split_once(", expected ").map(|(_, e)| e).unwrap_or("");
        let message = if expected.is_empty() {
            format!("unknown field '{name}'; this object takes no such field")
        } else {
            format!("unknown field '{name}'; expected {expected}").replace('`', "'")
        };
        // serde reports an unknown field at the path of the field itself.
        let field = if path.ends_with(&name) {
            path.to_string()
        } else {
            join(&name)
        };
        return FieldError::new(field, "unknown_field", message);
    }
    if let Some(name) = quoted("missing field ") {
        return FieldError::new(join(&name), "required", format!("'{name}' is required"));
    }
    let field = if path.is_empty() {
        "body".to_string()
    } else {
        path.to_string()
    };
    let code = if message.starts_with("invalid type") {
        "invalid_type"
    } else {
        "invalid_value"
    };
    FieldError::new(field, code, message.replace('`', "'"))
}

/// A query string of type `T`; unknown or malformed parameters are a 422 naming them.
pub struct ApiQuery<T>(pub T);

impl<T> Deref for ApiQuery<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for ApiQuery<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(ApiQuery))
    }
}

pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded_parse(query));
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let path = err.path().to_string();
        ApiError::Validation(vec![field_error(&path, &err.into_inner().to_string())])
    })
}

fn form_urlencoded_parse(query: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(query.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        inner: Inner,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
    }

    fn errors(body: &str) -> Vec<FieldError> {
        match parse_json::<Outer>(body.as_bytes()) {
            Err(ApiError::Validation(errors)) => errors,
            other => panic!("expected a validation error, got {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn names_the_field_of_each_kind_of_shape_error() {
        assert_eq!(errors(r#"{"name":"a"}"#)[0].field, "inner");
        assert_eq!(errors(r#"{"name":"a"}"#)[0].code, "required");
        assert_eq!(errors(r#"{"name":"a","inner":{"count":-1}}"#)[0].field, "inner.count");
        assert_eq!(errors(r#"{"name":"a","inner":{"count":1,"x":2}}"#)[0].field, "inner.x");
        assert_eq!(
            errors(r#"{"name":"a","inner":{"count":1,"x":2}}"#)[0].code,
            "unknown_field"
        );
        assert_eq!(errors(r#"{"name":5,"inner":{"count":1}}"#)[0].code, "invalid_type");
    }

    #[test]
    fn syntax_errors_are_bad_requests() {
        assert!(matches!(
            parse_json::<Outer>(b"{\"name\":"),
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(parse_json::<Outer>(b""), Err(ApiError::BadRequest(_))));
        let deep = "[".repeat(10_000);
        assert!(matches!(
            parse_json::<serde_json::Value>(deep.as_bytes()),
            Err(ApiError::BadRequest(_))
        ));
    }
}
