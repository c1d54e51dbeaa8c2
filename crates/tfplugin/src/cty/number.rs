//! [`Number`]: cty's number, an arbitrary-precision decimal.
//!
//! go-cty keeps numbers as 512-bit `big.Float`s and sends them as an int, a
//! float64 or a decimal string, whichever is exact. This type keeps the
//! exact decimal value of whatever arrived, so it re-encodes to the same
//! number, however big or precise. It also has the two infinities that
//! go-cty allows; it has no NaN.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// Largest decimal exponent (in absolute value) a [`Number`] may have.
/// Larger ones are rejected when parsing, so that no input can make us
/// print or compute with absurdly long numbers.
pub const MAX_EXPONENT: i64 = 1_000_000_000;

/// Beyond this many zeros of padding, [`Number`]'s `Display` switches from
/// plain decimal (`1000`, `0.001`) to exponent form (`1e+2000`).
const PLAIN_ZEROS_LIMIT: i64 = 1000;

/// Every finite f64 has an exact decimal expansion of at most 767
/// significant digits.
const F64_MAX_DIGITS: usize = 767;

/// An arbitrary-precision cty number.
///
/// Equality and ordering are by numeric value: `1`, `1.0` and `10e-1` are
/// the same number. `Display` prints plain decimal (`12.5`, `-3`,
/// `18446744073709551616`), or exponent form for extreme exponents, or
/// `+Inf`/`-Inf`; `FromStr` reads that and the usual decimal forms
/// (`1e400`, `.5`, `-0.0`, `Inf`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Number(Repr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    /// `(-1)^neg × digits × 10^exp`. `digits` are ASCII decimal digits with
    /// no leading or trailing zeros; zero is empty digits, `neg` false and
    /// `exp` 0. This normal form makes derived equality numeric equality.
    Finite {
        neg: bool,
        digits: Box<str>,
        exp: i64,
    },
    PosInf,
    NegInf,
}

/// Why a string is not a [`Number`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseNumberError(String);

impl fmt::Display for ParseNumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseNumberError {}

impl Number {
    /// Zero.
    pub fn zero() -> Number {
        Number(Repr::Finite {
            neg: false,
            digits: "".into(),
            exp: 0,
        })
    }

    /// Positive infinity.
    pub fn infinity() -> Number {
        Number(Repr::PosInf)
    }

    /// Negative infinity.
    pub fn neg_infinity() -> Number {
        Number(Repr::NegInf)
    }

    /// Builds a normalised finite number from sign, digit string and
    /// exponent, checking the exponent range.
    fn finite(neg: bool, digits: &str, exp: i64) -> Result<Number, ParseNumberError> {
        let digits = digits.trim_start_matches('0');
        let trimmed = digits.trim_end_matches('0');
        if trimmed.is_empty() {
            return Ok(Number::zero());
        }
        let exp = exp.saturating_add((digits.len() - trimmed.len()) as i64);
        let adjusted = exp.saturating_add(trimmed.len() as i64 - 1);
        if !(-MAX_EXPONENT..=MAX_EXPONENT).contains(&exp)
            || !(-MAX_EXPONENT..=MAX_EXPONENT).contains(&adjusted)
        {
            return Err(ParseNumberError("number is out of range".into()));
        }
        Ok(Number(Repr::Finite {
            neg,
            digits: trimmed.into(),
            exp,
        }))
    }

    /// The exact value of `f`, or `None` for NaN. (`-0.0` is zero.)
    ///
    /// This is the binary value of the float written out exactly, as
    /// go-cty's `NumberFloatVal` does: `0.1` becomes
    /// `0.1000000000000000055511151231257827021181583404541015625`. Use
    /// [`Number::from_f64_shortest`] or parse a string for the decimal
    /// that a person would write.
    pub fn from_f64(f: f64) -> Option<Number> {
        if f.is_nan() {
            None
        } else if f == f64::INFINITY {
            Some(Number::infinity())
        } else if f == f64::NEG_INFINITY {
            Some(Number::neg_infinity())
        } else {
            // Fixed-precision formatting is exact (and 800 > 767 digits).
            let s = format!("{f:.800e}");
            Some(s.parse().expect("formatted f64 parses as a number"))
        }
    }

    /// The shortest decimal that reads back as `f` (`0.1` for `0.1`), or
    /// `None` for NaN.
    pub fn from_f64_shortest(f: f64) -> Option<Number> {
        if f.is_nan() {
            None
        } else if f.is_infinite() {
            Number::from_f64(f)
        } else {
            Some(format!("{f:e}").parse().expect("formatted f64 parses"))
        }
    }

    /// Whether this is `+Inf` or `-Inf`.
    pub fn is_infinite(&self) -> bool {
        !matches!(self.0, Repr::Finite { .. })
    }

    /// Whether this is zero.
    pub fn is_zero(&self) -> bool {
        matches!(&self.0, Repr::Finite { digits, .. } if digits.is_empty())
    }

    /// Whether this is below zero (including `-Inf`).
    pub fn is_negative(&self) -> bool {
        matches!(self.0, Repr::Finite { neg: true, .. } | Repr::NegInf)
    }

    /// Whether this is a whole number (infinities are not).
    pub fn is_integer(&self) -> bool {
        matches!(self.0, Repr::Finite { exp, .. } if exp >= 0)
    }

    /// The magnitude of a finite integer, if it fits in a u128.
    fn int_magnitude(&self) -> Option<(bool, u128)> {
        match &self.0 {
            Repr::Finite { neg, digits, exp } if *exp >= 0 => {
                // u128 holds any 38-digit number.
                if digits.len() as i64 + exp > 38 {
                    return None;
                }
                let mut m: u128 = 0;
                for d in digits.bytes() {
                    m = m * 10 + u128::from(d - b'0');
                }
                for _ in 0..*exp {
                    m *= 10;
                }
                Some((*neg, m))
            }
            _ => None,
        }
    }

    /// The value as an i64, if it is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        let (neg, m) = self.int_magnitude()?;
        if neg {
            if m <= 1u128 << 63 {
                Some((m as i128).wrapping_neg() as i64)
            } else {
                None
            }
        } else {
            i64::try_from(m).ok()
        }
    }

    /// The value as a u64, if it is a non-negative integer in range.
    pub fn as_u64(&self) -> Option<u64> {
        match self.int_magnitude()? {
            (false, m) => u64::try_from(m).ok(),
            (true, _) => None,
        }
    }

    /// The nearest f64 (infinite if out of range; tiny values become 0).
    pub fn as_f64(&self) -> f64 {
        match &self.0 {
            Repr::PosInf => f64::INFINITY,
            Repr::NegInf => f64::NEG_INFINITY,
            Repr::Finite { digits, .. } if digits.is_empty() => 0.0,
            Repr::Finite { neg, digits, exp } => {
                let sign = if *neg { "-" } else { "" };
                // Rust's float parsing is correctly rounded for any length.
                format!("{sign}{digits}e{exp}").parse().unwrap_or(f64::NAN)
            }
        }
    }

    /// The value as an f64 if that is exact (infinities are).
    pub fn to_f64_exact(&self) -> Option<f64> {
        match &self.0 {
            Repr::PosInf => Some(f64::INFINITY),
            Repr::NegInf => Some(f64::NEG_INFINITY),
            Repr::Finite { digits, exp, .. } => {
                if digits.is_empty() {
                    return Some(0.0);
                }
                let adjusted = exp + digits.len() as i64 - 1;
                // f64 spans about 4.9e-324 ..= 1.8e308.
                if digits.len() > F64_MAX_DIGITS || !(-324..=308).contains(&adjusted) {
                    return None;
                }
                let f = self.as_f64();
                if !f.is_finite() {
                    return None;
                }
                (Number::from_f64(f).as_ref() == Some(self)).then_some(f)
            }
        }
    }

    /// Writes the number in exponent form: `1.25e+400`.
    fn fmt_exponent(f: &mut fmt::Formatter<'_>, digits: &str, exp: i64) -> fmt::Result {
        let adjusted = exp + digits.len() as i64 - 1;
        f.write_str(&digits[..1])?;
        if digits.len() > 1 {
            f.write_str(".")?;
            f.write_str(&digits[1..])?;
        }
        write!(
            f,
            "e{}{}",
            if adjusted < 0 { "-" } else { "+" },
            adjusted.abs()
        )
    }

    /// The sign of a finite number as -1, 0 or 1.
    fn signum(&self) -> i8 {
        match &self.0 {
            Repr::NegInf => -1,
            Repr::PosInf => 1,
            Repr::Finite { digits, .. } if digits.is_empty() => 0,
            Repr::Finite { neg: true, .. } => -1,
            Repr::Finite { .. } => 1,
        }
    }
}

impl FromStr for Number {
    type Err = ParseNumberError;

    /// Reads `[+-]digits[.digits][(e|E)[+-]digits]` (either digit run may
    /// be empty, not both), or `[+-]Inf`/`Infinity` in any case.
    fn from_str(s: &str) -> Result<Number, ParseNumberError> {
        let bad = || ParseNumberError(format!("invalid number {:?}", truncate(s)));
        let (neg, rest) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        if rest.eq_ignore_ascii_case("inf") || rest.eq_ignore_ascii_case("infinity") {
            return Ok(if neg {
                Number::neg_infinity()
            } else {
                Number::infinity()
            });
        }
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let (int_part, frac_part) = match mantissa.find('.') {
            Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
            None => (mantissa, ""),
        };
        let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if (int_part.is_empty() && frac_part.is_empty())
            || !all_digits(int_part)
            || !all_digits(frac_part)
        {
            return Err(bad());
        }
        let mut exp: i64 = 0;
        if let Some(e) = exponent {
            let (eneg, edigits) = match e.as_bytes().first() {
                Some(b'-') => (true, &e[1..]),
                Some(b'+') => (false, &e[1..]),
                _ => (false, e),
            };
            if edigits.is_empty() || !all_digits(edigits) {
                return Err(bad());
            }
            for d in edigits.bytes() {
                // Saturate well past MAX_EXPONENT; finite() rejects it.
                exp = (exp * 10 + i64::from(d - b'0')).min(1 << 50);
            }
            if eneg {
                exp = -exp;
            }
        }
        let mut digits = String::with_capacity(int_part.len() + frac_part.len());
        digits.push_str(int_part);
        digits.push_str(frac_part);
        let frac_len = i64::try_from(frac_part.len()).unwrap_or(i64::MAX);
        Number::finite(neg, &digits, exp.saturating_sub(frac_len))
    }
}

/// Shortens a string for an error message.
fn truncate(s: &str) -> String {
    if s.len() <= 40 {
        return s.to_string();
    }
    let mut end = 40;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (neg, digits, exp) = match &self.0 {
            Repr::PosInf => return f.write_str("+Inf"),
            Repr::NegInf => return f.write_str("-Inf"),
            Repr::Finite { digits, .. } if digits.is_empty() => return f.write_str("0"),
            Repr::Finite { neg, digits, exp } => (*neg, &**digits, *exp),
        };
        if neg {
            f.write_str("-")?;
        }
        let len = digits.len() as i64;
        if exp >= 0 {
            if exp > PLAIN_ZEROS_LIMIT {
                return Number::fmt_exponent(f, digits, exp);
            }
            f.write_str(digits)?;
            for _ in 0..exp {
                f.write_str("0")?;
            }
            return Ok(());
        }
        let point = len + exp; // digits before the decimal point
        if point > 0 {
            let point = point as usize;
            write!(f, "{}.{}", &digits[..point], &digits[point..])
        } else if -point > PLAIN_ZEROS_LIMIT {
            Number::fmt_exponent(f, digits, exp)
        } else {
            f.write_str("0.")?;
            for _ in 0..-point {
                f.write_str("0")?;
            }
            f.write_str(digits)
        }
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Number({self})")
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Number) -> Ordering {
        let (a, b) = (self.signum(), other.signum());
        if a != b || a == 0 {
            return a.cmp(&b);
        }
        let magnitude = match (&self.0, &other.0) {
            (Repr::Finite { .. }, Repr::PosInf | Repr::NegInf) => Ordering::Less,
            (Repr::PosInf | Repr::NegInf, Repr::Finite { .. }) => Ordering::Greater,
            (Repr::PosInf | Repr::NegInf, Repr::PosInf | Repr::NegInf) => Ordering::Equal,
            (
                Repr::Finite {
                    digits: da,
                    exp: ea,
                    ..
                },
                Repr::Finite {
                    digits: db,
                    exp: eb,
                    ..
                },
            ) => {
                let adj_a = ea + da.len() as i64;
                let adj_b = eb + db.len() as i64;
                // Same magnitude order: digit strings compare like the
                // numbers they start (no trailing zeros in normal form).
                adj_a.cmp(&adj_b).then_with(|| da.cmp(db))
            }
        };
        if a < 0 {
            magnitude.reverse()
        } else {
            magnitude
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Default for Number {
    fn default() -> Number {
        Number::zero()
    }
}

impl From<i64> for Number {
    fn from(v: i64) -> Number {
        Number::finite(v < 0, &v.unsigned_abs().to_string(), 0).expect("i64 is in range")
    }
}

impl From<u64> for Number {
    fn from(v: u64) -> Number {
        Number::finite(false, &v.to_string(), 0).expect("u64 is in range")
    }
}

impl From<i32> for Number {
    fn from(v: i32) -> Number {
        Number::from(i64::from(v))
    }
}

impl From<u32> for Number {
    fn from(v: u32) -> Number {
        Number::from(u64::from(v))
    }
}

impl From<f64> for Number {
    /// The exact value of `v` (see [`Number::from_f64`]).
    ///
    /// # Panics
    ///
    /// On NaN, which cty has no number for (go-cty panics too); use
    /// [`Number::from_f64`] to get an `Option` instead.
    fn from(v: f64) -> Number {
        Number::from_f64(v).expect("NaN is not a cty number")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Number {
        s.parse().unwrap()
    }

    #[test]
    fn parse_and_display() {
        for (input, shown) in [
            ("0", "0"),
            ("-0.000", "0"),
            ("1", "1"),
            ("+1.50", "1.5"),
            ("-12.5e2", "-1250"),
            (".5", "0.5"),
            ("5.", "5"),
            ("1e3", "1000"),
            ("1E-3", "0.001"),
            ("123.456", "123.456"),
            ("18446744073709551616", "18446744073709551616"),
            ("inf", "+Inf"),
            ("-Infinity", "-Inf"),
            ("1e2000", "1e+2000"),
            ("1.25e-2000", "1.25e-2000"),
            ("00012.3400", "12.34"),
        ] {
            assert_eq!(n(input).to_string(), shown, "{input}");
            assert_eq!(n(shown), n(input), "{input}");
        }
        let plain = n("1e400").to_string();
        assert_eq!(plain.len(), 401);
        assert!(plain.starts_with("10000"));
        for bad in [
            "",
            "-",
            ".",
            "e5",
            "1e",
            "1e+",
            "1.2.3",
            "0x10",
            "1_000",
            " 1",
            "nan",
            "1e99999999999",
            "--1",
            "1e5e5",
        ] {
            assert!(bad.parse::<Number>().is_err(), "{bad:?}");
        }
        // Absurd exponents saturate instead of overflowing.
        assert!("1e99999999999999999999999999999".parse::<Number>().is_err());
        assert!("0e99999999999999999999999999999".parse::<Number>().is_ok());
    }

    #[test]
    fn numeric_equality_and_order() {
        assert_eq!(n("1"), n("1.0"));
        assert_eq!(n("10e-1"), Number::from(1i64));
        assert_eq!(Number::from(1.0), Number::from(1i64));
        let mut v = vec![
            n("2"),
            n("-Inf"),
            n("0.5"),
            n("-3"),
            n("0"),
            n("+Inf"),
            n("-0.25"),
            n("100"),
            n("99.999"),
            n("-100"),
        ];
        v.sort();
        let shown: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            ["-Inf", "-100", "-3", "-0.25", "0", "0.5", "2", "99.999", "100", "+Inf"]
        );
    }

    #[test]
    fn integer_conversions() {
        assert_eq!(Number::from(i64::MIN).as_i64(), Some(i64::MIN));
        assert_eq!(Number::from(i64::MAX).as_i64(), Some(i64::MAX));
        assert_eq!(Number::from(u64::MAX).as_u64(), Some(u64::MAX));
        assert_eq!(Number::from(u64::MAX).as_i64(), None);
        assert_eq!(n("-9223372036854775809").as_i64(), None);
        assert_eq!(n("1.5").as_i64(), None);
        assert_eq!(n("1e30").as_i64(), None);
        assert_eq!(n("-1").as_u64(), None);
        assert_eq!(n("+Inf").as_i64(), None);
        assert_eq!(n("12e2").as_i64(), Some(1200));
    }

    #[test]
    fn floats() {
        assert_eq!(Number::from(0.5).to_string(), "0.5");
        assert_eq!(
            Number::from(0.1).to_string(),
            "0.1000000000000000055511151231257827021181583404541015625"
        );
        assert_eq!(Number::from_f64_shortest(0.1), Some(n("0.1")));
        assert_eq!(Number::from_f64(f64::NAN), None);
        assert_eq!(Number::from(-0.0), Number::zero());
        assert_eq!(n("0.1").as_f64(), 0.1);
        assert_eq!(n("1e400").as_f64(), f64::INFINITY);
        assert_eq!(n("0.5").to_f64_exact(), Some(0.5));
        assert_eq!(n("0.1").to_f64_exact(), None);
        assert_eq!(Number::from(0.1).to_f64_exact(), Some(0.1));
        assert_eq!(
            n("9223372036854775808").to_f64_exact(),
            Some(9.223372036854776e18)
        );
        assert_eq!(n("18446744073709551615").to_f64_exact(), None);
        for f in [
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            -1.7976931348623157e308,
            1e22,
        ] {
            let num = Number::from(f);
            assert_eq!(num.to_f64_exact(), Some(f), "{f}");
            assert_eq!(num.as_f64(), f);
        }
    }
}
