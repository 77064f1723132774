//! What every domain shares and nothing else provides: field and domain errors, the
//! If-Match precondition, the actor that records a change, and `Secret`. It knows no
//! HTTP and no configuration; `http/` maps its errors to responses.

pub mod actor;
pub mod errors;
pub mod payment_kind;
pub mod precondition;
pub mod secret;

pub use actor::Actor;
pub use errors::{DomainError, FieldError};
pub use payment_kind::{PaymentKind, Settlement};
pub use precondition::Precondition;
pub use secret::Secret;
