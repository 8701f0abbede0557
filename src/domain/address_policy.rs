//! Which addresses a callback may reach: the IANA special-purpose registries (see
//! `special_addresses`), multicast, platform addresses, and IPv6 forms that carry an IPv4
//! address. Used when subscribing and by the callback client's resolver when delivering.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::special_addresses::{self, Reach};

/// True for addresses a callback must never reach unless private callbacks are allowed: every
/// block the IANA special-purpose registries do not call globally reachable (loopback,
/// private, link-local, CGNAT, documentation, benchmarking, reserved, discard-only, ...),
/// multicast, cloud-platform addresses, and IPv6 outside global unicast. An IPv6 address that
/// carries an IPv4 address to a router or the socket layer is judged by that IPv4 address.
pub fn is_non_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_non_public_v4(v4),
        IpAddr::V6(v6) => is_non_public_v6(v6),
    }
}

/// Public addresses that still reach a cloud platform's own services from inside it.
const PLATFORM_ADDRESSES: [Ipv4Addr; 1] = [
    // Azure's WireServer (host agent, DNS, health probes) on every Azure VM.
    Ipv4Addr::new(168, 63, 129, 16),
];

fn is_non_public_v4(ip: Ipv4Addr) -> bool {
    // Multicast lives in the IPv4 Address Space registry, not the special-purpose one.
    ip.is_multicast()
        || PLATFORM_ADDRESSES.contains(&ip)
        || special_addresses::ipv4_block(ip).is_some_and(|block| block.reach != Reach::Global)
}

fn is_non_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_ipv4(ip) {
        return is_non_public_v4(v4);
    }
    // Only 2000::/3 is global unicast (IANA IPv6 Address Space); everything else is reserved,
    // unique local, link-local, site-local, multicast or one of the forms refused here:
    // IPv4-compatible `::/96`, SIIT `::ffff:0:0:0/96`, `64:ff9b:1::/48`, `100::/64`.
    let global_unicast = ip.segments()[0] & 0xe000 == 0x2000;
    if !global_unicast {
        return true;
    }
    // Teredo (reach "N/A") is refused whole: its client address is obfuscated and reached
    // through a relay, so there is no address to check.
    special_addresses::ipv6_block(ip).is_some_and(|block| block.reach != Reach::Global)
}

/// The IPv4 address that an IPv6 address leads to where the IPv6 form is only a carrier:
/// IPv4-mapped `::ffff:a.b.c.d` (a dual-stack socket connects to the IPv4 address), the NAT64
/// well-known prefix `64:ff9b::a.b.c.d` (RFC 6052: a translator forwards to it) and 6to4
/// `2002:AABB:CCDD::/48` (RFC 3056: a relay tunnels to it).
fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let from = |high: u16, low: u16| Ipv4Addr::from((u32::from(high) << 16) | u32::from(low));
    match s {
        [0, 0, 0, 0, 0, 0xffff, high, low] => Some(from(high, low)),
        [0x64, 0xff9b, 0, 0, 0, 0, high, low] => Some(from(high, low)),
        [0x2002, high, low, ..] => Some(from(high, low)),
        _ => None,
    }
}

/// Addresses a callback must not reach unless private callbacks are allowed (`true`), and
/// public ones it may (`false`), each with the reason. Shared by the guard's resolver tests.
#[cfg(test)]
pub(crate) const ADDRESS_CASES: &[(&str, bool, &str)] = &[
    ("127.0.0.1", true, "loopback"),
    ("10.1.2.3", true, "private-use 10.0.0.0/8"),
    ("172.16.0.1", true, "private-use 172.16.0.0/12"),
    ("172.31.255.255", true, "private-use 172.16.0.0/12"),
    ("192.168.1.1", true, "private-use 192.168.0.0/16"),
    ("169.254.169.254", true, "link local: cloud metadata"),
    ("100.64.0.1", true, "shared address space (CGNAT)"),
    (
        "100.100.100.200",
        true,
        "shared address space: Alibaba Cloud metadata",
    ),
    ("0.0.0.0", true, "this host on this network"),
    ("0.1.2.3", true, "this network 0.0.0.0/8"),
    ("224.0.0.1", true, "multicast"),
    ("239.255.255.250", true, "multicast"),
    ("255.255.255.255", true, "limited broadcast"),
    ("240.0.0.1", true, "reserved 240.0.0.0/4"),
    ("192.0.0.8", true, "IPv4 dummy address"),
    ("192.0.0.170", true, "NAT64/DNS64 discovery"),
    (
        "192.0.0.192",
        true,
        "IETF protocol assignments: Oracle Cloud metadata",
    ),
    ("192.0.2.1", true, "documentation TEST-NET-1"),
    ("198.18.0.1", true, "benchmarking"),
    ("198.51.100.1", true, "documentation TEST-NET-2"),
    ("203.0.113.1", true, "documentation TEST-NET-3"),
    ("192.88.99.1", true, "terminated 6to4 relay anycast"),
    (
        "192.88.99.2",
        true,
        "6a44 relay anycast, not globally reachable",
    ),
    ("168.63.129.16", true, "Azure platform (WireServer) address"),
    ("::1", true, "IPv6 loopback"),
    ("::", true, "IPv6 unspecified"),
    ("fd00::1", true, "unique local"),
    (
        "fd00:ec2::254",
        true,
        "unique local: AWS metadata over IPv6",
    ),
    ("fe80::1", true, "link-local"),
    ("fec0::1", true, "deprecated site-local"),
    ("ff02::1", true, "multicast"),
    ("::ffff:127.0.0.1", true, "IPv4-mapped loopback"),
    ("::ffff:10.0.0.1", true, "IPv4-mapped private"),
    ("::ffff:169.254.169.254", true, "IPv4-mapped metadata"),
    ("::10.0.0.1", true, "IPv4-compatible (deprecated) private"),
    (
        "::8.8.8.8",
        true,
        "IPv4-compatible form, deprecated and outside global unicast",
    ),
    ("::ffff:0:a00:1", true, "SIIT IPv4-translated private"),
    (
        "::ffff:0:808:808",
        true,
        "SIIT IPv4-translated, outside global unicast",
    ),
    (
        "64:ff9b::a00:1",
        true,
        "NAT64 well-known prefix embedding 10.0.0.1",
    ),
    (
        "64:ff9b::7f00:1",
        true,
        "NAT64 well-known prefix embedding loopback",
    ),
    (
        "64:ff9b::a9fe:a9fe",
        true,
        "NAT64 well-known prefix embedding metadata",
    ),
    (
        "64:ff9b::c0a8:101",
        true,
        "NAT64 well-known prefix embedding 192.168.1.1",
    ),
    (
        "64:ff9b:1::a00:1",
        true,
        "local-use NAT64 prefix, not globally reachable",
    ),
    (
        "64:ff9b:1::808:808",
        true,
        "local-use NAT64 prefix, not globally reachable",
    ),
    ("2002:a00:1::1", true, "6to4 embedding 10.0.0.1"),
    ("2002:7f00:1::", true, "6to4 embedding loopback"),
    ("2002:a9fe:a9fe::1", true, "6to4 embedding metadata"),
    (
        "2001::1",
        true,
        "Teredo: a tunnel to an obfuscated IPv4 client",
    ),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", true, "Teredo"),
    ("100::1", true, "discard-only"),
    ("100:0:0:1::1", true, "dummy IPv6 prefix"),
    ("2001:2::1", true, "IPv6 benchmarking"),
    ("2001:10::1", true, "terminated ORCHID"),
    (
        "2001:1ff::1",
        true,
        "IETF protocol assignments without a global sub-block",
    ),
    ("2001:db8::1", true, "IPv6 documentation"),
    ("3fff::1", true, "IPv6 documentation"),
    ("5f00::1", true, "SRv6 SIDs"),
    (
        "4000::1",
        true,
        "reserved by IETF, outside global unicast 2000::/3",
    ),
    ("93.184.216.34", false, "public"),
    ("8.8.8.8", false, "public"),
    ("172.32.0.1", false, "just past 172.16.0.0/12"),
    ("100.128.0.1", false, "just past 100.64.0.0/10"),
    ("192.0.0.9", false, "PCP anycast, globally reachable"),
    ("192.31.196.1", false, "AS112, globally reachable"),
    (
        "::ffff:8.8.8.8",
        false,
        "IPv4-mapped public: the socket reaches 8.8.8.8",
    ),
    ("64:ff9b::808:808", false, "NAT64 of a public address"),
    ("2002:808:808::1", false, "6to4 of a public address"),
    ("2606:4700::1111", false, "public global unicast"),
    ("2001:4860:4860::8888", false, "public, past 2001::/23"),
    ("2001:1::1", false, "PCP anycast, globally reachable"),
    ("2001:3::1", false, "AMT, globally reachable"),
    ("2620:4f:8000::1", false, "AS112, globally reachable"),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Each registry row, at an address that no more specific row holds: refused unless the
    /// registry calls it globally reachable. Rows whose addresses carry an IPv4 address, and
    /// Teredo and 6to4 (reach "N/A"), are in `ADDRESS_CASES` instead.
    #[test]
    fn every_registry_block_is_refused_unless_globally_reachable() {
        fn expected(reach: Reach) -> Option<bool> {
            match reach {
                Reach::Global => Some(false),
                Reach::NotGlobal | Reach::Terminated => Some(true),
                Reach::NotApplicable => None,
            }
        }
        for block in special_addresses::ipv4_blocks() {
            let host_mask = u32::MAX
                .checked_shr(u32::from(block.prefix_len))
                .unwrap_or(0);
            let last = Ipv4Addr::from(u32::from(block.network) | host_mask);
            let ip = [last, block.network]
                .into_iter()
                .find(|ip| special_addresses::ipv4_block(*ip) == Some(block))
                .unwrap_or_else(|| panic!("{block:?} is hidden by more specific rows"));
            if let Some(refused) = expected(block.reach) {
                assert_eq!(is_non_public(IpAddr::V4(ip)), refused, "{block:?}");
            }
        }
        for block in special_addresses::ipv6_blocks() {
            let host_mask = u128::MAX
                .checked_shr(u32::from(block.prefix_len))
                .unwrap_or(0);
            let last = Ipv6Addr::from(u128::from(block.network) | host_mask);
            let ip = [last, block.network]
                .into_iter()
                .find(|ip| special_addresses::ipv6_block(*ip) == Some(block))
                .unwrap_or_else(|| panic!("{block:?} is hidden by more specific rows"));
            if embedded_ipv4(ip).is_some() {
                continue;
            }
            if let Some(refused) = expected(block.reach) {
                assert_eq!(is_non_public(IpAddr::V6(ip)), refused, "{block:?}");
            }
        }
    }

    #[test]
    fn non_public_addresses_are_recognised() {
        for (raw, refused, why) in ADDRESS_CASES {
            let ip: IpAddr = raw.parse().unwrap();
            assert_eq!(
                is_non_public(ip),
                *refused,
                "{raw}: {why} (must be {})",
                if *refused { "refused" } else { "accepted" }
            );
        }
    }
}
