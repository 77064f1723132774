//! The errors of domain operations, in words for the caller.

use sea_orm::DbErr;
use serde::Serialize;
use utoipa::ToSchema;

/// One invalid field of a request.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    /// Path of the field, e.g. `customer.email` or `items[0].price`.
    pub field: String,
    /// A stable machine-readable code, e.g. `required`, `invalid_format`, `unknown_field`.
    pub code: String,
    /// What is expected, in English.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code: code.to_string(),
            message: message.into(),
        }
    }
}

/// What can go wrong in a domain operation, in words for the caller.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The resource does not exist (for this shop).
    #[error("{0}")]
    NotFound(String),
    #[error("invalid fields")]
    Invalid(Vec<FieldError>),
    #[error("the resource has changed since it was read (If-Match does not match its ETag)")]
    PreconditionFailed,
    #[error("{0}")]
    Conflict(String),
    /// A remote service (O-PLUX) refused or did not answer; the message names its codes.
    #[error("{0}")]
    BadGateway(String),
    /// A stored secret cannot be opened (see `crypto::seal::SealError`).
    #[error("a stored secret cannot be opened: {0}")]
    Sealed(String),
    #[error(transparent)]
    Database(#[from] DbErr),
}

impl DomainError {
    /// One invalid field.
    pub fn field(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        DomainError::Invalid(vec![FieldError::new(field, code, message)])
    }
}
