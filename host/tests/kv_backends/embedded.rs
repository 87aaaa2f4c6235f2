//! The embedded (redb) backend: the conformance suite, and what only a
//! file on disk promises: a write acknowledged before a `kill -9` is there
//! after it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use async_trait::async_trait;
use wasmroutes::kv::embedded::EmbeddedBackend;
use wasmroutes::kv::{Backend, KeyPage, KvError};

crate::conformance::backend_conformance!(|| async { TempBackend::new() });

/// An embedded backend in its own temporary directory, removed (after the
/// store is closed) when the backend is dropped.
struct TempBackend {
    // Declared first, so dropped (closed) before the directory goes.
    backend: EmbeddedBackend,
    _dir: tempfile::TempDir,
}

impl TempBackend {
    #[allow(clippy::new_ret_no_self)]
    fn new() -> Arc<dyn Backend> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let backend = EmbeddedBackend::open(&dir.path().join("kv").join("test.redb")).expect("open");
        Arc::new(TempBackend { backend, _dir: dir })
    }
}

#[async_trait]
impl Backend for TempBackend {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.backend.get(key).await
    }
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, KvError> {
        self.backend.get_many(keys).await
    }
    async fn exists(&self, key: &str) -> Result<bool, KvError> {
        self.backend.exists(key).await
    }
    async fn set(&self, key: String, value: Vec<u8>) -> Result<(), KvError> {
        self.backend.set(key, value).await
    }
    async fn set_many(&self, entries: Vec<(String, Vec<u8>)>) -> Result<(), KvError> {
        self.backend.set_many(entries).await
    }
    async fn delete(&self, key: String) -> Result<(), KvError> {
        self.backend.delete(key).await
    }
    async fn delete_many(&self, keys: Vec<String>) -> Result<(), KvError> {
        self.backend.delete_many(keys).await
    }
    async fn increment(&self, key: String, delta: i64) -> Result<i64, KvError> {
        self.backend.increment(key, delta).await
    }
    async fn compare_and_swap(&self, key: String, expected: Option<Vec<u8>>, value: Vec<u8>) -> Result<bool, KvError> {
        self.backend.compare_and_swap(key, expected, value).await
    }
    async fn list_keys(&self, prefix: Option<&str>, cursor: Option<&str>, limit: usize) -> Result<KeyPage, KvError> {
        self.backend.list_keys(prefix, cursor, limit).await
    }
    async fn ping(&self) -> Result<(), KvError> {
        self.backend.ping().await
    }
}

/// Set in the child process `kill_9_loses_no_acknowledged_write` starts:
/// the store file `child_writer` writes to.
const CHILD_STORE: &str = "WASMROUTES_TEST_KV_CHILD_STORE";

/// Acknowledged writes the parent waits for before it kills the child.
const ACKS_BEFORE_KILL: usize = 3000;

/// Runs this test binary again as a writer (the `child_writer` test),
/// SIGKILLs it in the middle of its writes once it has reported
/// [`ACKS_BEFORE_KILL`] acknowledged ones, reopens the store and finds
/// every write it was told of.
#[test]
fn kill_9_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = dir.path().join("kv").join("crash.redb");
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", "embedded::child_writer", "--nocapture", "--test-threads=1"])
        .env(CHILD_STORE, &store)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the child writer");
    let stdout = child.stdout.take().expect("its stdout");
    let mut lines = BufReader::new(stdout).lines();

    let mut acked = Vec::new();
    let mut counter = 0;
    while acked.len() < ACKS_BEFORE_KILL {
        let Some(line) = lines.next() else {
            let status = child.wait().expect("wait");
            panic!("the child writer stopped ({status}) after {} acknowledged writes", acked.len());
        };
        record(&line.expect("a line"), &mut acked, &mut counter);
    }
    child.kill().expect("SIGKILL the child");
    let status = child.wait().expect("wait");
    assert!(!status.success(), "the child was meant to be killed: {status}");
    // What it acknowledged before dying is still in the pipe.
    for line in lines {
        record(&line.expect("a line"), &mut acked, &mut counter);
    }

    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    runtime.block_on(async {
        let backend = EmbeddedBackend::open(&store).expect("reopen after the kill");
        let values = backend.get_many(&acked).await.expect("get_many");
        let lost: Vec<&String> = acked.iter().zip(&values).filter(|(_, v)| v.is_none()).map(|(k, _)| k).collect();
        assert!(
            lost.is_empty(),
            "{} of {} acknowledged writes lost, e.g. {:?}",
            lost.len(),
            acked.len(),
            &lost[..lost.len().min(5)]
        );
        for (key, value) in acked.iter().zip(values) {
            assert_eq!(value.as_deref(), Some(key.as_bytes()), "{key}");
        }
        let stored = backend.get("counter").await.expect("get").expect("the counter");
        let stored: i64 = std::str::from_utf8(&stored).expect("utf-8").parse().expect("a number");
        assert!(stored >= counter, "the counter is {stored}, but {counter} was acknowledged");
    });
}

/// One line of the child's report: `set <key>` or `incr <value>`.
fn record(line: &str, acked: &mut Vec<String>, counter: &mut i64) {
    if let Some(key) = line.strip_prefix("set ") {
        acked.push(key.to_owned());
    } else if let Some(value) = line.strip_prefix("incr ") {
        *counter = (*counter).max(value.parse().expect("a number"));
    }
}

/// Not a test of its own: the writer `kill_9_loses_no_acknowledged_write`
/// starts in a child process. 16 tasks set keys (value = key) and increment
/// a counter as fast as they can, forever, printing each write once it is
/// acknowledged. Without its environment variable it does nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_writer() {
    let Some(store) = std::env::var_os(CHILD_STORE) else { return };
    let backend = Arc::new(EmbeddedBackend::open(Path::new(&store)).expect("open"));
    let (report, mut reports) = tokio::sync::mpsc::unbounded_channel::<String>();
    for task in 0..16 {
        let (backend, report) = (Arc::clone(&backend), report.clone());
        tokio::spawn(async move {
            // Until the parent kills the process.
            let mut i = 0u64;
            loop {
                if i % 4 == 3 {
                    let n = backend.increment("counter".into(), 1).await.expect("increment");
                    let _ = report.send(format!("incr {n}"));
                } else {
                    let key = format!("t{task:02}/{i:08}");
                    backend.set(key.clone(), key.clone().into_bytes()).await.expect("set");
                    let _ = report.send(format!("set {key}"));
                }
                i += 1;
            }
        });
    }
    // One printer, so lines never interleave; each flushed at once.
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    while let Some(line) = reports.recv().await {
        writeln!(stdout, "{line}").and_then(|()| stdout.flush()).expect("report");
    }
}
