//! The address policy of the calls Egress makes to places a workspace names: webhook
//! endpoints and delivery destinations. Both channels judge every address here, so a URL
//! one refuses the other refuses too. The operator's own services (`--storage s3://…`,
//! SMTP) are not judged: the operator chose them.
//!
//! An address is public unless it lies in a block of IANA's IPv4 or IPv6 special-purpose
//! address registries (or, for IPv6, outside 2000::/3, the only space allocated for global
//! unicast). A block is refused whole even where the registry marks a few of its /32s
//! globally reachable (anycast PCP/TURN/AMT relays, AS112): no webhook or bucket lives
//! there. Two IPv6 blocks only carry an IPv4 address, and are judged by it:
//!
//! - `::ffff:0:0/96` (IPv4-mapped): a socket sends it to the IPv4 address itself.
//! - `64:ff9b::/96` (NAT64's well-known prefix): the translator sends it to the embedded
//!   IPv4 address, and a DNS64 resolver hands these out for every IPv4-only name on an
//!   IPv6-only network; refusing them would break such deployments, judging the embedded
//!   address refuses `64:ff9b::a9fe:a9fe` as 169.254.169.254.
//!
//! Other embedding forms are refused outright: `::/96` (IPv4-compatible, deprecated),
//! `2002::/16` (6to4, deprecated), `2001::/32` (Teredo), and `64:ff9b:1::/48` (local NAT64,
//! where the operator's prefix length decides where the IPv4 address sits, so it cannot be
//! read back reliably).
//!
//! `std::net` has no stable `is_global`, and its `is_private` & co. miss most of these
//! blocks, hence a table of our own: each row names its block and RFC, which a refusal
//! quotes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// One special-purpose block.
#[derive(Clone, Copy, Debug)]
pub struct Block {
    pub network: IpAddr,
    pub len: u8,
    pub name: &'static str,
    pub rfc: &'static str,
    /// The block carries an IPv4 address in its last 32 bits, judged in its place.
    pub embeds_v4: bool,
}

impl Block {
    /// An address inside the block: its network with the last bit set (the block itself
    /// for a /32 or /128). The tests call every block by it.
    pub fn host(&self) -> IpAddr {
        match self.network {
            IpAddr::V4(net) if self.len < 32 => IpAddr::V4(Ipv4Addr::from(u32::from(net) | 1)),
            IpAddr::V6(net) if self.len < 128 => IpAddr::V6(Ipv6Addr::from(u128::from(net) | 1)),
            net => net,
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let mask = |bits: u32| {
            if self.len == 0 {
                0
            } else {
                u128::MAX << (bits - u32::from(self.len))
            }
        };
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = mask(32) as u32;
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = mask(128);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{} ({}, {})", self.network, self.len, self.name, self.rfc)
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8, name: &'static str, rfc: &'static str) -> Block {
    Block {
        network: IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
        len,
        name,
        rfc,
        embeds_v4: false,
    }
}

const fn v6(s: [u16; 8], len: u8, name: &'static str, rfc: &'static str) -> Block {
    Block {
        network: IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])),
        len,
        name,
        rfc,
        embeds_v4: false,
    }
}

const fn embedding(block: Block) -> Block {
    Block {
        embeds_v4: true,
        ..block
    }
}

/// Every block Egress does not call, the narrower first where blocks nest (the first
/// match names the refusal).
pub const BLOCKS: &[Block] = &[
    v4(0, 0, 0, 0, 8, "this network", "RFC 791"),
    v4(10, 0, 0, 0, 8, "private use", "RFC 1918"),
    v4(100, 64, 0, 0, 10, "shared address space", "RFC 6598"),
    v4(127, 0, 0, 0, 8, "loopback", "RFC 1122"),
    v4(169, 254, 0, 0, 16, "link-local", "RFC 3927"),
    v4(172, 16, 0, 0, 12, "private use", "RFC 1918"),
    v4(192, 0, 0, 0, 24, "IETF protocol assignments", "RFC 6890"),
    v4(192, 0, 2, 0, 24, "documentation, TEST-NET-1", "RFC 5737"),
    v4(192, 31, 196, 0, 24, "AS112-v4", "RFC 7535"),
    v4(192, 52, 193, 0, 24, "AMT", "RFC 7450"),
    v4(192, 88, 99, 0, 24, "deprecated 6to4 relay anycast", "RFC 7526"),
    v4(192, 168, 0, 0, 16, "private use", "RFC 1918"),
    v4(192, 175, 48, 0, 24, "direct delegation AS112 service", "RFC 7534"),
    v4(198, 18, 0, 0, 15, "benchmarking", "RFC 2544"),
    v4(198, 51, 100, 0, 24, "documentation, TEST-NET-2", "RFC 5737"),
    v4(203, 0, 113, 0, 24, "documentation, TEST-NET-3", "RFC 5737"),
    v4(224, 0, 0, 0, 4, "multicast", "RFC 5771"),
    v4(255, 255, 255, 255, 32, "limited broadcast", "RFC 919"),
    v4(240, 0, 0, 0, 4, "reserved", "RFC 1112"),
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128, "unspecified", "RFC 4291"),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, "loopback", "RFC 4291"),
    embedding(v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96, "IPv4-mapped", "RFC 4291")),
    v6([0, 0, 0, 0, 0, 0, 0, 0], 96, "IPv4-compatible, deprecated", "RFC 4291"),
    embedding(v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96, "NAT64", "RFC 6052")),
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, "local-use NAT64", "RFC 8215"),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "discard-only", "RFC 6666"),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, "Teredo", "RFC 4380"),
    v6(
        [0x2001, 0, 0, 0, 0, 0, 0, 0],
        23,
        "IETF protocol assignments",
        "RFC 2928",
    ),
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "documentation", "RFC 3849"),
    v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, "6to4", "RFC 3056"),
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "documentation", "RFC 9637"),
    v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, "SRv6 SIDs", "RFC 9602"),
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "unique local", "RFC 4193"),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "link-local", "RFC 4291"),
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "site-local, deprecated", "RFC 3879"),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "multicast", "RFC 4291"),
];

/// Global unicast: IPv6 outside it is unallocated or special.
const GLOBAL_UNICAST: Block = v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3, "global unicast", "RFC 4291");

/// What every refusal ends with; callers tell a refusal from a failed lookup by it.
pub const NOT_PUBLIC: &str = "not a public address";

/// `Ok` for an address Egress may call, else why not:
/// `64:ff9b::a9fe:a9fe is in 64:ff9b::/96 (NAT64, RFC 6052), whose 169.254.169.254 is in
/// 169.254.0.0/16 (link-local, RFC 3927) — not a public address`.
pub fn judge(ip: IpAddr) -> Result<(), String> {
    let refused = |why: String| Err(format!("{why} — {NOT_PUBLIC}"));
    match BLOCKS.iter().find(|b| b.contains(ip)) {
        Some(block) if block.embeds_v4 => {
            let IpAddr::V6(v6) = ip else {
                unreachable!("only IPv6 blocks embed")
            };
            let [.., a, b, c, d] = v6.octets();
            let inner = IpAddr::V4(Ipv4Addr::new(a, b, c, d));
            judge(inner).or_else(|why| refused(format!("{ip} is in {block}, whose {}", strip(&why))))
        }
        Some(block) => refused(format!("{ip} is in {block}")),
        None if ip.is_ipv6() && !GLOBAL_UNICAST.contains(ip) => {
            refused(format!("{ip} is outside 2000::/3 (global unicast, RFC 4291)"))
        }
        None => Ok(()),
    }
}

/// A refusal without its ending, to quote inside another.
fn strip(why: &str) -> &str {
    why.strip_suffix(NOT_PUBLIC)
        .and_then(|s| s.strip_suffix(" — "))
        .unwrap_or(why)
}

/// The addresses of `host` (a name or an address literal), every one of them public
/// unless `allow_private`. One non-public answer refuses the host: a name that points
/// inside as well as outside is not one to call.
pub async fn lookup(host: &str, allow_private: bool) -> Result<Vec<IpAddr>, String> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::net::lookup_host((host, 0))
            .await
            .map_err(|e| format!("{host} could not be resolved: {e}"))?
            .map(|a| a.ip())
            .collect(),
    };
    if addrs.is_empty() {
        return Err(format!("{host} has no address"));
    }
    if !allow_private {
        for ip in &addrs {
            judge(*ip).map_err(|why| match host.parse::<IpAddr>() {
                Ok(_) => format!("{why}; Egress only calls public addresses unless the operator allows others"),
                Err(_) => format!(
                    "{host} resolves to {ip}: {why}; Egress only calls public addresses unless the operator allows others"
                ),
            })?;
        }
    }
    Ok(addrs)
}

/// The addresses to call for `url`, with its port.
pub async fn resolve(url: &url::Url, allow_private: bool) -> Result<Vec<SocketAddr>, String> {
    let host = url.host_str().ok_or("the URL has no host")?;
    let port = url.port_or_known_default().ok_or("the URL has no port")?;
    Ok(lookup(host, allow_private)
        .await?
        .into_iter()
        .map(|ip| SocketAddr::new(ip, port))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_special_purpose_block_is_refused_by_name() {
        for block in BLOCKS {
            let ip = block.host();
            let why = judge(ip).expect_err(&format!("{ip} ({block}) must be refused"));
            assert!(why.ends_with(NOT_PUBLIC), "{why}");
            if block.embeds_v4 {
                // Its last bits make 0.0.0.1, in "this network".
                assert!(why.contains("0.0.0.0/8 (this network, RFC 791)"), "{why}");
            } else {
                // The first row that holds it is named (a narrower one inside this block
                // may come first).
                assert!(
                    BLOCKS.iter().any(|b| b.contains(ip) && why.contains(&b.to_string())),
                    "{why}"
                );
            }
        }
    }

    #[test]
    fn each_row_names_its_block_and_rfc() {
        for (ip, says) in [
            ("0.1.2.3", "0.0.0.0/8 (this network, RFC 791)"),
            ("10.1.2.3", "10.0.0.0/8 (private use, RFC 1918)"),
            ("100.64.0.1", "100.64.0.0/10 (shared address space, RFC 6598)"),
            ("100.127.255.254", "100.64.0.0/10"),
            ("127.0.0.1", "127.0.0.0/8 (loopback, RFC 1122)"),
            ("169.254.169.254", "169.254.0.0/16 (link-local, RFC 3927)"),
            ("172.31.255.1", "172.16.0.0/12 (private use, RFC 1918)"),
            ("192.0.0.9", "192.0.0.0/24 (IETF protocol assignments, RFC 6890)"),
            ("192.0.2.10", "192.0.2.0/24 (documentation, TEST-NET-1, RFC 5737)"),
            ("192.31.196.1", "192.31.196.0/24 (AS112-v4, RFC 7535)"),
            ("192.52.193.1", "192.52.193.0/24 (AMT, RFC 7450)"),
            (
                "192.88.99.1",
                "192.88.99.0/24 (deprecated 6to4 relay anycast, RFC 7526)",
            ),
            ("192.168.1.1", "192.168.0.0/16 (private use, RFC 1918)"),
            (
                "192.175.48.1",
                "192.175.48.0/24 (direct delegation AS112 service, RFC 7534)",
            ),
            ("198.19.255.1", "198.18.0.0/15 (benchmarking, RFC 2544)"),
            ("198.51.100.7", "198.51.100.0/24 (documentation, TEST-NET-2, RFC 5737)"),
            ("203.0.113.7", "203.0.113.0/24 (documentation, TEST-NET-3, RFC 5737)"),
            ("239.255.255.250", "224.0.0.0/4 (multicast, RFC 5771)"),
            ("255.255.255.255", "255.255.255.255/32 (limited broadcast, RFC 919)"),
            ("250.1.2.3", "240.0.0.0/4 (reserved, RFC 1112)"),
            ("::", ":: is in ::/128 (unspecified, RFC 4291)"),
            ("::1", "::1/128 (loopback, RFC 4291)"),
            (
                "::ffff:127.0.0.1",
                "::ffff:0.0.0.0/96 (IPv4-mapped, RFC 4291), whose 127.0.0.1 is in 127.0.0.0/8",
            ),
            ("::127.0.0.1", "::/96 (IPv4-compatible, deprecated, RFC 4291)"),
            ("::8.8.8.8", "::/96 (IPv4-compatible, deprecated, RFC 4291)"),
            (
                "64:ff9b::a9fe:a9fe",
                "64:ff9b::a9fe:a9fe is in 64:ff9b::/96 (NAT64, RFC 6052), whose 169.254.169.254 is in 169.254.0.0/16 (link-local, RFC 3927) — not a public address",
            ),
            ("64:ff9b:1::8.8.8.8", "64:ff9b:1::/48 (local-use NAT64, RFC 8215)"),
            ("100::1", "100::/64 (discard-only, RFC 6666)"),
            ("2001::1", "2001::/32 (Teredo, RFC 4380)"),
            ("2001:2::1", "2001::/23 (IETF protocol assignments, RFC 2928)"),
            ("2001:db8::1", "2001:db8::/32 (documentation, RFC 3849)"),
            ("2002:7f00:1::", "2002::/16 (6to4, RFC 3056)"),
            ("2002:808:808::", "2002::/16 (6to4, RFC 3056)"),
            ("3fff::1", "3fff::/20 (documentation, RFC 9637)"),
            ("5f00::1", "5f00::/16 (SRv6 SIDs, RFC 9602)"),
            ("fd00::1", "fc00::/7 (unique local, RFC 4193)"),
            ("fe80::1", "fe80::/10 (link-local, RFC 4291)"),
            ("fec0::1", "fec0::/10 (site-local, deprecated, RFC 3879)"),
            ("ff02::1", "ff00::/8 (multicast, RFC 4291)"),
            ("4000::1", "outside 2000::/3 (global unicast, RFC 4291)"),
        ] {
            let why = judge(ip.parse().unwrap()).expect_err(ip);
            assert!(why.contains(says), "{ip}: {why}");
            assert!(why.ends_with(NOT_PUBLIC), "{ip}: {why}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.32.0.1",
            "198.20.0.1",
            "223.255.255.254",
            "2606:4700::1111",
            "2a00:1450:4001::1",
            "::ffff:1.1.1.1",
            "64:ff9b::808:808", // NAT64 of 8.8.8.8
            "2001:200::1",      // just past 2001::/23
            "3fff:1000::1",     // just past 3fff::/20
        ] {
            assert_eq!(judge(ip.parse().unwrap()), Ok(()), "{ip}");
        }
    }

    #[tokio::test]
    async fn lookups_judge_every_address_unless_allowed() {
        let url = |s: &str| url::Url::parse(s).unwrap();
        for (target, says) in [
            ("http://[64:ff9b::a9fe:a9fe]/", "64:ff9b::/96 (NAT64, RFC 6052)"),
            ("http://[::127.0.0.1]:9999/", "::/96 (IPv4-compatible"),
            ("http://[2002:7f00:1::]/", "2002::/16 (6to4"),
            ("http://[fec0::1]/", "fec0::/10 (site-local"),
            ("http://localhost:9/", "localhost resolves to "),
        ] {
            let why = resolve(&url(target), false).await.unwrap_err();
            assert!(why.contains(says) && why.contains(NOT_PUBLIC), "{target}: {why}");
        }
        let allowed = resolve(&url("http://[::127.0.0.1]:9999/"), true).await.unwrap();
        assert_eq!(allowed, vec!["[::127.0.0.1]:9999".parse().unwrap()]);
        let public = resolve(&url("https://93.184.216.34/x"), false).await.unwrap();
        assert_eq!(public, vec!["93.184.216.34:443".parse().unwrap()]);
    }
}
