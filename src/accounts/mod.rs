//! Provider accounts: each provider declared once (`providers/`), and the one mechanism
//! that validates, seals, stores and shows every one of them.

pub mod actions;
pub mod derived;
pub mod engine;
pub mod form;
pub mod formats;
pub mod pem;
pub mod providers;
pub mod rotation;
pub mod service;
pub mod spec;

pub use providers::ALL;
pub use spec::ProviderSpec;

/// The provider with this slug.
pub fn find(slug: &str) -> Option<&'static ProviderSpec> {
    ALL.iter().copied().find(|p| p.slug == slug)
}
