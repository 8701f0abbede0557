//! Stable hashes of index keys: the same bytes give the same hash in every process and
//! release, because index files on disk are sorted by them (std's hasher promises neither).
//! FNV-1a, from its published parameters.

const OFFSET_64: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME_64: u64 = 0x0000_0100_0000_01b3;

/// The 64-bit hash an index file is sorted by; lookups compare the values themselves, so a
/// collision costs a read, never a wrong answer.
pub fn hash64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(OFFSET_64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(PRIME_64)
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
    }
}
