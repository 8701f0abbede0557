//! The running state of an aggregate for one or many groups (one for a business measure, one
//! per customer otherwise), kept as flat arrays: a million customers cost a few words each.

use super::{Aggregate, MeasureError};
use crate::engine::hash::hash128;
use crate::engine::hashed::{HashSet128, value_hash};
use crate::engine::value::{FieldType, Finite, Value, ValueRef};

/// What one item contributes to an aggregate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Observed {
    /// A null value: it observes nothing.
    Nothing,
    /// An item counted.
    Item,
    Integer(i64),
    Number(f64),
    /// The hash of a value counted once per group.
    Distinct(u128),
}

pub(super) enum Accumulator {
    Count(Vec<u64>),
    CountDistinct {
        /// Hashes of (group, value hash) seen so far.
        seen: HashSet128,
        counts: Vec<u64>,
    },
    /// Integer sums in 128 bits: no item count can overflow them; the result is checked.
    SumInteger(Vec<i128>),
    SumNumber(Vec<f64>),
    Average {
        sums: Vec<f64>,
        counts: Vec<u64>,
    },
    ExtremeInteger {
        max: bool,
        values: Vec<Option<i64>>,
    },
    ExtremeNumber {
        max: bool,
        values: Vec<Option<f64>>,
    },
}

impl Accumulator {
    /// The state of `aggregate` over a field of type `field` (`None`: counting items) for
    /// `groups` groups, each empty.
    pub(super) fn new(
        aggregate: Aggregate,
        field: Option<FieldType>,
        groups: usize,
    ) -> Accumulator {
        match aggregate {
            Aggregate::Count => Accumulator::Count(vec![0; groups]),
            Aggregate::CountDistinct => Accumulator::CountDistinct {
                seen: HashSet128::default(),
                counts: vec![0; groups],
            },
            Aggregate::Sum if field == Some(FieldType::Integer) => {
                Accumulator::SumInteger(vec![0; groups])
            }
            Aggregate::Sum => Accumulator::SumNumber(vec![0.0; groups]),
            Aggregate::Average => Accumulator::Average {
                sums: vec![0.0; groups],
                counts: vec![0; groups],
            },
            Aggregate::Min | Aggregate::Max => {
                let max = aggregate == Aggregate::Max;
                if field == Some(FieldType::Integer) {
                    Accumulator::ExtremeInteger {
                        max,
                        values: vec![None; groups],
                    }
                } else {
                    Accumulator::ExtremeNumber {
                        max,
                        values: vec![None; groups],
                    }
                }
            }
        }
    }

    /// Makes room for the values of `items` items where the state grows with them (the
    /// values a distinct count has seen), so that it is not rebuilt while it grows.
    pub(super) fn expect_items(&mut self, items: u64) {
        if let Accumulator::CountDistinct { seen, .. } = self {
            seen.reserve(usize::try_from(items).unwrap_or(0));
        }
    }

    /// What one item contributes, read from its value (`None`: an item of a count without a
    /// field), independent of its group, so that items can be gathered before their groups
    /// are looked up. `scratch` is reused.
    pub(super) fn observe(&self, value: Option<ValueRef<'_>>, scratch: &mut Vec<u8>) -> Observed {
        let Some(value) = value else {
            return Observed::Item;
        };
        match (self, value) {
            (_, ValueRef::Null) => Observed::Nothing,
            (Accumulator::CountDistinct { .. }, value) => {
                Observed::Distinct(value_hash(scratch, value))
            }
            (Accumulator::Count(_), _) => Observed::Item,
            (_, ValueRef::Integer(v)) => Observed::Integer(v),
            (_, ValueRef::Number(v)) => Observed::Number(v.get()),
            // Checked by `Measure::bind`: a sum, an average, a min or a max reads numbers.
            (_, _) => Observed::Nothing,
        }
    }

    /// Adds what one item of `group` contributes.
    pub(super) fn add(&mut self, group: usize, observed: Observed) {
        let number = match observed {
            Observed::Nothing => return,
            Observed::Integer(v) => Some(v as f64),
            Observed::Number(v) => Some(v),
            Observed::Item | Observed::Distinct(_) => None,
        };
        match self {
            Accumulator::Count(counts) => counts[group] += 1,
            Accumulator::CountDistinct { seen, counts, .. } => {
                if let Observed::Distinct(hash) = observed {
                    let mut key = [0u8; 24];
                    key[..8].copy_from_slice(&(group as u64).to_le_bytes());
                    key[8..].copy_from_slice(&hash.to_le_bytes());
                    if seen.insert(hash128(&key)) {
                        counts[group] += 1;
                    }
                }
            }
            Accumulator::SumInteger(sums) => {
                if let Observed::Integer(v) = observed {
                    sums[group] += i128::from(v);
                }
            }
            Accumulator::SumNumber(sums) => {
                if let Some(v) = number {
                    sums[group] += v;
                }
            }
            Accumulator::Average { sums, counts } => {
                if let Some(v) = number {
                    sums[group] += v;
                    counts[group] += 1;
                }
            }
            Accumulator::ExtremeInteger { max, values } => {
                if let Observed::Integer(v) = observed {
                    let slot = &mut values[group];
                    *slot = Some(match *slot {
                        None => v,
                        Some(seen) if *max => seen.max(v),
                        Some(seen) => seen.min(v),
                    });
                }
            }
            Accumulator::ExtremeNumber { max, values } => {
                if let Some(v) = number {
                    let slot = &mut values[group];
                    *slot = Some(match *slot {
                        None => v,
                        Some(seen) if *max => seen.max(v),
                        Some(seen) => seen.min(v),
                    });
                }
            }
        }
    }

    /// The aggregate of `group`: 0 for a count or sum of nothing, null for an average, min
    /// or max of nothing.
    pub(super) fn value(&self, group: usize) -> Result<Value, MeasureError> {
        let count = |n: u64| {
            i64::try_from(n)
                .map(Value::Integer)
                .map_err(|_| MeasureError::Overflow)
        };
        let number = |x: f64| {
            Finite::new(x)
                .map(Value::Number)
                .ok_or(MeasureError::Overflow)
        };
        match self {
            Accumulator::Count(counts) | Accumulator::CountDistinct { counts, .. } => {
                count(counts[group])
            }
            Accumulator::SumInteger(sums) => i64::try_from(sums[group])
                .map(Value::Integer)
                .map_err(|_| MeasureError::Overflow),
            Accumulator::SumNumber(sums) => number(sums[group]),
            Accumulator::Average { sums, counts } => match counts[group] {
                0 => Ok(Value::Null),
                n => number(sums[group] / n as f64),
            },
            Accumulator::ExtremeInteger { values, .. } => {
                Ok(values[group].map_or(Value::Null, Value::Integer))
            }
            Accumulator::ExtremeNumber { values, .. } => match values[group] {
                None => Ok(Value::Null),
                Some(v) => number(v),
            },
        }
    }
}
