//! Maps keyed by 128-bit hashes of values (primary keys, match keys, customer ids). Two
//! different values share a 128-bit hash with odds far below one in 10^20 for millions of
//! values, which is what lets the engine remember values by hash instead of keeping them. The
//! map folds a key to 64 bits with a cheap finalizer instead of hashing its 16 bytes again.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use super::hash::hash128;
use super::value::ValueRef;

/// A map from a 128-bit hash.
pub type HashKeyed<V> = HashMap<u128, V, BuildHasherDefault<Folded>>;

/// A set of 128-bit hashes.
pub type HashSet128 = HashSet<u128, BuildHasherDefault<Folded>>;

/// The hasher of [`HashKeyed`]: the key's two halves XORed, then mixed so that every bit of
/// the result depends on every bit of the key. Taking the low 64 bits as they are would not
/// do: the low half of FNV-1a 128 is multiplied by a small constant at each byte, so keys that
/// differ in their last bytes share their high bits, which the table probes by.
#[derive(Default)]
pub struct Folded(u64);

impl Hasher for Folded {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = mix(self.0 ^ u64::from(*byte));
        }
    }

    fn write_u128(&mut self, value: u128) {
        self.0 = mix((value >> 64) as u64 ^ value as u64);
    }
}

/// The 64-bit finalizer of MurmurHash3 (its published constants).
fn mix(mut z: u64) -> u64 {
    z ^= z >> 33;
    z = z.wrapping_mul(0xff51_afd7_ed55_8ccd);
    z ^= z >> 33;
    z = z.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    z ^ (z >> 33)
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

    #[test]
    fn keys_that_differ_in_their_last_bytes_spread_over_high_and_low_bits() {
        use std::hash::BuildHasher;
        let build = BuildHasherDefault::<Folded>::default();
        let mut scratch = Vec::new();
        let hashes: Vec<u64> = (0..1000)
            .map(|n| {
                let id = format!("customer-{n:06}");
                build.hash_one(value_hash(&mut scratch, ValueRef::String(&id)))
            })
            .collect();
        let top: HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        let low: HashSet<u64> = hashes.iter().map(|h| h & 1023).collect();
        // 1000 random draws fill about 128 of 128 and 640 of 1024 slots.
        assert!(top.len() >= 120, "top 7 bits: {} values", top.len());
        assert!(low.len() >= 560, "low 10 bits: {} values", low.len());
    }
}
