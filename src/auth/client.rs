//! Who is calling: the client IP (believing `TRUST_PROXY` hops of `X-Forwarded-For`)
//! and the user agent, recorded on sessions.

use std::net::{IpAddr, Ipv6Addr};

use actix_web::HttpRequest;

#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Longest user agent kept; the rest is cut.
const MAX_USER_AGENT: usize = 512;

impl ClientInfo {
    pub fn from_request(req: &HttpRequest, trust_proxy: Option<usize>) -> ClientInfo {
        let peer = req.peer_addr().map(|a| a.ip());
        // Several header lines are one list, in order (RFC 9110, 5.3). A line that is not
        // text spoils the whole list: trusting only part of it could pick the wrong hop.
        let lines: Option<Vec<&str>> = req
            .headers()
            .get_all("x-forwarded-for")
            .map(|v| v.to_str().ok())
            .collect();
        let forwarded = lines.map(|l| l.join(","));
        let user_agent = req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(MAX_USER_AGENT).collect());
        ClientInfo {
            ip: client_ip(peer, forwarded.as_deref(), hops(trust_proxy, peer))
                .map(|ip| ip.to_string()),
            user_agent,
        }
    }
}

/// How many proxy hops to believe for a request from `peer`: `TRUST_PROXY` when it is
/// set; unset, one when the peer is a loopback or private address (a reverse proxy beside
/// Latch, LibreChat's usual setup) and none otherwise, so a client on the internet cannot
/// choose its own address.
pub fn hops(trust_proxy: Option<usize>, peer: Option<IpAddr>) -> usize {
    match trust_proxy {
        Some(n) => n,
        None => usize::from(peer.is_some_and(is_local)),
    }
}

/// Loopback, private (RFC 1918, RFC 4193) and link-local addresses.
fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_local(IpAddr::V4(v4)),
            None => {
                let first = v6.segments()[0];
                v6.is_loopback() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
            }
        },
    }
}

/// The bucket limits and automatic bans count an address in: an IPv6 address is its /64
/// (one subscriber is given a whole /64, and could otherwise take a new address for every
/// request), an IPv4 address itself.
pub fn ip_bucket(ip: &str) -> String {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            let net = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
            format!("{net}/64")
        }
        Ok(IpAddr::V6(v6)) => v6
            .to_ipv4_mapped()
            .map_or(ip.to_string(), |v4| v4.to_string()),
        _ => ip.to_string(),
    }
}

/// With `hops` trusted proxies in front, each appends the address it received from, so
/// the client is the `hops`-th entry from the right; anything further left was written
/// by the client itself and is not believed. When the list is shorter than `hops`, the
/// leftmost entry is the nearest the proxies vouch for. An entry that is not an address
/// falls back to the peer: never to a shared value that would put every client in one
/// bucket.
pub fn client_ip(peer: Option<IpAddr>, forwarded: Option<&str>, hops: usize) -> Option<IpAddr> {
    if hops == 0 {
        return peer;
    }
    let entries: Vec<&str> = forwarded
        .map(|f| {
            f.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if entries.is_empty() {
        return peer;
    }
    let index = entries.len().saturating_sub(hops);
    parse_hop(entries[index]).or(peer)
}

/// An address as proxies write it: bare, or with a port (`1.2.3.4:5678`, `[::1]:80`).
fn parse_hop(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse() {
        return Some(ip);
    }
    if let Ok(ip) = entry.trim_start_matches('[').trim_end_matches(']').parse() {
        return Some(ip);
    }
    entry.parse::<std::net::SocketAddr>().ok().map(|a| a.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_believes_one_hop_from_a_proxy_beside_latch_only() {
        let local: Option<IpAddr> = "127.0.0.1".parse().ok();
        let private: Option<IpAddr> = "10.1.2.3".parse().ok();
        let public: Option<IpAddr> = "203.0.113.9".parse().ok();
        assert_eq!(hops(None, local), 1);
        assert_eq!(hops(None, private), 1);
        assert_eq!(hops(None, "::1".parse().ok()), 1);
        assert_eq!(hops(None, "fd00::1".parse().ok()), 1);
        assert_eq!(hops(None, public), 0);
        assert_eq!(hops(None, "2001:db8::1".parse().ok()), 0);
        assert_eq!(hops(Some(0), local), 0);
        assert_eq!(hops(Some(2), public), 2);
    }

    #[test]
    fn ipv6_addresses_count_by_their_64() {
        assert_eq!(ip_bucket("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(ip_bucket("2001:db8:1:2:ffff::9"), "2001:db8:1:2::/64");
        assert_eq!(ip_bucket("1.2.3.4"), "1.2.3.4");
        assert_eq!(ip_bucket("::ffff:1.2.3.4"), "1.2.3.4");
    }

    #[test]
    fn believes_only_trusted_hops() {
        let peer: Option<IpAddr> = "10.0.0.1".parse().ok();
        let xff = Some("6.6.6.6, 1.2.3.4, 10.0.0.2");
        assert_eq!(client_ip(peer, xff, 0), peer);
        assert_eq!(client_ip(peer, xff, 1), "10.0.0.2".parse().ok());
        assert_eq!(client_ip(peer, xff, 2), "1.2.3.4".parse().ok());
        assert_eq!(client_ip(peer, Some("1.2.3.4"), 3), "1.2.3.4".parse().ok());
        assert_eq!(client_ip(peer, Some("garbage"), 1), peer);
        assert_eq!(client_ip(peer, None, 1), peer);
        assert_eq!(
            client_ip(peer, Some("1.2.3.4:5678"), 1),
            "1.2.3.4".parse().ok()
        );
        assert_eq!(client_ip(peer, Some("[::1]:80"), 1), "::1".parse().ok());
        assert_eq!(
            client_ip(peer, Some("[2001:db8::2]"), 1),
            "2001:db8::2".parse().ok()
        );
    }
}
