//! The guard on links taken from fetched content (followed articles and their
//! redirects): they may reach only public addresses. Names are checked where
//! they are resolved, so the address checked is the address connected to;
//! IP literals, which never reach a resolver, are checked before each hop.

use std::error::Error;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// A link that leads somewhere feedwatch will not go on a publisher's word.
#[derive(Debug, Clone)]
pub struct Refused {
    /// The name as written; empty for an IP literal.
    pub host: String,
    pub addr: IpAddr,
    pub kind: &'static str,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.is_empty() {
            write!(f, "{} is a {} address", self.addr, self.kind)
        } else {
            write!(
                f,
                "{} resolves to {}, a {} address",
                self.host, self.addr, self.kind
            )
        }
    }
}

impl Error for Refused {}

/// What kind of non-public address `ip` is, or `None` when it is public.
pub fn private_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => v6_kind(v6),
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    let kind = match (a, b, c) {
        (0, _, _) => "\"this network\"",
        (127, _, _) => "loopback",
        (10, _, _) | (192, 168, _) => "private",
        (172, 16..=31, _) => "private",
        (169, 254, _) => "link-local",
        (100, 64..=127, _) => "shared (CGNAT)",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved",
        (192, 0, 0) => "IETF protocol",
        (198, 18..=19, _) => "benchmarking",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        _ => return None,
    };
    Some(kind)
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    let segments = ip.segments();
    // Addresses that carry an IPv4 address are judged by it.
    let embedded =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_kind(v4).map(|_| "IPv4-mapped private");
    }
    match segments {
        [0, 0, 0, 0, 0, 0, 0, 0] => return Some("unspecified"),
        [0, 0, 0, 0, 0, 0, 0, 1] => return Some("loopback"),
        // IPv4-compatible (deprecated) and NAT64 forms.
        [0, 0, 0, 0, 0, 0, hi, lo] | [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => {
            return v4_kind(embedded(hi, lo)).map(|_| "IPv4-embedded private");
        }
        // 6to4 carries the IPv4 address in its second and third segments.
        [0x2002, hi, lo, ..] => return v4_kind(embedded(hi, lo)).map(|_| "6to4 private"),
        _ => {}
    }
    let first = segments[0];
    match first {
        f if f & 0xfe00 == 0xfc00 => Some("private (unique local)"),
        f if f & 0xffc0 == 0xfe80 => Some("link-local"),
        f if f & 0xffc0 == 0xfec0 => Some("site-local"),
        f if f & 0xff00 == 0xff00 => Some("multicast"),
        0x2001 if segments[1] == 0x0db8 => Some("documentation"),
        _ => None,
    }
}

fn refuse(host: &str, addr: IpAddr) -> Result<(), Refused> {
    match private_kind(addr) {
        Some(kind) => Err(Refused {
            host: host.to_string(),
            addr,
            kind,
        }),
        None => Ok(()),
    }
}

/// Checks a URL whose host is an IP literal; names are left to the resolver.
pub fn check_literal(url: &Url) -> Result<(), Refused> {
    match url.host() {
        Some(Host::Ipv4(v4)) => refuse("", IpAddr::V4(v4)),
        Some(Host::Ipv6(v6)) => refuse("", IpAddr::V6(v6)),
        _ => Ok(()),
    }
}

/// The system resolver, keeping only public addresses. A name that resolves
/// to nothing else is refused.
#[derive(Debug, Default)]
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let public: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match refuse(&host, a.ip()) {
                    Ok(()) => true,
                    Err(r) => {
                        refused.get_or_insert(r);
                        false
                    }
                })
                .collect();
            match (public.is_empty(), refused) {
                (true, Some(r)) => Err(Box::new(r) as Box<dyn Error + Send + Sync>),
                _ => Ok(Box::new(public.into_iter()) as Addrs),
            }
        })
    }
}

/// The refusal somewhere in an error's causes, however deeply wrapped.
pub fn refusal_in<'a>(err: &'a (dyn Error + 'static)) -> Option<&'a Refused> {
    let mut current = Some(err);
    while let Some(cause) = current {
        if let Some(found) = cause.downcast_ref::<Refused>() {
            return Some(found);
        }
        current = match cause.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn Error + 'static)),
            None => cause.source(),
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(s: &str) -> Option<&'static str> {
        private_kind(s.parse().unwrap_or_else(|e| panic!("{s}: {e}")))
    }

    #[test]
    fn non_public_addresses_are_named() {
        for (addr, expected) in [
            ("127.0.0.1", "loopback"),
            ("127.255.1.2", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "shared (CGNAT)"),
            ("100.127.255.254", "shared (CGNAT)"),
            ("224.0.0.1", "multicast"),
            ("0.0.0.0", "\"this network\""),
            ("255.255.255.255", "reserved"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fc00::1", "private (unique local)"),
            ("fd12:3456::1", "private (unique local)"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
            ("::ffff:127.0.0.1", "IPv4-mapped private"),
            ("::ffff:10.0.0.1", "IPv4-mapped private"),
            ("::ffff:169.254.169.254", "IPv4-mapped private"),
            ("64:ff9b::7f00:1", "IPv4-embedded private"),
            ("2002:c0a8:0101::1", "6to4 private"),
        ] {
            assert_eq!(kind(addr), Some(expected), "{addr}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for addr in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "151.101.1.1",
            "::ffff:8.8.8.8",
            "2606:4700::1111",
            "2002:0808:0808::1",
        ] {
            assert_eq!(kind(addr), None, "{addr}");
        }
    }

    #[test]
    fn literals_are_checked_however_they_are_spelled() {
        for url in [
            "http://127.0.0.1/",
            "http://127.1/",
            "http://0x7f.0.0.1/",
            "http://2130706433/",
            "http://[::1]:8080/",
            "http://[::ffff:7f00:1]/",
            "http://169.254.169.254/latest/meta-data/",
        ] {
            let parsed = Url::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert!(check_literal(&parsed).is_err(), "{url}");
        }
        let public = Url::parse("http://93.184.216.34/").unwrap_or_else(|e| panic!("{e}"));
        assert!(check_literal(&public).is_ok());
    }

    #[tokio::test]
    async fn names_of_loopback_addresses_are_refused() {
        let name: Name = "localhost".parse().unwrap_or_else(|_| panic!("name"));
        let err = PublicOnly.resolve(name).await.err();
        let err = err.unwrap_or_else(|| panic!("localhost was allowed"));
        assert!(refusal_in(err.as_ref()).is_some(), "{err}");
    }
}
