//! Who may call: API clients, their scopes, access tokens, and the limit on failed
//! token requests.

pub mod clients;
pub mod rate_limit;
pub mod scopes;
pub mod settings;
pub mod source;
pub mod tokens;

pub use scopes::{Scope, ScopeSet};
