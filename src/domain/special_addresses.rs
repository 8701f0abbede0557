//! The IANA IPv4 and IPv6 Special-Purpose Address Registries as data, and the lookup of the
//! most specific block an address falls in. Data only: what callbacks may reach is decided in
//! `callback_url::is_non_public`.
//!
//! Source: <https://www.iana.org/assignments/iana-ipv4-special-registry/> and
//! <https://www.iana.org/assignments/iana-ipv6-special-registry/>, every record with its
//! "Globally Reachable" column, as published in October 2025 (the IPv6 registry's last update,
//! 2025-10-09, lists `100:0:0:1::/64` of RFC 9780). Update both tables from those pages.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

/// The registry's "Globally Reachable" column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// `True`: forwardable beyond the administrative domain.
    Global,
    /// `False`.
    NotGlobal,
    /// `N/A`: the registry leaves it to the protocol (Teredo, 6to4).
    NotApplicable,
    /// A terminated allocation: the row has no values left.
    Terminated,
}

use Reach::{Global, NotApplicable, NotGlobal, Terminated};

/// One record: address block (one row per block where IANA lists two), name, RFC, reach.
type Row = (&'static str, &'static str, &'static str, Reach);

const IPV4_ROWS: &[Row] = &[
    ("0.0.0.0/8", "\"This network\"", "RFC 791", NotGlobal),
    (
        "0.0.0.0/32",
        "\"This host on this network\"",
        "RFC 1122",
        NotGlobal,
    ),
    ("10.0.0.0/8", "Private-Use", "RFC 1918", NotGlobal),
    (
        "100.64.0.0/10",
        "Shared Address Space",
        "RFC 6598",
        NotGlobal,
    ),
    ("127.0.0.0/8", "Loopback", "RFC 1122", NotGlobal),
    ("169.254.0.0/16", "Link Local", "RFC 3927", NotGlobal),
    ("172.16.0.0/12", "Private-Use", "RFC 1918", NotGlobal),
    (
        "192.0.0.0/24",
        "IETF Protocol Assignments",
        "RFC 6890",
        NotGlobal,
    ),
    (
        "192.0.0.0/29",
        "IPv4 Service Continuity Prefix",
        "RFC 7335",
        NotGlobal,
    ),
    ("192.0.0.8/32", "IPv4 dummy address", "RFC 7600", NotGlobal),
    (
        "192.0.0.9/32",
        "Port Control Protocol Anycast",
        "RFC 7723",
        Global,
    ),
    (
        "192.0.0.10/32",
        "Traversal Using Relays around NAT Anycast",
        "RFC 8155",
        Global,
    ),
    (
        "192.0.0.170/32",
        "NAT64/DNS64 Discovery",
        "RFC 8880",
        NotGlobal,
    ),
    (
        "192.0.0.171/32",
        "NAT64/DNS64 Discovery",
        "RFC 8880",
        NotGlobal,
    ),
    (
        "192.0.2.0/24",
        "Documentation (TEST-NET-1)",
        "RFC 5737",
        NotGlobal,
    ),
    ("192.31.196.0/24", "AS112-v4", "RFC 7535", Global),
    ("192.52.193.0/24", "AMT", "RFC 7450", Global),
    (
        "192.88.99.0/24",
        "Deprecated (6to4 Relay Anycast)",
        "RFC 7526",
        Terminated,
    ),
    (
        "192.88.99.2/32",
        "6a44-relay anycast address",
        "RFC 6751",
        NotGlobal,
    ),
    ("192.168.0.0/16", "Private-Use", "RFC 1918", NotGlobal),
    (
        "192.175.48.0/24",
        "Direct Delegation AS112 Service",
        "RFC 7534",
        Global,
    ),
    ("198.18.0.0/15", "Benchmarking", "RFC 2544", NotGlobal),
    (
        "198.51.100.0/24",
        "Documentation (TEST-NET-2)",
        "RFC 5737",
        NotGlobal,
    ),
    (
        "203.0.113.0/24",
        "Documentation (TEST-NET-3)",
        "RFC 5737",
        NotGlobal,
    ),
    ("240.0.0.0/4", "Reserved", "RFC 1112", NotGlobal),
    (
        "255.255.255.255/32",
        "Limited Broadcast",
        "RFC 8190",
        NotGlobal,
    ),
];

const IPV6_ROWS: &[Row] = &[
    ("::1/128", "Loopback Address", "RFC 4291", NotGlobal),
    ("::/128", "Unspecified Address", "RFC 4291", NotGlobal),
    (
        "::ffff:0:0/96",
        "IPv4-mapped Address",
        "RFC 4291",
        NotGlobal,
    ),
    ("64:ff9b::/96", "IPv4-IPv6 Translat.", "RFC 6052", Global),
    (
        "64:ff9b:1::/48",
        "IPv4-IPv6 Translat.",
        "RFC 8215",
        NotGlobal,
    ),
    (
        "100::/64",
        "Discard-Only Address Block",
        "RFC 6666",
        NotGlobal,
    ),
    ("100:0:0:1::/64", "Dummy IPv6 Prefix", "RFC 9780", NotGlobal),
    (
        "2001::/23",
        "IETF Protocol Assignments",
        "RFC 2928",
        NotGlobal,
    ),
    ("2001::/32", "TEREDO", "RFC 4380", NotApplicable),
    (
        "2001:1::1/128",
        "Port Control Protocol Anycast",
        "RFC 7723",
        Global,
    ),
    (
        "2001:1::2/128",
        "Traversal Using Relays around NAT Anycast",
        "RFC 8155",
        Global,
    ),
    (
        "2001:1::3/128",
        "DNS-SD Service Registration Protocol Anycast",
        "RFC 9665",
        Global,
    ),
    ("2001:2::/48", "Benchmarking", "RFC 5180", NotGlobal),
    ("2001:3::/32", "AMT", "RFC 7450", Global),
    ("2001:4:112::/48", "AS112-v6", "RFC 7535", Global),
    (
        "2001:10::/28",
        "Deprecated (previously ORCHID)",
        "RFC 4843",
        Terminated,
    ),
    ("2001:20::/28", "ORCHIDv2", "RFC 7343", Global),
    (
        "2001:30::/28",
        "Drone Remote ID Protocol Entity Tags (DETs) Prefix",
        "RFC 9374",
        Global,
    ),
    ("2001:db8::/32", "Documentation", "RFC 3849", NotGlobal),
    ("2002::/16", "6to4", "RFC 3056", NotApplicable),
    (
        "2620:4f:8000::/48",
        "Direct Delegation AS112 Service",
        "RFC 7534",
        Global,
    ),
    ("3fff::/20", "Documentation", "RFC 9637", NotGlobal),
    (
        "5f00::/16",
        "Segment Routing (SRv6) SIDs",
        "RFC 9602",
        NotGlobal,
    ),
    ("fc00::/7", "Unique-Local", "RFC 4193", NotGlobal),
    ("fe80::/10", "Link-Local Unicast", "RFC 4291", NotGlobal),
];

/// One registry block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block<A> {
    pub network: A,
    pub prefix_len: u8,
    pub name: &'static str,
    pub rfc: &'static str,
    pub reach: Reach,
}

static IPV4: LazyLock<Vec<Block<Ipv4Addr>>> = LazyLock::new(|| parse_rows(IPV4_ROWS, 32));
static IPV6: LazyLock<Vec<Block<Ipv6Addr>>> = LazyLock::new(|| parse_rows(IPV6_ROWS, 128));

fn parse_rows<A: std::str::FromStr>(rows: &[Row], max_len: u8) -> Vec<Block<A>> {
    rows.iter()
        .map(|&(block, name, rfc, reach)| {
            let parsed = block.split_once('/').and_then(|(network, len)| {
                let prefix_len = len.parse::<u8>().ok().filter(|&l| l <= max_len)?;
                Some((network.parse::<A>().ok()?, prefix_len))
            });
            let (network, prefix_len) = parsed.expect(
                "registry rows are address blocks: test every_registry_row_parses_as_a_network",
            );
            Block {
                network,
                prefix_len,
                name,
                rfc,
                reach,
            }
        })
        .collect()
}

/// Every IPv4 block of the registry.
pub fn ipv4_blocks() -> &'static [Block<Ipv4Addr>] {
    &IPV4
}

/// Every IPv6 block of the registry.
pub fn ipv6_blocks() -> &'static [Block<Ipv6Addr>] {
    &IPV6
}

impl Block<Ipv4Addr> {
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let mask = u32::MAX
            .checked_shl(32 - u32::from(self.prefix_len))
            .unwrap_or(0);
        u32::from(ip) & mask == u32::from(self.network)
    }
}

impl Block<Ipv6Addr> {
    pub fn contains(&self, ip: Ipv6Addr) -> bool {
        let mask = u128::MAX
            .checked_shl(128 - u32::from(self.prefix_len))
            .unwrap_or(0);
        u128::from(ip) & mask == u128::from(self.network)
    }
}

/// The most specific IPv4 block holding `ip`: the registry's nested rows (`192.0.0.9/32` in
/// `192.0.0.0/24`) override the wider ones.
pub fn ipv4_block(ip: Ipv4Addr) -> Option<&'static Block<Ipv4Addr>> {
    ipv4_blocks()
        .iter()
        .filter(|block| block.contains(ip))
        .max_by_key(|block| block.prefix_len)
}

/// The most specific IPv6 block holding `ip`.
pub fn ipv6_block(ip: Ipv6Addr) -> Option<&'static Block<Ipv6Addr>> {
    ipv6_blocks()
        .iter()
        .filter(|block| block.contains(ip))
        .max_by_key(|block| block.prefix_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registry_row_parses_as_a_network() {
        assert_eq!(ipv4_blocks().len(), IPV4_ROWS.len());
        assert_eq!(ipv6_blocks().len(), IPV6_ROWS.len());
        for block in ipv4_blocks() {
            assert!(block.contains(block.network), "{block:?}");
            let host_bits = u32::from(block.network)
                & !u32::MAX
                    .checked_shl(32 - u32::from(block.prefix_len))
                    .unwrap_or(0);
            assert_eq!(host_bits, 0, "{block:?} has host bits set");
        }
        for block in ipv6_blocks() {
            assert!(block.contains(block.network), "{block:?}");
            let host_bits = u128::from(block.network)
                & !u128::MAX
                    .checked_shl(128 - u32::from(block.prefix_len))
                    .unwrap_or(0);
            assert_eq!(host_bits, 0, "{block:?} has host bits set");
        }
    }

    #[test]
    fn the_most_specific_block_wins() {
        let cases = [
            ("192.0.0.9", "Port Control Protocol Anycast"),
            ("192.0.0.11", "IETF Protocol Assignments"),
            ("192.0.0.7", "IPv4 Service Continuity Prefix"),
            ("192.88.99.2", "6a44-relay anycast address"),
            ("192.88.99.3", "Deprecated (6to4 Relay Anycast)"),
            ("0.0.0.0", "\"This host on this network\""),
            ("0.0.0.1", "\"This network\""),
        ];
        for (ip, name) in cases {
            let block = ipv4_block(ip.parse().unwrap()).unwrap();
            assert_eq!(block.name, name, "{ip}");
        }
        let cases = [
            ("2001:1::1", "Port Control Protocol Anycast"),
            ("2001:1::4", "IETF Protocol Assignments"),
            ("2001::1", "TEREDO"),
            ("2001:0:ffff::1", "TEREDO"),
            ("2001:1ff:ffff::1", "IETF Protocol Assignments"),
            ("2001:20::1", "ORCHIDv2"),
            ("100:0:0:1::1", "Dummy IPv6 Prefix"),
            ("100::1", "Discard-Only Address Block"),
        ];
        for (ip, name) in cases {
            let block = ipv6_block(ip.parse().unwrap()).unwrap();
            assert_eq!(block.name, name, "{ip}");
        }
        for outside in ["8.8.8.8", "172.32.0.1", "100.128.0.1"] {
            assert_eq!(ipv4_block(outside.parse().unwrap()), None, "{outside}");
        }
        for outside in ["2001:200::1", "2606:4700::1111", "2001:4860:4860::8888"] {
            assert_eq!(ipv6_block(outside.parse().unwrap()), None, "{outside}");
        }
    }
}
