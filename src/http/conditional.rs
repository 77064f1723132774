//! Conditional requests: `If-Match` for PUT, PATCH and DELETE (RFC 9110 §13.1.1).

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header};

use super::problem::ApiError;
use crate::core::Precondition;

/// The request's `If-Match` precondition.
pub struct IfMatch(pub Precondition);

/// The documented `If-Match` header of an operation.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IfMatchHeader {
    /// Apply only if the resource's ETag is one of these (or `*`: if it exists). Quoted
    /// entity tags as sent in `ETag`; anything else is a 400.
    #[param(rename = "If-Match", nullable = false)]
    if_match: Option<String>,
}

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse(req).map(IfMatch))
    }
}

fn parse(req: &HttpRequest) -> Result<Precondition, ApiError> {
    let values: Vec<&str> = req
        .headers()
        .get_all(header::IF_MATCH)
        .map(|v| v.to_str())
        .collect::<Result<_, _>>()
        .map_err(|_| ApiError::BadRequest("If-Match must be an entity tag or *".into()))?;
    if values.is_empty() {
        return Ok(Precondition::None);
    }
    let mut tags = Vec::new();
    for value in values {
        tags.extend(list(value).ok_or_else(|| {
            ApiError::BadRequest("If-Match must list quoted entity tags (as sent in ETag) or be *".into())
        })?);
    }
    if tags.contains(&"*") {
        return Ok(Precondition::Exists);
    }
    // Weak tags never match in If-Match (strong comparison).
    Ok(Precondition::OneOf(
        tags.into_iter()
            .filter(|t| t.starts_with('"'))
            .map(str::to_string)
            .collect(),
    ))
}

/// The elements of one `If-Match` field value: `*` or entity tags (`"…"`, `W/"…"`).
/// A comma inside the quotes belongs to the tag; empty elements are skipped.
fn list(value: &str) -> Option<Vec<&str>> {
    let mut tags = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return Some(tags);
        }
        let len = if rest.starts_with('*') {
            1
        } else {
            let prefix = if rest.starts_with("W/") { 2 } else { 0 };
            let opaque = rest[prefix..].strip_prefix('"')?;
            prefix + 1 + opaque.find('"')? + 1
        };
        tags.push(&rest[..len]);
        rest = rest[len..].trim_start_matches([' ', '\t']);
        if !rest.is_empty() && !rest.starts_with(',') {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::list;

    #[test]
    fn lists_entity_tags_with_commas_inside() {
        assert_eq!(list(r#""a,b", W/"c""#), Some(vec![r#""a,b""#, r#"W/"c""#]));
        assert_eq!(list(r#" , "x" ,, "#), Some(vec![r#""x""#]));
        assert_eq!(list("*"), Some(vec!["*"]));
        assert_eq!(list(""), Some(vec![]));
        assert_eq!(list("abc"), None);
        assert_eq!(list(r#""open"#), None);
        assert_eq!(list(r#""a"b"#), None);
    }
}
