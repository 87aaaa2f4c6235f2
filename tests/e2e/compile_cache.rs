//! The compile cache: restarts skip compilation; a corrupt or foreign cache
//! file is ignored and rebuilt, never trusted.

use e2e_support::{TestHost, artifacts, route, run_wasmroutes};

fn start(toml: &str, cache: &std::path::Path) -> TestHost {
    let dir = cache.to_str().expect("utf-8 temp path");
    TestHost::routes(toml).args(&["--cache-dir", dir]).start()
}

#[test]
fn restarts_load_from_the_cache_and_bad_entries_are_rebuilt() {
    let a = artifacts();
    let cache = tempfile::tempdir().expect("cache dir");
    let mut toml = String::new();
    route(&mut toml, "/api/hello", &a.component("hello"), "");
    route(&mut toml, "/api/posts/[id]", &a.component("posts-id"), "");
    route(&mut toml, "/api/again", &a.component("hello"), "");

    let first = start(&toml, cache.path());
    assert!(first.log_text().contains("(2 compiled, 0 from cache)"), "{}", first.log_text());
    drop(first);

    let second = start(&toml, cache.path());
    assert!(second.log_text().contains("(0 compiled, 2 from cache)"), "{}", second.log_text());
    assert_eq!(second.get("/api/posts/5").status, 200);
    drop(second);

    let mut entries: Vec<_> = std::fs::read_dir(cache.path())
        .expect("cache entries")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    entries.sort();
    assert_eq!(entries.len(), 2);
    // One entry corrupted (a flipped byte), the other replaced by a file the
    // host did not write.
    let mut bytes = std::fs::read(&entries[0]).expect("read entry");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&entries[0], bytes).expect("corrupt entry");
    std::fs::write(&entries[1], b"\x7fELF not ours").expect("foreign entry");

    let third = start(&toml, cache.path());
    let log = third.log_text();
    assert!(log.contains("(2 compiled, 0 from cache)"), "{log}");
    assert_eq!(log.matches("not written by this host or corrupt").count(), 2, "{log}");
    assert_eq!(third.get("/api/hello").text(), r#"{"message":"Hello from API!"}"#);
    assert_eq!(third.get("/api/posts/5").status, 200);
    drop(third);

    let fourth = start(&toml, cache.path());
    assert!(fourth.log_text().contains("(0 compiled, 2 from cache)"), "rebuilt entries are used again");
}

#[test]
fn precompile_fills_the_cache_serve_then_uses_and_refuses_a_cache_it_cannot_write() {
    let a = artifacts();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut toml = String::new();
    route(&mut toml, "/api/hello", &a.component("hello"), "");
    route(&mut toml, "/api/posts/[id]", &a.component("posts-id"), "");
    let manifest = dir.path().join("routes.toml");
    std::fs::write(&manifest, &toml).expect("write routes.toml");
    let cache = dir.path().join("cache");
    let precompile = |cache: &std::path::Path| {
        let args = ["precompile".as_ref(), manifest.as_os_str(), "--cache-dir".as_ref(), cache.as_os_str()];
        let output = std::process::Command::new(&a.binary).args(args).output().expect("run wasmroutes");
        let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (output.status.code(), printed)
    };

    let (code, printed) = precompile(&cache);
    assert_eq!(code, Some(0), "{printed}");
    assert!(printed.contains("2 route(s); 2 component(s) compiled, 0 already in"), "{printed}");
    let (code, printed) = precompile(&cache);
    assert_eq!(code, Some(0), "{printed}");
    assert!(printed.contains("0 component(s) compiled, 2 already in"), "{printed}");
    // `serve` without --watch sizes its engine as precompile does, so it
    // finds every entry.
    let host = start(&toml, &cache);
    assert!(host.log_text().contains("(0 compiled, 2 from cache)"), "{}", host.log_text());

    // Its whole job is to write: a cache that cannot be written is an error.
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").expect("write a file");
    let (code, printed) = precompile(&file.join("cache"));
    assert_eq!(code, Some(1), "{printed}");
    assert!(printed.contains("cannot write the compile cache"), "{printed}");
}

#[test]
fn the_cache_stays_within_its_cap_least_recently_used_first_and_clears_from_the_cli() {
    let a = artifacts();
    let dir = tempfile::tempdir().expect("temp dir");
    let cache = dir.path().join("cache");
    let cache_arg = cache.to_str().expect("a UTF-8 temp path");
    let deployment = |name: &str, component: &str| {
        let mut toml = String::new();
        route(&mut toml, "/api/x", &a.component(component), "");
        let manifest = dir.path().join(name);
        std::fs::write(&manifest, &toml).expect("write routes.toml");
        manifest
    };
    let hello = deployment("hello.toml", "hello");
    let posts = deployment("posts.toml", "posts-id");
    let run = |args: &[&str]| {
        let output = run_wasmroutes(args, dir.path(), &[]);
        let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "{args:?}:\n{printed}");
        printed
    };
    let precompile = |manifest: &std::path::Path, max: &str| {
        let manifest = manifest.to_str().expect("a UTF-8 temp path");
        run(&["precompile", manifest, "--cache-dir", cache_arg, "--cache-max-size", max])
    };

    // A cap below one entry: the deployment's own entry stays (and says so).
    let printed = precompile(&hello, "1KiB");
    assert!(printed.contains("1 component(s) compiled"), "{printed}");
    assert!(printed.contains("the components in use alone take"), "{printed}");
    // Another deployment: the older entry, not in use, makes room.
    let printed = precompile(&posts, "1KiB");
    assert!(printed.contains("removed 1 least recently used component(s)"), "{printed}");
    assert!(run(&["cache", "status", "--cache-dir", cache_arg]).contains(": 1 compiled component(s)"));
    assert!(precompile(&hello, "1KiB").contains("1 component(s) compiled"), "hello was evicted, so it compiles again");
    // Under the default cap (2GiB) both stay.
    assert!(precompile(&posts, "2GiB").contains("1 component(s) compiled"));
    assert!(precompile(&hello, "2GiB").contains("0 component(s) compiled, 1 already in"));
    let status = run(&["cache", "status", "--cache-dir", cache_arg]);
    assert!(status.contains(": 2 compiled component(s)") && status.ends_with("of 2GiB\n"), "{status}");

    let cleared = run(&["cache", "clear", "--cache-dir", cache_arg]);
    assert!(cleared.contains("removed 2 compiled component(s)"), "{cleared}");
    assert!(run(&["cache", "status", "--cache-dir", cache_arg]).contains(": 0 compiled component(s), 0B of 2GiB"));
    assert!(precompile(&hello, "2GiB").contains("1 component(s) compiled"));
}
