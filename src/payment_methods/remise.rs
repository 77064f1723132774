//! ルミーズテンキーパッド (remise-tenkey) and the shop's credit card method: the pad
//! works only with some card providers, and its fixed holder name only with Zeus.

/// Card providers the pad supports.
pub const SUPPORTED_CARD_PROVIDERS: &[&str] = &["gmo-pg", "zeus", "sbps", "paygent", "veritrans"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The pad is enabled but the card method's provider (or its absence) is not supported.
    UnsupportedCardProvider(Option<String>),
    /// A fixed holder name is set but the card provider is not Zeus.
    HolderNameNeedsZeus(Option<String>),
}

impl Problem {
    pub fn message(&self) -> String {
        let now = |provider: &Option<String>| {
            provider
                .clone()
                .unwrap_or_else(|| "no enabled credit card method".into())
        };
        match self {
            Problem::UnsupportedCardProvider(provider) => format!(
                "remise-tenkey needs the shop's enabled credit card payment method on one of: {} (now: {})",
                SUPPORTED_CARD_PROVIDERS.join(", "),
                now(provider)
            ),
            Problem::HolderNameNeedsZeus(provider) => format!(
                "holder_name_fixed of remise-tenkey applies only when the credit card provider is zeus (now: {})",
                now(provider)
            ),
        }
    }
}

/// What is wrong with the pad's settings given the enabled card method's provider.
pub fn check(card_provider: Option<&str>, pad_enabled: bool, holder_name_fixed: bool) -> Vec<Problem> {
    let owned = card_provider.map(str::to_string);
    let mut problems = Vec::new();
    if pad_enabled && !card_provider.is_some_and(|p| SUPPORTED_CARD_PROVIDERS.contains(&p)) {
        problems.push(Problem::UnsupportedCardProvider(owned.clone()));
    }
    if holder_name_fixed && card_provider != Some("zeus") {
        problems.push(Problem::HolderNameNeedsZeus(owned));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pad_needs_a_supported_card_provider_and_zeus_for_a_fixed_name() {
        assert!(check(Some("zeus"), true, true).is_empty());
        assert!(check(Some("gmo-pg"), true, false).is_empty());
        assert_eq!(check(Some("gmo-pg"), true, true).len(), 1);
        assert_eq!(check(Some("yamato"), true, false).len(), 1);
        assert_eq!(check(None, true, false).len(), 1);
        assert!(check(None, false, false).is_empty());
    }
}
