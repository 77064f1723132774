//! An `If-Match` precondition, checked by the services in the order of RFC 9110 §13.2:
//! a missing resource is a 404 before any precondition is looked at.

use super::DomainError;

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

    /// 412 unless the precondition holds for the current entity tag.
    pub fn check(&self, current: Option<&str>) -> Result<(), DomainError> {
        if self.holds(current) {
            Ok(())
        } else {
            Err(DomainError::PreconditionFailed)
        }
    }
}
