//! The declaration language for providers. A provider is a `ProviderSpec`: its fields
//! (type, format, secret or not, required or not, read-only or computed), its cross-field
//! rules and how its mode (test/live) is told. From that one declaration come its
//! validation, its secret handling, its OpenAPI schemas and its responses.

use serde_json::{Map, Value};

use crate::core::{DomainError, FieldError, PaymentKind, Settlement};

/// What a provider is for, as listed by `GET /api/v1/provider-accounts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Payment,
    DeferredPayment,
    CarrierBilling,
    ConveniencePostpay,
    Wallet,
    Mail,
    FraudDetection,
    Login,
    Marketing,
    CheckoutDevice,
}

impl Category {
    pub const ALL: [Category; 10] = [
        Category::Payment,
        Category::DeferredPayment,
        Category::CarrierBilling,
        Category::ConveniencePostpay,
        Category::Wallet,
        Category::Mail,
        Category::FraudDetection,
        Category::Login,
        Category::Marketing,
        Category::CheckoutDevice,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Payment => "payment",
            Category::DeferredPayment => "deferred_payment",
            Category::CarrierBilling => "carrier_billing",
            Category::ConveniencePostpay => "convenience_postpay",
            Category::Wallet => "wallet",
            Category::Mail => "mail",
            Category::FraudDetection => "fraud_detection",
            Category::Login => "login",
            Category::Marketing => "marketing",
            Category::CheckoutDevice => "checkout_device",
        }
    }

    /// The category's name on the admin screen.
    pub fn label(self) -> &'static str {
        match self {
            Category::Payment => "クレジットカード決済",
            Category::DeferredPayment => "後払い決済",
            Category::CarrierBilling => "キャリア決済",
            Category::ConveniencePostpay => "コンビニ後払い",
            Category::Wallet => "ID決済・ウォレット",
            Category::Mail => "メール共有",
            Category::FraudDetection => "不正注文検知",
            Category::Login => "ログイン連携",
            Category::Marketing => "マーケティング",
            Category::CheckoutDevice => "決済端末",
        }
    }
}

/// The type and format of a field's value.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// Free text, trimmed, at most `max` characters.
    Text {
        max: usize,
    },
    /// Text matching `regex` (anchored), after trimming and full-width → half-width;
    /// `expected` says in words what is wanted.
    Pattern {
        regex: &'static str,
        expected: &'static str,
    },
    Bool,
    Integer {
        min: i64,
        max: i64,
    },
    /// An IPv4 or IPv6 address.
    IpAddress,
    /// A DNS host name (no scheme, no path).
    Hostname,
    /// An absolute URL; `https_only` refuses `http:`.
    Url {
        https_only: bool,
    },
    /// A UUID, as 8-4-4-4-12 hex digits.
    Uuid,
    /// One DNS label: letters, digits and inner hyphens, at most 63 characters.
    DnsLabel,
    /// One of the listed values.
    OneOf(&'static [&'static str]),
    /// An X.509 certificate in PEM; responses show its subject, issuer and `not_after`.
    Certificate,
    /// A private key in PEM (PKCS#8, or PKCS#1 for RSA); `rsa_only` refuses EC keys.
    PrivateKey {
        rsa_only: bool,
    },
    /// An O-PLUX result action: `{action: redirect|create_order, redirect_url}`
    /// (labels: `RESULT_ACTIONS`).
    ResultAction,
    /// `test`, `production`, or an http(s) base URL of an O-PLUX stand-in.
    OpluxEndpoint,
}

/// The actions of a `Kind::ResultAction`, with the seed's labels.
pub const RESULT_ACTIONS: &[(&str, &str)] = &[
    ("create_order", "受注を作成する"),
    ("redirect", "URLへリダイレクトする"),
];

/// Who writes a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Written by PUT/PATCH.
    Writable,
    /// Fixed by the provider; shown, never written.
    Constant(&'static str),
    /// Filled by renkei itself (links, action results); shown, never written.
    Computed,
    /// Written only by the provider's link action (e.g. Amazon Pay v2).
    Linked,
}

/// A default stored when a writable field is omitted.
#[derive(Debug, Clone, Copy)]
pub enum FieldDefault {
    None,
    Bool(bool),
    Integer(i64),
    Text(&'static str),
    /// A JSON literal.
    Json(&'static str),
}

impl FieldDefault {
    pub fn value(self) -> Option<Value> {
        match self {
            FieldDefault::None => None,
            FieldDefault::Bool(b) => Some(Value::Bool(b)),
            FieldDefault::Integer(i) => Some(Value::from(i)),
            FieldDefault::Text(t) => Some(Value::from(t)),
            FieldDefault::Json(j) => serde_json::from_str(j).ok(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    /// The seed's (Japanese) label of the field.
    pub label: &'static str,
    pub kind: Kind,
    pub secret: bool,
    pub access: Access,
    /// Not needed for `enabled: true`. Bools never are (they have defaults).
    pub optional: bool,
    pub default: FieldDefault,
    /// Shown to checkout pages (`GET /api/v1/checkout-config`). Never a secret.
    pub public: bool,
    /// The payment kinds whose checkout gets this public field; empty: every kind the
    /// provider serves.
    pub public_for: &'static [PaymentKind],
    /// A JSON literal used as the OpenAPI example.
    pub example: Option<&'static str>,
    pub description: &'static str,
    /// The seed's labels of a `Kind::OneOf`'s values: (value, label).
    pub choices: &'static [(&'static str, &'static str)],
    /// The heading the field is under on the seed's screen; `None`: the provider's
    /// first group (its 認証情報).
    pub group: Option<&'static str>,
}

impl Field {
    pub const fn new(name: &'static str, label: &'static str, kind: Kind) -> Self {
        Self {
            name,
            label,
            kind,
            secret: false,
            access: Access::Writable,
            optional: matches!(kind, Kind::Bool),
            default: if matches!(kind, Kind::Bool) {
                FieldDefault::Bool(false)
            } else {
                FieldDefault::None
            },
            public: false,
            public_for: &[],
            example: None,
            description: "",
            choices: &[],
            group: None,
        }
    }

    /// Free text of at most 255 characters.
    pub const fn text(name: &'static str, label: &'static str) -> Self {
        Self::new(name, label, Kind::Text { max: 255 })
    }

    pub const fn boolean(name: &'static str, label: &'static str) -> Self {
        Self::new(name, label, Kind::Bool)
    }

    /// Exactly `regex`; say what is `expected` in words.
    pub const fn pattern(name: &'static str, label: &'static str, regex: &'static str, expected: &'static str) -> Self {
        Self::new(name, label, Kind::Pattern { regex, expected })
    }

    /// Write-only: sealed at rest, shown as `{set, updated_at}`.
    pub const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    pub const fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    pub const fn default(mut self, default: FieldDefault) -> Self {
        self.default = default;
        self.optional = true;
        self
    }

    pub const fn constant(mut self, value: &'static str) -> Self {
        self.access = Access::Constant(value);
        self.optional = true;
        self
    }

    pub const fn computed(mut self) -> Self {
        self.access = Access::Computed;
        self.optional = true;
        self
    }

    pub const fn linked(mut self) -> Self {
        self.access = Access::Linked;
        self
    }

    /// Checkout pages may see it (a secret never may).
    pub const fn public(mut self) -> Self {
        self.public = true;
        self
    }

    /// Checkout pages of methods of these kinds only may see it.
    pub const fn public_for(mut self, kinds: &'static [PaymentKind]) -> Self {
        self.public = true;
        self.public_for = kinds;
        self
    }

    /// Whether checkout of a method of `kind` shows this field.
    pub fn is_public_for(&self, kind: PaymentKind) -> bool {
        self.public && !self.secret && (self.public_for.is_empty() || self.public_for.contains(&kind))
    }

    pub const fn example(mut self, json: &'static str) -> Self {
        self.example = Some(json);
        self
    }

    pub const fn describe(mut self, description: &'static str) -> Self {
        self.description = description;
        self
    }

    /// The seed's labels of the values of a `Kind::OneOf`.
    pub const fn choices(mut self, choices: &'static [(&'static str, &'static str)]) -> Self {
        self.choices = choices;
        self
    }

    /// Shown under `heading` on the seed's screen.
    pub const fn group(mut self, heading: &'static str) -> Self {
        self.group = Some(heading);
        self
    }

    pub fn is_writable(&self) -> bool {
        self.access == Access::Writable
    }

    /// Stored in the account's settings (as opposed to sealed, or derived on output).
    pub fn is_stored_setting(&self) -> bool {
        !self.secret && matches!(self.access, Access::Writable | Access::Linked)
    }
}

/// The account as a rule sees it: settings after the change, and which secrets are set.
pub trait View {
    /// A setting's value (`None` when absent).
    fn value(&self, field: &str) -> Option<&Value>;
    /// Whether a secret is set after the change.
    fn secret_is_set(&self, field: &str) -> bool;
    /// A secret's value after the change, for rules that compare it (e.g. key modes).
    fn secret_value(&self, field: &str) -> Option<&str>;

    fn flag(&self, field: &str) -> bool {
        self.value(field).and_then(Value::as_bool).unwrap_or(false)
    }

    fn text(&self, field: &str) -> Option<&str> {
        self.value(field).and_then(Value::as_str)
    }

    /// Set: a secret that is set, a bool that is true, or any other present value.
    fn is_present(&self, field: &str) -> bool {
        self.secret_is_set(field)
            || match self.value(field) {
                Some(Value::Bool(b)) => *b,
                Some(Value::Null) | None => false,
                Some(_) => true,
            }
    }
}

/// Stored settings alone, for rules that need no secret (a secret reads as unset).
impl View for Map<String, Value> {
    fn value(&self, field: &str) -> Option<&Value> {
        self.get(field)
    }
    fn secret_is_set(&self, _: &str) -> bool {
        false
    }
    fn secret_value(&self, _: &str) -> Option<&str> {
        None
    }
}

/// A rule across fields.
#[derive(Clone, Copy)]
pub enum Rule {
    /// When the bool `when` is true, each of `needs` must be present (bools: true).
    Requires {
        when: &'static str,
        needs: &'static [&'static str],
    },
    /// Anything else, in code: push an error per failing field.
    Check(fn(&dyn View, &mut Vec<FieldError>)),
}

/// Live or test, where the settings tell.
pub type ModeFn = fn(&dyn View) -> Option<Mode>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Test,
    Live,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Test => "test",
            Mode::Live => "live",
        }
    }
}

pub struct ProviderSpec {
    /// The path segment, e.g. `gmo-pg`.
    pub slug: &'static str,
    /// The name of its OpenAPI schemas, e.g. `GmoPg` → `GmoPgAccount`, `GmoPgAccountInput`.
    pub schema_name: &'static str,
    pub display_name: &'static str,
    pub category: Category,
    /// What the provider offers, in one sentence (OpenAPI description).
    pub summary: &'static str,
    pub fields: &'static [Field],
    pub rules: &'static [Rule],
    pub mode: Option<ModeFn>,
    /// The kinds of payment method that may use this provider (none: it takes no
    /// payments).
    pub serves: &'static [PaymentKind],
    /// How a payment through it settles, where that differs from its method's kind
    /// (a wallet that charges a card, or pays later).
    pub settles_as: Option<Settlement>,
    /// How checkout offers it.
    pub checkout: Checkout,
    /// The setting that starts every transaction id a method on it issues, when it
    /// issues them (電算: the shop's unique code).
    pub transaction_id_prefix: Option<&'static str>,
    /// The kinds of public file (capability URL) the account owns; deleting the account
    /// deletes them.
    pub public_assets: &'static [&'static str],
    /// What differs per provider beyond its fields.
    pub hooks: Hooks,
}

/// How checkout offers a provider.
#[derive(Clone, Copy)]
pub struct Checkout {
    /// Its methods need the order confirmation page (Paidy's modal opens there); they
    /// are left out when checkout skips that page.
    pub needs_confirmation_page: bool,
    /// Its public parameters join every method of this kind under this name, instead of
    /// being a method of its own (the ten-key pad joins the credit card method).
    pub joins: Option<(PaymentKind, &'static str)>,
}

impl Checkout {
    pub const PLAIN: Checkout = Checkout {
        needs_confirmation_page: false,
        joins: None,
    };
}

/// The account as response hooks see it.
pub struct Derive<'a> {
    pub settings: &'a Map<String, Value>,
    pub enabled: bool,
    /// Base of public links, without a trailing slash.
    pub public_url: &'a str,
}

/// A payment method as consistency rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodRef {
    pub code: String,
    pub kind: PaymentKind,
    pub provider: Option<String>,
    pub enabled: bool,
}

/// A change to a provider account, against the shop's enabled payment methods.
pub struct AccountChange<'a> {
    pub account: &'a dyn View,
    pub enabled: bool,
    /// The shop's enabled payment methods.
    pub methods: &'a [MethodRef],
}

/// A change to a payment method, as a configured account of the shop sees it.
pub struct MethodChange<'a> {
    pub account: &'a dyn View,
    pub account_enabled: bool,
    /// The method before the change (None: created).
    pub before: Option<&'a MethodRef>,
    /// The method after the change (None: deleted).
    pub after: Option<&'a MethodRef>,
}

/// Settings that follow from a change of others (`before`: the stored settings, None when
/// new; `after`: the settings about to be stored).
pub type FollowFn = fn(before: Option<&Map<String, Value>>, after: &mut Map<String, Value>);

/// Behaviour that differs per provider, each with a default that does nothing.
#[derive(Clone, Copy)]
pub struct Hooks {
    /// Internal settings a new account starts with (e.g. an unguessable token).
    pub initial_settings: fn(&mut Map<String, Value>),
    /// Response fields renkei derives from the stored settings (links, statuses).
    pub computed: fn(&Derive<'_>, &mut Map<String, Value>),
    /// Settings that follow from a change: `before` is the stored settings (None: new).
    pub follow: FollowFn,
    /// Whether the account, as changed, agrees with the shop's payment methods.
    pub on_account_change: fn(&AccountChange<'_>) -> Result<(), DomainError>,
    /// Whether a change of a payment method agrees with this (configured) account.
    pub on_method_change: fn(&MethodChange<'_>) -> Result<(), DomainError>,
}

impl Hooks {
    pub const NONE: Hooks = Hooks {
        initial_settings: |_| {},
        computed: |_, _| {},
        follow: |_, _| {},
        on_account_change: |_| Ok(()),
        on_method_change: |_| Ok(()),
    };
}

impl ProviderSpec {
    /// What a declaration does not say: no rules, no mode, no payments, no hooks.
    pub const BASE: ProviderSpec = ProviderSpec {
        slug: "",
        schema_name: "",
        display_name: "",
        category: Category::Payment,
        summary: "",
        fields: &[],
        rules: &[],
        mode: None,
        serves: &[],
        settles_as: None,
        checkout: Checkout::PLAIN,
        transaction_id_prefix: None,
        public_assets: &[],
        hooks: Hooks::NONE,
    };

    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn secrets(&self) -> impl Iterator<Item = &'static Field> {
        self.fields.iter().filter(|f| f.secret)
    }
}
