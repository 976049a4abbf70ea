//! [`Fingerprint`]: the run's own 64-bit hash, the same across Rust versions and platforms, for
//! the ids and fingerprints kept in the manifest and for the hashes of keys.

/// A 64-bit hash over texts, four words at a time in four lanes (independent multiplications,
/// so a processor runs them side by side), little-endian: the same value on every platform and
/// in every release. Not a defence against chosen collisions: where a collision matters (two
/// keys), the texts themselves are compared after.
pub(crate) struct Fingerprint([u64; 4]);

const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

fn mix(lane: u64, value: u64) -> u64 {
    (lane ^ value).wrapping_mul(MULTIPLIER).rotate_left(29)
}

impl Fingerprint {
    pub(crate) fn new() -> Self {
        Fingerprint([
            0xcbf2_9ce4_8422_2325,
            0x8422_2325_cbf2_9ce4,
            0x2325_cbf2_9ce4_8422,
            0x9ce4_8422_2325_cbf2,
        ])
    }

    /// The hash of one text.
    pub(crate) fn of(text: &str) -> u64 {
        let mut hash = Fingerprint::new();
        hash.write_str(text);
        hash.finish()
    }

    /// Adds `text` and its length, so ("ab", "c") and ("a", "bc") differ.
    pub(crate) fn write_str(&mut self, text: &str) {
        let mut blocks = text.as_bytes().chunks_exact(32);
        for block in &mut blocks {
            for (lane, word) in self.0.iter_mut().zip(block.chunks_exact(8)) {
                *lane = mix(
                    *lane,
                    u64::from_le_bytes(word.try_into().expect("eight bytes")),
                );
            }
        }
        let mut words = blocks.remainder().chunks_exact(8);
        for word in &mut words {
            self.0[0] = mix(
                self.0[0],
                u64::from_le_bytes(word.try_into().expect("eight bytes")),
            );
        }
        let mut tail = [0u8; 8];
        tail[..words.remainder().len()].copy_from_slice(words.remainder());
        self.0[1] = mix(self.0[1], u64::from_le_bytes(tail));
        self.0[2] = mix(self.0[2], text.len() as u64);
    }

    pub(crate) fn finish(&self) -> u64 {
        let hash = self.0[1..]
            .iter()
            .fold(self.0[0], |hash, lane| mix(hash, *lane));
        hash ^ (hash >> 32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_is_pinned_and_sees_every_byte_and_boundary() {
        // Pinned: a manifest written by one release is read by the next.
        assert_eq!(
            format!("{:016x}", Fingerprint::of("gs://bucket/runs/1")),
            "4ff426f0ec95e569"
        );
        let text = "a text longer than thirty-two bytes, with a tail";
        let base = Fingerprint::of(text);
        for i in 0..text.len() {
            let mut bytes = text.as_bytes().to_vec();
            bytes[i] ^= 1;
            let changed = String::from_utf8(bytes).unwrap();
            assert_ne!(Fingerprint::of(&changed), base, "byte {i}");
        }
        let mut ab_c = Fingerprint::new();
        ab_c.write_str("ab");
        ab_c.write_str("c");
        let mut a_bc = Fingerprint::new();
        a_bc.write_str("a");
        a_bc.write_str("bc");
        assert_ne!(ab_c.finish(), a_bc.finish());
        assert_ne!(Fingerprint::of("a"), Fingerprint::of("a\0"));
    }
}
