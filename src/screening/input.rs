//! The buyer's data as a Japanese checkout types it, parsed once when the request is read.
//! Parsing never refuses: a value is either usable (normalised: NFKC, then the field's
//! own rules) or unusable, in which case it is left out of the O-PLUX event and named in
//! the answer's warnings. The order number is the exception: it identifies the record,
//! so a malformed one is refused.

use std::{fmt, marker::PhantomData, net::IpAddr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use unicode_normalization::UnicodeNormalization;

use crate::core::FieldError;

/// Why a value cannot be used, in words for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unusable {
    pub code: &'static str,
    /// What was expected, e.g. "a Japanese phone number of 10 or 11 digits".
    pub expected: &'static str,
}

impl Unusable {
    /// The warning for `field`: it was left out, and what was expected.
    pub fn warning(&self, field: &str) -> FieldError {
        FieldError::new(
            field,
            self.code,
            format!("{field} was left out of the O-PLUX event: expected {}", self.expected),
        )
    }
}

/// A value read leniently from what the buyer typed.
pub trait Lenient: Sized {
    fn parse(text: &str) -> Result<Self, Unusable>;
}

/// What was typed (kept, so that a replay is compared with what was sent) and what it
/// stands for when usable.
#[derive(Clone, PartialEq, Eq)]
pub struct Typed<T> {
    text: String,
    value: Result<T, Unusable>,
}

impl<T: Lenient> Typed<T> {
    pub fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        let value = T::parse(&text);
        Self { text, value }
    }
}

impl<T> Typed<T> {
    pub fn usable(&self) -> Option<&T> {
        self.value.as_ref().ok()
    }

    pub fn unusable(&self) -> Option<&Unusable> {
        self.value.as_ref().err()
    }

    pub fn as_typed(&self) -> &str {
        &self.text
    }
}

/// Never shows what was typed (personal data): only whether it is usable.
impl<T> fmt::Debug for Typed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Ok(_) => f.write_str("Typed(usable)"),
            Err(unusable) => write!(f, "Typed(unusable: {})", unusable.code),
        }
    }
}

impl<T> Serialize for Typed<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de, T: Lenient> Deserialize<'de> for Typed<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text<T>(PhantomData<T>);
        impl<T: Lenient> serde::de::Visitor<'_> for Text<T> {
            type Value = Typed<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E>(self, text: &str) -> Result<Typed<T>, E> {
                Ok(Typed::new(text))
            }
        }
        deserializer.deserialize_str(Text(PhantomData))
    }
}

/// NFKC (full-width digits, letters and hyphens become half-width), trimmed.
pub fn nfkc(text: &str) -> String {
    text.nfkc().collect::<String>().trim().to_string()
}

/// Hyphens and dashes a Japanese buyer types between digits (after NFKC), and spaces.
fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '-' | '‐' | '‑' | '‒' | '–' | '—' | '―' | '−' | 'ー' | 'ｰ')
}

/// A Japanese phone number as domestic digits (`0` first, 10 or 11 digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tel(String);

impl Tel {
    pub fn digits(&self) -> &str {
        &self.0
    }

    /// Mobile numbers start 070, 080 or 090.
    pub fn is_mobile(&self) -> bool {
        ["070", "080", "090"].iter().any(|p| self.0.starts_with(p))
    }
}

impl Lenient for Tel {
    /// `０９０－１２３４－５６７８`, `+81 90-1234-5678`, `(03) 1234-5678` → domestic digits.
    fn parse(text: &str) -> Result<Self, Unusable> {
        let unusable = Unusable {
            code: "invalid_format",
            expected: "a Japanese phone number of 10 or 11 digits",
        };
        let compact: String = nfkc(text)
            .chars()
            .filter(|c| !is_separator(*c) && !matches!(c, '(' | ')'))
            .collect();
        let international = compact
            .strip_prefix("+81")
            .or_else(|| compact.strip_prefix("81").filter(|_| !compact.starts_with('0')));
        let digits = match international {
            // `+81 (0)3 …`: the trunk 0 is already there.
            Some(rest) if rest.starts_with('0') => rest.to_string(),
            Some(rest) => format!("0{rest}"),
            None => compact,
        };
        let domestic = digits.starts_with('0') && digits.bytes().all(|b| b.is_ascii_digit());
        if domestic && (10..=11).contains(&digits.len()) {
            Ok(Tel(digits))
        } else {
            Err(unusable)
        }
    }
}

/// A Japanese postcode as 7 digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zipcode(String);

impl Zipcode {
    pub fn digits(&self) -> &str {
        &self.0
    }
}

impl Lenient for Zipcode {
    /// `〒150-0001`, `１５０－０００１` → `1500001`.
    fn parse(text: &str) -> Result<Self, Unusable> {
        let digits: String = nfkc(text).chars().filter(|c| !is_separator(*c) && *c != '〒').collect();
        if digits.len() == 7 && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Zipcode(digits))
        } else {
            Err(Unusable {
                code: "invalid_format",
                expected: "a postcode of 7 digits",
            })
        }
    }
}

/// An e-mail address: trimmed, its domain lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    local: String,
    domain: String,
}

impl Email {
    pub fn local(&self) -> &str {
        &self.local
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }
}

impl Lenient for Email {
    fn parse(text: &str) -> Result<Self, Unusable> {
        let text = nfkc(text);
        match text.rsplit_once('@') {
            Some((local, domain))
                if !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !text.chars().any(char::is_whitespace) =>
            {
                Ok(Email {
                    local: local.to_string(),
                    domain: domain.to_lowercase(),
                })
            }
            _ => Err(Unusable {
                code: "invalid_format",
                expected: "an e-mail address",
            }),
        }
    }
}

/// The buyer's IP address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ip(pub IpAddr);

impl Lenient for Ip {
    fn parse(text: &str) -> Result<Self, Unusable> {
        nfkc(text).parse().map(Ip).map_err(|_| Unusable {
            code: "invalid_format",
            expected: "an IPv4 or IPv6 address",
        })
    }
}

/// The first 6 to 8 digits of the card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardBin(String);

impl CardBin {
    pub fn digits(&self) -> &str {
        &self.0
    }
}

impl Lenient for CardBin {
    fn parse(text: &str) -> Result<Self, Unusable> {
        let digits: String = nfkc(text).chars().filter(|c| !is_separator(*c)).collect();
        if (6..=8).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(CardBin(digits))
        } else {
            Err(Unusable {
                code: "invalid_format",
                expected: "the first 6 to 8 digits of the card",
            })
        }
    }
}

/// The browser fingerprint O-PLUX's tag writes (the `fraudbuster` value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(String);

/// The most O-PLUX takes as `device_info`.
pub const FINGERPRINT_MAX_CHARS: usize = 2000;

impl Fingerprint {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Lenient for Fingerprint {
    fn parse(text: &str) -> Result<Self, Unusable> {
        let text = text.trim();
        match text.chars().count() {
            0 => Err(Unusable {
                code: "required",
                expected: "the fraudbuster value of O-PLUX's tag (it is empty)",
            }),
            1..=FINGERPRINT_MAX_CHARS => Ok(Fingerprint(text.to_string())),
            _ => Err(Unusable {
                code: "too_long",
                expected: "at most 2000 characters",
            }),
        }
    }
}

/// The shop's order number (O-PLUX's 加盟店管理ID): 1–64 letters, digits, '-' or '_'.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrderNumber(String);

impl OrderNumber {
    pub fn parse(text: &str) -> Option<OrderNumber> {
        let valid = (1..=64).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        valid.then(|| OrderNumber(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrderNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_become_domestic_digits() {
        for (typed, digits) in [
            ("09012345678", "09012345678"),
            ("090-1234-5678", "09012345678"),
            ("０９０－１２３４－５６７８", "09012345678"),
            ("+81 90-1234-5678", "09012345678"),
            ("+819012345678", "09012345678"),
            ("81-90-1234-5678", "09012345678"),
            ("+81 (0)3-1234-5678", "0312345678"),
            ("(03) 1234-5678", "0312345678"),
            ("03 1234 5678", "0312345678"),
            ("090ー1234ー5678", "09012345678"),
            ("090−1234−5678", "09012345678"),
            (" 0312345678 ", "0312345678"),
        ] {
            assert_eq!(Tel::parse(typed).map(|t| t.0), Ok(digits.to_string()), "{typed}");
        }
    }

    #[test]
    fn phone_numbers_that_cannot_be_used() {
        for typed in [
            "12345",
            "",
            "090-1234",
            "090123456789",
            "9012345678",
            "090-1234-abcd",
            "+1 415 555 0100",
        ] {
            assert!(Tel::parse(typed).is_err(), "{typed}");
        }
    }

    #[test]
    fn mobile_numbers_start_070_080_090() {
        assert!(Tel::parse("080-1234-5678").unwrap().is_mobile());
        assert!(!Tel::parse("03-1234-5678").unwrap().is_mobile());
        assert!(!Tel::parse("050-1234-5678").unwrap().is_mobile());
    }

    #[test]
    fn postcodes_become_seven_digits() {
        for (typed, digits) in [
            ("1500001", "1500001"),
            ("150-0001", "1500001"),
            ("〒150-0001", "1500001"),
            ("〒 150-0001", "1500001"),
            ("１５０－０００１", "1500001"),
            ("〒１５０ー０００１", "1500001"),
        ] {
            assert_eq!(Zipcode::parse(typed).map(|z| z.0), Ok(digits.to_string()), "{typed}");
        }
        for typed in ["15", "150-00011", "", "abc-defg"] {
            assert!(Zipcode::parse(typed).is_err(), "{typed}");
        }
    }

    #[test]
    fn emails_are_trimmed_with_the_domain_lower_cased() {
        let email = Email::parse("  Taro.Yamada@Example.JP ").unwrap();
        assert_eq!((email.local(), email.domain()), ("Taro.Yamada", "example.jp"));
        let wide = Email::parse("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ").unwrap();
        assert_eq!((wide.local(), wide.domain()), ("taro", "example.jp"));
        for typed in [
            "not-an-email",
            "@example.jp",
            "taro@localhost",
            "taro@",
            "ta ro@example.jp",
        ] {
            assert!(Email::parse(typed).is_err(), "{typed}");
        }
    }

    #[test]
    fn ip_addresses_card_bins_and_fingerprints() {
        assert!(Ip::parse("203.0.113.9").is_ok());
        assert!(Ip::parse("2001:db8::1").is_ok());
        assert!(Ip::parse("203.0.113").is_err());
        assert_eq!(CardBin::parse("４１１１ １１").map(|b| b.0), Ok("411111".into()));
        assert!(CardBin::parse("4111").is_err());
        assert!(Fingerprint::parse(&"f".repeat(2000)).is_ok());
        assert_eq!(Fingerprint::parse(&"f".repeat(2001)).unwrap_err().code, "too_long");
        assert!(Fingerprint::parse(" ").is_err());
    }

    #[test]
    fn a_typed_value_keeps_what_was_typed_and_never_shows_it() {
        let tel: Typed<Tel> = serde_json::from_str(r#""+81 90-1234-5678""#).unwrap();
        assert_eq!(tel.usable().map(Tel::digits), Some("09012345678"));
        assert_eq!(serde_json::to_string(&tel).unwrap(), r#""+81 90-1234-5678""#);
        assert!(!format!("{tel:?}").contains("1234"));
        let bad: Typed<Tel> = Typed::new("12345");
        assert_eq!(
            bad.unusable().unwrap().warning("customer.tel").message,
            "customer.tel was left out of the O-PLUX event: expected a Japanese phone number of 10 or 11 digits"
        );
    }

    #[test]
    fn order_numbers_are_letters_digits_hyphens_and_underscores() {
        assert!(OrderNumber::parse("R0000123").is_some());
        assert!(OrderNumber::parse("a-b_c").is_some());
        assert!(OrderNumber::parse(&"x".repeat(64)).is_some());
        for bad in ["", "BAD 1", "Ｒ1", &"x".repeat(65)] {
            assert!(OrderNumber::parse(bad).is_none(), "{bad}");
        }
    }
}
