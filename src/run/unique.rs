//! The check that every key of a run is given once, made after the input is read: each row
//! leaves an 8-byte hash of its key, the hashes are sorted once, and only the keys whose hash
//! repeats are read back from the key file and compared. Sorting a vector is several times
//! cheaper than a hash set that grows with the input (each insert a cache miss, and a copy of
//! the whole set at each growth), and it holds 8 bytes a row instead of 16 to 36.
//!
//! A check after reading, not at the line: the run creates no job before the input is whole,
//! so the error still comes before any job, naming the second line that gives the key.

use std::collections::HashMap;
use std::path::PathBuf;

use super::fingerprint::Fingerprint;
use super::spool::KeyReader;
use crate::error::Result;

/// The keys of a run's rows, as hashes, and where each row came from.
#[derive(Debug, Default)]
pub(crate) struct KeyHashes {
    hashes: Vec<u64>,
    /// Where the input lines jump (blank lines skipped) or are unknown: (row, its line). A row
    /// between two entries is on the line of the entry before it plus the rows between; a file
    /// without blank lines needs one entry.
    lines: Vec<(u64, Option<u64>)>,
}

/// A key given twice: the row that repeats it and the row that gave it first.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Repeated {
    pub(crate) key: String,
    pub(crate) row: u64,
    pub(crate) first: u64,
}

impl KeyHashes {
    /// Notes the key of the next row, from input line `line` when it came from one.
    pub(crate) fn push(&mut self, key: &str, line: Option<u64>) {
        let row = self.hashes.len() as u64;
        let expected = self
            .lines
            .last()
            .and_then(|&(at, first_line)| first_line.map(|first_line| first_line + (row - at)));
        if self.lines.is_empty() || expected != line {
            self.lines.push((row, line));
        }
        self.hashes.push(hash(key));
    }

    /// The line row `row` came from, if it came from one.
    pub(crate) fn line_of(&self, row: u64) -> Option<u64> {
        let at = self.lines.partition_point(|&(start, _)| start <= row);
        let (start, line) = *self.lines.get(at.checked_sub(1)?)?;
        line.map(|line| line + (row - start))
    }

    /// The first row (in input order) whose key an earlier row has, reading the keys back from
    /// `keys` (written in row order) only when some hash repeats. The hashes are sorted in place
    /// (no copy) and let go: the keys read back are hashed again. [`line_of`](Self::line_of)
    /// still answers after.
    pub(crate) fn first_repeated(&mut self, keys: PathBuf) -> Result<Option<Repeated>> {
        let rows = self.hashes.len();
        self.hashes.sort_unstable();
        let mut repeating: Vec<u64> = self
            .hashes
            .windows(2)
            .filter(|pair| pair[0] == pair[1])
            .map(|pair| pair[0])
            .collect();
        self.hashes = Vec::new();
        if repeating.is_empty() {
            return Ok(None);
        }
        repeating.dedup();
        // Same hash, maybe not the same key: the keys decide.
        let mut first: HashMap<String, u64> = HashMap::new();
        let mut reader = KeyReader::open(keys)?;
        for row in 0..rows as u64 {
            let key = reader.next_key()?;
            if repeating.binary_search(&hash(&key)).is_err() {
                continue;
            }
            if let Some(&earlier) = first.get(&key) {
                return Ok(Some(Repeated {
                    key,
                    row,
                    first: earlier,
                }));
            }
            first.insert(key, row);
        }
        Ok(None)
    }
}

fn hash(key: &str) -> u64 {
    Fingerprint::of(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::spool::{KeyWriter, ScratchDir};

    fn check(keys: &[&str], lines: &[Option<u64>]) -> (Option<Repeated>, Vec<Option<u64>>) {
        let dir = ScratchDir::new(&std::env::temp_dir(), "uniquetest").unwrap();
        let mut writer = KeyWriter::create(dir.file("keys")).unwrap();
        let mut hashes = KeyHashes::default();
        for (key, line) in keys.iter().zip(lines) {
            writer.push(key).unwrap();
            hashes.push(key, *line);
        }
        let found = (0..keys.len() as u64)
            .map(|row| hashes.line_of(row))
            .collect();
        let repeated = hashes.first_repeated(writer.finish().unwrap()).unwrap();
        (repeated, found)
    }

    #[test]
    fn the_first_repeat_in_input_order_is_found_with_its_first_row() {
        let lines: Vec<_> = (1..=6).map(Some).collect();
        let (repeated, _) = check(&["a", "b", "c", "b", "a", "c"], &lines);
        assert_eq!(
            repeated,
            Some(Repeated {
                key: "b".into(),
                row: 3,
                first: 1
            })
        );
        assert_eq!(check(&["a", "b", "ab", ""], &lines).0, None);
    }

    #[test]
    fn rows_map_back_to_their_lines_across_blank_lines() {
        let lines = [Some(1), Some(2), Some(5), Some(6), Some(9)];
        let (_, found) = check(&["a", "b", "c", "d", "e"], &lines);
        assert_eq!(found, lines);
        let (_, built) = check(&["a", "b"], &[None, None]);
        assert_eq!(built, [None, None]);
    }
}
