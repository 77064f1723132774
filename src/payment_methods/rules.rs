//! The rules for one payment method, as a pure function: the input and what
//! the shop has (accounts, other methods) in, the row to store or every failing field out.

use super::{Carriers, Channel, Kind, PaymentMethodInput, providers_of};
use crate::{core::FieldError, store::payment_methods::PaymentMethodData};

/// What the rules need to know of the shop.
#[derive(Debug, Default, Clone)]
pub struct Context {
    /// The method's provider account: `None` when not configured, else whether enabled.
    pub provider_account_enabled: Option<bool>,
    /// Another enabled credit card method of the shop.
    pub other_enabled_card: Option<String>,
    /// The position a new method gets when none is given.
    pub next_position: i32,
}

pub fn is_valid_code(code: &str) -> bool {
    (1..=64).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && code.as_bytes()[0].is_ascii_alphanumeric()
}

/// The method to store, or every failing field.
pub fn validate(input: PaymentMethodInput, code: &str, ctx: &Context) -> Result<PaymentMethodData, Vec<FieldError>> {
    let mut errors = Vec::new();
    check_code(code, &mut errors);
    let display_name = checked_display_name(&input.display_name, &mut errors);
    let provider = checked_provider(input.kind, input.provider.as_deref(), &mut errors);
    let carriers = checked_carriers(input.kind, input.carriers, &mut errors);
    let available_in = checked_channels(input.available_in, &mut errors);
    let position = checked_position(input.position.unwrap_or(ctx.next_position), &mut errors);
    let enabled = input.enabled.unwrap_or(true);
    if enabled {
        check_enabling(input.kind, provider, ctx, &mut errors);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(PaymentMethodData {
        code: code.to_string(),
        kind: input.kind.as_str().to_string(),
        provider: provider.map(str::to_string),
        display_name,
        enabled,
        available_in: serde_json::to_string(&available_in).unwrap_or_else(|_| "[]".into()),
        oplux_screening: input.oplux_screening.unwrap_or(false),
        thanks_offer_immediate_settlement: input.thanks_offer_immediate_settlement.unwrap_or(false),
        position,
        carriers: carriers.and_then(|c| serde_json::to_string(&c).ok()),
    })
}

fn check_code(code: &str, errors: &mut Vec<FieldError>) {
    if !is_valid_code(code) {
        errors.push(FieldError::new(
            "code",
            "invalid_format",
            "code must be 1-64 lower-case letters, digits, '-' or '_', starting with a letter or digit",
        ));
    }
}

fn checked_display_name(display_name: &str, errors: &mut Vec<FieldError>) -> String {
    let display_name = display_name.trim().to_string();
    if !(1..=100).contains(&display_name.chars().count()) {
        errors.push(FieldError::new(
            "display_name",
            "invalid_length",
            "display_name must be 1 to 100 characters",
        ));
    }
    display_name
}

/// The provider, which must fit the kind exactly (none for kinds without providers): a
/// blank or padded slug is refused, as the OpenAPI document's `ProviderSlug` enum does.
fn checked_provider<'a>(kind: Kind, provider: Option<&'a str>, errors: &mut Vec<FieldError>) -> Option<&'a str> {
    let allowed = providers_of(kind);
    let problem = match (allowed.is_empty(), provider) {
        (_, Some(p)) if p.trim().is_empty() => Some((
            "invalid_value",
            if allowed.is_empty() {
                format!(
                    "provider must not be blank: a {} method takes no provider (null or absent)",
                    kind.as_str()
                )
            } else {
                format!(
                    "provider must not be blank: a {} method takes one of {}",
                    kind.as_str(),
                    allowed.join(", ")
                )
            },
        )),
        (true, Some(_)) => Some((
            "not_allowed",
            format!("a {} method takes no provider; send provider: null", kind.as_str()),
        )),
        (false, None) => Some((
            "required",
            format!(
                "provider is required for a {} method: one of {}",
                kind.as_str(),
                allowed.join(", ")
            ),
        )),
        (false, Some(p)) if !allowed.contains(&p) => Some((
            "provider_kind_mismatch",
            format!(
                "provider '{p}' does not fit kind {}; use one of: {}",
                kind.as_str(),
                allowed.join(", ")
            ),
        )),
        _ => None,
    };
    match problem {
        Some((code, message)) => {
            errors.push(FieldError::new("provider", code, message));
            None
        }
        None => provider,
    }
}

/// Carriers belong to carrier methods only (all on by default).
fn checked_carriers(kind: Kind, carriers: Option<Carriers>, errors: &mut Vec<FieldError>) -> Option<Carriers> {
    match (kind, carriers) {
        (Kind::Carrier, carriers) => Some(carriers.unwrap_or(Carriers::ALL_ON)),
        (_, None) => None,
        (_, Some(_)) => {
            errors.push(FieldError::new(
                "carriers",
                "not_allowed",
                "carriers apply only to a carrier method (on sbps-carrier)",
            ));
            None
        }
    }
}

/// The channels, each once, in the order given (default: every channel).
fn checked_channels(channels: Option<Vec<Channel>>, errors: &mut Vec<FieldError>) -> Vec<Channel> {
    let mut unique = Vec::new();
    for channel in channels.unwrap_or_else(|| Channel::ALL.to_vec()) {
        if !unique.contains(&channel) {
            unique.push(channel);
        }
    }
    if unique.is_empty() {
        errors.push(FieldError::new(
            "available_in",
            "required",
            "available_in must name at least one of lp, shop, admin_order",
        ));
    }
    unique
}

fn checked_position(position: i32, errors: &mut Vec<FieldError>) -> i32 {
    if !(0..=100_000).contains(&position) {
        errors.push(FieldError::new(
            "position",
            "out_of_range",
            "position must be a whole number from 0 to 100000",
        ));
    }
    position
}

/// An enabled method needs its provider's account configured and enabled, and a shop
/// has one enabled credit card method at most.
fn check_enabling(kind: Kind, provider: Option<&str>, ctx: &Context, errors: &mut Vec<FieldError>) {
    if let Some(p) = provider {
        match ctx.provider_account_enabled {
            None => errors.push(FieldError::new(
                "enabled",
                "provider_not_configured",
                format!(
                    "the {p} account is not configured: set it up (PUT /api/v1/provider-accounts/{p}) or save the method with enabled: false"
                ),
            )),
            Some(false) => errors.push(FieldError::new(
                "enabled",
                "provider_disabled",
                format!("the {p} account is disabled: enable it first or save the method with enabled: false"),
            )),
            Some(true) => {}
        }
    }
    if kind == Kind::CreditCard
        && let Some(other) = &ctx.other_enabled_card
    {
        errors.push(FieldError::new(
            "enabled",
            "one_credit_card",
            format!("only one credit card method can be enabled and '{other}' is; disable it first"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::providers::cards::{SBPS_CARRIER, ZEUS};

    fn input(kind: Kind, provider: Option<&str>) -> PaymentMethodInput {
        PaymentMethodInput {
            code: None,
            kind,
            provider: provider.map(str::to_string),
            display_name: "x".into(),
            enabled: Some(false),
            available_in: None,
            oplux_screening: None,
            thanks_offer_immediate_settlement: None,
            position: None,
            carriers: None,
        }
    }

    fn fields(result: Result<PaymentMethodData, Vec<FieldError>>) -> Vec<String> {
        result.err().unwrap_or_default().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn every_kind_accepts_exactly_its_providers() {
        let ctx = Context::default();
        for kind in Kind::ALL {
            for provider in crate::accounts::ALL.iter().map(|p| p.slug) {
                let ok = validate(input(kind, Some(provider)), "m", &ctx).is_ok();
                assert_eq!(
                    ok,
                    providers_of(kind).contains(&provider),
                    "{} on {provider}",
                    kind.as_str()
                );
            }
            let without = validate(input(kind, None), "m", &ctx).is_ok();
            assert_eq!(
                without,
                providers_of(kind).is_empty(),
                "{} without a provider",
                kind.as_str()
            );
        }
    }

    #[test]
    fn a_blank_or_padded_provider_is_refused_for_every_kind() {
        let ctx = Context::default();
        for kind in Kind::ALL {
            let padded = providers_of(kind).first().map(|p| format!(" {p} "));
            for provider in ["", "  ", "\t"].into_iter().chain(padded.as_deref()) {
                let errors = validate(input(kind, Some(provider)), "m", &ctx)
                    .err()
                    .unwrap_or_default();
                assert_eq!(errors.len(), 1, "{} on {provider:?}", kind.as_str());
                assert_eq!(errors[0].field, "provider");
                let expected = if providers_of(kind).is_empty() {
                    "takes no provider".to_string()
                } else {
                    providers_of(kind).join(", ")
                };
                assert!(
                    errors[0].message.contains(&expected),
                    "{} on {provider:?}: {}",
                    kind.as_str(),
                    errors[0].message
                );
            }
        }
    }

    #[test]
    fn the_providers_of_kinds_are_declared() {
        for kind in Kind::ALL {
            for provider in providers_of(kind) {
                assert!(crate::accounts::find(provider).is_some(), "{provider}");
            }
        }
    }

    #[test]
    fn carriers_only_on_carrier_methods() {
        let mut card = input(Kind::CreditCard, Some(ZEUS.slug));
        card.carriers = Some(Carriers::ALL_ON);
        assert_eq!(fields(validate(card, "m", &Context::default())), ["carriers"]);
        let carrier = validate(input(Kind::Carrier, Some(SBPS_CARRIER.slug)), "m", &Context::default()).unwrap();
        assert_eq!(
            carrier.carriers.as_deref(),
            Some(r#"{"docomo":true,"au":true,"softbank":true}"#)
        );
    }

    #[test]
    fn enabling_needs_an_enabled_provider_account_and_one_card_at_most() {
        let mut card = input(Kind::CreditCard, Some(ZEUS.slug));
        card.enabled = Some(true);
        assert_eq!(fields(validate(card.clone(), "m", &Context::default())), ["enabled"]);
        let disabled = Context {
            provider_account_enabled: Some(false),
            ..Context::default()
        };
        assert_eq!(fields(validate(card.clone(), "m", &disabled)), ["enabled"]);
        let ready = Context {
            provider_account_enabled: Some(true),
            ..Context::default()
        };
        assert!(validate(card.clone(), "m", &ready).is_ok());
        let second = Context {
            other_enabled_card: Some("card".into()),
            ..ready
        };
        assert_eq!(fields(validate(card, "m", &second)), ["enabled"]);
    }
}
