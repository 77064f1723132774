//! The error responses of the document, each status defined once: its description, its
//! headers and an example made by the real `ApiError` of that status. Operations list
//! them by type in `#[utoipa::path(responses(...))]` (`problems::Secured`, …), and the
//! provider operations by `response`.

use std::collections::BTreeMap;

use utoipa::{
    IntoResponses,
    openapi::{
        ContentBuilder, HeaderBuilder, RefOr, Response, ResponseBuilder,
        schema::{Ref, Type},
    },
};

use crate::http::problem::{ApiError, FieldError, PROBLEM_JSON};

/// The error response for `status`, with its example.
pub fn response(status: u16) -> Response {
    let (description, error) = described(status);
    let example = serde_json::to_value(error.problem()).unwrap_or_default();
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .example(Some(example))
        .build();
    let mut builder = ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, content);
    let header = |description: &str| {
        HeaderBuilder::new()
            .schema(Some(
                utoipa::openapi::schema::ObjectBuilder::new().schema_type(Type::String),
            ))
            .description(Some(description))
            .build()
    };
    match status {
        401 => builder = builder.header("WWW-Authenticate", header("Bearer realm=\"renkei\"")),
        429 | 503 => builder = builder.header("Retry-After", header("Seconds to wait before retrying")),
        _ => {}
    }
    builder.build()
}

/// What each documented status means, and an error that answers it.
fn described(status: u16) -> (&'static str, ApiError) {
    match status {
        400 => (
            "Malformed request: body, query, path or header (e.g. If-Match)",
            ApiError::BadRequest("the body is not valid JSON: expected value at line 1 column 1".into()),
        ),
        401 => (
            "Missing or invalid token",
            ApiError::Unauthorized("missing bearer token: send Authorization: Bearer <token>".into()),
        ),
        403 => (
            "The token lacks the scope the operation lists",
            ApiError::Forbidden("the token lacks the scope accounts:write".into()),
        ),
        404 => (
            "No such resource in this shop",
            ApiError::NotFound("there is no payment method 'card' in this shop".into()),
        ),
        409 => (
            "In conflict with the current state, or changed by another request at the same time",
            ApiError::Conflict(
                "the resource was changed by another request at the same time; read it and retry".into(),
            ),
        ),
        412 => (
            "If-Match does not match the current ETag",
            ApiError::PreconditionFailed("If-Match does not match the current entity tag".into()),
        ),
        413 => (
            "Body over the limit (1 MiB; an uploaded file 256 KiB)",
            ApiError::PayloadTooLarge { limit: 1_048_576 },
        ),
        415 => (
            "Unsupported content type",
            ApiError::UnsupportedMediaType("expected Content-Type: application/json".into()),
        ),
        422 => (
            "Invalid fields: every failing field is listed",
            ApiError::Validation(vec![FieldError::new(
                "shop_id",
                "invalid_format",
                "shop_id must be at most 13 letters or digits",
            )]),
        ),
        429 => (
            "Too many requests (failed token attempts; a shop's redeliveries and recoveries); retry after Retry-After seconds",
            ApiError::TooManyRequests { retry_after: 60 },
        ),
        502 => (
            "O-PLUX refused the request or did not answer: its codes, or unreachable / timed out",
            ApiError::BadGateway("O-PLUX refused the request: HTTP 200 InvalidData.EventId".into()),
        ),
        503 => (
            "Not ready: the database is unreachable",
            ApiError::Unavailable("the database is unavailable; retry shortly".into()),
        ),
        _ => ("Unexpected error", ApiError::internal(anyhow::anyhow!("unexpected"))),
    }
}

fn set(statuses: &[u16]) -> BTreeMap<String, RefOr<Response>> {
    statuses
        .iter()
        .map(|status| (status.to_string(), RefOr::T(response(*status))))
        .collect()
}

macro_rules! problem_sets {
    ($($(#[$doc:meta])* $name:ident => [$($status:literal),+];)+) => {
        $(
            $(#[$doc])*
            pub struct $name;

            impl IntoResponses for $name {
                fn responses() -> BTreeMap<String, RefOr<Response>> {
                    set(&[$($status),+])
                }
            }
        )+
    };
}

problem_sets! {
    /// 401 and 403: every operation behind a token.
    Secured => [401, 403];
    /// What reading a JSON body can fail with: 400, 413, 415, 422.
    JsonBody => [400, 413, 415, 422];
    /// A conditional write (`If-Match`): 400 (malformed), 409 (lost a race), 412.
    Conditional => [400, 409, 412];
    BadRequest => [400];
    Unauthorized => [401];
    Forbidden => [403];
    NotFound => [404];
    Conflict => [409];
    PreconditionFailed => [412];
    PayloadTooLarge => [413];
    UnsupportedMediaType => [415];
    Invalid => [422];
    TooManyRequests => [429];
    Unavailable => [503];
    BadGateway => [502];
}
