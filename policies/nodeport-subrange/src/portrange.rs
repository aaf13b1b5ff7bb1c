//! Port ranges in the forms of the apiserver's `--service-node-port-range` flag, and the
//! static band that the node port allocator keeps for pinned ports (KEP-3668).

use std::fmt;

/// The highest TCP/UDP port.
const MAX_PORT: u32 = 65535;

/// An inclusive range of ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl PortRange {
    /// Parses `first-last`, `first+offset` (`first` to `first + offset`) or a single port,
    /// as `utilnet.ParsePortRange` does. The error says what is wrong with `text`.
    pub fn parse(text: &str) -> Result<PortRange, String> {
        let value = text.trim();
        let bounds = match (value.find('-'), value.find('+')) {
            _ if value.is_empty() => None,
            (None, None) => number(value).map(|port| (port, port)),
            (Some(hyphen), None) => number(&value[..hyphen]).zip(number(&value[hyphen + 1..])),
            (None, Some(plus)) => number(&value[..plus])
                .zip(number(&value[plus + 1..]))
                .map(|(first, offset)| (first, first.saturating_add(offset))),
            (Some(_), Some(_)) => None,
        };
        let Some((first, last)) = bounds else {
            return Err(format!(
                "{text:?} is not a port range: use \"first-last\", \"first+offset\" or a single port, such as \"30000-32767\""
            ));
        };
        if last > MAX_PORT {
            return Err(format!("{text:?} goes past port {MAX_PORT}"));
        }
        if last < first {
            return Err(format!("{text:?} ends before it starts"));
        }
        match (u16::try_from(first), u16::try_from(last)) {
            (Ok(first), Ok(last)) => Ok(PortRange { first, last }),
            _ => Err(format!("{text:?} goes past port {MAX_PORT}")),
        }
    }

    /// How many ports the range holds.
    pub fn size(self) -> u32 {
        u32::from(self.last) - u32::from(self.first) + 1
    }

    pub fn contains(self, port: i64) -> bool {
        i64::from(self.first) <= port && port <= i64::from(self.last)
    }

    pub fn contains_range(self, other: PortRange) -> bool {
        self.first <= other.first && other.last <= self.last
    }

    pub fn overlaps(self, other: PortRange) -> bool {
        self.first <= other.last && other.first <= self.last
    }

    /// The lower band kept for pinned ports, or `None` when the range is too small to have one.
    pub fn static_band(self) -> Option<PortRange> {
        let size = static_band_size(self.size());
        let last = u32::from(self.first) + size.checked_sub(1)?;
        Some(PortRange {
            first: self.first,
            last: u16::try_from(last).ok()?,
        })
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// The size of the static band of a node port range of `range_size` ports:
/// `clamp(range_size / 32, 16, 128)`, and 0 when the range holds 16 ports or fewer
/// (`calculateRangeOffset` in pkg/registry/core/service/portallocator).
pub fn static_band_size(range_size: u32) -> u32 {
    const MIN: u32 = 16;
    const MAX: u32 = 128;
    const STEP: u32 = 32;
    if range_size <= MIN {
        return 0;
    }
    (range_size / STEP).clamp(MIN, MAX)
}

/// Sorts the ranges and merges those that overlap or touch.
pub fn merge(mut ranges: Vec<PortRange>) -> Vec<PortRange> {
    ranges.sort();
    let mut merged: Vec<PortRange> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(previous) if u32::from(range.first) <= u32::from(previous.last) + 1 => {
                previous.last = previous.last.max(range.last);
            }
            _ => merged.push(range),
        }
    }
    merged
}

/// The parts of `range` that no range of `taken` covers; `taken` must be merged.
pub fn subtract(range: PortRange, taken: &[PortRange]) -> Vec<PortRange> {
    let mut free = Vec::new();
    let mut next = u32::from(range.first);
    for hole in taken.iter().filter(|hole| hole.overlaps(range)) {
        if u32::from(hole.first) > next {
            free.push((next, u32::from(hole.first) - 1));
        }
        next = next.max(u32::from(hole.last) + 1);
    }
    if next <= u32::from(range.last) {
        free.push((next, u32::from(range.last)));
    }
    free.into_iter()
        .filter_map(|(first, last)| {
            Some(PortRange {
                first: u16::try_from(first).ok()?,
                last: u16::try_from(last).ok()?,
            })
        })
        .collect()
}

/// Lists ranges for a message: `30000-30009, 30020`.
pub fn describe(ranges: &[PortRange]) -> String {
    ranges
        .iter()
        .map(PortRange::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A decimal number without sign, as a `u32` (larger values fail).
fn number(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(first: u16, last: u16) -> PortRange {
        PortRange { first, last }
    }

    #[test]
    fn band_size_follows_the_issue_table() {
        // size -> static band size, from KEP-3668 and the issue.
        for (size, band) in [
            (1, 0),
            (16, 0),
            (17, 16),
            (201, 16),
            (512, 16),
            (543, 16),
            (544, 17),
            (2768, 86),
            (4095, 127),
            (4096, 128),
            (12768, 128),
            (65536, 128),
        ] {
            assert_eq!(static_band_size(size), band, "range size {size}");
        }
    }

    #[test]
    fn static_bands_of_the_suite_ranges() {
        let cases = [
            ("30000-32767", Some(range(30000, 30085))),
            ("30000-30015", None),
            ("30000-30016", Some(range(30000, 30015))),
            ("30000-30200", Some(range(30000, 30015))),
            ("20000-32767", Some(range(20000, 20127))),
            ("30000", None),
            ("0-65535", Some(range(0, 127))),
        ];
        for (text, expected) in cases {
            let band = PortRange::parse(text).unwrap().static_band();
            assert_eq!(band, expected, "{text:?}");
        }
    }

    #[test]
    fn parses_the_flag_forms() {
        let cases = [
            ("30000-32767", range(30000, 32767)),
            (" 30000-32767 ", range(30000, 32767)),
            ("30000+2767", range(30000, 32767)),
            ("30000+0", range(30000, 30000)),
            ("30000", range(30000, 30000)),
            ("0-65535", range(0, 65535)),
            ("65535+0", range(65535, 65535)),
        ];
        for (text, expected) in cases {
            assert_eq!(PortRange::parse(text), Ok(expected), "{text:?}");
        }
    }

    #[test]
    fn refuses_malformed_ranges() {
        for text in [
            "",
            " ",
            "-",
            "+",
            "30000-",
            "-32767",
            "30000+",
            "+5",
            "30000-+5",
            "30000+5-6",
            "a-b",
            "30000-32767-1",
            "30000..32767",
            "3e4",
            "-1",
            "30000 - 32767x",
            "99999999999999999999",
        ] {
            let error = PortRange::parse(text).unwrap_err();
            assert!(error.contains("is not a port range"), "{text:?}: {error}");
        }
        let cases = [
            ("32767-30000", "\"32767-30000\" ends before it starts"),
            ("65535+1", "\"65535+1\" goes past port 65535"),
            ("30000-70000", "\"30000-70000\" goes past port 65535"),
            ("70000", "\"70000\" goes past port 65535"),
        ];
        for (text, expected) in cases {
            assert_eq!(
                PortRange::parse(text),
                Err(expected.to_string()),
                "{text:?}"
            );
        }
    }

    #[test]
    fn merges_overlapping_and_touching_ranges() {
        let cases = [
            (
                "overlapping and touching",
                vec![
                    range(30010, 30020),
                    range(30000, 30005),
                    range(30015, 30030),
                    range(30006, 30006),
                ],
                vec![range(30000, 30006), range(30010, 30030)],
            ),
            (
                "twice the same",
                vec![range(5, 5), range(5, 5)],
                vec![range(5, 5)],
            ),
            (
                "the last port",
                vec![range(65535, 65535), range(0, 65535)],
                vec![range(0, 65535)],
            ),
        ];
        for (name, ranges, expected) in cases {
            assert_eq!(merge(ranges), expected, "{name}");
        }
    }

    #[test]
    fn subtracts_taken_ranges() {
        let band = range(30000, 30085);
        let cases = [
            ("nothing taken", band, vec![], vec![band]),
            (
                "two holes",
                band,
                vec![range(30000, 30009), range(30020, 30029)],
                vec![range(30010, 30019), range(30030, 30085)],
            ),
            ("everything taken", band, vec![range(29000, 31000)], vec![]),
            (
                "the last port left",
                range(0, 65535),
                vec![range(0, 65534)],
                vec![range(65535, 65535)],
            ),
        ];
        for (name, from, taken, expected) in cases {
            assert_eq!(subtract(from, &taken), expected, "{name}");
        }
    }

    #[test]
    fn describes_ranges() {
        assert_eq!(describe(&[range(1, 2), range(5, 5)]), "1-2, 5");
    }

    #[test]
    fn contains_ports_of_any_value() {
        let band = range(30000, 30085);
        let cases = [
            (30000, true),
            (30085, true),
            (30086, false),
            (29999, false),
            (-30000, false),
            (i64::MAX, false),
        ];
        for (port, expected) in cases {
            assert_eq!(band.contains(port), expected, "{port}");
        }
    }
}
