//! The scopes an API client can hold. Each endpoint declares the one it needs.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum Scope {
    #[serde(rename = "accounts:read")]
    AccountsRead,
    #[serde(rename = "accounts:write")]
    AccountsWrite,
    #[serde(rename = "payment-methods:read")]
    PaymentMethodsRead,
    #[serde(rename = "payment-methods:write")]
    PaymentMethodsWrite,
    #[serde(rename = "screenings:write")]
    ScreeningsWrite,
    #[serde(rename = "screenings:read")]
    ScreeningsRead,
    #[serde(rename = "audit:read")]
    AuditRead,
    #[serde(rename = "webhooks:read")]
    WebhooksRead,
    #[serde(rename = "webhooks:write")]
    WebhooksWrite,
}

impl Scope {
    pub const ALL: [Scope; 9] = [
        Scope::AccountsRead,
        Scope::AccountsWrite,
        Scope::PaymentMethodsRead,
        Scope::PaymentMethodsWrite,
        Scope::ScreeningsWrite,
        Scope::ScreeningsRead,
        Scope::AuditRead,
        Scope::WebhooksRead,
        Scope::WebhooksWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::AccountsRead => "accounts:read",
            Scope::AccountsWrite => "accounts:write",
            Scope::PaymentMethodsRead => "payment-methods:read",
            Scope::PaymentMethodsWrite => "payment-methods:write",
            Scope::ScreeningsWrite => "screenings:write",
            Scope::ScreeningsRead => "screenings:read",
            Scope::AuditRead => "audit:read",
            Scope::WebhooksRead => "webhooks:read",
            Scope::WebhooksWrite => "webhooks:write",
        }
    }

    pub fn parse(value: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == value)
    }

    fn bit(self) -> u16 {
        1 << (self as u8)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes; written as space-separated names (OAuth 2.0 style).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScopeSet(u16);

impl ScopeSet {
    pub fn all() -> Self {
        Scope::ALL.into_iter().collect()
    }

    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub fn is_subset_of(self, other: ScopeSet) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// Parses names separated by spaces or commas. Returns the first unknown name as error.
    pub fn parse(value: &str) -> Result<Self, String> {
        value
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(|name| Scope::parse(name).ok_or_else(|| name.to_string()))
            .collect()
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        ScopeSet(iter.into_iter().fold(0, |bits, s| bits | s.bit()))
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Scope::as_str).collect();
        f.write_str(&names.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_sets_round_trip_through_text() {
        let set = ScopeSet::parse("audit:read,accounts:read screenings:write").unwrap();
        assert_eq!(set.to_string(), "accounts:read screenings:write audit:read");
        assert_eq!(ScopeSet::parse(&set.to_string()).unwrap(), set);
        assert!(set.contains(Scope::AuditRead));
        assert!(!set.contains(Scope::AccountsWrite));
        assert!(set.is_subset_of(ScopeSet::all()));
        assert_eq!(ScopeSet::parse("accounts:read nope").unwrap_err(), "nope");
    }
}
