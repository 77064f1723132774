//! Conditional requests: `If-Match` for PUT, PATCH and DELETE (RFC 9110 §13.1.1).

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header};

use super::problem::ApiError;
use crate::domain::Precondition;

/// The request's `If-Match` precondition.
pub struct IfMatch(pub Precondition);

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
    let tags: Vec<&str> = values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    if tags.contains(&"*") {
        return Ok(Precondition::Exists);
    }
    if tags
        .iter()
        .any(|t| !(t.starts_with('"') || t.starts_with("W/\"")) || !t.ends_with('"'))
    {
        return Err(ApiError::BadRequest(
            "If-Match must list quoted entity tags (as sent in ETag) or be *".into(),
        ));
    }
    // Weak tags never match in If-Match (strong comparison).
    Ok(Precondition::OneOf(
        tags.into_iter()
            .filter(|t| t.starts_with('"'))
            .map(str::to_string)
            .collect(),
    ))
}
