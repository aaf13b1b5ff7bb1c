//! Service CIDRs and the static band that the ClusterIP allocator keeps for pinned
//! addresses (KEP-3070).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    fn bits(self) -> u32 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }

    fn address(self, value: u128) -> IpAddr {
        match self {
            // Only called with values inside an IPv4 CIDR, which fit in 32 bits.
            Family::V4 => IpAddr::V4(Ipv4Addr::from(u32::try_from(value).unwrap_or(u32::MAX))),
            Family::V6 => IpAddr::V6(Ipv6Addr::from(value)),
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
    }
}

/// An IP address as its family and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Address {
    pub family: Family,
    pub value: u128,
}

impl Address {
    /// Parses an address as Kubernetes does: IPv4-mapped IPv6 addresses are IPv4, and IPv4
    /// octets may carry leading zeros (read as decimal), which older apiservers accept.
    pub fn parse(text: &str) -> Option<Address> {
        let ip = text
            .parse::<IpAddr>()
            .ok()
            .or_else(|| legacy_ipv4(text).map(IpAddr::V4))?;
        Some(match ip {
            IpAddr::V4(v4) => Address::v4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Address::v4(v4),
                None => Address {
                    family: Family::V6,
                    value: u128::from(v6),
                },
            },
        })
    }

    fn v4(ip: Ipv4Addr) -> Address {
        Address {
            family: Family::V4,
            value: u128::from(u32::from(ip)),
        }
    }
}

/// `a.b.c.d` with decimal octets that may have leading zeros.
fn legacy_ipv4(text: &str) -> Option<Ipv4Addr> {
    let octets: Vec<u8> = text
        .split('.')
        .map(|part| {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let digits = part.trim_start_matches('0');
            if digits.is_empty() {
                Some(0)
            } else {
                digits.parse::<u8>().ok()
            }
        })
        .collect::<Option<_>>()?;
    let octets: [u8; 4] = octets.try_into().ok()?;
    Some(Ipv4Addr::from(octets))
}

/// A service CIDR such as `10.96.0.0/12`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cidr {
    pub family: Family,
    pub network: u128,
    pub prefix: u32,
}

impl Cidr {
    /// Parses `address/prefix`, refusing host bits. The error says what is wrong with `text`.
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let malformed =
            || format!("{text:?} is not a CIDR such as \"10.96.0.0/12\" or \"fd00:10:96::/112\"");
        let (address, prefix) = text.split_once('/').ok_or_else(malformed)?;
        let ip: IpAddr = address.parse().map_err(|_| malformed())?;
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        let prefix: u32 = prefix.parse().map_err(|_| malformed())?;
        let (family, value) = match ip {
            IpAddr::V4(v4) => (Family::V4, u128::from(u32::from(v4))),
            IpAddr::V6(v6) => (Family::V6, u128::from(v6)),
        };
        if prefix > family.bits() {
            return Err(format!(
                "{text:?} has a prefix longer than {} bits",
                family.bits()
            ));
        }
        let cidr = Cidr {
            family,
            network: value & !host_mask(family.bits() - prefix),
            prefix,
        };
        if cidr.network != value {
            return Err(format!("{text:?} has host bits set: use {cidr}"));
        }
        Ok(cidr)
    }

    fn host_bits(&self) -> u32 {
        self.family.bits() - self.prefix
    }

    pub fn contains(&self, address: Address) -> bool {
        address.family == self.family
            && address.value & !host_mask(self.host_bits()) == self.network
    }

    /// The number of addresses, as Kubernetes' `RangeSize` counts them: 0 for the two
    /// largest prefixes of each family, and at most `i64::MAX`.
    pub fn range_size(&self) -> u64 {
        let host_bits = self.host_bits();
        if host_bits >= self.family.bits() - 1 {
            0
        } else if host_bits >= 63 {
            i64::MAX.unsigned_abs()
        } else {
            1 << host_bits
        }
    }

    /// The static band: from the network address + 1, `static_band_size` addresses.
    pub fn static_band(&self) -> Option<AddressRange> {
        let size = u128::from(static_band_size(self.range_size()));
        let first = self.network.checked_add(1)?;
        let last = self.network.checked_add(size)?;
        (size > 0).then_some(AddressRange {
            family: self.family,
            first,
            last,
        })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.family.address(self.network), self.prefix)
    }
}

/// An inclusive range of addresses of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressRange {
    pub family: Family,
    pub first: u128,
    pub last: u128,
}

impl AddressRange {
    pub fn contains(&self, address: Address) -> bool {
        address.family == self.family && self.first <= address.value && address.value <= self.last
    }
}

impl fmt::Display for AddressRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}",
            self.family.address(self.first),
            self.family.address(self.last)
        )
    }
}

/// The size of the static band of a service CIDR of `cidr_size` addresses:
/// `clamp(cidr_size / 16, 16, 256)`, and 0 when the CIDR holds 16 addresses or fewer
/// (`calculateRangeOffset` in pkg/registry/core/service/ipallocator).
pub fn static_band_size(cidr_size: u64) -> u64 {
    const MIN: u64 = 16;
    const MAX: u64 = 256;
    const STEP: u64 = 16;
    if cidr_size <= MIN {
        return 0;
    }
    (cidr_size / STEP).clamp(MIN, MAX)
}

/// A mask with the lowest `bits` bits set.
fn host_mask(bits: u32) -> u128 {
    if bits == 0 {
        0
    } else {
        u128::MAX >> (128 - bits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> Cidr {
        Cidr::parse(text).unwrap()
    }

    fn band(text: &str) -> Option<String> {
        cidr(text).static_band().map(|band| band.to_string())
    }

    fn address(text: &str) -> Address {
        Address::parse(text).unwrap()
    }

    #[test]
    fn band_size_follows_kep_3070() {
        for (size, band) in [
            (0, 0),
            (2, 0),
            (16, 0),
            (32, 16),
            (256, 16),
            (512, 32),
            (4096, 256),
            (1 << 20, 256),
        ] {
            assert_eq!(static_band_size(size), band, "cidr size {size}");
        }
        assert_eq!(static_band_size(i64::MAX.unsigned_abs()), 256);
    }

    #[test]
    fn range_size_follows_kubernetes() {
        let cases = [
            ("0.0.0.0/0", 0),
            ("128.0.0.0/1", 0),
            ("64.0.0.0/2", 1 << 30),
            ("10.96.0.0/12", 1 << 20),
            ("10.0.0.0/32", 1),
            ("::/0", 0),
            ("8000::/1", 0),
            ("4000::/2", i64::MAX.unsigned_abs()),
            ("fd00::/65", i64::MAX.unsigned_abs()),
            ("fd00::/66", 1 << 62),
            ("fd00:10:96::/112", 1 << 16),
        ];
        for (text, expected) in cases {
            assert_eq!(cidr(text).range_size(), expected, "{text}");
        }
    }

    #[test]
    fn static_bands() {
        let cases = [
            ("10.96.0.0/12", Some("10.96.0.1-10.96.1.0")),
            ("10.0.0.0/24", Some("10.0.0.1-10.0.0.16")),
            ("10.0.0.0/27", Some("10.0.0.1-10.0.0.16")),
            ("10.0.0.0/28", None),
            ("10.0.0.0/32", None),
            ("0.0.0.0/0", None),
            ("128.0.0.0/1", None),
            ("64.0.0.0/2", Some("64.0.0.1-64.0.1.0")),
            ("fd00:10:96::/112", Some("fd00:10:96::1-fd00:10:96::100")),
            ("fd00::/120", Some("fd00::1-fd00::10")),
            ("fd00::/64", Some("fd00::1-fd00::100")),
            ("::/0", None),
            ("8000::/1", None),
        ];
        for (text, expected) in cases {
            assert_eq!(band(text).as_deref(), expected, "{text}");
        }
    }

    #[test]
    fn parses_cidrs() {
        assert_eq!(cidr("10.96.0.0/12").to_string(), "10.96.0.0/12");
        assert_eq!(cidr("fd00:10:96::/112").family, Family::V6);
    }

    #[test]
    fn refuses_host_bits_and_long_prefixes() {
        let cases = [
            (
                "10.96.0.1/12",
                "\"10.96.0.1/12\" has host bits set: use 10.96.0.0/12",
            ),
            (
                "fd00::1/64",
                "\"fd00::1/64\" has host bits set: use fd00::/64",
            ),
            ("10.0.0.0/33", "prefix longer than 32"),
            ("fd00::/129", "prefix longer than 128"),
        ];
        for (text, expected) in cases {
            let error = Cidr::parse(text).unwrap_err();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
        for text in [
            "",
            "10.96.0.0",
            "10.96.0.0/",
            "10.96.0.0/+1",
            "10.96.0/12",
            "10.96.0.0/12/1",
            "x/12",
            "10.96.0.0/-1",
        ] {
            assert!(
                Cidr::parse(text).unwrap_err().contains("is not a CIDR"),
                "{text:?}"
            );
        }
    }

    #[test]
    fn addresses_in_cidrs_and_bands() {
        let range = cidr("10.96.0.0/12");
        let band = range.static_band().unwrap();
        let cases = [
            ("10.96.0.1", true, true),
            ("10.96.1.0", true, true),
            ("10.96.0.0", true, false),
            ("10.96.1.1", true, false),
            ("10.111.255.255", true, false),
            ("10.112.0.0", false, false),
            ("fd00::1", false, false),
        ];
        for (text, in_range, in_band) in cases {
            let address = address(text);
            assert_eq!(range.contains(address), in_range, "{text} in the CIDR");
            assert_eq!(band.contains(address), in_band, "{text} in the band");
        }
        assert!(cidr("0.0.0.0/0").contains(address("1.2.3.4")));
    }

    #[test]
    fn parses_addresses_as_kubernetes_does() {
        assert_eq!(
            address("10.96.0.10"),
            Address {
                family: Family::V4,
                value: 0x0a60_000a
            }
        );
        let cases = [
            ("leading zeros", "010.096.000.010", "10.96.0.10"),
            ("IPv4-mapped IPv6", "::ffff:10.96.0.10", "10.96.0.10"),
        ];
        for (name, text, same_as) in cases {
            assert_eq!(address(text), address(same_as), "{name}");
        }
        assert_eq!(address("fd00::a").family, Family::V6);
        for text in [
            "",
            "None",
            "10.96.0",
            "10.96.0.256",
            "10.96.0.0010x",
            "1.2.3.4.5",
            "fd00::/64",
        ] {
            assert_eq!(Address::parse(text), None, "{text:?}");
        }
    }
}
