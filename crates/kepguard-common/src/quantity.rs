//! Kubernetes resource quantities, parsed exactly.
//!
//! A quantity is held as a whole number of nano-units in an `i128`, which is exact for
//! every decimal suffix down to `n` and for every binary suffix. Precision finer than a
//! nano-unit is rounded up, as the apiserver does. Comparison never looks at spelling:
//! `"1"` equals `"1000m"`, and `"1Gi"` equals `"1024Mi"`.

use serde::de::{self, Deserialize, Deserializer};
use std::cmp::Ordering;
use std::fmt;

const NANOS_PER_UNIT: i128 = 1_000_000_000;
/// More significant digits than any real quantity has; it keeps the mantissa in range.
const MAX_DIGITS: usize = 36;

/// A parsed quantity together with the spelling it was written in, for messages.
#[derive(Clone, Debug)]
pub struct Quantity {
    text: String,
    nanos: i128,
}

impl Quantity {
    /// Parses the Kubernetes quantity grammar: an optional sign, a decimal number, and
    /// one suffix (`n u m k M G T P E`, `Ki Mi Gi Ti Pi Ei`, or an exponent `e3`/`E-2`).
    pub fn parse(text: &str) -> Result<Self, String> {
        parse_nanos(text)
            .map(|nanos| Quantity {
                text: text.to_string(),
                nanos,
            })
            .map_err(|reason| format!("invalid quantity {text:?}: {reason}"))
    }

    /// Parses a quantity given as a JSON string or a JSON number (`0.5`, `2`).
    pub fn from_json(value: &serde_json::Value) -> Result<Self, String> {
        match value {
            serde_json::Value::String(text) => Quantity::parse(text),
            serde_json::Value::Number(number) => Quantity::parse(&number.to_string()),
            other => Err(format!(
                "invalid quantity {other}: expected a string or a number"
            )),
        }
    }

    /// The quantity as it was written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The exact value in nano-units (10^-9).
    pub fn nanos(&self) -> i128 {
        self.nanos
    }

    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }

    /// Whether `self / base` is greater than `factor`, computed exactly.
    /// All three must be non-negative and `base` non-zero; otherwise the answer is `true`,
    /// the safe side for a limit on growth.
    pub fn ratio_exceeds(&self, base: &Quantity, factor: &Quantity) -> bool {
        if self.nanos < 0 || base.nanos <= 0 || factor.nanos < 0 {
            return true;
        }
        // self / base > factor / 1e9  <=>  self * 1e9 > factor * base
        let left = wide_mul(self.nanos as u128, NANOS_PER_UNIT as u128);
        let right = wide_mul(factor.nanos as u128, base.nanos as u128);
        left > right
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(QuantityVisitor)
    }
}

/// Reads a JSON string or number straight into a quantity, as [`Quantity::from_json`] does.
struct QuantityVisitor;

impl de::Visitor<'_> for QuantityVisitor {
    type Value = Quantity;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a string or a number")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Quantity, E> {
        Quantity::parse(text).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<Quantity, E> {
        Quantity::parse(&number.to_string()).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<Quantity, E> {
        Quantity::parse(&number.to_string()).map_err(E::custom)
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> Result<Quantity, E> {
        // As serde_json writes it, so that 0.5 reads as "0.5".
        Quantity::from_json(&serde_json::Value::from(number)).map_err(E::custom)
    }
}

/// The full 256-bit product of two `u128`s, as (high, low) halves: ordered like the product.
fn wide_mul(a: u128, b: u128) -> (u128, u128) {
    const MASK: u128 = u64::MAX as u128;
    let (a_hi, a_lo) = (a >> 64, a & MASK);
    let (b_hi, b_lo) = (b >> 64, b & MASK);
    let lo_lo = a_lo * b_lo;
    let hi_lo = a_hi * b_lo;
    let lo_hi = a_lo * b_hi;
    let hi_hi = a_hi * b_hi;
    let middle = (lo_lo >> 64) + (hi_lo & MASK) + (lo_hi & MASK);
    let low = (lo_lo & MASK) | (middle << 64);
    let high = hi_hi + (hi_lo >> 64) + (lo_hi >> 64) + (middle >> 64);
    (high, low)
}

fn parse_nanos(text: &str) -> Result<i128, &'static str> {
    let bytes = text.as_bytes();
    let mut pos = 0;
    let negative = match bytes.first() {
        Some(b'-') => {
            pos += 1;
            true
        }
        Some(b'+') => {
            pos += 1;
            false
        }
        _ => false,
    };

    let mut mantissa: i128 = 0;
    let mut digits = 0usize;
    let mut fraction_digits = 0i32;
    let mut seen_point = false;
    let mut seen_digit = false;
    while let Some(&byte) = bytes.get(pos) {
        match byte {
            b'0'..=b'9' => {
                seen_digit = true;
                if mantissa != 0 || byte != b'0' {
                    digits += 1;
                }
                if digits > MAX_DIGITS {
                    return Err("too many digits");
                }
                mantissa = mantissa * 10 + i128::from(byte - b'0');
                if seen_point {
                    fraction_digits += 1;
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => break,
        }
        pos += 1;
    }
    if !seen_digit {
        return Err("expected a number");
    }
    if seen_point && fraction_digits > MAX_DIGITS as i32 {
        return Err("too many digits");
    }

    let (power_of_ten, power_of_two) = parse_suffix(&text[pos..])?;
    // One checked multiplication per factor: i128 arithmetic is a library call in wasm.
    let mut value = mantissa
        .checked_mul(1 << power_of_two)
        .ok_or("out of range")?;
    // The value in nano-units is value * 10^(power_of_ten + 9 - fraction_digits).
    let exponent = power_of_ten + 9 - fraction_digits;
    if exponent >= 0 {
        if value != 0 {
            value = 10i128
                .checked_pow(exponent.unsigned_abs())
                .and_then(|scale| value.checked_mul(scale))
                .ok_or("out of range")?;
        }
    } else {
        // Finer than a nano-unit: round up, away from zero, as the apiserver does.
        for _ in 0..exponent.unsigned_abs() {
            if value == 0 {
                break;
            }
            value = (value + 9) / 10;
        }
    }
    Ok(if negative { -value } else { value })
}

/// Returns the suffix as (power of ten, power of two).
fn parse_suffix(suffix: &str) -> Result<(i32, u32), &'static str> {
    Ok(match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        _ => (parse_exponent(suffix)?, 0),
    })
}

fn parse_exponent(suffix: &str) -> Result<i32, &'static str> {
    let rest = suffix
        .strip_prefix('e')
        .or_else(|| suffix.strip_prefix('E'))
        .ok_or("unknown suffix")?;
    let (negative, digits) = match rest.as_bytes().first() {
        Some(b'-') => (true, &rest[1..]),
        Some(b'+') => (false, &rest[1..]),
        _ => (false, rest),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("unknown suffix");
    }
    // Anything beyond this is out of range for an i128 of nano-units either way.
    let magnitude: i32 = digits
        .parse()
        .ok()
        .filter(|m| *m <= 60)
        .ok_or("out of range")?;
    Ok(if negative { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nanos(text: &str) -> i128 {
        Quantity::parse(text).unwrap().nanos()
    }

    fn q(text: &str) -> Quantity {
        Quantity::parse(text).unwrap()
    }

    #[test]
    fn decimal_suffixes() {
        assert_eq!(nanos("1"), 1_000_000_000);
        assert_eq!(nanos("1n"), 1);
        assert_eq!(nanos("1u"), 1_000);
        assert_eq!(nanos("1m"), 1_000_000);
        assert_eq!(nanos("1k"), 1_000 * NANOS_PER_UNIT);
        assert_eq!(nanos("1M"), 1_000_000 * NANOS_PER_UNIT);
        assert_eq!(nanos("1G"), 10i128.pow(9) * NANOS_PER_UNIT);
        assert_eq!(nanos("1T"), 10i128.pow(12) * NANOS_PER_UNIT);
        assert_eq!(nanos("1P"), 10i128.pow(15) * NANOS_PER_UNIT);
        assert_eq!(nanos("1E"), 10i128.pow(18) * NANOS_PER_UNIT);
    }

    #[test]
    fn binary_suffixes() {
        assert_eq!(nanos("1Ki"), 1024 * NANOS_PER_UNIT);
        assert_eq!(nanos("1Mi"), (1 << 20) * NANOS_PER_UNIT);
        assert_eq!(nanos("1Gi"), (1 << 30) * NANOS_PER_UNIT);
        assert_eq!(nanos("1Ti"), (1 << 40) * NANOS_PER_UNIT);
        assert_eq!(nanos("1Pi"), (1 << 50) * NANOS_PER_UNIT);
        assert_eq!(nanos("1Ei"), (1 << 60) * NANOS_PER_UNIT);
        assert_eq!(nanos("1.5Gi"), 3 * (1 << 29) * NANOS_PER_UNIT);
    }

    #[test]
    fn exponents() {
        assert_eq!(nanos("1e3"), 1_000 * NANOS_PER_UNIT);
        assert_eq!(nanos("1E3"), 1_000 * NANOS_PER_UNIT);
        assert_eq!(nanos("1e+3"), 1_000 * NANOS_PER_UNIT);
        assert_eq!(nanos("1.5e-3"), 1_500_000);
        assert_eq!(nanos("5e0"), 5 * NANOS_PER_UNIT);
        assert_eq!(nanos("1e-9"), 1);
    }

    #[test]
    fn number_forms() {
        assert_eq!(nanos("0.5"), 500_000_000);
        assert_eq!(nanos(".5"), 500_000_000);
        assert_eq!(nanos("5."), 5 * NANOS_PER_UNIT);
        assert_eq!(nanos("+2"), 2 * NANOS_PER_UNIT);
        assert_eq!(nanos("-1"), -NANOS_PER_UNIT);
        assert_eq!(nanos("0"), 0);
        assert_eq!(nanos("000120m"), 120_000_000);
    }

    #[test]
    fn spellings_compare_equal() {
        assert_eq!(q("1"), q("1000m"));
        assert_eq!(q("1Gi"), q("1024Mi"));
        assert_eq!(q("0.5"), q("500m"));
        assert_eq!(q("1e3"), q("1k"));
        assert_eq!(q("1.5Gi"), q("1536Mi"));
        assert_eq!(q("1000000n"), q("1m"));
        assert!(q("1G") < q("1Gi"));
        assert!(q("999m") < q("1"));
    }

    #[test]
    fn finer_than_nano_rounds_up() {
        assert_eq!(nanos("0.0000001m"), 1);
        assert_eq!(nanos("1.5n"), 2);
        assert_eq!(nanos("-1.5n"), -2);
        assert_eq!(nanos("1e-20"), 1);
        assert_eq!(nanos("0e-20"), 0);
    }

    #[test]
    fn rejects_malformed() {
        for text in [
            "", "-", ".", "m", "1x", "1 Gi", "1Gi ", " 1", "1..5", "1.2.3", "1e", "1e+", "1ee3",
            "1Kii", "1ki", "1mi", "abc", "1e3.5", "--1", "0x10", "1,5",
        ] {
            assert!(Quantity::parse(text).is_err(), "{text:?} should not parse");
        }
    }

    #[test]
    fn rejects_out_of_range() {
        assert!(Quantity::parse("1e400").is_err());
        assert!(Quantity::parse("1e61").is_err());
        assert!(Quantity::parse("99999999999999999999999999999999999E").is_err());
        assert!(Quantity::parse(&"9".repeat(40)).is_err());
        assert!(Quantity::parse(&format!("0.{}1", "0".repeat(40))).is_err());
        assert!(Quantity::parse("1e-400").is_err());
    }

    #[test]
    fn error_names_the_text() {
        let error = Quantity::parse("12parsecs").unwrap_err();
        assert!(error.contains("\"12parsecs\""), "{error}");
    }

    #[test]
    fn json_numbers_and_strings() {
        assert_eq!(Quantity::from_json(&json!(0.5)).unwrap(), q("500m"));
        assert_eq!(Quantity::from_json(&json!(2)).unwrap(), q("2"));
        assert_eq!(Quantity::from_json(&json!("1Gi")).unwrap(), q("1Gi"));
        assert_eq!(Quantity::from_json(&json!(1e20)).unwrap(), q("1e20"));
        assert!(Quantity::from_json(&json!(null)).is_err());
        assert!(Quantity::from_json(&json!(["1"])).is_err());
        assert!(Quantity::from_json(&json!(true)).is_err());
        let deserialized: Quantity = serde_json::from_value(json!("250m")).unwrap();
        assert_eq!(deserialized.text(), "250m");
        // Deserialising reads JSON text the way from_json reads a Value.
        for (text, expected) in [("0.5", "500m"), ("2", "2"), ("-3", "-3"), ("1e20", "1e20")] {
            let read: Quantity = serde_json::from_str(text).unwrap();
            assert_eq!(read, q(expected), "{text}");
        }
        let error = serde_json::from_str::<Quantity>("true").unwrap_err();
        assert!(
            error.to_string().contains("expected a string or a number"),
            "{error}"
        );
        let error = serde_json::from_str::<Quantity>(r#""8 cores""#).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("invalid quantity \"8 cores\""),
            "{error}"
        );
    }

    #[test]
    fn ratio_exceeds_is_exact() {
        assert!(!q("200m").ratio_exceeds(&q("100m"), &q("2")));
        assert!(q("201m").ratio_exceeds(&q("100m"), &q("2")));
        assert!(!q("1100").ratio_exceeds(&q("1000"), &q("1.1")));
        assert!(q("1100000001n").ratio_exceeds(&q("1"), &q("1.1")));
        assert!(!q("2Gi").ratio_exceeds(&q("1024Mi"), &q("2")));
        assert!(!q("3").ratio_exceeds(&q("1"), &q("3")));
        assert!(q("0").ratio_exceeds(&q("0"), &q("1000")), "zero base");
        assert!(q("-1").ratio_exceeds(&q("1"), &q("1000")), "negative value");
    }

    #[test]
    fn ratio_exceeds_huge_values() {
        let huge = q("8Ei");
        assert!(!huge.ratio_exceeds(&q("4Ei"), &q("2")));
        assert!(huge.ratio_exceeds(&q("1n"), &q("1000000")));
        assert!(!q("1n").ratio_exceeds(&huge, &q("1")));
    }

    #[test]
    fn wide_mul_matches_small_products() {
        for (a, b) in [(0u128, 5u128), (3, 7), (u64::MAX as u128, u64::MAX as u128)] {
            assert_eq!(wide_mul(a, b), (0, a * b));
        }
        assert_eq!(wide_mul(u128::MAX, 2), (1, u128::MAX - 1));
        assert_eq!(wide_mul(1 << 100, 1 << 100), (1 << 72, 0));
    }
}
