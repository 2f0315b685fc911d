//! The client's address, honouring `--trust-proxy` the way `proxy-addr`
//! does: start from the peer; while the current hop is a trusted proxy, step
//! one entry left in `X-Forwarded-For`. The first untrusted hop is the
//! client (or the leftmost entry when every hop is trusted).
//!
//! A trusted proxy is named as `proxy-addr` names them: a CIDR range, a
//! bare address (the range of that one address), or one of the names
//! `loopback`, `linklocal` and `uniquelocal`.

use std::{
    net::{IpAddr, SocketAddr},
    str::FromStr,
};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// One `--trust-proxy` entry: the ranges it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedProxy(Vec<IpNet>);

impl TrustedProxy {
    fn contains(&self, ip: &IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(ip))
    }
}

impl FromStr for TrustedProxy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let named: &[&str] = match text.trim().to_ascii_lowercase().as_str() {
            "loopback" => &["127.0.0.0/8", "::1/128"],
            "linklocal" => &["169.254.0.0/16", "fe80::/10"],
            "uniquelocal" => &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
            _ => &[],
        };
        if !named.is_empty() {
            let nets = named.iter().filter_map(|net| net.parse().ok()).collect();
            return Ok(TrustedProxy(nets));
        }
        let text = text.trim();
        if let Ok(net) = text.parse::<IpNet>() {
            return Ok(TrustedProxy(vec![net]));
        }
        match text.parse::<IpAddr>() {
            Ok(ip) => Ok(TrustedProxy(vec![IpNet::from(ip)])),
            Err(_) => Err(format!(
                "{text:?} is no address, CIDR range (10.0.0.0/8) or name \
                 (loopback, linklocal, uniquelocal)"
            )),
        }
    }
}

/// Whether a trusted proxy says the client spoke HTTPS to it
/// (`X-Forwarded-Proto: https`, its first value).
pub fn forwarded_https(peer: SocketAddr, headers: &HeaderMap, trusted: &[TrustedProxy]) -> bool {
    let peer = canonical(peer.ip());
    trusted.iter().any(|proxy| proxy.contains(&peer))
        && headers
            .get("x-forwarded-proto")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(',').next())
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

pub fn client_addr(peer: SocketAddr, headers: &HeaderMap, trusted: &[TrustedProxy]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|proxy| proxy.contains(ip));
    let mut current = canonical(peer.ip());
    if !is_trusted(&current) {
        return current;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in forwarded.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            // A malformed entry ends the trusted chain, as in proxy-addr.
            break;
        };
        current = canonical(ip);
        if !is_trusted(&current) {
            break;
        }
    }
    current
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) compare as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", xff.parse().unwrap());
        headers
    }

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 4000)
    }

    fn trusts(entry: &str, ip: &str) -> bool {
        let proxy: TrustedProxy = entry.parse().unwrap();
        proxy.contains(&ip.parse().unwrap())
    }

    #[test]
    fn a_proxy_is_a_range_a_bare_address_or_a_name() {
        assert!(trusts("127.0.0.1", "127.0.0.1"));
        assert!(
            !trusts("127.0.0.1", "127.0.0.2"),
            "a bare address is itself only"
        );
        assert!(trusts("::1", "::1"));
        assert!(trusts("10.0.0.0/8", "10.9.8.7"));
        assert!(trusts("loopback", "127.3.2.1") && trusts("Loopback", "::1"));
        assert!(trusts("linklocal", "169.254.1.1") && trusts("linklocal", "fe80::1"));
        for ip in [
            "10.1.1.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "fd00::1",
        ] {
            assert!(trusts("uniquelocal", ip), "{ip}");
        }
        assert!(!trusts("uniquelocal", "172.32.0.1") && !trusts("uniquelocal", "8.8.8.8"));
        let refused = "localhost".parse::<TrustedProxy>().unwrap_err();
        assert!(
            refused.contains("loopback"),
            "the message names what works: {refused}"
        );
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let addr = client_addr(peer("203.0.113.9"), &headers("1.1.1.1"), &[]);
        assert_eq!(addr.to_string(), "203.0.113.9");
    }

    #[test]
    fn trusted_proxies_are_skipped_from_the_right() {
        let trusted = [
            "127.0.0.1/32".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ];
        let addr = client_addr(
            peer("127.0.0.1"),
            &headers("198.51.100.1, 203.0.113.7, 10.1.2.3"),
            &trusted,
        );
        assert_eq!(addr.to_string(), "203.0.113.7");
    }

    #[test]
    fn when_every_hop_is_trusted_the_leftmost_is_the_client() {
        let trusted = ["0.0.0.0/0".parse().unwrap()];
        let addr = client_addr(peer("127.0.0.1"), &headers("10.0.0.1, 10.0.0.2"), &trusted);
        assert_eq!(addr.to_string(), "10.0.0.1");
    }
}
