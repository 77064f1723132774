//! Where renkei may send requests. A tenant's settings can name URLs (an O-PLUX stand-in
//! today, webhook endpoints next), so without a gate an `accounts:write` token could make
//! renkei call its own network: the database, a metadata service, a Docker socket.
//!
//! - A URL a tenant configures must have an origin (`scheme://host:port`) the operator
//!   listed in `RENKEI_OUTBOUND_ALLOWLIST` ([`OutboundPolicy::check_configured_url`]).
//! - Every client built here ([`OutboundPolicy::client_builder`]) resolves names through
//!   [`GuardedResolver`], which drops loopback, private, link-local, unique-local,
//!   IPv4-mapped and other special addresses unless the host is allow-listed, so DNS cannot
//!   smuggle a target in; literal IPs are checked before sending
//!   ([`OutboundPolicy::check_request_url`]); redirects are never followed.
//! - What a tenant sees of a failure is [`Failure`]: unreachable, timed out, or the remote's
//!   HTTP status — never an address or an error chain.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

/// `scheme://host:port`, lower-cased, the port always explicit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    /// The origin of an `http(s)://host[:port][/path]` URL. IPv6 hosts keep their brackets.
    pub fn of_url(url: &str) -> Result<Self, String> {
        let expected = || format!("'{url}' is not an http(s) URL such as https://oplux.example.jp:8443");
        let (scheme, rest) = url.split_once("://").ok_or_else(expected)?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return Err(expected()),
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.is_empty() || authority.contains('@') {
            return Err(expected());
        }
        let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
            let (ip, after) = inner.split_once(']').ok_or_else(expected)?;
            ip.parse::<Ipv6Addr>().map_err(|_| expected())?;
            (format!("[{}]", ip.to_ascii_lowercase()), after.strip_prefix(':'))
        } else {
            match authority.split_once(':') {
                Some((host, port)) => (host.to_ascii_lowercase(), Some(port)),
                None => (authority.to_ascii_lowercase(), None),
            }
        };
        let port = match port {
            None => default_port,
            Some(port) => port.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(expected)?,
        };
        let valid_host = host.starts_with('[')
            || (!host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_'));
        if !valid_host {
            return Err(expected());
        }
        Ok(Self { scheme, host, port })
    }

    /// The host as a URL writes it (IPv6 in brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The host as an IP address, when it is one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.trim_start_matches('[').trim_end_matches(']').parse().ok()
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// Why a URL may not be called. The message is for the operator's log and for the tenant
/// who configured the URL (it names no address renkei resolved).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    NotAUrl(String),
    #[error("{origin} is not an allowed destination: ask the operator to add it to RENKEI_OUTBOUND_ALLOWLIST")]
    NotAllowed { origin: String },
    #[error("{origin} is an internal address")]
    Internal { origin: String },
}

/// What a tenant may see of a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    Unreachable,
    TimedOut,
}

impl Failure {
    pub fn of(err: &reqwest::Error) -> Self {
        if err.is_timeout() {
            Self::TimedOut
        } else {
            Self::Unreachable
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unreachable => "unreachable",
            Self::TimedOut => "timed out",
        }
    }
}

/// The operator's allow-list of origins. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy {
    allowed: Arc<[Origin]>,
}

impl OutboundPolicy {
    pub fn new(allowed: impl IntoIterator<Item = Origin>) -> Self {
        let mut list: Vec<Origin> = allowed.into_iter().collect();
        list.dedup();
        Self { allowed: list.into() }
    }

    /// Parses `RENKEI_OUTBOUND_ALLOWLIST`: comma-separated origins (a path is refused, so
    /// that nobody believes the list limits paths).
    pub fn parse_list(value: &str) -> Result<Vec<Origin>, String> {
        value
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                let origin = Origin::of_url(entry)?;
                let rest = entry.split_once("://").map_or("", |(_, r)| r);
                if rest.contains(['/', '?', '#']) && !rest.ends_with('/') {
                    return Err(format!(
                        "'{entry}' must be an origin scheme://host:port, without a path"
                    ));
                }
                Ok(origin)
            })
            .collect()
    }

    /// The same policy with one more allowed origin.
    pub fn with(&self, origin: Origin) -> Self {
        Self::new(self.allowed.iter().cloned().chain([origin]))
    }

    pub fn origins(&self) -> &[Origin] {
        &self.allowed
    }

    pub fn allows(&self, origin: &Origin) -> bool {
        self.allowed.contains(origin)
    }

    fn allows_host(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        let bracketed = format!("[{host}]");
        self.allowed.iter().any(|o| o.host == host || o.host == bracketed)
    }

    /// A base URL a tenant configures (an O-PLUX stand-in, later a webhook target): its
    /// origin must be allow-listed.
    pub fn check_configured_url(&self, url: &str) -> Result<Origin, Refusal> {
        let origin = Origin::of_url(url).map_err(Refusal::NotAUrl)?;
        if self.allows(&origin) {
            Ok(origin)
        } else {
            Err(Refusal::NotAllowed {
                origin: origin.to_string(),
            })
        }
    }

    /// A URL a tenant gives for renkei to deliver to (webhooks, SPEC 9): an allow-listed
    /// origin, or https on a host that is not an internal address.
    pub fn check_delivery_url(&self, url: &str) -> Result<Origin, Refusal> {
        let origin = Origin::of_url(url).map_err(Refusal::NotAUrl)?;
        if self.allows(&origin) {
            return Ok(origin);
        }
        if origin.scheme != "https" {
            return Err(Refusal::NotAUrl(format!("'{url}' must be an https URL")));
        }
        self.check_request_url(url)?;
        Ok(origin)
    }

    /// Just before a request: an allow-listed origin passes; otherwise a literal IP must be
    /// public, and a name must not be an allow-listed host on another port (the resolver
    /// would let it through). Names are then checked address by address by the resolver.
    pub fn check_request_url(&self, url: &str) -> Result<(), Refusal> {
        let origin = Origin::of_url(url).map_err(Refusal::NotAUrl)?;
        if self.allows(&origin) {
            return Ok(());
        }
        let internal = match origin.ip() {
            Some(ip) => is_special(ip),
            None => self.allows_host(&origin.host),
        };
        if internal {
            return Err(Refusal::Internal {
                origin: origin.to_string(),
            });
        }
        Ok(())
    }

    /// A reqwest client builder with this policy: guarded DNS, no redirects, no proxy
    /// from the environment (it would connect on our behalf, past the resolver).
    pub fn client_builder(&self) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver { policy: self.clone() }))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
    }
}

/// Whether an address is anything but an ordinary public unicast address.
pub fn is_special(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_special_v4(v4),
        IpAddr::V6(v6) => is_special_v6(v6),
    }
}

fn is_special_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..=127).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

fn is_special_v6(ip: Ipv6Addr) -> bool {
    // ::ffff:a.b.c.d reaches the IPv4 host: refused outright, no public endpoint is
    // written that way, and it would dodge checks written for IPv4.
    if ip.to_ipv4_mapped().is_some() {
        return true;
    }
    let segments = ip.segments();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00 // unique local
        || (segments[0] & 0xffc0) == 0xfe80 // link local
        || (segments[0] & 0xffc0) == 0xfec0 // site local (deprecated)
        || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
        || (segments[0] == 0x0064 && segments[1] == 0xff9b) // NAT64
        || segments[0] == 0x2002 // 6to4
        || (segments[0] == 0x2001 && segments[1] == 0) // Teredo
        || segments[..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible
}

/// Resolves names as the system does, then keeps only public addresses unless the host is
/// allow-listed.
struct GuardedResolver {
    policy: OutboundPolicy,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        let trusted = self.policy.allows_host(&host);
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let usable: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|a| trusted || !is_special(a.ip()))
                .collect();
            if usable.is_empty() {
                tracing::warn!(host = %host, "outbound call refused: the name resolves only to internal addresses");
                return Err(Box::new(Refusal::Internal { origin: host }) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(usable.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(list: &str) -> OutboundPolicy {
        OutboundPolicy::new(OutboundPolicy::parse_list(list).unwrap())
    }

    #[test]
    fn origins_are_normalised_with_an_explicit_port() {
        assert_eq!(
            Origin::of_url("HTTPS://Api.Example.jp/v3").unwrap().to_string(),
            "https://api.example.jp:443"
        );
        assert_eq!(
            Origin::of_url("http://127.0.0.1:18090").unwrap().to_string(),
            "http://127.0.0.1:18090"
        );
        assert_eq!(
            Origin::of_url("http://[::1]:80/").unwrap().to_string(),
            "http://[::1]:80"
        );
        for bad in [
            "ftp://x",
            "http://",
            "http://user@host",
            "http://h:0",
            "http://h:99999",
            "http://a b",
        ] {
            assert!(Origin::of_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_listed_origins_may_be_configured() {
        let policy = policy("http://127.0.0.1:18090, https://stand-in.example.jp");
        assert!(policy.check_configured_url("http://127.0.0.1:18090/").is_ok());
        assert!(
            policy
                .check_configured_url("https://stand-in.example.jp:443/base")
                .is_ok()
        );
        for refused in [
            "http://127.0.0.1:18091",
            "http://localhost:18090",
            "http://169.254.169.254/latest/meta-data",
            "http://10.0.0.5:2375",
            "http://[::ffff:127.0.0.1]:18090",
            "https://example.com",
            "http://stand-in.example.jp",
        ] {
            assert!(policy.check_configured_url(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn a_list_entry_with_a_path_is_refused() {
        assert!(OutboundPolicy::parse_list("https://a.example.jp/api").is_err());
        assert!(OutboundPolicy::parse_list("https://a.example.jp/").is_ok());
    }

    #[test]
    fn special_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.0.0.5",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:8.8.8.8",
            "64:ff9b::a00:1",
        ] {
            assert!(is_special(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "203.0.114.1", "2606:4700::1111"] {
            assert!(!is_special(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn literal_internal_addresses_are_refused_before_sending() {
        let policy = policy("http://127.0.0.1:18090");
        assert!(policy.check_request_url("http://127.0.0.1:18090/v3/event").is_ok());
        assert!(policy.check_request_url("http://127.0.0.1:2375/").is_err());
        assert!(policy.check_request_url("http://[::ffff:7f00:1]/").is_err());
        assert!(policy.check_request_url("https://api.tst.o-plux.com/v3/event").is_ok());
    }

    #[test]
    fn delivery_urls_are_https_on_public_hosts_or_listed() {
        let policy = policy("http://127.0.0.1:18090");
        assert!(policy.check_delivery_url("https://hooks.example.jp/renkei").is_ok());
        assert!(policy.check_delivery_url("http://127.0.0.1:18090/hook").is_ok());
        for refused in [
            "http://hooks.example.jp/",
            "https://10.0.0.5/",
            "https://[::1]/",
            "https://127.0.0.1:18091/",
        ] {
            assert!(policy.check_delivery_url(refused).is_err(), "{refused}");
        }
    }

    #[tokio::test]
    async fn the_resolver_drops_internal_addresses_of_names_not_listed() {
        use reqwest::dns::Resolve;
        let name = |n: &str| n.parse::<reqwest::dns::Name>().unwrap();
        let refused = GuardedResolver {
            policy: OutboundPolicy::default(),
        };
        assert!(refused.resolve(name("localhost")).await.is_err());
        let listed = GuardedResolver {
            policy: policy("http://localhost:18090"),
        };
        assert!(listed.resolve(name("localhost")).await.is_ok());
    }
}
