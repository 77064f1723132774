//! Normalising and checking one field's value against its declared kind. Text is
//! trimmed; formatted text (patterns, digits, codes, URLs…) first has full-width ASCII
//! converted to half-width, as shop operators often paste it from Japanese documents.

use std::{collections::HashMap, net::IpAddr, sync::Mutex};

use regex::Regex;
use serde_json::{Value, json};

use super::{
    pem,
    spec::{Field, Kind},
};
use crate::core::FieldError;

/// `is_dns_label` as a JSON Schema pattern.
pub const DNS_LABEL_PATTERN: &str = "^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$";
/// `is_hostname` as a JSON Schema pattern (with `maxLength: 253`).
pub const HOSTNAME_PATTERN: &str =
    r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$";
/// A UUID as `Kind::Uuid` takes it (any case).
pub const UUID_PATTERN: &str = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$";
/// `is_url(_, false)` as a JSON Schema pattern: a host with a dot, `localhost` or a
/// bracketed IPv6 address with a port; a port up to 65535; no white space.
pub const HTTP_URL_PATTERN: &str = concat!(
    r"^https?://",
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+(?::0*(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?",
    r"|localhost(?::0*(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?",
    r"|\[[0-9A-Fa-f:.]+\]:0*(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))",
    r"(?:[/?#][^\s\u0000-\u001F\u007F-\u009F]*)?$"
);
/// `is_url(_, true)` as a JSON Schema pattern.
pub const HTTPS_URL_PATTERN: &str = concat!(
    r"^https://",
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+(?::0*(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?",
    r"|localhost(?::0*(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?",
    r"|\[[0-9A-Fa-f:.]+\]:0*(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))",
    r"(?:[/?#][^\s\u0000-\u001F\u007F-\u009F]*)?$"
);

/// An IPv4 address as `Ipv4Addr` reads it (no leading zeros).
const IPV4: &str =
    r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}";

/// `IpAddr` as a JSON Schema pattern: IPv4, or IPv6 with or without `::` and with an
/// IPv4 tail, as Rust's parser takes them (no zone id).
pub fn ip_address_pattern() -> String {
    const H: &str = "[0-9A-Fa-f]{1,4}";
    let mut alternatives = vec![
        IPV4.to_string(),
        format!("(?:{H}:){{7}}{H}"),
        format!("(?:{H}:){{6}}{IPV4}"),
    ];
    // `::` stands for one or more groups: `left` groups before it, at most the rest after.
    for left in 0..=7usize {
        let head = if left == 0 {
            String::new()
        } else {
            format!("(?:{H}:){{{}}}{H}", left - 1)
        };
        let tail = if left == 7 {
            String::new()
        } else {
            format!("(?:{H}(?::{H}){{0,{}}})?", 6 - left)
        };
        alternatives.push(format!("{head}::{tail}"));
        if left <= 5 {
            alternatives.push(format!("{head}::(?:{H}:){{0,{}}}{IPV4}", 5 - left));
        }
    }
    format!("^(?:{})$", alternatives.join("|"))
}

/// The pattern of `is_url(_, https_only)`.
pub const fn url_pattern(https_only: bool) -> &'static str {
    if https_only {
        HTTPS_URL_PATTERN
    } else {
        HTTP_URL_PATTERN
    }
}

/// Full-width ASCII (U+FF01–U+FF5E) and the ideographic space to their half-width forms.
pub fn to_half_width(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect()
}

/// The normalised value, or what is wrong with it. `path` names the field in errors.
pub fn parse(field: &Field, path: &str, value: &Value) -> Result<Value, FieldError> {
    let invalid = |code: &str, message: String| FieldError::new(path, code, message);
    match field.kind {
        Kind::Bool => value
            .as_bool()
            .map(Value::Bool)
            .ok_or_else(|| invalid("invalid_type", format!("{path} must be true or false"))),
        Kind::Integer { min, max } => {
            // A JSON integer (12800.0 is one too); a digit string is not.
            let number = match value {
                Value::Number(n) => n.as_i64().or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0)
                        .map(|f| f as i64)
                }),
                _ => None,
            };
            match number {
                Some(n) if (min..=max).contains(&n) => Ok(Value::from(n)),
                None if !value.is_number() => Err(invalid(
                    "invalid_type",
                    format!("{path} must be a whole number from {min} to {max} (a JSON number, not a string)"),
                )),
                _ => Err(invalid(
                    "out_of_range",
                    format!("{path} must be a whole number from {min} to {max}"),
                )),
            }
        }
        Kind::ResultAction => parse_result_action(path, value),
        _ => {
            let Some(text) = value.as_str() else {
                return Err(invalid("invalid_type", format!("{path} must be a string")));
            };
            parse_text(field.kind, path, text).map(Value::String)
        }
    }
}

fn parse_text(kind: Kind, path: &str, raw: &str) -> Result<String, FieldError> {
    let invalid = |code: &str, message: String| FieldError::new(path, code, message);
    let formatted = !matches!(kind, Kind::Text { .. } | Kind::Certificate | Kind::PrivateKey { .. });
    let text = if formatted {
        to_half_width(raw).trim().to_string()
    } else {
        raw.trim().to_string()
    };
    if text.is_empty() {
        return Err(invalid("required", format!("{path} must not be empty")));
    }
    match kind {
        Kind::Text { max } => {
            if text.chars().count() > max {
                return Err(invalid("too_long", format!("{path} must be at most {max} characters")));
            }
            if text.chars().any(char::is_control) {
                return Err(invalid("invalid_format", format!("{path} must be one line of text")));
            }
        }
        Kind::Pattern { regex, expected } => {
            if !matches_anchored(regex, &text) {
                return Err(invalid("invalid_format", format!("{path} must be {expected}")));
            }
        }
        Kind::IpAddress => {
            if text.parse::<IpAddr>().is_err() {
                return Err(invalid(
                    "invalid_format",
                    format!("{path} must be an IP address such as 192.0.2.10"),
                ));
            }
        }
        Kind::Hostname => {
            let text = text.to_ascii_lowercase();
            if !is_hostname(&text) {
                return Err(invalid(
                    "invalid_format",
                    format!("{path} must be a host name such as secure.example.jp (no scheme or path)"),
                ));
            }
            return Ok(text);
        }
        Kind::Url { https_only } => {
            if !is_url(&text, https_only) {
                let scheme = if https_only { "an https" } else { "an http(s)" };
                return Err(invalid(
                    "invalid_format",
                    format!("{path} must be {scheme} URL such as https://example.jp/path"),
                ));
            }
        }
        Kind::Uuid => {
            let lower = text.to_ascii_lowercase();
            if !matches_anchored("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", &lower) {
                return Err(invalid(
                    "invalid_format",
                    format!("{path} must be a UUID such as 0f8fad5b-d9cb-469f-a165-70867728950e"),
                ));
            }
            return Ok(lower);
        }
        Kind::DnsLabel => {
            let lower = text.to_ascii_lowercase();
            if !is_dns_label(&lower) {
                return Err(invalid(
                    "invalid_format",
                    format!("{path} must be a subdomain of letters, digits and inner hyphens (at most 63)"),
                ));
            }
            return Ok(lower);
        }
        Kind::OneOf(values) => {
            if !values.contains(&text.as_str()) {
                return Err(invalid(
                    "invalid_value",
                    format!("{path} must be one of: {}", values.join(", ")),
                ));
            }
        }
        Kind::Certificate => {
            pem::certificate(&text).map_err(|message| invalid("invalid_certificate", format!("{path}: {message}")))?;
        }
        Kind::PrivateKey { rsa_only } => {
            let key =
                pem::private_key(&text).map_err(|message| invalid("invalid_key", format!("{path}: {message}")))?;
            if rsa_only && !key.is_rsa() {
                return Err(invalid("invalid_key", format!("{path} must be an RSA private key")));
            }
        }
        Kind::OpluxEndpoint => {
            if !(text == "test" || text == "production" || is_base_url(&text)) {
                return Err(invalid(
                    "invalid_value",
                    format!("{path} must be test, production, or the http(s) base URL of an O-PLUX stand-in"),
                ));
            }
            return Ok(text.trim_end_matches('/').to_string());
        }
        Kind::Bool | Kind::Integer { .. } | Kind::ResultAction => unreachable!("not text kinds"),
    }
    Ok(text)
}

/// A URL renkei will call (an O-PLUX stand-in `endpoint`) must have an origin the
/// operator allowed (`RENKEI_OUTBOUND_ALLOWLIST`); other kinds pass unchanged.
pub fn check_outbound(
    field: &Field,
    value: Value,
    outbound: &crate::outbound::OutboundPolicy,
) -> Result<Value, FieldError> {
    match (field.kind, value.as_str()) {
        (Kind::OpluxEndpoint, Some(url)) if url != "test" && url != "production" => {
            match outbound.check_configured_url(url) {
                Ok(_) => Ok(value),
                Err(refusal) => Err(FieldError::new(
                    field.name,
                    "not_allowed",
                    format!(
                        "{} must be test, production, or the base URL of an O-PLUX stand-in the operator \
                         allowed: {refusal}",
                        field.name
                    ),
                )),
            }
        }
        _ => Ok(value),
    }
}

/// `{action: "redirect"|"create_order", redirect_url}`; a redirect needs its URL.
fn parse_result_action(path: &str, value: &Value) -> Result<Value, FieldError> {
    let Some(object) = value.as_object() else {
        return Err(FieldError::new(
            path,
            "invalid_type",
            format!("{path} must be an object {{action, redirect_url}}"),
        ));
    };
    if let Some(unknown) = object.keys().find(|k| *k != "action" && *k != "redirect_url") {
        return Err(FieldError::new(
            format!("{path}.{unknown}"),
            "unknown_field",
            format!("unknown field '{unknown}'; expected action, redirect_url"),
        ));
    }
    let action = match object.get("action").and_then(Value::as_str).map(str::trim) {
        Some(a @ ("redirect" | "create_order")) => a.to_string(),
        _ => {
            return Err(FieldError::new(
                format!("{path}.action"),
                "invalid_value",
                format!("{path}.action must be redirect or create_order"),
            ));
        }
    };
    let url = match object.get("redirect_url") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => {
            let url = to_half_width(s).trim().to_string();
            if !is_url(&url, false) {
                return Err(FieldError::new(
                    format!("{path}.redirect_url"),
                    "invalid_format",
                    format!("{path}.redirect_url must be an absolute http(s) URL"),
                ));
            }
            Some(url)
        }
        Some(_) => {
            return Err(FieldError::new(
                format!("{path}.redirect_url"),
                "invalid_type",
                format!("{path}.redirect_url must be a string"),
            ));
        }
    };
    if action == "redirect" && url.is_none() {
        return Err(FieldError::new(
            format!("{path}.redirect_url"),
            "required",
            format!("{path}.redirect_url is required when the action is redirect"),
        ));
    }
    Ok(json!({"action": action, "redirect_url": url}))
}

/// Whether all of `text` matches `regex`. Compiled regexes are kept: the patterns are
/// the few static ones of the declarations.
pub fn matches_anchored(regex: &'static str, text: &str) -> bool {
    static CACHE: Mutex<Option<HashMap<&'static str, Regex>>> = Mutex::new(None);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let compiled = cache
        .get_or_insert_with(HashMap::new)
        .entry(regex)
        .or_insert_with(|| Regex::new(&format!("^(?:{regex})$")).expect("declared patterns are valid regexes"));
    compiled.is_match(text)
}

pub fn is_dns_label(text: &str) -> bool {
    (1..=63).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-')
}

pub fn is_hostname(text: &str) -> bool {
    text.len() <= 253 && text.contains('.') && text.split('.').all(is_dns_label)
}

/// An absolute http(s) URL, read by the one URL parser (`outbound::parse_url`, the
/// WHATWG reading): no user info, no white space, and a host that is a name with a dot,
/// `localhost` or an IP address.
pub fn is_url(text: &str, https_only: bool) -> bool {
    let Ok(url) = crate::outbound::parse_url(text) else {
        return false;
    };
    let host_ok = match url.host() {
        Some(url::Host::Domain(name)) => is_hostname(name) || name == "localhost",
        Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => true,
        None => false,
    };
    host_ok && (!https_only || url.scheme() == "https")
}

/// The base URL of an O-PLUX stand-in: an http(s) URL without query string or fragment.
fn is_base_url(text: &str) -> bool {
    is_url(text, false)
        && crate::outbound::parse_url(text).is_ok_and(|url| url.query().is_none() && url.fragment().is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_becomes_half_width() {
        assert_eq!(to_half_width("ｔｓｈｏｐ０００１２３"), "tshop000123");
        assert_eq!(to_half_width("ＡＢ－１\u{3000}"), "AB-1 ");
    }

    #[test]
    fn patterns_match_whole_values_only() {
        assert!(matches_anchored("[0-9]{3}", "123"));
        assert!(!matches_anchored("[0-9]{3}", "1234"));
        assert!(!matches_anchored("[0-9]{3}", "x123"));
    }

    #[test]
    fn urls_need_a_scheme_and_a_host() {
        assert!(is_url("https://example.jp/a?b=c", true));
        assert!(is_url("http://127.0.0.1:8081", false));
        assert!(!is_url("http://example.jp", true));
        assert!(!is_url("https://", false));
        assert!(!is_url("https://exa mple.jp", false));
        assert!(!is_url("javascript:alert(1)", false));
        assert!(!is_url("https://user:pw@example.jp/", false));
        assert!(is_url("http://[::1]/", false));
    }

    #[test]
    fn a_stand_in_base_url_has_no_query_or_fragment() {
        assert!(is_base_url("http://127.0.0.1:18090/base"));
        assert!(!is_base_url("http://127.0.0.1:18090/?x=1"));
        assert!(!is_base_url("http://127.0.0.1:18090/#x"));
    }

    #[test]
    fn the_schema_patterns_agree_with_the_checks() {
        let pattern = |p: &str| Regex::new(p).unwrap();
        // The patterns are a little stricter than the parser (an IPv6 host needs a port,
        // an empty port is refused): a form that follows them is always accepted.
        let samples = [
            "https://example.jp/a?b=c",
            "http://127.0.0.1:8081",
            "http://localhost:8080/x",
            "http://[::1]:8080/",
            "https://example.jp:65535",
            "https://example.jp:65536",
            "https://-bad.example.jp",
            "https://exa mple.jp",
            "https://user@example.jp",
            "https://example",
            "ftp://example.jp",
            "http://example.jp#frag ment",
        ];
        for https_only in [false, true] {
            let regex = pattern(url_pattern(https_only));
            for sample in samples {
                assert_eq!(
                    regex.is_match(sample),
                    is_url(sample, https_only),
                    "{sample} (https only: {https_only})"
                );
            }
        }
        let hostname = pattern(HOSTNAME_PATTERN);
        let label = pattern(DNS_LABEL_PATTERN);
        for sample in [
            "secure.example.jp",
            "example",
            "a-.example.jp",
            "1.2.3.4",
            "x..y",
            "EXAMPLE.JP",
        ] {
            assert_eq!(
                hostname.is_match(sample),
                is_hostname(&sample.to_ascii_lowercase()),
                "{sample}"
            );
            assert_eq!(
                label.is_match(sample),
                is_dns_label(&sample.to_ascii_lowercase()),
                "{sample}"
            );
        }
    }

    #[test]
    fn result_actions_need_a_url_to_redirect() {
        assert!(parse_result_action("on_ng", &json!({"action": "create_order"})).is_ok());
        let err = parse_result_action("on_ng", &json!({"action": "redirect"})).unwrap_err();
        assert_eq!(err.field, "on_ng.redirect_url");
        assert!(
            parse_result_action(
                "on_ng",
                &json!({"action": "redirect", "redirect_url": "https://x.jp/r"})
            )
            .is_ok()
        );
        assert_eq!(
            parse_result_action("on_ng", &json!({"action": "wait"}))
                .unwrap_err()
                .field,
            "on_ng.action"
        );
    }
}
