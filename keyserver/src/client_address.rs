//! The client's address, for the audit row and the request log alike: the
//! TCP peer, unless the peer is one of the configured `trusted_proxies`;
//! only then are `Forwarded` (RFC 7239 `for=`) or, without it,
//! `X-Forwarded-For` read, from the right (the hop nearest to us), skipping
//! trusted proxies, and the first address that is not one is the client. A
//! hop that does not parse (`unknown`, an obfuscated name, garbage) stops
//! the walk at the last trusted proxy: never guess. A header from any other
//! peer is ignored, so nobody can put another address into the audit log.

use std::net::IpAddr;

use actix_web::HttpRequest;
use actix_web::http::header::{FORWARDED, HeaderMap, HeaderName};
use ipnet::IpNet;

/// The `X-Forwarded-For` header.
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The proxies whose forwarding headers are believed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses a comma-separated list of CIDRs or addresses
    /// (`10.0.0.0/8, 192.168.1.7, ::1`); empty trusts nobody.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("trusted_proxies: {s:?} is not an address or a CIDR"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request from `peer` with `headers` (pure).
    pub fn client(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let mut client = canonical(peer?);
        if !self.contains(client) {
            return Some(client);
        }
        for hop in hops(headers).iter().rev() {
            match hop {
                Some(ip) => {
                    client = canonical(*ip);
                    if !self.contains(client) {
                        break;
                    }
                }
                None => break,
            }
        }
        Some(client)
    }
}

/// The client address of `req`, with the server's trusted proxies (none
/// when the request carries no server state).
pub fn of(req: &HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr().map(|a| a.ip());
    match proxies(req) {
        Some(trusted) => trusted.client(peer, req.headers()),
        None => peer,
    }
}

/// Whether `req` came from one of the server's trusted proxies (then its
/// other forwarding headers, host and scheme, may be believed too).
pub fn via_trusted_proxy(req: &HttpRequest) -> bool {
    match (req.peer_addr(), proxies(req)) {
        (Some(peer), Some(trusted)) => trusted.contains(peer.ip()),
        _ => false,
    }
}

fn proxies(req: &HttpRequest) -> Option<&TrustedProxies> {
    req.app_data::<actix_web::web::Data<crate::state::AppState>>()
        .map(|state| &state.trusted_proxies)
}

/// IPv4 addresses mapped into IPv6 compare as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The forwarded-for chain, leftmost (farthest) first; `None` for a hop
/// that is not an address. `Forwarded` wins over `X-Forwarded-For`.
fn hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let joined = |name: &HeaderName| {
        let values: Vec<&str> = headers
            .get_all(name)
            .map(|v| v.to_str().unwrap_or("\u{0}"))
            .collect();
        (!values.is_empty()).then(|| values.join(","))
    };
    if let Some(forwarded) = joined(&FORWARDED) {
        return forwarded
            .split(',')
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.trim().split_once('='))
                    .find(|(k, _)| k.eq_ignore_ascii_case("for"))
                    .and_then(|(_, v)| node(v.trim().trim_matches('"')))
            })
            .collect();
    }
    joined(&X_FORWARDED_FOR)
        .map(|xff| xff.split(',').map(|h| node(h.trim())).collect())
        .unwrap_or_default()
}

/// An address from a hop: `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]`,
/// `[2001:db8::1]:4711` or a bare IPv6 address.
fn node(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    let (host, port) = s.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let t = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let h = headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=5.6.7.8")]);
        assert_eq!(t.client(ip("192.0.2.9"), &h), ip("192.0.2.9"));
        assert_eq!(
            TrustedProxies::default().client(ip("10.0.0.1"), &h),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_client_nearest_hop_first() {
        let t = TrustedProxies::parse("10.0.0.0/8, 127.0.0.1").unwrap();
        // A spoofed entry from the client sits left of the real one.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.1.1.1")]);
        assert_eq!(t.client(ip("127.0.0.1"), &h), ip("198.51.100.7"));
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        assert_eq!(t.client(ip("10.0.0.2"), &h), ip("198.51.100.7"));
        // Forwarded wins, with quotes, ports and IPv6.
        let h = headers(&[
            (
                "forwarded",
                "for=6.6.6.6, for=\"[2001:db8::17]:4711\";proto=https",
            ),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        assert_eq!(t.client(ip("10.0.0.2"), &h), ip("2001:db8::17"));
        let h = headers(&[("forwarded", "for=192.0.2.60:8080;by=10.0.0.2")]);
        assert_eq!(t.client(ip("::ffff:10.0.0.2"), &h), ip("192.0.2.60"));
    }

    #[test]
    fn an_unreadable_hop_stops_at_the_last_trusted_proxy() {
        let t = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let h = headers(&[("x-forwarded-for", "198.51.100.7, unknown, 10.0.0.3")]);
        assert_eq!(t.client(ip("10.0.0.2"), &h), ip("10.0.0.3"));
        let h = headers(&[("forwarded", "for=_hidden")]);
        assert_eq!(t.client(ip("10.0.0.2"), &h), ip("10.0.0.2"));
        // Only proxies all the way: the farthest one.
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 10.0.0.3")]);
        assert_eq!(t.client(ip("10.0.0.2"), &h), ip("10.9.9.9"));
    }

    #[test]
    fn bad_lists_are_refused_by_name() {
        assert!(TrustedProxies::parse("").unwrap().0.is_empty());
        let err = TrustedProxies::parse("10.0.0.0/8, proxy.example").unwrap_err();
        assert!(err.contains("proxy.example"), "{err}");
    }
}
