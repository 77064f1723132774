//! What domain operations share: their errors and the If-Match precondition.

use sea_orm::DbErr;

use crate::{crypto::seal::SealError, http::problem::FieldError};

/// An `If-Match` precondition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    None,
    /// `If-Match: *`: the resource must exist.
    Exists,
    /// Strong entity tags, one of which must be current.
    OneOf(Vec<String>),
}

impl Precondition {
    /// The error when the resource (`what`) changed between reading and writing it:
    /// 412 when the caller gave If-Match, else 409 (retry).
    pub fn lost_race(&self, what: &str) -> DomainError {
        match self {
            Precondition::None => DomainError::Conflict(format!(
                "the {what} was changed by another request at the same time; retry"
            )),
            _ => DomainError::PreconditionFailed,
        }
    }

    pub fn holds(&self, current: Option<&str>) -> bool {
        match self {
            Precondition::None => true,
            Precondition::Exists => current.is_some(),
            Precondition::OneOf(tags) => current.is_some_and(|etag| tags.iter().any(|t| t == etag)),
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
    #[error("a stored secret cannot be opened: {0}")]
    Sealed(#[from] SealError),
    #[error(transparent)]
    Database(#[from] DbErr),
}
