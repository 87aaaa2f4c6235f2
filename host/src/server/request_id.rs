//! Request ids: short, unique per process, unpredictable across restarts.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// A new id, e.g. `3f9a0c1e7b2d4a65`.
pub fn next() -> String {
    static SEED: OnceLock<RandomState> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // A keyed hash of a counter: unique within the process (the hash of
    // distinct u64s under one key practically never collides) and not
    // guessable from outside.
    let hash = SEED.get_or_init(RandomState::new).hash_one(n);
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_distinct_hex() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| super::next()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())));
    }
}
