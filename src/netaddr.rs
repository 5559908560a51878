//! IP addresses and CIDR ranges in firewall rules (Event Hub `ipMask`, storage `ipRules.value`)
//! and in the config's collector egress list.

use std::net::IpAddr;

use ipnet::IpNet;

/// Parses `198.51.100.7` or `198.51.100.0/24` (a bare address is a /32 or /128).
pub fn parse_cidr(s: &str) -> Option<IpNet> {
    let s = s.trim();
    if let Ok(n) = s.parse::<IpNet>() {
        return Some(n);
    }
    s.parse::<IpAddr>().ok().map(IpNet::from)
}

/// Whether a firewall rule (address or range) admits every address of `egress`.
pub fn rule_allows(rule: &str, egress: &str) -> bool {
    match (parse_cidr(rule), parse_cidr(egress)) {
        (Some(r), Some(e)) => r.contains(&e),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_contain_addresses() {
        assert!(rule_allows("198.51.100.0/24", "198.51.100.7"));
        assert!(rule_allows("198.51.100.7", "198.51.100.7/32"));
        assert!(!rule_allows("198.51.100.0/25", "198.51.100.200"));
        assert!(!rule_allows("garbage", "198.51.100.7"));
    }
}
