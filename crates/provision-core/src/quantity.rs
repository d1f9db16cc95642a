//! Amounts of CPU, memory and storage a person asks for, parsed exactly and checked against
//! bounds.
//!
//! [`Cpu`] counts millicores and [`Bytes`] counts bytes. Both parse the Kubernetes quantity
//! strings people already write (`"500m"`, `"1.5"`, `"4Gi"`, `"512Mi"`), print themselves back
//! in that form, and take plain numbers where the workspace request of the seed API sends them
//! (`CPU` in cores, `RAM` in GiB). Parsing is exact decimal arithmetic, never floating point: a
//! value that is not a whole number of millicores or bytes is refused, not rounded. Refused
//! too: zero, negative numbers, exponents (`1e3`), signs, suffixes other than the ones listed
//! (`gi`, `GB`, `Ei`), and values too large to count.
//!
//! [`tier::Quantity`](crate::tier::Quantity) holds fixed quantity strings for the service
//! tiers; it parses nothing, so the two do not overlap.

use crate::problem::{Invalid, Problem};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::num::NonZeroU64;
use std::str::FromStr;

/// The most decimal places a quantity may have; more could not be a whole number of bytes
/// anyway, short of absurd values.
const MAX_DECIMALS: usize = 20;

/// An amount of CPU, in millicores (thousandths of a core). Never zero.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cpu(NonZeroU64);

impl Cpu {
    /// `None` for zero.
    pub const fn from_millicores(millicores: u64) -> Option<Self> {
        match NonZeroU64::new(millicores) {
            Some(m) => Some(Self(m)),
            None => None,
        }
    }

    /// Parses a Kubernetes CPU quantity: cores (`"2"`, `"0.25"`, at most three decimals) or
    /// millicores (`"500m"`).
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let what = "CPU";
        let (number, suffix) = split(value, what)?;
        let (scale, unit) = match suffix {
            "" => (1000, "cores"),
            "m" => (1, "millicores"),
            _ => {
                return Err(one(
                    "unknown-suffix",
                    format!("{suffix:?} is not a CPU unit; give cores (\"2\", \"0.5\") or millicores (\"500m\")"),
                ));
            }
        };
        Self::scaled(&number, scale, value, unit)
    }

    /// A number of cores, as the seed API's `CPU` sends it: `2`, `0.5`. At most three
    /// decimals, read from the shortest decimal form of `cores` (so `0.1` is exactly `100m`).
    pub fn from_cores(cores: f64) -> Result<Self, Invalid> {
        let written = finite_positive(cores, "CPU")?;
        let (number, _) = split(&written, "CPU")?;
        Self::scaled(&number, 1000, &written, "cores")
    }

    fn scaled(number: &Number<'_>, scale: u64, value: &str, unit: &str) -> Result<Self, Invalid> {
        match number.times(scale) {
            Ok(m) => Self::from_millicores(m).ok_or_else(|| one("zero", "CPU must be more than zero".into())),
            Err(Inexact::Fraction) if scale == 1 => {
                Err(one("too-precise", format!("CPU {value} is a fraction of a millicore; the smallest step is 1m")))
            }
            Err(Inexact::Fraction) => Err(one(
                "too-precise",
                format!("CPU {value} has more than three decimals; the smallest step is 0.001 {unit} (1m)"),
            )),
            Err(Inexact::Overflow) => Err(overflow("CPU", value)),
        }
    }

    pub fn millicores(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for Cpu {
    /// Whole cores as `"2"`, anything else in millicores as `"500m"`, as Kubernetes does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.millicores();
        if m.is_multiple_of(1000) { write!(f, "{}", m / 1000) } else { write!(f, "{m}m") }
    }
}

impl fmt::Debug for Cpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cpu({self})")
    }
}

impl FromStr for Cpu {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        Self::parse(s)
    }
}

impl Serialize for Cpu {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cpu {
    /// A quantity string, or a JSON number of cores.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct CpuVisitor;
        impl Visitor<'_> for CpuVisitor {
            type Value = Cpu;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a CPU quantity like \"500m\" or \"2\", or a number of cores")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Cpu, E> {
                Cpu::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Cpu, E> {
                Cpu::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Cpu, E> {
                Cpu::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Cpu, E> {
                Cpu::from_cores(v).map_err(E::custom)
            }
        }
        d.deserialize_any(CpuVisitor)
    }
}

/// An amount of memory or storage, in bytes. Never zero.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bytes(NonZeroU64);

/// Binary suffixes, largest first.
const BINARY: [(&str, u64); 5] = [("Pi", 1 << 50), ("Ti", 1 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)];
/// Decimal suffixes, largest first.
const DECIMAL: [(&str, u64); 5] =
    [("P", 1_000_000_000_000_000), ("T", 1_000_000_000_000), ("G", 1_000_000_000), ("M", 1_000_000), ("k", 1000)];
const GIB: u64 = 1 << 30;

impl Bytes {
    /// `None` for zero.
    pub const fn new(bytes: u64) -> Option<Self> {
        match NonZeroU64::new(bytes) {
            Some(b) => Some(Self(b)),
            None => None,
        }
    }

    /// Parses a Kubernetes quantity of bytes: plain (`"1048576"`), binary (`"512Mi"`,
    /// `"1.5Gi"`: `Ki Mi Gi Ti Pi`) or decimal (`"2G"`: `k M G T P`). The value must come to a
    /// whole number of bytes.
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let (number, suffix) = split(value, "quantity")?;
        let Some(scale) = BINARY
            .iter()
            .chain(&DECIMAL)
            .find(|(s, _)| *s == suffix)
            .map(|(_, m)| *m)
            .or_else(|| suffix.is_empty().then_some(1))
        else {
            return Err(one("unknown-suffix", unknown_byte_suffix(suffix)));
        };
        Self::scaled(&number, scale, value)
    }

    /// A number of GiB, as the seed API's `RAM` sends it: `2`, `0.5`. It must come to a whole
    /// number of bytes (`0.1` GiB does not); it is read from the shortest decimal form of `gib`.
    pub fn from_gib(gib: f64) -> Result<Self, Invalid> {
        let written = finite_positive(gib, "amount of GiB")?;
        Self::parse_gib(&written)
    }

    /// A decimal number of GiB written out, like `"2"` or `"0.5"`, for requests that send the
    /// seed API's `RAM` as a string.
    pub fn parse_gib(value: &str) -> Result<Self, Invalid> {
        let (number, suffix) = split(value, "amount of GiB")?;
        if !suffix.is_empty() {
            return Err(one(
                "unknown-suffix",
                format!("give a plain number of GiB, like \"2\" or \"0.5\", not {value:?}"),
            ));
        }
        Self::scaled(&number, GIB, &format!("{value} GiB"))
    }

    fn scaled(number: &Number<'_>, scale: u64, value: &str) -> Result<Self, Invalid> {
        match number.times(scale) {
            Ok(b) => Self::new(b).ok_or_else(|| one("zero", "quantity must be more than zero".into())),
            Err(Inexact::Fraction) => Err(one("too-precise", format!("{value} is not a whole number of bytes"))),
            Err(Inexact::Overflow) => Err(overflow("quantity", value)),
        }
    }

    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

fn unknown_byte_suffix(suffix: &str) -> String {
    let stem = if suffix.len() > 1 { suffix.trim_end_matches(['b', 'B']) } else { suffix };
    let decimal = DECIMAL.iter().map(|(s, _)| *s).find(|s| *s == stem && stem != suffix);
    let binary =
        || BINARY.iter().map(|(s, _)| *s).find(|s| s.eq_ignore_ascii_case(stem) || s[..1].eq_ignore_ascii_case(stem));
    let hint = decimal.or_else(binary).map(|s| format!(" (did you mean {s:?}?)")).unwrap_or_default();
    format!(
        "{suffix:?} is not a unit of bytes{hint}; use Ki, Mi, Gi, Ti, Pi (powers of 1024) or k, M, G, T, P (powers of 1000), exactly so written"
    )
}

impl fmt::Display for Bytes {
    /// The shortest exact Kubernetes form, binary on a tie: `"4Gi"`, `"512Mi"`, `"2G"`, `"1500"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.as_u64();
        let largest = |units: &[(&str, u64)]| {
            units.iter().find(|(_, m)| b.is_multiple_of(*m)).map(|(s, m)| format!("{}{s}", b / m))
        };
        let mut best = b.to_string();
        for candidate in [largest(&DECIMAL), largest(&BINARY)].into_iter().flatten() {
            if candidate.len() <= best.len() {
                best = candidate;
            }
        }
        f.write_str(&best)
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bytes({self})")
    }
}

impl FromStr for Bytes {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        Self::parse(s)
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    /// A quantity string only: a bare number would be bytes to Kubernetes but GiB to the seed
    /// API, so it is refused rather than guessed.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct BytesVisitor;
        impl Visitor<'_> for BytesVisitor {
            type Value = Bytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a quantity string like \"4Gi\" or \"512Mi\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Bytes, E> {
                Bytes::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(BytesVisitor)
    }
}

/// Something bounds can be checked on, with a wording for people.
pub trait Amount: Copy + Ord + fmt::Display {
    /// The amount in words: `"0.5 cores"`, `"1.5 GiB"`.
    fn human(&self) -> String;
}

impl Amount for Cpu {
    fn human(&self) -> String {
        let m = self.millicores();
        if m == 1000 {
            return "1 core".into();
        }
        let whole = m / 1000;
        match m % 1000 {
            0 => format!("{whole} cores"),
            part => format!("{whole}.{}", format!("{part:03}").trim_end_matches('0')) + " cores",
        }
    }
}

impl Amount for Bytes {
    fn human(&self) -> String {
        const UNITS: [(&str, u64); 5] =
            [("PiB", 1 << 50), ("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
        let b = self.as_u64();
        let Some((name, unit)) = UNITS.iter().find(|(_, u)| b >= *u) else {
            return if b == 1 { "1 byte".into() } else { format!("{b} bytes") };
        };
        let (b, unit) = (u128::from(b), u128::from(*unit));
        let hundredths = (b * 100 + unit / 2) / unit;
        let number = match hundredths % 100 {
            0 => format!("{}", hundredths / 100),
            part => format!("{}.{}", hundredths / 100, format!("{part:02}").trim_end_matches('0')),
        };
        let about = if (b * 100).is_multiple_of(unit) { "" } else { "about " };
        format!("{about}{number} {name}")
    }
}

/// The least and most of an amount a person may ask for, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceBounds<T> {
    pub min: T,
    pub max: T,
}

impl<T: Amount> ResourceBounds<T> {
    pub fn contains(&self, value: T) -> bool {
        self.min <= value && value <= self.max
    }

    /// `value` if within the bounds, otherwise a `too-small` or `too-large` problem of `field`
    /// (`cpu`, `memory`, `storage`) giving the bound in words and as a quantity.
    pub fn check(&self, field: &str, value: T) -> Result<T, Invalid> {
        let mut problems = Vec::new();
        if value < self.min {
            problems.push(Problem::new(
                field,
                "too-small",
                format!(
                    "{field} {value} ({}) is less than the minimum of {} ({})",
                    value.human(),
                    self.min.human(),
                    self.min
                ),
            ));
        }
        if value > self.max {
            problems.push(Problem::new(
                field,
                "too-large",
                format!(
                    "{field} {value} ({}) is more than the maximum of {} ({})",
                    value.human(),
                    self.max.human(),
                    self.max
                ),
            ));
        }
        if problems.is_empty() { Ok(value) } else { Err(Invalid::new(problems)) }
    }
}

fn one(rule: &'static str, message: String) -> Invalid {
    Invalid::one("", rule, message)
}

fn overflow(what: &str, value: &str) -> Invalid {
    let shown: String = value.chars().take(40).collect();
    one("overflow", format!("{what} {shown} is too large to count"))
}

/// `value` written out in decimals, if it is a finite number above zero.
fn finite_positive(value: f64, what: &str) -> Result<String, Invalid> {
    if !value.is_finite() {
        return Err(one("not-finite", format!("{what} must be a finite number, not {value}")));
    }
    if value < 0.0 {
        return Err(one("negative", format!("{what} must not be negative")));
    }
    if value == 0.0 {
        return Err(one("zero", format!("{what} must be more than zero")));
    }
    // `Display` for floats writes the shortest decimal that reads back the same, and never
    // uses an exponent.
    Ok(value.to_string())
}

/// A non-negative decimal number as written: digits, then optionally `.` and digits.
struct Number<'a> {
    whole: &'a str,
    /// The fraction's digits, trailing zeros removed.
    fraction: &'a str,
}

enum Inexact {
    /// The product is not a whole number.
    Fraction,
    /// The product does not fit in a `u64`.
    Overflow,
}

impl Number<'_> {
    /// The number times `scale`, exactly.
    fn times(&self, scale: u64) -> Result<u64, Inexact> {
        let scale = u128::from(scale);
        let mut whole: u128 = 0;
        for d in self.whole.bytes() {
            whole = whole.checked_mul(10).and_then(|w| w.checked_add(u128::from(d - b'0'))).ok_or(Inexact::Overflow)?;
        }
        let mut fraction: u128 = 0;
        let mut denominator: u128 = 1;
        for d in self.fraction.bytes() {
            // At most MAX_DECIMALS digits: below 10^20, times a scale below 2^64, fits in u128.
            fraction = fraction * 10 + u128::from(d - b'0');
            denominator *= 10;
        }
        let fraction = fraction * scale;
        if !fraction.is_multiple_of(denominator) {
            return Err(Inexact::Fraction);
        }
        let total =
            whole.checked_mul(scale).and_then(|w| w.checked_add(fraction / denominator)).ok_or(Inexact::Overflow)?;
        u64::try_from(total).map_err(|_| Inexact::Overflow)
    }
}

/// Splits a quantity into its number and its suffix, refusing signs, exponents and numbers
/// that are not plain decimals.
fn split<'a>(value: &'a str, what: &str) -> Result<(Number<'a>, &'a str), Invalid> {
    if value.is_empty() {
        return Err(one("required", format!("{what} must not be empty")));
    }
    if value.starts_with('-') {
        return Err(one("negative", format!("{what} {value:?} must not be negative")));
    }
    let end = value.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(value.len());
    let (number, suffix) = value.split_at(end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let well_formed = !whole.is_empty() && !fraction.contains('.') && !number.ends_with('.') && !value.starts_with('+');
    if !well_formed {
        return Err(one(
            "invalid-quantity",
            format!(
                "{what} {value:?} must be a plain decimal number, like \"2\" or \"0.5\", optionally followed by a unit"
            ),
        ));
    }
    let exponent = suffix.strip_prefix(['e', 'E']).map(|e| e.strip_prefix(['+', '-']).unwrap_or(e));
    if exponent.is_some_and(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())) {
        return Err(one("exponent", format!("{what} {value:?} must be written out, without an exponent")));
    }
    let fraction = fraction.trim_end_matches('0');
    if fraction.len() > MAX_DECIMALS {
        return Err(one("too-precise", format!("{what} {value:?} has more than {MAX_DECIMALS} decimals")));
    }
    Ok((Number { whole, fraction }, suffix))
}

#[cfg(test)]
mod table;

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(s: &str) -> Cpu {
        Cpu::parse(s).unwrap()
    }

    fn bytes(s: &str) -> Bytes {
        Bytes::parse(s).unwrap()
    }

    #[test]
    fn cpu_prints_as_kubernetes_does() {
        assert_eq!(cpu("500m").to_string(), "500m");
        assert_eq!(cpu("2").to_string(), "2");
        assert_eq!(cpu("2000m").to_string(), "2");
        assert_eq!(cpu("1.5").to_string(), "1500m");
        assert_eq!(cpu("0.250").millicores(), 250);
        assert_eq!(Cpu::from_cores(0.1).unwrap().millicores(), 100);
        assert_eq!(Cpu::from_cores(0.3).unwrap().millicores(), 300);
        assert_eq!(Cpu::from_cores(2.0).unwrap(), cpu("2"));
    }

    #[test]
    fn bytes_print_in_the_shortest_exact_form() {
        assert_eq!(bytes("4Gi").to_string(), "4Gi");
        assert_eq!(bytes("4096Mi").to_string(), "4Gi");
        assert_eq!(bytes("0.5Gi").to_string(), "512Mi");
        assert_eq!(bytes("1.5Gi").to_string(), "1536Mi");
        assert_eq!(bytes("2G").to_string(), "2G");
        assert_eq!(bytes("1500").to_string(), "1500");
        assert_eq!(bytes("1024").to_string(), "1Ki");
        assert_eq!(bytes("1000Ki").to_string(), "1024k");
        assert_eq!(Bytes::from_gib(0.5).unwrap(), bytes("512Mi"));
        assert_eq!(Bytes::parse_gib("2").unwrap(), bytes("2Gi"));
    }

    #[test]
    fn amounts_in_words() {
        assert_eq!(cpu("1").human(), "1 core");
        assert_eq!(cpu("2").human(), "2 cores");
        assert_eq!(cpu("500m").human(), "0.5 cores");
        assert_eq!(cpu("1250m").human(), "1.25 cores");
        assert_eq!(cpu("1m").human(), "0.001 cores");
        assert_eq!(bytes("1").human(), "1 byte");
        assert_eq!(bytes("1000").human(), "1000 bytes");
        assert_eq!(bytes("512Mi").human(), "512 MiB");
        assert_eq!(bytes("1.5Gi").human(), "1.5 GiB");
        assert_eq!(bytes("1.25Ti").human(), "1.25 TiB");
        assert_eq!(bytes("1G").human(), "about 953.67 MiB");
    }

    #[test]
    fn bounds_name_the_field_and_say_the_limits_in_words() {
        let bounds = ResourceBounds { min: cpu("250m"), max: cpu("4") };
        assert_eq!(bounds.check("cpu", cpu("1")).unwrap(), cpu("1"));
        assert!(bounds.contains(cpu("250m")) && bounds.contains(cpu("4")));
        let err = bounds.check("cpu", cpu("100m")).unwrap_err();
        let [p] = err.problems() else { panic!("{err}") };
        assert_eq!((p.field.as_str(), p.rule), ("cpu", "too-small"));
        assert_eq!(p.message, "cpu 100m (0.1 cores) is less than the minimum of 0.25 cores (250m)");

        let memory = ResourceBounds { min: bytes("512Mi"), max: bytes("16Gi") };
        let err = memory.check("memory", bytes("64Gi")).unwrap_err();
        let [p] = err.problems() else { panic!("{err}") };
        assert_eq!((p.field.as_str(), p.rule), ("memory", "too-large"));
        assert_eq!(p.message, "memory 64Gi (64 GiB) is more than the maximum of 16 GiB (16Gi)");
    }

    #[test]
    fn serde_uses_quantity_strings() {
        #[derive(Deserialize, Serialize)]
        struct Request {
            cpu: Cpu,
            memory: Bytes,
        }
        let r: Request = serde_json::from_str(r#"{"cpu": 0.5, "memory": "1.5Gi"}"#).unwrap();
        assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"cpu":"500m","memory":"1536Mi"}"#);
        let r: Request = serde_json::from_str(r#"{"cpu": 2, "memory": "2Gi"}"#).unwrap();
        assert_eq!(r.cpu, cpu("2"));
        assert!(serde_json::from_str::<Request>(r#"{"cpu": -1, "memory": "2Gi"}"#).is_err());
        assert!(serde_json::from_str::<Request>(r#"{"cpu": "1", "memory": 2}"#).is_err());
        assert!(serde_json::from_str::<Request>(r#"{"cpu": "1", "memory": "2gi"}"#).is_err());
        let bounds: ResourceBounds<Bytes> = serde_json::from_str(r#"{"min": "1Gi", "max": "100Gi"}"#).unwrap();
        assert_eq!(bounds.max, bytes("100Gi"));
    }
}
