//! The client's address: the TCP peer, unless the peer is one of our own proxies
//! (IMMS_TRUSTED_PROXIES), in which case X-Forwarded-For is read from the right, skipping
//! our proxies, so a client cannot choose its address (and its country) by sending the header.

use std::net::IpAddr;
use std::str::FromStr;

use axum::http::HeaderMap;
use ipnet::IpNet;

use crate::WebError;

#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Comma-separated CIDRs or bare addresses; empty means no proxy is trusted.
    pub fn parse(list: &str) -> Result<TrustedProxies, WebError> {
        let mut nets = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let net = match IpNet::from_str(item) {
                Ok(net) => net,
                Err(_) => IpAddr::from_str(item)
                    .map(IpNet::from)
                    .map_err(|_| WebError::Config(format!("not a CIDR or address: {item:?}")))?,
            };
            nets.push(net);
        }
        Ok(TrustedProxies(nets))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        let hops: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| IpAddr::from_str(s.trim()).ok())
            .map(canonical)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            client = *hop;
            if !self.contains(*hop) {
                break;
            }
        }
        client
    }
}

/// IPv4 addresses arriving on a dual-stack socket as ::ffff:a.b.c.d are IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    #[test]
    fn untrusted_peer_header_is_ignored() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let ip = proxies.client_ip("203.0.113.9".parse().unwrap(), &headers("198.51.100.1"));
        assert_eq!(ip, "203.0.113.9".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn trusted_peer_gives_rightmost_untrusted_hop() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 127.0.0.1").unwrap();
        // The client wrote a spoofed first hop; our proxies appended the real one.
        let ip = proxies.client_ip(
            "10.1.2.3".parse().unwrap(),
            &headers("1.2.3.4, 198.51.100.7, 10.9.9.9"),
        );
        assert_eq!(ip, "198.51.100.7".parse::<IpAddr>().unwrap());
        let mapped = proxies.client_ip("::ffff:127.0.0.1".parse().unwrap(), &headers("192.0.2.5"));
        assert_eq!(mapped, "192.0.2.5".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn bad_lists_are_refused() {
        assert!(TrustedProxies::parse("").unwrap().0.is_empty());
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.example").is_err());
    }
}
