//! The order in which GLib 2.74 iterates a `GHashTable` keyed by strings
//! (`g_str_hash`), for the few decisions where Pacemaker keeps the first of
//! equally good nodes met while walking a node table (`allowed_nodes`):
//! there the table's order is the tie-break.
//!
//! GLib's table is open addressing over `2^shift` buckets: a key's first
//! bucket is `(hash * 11) % prime(shift)`, collisions probe quadratically
//! (`+1, +2, ...` masked), and the table grows once buckets in use reach
//! 15/16 of its size, to the power of two above `1.333 × entries`,
//! re-placing entries in bucket order and displacing those already
//! re-placed (its in-place resize). Checked against the installed GLib by
//! `tests/glib_order.rs`.

/// GLib's moduli per shift (its `prime_mod` table), up to 2^20 buckets.
const PRIME_MOD: [u32; 21] = [
    1, 2, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071,
    262139, 524287, 1048573,
];

const MIN_SHIFT: usize = 3;

/// `g_str_hash` (djb2 over signed bytes); 0 and 1 mark empty and deleted
/// buckets, so GLib stores them as 2.
fn str_hash(key: &str) -> u32 {
    let h = key.bytes().fold(5381u32, |h, b| {
        h.wrapping_mul(33).wrapping_add(b as i8 as i32 as u32)
    });
    h.max(2)
}

struct Table {
    shift: usize,
    hashes: Vec<u32>,
    /// Index into the caller's keys, per bucket.
    keys: Vec<usize>,
    entries: usize,
}

impl Table {
    fn new() -> Table {
        Table {
            shift: MIN_SHIFT,
            hashes: vec![0; 1 << MIN_SHIFT],
            keys: vec![0; 1 << MIN_SHIFT],
            entries: 0,
        }
    }

    fn size(&self) -> usize {
        1 << self.shift
    }

    fn first_bucket(&self, hash: u32) -> usize {
        (hash.wrapping_mul(11) % PRIME_MOD[self.shift]) as usize
    }

    fn insert(&mut self, names: &[&str], key: usize) {
        let hash = str_hash(names[key]);
        let mask = self.size() - 1;
        let mut bucket = self.first_bucket(hash);
        let mut step = 0;
        while self.hashes[bucket] != 0 {
            if self.hashes[bucket] == hash && names[self.keys[bucket]] == names[key] {
                return;
            }
            step += 1;
            bucket = (bucket + step) & mask;
        }
        self.hashes[bucket] = hash;
        self.keys[bucket] = key;
        self.entries += 1;
        // Nothing is ever removed, so occupied buckets are the entries.
        if self.size() <= self.entries + self.entries / 16 {
            self.grow();
        }
    }

    fn grow(&mut self) {
        let old = self.size();
        let target = (self.entries as f64 * 1.333) as usize;
        let shift = (usize::BITS - target.leading_zeros()) as usize;
        self.shift = shift.clamp(MIN_SHIFT, PRIME_MOD.len() - 1);
        self.hashes.resize(self.size(), 0);
        self.keys.resize(self.size(), 0);
        let mask = self.size() - 1;
        let mut placed = vec![false; self.size().max(old)];
        for i in 0..old {
            if self.hashes[i] < 2 || placed[i] {
                continue;
            }
            let (mut hash, mut key) = (self.hashes[i], self.keys[i]);
            self.hashes[i] = 0;
            loop {
                let mut bucket = self.first_bucket(hash);
                let mut step = 0;
                while placed[bucket] {
                    step += 1;
                    bucket = (bucket + step) & mask;
                }
                placed[bucket] = true;
                let displaced = (self.hashes[bucket], self.keys[bucket]);
                self.hashes[bucket] = hash;
                self.keys[bucket] = key;
                if displaced.0 < 2 {
                    break;
                }
                (hash, key) = displaced;
            }
        }
    }
}

/// The order GLib iterates a string-keyed table into which `keys` were
/// inserted in this order: indexes into `keys` (duplicates kept once).
pub fn iteration_order(keys: &[&str]) -> Vec<usize> {
    let mut table = Table::new();
    for key in 0..keys.len() {
        table.insert(keys, key);
    }
    table
        .hashes
        .iter()
        .zip(&table.keys)
        .filter(|(&h, _)| h >= 2)
        .map(|(_, &k)| k)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_tables_follow_the_hash_not_the_insertion() {
        // Seen from GLib 2.74: "3" before "2"; node1 node3 node2.
        assert_eq!(iteration_order(&["2", "3"]), vec![1, 0]);
        assert_eq!(iteration_order(&["node1", "node2", "node3"]), vec![0, 2, 1]);
        assert_eq!(
            iteration_order(&["1", "2", "3", "4", "5"]),
            vec![3, 0, 2, 4, 1]
        );
    }

    #[test]
    fn growing_tables_keep_every_key_once() {
        let names: Vec<String> = (1..=20).map(|i| i.to_string()).collect();
        let keys: Vec<&str> = names.iter().map(String::as_str).collect();
        let order = iteration_order(&keys);
        // GLib 2.74: 9 12 20 15 1 18 4 7 10 13 16 2 19 5 8 11 14 17 3 6.
        let got: Vec<&str> = order.iter().map(|&i| keys[i]).collect();
        assert_eq!(
            got,
            [
                "9", "12", "20", "15", "1", "18", "4", "7", "10", "13", "16", "2", "19", "5", "8",
                "11", "14", "17", "3", "6"
            ]
        );
    }
}
