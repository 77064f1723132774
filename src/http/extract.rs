//! Request extractors whose every failure is a problem+json naming the field:
//! `ApiJson` for bodies and `ApiQuery` for query strings.

use std::{fmt, ops::Deref};

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web::BytesMut};
use futures_util::{StreamExt, future::LocalBoxFuture};
use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::problem::{ApiError, FieldError};

/// Largest JSON body accepted: 1 MiB.
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
    // The document first (nested no deeper than serde_json's limit of 128), then its shape.
    let document = parse_document(body).map_err(|err| match err.classify() {
        serde_json::error::Category::Data => ApiError::Validation(vec![field_error("", &err.to_string())]),
        _ => ApiError::BadRequest(format!("the request body is not valid JSON: {err}")),
    })?;
    from_document(&document).map_err(ApiError::Validation)
}

/// Deserializes an already parsed JSON value, naming the field of a shape error.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, Vec<FieldError>> {
    from_document(&value)
}

fn from_document<T: DeserializeOwned>(document: &Value) -> Result<T, Vec<FieldError>> {
    serde_path_to_error::deserialize(Strict(document)).map_err(|err| {
        let path = err.path().to_string();
        vec![field_error(&path, &err.into_inner().to_string())]
    })
}

/// Reads a JSON document, refusing an object that names a member twice (as serde refuses
/// a struct field given twice).
fn parse_document(body: &[u8]) -> Result<Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let document = UniqueMembers.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(document)
}

struct UniqueMembers;

impl<'de> DeserializeSeed<'de> for UniqueMembers {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueMembers {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(UniqueMembers)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate field `{key}`")));
            }
            let value = map.next_value_seed(UniqueMembers)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// `deserialize_*` methods that take only the given JSON types.
macro_rules! only {
    ($($method:ident => $types:pat),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
                if matches!(self.0, $types) {
                    self.deserialize_any(visitor)
                } else {
                    Err(de::Error::invalid_type(unexpected(self.0), &visitor))
                }
            }
        )*
    };
}

/// Deserializes from a parsed document like serde_json, except that a struct is read only
/// from an object: serde would also take a JSON array of the struct's field values, which
/// the OpenAPI description does not allow.
struct Strict<'a>(&'a Value);

impl<'de> Deserializer<'de> for Strict<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64(), whole(n)) {
                (Some(u), _, _) => visitor.visit_u64(u),
                (None, Some(i), _) => visitor.visit_i64(i),
                // JSON Schema's rule: 12800.0 is the integer 12800.
                (None, None, Some(i)) if i >= 0 => visitor.visit_u64(i as u64),
                (None, None, Some(i)) => visitor.visit_i64(i),
                (None, None, None) => visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => {
                let mut seq = StrictSeq(items.iter());
                let value = visitor.visit_seq(&mut seq)?;
                match seq.0.len() {
                    0 => Ok(value),
                    _ => Err(de::Error::invalid_length(items.len(), &"fewer elements in array")),
                }
            }
            Value::Object(object) => {
                let mut map = StrictMap {
                    members: object.iter(),
                    value: None,
                };
                let value = visitor.visit_map(&mut map)?;
                match map.members.len() {
                    0 => Ok(value),
                    _ => Err(de::Error::invalid_length(object.len(), &"fewer elements in map")),
                }
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::String(s) => visitor.visit_enum(de::value::BorrowedStrDeserializer::new(s)),
            other => Err(de::Error::invalid_type(unexpected(other), &visitor)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_map(visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, Self::Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, Self::Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    // As serde_json reads a document: each kind of value only from its own JSON type.
    only! {
        deserialize_bool => Value::Bool(_),
        deserialize_i8 => Value::Number(_),
        deserialize_i16 => Value::Number(_),
        deserialize_i32 => Value::Number(_),
        deserialize_i64 => Value::Number(_),
        deserialize_i128 => Value::Number(_),
        deserialize_u8 => Value::Number(_),
        deserialize_u16 => Value::Number(_),
        deserialize_u32 => Value::Number(_),
        deserialize_u64 => Value::Number(_),
        deserialize_u128 => Value::Number(_),
        deserialize_f32 => Value::Number(_),
        deserialize_f64 => Value::Number(_),
        deserialize_char => Value::String(_),
        deserialize_str => Value::String(_),
        deserialize_string => Value::String(_),
        deserialize_identifier => Value::String(_),
        deserialize_bytes => Value::String(_) | Value::Array(_),
        deserialize_byte_buf => Value::String(_) | Value::Array(_),
        deserialize_unit => Value::Null,
        deserialize_seq => Value::Array(_),
        // Not an array for a struct, as serde alone would take.
        deserialize_map => Value::Object(_),
    }
}

/// A number written with a fraction of zero (`12800.0`), as the integer it is, where it
/// is exactly one (below 2^53).
fn whole(n: &serde_json::Number) -> Option<i64> {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    n.as_f64()
        .filter(|f| f.is_finite() && f.fract() == 0.0 && f.abs() < EXACT)
        .map(|f| f as i64)
}

fn unexpected(value: &Value) -> de::Unexpected<'_> {
    match value {
        Value::Null => de::Unexpected::Unit,
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => de::Unexpected::Unsigned(u),
            (None, Some(i)) => de::Unexpected::Signed(i),
            (None, None) => de::Unexpected::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => de::Unexpected::Str(s),
        Value::Array(_) => de::Unexpected::Seq,
        Value::Object(_) => de::Unexpected::Map,
    }
}

struct StrictSeq<'a>(std::slice::Iter<'a, Value>);

impl<'de> SeqAccess<'de> for StrictSeq<'de> {
    type Error = serde_json::Error;
    fn next_element_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<Option<S::Value>, Self::Error> {
        self.0.next().map(|item| seed.deserialize(Strict(item))).transpose()
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct StrictMap<'a> {
    members: serde_json::map::Iter<'a>,
    value: Option<&'a Value>,
}

impl<'de> MapAccess<'de> for StrictMap<'de> {
    type Error = serde_json::Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Self::Error> {
        match self.members.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(de::value::BorrowedStrDeserializer::new(key)).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Self::Error> {
        match self.value.take() {
            Some(value) => seed.deserialize(Strict(value)),
            None => Err(de::Error::custom("a map value was read before its key")),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.members.len())
    }
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
    fn objects_are_read_only_from_json_objects() {
        // serde alone would take [1] as Inner { count: 1 }.
        let array = errors(r#"{"name":"a","inner":[1]}"#);
        assert_eq!(
            (array[0].field.as_str(), array[0].code.as_str()),
            ("inner", "invalid_type")
        );
        assert_eq!(array[0].message, "invalid type: sequence, expected struct Inner");
        assert_eq!(errors(r#"["a",{"count":1}]"#)[0].code, "invalid_type");
        assert_eq!(
            errors(r#"{"name":null,"inner":{"count":1}}"#)[0].message,
            "invalid type: null, expected a string"
        );
        assert!(parse_json::<Outer>(br#"{"name":"a","inner":{"count":1}}"#).is_ok());
        // As serde_json reads a document: a map only from an object, a string only from a string.
        assert!(matches!(
            parse_json::<serde_json::Map<String, Value>>(b"null"),
            Err(ApiError::Validation(_))
        ));
        assert!(matches!(
            parse_json::<Vec<String>>(b"[1]"),
            Err(ApiError::Validation(_))
        ));
    }

    #[test]
    fn a_field_given_twice_is_refused() {
        let twice = errors(r#"{"name":"a","name":"b","inner":{"count":1}}"#);
        assert_eq!(twice[0].message, "duplicate field 'name'");
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
