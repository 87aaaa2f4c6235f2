//! The SDK side of `kv` against the in-memory store.

use std::cell::Cell;

use serde::{Deserialize, Serialize};

use super::*;
use crate::Error;

fn store() -> Store {
    Store::open("default").expect("the in-memory store opens")
}

#[test]
fn set_get_exists_delete() {
    let s = store();
    assert_eq!(s.get("a").unwrap(), None);
    assert!(!s.exists("a").unwrap());
    s.set("a", "1").unwrap();
    s.set("a", b"2").unwrap();
    assert_eq!(s.get("a").unwrap().as_deref(), Some(&b"2"[..]));
    assert!(s.exists("a").unwrap());
    s.delete("a").unwrap();
    s.delete("a").unwrap();
    assert_eq!(s.get("a").unwrap(), None);
}

#[test]
fn stores_are_separate_by_name_and_by_thread() {
    Store::open("one").unwrap().set("k", "1").unwrap();
    assert_eq!(Store::open("two").unwrap().get("k").unwrap(), None);
    let other_thread = std::thread::spawn(|| Store::open("one").unwrap().get("k").unwrap()).join().unwrap();
    assert_eq!(other_thread, None);
    assert_eq!(Store::open("one").unwrap().get("k").unwrap().as_deref(), Some(&b"1"[..]));
}

#[test]
fn keys_are_checked_before_the_store_is_called() {
    let s = store();
    let long = "k".repeat(MAX_KEY_BYTES + 1);
    // Two bytes a character: 129 characters are 258 bytes.
    let long_utf8 = "é".repeat(129);
    for key in ["", long.as_str(), long_utf8.as_str()] {
        assert!(matches!(s.get(key), Err(KvError::InvalidKey(_))), "{key:?}");
        assert!(matches!(s.set(key, "v"), Err(KvError::InvalidKey(_))));
        assert!(matches!(s.delete(key), Err(KvError::InvalidKey(_))));
        assert!(matches!(s.exists(key), Err(KvError::InvalidKey(_))));
        assert!(matches!(s.increment(key, 1), Err(KvError::InvalidKey(_))));
        assert!(matches!(s.update(key, |_| None), Err(KvError::InvalidKey(_))));
        assert!(matches!(s.get_many(&["ok", key]), Err(KvError::InvalidKey(_))));
    }
    s.set(&"k".repeat(MAX_KEY_BYTES), "v").unwrap();
    assert_eq!(Error::from(s.get("").unwrap_err()).status(), 400);
    // A long key is shortened in the message.
    let msg = s.get(&long).unwrap_err().to_string();
    assert!(msg.len() < 150, "{msg}");
}

#[test]
fn values_over_the_limit_are_a_413() {
    let s = store();
    let err = s.set("big", vec![0u8; testing::MAX_VALUE_BYTES + 1]).unwrap_err();
    assert!(matches!(err, KvError::Limit(_)), "{err:?}");
    assert_eq!(Error::from(err).status(), 413);
    s.set("big", vec![0u8; testing::MAX_VALUE_BYTES]).unwrap();
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Item {
    id: u32,
    name: String,
}

#[test]
fn json_round_trip() {
    let s = store();
    assert_eq!(s.get_json::<Item>("item").unwrap(), None);
    s.set_json("item", &Item { id: 1, name: "x".into() }).unwrap();
    assert_eq!(s.get("item").unwrap().as_deref(), Some(&br#"{"id":1,"name":"x"}"#[..]));
    assert_eq!(s.get_json::<Item>("item").unwrap(), Some(Item { id: 1, name: "x".into() }));
}

#[test]
fn stored_data_that_is_not_the_expected_json_is_a_500() {
    let s = store();
    s.set("item", "not json").unwrap();
    let err = s.get_json::<Item>("item").unwrap_err();
    assert!(matches!(err, KvError::Json(ref m) if m.contains("`item`")), "{err:?}");
    assert_eq!(Error::from(err).status(), 500);
    s.set("item", r#"{"id":"one"}"#).unwrap();
    assert!(matches!(s.get_json::<Item>("item"), Err(KvError::Json(_))));
}

#[test]
fn unserializable_values_are_a_json_error() {
    let mut map = std::collections::HashMap::new();
    map.insert(vec![1u8], 1);
    assert!(matches!(store().set_json("m", &map), Err(KvError::Json(_))));
    assert_eq!(store().get("m").unwrap(), None);
}

#[test]
fn increment_keeps_decimal_text() {
    let s = store();
    assert_eq!(s.increment("n", 5).unwrap(), 5);
    assert_eq!(s.increment("n", -7).unwrap(), -2);
    assert_eq!(s.get("n").unwrap().as_deref(), Some(&b"-2"[..]));
    s.set("n", "40").unwrap();
    assert_eq!(s.increment("n", 2).unwrap(), 42);
}

#[test]
fn increment_of_a_non_number_or_an_overflow_is_invalid_and_changes_nothing() {
    let s = store();
    s.set("text", "abc").unwrap();
    assert!(matches!(s.increment("text", 1), Err(KvError::Invalid(_))));
    assert_eq!(s.get("text").unwrap().as_deref(), Some(&b"abc"[..]));
    s.set("max", i64::MAX.to_string()).unwrap();
    let err = s.increment("max", 1).unwrap_err();
    assert!(matches!(err, KvError::Invalid(_)), "{err:?}");
    assert_eq!(Error::from(err).status(), 500);
    assert_eq!(s.get("max").unwrap(), Some(i64::MAX.to_string().into_bytes()));
}

#[test]
fn batches() {
    let s = store();
    s.set_many(&[("a", "1"), ("b", "2"), ("c", "3")]).unwrap();
    assert_eq!(s.get_many(&["c", "missing", "a"]).unwrap(), [Some(b"3".to_vec()), None, Some(b"1".to_vec())]);
    s.delete_many(&["a", "c", "missing"]).unwrap();
    assert_eq!(testing::dump("default").into_keys().collect::<Vec<_>>(), ["b"]);
    assert_eq!(s.get_many::<&str>(&[]).unwrap(), Vec::<Option<Vec<u8>>>::new());
    s.set_many::<&str, &str>(&[]).unwrap();
    s.delete_many::<&str>(&[]).unwrap();

    s.set_many(&[("x", r#"{"id":1,"name":"x"}"#), ("y", "nope")]).unwrap();
    let items = s.get_many_json::<Item, _>(&["x", "z"]).unwrap();
    assert_eq!(items, [Some(Item { id: 1, name: "x".into() }), None]);
    assert!(matches!(s.get_many_json::<Item, _>(&["x", "y"]), Err(KvError::Json(_))));
}

#[test]
fn batches_are_limited_and_all_or_none() {
    let s = store();
    let keys: Vec<String> = (0..=MAX_BATCH).map(|i| format!("k{i}")).collect();
    assert!(matches!(s.get_many(&keys), Err(KvError::Limit(_))));
    assert!(matches!(s.delete_many(&keys), Err(KvError::Limit(_))));
    let entries: Vec<(String, &str)> = keys.iter().map(|k| (k.clone(), "v")).collect();
    assert!(matches!(s.set_many(&entries), Err(KvError::Limit(_))));
    s.get_many(&keys[..MAX_BATCH]).unwrap();

    // One bad key or value: nothing is written.
    assert!(matches!(s.set_many(&[("ok", "v"), ("", "v")]), Err(KvError::InvalidKey(_))));
    let big = vec![0u8; testing::MAX_VALUE_BYTES + 1];
    assert!(matches!(s.set_many(&[("ok", &b"v"[..]), ("big", &big[..])]), Err(KvError::Limit(_))));
    assert!(testing::dump("default").is_empty());
}

#[test]
fn pages_hold_up_to_1000_keys_in_key_order() {
    let s = store();
    testing::seed("default", (0..2500).map(|i| (format!("k{i:05}"), "v")));
    let first = s.list_keys_page(None).unwrap();
    assert_eq!(first.keys.len(), 1000);
    assert_eq!(first.keys[0], "k00000");
    assert_eq!(first.cursor.as_deref(), Some("k00999"));
    let second = s.list_keys_page(first.cursor.as_deref()).unwrap();
    assert_eq!(second.keys[0], "k01000");
    let third = s.list_keys_page(second.cursor.as_deref()).unwrap();
    assert_eq!((third.keys.len(), third.cursor), (500, None));
    // Exactly a page: no cursor.
    testing::clear("default");
    testing::seed("default", (0..1000).map(|i| (format!("k{i:05}"), "v")));
    assert_eq!(s.list_keys_page(None).unwrap().cursor, None);
}

#[test]
fn keys_walks_every_page_and_filters_by_prefix() {
    let s = store();
    testing::seed("default", (0..2500).map(|i| (format!("{}:{i:05}", if i % 2 == 0 { "even" } else { "odd" }), "v")));
    let even: Vec<String> = s.keys("even:").collect::<Result<_, _>>().unwrap();
    assert_eq!(even.len(), 1250);
    assert!(even.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(s.keys("").count(), 2500);
    assert_eq!(s.keys("none").count(), 0);
    assert_eq!(Store::open("empty").unwrap().keys("").count(), 0);
}

#[test]
fn keys_yields_an_error_once_and_ends() {
    let s = store();
    s.set("a", "1").unwrap();
    testing::fail("default", KvError::Unavailable("down".into()));
    let all: Vec<_> = s.keys("").collect();
    assert_eq!(all, [Err(KvError::Unavailable("down".into()))]);
}

#[test]
fn update_creates_changes_and_leaves() {
    let s = store();
    let written = s.update("n", |old| {
        assert_eq!(old, None);
        Some(b"1".to_vec())
    });
    assert_eq!(written.unwrap(), Some(b"1".to_vec()));
    let written = s.update("n", |old| old.map(|o| [o, b"0"].concat())).unwrap();
    assert_eq!(written, Some(b"10".to_vec()));
    assert_eq!(s.update("n", |_| None).unwrap(), None);
    assert_eq!(s.get("n").unwrap(), Some(b"10".to_vec()));
    // None for a missing key writes nothing either.
    assert_eq!(s.update("missing", |_| None).unwrap(), None);
    assert!(!s.exists("missing").unwrap());
}

#[test]
fn update_retries_when_the_value_changes_under_it() {
    let s = store();
    s.set("n", "0").unwrap();
    let calls = Cell::new(0);
    let written = s
        .update("n", |old| {
            calls.set(calls.get() + 1);
            let old: i64 = std::str::from_utf8(old?).ok()?.parse().ok()?;
            if calls.get() <= 3 {
                // Another request writes between the read and the swap.
                Store::open("default").unwrap().increment("n", 100).unwrap();
            }
            Some((old + 1).to_string().into_bytes())
        })
        .unwrap();
    assert_eq!(calls.get(), 4);
    assert_eq!(written, Some(b"301".to_vec()));
    assert_eq!(s.get("n").unwrap(), Some(b"301".to_vec()));
}

#[test]
fn update_notices_a_key_created_or_deleted_under_it() {
    let s = store();
    let calls = Cell::new(0);
    s.update("k", |old| {
        calls.set(calls.get() + 1);
        if calls.get() == 1 {
            assert_eq!(old, None);
            Store::open("default").unwrap().set("k", "theirs").unwrap();
        } else {
            assert_eq!(old, Some(&b"theirs"[..]));
        }
        Some(b"mine".to_vec())
    })
    .unwrap();
    assert_eq!(calls.get(), 2);

    calls.set(0);
    s.update("k", |old| {
        calls.set(calls.get() + 1);
        if calls.get() == 1 {
            Store::open("default").unwrap().delete("k").unwrap();
        }
        Some([old.unwrap_or(b"none"), b"+"].concat())
    })
    .unwrap();
    assert_eq!(s.get("k").unwrap(), Some(b"none+".to_vec()));
}

#[test]
fn update_gives_up_with_a_409_after_its_attempts() {
    let s = store();
    let calls = Cell::new(0u32);
    let err = s
        .update("hot", |old| {
            calls.set(calls.get() + 1);
            Store::open("default").unwrap().set("hot", calls.get().to_string()).unwrap();
            Some(old.unwrap_or_default().to_vec())
        })
        .unwrap_err();
    assert_eq!(calls.get(), UPDATE_ATTEMPTS);
    assert!(matches!(err, KvError::Conflict(ref m) if m.contains("`hot`")), "{err:?}");
    let err = Error::from(err);
    assert_eq!(err.status(), 409);
}

#[test]
fn an_injected_conflict_fails_only_swaps() {
    let s = store();
    s.set("k", "1").unwrap();
    testing::fail("default", KvError::Conflict("busy".into()));
    assert_eq!(s.get("k").unwrap(), Some(b"1".to_vec()));
    assert!(matches!(s.update("k", |_| Some(b"2".to_vec())), Err(KvError::Conflict(_))));
    testing::recover("default");
    assert_eq!(s.update("k", |_| Some(b"2".to_vec())).unwrap(), Some(b"2".to_vec()));
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Counter {
    hits: u32,
}

#[test]
fn update_json_reads_and_writes_json() {
    let s = store();
    let bump = |old: Option<Counter>| Some(Counter { hits: old.map_or(1, |c| c.hits + 1) });
    assert_eq!(s.update_json("c", bump).unwrap(), Some(Counter { hits: 1 }));
    assert_eq!(s.update_json("c", bump).unwrap(), Some(Counter { hits: 2 }));
    assert_eq!(s.get("c").unwrap(), Some(br#"{"hits":2}"#.to_vec()));
    assert_eq!(s.update_json("c", |_: Option<Counter>| None).unwrap(), None);
    assert_eq!(s.update_json("missing", |old: Option<Counter>| old).unwrap(), None);
    assert!(!s.exists("missing").unwrap());
}

#[test]
fn update_json_of_a_value_that_is_not_json_fails_without_writing() {
    let s = store();
    s.set("c", "garbage").unwrap();
    let calls = Cell::new(0);
    let err = s
        .update_json("c", |_: Option<Counter>| {
            calls.set(calls.get() + 1);
            Some(Counter { hits: 0 })
        })
        .unwrap_err();
    assert!(matches!(err, KvError::Json(_)), "{err:?}");
    assert_eq!(calls.get(), 0);
    assert_eq!(s.get("c").unwrap(), Some(b"garbage".to_vec()));
}

#[test]
fn injected_failures_name_the_store_and_recover() {
    testing::fail("sessions", KvError::AccessDenied("sessions".into()));
    assert_eq!(Store::open("sessions").unwrap_err(), KvError::AccessDenied("sessions".into()));
    testing::recover("sessions");
    let s = Store::open("sessions").unwrap();
    s.set("k", "v").unwrap();
    testing::fail("sessions", KvError::Unavailable("down".into()));
    let err = s.get("k").unwrap_err();
    let resp = crate::Response::from(Error::from(err));
    assert_eq!((resp.status_code(), resp.header_value("retry-after")), (503, Some("1")));
    testing::recover("sessions");
    assert_eq!(s.get("k").unwrap(), Some(b"v".to_vec()));
}

#[test]
fn host_errors_get_the_store_name() {
    assert_eq!(to_kv_error(RawError::NoSuchStore, "x"), KvError::NoSuchStore("x".into()));
    assert_eq!(to_kv_error(RawError::AccessDenied, "x"), KvError::AccessDenied("x".into()));
    assert_eq!(to_kv_error(RawError::Text("limit: big".into()), "x"), KvError::Limit("big".into()));
}

#[test]
fn handlers_use_question_mark_on_kv_errors() {
    fn handler() -> crate::Result {
        let s = Store::open("default")?;
        s.get(&"x".repeat(300))?;
        Ok(crate::Response::new())
    }
    assert_eq!(handler().unwrap_err().status(), 400);
}
