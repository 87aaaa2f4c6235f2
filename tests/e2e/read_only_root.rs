//! A pod runs the host as a non-root user with a read-only root filesystem:
//! the host must need no writable path but the ones it is given, and must
//! be able to read the image's files as that user. Here the staged image
//! layout (`deploy/stage.sh`, staged by root as an image build is) is served
//! as uid 10001 (the Dockerfile's user) inside a mount namespace whose `/`
//! is remounted read-only, like `readOnlyRootFilesystem: true`.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use e2e_support::cluster::staged;
use e2e_support::postgres_server::PostgresServer;
use e2e_support::redis_server::RedisServer;
use e2e_support::{KillOnDrop, free_port, send, wait_for_log};

/// The Dockerfile's `USER`.
const POD_USER: &str = "10001";

/// `wasmroutes serve` of the staged deployment as [`POD_USER`] with `/`
/// read-only; waits until it listens and returns it with its log so far.
fn serve_read_only(
    redis: &RedisServer,
    postgres: &PostgresServer,
    cache_dir: &Path,
    log: &Path,
) -> (KillOnDrop, SocketAddr, String) {
    let stage = staged();
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let log_file = std::fs::File::create(log).expect("log file");
    // The log file is opened out here, before `/` turns read-only: a pod's
    // logs go to stdout/stderr, which the kubelet collects.
    let child = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(r#"mount -o remount,bind,ro / && exec setpriv --reuid "$0" --regid "$0" --clear-groups "$@""#)
        .arg(POD_USER)
        .arg(stage.join("bin/wasmroutes"))
        .arg("serve")
        .arg(stage.join("routes.toml"))
        .args(["--addr", &addr.to_string()])
        .arg("--cache-dir")
        .arg(cache_dir)
        .env("REDIS_URL", redis.url())
        .env("DATABASE_URL", postgres.url())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("log file"))
        .stderr(log_file)
        .spawn()
        .expect("run unshare (util-linux)");
    let mut child = KillOnDrop(child);
    // (unshare and setpriv need root: without it the host exits at once.)
    let started = wait_for_log(log, &mut child, "listening on http://");
    (child, addr, started)
}

/// Proves the sandbox is what the test claims: the host runs as
/// [`POD_USER`] and `/` is mounted read-only for it.
fn assert_pod_like(pid: u32) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the host's status");
    let uid = status.lines().find_map(|l| l.strip_prefix("Uid:")).expect("a Uid line");
    assert!(uid.split_whitespace().all(|id| id == POD_USER), "the host runs as {POD_USER}: Uid:{uid}");
    let mounts = std::fs::read_to_string(format!("/proc/{pid}/mounts")).expect("the host's mounts");
    let root = mounts.lines().find(|l| l.split(' ').nth(1) == Some("/")).expect("a / mount");
    let options = root.split(' ').nth(3).unwrap_or_default();
    assert!(options.split(',').any(|o| o == "ro"), "/ is not read-only for the host: {root}");
}

#[test]
fn the_staged_image_serves_as_a_non_root_user_from_a_read_only_root_with_its_pre_warmed_cache() {
    let redis = RedisServer::start();
    let postgres = PostgresServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let (child, addr, started) =
        serve_read_only(&redis, &postgres, &staged().join("cache"), &dir.path().join("host.log"));
    assert_pod_like(child.0.id());
    assert!(started.contains("(0 compiled, 14 from cache)"), "every component from the image's cache:\n{started}");

    let created = send(addr, "POST", "/api/tasks", &[], br#"{"title":"read-only root"}"#);
    assert_eq!(created.status, 201, "{}", created.text());
    let id = created.json()["id"].as_u64().expect("id");
    assert_eq!(send(addr, "GET", &format!("/api/tasks/{id}"), &[], b"").json()["title"], "read-only root");
    assert_eq!(send(addr, "GET", "/api/posts/42", &[], b"").status, 200);
    // The image's migrations made the table.
    let note = send(addr, "POST", "/api/notes", &[], br#"{"title":"read-only root"}"#);
    assert_eq!(note.status, 201, "{}", note.text());
    let id = note.json()["id"].as_u64().expect("id");
    assert_eq!(send(addr, "GET", &format!("/api/notes/{id}"), &[], b"").json()["title"], "read-only root");

    let log = std::fs::read_to_string(dir.path().join("host.log")).expect("log");
    assert!(!log.contains("WARN") && !log.contains("ERROR"), "nothing failed to be written:\n{log}");
    assert!(
        !staged().join(".wasmroutes").exists(),
        "no default data dir: Redis stores and PostgreSQL databases write nothing locally"
    );
}

#[test]
fn a_cache_miss_on_a_read_only_root_compiles_in_memory_and_warns_once() {
    let redis = RedisServer::start();
    let postgres = PostgresServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    // Not in the image (a cache built on another CPU finds no entry either):
    // every component misses, and no directory can be created.
    let cache = dir.path().join("cache-not-in-the-image");
    let (child, addr, started) = serve_read_only(&redis, &postgres, &cache, &dir.path().join("host.log"));
    assert_pod_like(child.0.id());
    assert!(started.contains("(14 compiled, 0 from cache)"), "{started}");
    assert_eq!(
        started.matches("compile cache: cannot write").count(),
        1,
        "one warning, not one per component:\n{started}"
    );
    assert!(!cache.exists());

    assert_eq!(send(addr, "GET", "/api/hello", &[], b"").status, 200);
    let created = send(addr, "POST", "/api/tasks", &[], br#"{"title":"compiled in memory"}"#);
    assert_eq!(created.status, 201, "{}", created.text());
}
