//! Provider accounts: each provider declared once (`providers/`), and the one mechanism
//! that validates, seals, stores and shows every one of them.

pub mod certificates;
pub mod engine;
pub mod form;
pub mod formats;
pub mod pem;
pub mod providers;
pub mod rotation;
pub mod service;
pub mod spec;
pub mod stored;

pub use providers::ALL;
pub use spec::ProviderSpec;

/// The provider with this slug.
pub fn find(slug: &str) -> Option<&'static ProviderSpec> {
    ALL.iter().copied().find(|p| p.slug == slug)
}

/// The providers that methods of `kind` may use, in the seed's order.
pub fn serving(kind: crate::core::PaymentKind) -> impl Iterator<Item = &'static ProviderSpec> {
    ALL.iter().copied().filter(move |p| p.serves.contains(&kind))
}
