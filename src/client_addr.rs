//! The client's address, honouring `--trust-proxy` the way `proxy-addr`
//! does: start from the peer; while the current hop is a trusted proxy, step
//! one entry left in `X-Forwarded-For`. The first untrusted hop is the
//! client (or the leftmost entry when every hop is trusted).

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

pub fn client_addr(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
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
