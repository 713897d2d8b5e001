//! The target guard: which addresses a webhook may reach.
//!
//! A tenant chooses a webhook's URL and can read from its delivery history what answered
//! there, so without a guard a webhook is a way into the daemon's network: loopback
//! services, the cloud metadata endpoint on `169.254.169.254`, … Every address a delivery
//! would connect to is vetted against `webhooks.deny_targets` unless it is inside one of
//! `webhooks.allow_targets`:
//!
//! - at create and PATCH, a URL whose host is a literal IP address — in any form a URL
//!   parser accepts: `127.1`, `2130706433`, `0x7f.1`, `[::ffff:127.0.0.1]` — is refused
//!   ([`TargetGuard::check_url_host`]);
//! - before every connection, the resolved addresses are vetted, and the connection is
//!   made to a vetted address (`client`'s connector), so DNS rebinding cannot slip
//!   between the check and the connection. Of a name's addresses only allowed ones are
//!   used.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An address range, e.g. `127.0.0.0/8` or `fe80::/10`. A bare address is a range of one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    /// The network address (host bits cleared).
    network: IpAddr,
    /// Prefix length: 0–32 for IPv4, 0–128 for IPv6.
    prefix: u8,
}

impl Cidr {
    /// True if `ip` is inside this range (an IPv4 range never holds an IPv6 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = mask32(self.prefix);
                u32::from(ip) & mask == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = mask128(self.prefix);
                u128::from(ip) & mask == u128::from(net)
            }
            _ => false,
        }
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Cidr, String> {
        let bad = || format!("{text:?} is not a CIDR range like \"10.0.0.0/8\" or \"fd00::/8\"");
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let ip: IpAddr = address.parse().map_err(|_| bad())?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
        };
        let network = match ip {
            IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask32(prefix))),
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask128(prefix))),
        };
        if network != ip {
            return Err(format!(
                "{text:?} has host bits set; did you mean \"{network}/{prefix}\"?"
            ));
        }
        Ok(Cidr { network, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The setting that blocks denied addresses; named in every error about one.
pub const DENY_SETTING: &str = "webhooks.deny_targets";

/// An address the guard refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the target address {0} is blocked by webhooks.deny_targets (webhooks.allow_targets can let it through)")]
pub struct Blocked(pub IpAddr);

/// `webhooks.deny_targets` and `webhooks.allow_targets`, parsed at start-up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetGuard {
    deny: Vec<Cidr>,
    allow: Vec<Cidr>,
}

impl TargetGuard {
    /// A guard that refuses `deny` unless in `allow`.
    pub fn new(deny: Vec<Cidr>, allow: Vec<Cidr>) -> TargetGuard {
        TargetGuard { deny, allow }
    }

    /// Vets one address. An IPv6 address that carries an IPv4 address is vetted as that
    /// address too: a connection to it may reach it ([`embedded_ipv4`]).
    pub fn vet(&self, ip: IpAddr) -> Result<(), Blocked> {
        let embedded = match ip {
            IpAddr::V6(v6) => embedded_ipv4(v6).map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        let forms = [Some(ip), embedded];
        let inside = |ranges: &[Cidr]| {
            forms
                .iter()
                .flatten()
                .any(|&form| ranges.iter().any(|r| r.contains(form)))
        };
        if inside(&self.deny) && !inside(&self.allow) {
            return Err(Blocked(ip));
        }
        Ok(())
    }

    /// At create and PATCH: refuses a URL whose host is a denied literal address. The
    /// message names the field and the setting.
    pub fn check_url_host(&self, host: &str) -> Result<(), String> {
        match literal_ip(host)? {
            Some(ip) => self.vet(ip).map_err(|blocked| format!("url: {blocked}")),
            None => Ok(()),
        }
    }
}

/// The address a URL host names literally, read the way URL parsers (WHATWG) read it: a
/// bracketed IPv6 address, or an IPv4 address in 1–4 dot-separated parts, each decimal,
/// hex (`0x…`) or octal (leading `0`), the last filling the remaining bytes. `None` for a
/// domain name; `Err` for a host a URL parser refuses (a numeric-looking last part that
/// is not a valid address) or one that hides its form (percent-encoding).
pub fn literal_ip(host: &str) -> Result<Option<IpAddr>, String> {
    if let Some(inner) = host.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or_else(|| "url: an unclosed [ in the host".to_owned())?;
        return inner
            .parse::<Ipv6Addr>()
            .map(|ip| Some(IpAddr::V6(ip)))
            .map_err(|_| "url: not a valid IPv6 address in brackets".to_owned());
    }
    if host.contains(':') {
        // An IPv6 address some parsers hand over without its brackets.
        return host
            .parse::<Ipv6Addr>()
            .map(|ip| Some(IpAddr::V6(ip)))
            .map_err(|_| "url: not a valid host".to_owned());
    }
    if host.contains('%') {
        return Err("url: percent-encoded host names are not accepted".into());
    }
    let host = host.to_ascii_lowercase();
    let mut parts: Vec<&str> = host.split('.').collect();
    if parts.len() > 1 && parts.last() == Some(&"") {
        parts.pop(); // one trailing dot
    }
    let last = parts.last().copied().unwrap_or_default();
    // WHATWG: a host whose last label is a number is an IPv4 address or invalid.
    let ends_in_number = !last.is_empty()
        && (last.bytes().all(|b| b.is_ascii_digit())
            || last
                .strip_prefix("0x")
                .is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit())));
    if !ends_in_number {
        return Ok(None);
    }
    let invalid = || format!("url: {host:?} is neither a host name nor a valid IPv4 address");
    if parts.len() > 4 {
        return Err(invalid());
    }
    let mut numbers = Vec::with_capacity(parts.len());
    for part in &parts {
        numbers.push(ipv4_number(part).ok_or_else(invalid)?);
    }
    let (last, init) = numbers.split_last().ok_or_else(invalid)?;
    if init.iter().any(|n| *n > 255) {
        return Err(invalid());
    }
    let room = 8 * (5 - numbers.len() as u32);
    if u64::from(*last) >= 1u64 << room {
        return Err(invalid());
    }
    let mut value = u64::from(*last);
    for (i, n) in init.iter().enumerate() {
        value += u64::from(*n) << (8 * (3 - i as u32));
    }
    let value = u32::try_from(value).map_err(|_| invalid())?;
    Ok(Some(IpAddr::V4(Ipv4Addr::from(value))))
}

/// One part of a WHATWG IPv4 address: `0x…` hex (empty is 0), `0…` octal, else decimal.
fn ipv4_number(part: &str) -> Option<u32> {
    if part.is_empty() {
        return None;
    }
    if let Some(hex) = part.strip_prefix("0x") {
        return if hex.is_empty() {
            Some(0)
        } else {
            u32::from_str_radix(hex, 16).ok()
        };
    }
    if part.len() > 1 && part.starts_with('0') {
        return u32::from_str_radix(&part[1..], 8).ok();
    }
    part.parse().ok()
}

/// The IPv4 address an IPv6 address carries, in the forms that reach it: IPv4-mapped
/// (`::ffff:a.b.c.d`) and IPv4-compatible (`::a.b.c.d`, which some stacks still route to
/// the IPv4 address), 6to4 (`2002:aabb:ccdd::/48`) and the NAT64 well-known prefix
/// (`64:ff9b::/96`), whose gateways forward to the embedded address.
pub fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    if let Some(v4) = ip.to_ipv4() {
        return Some(v4); // mapped, or compatible (`::` and `::1` included: 0.0.0.0/8)
    }
    if bits >> 112 == 0x2002 {
        return Some(Ipv4Addr::from((bits >> 80) as u32));
    }
    if bits >> 32 == 0x0064_ff9b_u128 << 64 {
        return Some(Ipv4Addr::from(bits as u32));
    }
    None
}

/// The default `webhooks.deny_targets`: loopback, link-local (cloud metadata lives
/// there), "this network" and the unspecified IPv6 address (connecting to `::` reaches
/// this host).
pub fn default_deny() -> Vec<Cidr> {
    [
        "127.0.0.0/8",
        "::1/128",
        "::/128",
        "169.254.0.0/16",
        "fe80::/10",
        "0.0.0.0/8",
    ]
    .iter()
    .filter_map(|c| c.parse().ok())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn cidrs_parse_and_contain() {
        let loopback: Cidr = "127.0.0.0/8".parse().expect("valid");
        assert!(loopback.contains(ip("127.255.0.1")));
        assert!(!loopback.contains(ip("128.0.0.1")));
        assert!(!loopback.contains(ip("::1")));
        let all: Cidr = "0.0.0.0/0".parse().expect("valid");
        assert!(all.contains(ip("8.8.8.8")));
        let one: Cidr = "::1".parse().expect("a bare address");
        assert!(one.contains(ip("::1")) && !one.contains(ip("::2")));
        let link: Cidr = "fe80::/10".parse().expect("valid");
        assert!(link.contains(ip("febf::1")) && !link.contains(ip("fec0::1")));
        for bad in [
            "10.0.0.0/33",
            "10.0.0.1/8",
            "nope",
            "10.0.0.0/",
            "::/129",
            "",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
        assert_eq!(default_deny().len(), 6);
    }

    #[test]
    fn the_guard_denies_unless_allowed_and_sees_through_mapped_addresses() {
        let guard = TargetGuard::new(default_deny(), vec![]);
        for denied in [
            "127.0.0.1",
            "::1",
            "169.254.169.254",
            "fe80::1",
            "0.0.0.0",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            // The unspecified address, and IPv4 addresses embedded in IPv6 (issue 26):
            // compatible, 6to4, NAT64.
            "::",
            "::127.0.0.1",
            "::169.254.169.254",
            "2002:7f00:1::",
            "2002:7f00:1:ffff:ffff:ffff:ffff:ffff",
            "2002:a9fe:a9fe::1",
            "2002::",
            "64:ff9b::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::",
        ] {
            assert_eq!(guard.vet(ip(denied)), Err(Blocked(ip(denied))), "{denied}");
        }
        for allowed in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "8.8.8.8",
            "fd00::1",
            "2002:808:808::1",
            "64:ff9b::8.8.8.8",
            "2001:db8::127.0.0.1",
            "64:ff9b:1::7f00:1",
        ] {
            assert_eq!(guard.vet(ip(allowed)), Ok(()), "{allowed}");
        }
        let open = TargetGuard::new(default_deny(), vec!["127.0.0.0/8".parse().expect("ok")]);
        assert_eq!(open.vet(ip("127.0.0.1")), Ok(()));
        assert_eq!(open.vet(ip("::ffff:127.0.0.1")), Ok(()));
        assert_eq!(open.vet(ip("2002:7f00:1::")), Ok(()));
        assert!(open.vet(ip("::1")).is_err());
    }

    #[test]
    fn literal_hosts_are_read_like_a_url_parser_reads_them() {
        let v4 = |text: &str| literal_ip(text).expect("valid").expect("an address");
        assert_eq!(v4("127.0.0.1"), ip("127.0.0.1"));
        assert_eq!(v4("127.1"), ip("127.0.0.1"));
        assert_eq!(v4("127.0.1"), ip("127.0.0.1"));
        assert_eq!(v4("2130706433"), ip("127.0.0.1"));
        assert_eq!(v4("0x7f.1"), ip("127.0.0.1"));
        assert_eq!(v4("0x7F000001"), ip("127.0.0.1"));
        assert_eq!(v4("0177.0.0.1"), ip("127.0.0.1"));
        assert_eq!(v4("127.0.0.1."), ip("127.0.0.1"));
        assert_eq!(v4("169.254.43518"), ip("169.254.169.254"));
        assert_eq!(v4("[::ffff:127.0.0.1]"), ip("::ffff:127.0.0.1"));
        assert_eq!(v4("[::1]"), ip("::1"));
        assert_eq!(literal_ip("hooks.example.com"), Ok(None));
        assert_eq!(literal_ip("localhost"), Ok(None));
        assert_eq!(literal_ip("1a.example"), Ok(None));
        assert!(
            literal_ip("example.0x").is_err(),
            "ends in a number (0x is 0): not a name"
        );
        for invalid in [
            "256.0.0.1",
            "1.2.3.4.5",
            "1.256.1",
            "4294967296",
            "09.1",
            "[::g]",
            "%31%32%37.0.0.1",
        ] {
            assert!(literal_ip(invalid).is_err(), "{invalid}");
        }
        let guard = TargetGuard::new(default_deny(), vec![]);
        for denied in [
            "127.1",
            "2130706433",
            "[::ffff:127.0.0.1]",
            "[::1]",
            "0",
            "169.254.169.254",
        ] {
            let err = guard.check_url_host(denied).expect_err(denied);
            assert!(
                err.starts_with("url: ") && err.contains(DENY_SETTING),
                "{err}"
            );
        }
        assert!(guard.check_url_host("10.0.0.1").is_ok());
        assert!(
            guard.check_url_host("localhost").is_ok(),
            "names are vetted when resolved"
        );
    }
}
