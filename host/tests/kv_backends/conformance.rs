//! The contract of [`Backend`], as tests every backend must pass.
//!
//! A backend's module instantiates them all with
//!
//! ```ignore
//! crate::conformance::backend_conformance!(|| async { /* … */ });
//! ```
//!
//! The argument is an expression `make` such that `make()` is a future
//! (`|| async { … }`, or an `async fn` with no arguments) whose output is an
//! `Arc<dyn Backend>`: a fresh, empty store (its own temporary file, its own
//! Redis key namespace, …). There is no way to skip: a backend whose service
//! is missing fails its tests (`scripts/setup.sh` installs what they need).
//!
//! `make` is called once per test. Each test is a
//! `#[tokio::test(flavor = "multi_thread", worker_threads = 2)]` function
//! named after the function here it runs, so a failure reads as
//! `embedded::increment_overflow`, `redis::increment_overflow`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use wasmroutes::kv::{Backend, KeyPage, KvError};

/// Expands to one test per conformance check, each on a fresh backend from
/// `$make` (see the module documentation).
macro_rules! backend_conformance {
    ($make:expr) => {
        crate::conformance::backend_conformance!(@tests $make;
            fresh_backend_is_empty,
            get_set_delete_exists,
            empty_value_is_not_absent,
            binary_values,
            get_many_in_order,
            set_many_and_delete_many,
            increment_counts_as_decimal_text,
            increment_of_a_non_integer_is_invalid,
            increment_overflow_is_invalid,
            compare_and_swap_absent,
            compare_and_swap_stale,
            list_pages_every_key_once,
            list_with_prefix,
            list_during_writes_sees_every_lasting_key,
            concurrent_increments_are_exact,
            concurrent_cas_loops_lose_no_update,
            ping,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let make = $make;
                let backend: std::sync::Arc<dyn wasmroutes::kv::Backend> = make().await;
                crate::conformance::$name(backend).await;
            }
        )*
    };
}
pub(crate) use backend_conformance;

/// Every page of keys starting with `prefix`, `limit` at a time, checking
/// each page's size.
pub async fn list_all(backend: &dyn Backend, prefix: Option<&str>, limit: usize) -> Vec<String> {
    let mut keys = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100_000 {
        let page = backend.list_keys(prefix, cursor.as_deref(), limit).await.expect("list_keys");
        assert!(page.keys.len() <= limit, "{} keys in a page of at most {limit}", page.keys.len());
        keys.extend(page.keys);
        match page.cursor {
            None => return keys,
            Some(next) => cursor = Some(next),
        }
    }
    panic!("list_keys never returned its last page");
}

/// A new store holds nothing.
pub async fn fresh_backend_is_empty(backend: Arc<dyn Backend>) {
    assert_eq!(backend.list_keys(None, None, 1000).await.expect("list"), KeyPage::default());
    assert_eq!(backend.get("anything").await.expect("get"), None);
}

/// The basic life of a key, including non-ASCII keys.
pub async fn get_set_delete_exists(backend: Arc<dyn Backend>) {
    for key in ["a", "user:42/profile", "ключ 🔑", &"k".repeat(256)] {
        assert_eq!(backend.get(key).await.expect("get"), None, "{key}");
        assert!(!backend.exists(key).await.expect("exists"));
        backend.set(key.to_owned(), b"one".to_vec()).await.expect("set");
        assert_eq!(backend.get(key).await.expect("get"), Some(b"one".to_vec()));
        assert!(backend.exists(key).await.expect("exists"));
        backend.set(key.to_owned(), b"two".to_vec()).await.expect("overwrite");
        assert_eq!(backend.get(key).await.expect("get"), Some(b"two".to_vec()));
        backend.delete(key.to_owned()).await.expect("delete");
        assert_eq!(backend.get(key).await.expect("get"), None);
        assert!(!backend.exists(key).await.expect("exists"));
        // Deleting a missing key is not an error.
        backend.delete(key.to_owned()).await.expect("delete again");
    }
}

/// An empty value is a value: the key exists.
pub async fn empty_value_is_not_absent(backend: Arc<dyn Backend>) {
    backend.set("empty".into(), Vec::new()).await.expect("set");
    assert_eq!(backend.get("empty").await.expect("get"), Some(Vec::new()));
    assert!(backend.exists("empty").await.expect("exists"));
    assert_eq!(backend.get_many(&["empty".into()]).await.expect("get_many"), [Some(Vec::new())]);
    assert_eq!(list_all(&*backend, None, 10).await, ["empty"]);
}

/// Values are bytes, kept exactly: every byte value, invalid UTF-8, NULs,
/// a larger value.
pub async fn binary_values(backend: Arc<dyn Backend>) {
    let all_bytes: Vec<u8> = (0..=255).collect();
    let large: Vec<u8> = (0..1024 * 1024).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let values = [all_bytes, vec![0xff, 0xfe, 0x00, 0x80], vec![0; 17], b"\r\n$3\r\n".to_vec(), large];
    for (i, value) in values.iter().enumerate() {
        backend.set(format!("bin/{i}"), value.clone()).await.expect("set");
    }
    for (i, value) in values.iter().enumerate() {
        assert_eq!(backend.get(&format!("bin/{i}")).await.expect("get").as_ref(), Some(value), "value {i}");
    }
}

/// `get_many` answers in the order asked, `None` for missing keys,
/// repeated keys included.
pub async fn get_many_in_order(backend: Arc<dyn Backend>) {
    backend.set("a".into(), b"1".to_vec()).await.expect("set");
    backend.set("b".into(), b"2".to_vec()).await.expect("set");
    let keys: Vec<String> = ["b", "missing", "a", "b"].map(String::from).into();
    assert_eq!(
        backend.get_many(&keys).await.expect("get_many"),
        [Some(b"2".to_vec()), None, Some(b"1".to_vec()), Some(b"2".to_vec())]
    );
    assert_eq!(backend.get_many(&[]).await.expect("get_many of nothing"), Vec::<Option<Vec<u8>>>::new());
}

/// `set_many` and `delete_many`, including empty batches and a key given
/// twice (the last value wins).
pub async fn set_many_and_delete_many(backend: Arc<dyn Backend>) {
    backend.set_many(Vec::new()).await.expect("set_many of nothing");
    backend.delete_many(Vec::new()).await.expect("delete_many of nothing");
    let entries: Vec<(String, Vec<u8>)> =
        (0..1000).map(|i| (format!("m/{i:04}"), i.to_string().into_bytes())).collect();
    backend.set_many(entries.clone()).await.expect("set_many");
    let keys: Vec<String> = entries.iter().map(|(k, _)| k.clone()).collect();
    let values = backend.get_many(&keys).await.expect("get_many");
    assert!(values.into_iter().zip(&entries).all(|(got, (_, want))| got.as_ref() == Some(want)));

    backend
        .set_many(vec![("dup".into(), b"first".to_vec()), ("dup".into(), b"last".to_vec())])
        .await
        .expect("set_many with a key twice");
    assert_eq!(backend.get("dup").await.expect("get"), Some(b"last".to_vec()));

    let mut doomed: Vec<String> = keys[..500].to_vec();
    doomed.push("never-set".into());
    backend.delete_many(doomed).await.expect("delete_many");
    // Listings are in no promised order.
    let mut left = list_all(&*backend, Some("m/"), 1000).await;
    left.sort();
    assert_eq!(left, keys[500..]);
}

/// A missing key counts from 0; the value is decimal text.
pub async fn increment_counts_as_decimal_text(backend: Arc<dyn Backend>) {
    assert_eq!(backend.increment("c".into(), 5).await.expect("increment"), 5);
    assert_eq!(backend.get("c").await.expect("get"), Some(b"5".to_vec()));
    assert_eq!(backend.increment("c".into(), -7).await.expect("increment"), -2);
    assert_eq!(backend.get("c").await.expect("get"), Some(b"-2".to_vec()));
    assert_eq!(backend.increment("c".into(), 0).await.expect("increment"), -2);
    backend.set("d".into(), b"41".to_vec()).await.expect("set");
    assert_eq!(backend.increment("d".into(), 1).await.expect("increment"), 42);
    backend.set("e".into(), b"-9223372036854775807".to_vec()).await.expect("set");
    assert_eq!(backend.increment("e".into(), -1).await.expect("increment"), i64::MIN);
    assert_eq!(backend.increment("f".into(), i64::MIN).await.expect("increment"), i64::MIN);
    assert_eq!(backend.get("f").await.expect("get"), Some(b"-9223372036854775808".to_vec()));
}

/// What Redis `INCRBY` refuses, every backend refuses, and the value stays.
pub async fn increment_of_a_non_integer_is_invalid(backend: Arc<dyn Backend>) {
    let values: [&[u8]; 11] =
        [b"abc", b"1.5", b"", b" 1", b"1 ", b"12abc", b"+1", b"007", b"-0", b"9223372036854775808", b"\xff1"];
    for value in values {
        backend.set("v".into(), value.to_vec()).await.expect("set");
        let result = backend.increment("v".into(), 1).await;
        assert!(
            matches!(result, Err(KvError::Invalid(_))),
            "increment of {:?}: {result:?}",
            String::from_utf8_lossy(value)
        );
        assert_eq!(backend.get("v").await.expect("get").as_deref(), Some(value));
    }
}

/// An increment past `i64`'s range is refused and changes nothing.
pub async fn increment_overflow_is_invalid(backend: Arc<dyn Backend>) {
    backend.set("max".into(), i64::MAX.to_string().into_bytes()).await.expect("set");
    assert!(matches!(backend.increment("max".into(), 1).await, Err(KvError::Invalid(_))));
    assert_eq!(backend.get("max").await.expect("get"), Some(i64::MAX.to_string().into_bytes()));
    backend.set("min".into(), i64::MIN.to_string().into_bytes()).await.expect("set");
    assert!(matches!(backend.increment("min".into(), -1).await, Err(KvError::Invalid(_))));
    assert_eq!(backend.get("min").await.expect("get"), Some(i64::MIN.to_string().into_bytes()));
    assert_eq!(backend.increment("max".into(), -1).await.expect("increment"), i64::MAX - 1);
}

/// `expected: None` means "not set"; an empty value is set.
pub async fn compare_and_swap_absent(backend: Arc<dyn Backend>) {
    assert!(backend.compare_and_swap("k".into(), None, b"v1".to_vec()).await.expect("cas"));
    assert_eq!(backend.get("k").await.expect("get"), Some(b"v1".to_vec()));
    assert!(!backend.compare_and_swap("k".into(), None, b"v2".to_vec()).await.expect("cas"));
    assert_eq!(backend.get("k").await.expect("get"), Some(b"v1".to_vec()));

    // A missing key does not hold the empty value, nor the other way round.
    assert!(!backend.compare_and_swap("missing".into(), Some(Vec::new()), b"x".to_vec()).await.expect("cas"));
    assert!(!backend.exists("missing").await.expect("exists"));
    backend.set("empty".into(), Vec::new()).await.expect("set");
    assert!(!backend.compare_and_swap("empty".into(), None, b"x".to_vec()).await.expect("cas"));
    assert!(backend.compare_and_swap("empty".into(), Some(Vec::new()), b"x".to_vec()).await.expect("cas"));
    assert_eq!(backend.get("empty").await.expect("get"), Some(b"x".to_vec()));
}

/// A stale `expected` changes nothing; the current one swaps.
pub async fn compare_and_swap_stale(backend: Arc<dyn Backend>) {
    backend.set("k".into(), b"v1".to_vec()).await.expect("set");
    assert!(backend.compare_and_swap("k".into(), Some(b"v1".to_vec()), b"v2".to_vec()).await.expect("cas"));
    assert!(!backend.compare_and_swap("k".into(), Some(b"v1".to_vec()), b"v3".to_vec()).await.expect("cas"));
    assert_eq!(backend.get("k").await.expect("get"), Some(b"v2".to_vec()));
    // Bytes, not text: a prefix or a longer value does not match.
    assert!(!backend.compare_and_swap("k".into(), Some(b"v".to_vec()), b"x".to_vec()).await.expect("cas"));
    assert!(!backend.compare_and_swap("k".into(), Some(b"v2\0".to_vec()), b"x".to_vec()).await.expect("cas"));
    assert_eq!(backend.get("k").await.expect("get"), Some(b"v2".to_vec()));
    // A key that is not set never matches a value.
    assert!(!backend.compare_and_swap("gone".into(), Some(b"v1".to_vec()), b"x".to_vec()).await.expect("cas"));
    assert!(!backend.exists("gone").await.expect("exists"));
}

/// 2,500 keys, 1,000 a page: each once, and the last page says it is.
pub async fn list_pages_every_key_once(backend: Arc<dyn Backend>) {
    let keys: BTreeSet<String> = (0..2500).map(|i| format!("key-{i:05}")).collect();
    let all: Vec<String> = keys.iter().cloned().collect();
    for chunk in all.chunks(1000) {
        backend.set_many(chunk.iter().map(|k| (k.clone(), b"v".to_vec())).collect()).await.expect("set_many");
    }
    let listed = list_all(&*backend, None, 1000).await;
    assert_eq!(listed.len(), keys.len(), "a key listed twice or missing");
    assert_eq!(listed.into_iter().collect::<BTreeSet<_>>(), keys);
}

/// Only keys starting with the prefix, which is text, not a pattern.
pub async fn list_with_prefix(backend: Arc<dyn Backend>) {
    let keys = [
        "user/1",
        "user/2",
        "user/",
        "user",
        "users/1",
        "usep",
        "a",
        "z",
        "x*1",
        "x*2",
        "xa1",
        "x?",
        "x[a]",
        "x\\1",
        "ключ/1",
        "ключ/2",
        "ключи",
    ];
    backend.set_many(keys.iter().map(|k| ((*k).to_owned(), Vec::new())).collect()).await.expect("set_many");
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(sorted(list_all(&*backend, Some("user/"), 1000).await), ["user/", "user/1", "user/2"]);
    assert_eq!(sorted(list_all(&*backend, Some("user"), 2).await), ["user", "user/", "user/1", "user/2", "users/1"]);
    assert_eq!(sorted(list_all(&*backend, Some("x*"), 1000).await), ["x*1", "x*2"]);
    assert_eq!(sorted(list_all(&*backend, Some("x?"), 1000).await), ["x?"]);
    assert_eq!(sorted(list_all(&*backend, Some("x["), 1000).await), ["x[a]"]);
    assert_eq!(sorted(list_all(&*backend, Some("x\\"), 1000).await), ["x\\1"]);
    assert_eq!(sorted(list_all(&*backend, Some("ключ/"), 1000).await), ["ключ/1", "ключ/2"]);
    assert_eq!(list_all(&*backend, Some("nothing"), 1000).await, Vec::<String>::new());
    assert_eq!(list_all(&*backend, None, 1000).await.len(), keys.len());
}

/// A listing while other tasks write and delete returns every key that
/// exists from start to end, and only keys that existed at some point.
pub async fn list_during_writes_sees_every_lasting_key(backend: Arc<dyn Backend>) {
    let lasting: Vec<String> = (0..2000).map(|i| format!("l/{i:05}")).collect();
    for chunk in lasting.chunks(1000) {
        backend.set_many(chunk.iter().map(|k| (k.clone(), Vec::new())).collect()).await.expect("set_many");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4u64)
        .map(|w| {
            let (backend, stop) = (Arc::clone(&backend), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    // Between and around the lasting keys; half deleted again.
                    let key = format!("l/{:05}~{w}~{i}", (i * 7919 + w * 13) % 2100);
                    backend.set(key.clone(), Vec::new()).await.expect("set");
                    if i.is_multiple_of(2) {
                        backend.delete(key).await.expect("delete");
                    }
                    i += 1;
                }
                i
            })
        })
        .collect();
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = backend.list_keys(Some("l/"), cursor.as_deref(), 100).await.expect("list_keys");
        assert!(page.keys.len() <= 100);
        listed.extend(page.keys);
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        match page.cursor {
            None => break,
            Some(next) => cursor = Some(next),
        }
    }
    stop.store(true, Ordering::Relaxed);
    let mut writes = 0;
    for writer in writers {
        writes += writer.await.expect("writer");
    }
    assert!(writes > 0, "no write happened during the listing");
    let listed: BTreeSet<String> = listed.into_iter().collect();
    let missing: Vec<&String> = lasting.iter().filter(|k| !listed.contains(*k)).collect();
    assert!(
        missing.is_empty(),
        "{} lasting keys not listed, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(listed.iter().all(|k| k.len() == 7 || k.contains('~')), "a key that never existed was listed");
}

/// 64 tasks × 100 increments of one key: exactly 6,400, and no two
/// increments saw the same result.
pub async fn concurrent_increments_are_exact(backend: Arc<dyn Backend>) {
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let backend = Arc::clone(&backend);
            tokio::spawn(async move {
                let mut seen = Vec::with_capacity(100);
                for _ in 0..100 {
                    seen.push(backend.increment("hits".into(), 1).await.expect("increment"));
                }
                seen
            })
        })
        .collect();
    let mut seen = BTreeSet::new();
    for task in tasks {
        seen.extend(task.await.expect("task"));
    }
    assert_eq!(seen, (1..=6400).collect::<BTreeSet<i64>>());
    assert_eq!(backend.get("hits").await.expect("get"), Some(b"6400".to_vec()));
}

/// 32 tasks each add 1 to a JSON document's counter 20 times with a
/// read / compare-and-swap / retry loop: no update is lost.
pub async fn concurrent_cas_loops_lose_no_update(backend: Arc<dyn Backend>) {
    fn count(doc: Option<&[u8]>) -> u64 {
        let Some(doc) = doc else { return 0 };
        let text = std::str::from_utf8(doc).expect("utf-8");
        let fields: BTreeMap<&str, &str> = text
            .trim_matches(|c| c == '{' || c == '}')
            .split(',')
            .filter_map(|field| field.split_once(':'))
            .map(|(k, v)| (k.trim_matches('"'), v))
            .collect();
        fields.get("n").expect("the n field").parse().expect("a number")
    }
    let tasks: Vec<_> = (0..32)
        .map(|task| {
            let backend = Arc::clone(&backend);
            tokio::spawn(async move {
                let mut retries = 0u64;
                for _ in 0..20 {
                    loop {
                        let current = backend.get("doc").await.expect("get");
                        let n = count(current.as_deref());
                        let next = format!(r#"{{"n":{},"by":"task-{task}"}}"#, n + 1).into_bytes();
                        if backend.compare_and_swap("doc".into(), current, next).await.expect("cas") {
                            break;
                        }
                        retries += 1;
                    }
                }
                retries
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    assert_eq!(count(backend.get("doc").await.expect("get").as_deref()), 32 * 20);
}

/// A working backend answers.
pub async fn ping(backend: Arc<dyn Backend>) {
    backend.ping().await.expect("ping");
}
