//! The client's address: the connecting peer's, or, when the peer is a
//! trusted reverse proxy, the one that proxy reports in its header.
//!
//! A header from anyone else is ignored, so a client cannot pick the address
//! that login throttling (and, later, request logs) see. `X-Forwarded-For` is
//! read from the right: each trusted proxy appends the address it was reached
//! from, so the first untrusted entry from the right is the client; entries
//! further left were written by the client itself.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName};
use ipnet::IpNet;

use crate::config::Settings;
use crate::error::AppError;
use crate::state::AppState;

/// Who is believed about client addresses, from the settings.
#[derive(Debug, Clone)]
pub struct ClientIps {
    proxies: Vec<IpNet>,
    header: HeaderName,
}

impl ClientIps {
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        let header = HeaderName::from_bytes(settings.client_ip_header.trim().as_bytes())
            .map_err(|_| anyhow::anyhow!("RAGWAY_CLIENT_IP_HEADER is not a header name"))?;
        Ok(Self {
            proxies: settings.proxies()?,
            header,
        })
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.proxies.iter().any(|net| net.contains(&ip))
    }

    /// The client's address for a request from `peer` with `headers`.
    pub fn resolve(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusted(peer) {
            return peer;
        }
        let mut values = headers
            .get_all(&self.header)
            .iter()
            .filter_map(|v| v.to_str().ok());
        if self.header != "x-forwarded-for" {
            // A one-address header; the last one is the nearest proxy's.
            return values
                .next_back()
                .and_then(|v| parse_hop(v.trim()))
                .unwrap_or(peer);
        }
        let hops: Vec<&str> = values.flat_map(|v| v.split(',')).map(str::trim).collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            match parse_hop(hop) {
                // A trusted hop: the address it was reached from is further left.
                Some(ip) if self.trusted(ip) => client = ip,
                Some(ip) => return ip,
                // Garbage: nothing to its left can be believed.
                None => return client,
            }
        }
        client
    }
}

/// An address as proxies write it: bare, `v4:port`, `[v6]` or `[v6]:port`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(addr) = hop.parse::<SocketAddr>() {
        return Some(canonical(addr.ip()));
    }
    hop.strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|v6| v6.parse::<IpAddr>().ok())
        .map(canonical)
}

/// IPv4 seen through an IPv6 socket (`::ffff:1.2.3.4`) as the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The calling client's address (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no peer address on the request")))?;
        Ok(ClientIp(state.client_ips.resolve(peer, &parts.headers)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ips(proxies: &[&str], header: &str) -> ClientIps {
        let settings = Settings {
            trusted_proxies: proxies.iter().map(ToString::to_string).collect(),
            client_ip_header: header.into(),
            ..Settings::default()
        };
        ClientIps::from_settings(&settings).unwrap()
    }

    fn headers(name: &str, values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let none = ips(&[], "x-forwarded-for");
        let forged = headers("x-forwarded-for", &["1.2.3.4"]);
        assert_eq!(none.resolve(ip("10.0.0.5"), &forged), ip("10.0.0.5"));
        // A trusted range that does not hold the peer changes nothing either.
        let other = ips(&["192.168.0.0/16"], "x-forwarded-for");
        assert_eq!(other.resolve(ip("10.0.0.5"), &forged), ip("10.0.0.5"));
    }

    #[test]
    fn forwarded_for_is_read_from_the_right_past_trusted_hops() {
        let ips = ips(&["10.0.0.0/8", "127.0.0.1"], "X-Forwarded-For");
        // The client wrote 6.6.6.6 itself; the edge proxy appended the real address.
        let h = headers("x-forwarded-for", &["6.6.6.6, 203.0.113.7, 10.1.2.3"]);
        assert_eq!(ips.resolve(ip("127.0.0.1"), &h), ip("203.0.113.7"));
        // Several header lines are one list.
        let h = headers("x-forwarded-for", &["6.6.6.6", "203.0.113.7:5123"]);
        assert_eq!(ips.resolve(ip("10.9.9.9"), &h), ip("203.0.113.7"));
        // IPv6, bracketed with a port.
        let h = headers("x-forwarded-for", &["[2001:db8::1]:443"]);
        assert_eq!(ips.resolve(ip("10.0.0.1"), &h), ip("2001:db8::1"));
        // Every hop trusted: the leftmost.
        let h = headers("x-forwarded-for", &["10.0.0.9, 10.0.0.8"]);
        assert_eq!(ips.resolve(ip("10.0.0.1"), &h), ip("10.0.0.9"));
        // Garbage stops the walk at the last believable hop.
        let h = headers("x-forwarded-for", &["1.1.1.1, unknown, 10.0.0.8"]);
        assert_eq!(ips.resolve(ip("10.0.0.1"), &h), ip("10.0.0.8"));
        // No header: the peer.
        assert_eq!(
            ips.resolve(ip("10.0.0.1"), &HeaderMap::new()),
            ip("10.0.0.1")
        );
        // IPv4 through an IPv6 socket counts as the IPv4 address.
        let h = headers("x-forwarded-for", &["198.51.100.2"]);
        assert_eq!(ips.resolve(ip("::ffff:127.0.0.1"), &h), ip("198.51.100.2"));
    }

    #[test]
    fn a_one_address_header_is_taken_whole() {
        let ips = ips(&["127.0.0.1"], "CF-Connecting-IP");
        let h = headers("cf-connecting-ip", &["198.51.100.2"]);
        assert_eq!(ips.resolve(ip("127.0.0.1"), &h), ip("198.51.100.2"));
        let h = headers("cf-connecting-ip", &["not an address"]);
        assert_eq!(ips.resolve(ip("127.0.0.1"), &h), ip("127.0.0.1"));
        // X-Forwarded-For is not read when another header is configured.
        let h = headers("x-forwarded-for", &["198.51.100.2"]);
        assert_eq!(ips.resolve(ip("127.0.0.1"), &h), ip("127.0.0.1"));
    }

    #[test]
    fn bad_settings_are_refused() {
        let settings = Settings {
            trusted_proxies: vec!["10.0.0.0/33".into()],
            ..Settings::default()
        };
        assert!(ClientIps::from_settings(&settings).is_err());
        let settings = Settings {
            client_ip_header: "bad header".into(),
            ..Settings::default()
        };
        assert!(ClientIps::from_settings(&settings).is_err());
    }
}
