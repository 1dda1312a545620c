//! Exact decimal parsing for exchange prices and sizes ("61737.63000000"), and their conversion to
//! integer ticks and lots. Exchanges send decimal strings; going through f64 would turn an exact
//! price into an approximate one, so conversion is integer arithmetic and refuses off-grid values.

use std::fmt;

/// A non-negative decimal `mantissa * 10^-scale`, normalized (no trailing zero in the mantissa
/// unless it is 0, in which case the scale is 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decimal {
    pub mantissa: i128,
    pub scale: u32,
}

const MAX_SCALE: u32 = 18;

impl Decimal {
    pub const ZERO: Decimal = Decimal {
        mantissa: 0,
        scale: 0,
    };

    /// Parses a plain decimal such as `"0.01"`, `"61737.63000000"` or `"2152"`. Signs, exponents,
    /// NaN and empty strings are refused: exchange sizes and prices are plain non-negative numbers.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bytes = text.as_bytes();
        if bytes.is_empty() {
            return Err("empty number".into());
        }
        let mut mantissa: i128 = 0;
        let mut scale: u32 = 0;
        let mut seen_dot = false;
        let mut digits = 0usize;
        for &b in bytes {
            match b {
                b'0'..=b'9' => {
                    digits += 1;
                    if digits > 30 {
                        return Err(format!("number {text:?} has too many digits"));
                    }
                    mantissa = mantissa * 10 + i128::from(b - b'0');
                    if seen_dot {
                        scale += 1;
                    }
                }
                b'.' if !seen_dot => seen_dot = true,
                b'-' => return Err(format!("negative number {text:?}")),
                _ => return Err(format!("not a plain decimal number: {text:?}")),
            }
        }
        if digits == 0 {
            return Err(format!("not a number: {text:?}"));
        }
        Self::new(mantissa, scale)
    }

    /// `mantissa * 10^-scale`, normalized.
    pub fn new(mut mantissa: i128, mut scale: u32) -> Result<Self, String> {
        if mantissa < 0 {
            return Err("negative decimal".into());
        }
        while scale > 0 && mantissa % 10 == 0 {
            mantissa /= 10;
            scale -= 1;
        }
        if mantissa == 0 {
            scale = 0;
        }
        if scale > MAX_SCALE {
            return Err(format!("more than {MAX_SCALE} decimal places"));
        }
        Ok(Self { mantissa, scale })
    }

    /// The decimal `10^-scale` (a tick or lot inferred from the finest value seen).
    pub fn unit(scale: u32) -> Self {
        Self { mantissa: 1, scale }
    }

    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    pub fn to_f64(&self) -> f64 {
        self.mantissa as f64 / 10f64.powi(self.scale as i32)
    }

    /// How many `step`s make this value, refusing a value that is not a whole number of steps.
    pub fn to_steps(&self, step: Decimal) -> Result<i64, String> {
        if step.is_zero() {
            return Err("step size is zero".into());
        }
        // self / step = (m / 10^s) / (sm / 10^ss) = m * 10^ss / (sm * 10^s)
        let numerator = self
            .mantissa
            .checked_mul(10i128.pow(step.scale))
            .ok_or_else(|| format!("{self} is too large"))?;
        let denominator = step
            .mantissa
            .checked_mul(10i128.pow(self.scale))
            .ok_or_else(|| format!("{self} has too many decimals"))?;
        if numerator % denominator != 0 {
            return Err(format!("{self} is not a multiple of {step}"));
        }
        i64::try_from(numerator / denominator).map_err(|_| format!("{self} is too large"))
    }

    /// `steps * self` as f64 (a tick count back to a price, at the edges only).
    pub fn times(&self, steps: i64) -> f64 {
        steps as f64 * self.to_f64()
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.scale == 0 {
            return write!(f, "{}", self.mantissa);
        }
        let pow = 10i128.pow(self.scale);
        write!(
            f,
            "{}.{:0width$}",
            self.mantissa / pow,
            self.mantissa % pow,
            width = self.scale as usize
        )
    }
}

impl std::str::FromStr for Decimal {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

/// Converts a float price or size (hftbacktest's arrays, polars columns) to whole steps. Values
/// within `1e-6` of a step are taken as that step (floats cannot hold most decimals exactly);
/// anything farther off the grid is refused unless `round` is set, in which case the caller
/// counts the rounding.
pub fn f64_to_steps(value: f64, step: f64, round: bool) -> Result<(i64, bool), String> {
    if !value.is_finite() {
        return Err(format!("{value} is not a finite number"));
    }
    if value < 0.0 {
        return Err(format!("{value} is negative"));
    }
    let exact = value / step;
    let nearest = exact.round();
    if nearest > 9.0e15 {
        return Err(format!("{value} is too large for step {step}"));
    }
    let off_grid = (exact - nearest).abs() > 1e-6 * nearest.abs().max(1.0);
    if off_grid && !round {
        return Err(format!("{value} is not a multiple of {step}"));
    }
    Ok((nearest as i64, off_grid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalizes() {
        let d = Decimal::parse("61737.63000000").unwrap();
        assert_eq!((d.mantissa, d.scale), (6173763, 2));
        assert_eq!(d.to_string(), "61737.63");
        assert_eq!(
            Decimal::parse("0.00000000").unwrap(),
            Decimal::new(0, 0).unwrap()
        );
        assert_eq!(Decimal::parse("2152").unwrap().to_string(), "2152");
        assert_eq!(Decimal::parse("0.001").unwrap().to_string(), "0.001");
    }

    #[test]
    fn refuses_bad_text() {
        for bad in ["", ".", "-1", "1e5", "NaN", "1.2.3", "abc", " 1"] {
            assert!(Decimal::parse(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn converts_to_steps_exactly() {
        let tick = Decimal::parse("0.01").unwrap();
        assert_eq!(
            Decimal::parse("61737.63").unwrap().to_steps(tick),
            Ok(6173763)
        );
        assert!(Decimal::parse("61737.635").unwrap().to_steps(tick).is_err());
        let half = Decimal::parse("0.5").unwrap();
        assert_eq!(Decimal::parse("6421.5").unwrap().to_steps(half), Ok(12843));
        assert_eq!(Decimal::parse("0").unwrap().to_steps(half), Ok(0));
    }

    #[test]
    fn converts_floats() {
        assert_eq!(f64_to_steps(60000.1, 0.1, false), Ok((600001, false)));
        assert!(f64_to_steps(0.12345, 0.001, false).is_err());
        assert_eq!(f64_to_steps(0.12345, 0.001, true), Ok((123, true)));
        assert!(f64_to_steps(f64::NAN, 0.1, true).is_err());
        assert!(f64_to_steps(-1.0, 0.1, true).is_err());
    }
}
