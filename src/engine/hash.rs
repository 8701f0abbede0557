//! Stable hashes of index keys: the same bytes give the same hash in every process and
//! release, because index files on disk are sorted by them (std's hasher promises neither).
//! FNV-1a, from its published parameters.

const OFFSET_64: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME_64: u64 = 0x0000_0100_0000_01b3;
const OFFSET_128: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
const PRIME_128: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;

/// The 64-bit hash an index file is sorted by; lookups compare the values themselves, so a
/// collision costs a read, never a wrong answer.
pub fn hash64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(OFFSET_64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(PRIME_64)
    })
}

/// A 128-bit hash that maps keep instead of the value itself (unification's match keys and
/// members, measures' distinct values): two different values share it with odds far below
/// one in 10^20.
pub fn hash128(bytes: &[u8]) -> u128 {
    bytes.iter().fold(OFFSET_128, |hash, byte| {
        (hash ^ u128::from(*byte)).wrapping_mul(PRIME_128)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_the_published_fnv1a_test_vectors() {
        assert_eq!(hash64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash64(b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(hash128(b""), OFFSET_128);
        assert_eq!(hash128(b"a"), 0xd228_cb69_6f1a_8caf_7891_2b70_4e4a_8964);
    }
}
