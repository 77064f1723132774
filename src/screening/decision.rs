//! The decision, as pure functions: from the O-PLUX settings, the payment method, the
//! order and O-PLUX's answer to "create the order" or "redirect the buyer". The gates, in
//! this order: O-PLUX disabled → channel not screened → payment method not screened (an
//! unknown method is refused only here) → thanks-offer payment of a screened parent →
//! existing customer → O-PLUX, with per-result actions, thanks-offer forcing and
//! `on_error`. Not screened always creates the order.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    oplux::protocol::{Answer, Reason, Verdict},
    request::OrderChannel,
};
use crate::accounts::providers::fraud::OpluxSettings;
pub use crate::accounts::providers::fraud::ResultAction as Action;

/// The o-plux account's settings that decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub enabled: bool,
    pub screen_existing_customers: bool,
    pub on_hold: Action,
    pub on_review: Action,
    pub on_ng: Action,
    pub on_error: Action,
}

impl Settings {
    /// The deciding part of the shop's O-PLUX account.
    pub fn of_account(enabled: bool, settings: &OpluxSettings) -> Self {
        Settings {
            enabled,
            screen_existing_customers: settings.screen_existing_customers,
            on_hold: settings.on_hold.clone(),
            on_review: settings.on_review.clone(),
            on_ng: settings.on_ng.clone(),
            on_error: settings.on_error.clone(),
        }
    }
}

/// The payment method's flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodFlags {
    /// O-PLUX の利用.
    pub oplux_screening: bool,
    pub thanks_offer_immediate_settlement: bool,
}

/// The facts of the order that decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderFacts {
    pub channel: OrderChannel,
    pub registered: bool,
    pub previous_order_count: u32,
    pub ad_url_enabled: bool,
    pub is_thanks_offer_payment: bool,
    /// The thanks-offer payment's parent order was screened for this shop.
    pub parent_screened: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    OpluxDisabled,
    ChannelNotScreened,
    PaymentMethodNotScreened,
    ThanksOfferPayment,
    ExistingCustomer,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::OpluxDisabled => "oplux_disabled",
            SkipReason::ChannelNotScreened => "channel_not_screened",
            SkipReason::PaymentMethodNotScreened => "payment_method_not_screened",
            SkipReason::ThanksOfferPayment => "thanks_offer_payment",
            SkipReason::ExistingCustomer => "existing_customer",
        }
    }

    pub fn parse(text: &str) -> Option<SkipReason> {
        [
            SkipReason::OpluxDisabled,
            SkipReason::ChannelNotScreened,
            SkipReason::PaymentMethodNotScreened,
            SkipReason::ThanksOfferPayment,
            SkipReason::ExistingCustomer,
        ]
        .into_iter()
        .find(|r| r.as_str() == text)
    }
}

/// The screening result as stored and answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum ScreeningResult {
    #[serde(rename = "OK")]
    Ok,
    #[serde(rename = "HOLD")]
    Hold,
    #[serde(rename = "REVIEW")]
    Review,
    #[serde(rename = "NG")]
    Ng,
    /// O-PLUX could not answer (timeout, transport error, error answer).
    #[serde(rename = "ERROR")]
    Error,
}

impl ScreeningResult {
    pub const ALL: [ScreeningResult; 5] = [
        ScreeningResult::Ok,
        ScreeningResult::Hold,
        ScreeningResult::Review,
        ScreeningResult::Ng,
        ScreeningResult::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ScreeningResult::Ok => "OK",
            ScreeningResult::Hold => "HOLD",
            ScreeningResult::Review => "REVIEW",
            ScreeningResult::Ng => "NG",
            ScreeningResult::Error => "ERROR",
        }
    }

    pub fn parse(text: &str) -> Option<ScreeningResult> {
        ScreeningResult::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

/// The decision and what led to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub screened: bool,
    pub skip_reason: Option<SkipReason>,
    pub result: Option<ScreeningResult>,
    pub reasons: Vec<Reason>,
    pub action: Action,
    pub forced_by_thanks_offer: bool,
    pub oplux_event_id: Option<String>,
}

impl Decision {
    fn skipped(reason: SkipReason) -> Self {
        Decision {
            screened: false,
            skip_reason: Some(reason),
            result: None,
            reasons: Vec::new(),
            action: Action::CreateOrder,
            forced_by_thanks_offer: false,
            oplux_event_id: None,
        }
    }
}

/// Before calling O-PLUX: skip (with the decision) or call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Skip(Decision),
    Call,
}

/// Gate 3 found no such payment method in the shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownMethod;

/// The gates. `method` is `None` when the shop has no such payment method, which is an
/// error only when gate 3 is reached.
pub fn before_call(
    settings: Option<&Settings>,
    method: Option<MethodFlags>,
    order: OrderFacts,
) -> Result<Step, UnknownMethod> {
    let skip = |reason| Ok(Step::Skip(Decision::skipped(reason)));
    if !settings.is_some_and(|s| s.enabled) {
        return skip(SkipReason::OpluxDisabled);
    }
    if !matches!(order.channel, OrderChannel::Lp | OrderChannel::Shop) {
        return skip(SkipReason::ChannelNotScreened);
    }
    if !method.ok_or(UnknownMethod)?.oplux_screening {
        return skip(SkipReason::PaymentMethodNotScreened);
    }
    if order.is_thanks_offer_payment && order.parent_screened {
        return skip(SkipReason::ThanksOfferPayment);
    }
    let screen_existing = settings.is_some_and(|s| s.screen_existing_customers);
    if order.registered && order.previous_order_count >= 1 && !screen_existing {
        return skip(SkipReason::ExistingCustomer);
    }
    Ok(Step::Call)
}

/// How O-PLUX's call ended: an answer, or no usable answer.
pub type CallOutcome = Result<Answer, String>;

/// After calling O-PLUX (only when `before_call` said `Call`).
pub fn after_call(settings: &Settings, method: MethodFlags, order: OrderFacts, outcome: &CallOutcome) -> Decision {
    let (result, configured, event_id, reasons) = match outcome {
        Ok(Answer::Screened {
            verdict,
            event_id,
            reasons,
        }) => {
            let (result, action) = match verdict {
                Verdict::Ok => (ScreeningResult::Ok, Action::CreateOrder),
                Verdict::Hold => (ScreeningResult::Hold, settings.on_hold.clone()),
                Verdict::Review => (ScreeningResult::Review, settings.on_review.clone()),
                Verdict::Ng => (ScreeningResult::Ng, settings.on_ng.clone()),
            };
            (result, action, Some(event_id.clone()), reasons.clone())
        }
        // O-PLUX's error codes are the reasons of an ERROR.
        Ok(Answer::Rejected { errors, .. }) => {
            (ScreeningResult::Error, settings.on_error.clone(), None, errors.clone())
        }
        Err(_) => (ScreeningResult::Error, settings.on_error.clone(), None, Vec::new()),
    };
    // The seed: with a thanks offer on the ad URL and a method without immediate
    // settlement, the buyer is never redirected mid-flow — whatever O-PLUX answered or
    // failed to answer, the order is created.
    let forcing = order.ad_url_enabled && !method.thanks_offer_immediate_settlement;
    let (action, forced) = match configured {
        Action::Redirect(_) if forcing => (Action::CreateOrder, true),
        action => (action, false),
    };
    Decision {
        screened: true,
        skip_reason: None,
        result: Some(result),
        reasons,
        action,
        forced_by_thanks_offer: forced,
        oplux_event_id: event_id,
    }
}

/// Whether a decision waits for the shop's own review: O-PLUX
/// answered HOLD or REVIEW, or NG while the shop's action for NG is `create_order`.
pub fn opens_review(settings: &Settings, decision: &Decision) -> bool {
    match decision.result {
        Some(ScreeningResult::Hold | ScreeningResult::Review) => true,
        Some(ScreeningResult::Ng) => settings.on_ng == Action::CreateOrder,
        _ => false,
    }
}

/// The whole decision, for an answer already at hand (tests and documentation).
pub fn decide(
    settings: Option<&Settings>,
    method: Option<MethodFlags>,
    order: OrderFacts,
    outcome: &CallOutcome,
) -> Result<Decision, UnknownMethod> {
    Ok(match (before_call(settings, method, order)?, settings, method) {
        (Step::Skip(decision), _, _) => decision,
        (Step::Call, Some(settings), Some(method)) => after_call(settings, method, order, outcome),
        (Step::Call, _, _) => Decision::skipped(SkipReason::OpluxDisabled),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOLD_URL: &str = "https://shop.example.jp/hold";
    const REVIEW_URL: &str = "https://shop.example.jp/review";
    const NG_URL: &str = "https://shop.example.jp/ng";
    const ERROR_URL: &str = "https://shop.example.jp/error";

    fn settings(redirect_hold: bool, redirect_review: bool, redirect_ng: bool) -> Settings {
        let action = |redirect: bool, url: &str| {
            if redirect {
                Action::Redirect(url.into())
            } else {
                Action::CreateOrder
            }
        };
        Settings {
            enabled: true,
            screen_existing_customers: false,
            on_hold: action(redirect_hold, HOLD_URL),
            on_review: action(redirect_review, REVIEW_URL),
            on_ng: action(redirect_ng, NG_URL),
            on_error: Action::CreateOrder,
        }
    }

    const SCREENED_METHOD: MethodFlags = MethodFlags {
        oplux_screening: true,
        thanks_offer_immediate_settlement: false,
    };

    const NEW_BUYER: OrderFacts = OrderFacts {
        channel: OrderChannel::Lp,
        registered: false,
        previous_order_count: 0,
        ad_url_enabled: false,
        is_thanks_offer_payment: false,
        parent_screened: false,
    };

    fn answer(verdict: Verdict) -> CallOutcome {
        Ok(Answer::Screened {
            verdict,
            event_id: "E1".into(),
            reasons: vec![],
        })
    }

    fn skip(settings: Option<&Settings>, method: MethodFlags, order: OrderFacts) -> Option<SkipReason> {
        match before_call(settings, Some(method), order).expect("a known method") {
            Step::Skip(decision) => {
                assert_eq!(
                    decision.action,
                    Action::CreateOrder,
                    "not screened always creates the order"
                );
                assert!(!decision.screened);
                decision.skip_reason
            }
            Step::Call => None,
        }
    }

    #[test]
    fn hold_review_and_an_ng_whose_order_is_created_open_a_review() {
        let method = SCREENED_METHOD;
        let opens = |settings: &Settings, verdict| {
            opens_review(settings, &after_call(settings, method, NEW_BUYER, &answer(verdict)))
        };
        let redirecting = settings(true, true, true);
        let creating = settings(false, false, false);
        for settings in [&redirecting, &creating] {
            assert!(opens(settings, Verdict::Hold));
            assert!(opens(settings, Verdict::Review));
            assert!(!opens(settings, Verdict::Ok));
        }
        assert!(opens(&creating, Verdict::Ng));
        assert!(
            !opens(&redirecting, Verdict::Ng),
            "an NG redirected is no order to review"
        );
        let error = after_call(&creating, method, NEW_BUYER, &Err("timed out".into()));
        assert!(!opens_review(&creating, &error));
    }

    #[test]
    fn the_gates_in_the_order_of_the_seed() {
        let on = settings(true, true, true);
        let off = Settings {
            enabled: false,
            ..on.clone()
        };
        let unscreened_method = MethodFlags {
            oplux_screening: false,
            ..SCREENED_METHOD
        };
        let existing = OrderFacts {
            registered: true,
            previous_order_count: 1,
            ..NEW_BUYER
        };
        let thanks_payment = OrderFacts {
            is_thanks_offer_payment: true,
            parent_screened: true,
            ..NEW_BUYER
        };
        // (settings, method, order, expected skip) — each row one gate, then the gate
        // before it winning when two apply.
        let rows: Vec<(Option<&Settings>, MethodFlags, OrderFacts, Option<SkipReason>)> = vec![
            (None, SCREENED_METHOD, NEW_BUYER, Some(SkipReason::OpluxDisabled)),
            (Some(&off), SCREENED_METHOD, NEW_BUYER, Some(SkipReason::OpluxDisabled)),
            (Some(&off), unscreened_method, existing, Some(SkipReason::OpluxDisabled)),
            (Some(&on), SCREENED_METHOD, NEW_BUYER, None),
            (
                Some(&on),
                SCREENED_METHOD,
                OrderFacts {
                    channel: OrderChannel::Shop,
                    ..NEW_BUYER
                },
                None,
            ),
            (
                Some(&on),
                unscreened_method,
                NEW_BUYER,
                Some(SkipReason::PaymentMethodNotScreened),
            ),
            (
                Some(&on),
                SCREENED_METHOD,
                thanks_payment,
                Some(SkipReason::ThanksOfferPayment),
            ),
            (
                Some(&on),
                unscreened_method,
                thanks_payment,
                Some(SkipReason::PaymentMethodNotScreened),
            ),
            (Some(&on), SCREENED_METHOD, existing, Some(SkipReason::ExistingCustomer)),
            (
                Some(&on),
                SCREENED_METHOD,
                OrderFacts {
                    is_thanks_offer_payment: true,
                    parent_screened: true,
                    ..existing
                },
                Some(SkipReason::ThanksOfferPayment),
            ),
            // A thanks-offer payment whose parent was not screened is screened as any order.
            (
                Some(&on),
                SCREENED_METHOD,
                OrderFacts {
                    parent_screened: false,
                    ..thanks_payment
                },
                None,
            ),
            (
                Some(&on),
                SCREENED_METHOD,
                OrderFacts {
                    registered: false,
                    ..existing
                },
                None,
            ),
            (
                Some(&on),
                SCREENED_METHOD,
                OrderFacts {
                    previous_order_count: 0,
                    ..existing
                },
                None,
            ),
        ];
        for (i, (settings, method, order, expected)) in rows.into_iter().enumerate() {
            assert_eq!(skip(settings, method, order), expected, "row {i}");
        }
        for channel in [
            OrderChannel::AdminOrder,
            OrderChannel::CsvImport,
            OrderChannel::SubscriptionAuto,
            OrderChannel::SubscriptionManual,
        ] {
            let order = OrderFacts { channel, ..NEW_BUYER };
            assert_eq!(
                skip(Some(&on), SCREENED_METHOD, order),
                Some(SkipReason::ChannelNotScreened)
            );
            assert_eq!(
                skip(Some(&on), unscreened_method, order),
                Some(SkipReason::ChannelNotScreened),
                "the channel is checked before the method"
            );
        }
        let screens_existing = Settings {
            screen_existing_customers: true,
            ..on.clone()
        };
        assert_eq!(skip(Some(&screens_existing), SCREENED_METHOD, existing), None);
    }

    #[test]
    fn every_result_and_action_with_and_without_thanks_offer_forcing() {
        for redirect_hold in [false, true] {
            for redirect_review in [false, true] {
                for redirect_ng in [false, true] {
                    let settings = settings(redirect_hold, redirect_review, redirect_ng);
                    for ad_url_enabled in [false, true] {
                        for immediate in [false, true] {
                            let method = MethodFlags {
                                oplux_screening: true,
                                thanks_offer_immediate_settlement: immediate,
                            };
                            let order = OrderFacts {
                                ad_url_enabled,
                                ..NEW_BUYER
                            };
                            let forcing = ad_url_enabled && !immediate;
                            for (verdict, redirect, url, result) in [
                                (Verdict::Ok, false, "", ScreeningResult::Ok),
                                (Verdict::Hold, redirect_hold, HOLD_URL, ScreeningResult::Hold),
                                (Verdict::Review, redirect_review, REVIEW_URL, ScreeningResult::Review),
                                (Verdict::Ng, redirect_ng, NG_URL, ScreeningResult::Ng),
                            ] {
                                let decision = decide(Some(&settings), Some(method), order, &answer(verdict)).unwrap();
                                let case = format!(
                                    "{verdict:?} hold={redirect_hold} review={redirect_review} ng={redirect_ng} ad={ad_url_enabled} immediate={immediate}"
                                );
                                assert!(decision.screened, "{case}");
                                assert_eq!(decision.result, Some(result), "{case}");
                                assert_eq!(decision.oplux_event_id.as_deref(), Some("E1"), "{case}");
                                let expected = if redirect && !forcing {
                                    Action::Redirect(url.into())
                                } else {
                                    Action::CreateOrder
                                };
                                assert_eq!(decision.action, expected, "{case}");
                                assert_eq!(decision.forced_by_thanks_offer, redirect && forcing, "{case}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn no_answer_is_error_with_the_on_error_action() {
        let mut settings = settings(true, true, true);
        for on_error in [Action::CreateOrder, Action::Redirect(ERROR_URL.into())] {
            settings.on_error = on_error.clone();
            for outcome in [
                Err("timeout after 500 ms".to_string()),
                Err("HTTP 500".to_string()),
                Ok(Answer::Rejected {
                    status: 403,
                    errors: vec![Reason {
                        code: "Authentication.InvalidSignature".into(),
                        description: "signature".into(),
                    }],
                }),
            ] {
                let decision = decide(Some(&settings), Some(SCREENED_METHOD), NEW_BUYER, &outcome).unwrap();
                assert_eq!(decision.result, Some(ScreeningResult::Error));
                assert!(decision.screened);
                assert_eq!(decision.action, on_error);
                assert!(!decision.forced_by_thanks_offer);
                assert_eq!(decision.oplux_event_id, None);
            }
        }
    }
}

#[cfg(test)]
mod gate_tests {
    use super::*;

    const ON: Settings = Settings {
        enabled: true,
        screen_existing_customers: false,
        on_hold: Action::CreateOrder,
        on_review: Action::CreateOrder,
        on_ng: Action::CreateOrder,
        on_error: Action::CreateOrder,
    };

    const ORDER: OrderFacts = OrderFacts {
        channel: OrderChannel::Lp,
        registered: false,
        previous_order_count: 0,
        ad_url_enabled: false,
        is_thanks_offer_payment: false,
        parent_screened: false,
    };

    const SCREENED: MethodFlags = MethodFlags {
        oplux_screening: true,
        thanks_offer_immediate_settlement: false,
    };

    fn redirecting(url: &str) -> Settings {
        Settings {
            on_error: Action::Redirect(url.into()),
            on_hold: Action::Redirect(url.into()),
            on_review: Action::Redirect(url.into()),
            on_ng: Action::Redirect(url.into()),
            ..ON
        }
    }

    #[test]
    fn an_unknown_payment_method_matters_only_at_gate_3() {
        let off = Settings { enabled: false, ..ON };
        let admin = OrderFacts {
            channel: OrderChannel::AdminOrder,
            ..ORDER
        };
        let skipped = |settings: Option<&Settings>, order| match before_call(settings, None, order) {
            Ok(Step::Skip(decision)) => decision.skip_reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(skipped(None, ORDER), Some(SkipReason::OpluxDisabled));
        assert_eq!(skipped(Some(&off), ORDER), Some(SkipReason::OpluxDisabled));
        assert_eq!(skipped(Some(&ON), admin), Some(SkipReason::ChannelNotScreened));
        assert_eq!(before_call(Some(&ON), None, ORDER), Err(UnknownMethod));
    }

    #[test]
    fn a_thanks_offer_forces_the_order_on_error_too() {
        let settings = redirecting("https://shop.example.jp/error");
        let offered = OrderFacts {
            ad_url_enabled: true,
            ..ORDER
        };
        for outcome in [
            Err("no answer within 500 ms".to_string()),
            Ok(Answer::Rejected {
                status: 200,
                errors: vec![],
            }),
        ] {
            let decision = after_call(&settings, SCREENED, offered, &outcome);
            assert_eq!(decision.result, Some(ScreeningResult::Error));
            assert_eq!(decision.action, Action::CreateOrder);
            assert!(decision.forced_by_thanks_offer);
        }
        let immediate = MethodFlags {
            thanks_offer_immediate_settlement: true,
            ..SCREENED
        };
        let decision = after_call(&settings, immediate, offered, &Err("down".into()));
        assert_eq!(
            decision.action,
            Action::Redirect("https://shop.example.jp/error".into())
        );
        assert!(!decision.forced_by_thanks_offer);
    }

    #[test]
    fn an_ok_is_never_forced() {
        let offered = OrderFacts {
            ad_url_enabled: true,
            ..ORDER
        };
        let ok = Ok(Answer::Screened {
            verdict: Verdict::Ok,
            event_id: "E".into(),
            reasons: vec![],
        });
        let decision = after_call(&redirecting("https://x.example/"), SCREENED, offered, &ok);
        assert!(!decision.forced_by_thanks_offer);
    }

    #[test]
    fn o_pluxs_error_codes_are_the_reasons_of_an_error() {
        let errors = vec![
            Reason {
                code: "InvalidData.Tel".into(),
                description: "tel".into(),
            },
            Reason {
                code: "InvalidData.Zipcode".into(),
                description: "zipcode".into(),
            },
        ];
        let outcome = Ok(Answer::Rejected {
            status: 200,
            errors: errors.clone(),
        });
        let decision = after_call(&ON, SCREENED, ORDER, &outcome);
        assert_eq!(decision.result, Some(ScreeningResult::Error));
        assert_eq!(decision.reasons, errors);
    }
}
