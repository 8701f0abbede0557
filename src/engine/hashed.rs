//! Maps keyed by 128-bit hashes of values (primary keys, match keys, customer ids): the keys
//! are uniform already, so the map uses their low bits as they are instead of hashing again.
//! Two different values share a 128-bit hash with odds far below one in 10^20 for millions of
//! values, which is what lets the engine remember values by hash instead of keeping them.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use super::hash::hash128;
use super::value::ValueRef;

/// A map from a 128-bit hash.
pub type HashKeyed<V> = HashMap<u128, V, BuildHasherDefault<LowBits>>;

/// A set of 128-bit hashes.
pub type HashSet128 = HashSet<u128, BuildHasherDefault<LowBits>>;

/// The hasher of [`HashKeyed`]: a key's low 64 bits.
#[derive(Default)]
pub struct LowBits(u64);

impl Hasher for LowBits {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 << 8) | u64::from(*byte);
        }
    }

    fn write_u128(&mut self, value: u128) {
        self.0 = value as u64;
    }
}

/// The hash a value is remembered by: equal values by [`ValueRef::compare`] have equal
/// hashes (through [`ValueRef::write_index_key`]), so `7` finds `7.0`. `scratch` is reused.
pub fn value_hash(scratch: &mut Vec<u8>, value: ValueRef<'_>) -> u128 {
    scratch.clear();
    value.write_index_key(scratch);
    hash128(scratch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::value::Finite;

    #[test]
    fn equal_values_hash_alike_and_the_map_finds_them() {
        let mut scratch = Vec::new();
        let seven = value_hash(&mut scratch, ValueRef::Integer(7));
        let widened = Finite::new(7.0).map(|f| value_hash(&mut scratch, ValueRef::Number(f)));
        assert_eq!(Some(seven), widened);
        assert_eq!(seven, value_hash(&mut scratch, ValueRef::String("7")));
        assert_ne!(seven, value_hash(&mut scratch, ValueRef::Integer(8)));
        let mut map = HashKeyed::default();
        map.insert(seven, "seven");
        assert_eq!(
            map.get(&value_hash(&mut scratch, ValueRef::Integer(7))),
            Some(&"seven")
        );
    }
}
