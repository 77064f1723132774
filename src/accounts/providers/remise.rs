//! ルミーズテンキーパッド (remise-tenkey) and the shop's credit card method: the pad
//! works only with some card providers, and its fixed holder name only with Zeus. So
//! enabling the pad needs a fitting card method, and while the pad is enabled its card
//! method cannot be disabled, deleted or moved to a provider the pad does not support.

use crate::{
    accounts::spec::{
        AccountChange, Category, Checkout, Field, Hooks, Kind, MethodChange, MethodRef, ProviderSpec, View,
    },
    core::{DomainError, FieldError, PaymentKind},
};

pub const REMISE_TENKEY: ProviderSpec = ProviderSpec {
    slug: "remise-tenkey",
    schema_name: "RemiseTenkey",
    display_name: "ルミーズテンキーパッド",
    category: Category::CheckoutDevice,
    summary: "REMISE's card-entry ten-key pad, for the credit card providers GMO PG, Zeus, SBPS, Paygent and Veritrans.",
    fields: &[
        Field::new("port", "ポート番号", Kind::Integer { min: 1, max: 65535 })
            .public()
            .example("8080")
            .describe("The local port the ten-key pad listens on."),
        Field::text("holder_name_fixed", "名義人の固定値")
            .public()
            .optional()
            .example(r#""REMISE TENKEY""#)
            .describe("Card holder name stored for cards entered on the pad; only with Zeus."),
    ],
    checkout: Checkout {
        needs_confirmation_page: false,
        joins: Some((PaymentKind::CreditCard, "remise_tenkey")),
    },
    hooks: Hooks {
        on_account_change: pad_keeps_its_card_provider,
        on_method_change: card_method_keeps_the_pad,
        ..Hooks::NONE
    },
    ..ProviderSpec::BASE
};

/// Card providers the pad supports.
pub const SUPPORTED_CARD_PROVIDERS: &[&str] = &["gmo-pg", "zeus", "sbps", "paygent", "veritrans"];
/// The one card provider that takes a fixed holder name from the pad.
const HOLDER_NAME_PROVIDER: &str = "zeus";

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
    if holder_name_fixed && card_provider != Some(HOLDER_NAME_PROVIDER) {
        problems.push(Problem::HolderNameNeedsZeus(owned));
    }
    problems
}

fn holder_name_fixed(account: &dyn View) -> bool {
    account.value("holder_name_fixed").is_some_and(|v| !v.is_null())
}

/// The provider of the enabled credit card method, if any.
fn card_provider(method: Option<&MethodRef>) -> Option<&str> {
    method
        .filter(|m| m.enabled && m.kind == PaymentKind::CreditCard)
        .and_then(|m| m.provider.as_deref())
}

/// Writing the pad's account: it must fit the shop's enabled credit card method.
fn pad_keeps_its_card_provider(change: &AccountChange<'_>) -> Result<(), DomainError> {
    let card = change
        .methods
        .iter()
        .find(|m| m.enabled && m.kind == PaymentKind::CreditCard);
    let errors: Vec<FieldError> = check(card_provider(card), change.enabled, holder_name_fixed(change.account))
        .into_iter()
        .map(|problem| {
            let field = match problem {
                Problem::UnsupportedCardProvider(_) => "enabled",
                Problem::HolderNameNeedsZeus(_) => "holder_name_fixed",
            };
            FieldError::new(field, "payment_method_mismatch", problem.message())
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Invalid(errors))
    }
}

/// Changing the credit card method: the pad keeps a card method it works with.
fn card_method_keeps_the_pad(change: &MethodChange<'_>) -> Result<(), DomainError> {
    let was_card = change.before.is_some_and(is_enabled_card);
    let is_card = change.after.is_some_and(is_enabled_card);
    if !was_card && !is_card {
        return Ok(());
    }
    let problems = check(
        card_provider(change.after),
        change.account_enabled,
        holder_name_fixed(change.account),
    );
    match problems.first() {
        None => Ok(()),
        Some(problem) => Err(DomainError::Conflict(format!(
            "{} depends on the credit card method: {}; change or disable {} first",
            REMISE_TENKEY.slug,
            problem.message(),
            REMISE_TENKEY.slug
        ))),
    }
}

fn is_enabled_card(method: &MethodRef) -> bool {
    method.enabled && method.kind == PaymentKind::CreditCard
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
