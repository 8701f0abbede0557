//! The threshold-crossing rule of the segment and measure triggers.

use serde::{Deserialize, Serialize};

/// A finite threshold value. NaN and infinities are refused so that ordering is total.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Threshold(f64);

impl Threshold {
    pub fn new(value: f64) -> Option<Self> {
        value.is_finite().then_some(Self(value))
    }

    pub fn value(self) -> f64 {
        self.0
    }

    /// Crossing **above**: the previous value was at or below the threshold and the new one is
    /// strictly above it. Without a previous value (no baseline yet) nothing crosses: the first
    /// observation only sets the baseline.
    pub fn is_crossed(self, previous: Option<f64>, new: f64) -> bool {
        matches!(previous, Some(prev) if prev <= self.0 && new > self.0)
    }
}

/// Encodes a finite `f64` into 8 bytes whose lexicographic order is the numeric order, so that
/// thresholds can be range-scanned in a sorted key space.
pub fn order_preserving_bytes(value: f64) -> [u8; 8] {
    // -0.0 and 0.0 compare equal; give them one encoding.
    let value = if value == 0.0 { 0.0 } else { value };
    let bits = value.to_bits();
    let flipped = if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    };
    flipped.to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// (baseline, values, threshold, indexes of values that must fire, why)
    type Case = (
        Option<f64>,
        &'static [f64],
        f64,
        &'static [usize],
        &'static str,
    );
    const CASES: &[Case] = &[
        (
            Some(5.0),
            &[8.0, 12.0, 15.0, 10.0, 11.0],
            10.0,
            &[1, 4],
            "fires on each upward crossing",
        ),
        (
            Some(5.0),
            &[10.0, 10.0, 9.0],
            10.0,
            &[],
            "equal to the threshold never fires",
        ),
        (
            None,
            &[50.0, 60.0],
            10.0,
            &[],
            "no baseline: the first value only sets it",
        ),
        (
            None,
            &[5.0, 50.0],
            10.0,
            &[1],
            "after the baseline is set, a crossing fires",
        ),
        (
            Some(10.0),
            &[10.5],
            10.0,
            &[0],
            "from exactly the threshold to above fires",
        ),
        (
            Some(20.0),
            &[5.0, 30.0],
            10.0,
            &[1],
            "going down then up again fires once",
        ),
        (Some(-3.5), &[-1.0, -2.5], -2.0, &[0], "negative thresholds"),
    ];

    #[test]
    fn crossing_table() {
        for (baseline, values, threshold, expected, why) in CASES {
            let threshold = Threshold::new(*threshold).unwrap();
            let mut previous = *baseline;
            let mut fired = Vec::new();
            for (i, value) in values.iter().enumerate() {
                if threshold.is_crossed(previous, *value) {
                    fired.push(i);
                }
                previous = Some(*value);
            }
            assert_eq!(&fired, expected, "{why}");
        }
    }

    #[test]
    fn thresholds_must_be_finite() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(Threshold::new(bad).is_none());
        }
    }

    proptest! {
        #[test]
        fn crossing_matches_its_definition(prev in -1e6f64..1e6, new in -1e6f64..1e6, t in -1e6f64..1e6) {
            let fired = Threshold::new(t).unwrap().is_crossed(Some(prev), new);
            prop_assert_eq!(fired, prev <= t && new > t);
        }

        #[test]
        fn a_sequence_fires_once_per_upward_crossing(
            values in prop::collection::vec(-100i32..100, 1..50),
            t in -100i32..100,
        ) {
            let threshold = Threshold::new(f64::from(t)).unwrap();
            let mut previous = None;
            let mut fires = 0usize;
            for v in &values {
                let v = f64::from(*v);
                if threshold.is_crossed(previous, v) {
                    fires += 1;
                    // After a fire the value is above, so the next fire needs a dip first.
                    prop_assert!(v > threshold.value());
                }
                previous = Some(v);
            }
            // Upward crossings can never outnumber the times the series went at-or-below.
            let at_or_below = values.iter().filter(|v| f64::from(**v) <= threshold.value()).count();
            prop_assert!(fires <= at_or_below);
        }

        #[test]
        fn byte_order_is_numeric_order(a in proptest::num::f64::NORMAL | proptest::num::f64::ZERO,
                                       b in proptest::num::f64::NORMAL | proptest::num::f64::ZERO) {
            let (ka, kb) = (order_preserving_bytes(a), order_preserving_bytes(b));
            prop_assert_eq!(a.partial_cmp(&b).unwrap(), ka.cmp(&kb));
        }
    }
}
