//! Who is calling: the client IP (believing `TRUST_PROXY` hops of `X-Forwarded-For`)
//! and the user agent, recorded on sessions.

use std::net::IpAddr;

use actix_web::HttpRequest;

#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Longest user agent kept; the rest is cut.
const MAX_USER_AGENT: usize = 512;

impl ClientInfo {
    pub fn from_request(req: &HttpRequest, trust_proxy: usize) -> ClientInfo {
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
            ip: client_ip(peer, forwarded.as_deref(), trust_proxy).map(|ip| ip.to_string()),
            user_agent,
        }
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
