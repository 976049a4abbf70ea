//! The canonical hash of a request: equal for two JSON texts that the service's
//! re-serialisation can turn into one another, different otherwise.
//!
//! What the service may change in the request it echoes, and so what the hash does not see
//! (the "Batch inference from Cloud Storage" page and the sample output of
//! GoogleCloudPlatform/generative-ai `gemini/batch-prediction/intro_batch_prediction.ipynb`):
//! - the order of an object's keys (they come back sorted): an object's hash adds its members'
//!   hashes, an order-free sum;
//! - `null` members, which the service adds to each object of an array for its siblings' keys
//!   (`{"file_data": null, "text": "..."}`): a member whose value is `null` is left out;
//! - how a number is written (`0.2`, `2e-1`, `1` or `1.0`): a number is hashed as the `f64` it
//!   reads as;
//! - how a string is escaped (`\u00e9` or `é`, `\/` or `/`): a string is hashed unescaped;
//! - the run's own row label (`labels.vertex_batch_row`), and `labels` itself when that was
//!   its only entry, so that a request echoed with or without its labels hashes the same.
//!
//! Array order, key names (snake_case stays snake_case), strings' text and every other value
//! count. Not a defence against chosen collisions: it catches the service pairing an answer
//! with another row's request (python-genai #1909, python-aiplatform #1166, curator #276), and
//! 64 bits make a missed swap about one in 10^19.

const K: u64 = 0x9e37_79b9_7f4a_7c15;

/// One step of the hash: `value` mixed into `state`.
#[inline]
pub(crate) fn mix(state: u64, value: u64) -> u64 {
    (state ^ value).wrapping_mul(K).rotate_left(29)
}

/// The final mix, so that nearby inputs land far apart.
#[inline]
fn finish(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Tags, so that a string, a number and an object of the same bits differ.
const STRING: u64 = 0x5354_5249_4e47_0001;
const NUMBER: u64 = 0x4e55_4d42_4552_0002;
const OBJECT: u64 = 0x4f42_4a45_4354_0003;
const ARRAY: u64 = 0x4152_5241_5900_0004;
pub(crate) const TRUE: u64 = 0x5452_5545_0000_0005;
pub(crate) const FALSE: u64 = 0x4641_4c53_4500_0006;
/// `null` as an array element (a `null` member is left out).
pub(crate) const NULL: u64 = 0x4e55_4c4c_0000_0007;
const KEY: u64 = 0x4b45_5900_0000_0008;

/// The hash of some bytes (a string's text, unescaped), eight at a time.
#[inline]
pub(crate) fn bytes(seed: u64, text: &[u8]) -> u64 {
    let mut h = seed;
    let mut words = text.chunks_exact(8);
    for word in &mut words {
        h = mix(h, u64::from_le_bytes(word.try_into().expect("eight bytes")));
    }
    let rest = words.remainder();
    let mut tail = [0u8; 8];
    tail[..rest.len()].copy_from_slice(rest);
    h = mix(h, u64::from_le_bytes(tail));
    finish(mix(h, text.len() as u64))
}

/// A string's hash, from its unescaped text.
#[inline]
pub(crate) fn string(text: &[u8]) -> u64 {
    bytes(STRING, text)
}

/// A key's hash, from its unescaped text (also a step of a field's path).
#[inline]
pub(crate) fn key(text: &[u8]) -> u64 {
    bytes(KEY, text)
}

/// A number's hash: the `f64` it reads as (`-0` as `0`).
#[inline]
pub(crate) fn number(value: f64) -> u64 {
    let value = if value == 0.0 { 0.0 } else { value };
    finish(mix(NUMBER, value.to_bits()))
}

/// An object's hash, adding its members' hashes one at a time in any order.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ObjectHash {
    sum: u64,
    count: u64,
}

impl ObjectHash {
    pub(crate) fn new() -> Self {
        ObjectHash { sum: 0, count: 0 }
    }

    /// Adds a member (its key's hash and its value's).
    #[inline]
    pub(crate) fn member(&mut self, key: u64, value: u64) {
        self.sum = self.sum.wrapping_add(finish(mix(key, value)));
        self.count += 1;
    }

    /// Members added.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    pub(crate) fn finish(self) -> u64 {
        finish(mix(mix(OBJECT, self.sum), self.count))
    }
}

/// An array's hash, its elements in order.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ArrayHash {
    state: u64,
    count: u64,
}

impl ArrayHash {
    pub(crate) fn new() -> Self {
        ArrayHash {
            state: ARRAY,
            count: 0,
        }
    }

    #[inline]
    pub(crate) fn element(&mut self, value: u64) {
        self.state = mix(self.state, value);
        self.count += 1;
    }

    pub(crate) fn finish(self) -> u64 {
        finish(mix(self.state, self.count))
    }
}

/// The path of a field below the path `parent`, by its key's hash.
#[inline]
pub(crate) fn field_path(parent: u64, key: u64) -> u64 {
    finish(mix(parent, key))
}

/// The path of an array's elements below the array's path `parent` (`path[]`).
#[inline]
pub(crate) fn element_path(parent: u64) -> u64 {
    finish(mix(parent, ARRAY))
}
