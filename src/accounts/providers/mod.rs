//! Every provider, declared as in the seed's table of its fields, with everything that
//! differs per provider (hooks, actions). Adding a provider is one declaration here and
//! its entry in `ALL`; no code outside this folder names a provider.

pub mod cards;
pub mod deferred;
pub mod feed;
pub mod fraud;
pub mod gmo;
pub mod mail;
pub mod other;
pub mod remise;
pub mod wallets;

use super::spec::ProviderSpec;

/// Every provider, in the seed's order, then O-PLUX and 不正利用チェッカー.
pub static ALL: &[&ProviderSpec] = &[
    &gmo::GMO_PG,
    &gmo::GMO_ATOBARAI,
    &gmo::GMO_EPSILON,
    &cards::YAMATO,
    &deferred::YAMATO_ATOBARAI,
    &cards::PAYGENT,
    &cards::SBPS,
    &cards::ZEUS,
    &cards::VERITRANS,
    &cards::SBPS_CARRIER,
    &deferred::SCORE_ATOBARAI,
    &deferred::NP_ATOBARAI,
    &deferred::NP_ATOBARAI_REALTIME,
    &deferred::ATOBARAI_COM,
    &deferred::ATODENE,
    &wallets::ATONE,
    &wallets::PAIDY,
    &wallets::AMAZON_PAY_V1,
    &wallets::AMAZON_PAY_V2,
    &wallets::LINE_PAY,
    &deferred::DENSAN,
    &mail::RELATION,
    &mail::MAILDEALER,
    &other::LINE_ID,
    &wallets::PAYPAL,
    &other::ONE_D_COLOR,
    &feed::PRODUCT_DATA_FEED,
    &remise::REMISE_TENKEY,
    &fraud::AT_SCORE,
    &fraud::OPLUX,
    &fraud::FRAUD_CHECKER,
];

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use serde_json::Value;

    use super::ALL;
    use crate::accounts::{
        formats,
        spec::{Access, Kind, Mode, View},
    };
    use crate::core::FieldError;

    #[test]
    fn slugs_schema_names_and_field_names_are_unique() {
        let slugs: HashSet<_> = ALL.iter().map(|p| p.slug).collect();
        let schemas: HashSet<_> = ALL.iter().map(|p| p.schema_name).collect();
        assert_eq!((slugs.len(), schemas.len()), (ALL.len(), ALL.len()));
        for provider in ALL {
            let names: HashSet<_> = provider.fields.iter().map(|f| f.name).collect();
            assert_eq!(names.len(), provider.fields.len(), "{}", provider.slug);
            assert!(
                provider.field("enabled").is_none(),
                "{} declares enabled",
                provider.slug
            );
        }
    }

    #[test]
    fn every_example_is_valid_for_its_field() {
        for provider in ALL {
            for field in provider.fields {
                let path = format!("{}.{}", provider.slug, field.name);
                let pem = matches!(field.kind, Kind::Certificate | Kind::PrivateKey { .. });
                let Some(example) = field.example else {
                    assert!(pem, "{path} has no example");
                    continue;
                };
                let value: Value = serde_json::from_str(example).unwrap_or_else(|e| panic!("{path}: {e}"));
                if let Err(error) = formats::parse(field, &path, &value) {
                    panic!("{path}: example {example} is refused: {}", error.message);
                }
            }
        }
    }

    #[test]
    fn defaults_and_constants_are_valid_for_their_fields() {
        for provider in ALL {
            for field in provider.fields {
                let path = format!("{}.{}", provider.slug, field.name);
                if let Some(default) = field.default.value() {
                    assert!(formats::parse(field, &path, &default).is_ok(), "{path} default");
                }
                if let Access::Constant(value) = field.access {
                    assert!(
                        formats::parse(field, &path, &Value::from(value)).is_ok(),
                        "{path} constant"
                    );
                }
            }
        }
    }

    /// Settings and secrets as a rule or a mode function sees them.
    struct Settings {
        values: HashMap<&'static str, Value>,
        secrets: HashMap<&'static str, String>,
    }

    impl Settings {
        fn new(values: &[(&'static str, Value)], secrets: &[(&'static str, &str)]) -> Self {
            Self {
                values: values.iter().cloned().collect(),
                secrets: secrets.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            }
        }
    }

    impl View for Settings {
        fn value(&self, field: &str) -> Option<&Value> {
            self.values.get(field)
        }
        fn secret_is_set(&self, field: &str) -> bool {
            self.secrets.contains_key(field)
        }
        fn secret_value(&self, field: &str) -> Option<&str> {
            self.secrets.get(field).map(String::as_str)
        }
    }

    fn check(slug: &str, view: &Settings) -> Vec<FieldError> {
        let provider = crate::accounts::find(slug).expect("declared");
        let mut errors = Vec::new();
        for rule in provider.rules {
            if let crate::accounts::spec::Rule::Check(check) = rule {
                check(view, &mut errors);
            }
        }
        errors
    }

    fn mode(slug: &str, view: &Settings) -> Option<Mode> {
        crate::accounts::find(slug)
            .and_then(|p| p.mode)
            .and_then(|mode| mode(view))
    }

    #[test]
    fn paidy_keys_must_be_of_one_mode() {
        let mixed = Settings::new(
            &[("public_key", "pk_test_abc".into())],
            &[("secret_key", "sk_live_abc")],
        );
        let errors = check("paidy", &mixed);
        assert_eq!(errors.len(), 1);
        assert_eq!(
            (errors[0].field.as_str(), errors[0].code.as_str()),
            ("secret_key", "mode_mismatch")
        );
        let live = Settings::new(
            &[("public_key", "pk_live_abc".into())],
            &[("secret_key", "sk_live_abc")],
        );
        assert!(check("paidy", &live).is_empty());
        assert_eq!(mode("paidy", &live), Some(Mode::Live));
    }

    #[test]
    fn modes_follow_keys_and_flags() {
        let none = Settings::new(&[], &[]);
        assert_eq!(mode("paypal", &none), Some(Mode::Test));
        let paypal_live = Settings::new(&[("sandbox", false.into())], &[]);
        assert_eq!(mode("paypal", &paypal_live), Some(Mode::Live));
        assert_eq!(mode("o-plux", &none), Some(Mode::Test));
        let production = Settings::new(&[("endpoint", "production".into())], &[]);
        assert_eq!(mode("o-plux", &production), Some(Mode::Live));
        let amazon = Settings::new(&[("public_key_id", "LIVE-AHEGSJCM3YQ4KBDVKVYQCSJE".into())], &[]);
        assert_eq!(mode("amazon-pay-v2", &amazon), Some(Mode::Live));
        assert_eq!(mode("amazon-pay-v2", &none), None);
        assert_eq!(mode("veritrans", &none), None);
    }

    #[test]
    fn paygent_certificate_must_be_the_keys() {
        let issued = rcgen::generate_simple_self_signed(vec!["paygent.example.jp".into()]).expect("certificate");
        let other = rcgen::KeyPair::generate().expect("key");
        let certificate: Value = issued.cert.pem().into();
        let own_key = issued.signing_key.serialize_pem();
        let other_key = other.serialize_pem();

        let matching = Settings::new(
            &[("client_certificate", certificate.clone())],
            &[("private_key", &own_key)],
        );
        assert!(check("paygent", &matching).is_empty());
        let mismatched = Settings::new(&[("client_certificate", certificate)], &[("private_key", &other_key)]);
        let errors = check("paygent", &mismatched);
        assert_eq!(errors.len(), 1);
        assert_eq!(
            (errors[0].field.as_str(), errors[0].code.as_str()),
            ("client_certificate", "key_mismatch")
        );
    }

    #[test]
    fn paygent_ignores_unreadable_pem() {
        let garbage = Settings::new(
            &[("client_certificate", "not pem".into())],
            &[("private_key", "not pem")],
        );
        assert!(check("paygent", &garbage).is_empty());
    }
}
