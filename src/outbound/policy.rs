//! Where renkei may send requests. A tenant's settings can name URLs (an O-PLUX stand-in,
//! webhook endpoints), so without a gate a token could make renkei call its own network:
//! the database, a metadata service, a Docker socket.
//!
//! - Every URL a tenant sets or renkei calls is read by one parser, the `url` crate, as
//!   the WHATWG URL standard reads it ([`parse_url`]): `2130706433`, `0x7f.1`, `127.1`,
//!   `0177.0.0.1` and `0` are IPv4 addresses and are checked as addresses; `host.` is
//!   `host`. The parsed [`Url`] that was checked is the one handed to the HTTP client, so
//!   the check and the connection cannot read it differently.
//! - A URL a tenant configures must have an origin (`scheme://host:port`) the operator
//!   listed in `RENKEI_OUTBOUND_ALLOWLIST` ([`OutboundPolicy::check_configured_url`]).
//! - Every client built here ([`OutboundPolicy::client_builder`]) resolves names through
//!   [`GuardedResolver`], which drops loopback, private, link-local, unique-local,
//!   IPv4-mapped and other special addresses unless the host is allow-listed, so DNS cannot
//!   smuggle a target in; IP hosts are checked before sending
//!   ([`OutboundPolicy::check_request`]); redirects are never followed.
//! - What a tenant sees of a failure is [`Failure`]: unreachable, timed out, or the remote's
//!   HTTP status — never an address or an error chain. Logs name a URL by [`redacted`]
//!   (no user info, no query string).

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use url::Host;
pub use url::Url;

/// What a URL that is refused is expected to look like.
const EXPECTED: &str = "an http(s) URL such as https://example.jp:8443/path";

/// Reads a URL a tenant sets or renkei calls: `http` or `https`, a host, no user info, no
/// port 0, nothing the parser would silently drop (white space, control characters). A
/// host's trailing dot is removed (`host.` is `host`). The message says what is expected
/// and does not repeat the URL (it may carry a secret in its query string).
pub fn parse_url(text: &str) -> Result<Url, String> {
    let refused = |why: &str| format!("the URL must be {EXPECTED}{why}");
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(refused(", without white space"));
    }
    let mut url = Url::parse(text).map_err(|_| refused(""))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refused(""));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refused(", without user info (user@ or user:password@)"));
    }
    if url.port() == Some(0) {
        return Err(refused(", with a port from 1 to 65535"));
    }
    let trimmed = match url.host() {
        Some(Host::Domain(domain)) => {
            let name = domain.strip_suffix('.').unwrap_or(domain);
            let valid = !name.is_empty()
                && name.split('.').all(|label| {
                    !label.is_empty()
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                });
            if !valid {
                return Err(refused(", with a host name of letters, digits, '-' and '.'"));
            }
            (name.len() != domain.len()).then(|| name.to_string())
        }
        Some(Host::Ipv4(_) | Host::Ipv6(_)) => None,
        None => return Err(refused("")),
    };
    if let Some(name) = trimmed {
        url.set_host(Some(&name)).map_err(|_| refused(""))?;
    }
    Ok(url)
}

/// A URL as logs may show it: `scheme://host:port/path`, without user info, query
/// string or fragment (they may carry secrets).
pub fn redacted(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port_or_known_default() {
        Some(port) => format!("{}://{host}:{port}{}", url.scheme(), url.path()),
        None => format!("{}://{host}{}", url.scheme(), url.path()),
    }
}

/// A URL given as text, as logs may show it (see [`redacted`]); text that is not a URL is
/// shown as `(not a URL)`.
pub fn redacted_text(url: &str) -> String {
    Url::parse(url).map_or_else(|_| "(not a URL)".to_string(), |url| redacted(&url))
}

/// `scheme://host:port`, lower-cased, the port always explicit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    scheme: String,
    host: Host<String>,
    port: u16,
}

impl Origin {
    /// The origin of a URL [`parse_url`] accepted.
    pub fn of(url: &Url) -> Self {
        let host = match url.host() {
            Some(Host::Ipv4(ip)) => Host::Ipv4(ip),
            Some(Host::Ipv6(ip)) => Host::Ipv6(ip),
            Some(Host::Domain(name)) => Host::Domain(name.trim_end_matches('.').to_ascii_lowercase()),
            None => Host::Domain(String::new()),
        };
        Self {
            scheme: url.scheme().to_string(),
            host,
            port: url.port_or_known_default().unwrap_or_default(),
        }
    }

    /// The origin of an `http(s)://host[:port][/path]` URL.
    pub fn of_url(url: &str) -> Result<Self, String> {
        parse_url(url).map(|url| Self::of(&url))
    }

    /// The host as a URL writes it (IPv6 in brackets).
    pub fn host(&self) -> String {
        self.host.to_string()
    }

    /// The host as an IP address, when it is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self.host {
            Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
            Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
            Host::Domain(_) => None,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// Why a URL may not be called. The message is for the operator's log and for the tenant
/// who configured the URL (it names no address renkei resolved, and no query string).
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

/// What kind of transport failure `err` is, for renkei's log. Never log a
/// `reqwest::Error` itself: its text holds the whole URL, query string included.
pub fn error_kind(err: &reqwest::Error) -> &'static str {
    if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "cannot connect"
    } else if err.is_body() || err.is_decode() {
        "malformed answer"
    } else if err.is_redirect() {
        "redirect refused"
    } else {
        "transport error"
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

    /// Parses `RENKEI_OUTBOUND_ALLOWLIST`: comma-separated origins (a path, query or
    /// fragment is refused, so that nobody believes the list limits paths).
    pub fn parse_list(value: &str) -> Result<Vec<Origin>, String> {
        value
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                let url = parse_url(entry).map_err(|message| format!("'{entry}': {message}"))?;
                if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
                    return Err(format!(
                        "'{entry}' must be an origin scheme://host:port, without a path"
                    ));
                }
                Ok(Origin::of(&url))
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

    /// Whether a name the resolver is asked about is an allow-listed host (any port).
    fn allows_name(&self, name: &str) -> bool {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.allowed.iter().any(|o| match &o.host {
            Host::Domain(host) => *host == name,
            Host::Ipv4(ip) => name.parse::<Ipv4Addr>().is_ok_and(|n| n == *ip),
            Host::Ipv6(ip) => name
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<Ipv6Addr>()
                .is_ok_and(|n| n == *ip),
        })
    }

    /// A base URL a tenant configures (an O-PLUX stand-in): its origin must be
    /// allow-listed. Returns the parsed URL.
    pub fn check_configured_url(&self, url: &str) -> Result<Url, Refusal> {
        let url = parse_url(url).map_err(Refusal::NotAUrl)?;
        let origin = Origin::of(&url);
        if self.allows(&origin) {
            Ok(url)
        } else {
            Err(Refusal::NotAllowed {
                origin: origin.to_string(),
            })
        }
    }

    /// A URL a tenant gives for renkei to deliver to (webhooks): an allow-listed
    /// origin, or https on a host that is not an internal address. Returns the parsed URL:
    /// hand that one to the HTTP client.
    pub fn check_delivery_url(&self, url: &str) -> Result<Url, Refusal> {
        let url = parse_url(url).map_err(Refusal::NotAUrl)?;
        self.check_delivery(&url)?;
        Ok(url)
    }

    /// [`Self::check_delivery_url`] of a URL already parsed.
    pub fn check_delivery(&self, url: &Url) -> Result<(), Refusal> {
        if self.allows(&Origin::of(url)) {
            return Ok(());
        }
        if url.scheme() != "https" {
            return Err(Refusal::NotAUrl("the URL must be an https URL".into()));
        }
        self.check_request(url)
    }

    /// A URL as text, parsed and checked just before a request ([`Self::check_request`]).
    /// Returns the parsed URL: hand that one to the HTTP client.
    pub fn check_request_url(&self, url: &str) -> Result<Url, Refusal> {
        let url = parse_url(url).map_err(Refusal::NotAUrl)?;
        self.check_request(&url)?;
        Ok(url)
    }

    /// Just before a request: an allow-listed origin passes; otherwise an IP host must be
    /// public, and a name must not be `localhost` nor an allow-listed host on another port
    /// (the resolver would let it through). Names are then checked address by address by
    /// the resolver.
    pub fn check_request(&self, url: &Url) -> Result<(), Refusal> {
        let origin = Origin::of(url);
        if self.allows(&origin) {
            return Ok(());
        }
        let internal = match &origin.host {
            Host::Ipv4(ip) => is_special(IpAddr::V4(*ip)),
            Host::Ipv6(ip) => is_special(IpAddr::V6(*ip)),
            Host::Domain(name) => is_localhost(name) || self.allows_name(name),
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

/// `localhost` and its subdomains always name the machine itself (RFC 6761).
fn is_localhost(name: &str) -> bool {
    name == "localhost" || name.ends_with(".localhost")
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
        let trusted = self.policy.allows_name(&host);
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

    /// Hosts the WHATWG standard reads as 127.0.0.1 (or 0.0.0.0), and loopback names.
    const HOSTILE_HOSTS: [&str; 9] = [
        "2130706433",
        "0x7f.1",
        "127.1",
        "0177.0.0.1",
        "0x7f000001",
        "0",
        "127.0.0.1.",
        "localhost.",
        "[::ffff:7f00:1]",
    ];

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
        assert_eq!(
            Origin::of_url("http://stand-in.example.jp.:8080/").unwrap().to_string(),
            "http://stand-in.example.jp:8080"
        );
        for bad in [
            "ftp://x",
            "http://",
            "http://user@host",
            "http://user:pw@host",
            "http://h:0",
            "http://h:99999",
            "http://a b",
            "http://a\tb",
            "http://./",
        ] {
            assert!(Origin::of_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hosts_are_read_as_the_whatwg_standard_reads_them() {
        for (url, ip) in [
            ("http://2130706433:1/", "127.0.0.1"),
            ("http://0x7f.1:1/", "127.0.0.1"),
            ("http://127.1:1/", "127.0.0.1"),
            ("http://0177.0.0.1:1/", "127.0.0.1"),
            ("http://0:1/", "0.0.0.0"),
            ("http://127.0.0.1.:1/", "127.0.0.1"),
        ] {
            assert_eq!(Origin::of_url(url).unwrap().ip(), Some(ip.parse().unwrap()), "{url}");
        }
        assert_eq!(
            parse_url("https://hooks.example.jp./x").unwrap().as_str(),
            "https://hooks.example.jp/x"
        );
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
        assert!(policy.check_configured_url("https://stand-in.example.jp./base").is_ok());
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
        for host in HOSTILE_HOSTS {
            let url = format!("http://{host}:18091/");
            assert!(policy.check_configured_url(&url).is_err(), "{url}");
        }
    }

    #[test]
    fn a_list_entry_with_a_path_is_refused() {
        assert!(OutboundPolicy::parse_list("https://a.example.jp/api").is_err());
        assert!(OutboundPolicy::parse_list("https://a.example.jp/?x").is_err());
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
    fn internal_hosts_are_refused_before_sending_however_written() {
        let policy = policy("http://127.0.0.1:18090");
        assert!(policy.check_request_url("http://127.0.0.1:18090/v3/event").is_ok());
        assert!(
            policy.check_request_url("http://2130706433:18090/v3/event").is_ok(),
            "the same origin"
        );
        assert!(policy.check_request_url("http://127.0.0.1:2375/").is_err());
        assert!(policy.check_request_url("https://api.tst.o-plux.com/v3/event").is_ok());
        for host in HOSTILE_HOSTS {
            let url = format!("https://{host}:2375/");
            assert!(policy.check_request_url(&url).is_err(), "{url}");
        }
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
            "https://localhost/",
            "https://a.localhost/",
            "https://user:pw@hooks.example.jp/",
        ] {
            assert!(policy.check_delivery_url(refused).is_err(), "{refused}");
        }
        for host in HOSTILE_HOSTS {
            let url = format!("https://{host}/hook");
            assert!(policy.check_delivery_url(&url).is_err(), "{url}");
        }
    }

    #[test]
    fn redacted_urls_keep_no_user_info_query_or_fragment() {
        let url = Url::parse("https://user:pw@hooks.example.jp/renkei?token=s3cret#frag").unwrap();
        assert_eq!(redacted(&url), "https://hooks.example.jp:443/renkei");
        assert_eq!(redacted_text("http://127.0.0.1:9/x?k=v"), "http://127.0.0.1:9/x");
        assert_eq!(redacted_text("not a url ?k=v"), "(not a URL)");
    }

    #[test]
    fn refusals_do_not_repeat_the_url() {
        let policy = OutboundPolicy::default();
        for url in [
            "https://user:s3cret@hooks.example.jp/",
            "ftp://x/?token=s3cret",
            "https://10.0.0.5/?token=s3cret",
        ] {
            let message = policy.check_delivery_url(url).unwrap_err().to_string();
            assert!(!message.contains("s3cret"), "{message}");
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
        assert!(listed.policy.allows_name("LocalHost."), "host. is host");
    }
}
