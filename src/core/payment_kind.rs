//! The kinds of payment method. Which providers serve a kind is declared by each
//! provider (`accounts::providers`), not here.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = Kind)]
pub enum PaymentKind {
    CreditCard,
    Deferred,
    Carrier,
    ConveniencePostpay,
    Wallet,
    CashOnDelivery,
    BankTransfer,
}

impl PaymentKind {
    pub const ALL: [PaymentKind; 7] = [
        PaymentKind::CreditCard,
        PaymentKind::Deferred,
        PaymentKind::Carrier,
        PaymentKind::ConveniencePostpay,
        PaymentKind::Wallet,
        PaymentKind::CashOnDelivery,
        PaymentKind::BankTransfer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentKind::CreditCard => "credit_card",
            PaymentKind::Deferred => "deferred",
            PaymentKind::Carrier => "carrier",
            PaymentKind::ConveniencePostpay => "convenience_postpay",
            PaymentKind::Wallet => "wallet",
            PaymentKind::CashOnDelivery => "cash_on_delivery",
            PaymentKind::BankTransfer => "bank_transfer",
        }
    }

    pub fn parse(value: &str) -> Option<PaymentKind> {
        PaymentKind::ALL.into_iter().find(|k| k.as_str() == value)
    }
}

/// How a payment settles, for fraud screening: a method's kind tells, unless its
/// provider declares otherwise (a wallet that charges a card, or pays later).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    Deferred,
    CreditCard,
    CashOnDelivery,
    BankTransfer,
    EMoney,
    PayPal,
    Other,
}

impl PaymentKind {
    /// How a method of this kind settles when its provider does not say.
    pub fn settlement(self) -> Settlement {
        match self {
            PaymentKind::Deferred | PaymentKind::ConveniencePostpay => Settlement::Deferred,
            PaymentKind::CreditCard => Settlement::CreditCard,
            PaymentKind::CashOnDelivery => Settlement::CashOnDelivery,
            PaymentKind::BankTransfer => Settlement::BankTransfer,
            PaymentKind::Carrier | PaymentKind::Wallet => Settlement::Other,
        }
    }
}
