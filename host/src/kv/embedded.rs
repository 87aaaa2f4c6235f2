//! The embedded backend: one [redb] file per store (`<data_dir>/kv/<name>.redb`),
//! durable on return and fast under concurrency through group commit.
//!
//! - **Durability.** A write that returns `Ok` has been committed with
//!   [`Durability::Immediate`] (redb's default, set explicitly here): the
//!   commit is fsynced before anyone is told, so `kill -9` or a power cut
//!   right after loses nothing.
//! - **Group commit.** One fsync costs a fraction of a millisecond, so one
//!   per write would cap a store at a few thousand writes a second whatever
//!   the number of writers. Instead a dedicated thread (`wasmroutes-kv-<store>`)
//!   owns every write transaction: writers queue an operation and await its
//!   answer; the thread takes the first queued operation, drains what else is
//!   already queued (up to `MAX_BATCH_OPS` operations or
//!   `MAX_BATCH_BYTES` of payload), applies them in order in one write
//!   transaction, commits once (one fsync for the whole batch) and answers
//!   them all. While it commits, new operations queue for the next batch, so
//!   the batch grows with the load. Each operation computes its own result: an
//!   `increment` of a non-integer or a failed compare-and-swap answers for
//!   itself and writes nothing, and the rest of its batch commits.
//! - **Reads** run a read transaction (a snapshot of the last commit) on
//!   the calling task: they never wait for the writer, and they see every
//!   write acknowledged before they began, since a write is acknowledged only
//!   after its commit.
//! - **Shutdown.** Dropping the [`EmbeddedBackend`] closes the queue and
//!   waits for the thread to finish what is queued, so a reload or shutdown
//!   loses no write it accepted.
//!
//! Keys are stored as UTF-8 strings, in byte order, which is what makes
//! [`Backend::list_keys`]'s cursor (the last key of the previous page) exact.
//! Counters are decimal text, like Redis `INCRBY`.

use std::fmt;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use async_trait::async_trait;
use redb::{Database, DatabaseError, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::{mpsc, oneshot};

use super::backend::{Backend, KeyPage, KvError};

/// The one table of a store file: key → value bytes.
const TABLE: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("kv");

/// redb's page cache (read cache and write buffer together), per store.
///
/// redb's default is 1 GiB; the host's memory must stay within 50 MB of an
/// empty host with a million keys in a store. The cache costs more than its
/// size: reads fill it from every tokio worker, and glibc's per-thread
/// arenas each keep up to about a cache's worth of freed pages, so the
/// measured growth with a million keys read by 16 tasks on 8 workers
/// (`measure_memory_with_a_million_keys`) was +17 MiB with a 4 MiB cache,
/// +36 MiB with 8 and +69 MiB with 16. Speed barely moves with the size:
/// pages that miss this cache are in the OS page cache, a `pread` away
/// (random gets ran at the same rate with 4, 8 and 16 MiB; concurrent sets
/// were within the noise of the machine).
const CACHE_BYTES: usize = 8 * 1024 * 1024;

/// Most operations in one commit: enough to amortize the fsync over every
/// writer a busy host has, small enough that one batch's answers are not held
/// back long.
const MAX_BATCH_OPS: usize = 1024;

/// Most payload (keys and values) in one commit, beyond the first operation:
/// what a batch writes is held (in its operations, and in redb's dirty
/// pages) until it commits, so large values make batches smaller rather than
/// the host bigger.
const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;

/// Operations waiting for the writer; past this, writers wait (asynchronously)
/// for room, which is the backpressure of a store that cannot keep up.
const QUEUE_CAPACITY: usize = 4 * MAX_BATCH_OPS;

/// Why an embedded store's file cannot be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbeddedOpenError {
    /// Another process (or another open in this one) holds the file.
    #[error("{} is in use by another process (a running `wasmroutes serve`?)", path.display())]
    InUse {
        /// The store file.
        path: PathBuf,
    },
    /// The file or its directory cannot be created, or the file is not a
    /// usable redb database.
    #[error("cannot open {}: {reason}", path.display())]
    Failed {
        /// The store file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// An embedded store: a redb file and the thread that writes it.
pub struct EmbeddedBackend {
    db: Arc<Database>,
    path: PathBuf,
    /// `None` only while dropping.
    sender: Option<mpsc::Sender<Job>>,
    /// `None` only while dropping.
    writer: Option<JoinHandle<()>>,
    stats: Arc<BatchStats>,
}

impl EmbeddedBackend {
    /// Opens (creating it, and its parent directories, if missing) the store
    /// file at `path`, and starts its writer thread.
    pub fn open(path: &Path) -> Result<EmbeddedBackend, EmbeddedOpenError> {
        let failed = |reason: String| EmbeddedOpenError::Failed { path: path.to_owned(), reason };
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| failed(format!("cannot create {}: {e}", parent.display())))?;
        }
        let db = Database::builder().set_cache_size(CACHE_BYTES).create(path).map_err(|e| match e {
            DatabaseError::DatabaseAlreadyOpen => EmbeddedOpenError::InUse { path: path.to_owned() },
            e => failed(e.to_string()),
        })?;
        // Create the table now, so that reads of a new store find it.
        create_table(&db).map_err(|e| failed(e.to_string()))?;
        let db = Arc::new(db);

        let store = path.file_stem().map_or_else(|| "store".into(), |s| s.to_string_lossy());
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let stats = Arc::new(BatchStats::default());
        let writer = Writer { db: Arc::clone(&db), path: path.to_owned(), stats: Arc::clone(&stats) };
        let writer = std::thread::Builder::new()
            .name(format!("wasmroutes-kv-{store}"))
            .spawn(move || writer.run(receiver))
            .map_err(|e| failed(format!("cannot start its writer thread: {e}")))?;
        Ok(EmbeddedBackend { db, path: path.to_owned(), sender: Some(sender), writer: Some(writer), stats })
    }

    /// Queues `op` for the writer and waits for its answer (after the commit
    /// of its batch).
    async fn write(&self, op: Op) -> Result<Done, KvError> {
        let (reply, answer) = oneshot::channel();
        let sender = self.sender.as_ref().ok_or_else(|| self.writer_gone())?;
        sender.send(Job { op, reply }).await.map_err(|_| self.writer_gone())?;
        answer.await.map_err(|_| self.writer_gone())?
    }

    fn writer_gone(&self) -> KvError {
        KvError::Unavailable(format!("the writer of {} has stopped", self.path.display()))
    }

    /// A read transaction on the table.
    ///
    /// Reads run right here, on the calling task, rather than on the writer
    /// thread or `spawn_blocking`: a read transaction is a snapshot that never
    /// waits for a writer, and a lookup or a page of keys is served from redb's
    /// cache or the OS page cache in microseconds, less than a hop to
    /// another thread would cost.
    fn read(&self) -> Result<redb::ReadOnlyTable<&'static str, &'static [u8]>, KvError> {
        let txn = self.db.begin_read().map_err(|e| backend_error(&self.path, e))?;
        txn.open_table(TABLE).map_err(|e| backend_error(&self.path, e))
    }

    /// (commits, operations) so far.
    #[cfg(test)]
    fn batch_stats(&self) -> (u64, u64) {
        (self.stats.commits.load(Ordering::Relaxed), self.stats.ops.load(Ordering::Relaxed))
    }
}

impl Drop for EmbeddedBackend {
    /// Closes the queue and waits for the writer to commit and answer what
    /// was queued, so that no accepted write is lost and the file is
    /// unlocked (and can be opened again) when this returns.
    fn drop(&mut self) {
        drop(self.sender.take());
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!(path = %self.path.display(), "the key-value writer thread panicked");
        }
        tracing::debug!(
            path = %self.path.display(),
            commits = self.stats.commits.load(Ordering::Relaxed),
            ops = self.stats.ops.load(Ordering::Relaxed),
            "key-value store closed"
        );
    }
}

impl fmt::Debug for EmbeddedBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedBackend").field("path", &self.path).finish_non_exhaustive()
    }
}

#[async_trait]
impl Backend for EmbeddedBackend {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let table = self.read()?;
        let value = table.get(key).map_err(|e| backend_error(&self.path, e))?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, KvError> {
        let table = self.read()?;
        keys.iter()
            .map(|key| {
                let value = table.get(key.as_str()).map_err(|e| backend_error(&self.path, e))?;
                Ok(value.map(|v| v.value().to_vec()))
            })
            .collect()
    }

    async fn exists(&self, key: &str) -> Result<bool, KvError> {
        let table = self.read()?;
        Ok(table.get(key).map_err(|e| backend_error(&self.path, e))?.is_some())
    }

    async fn set(&self, key: String, value: Vec<u8>) -> Result<(), KvError> {
        self.write(Op::Set(key, value)).await?.unit()
    }

    async fn set_many(&self, entries: Vec<(String, Vec<u8>)>) -> Result<(), KvError> {
        self.write(Op::SetMany(entries)).await?.unit()
    }

    async fn delete(&self, key: String) -> Result<(), KvError> {
        self.write(Op::Delete(key)).await?.unit()
    }

    async fn delete_many(&self, keys: Vec<String>) -> Result<(), KvError> {
        self.write(Op::DeleteMany(keys)).await?.unit()
    }

    async fn increment(&self, key: String, delta: i64) -> Result<i64, KvError> {
        match self.write(Op::Increment(key, delta)).await? {
            Done::Int(n) => Ok(n),
            other => Err(other.mismatch()),
        }
    }

    async fn compare_and_swap(&self, key: String, expected: Option<Vec<u8>>, value: Vec<u8>) -> Result<bool, KvError> {
        match self.write(Op::CompareAndSwap { key, expected, value }).await? {
            Done::Bool(swapped) => Ok(swapped),
            other => Err(other.mismatch()),
        }
    }

    async fn list_keys(&self, prefix: Option<&str>, cursor: Option<&str>, limit: usize) -> Result<KeyPage, KvError> {
        let table = self.read()?;
        let prefix = prefix.unwrap_or("");
        // The cursor is the last key already returned: continue strictly
        // after it, or at the prefix if it sorts before the prefix. Keys are
        // visited in byte order and each page starts after the previous one
        // ended, so a key is never returned twice, and a key that exists for
        // the whole listing lies between two consecutive cursors and is
        // returned by that page.
        let start = match cursor {
            Some(cursor) if cursor >= prefix => Bound::Excluded(cursor),
            _ => Bound::Included(prefix),
        };
        let range = table.range::<&str>((start, Bound::Unbounded)).map_err(|e| backend_error(&self.path, e))?;
        let mut keys = Vec::with_capacity(limit.min(1024));
        let mut more = false;
        for entry in range {
            let (key, _) = entry.map_err(|e| backend_error(&self.path, e))?;
            let key = key.value();
            if !key.starts_with(prefix) {
                break;
            }
            if keys.len() == limit {
                more = true;
                break;
            }
            keys.push(key.to_owned());
        }
        // Only when a further key matches; an empty page (`limit` 0) goes on
        // from where it was asked to start ("" sorts before every key).
        let cursor = more.then(|| keys.last().map(String::as_str).or(cursor).unwrap_or("").to_owned());
        Ok(KeyPage { keys, cursor })
    }

    async fn ping(&self) -> Result<(), KvError> {
        self.read().map(drop)
    }
}

/// One write, as the writer thread applies it.
#[derive(Debug)]
enum Op {
    Set(String, Vec<u8>),
    SetMany(Vec<(String, Vec<u8>)>),
    Delete(String),
    DeleteMany(Vec<String>),
    Increment(String, i64),
    CompareAndSwap { key: String, expected: Option<Vec<u8>>, value: Vec<u8> },
}

impl Op {
    /// Roughly the bytes this operation adds to a write transaction.
    fn payload(&self) -> usize {
        match self {
            Op::Set(key, value) => key.len() + value.len(),
            Op::SetMany(entries) => entries.iter().map(|(k, v)| k.len() + v.len()).sum(),
            Op::Delete(key) | Op::Increment(key, _) => key.len(),
            Op::DeleteMany(keys) => keys.iter().map(String::len).sum(),
            Op::CompareAndSwap { key, value, .. } => key.len() + value.len(),
        }
    }
}

/// What a write answers.
#[derive(Debug, PartialEq, Eq)]
enum Done {
    Unit,
    Int(i64),
    Bool(bool),
}

impl Done {
    fn unit(self) -> Result<(), KvError> {
        match self {
            Done::Unit => Ok(()),
            other => Err(other.mismatch()),
        }
    }

    /// An answer of the wrong kind: a bug in this file.
    fn mismatch(self) -> KvError {
        KvError::Backend(format!("internal error: the writer answered {self:?}"))
    }
}

/// A queued write and where its answer goes.
struct Job {
    op: Op,
    reply: oneshot::Sender<Result<Done, KvError>>,
}

/// Counts of the writer's work (for the closing log line and tests).
#[derive(Default)]
struct BatchStats {
    commits: AtomicU64,
    ops: AtomicU64,
}

/// The writer thread's state.
struct Writer {
    db: Arc<Database>,
    path: PathBuf,
    stats: Arc<BatchStats>,
}

impl Writer {
    /// Commits batches until the queue is closed and empty.
    fn run(self, mut queue: mpsc::Receiver<Job>) {
        let mut carried: Option<Job> = None;
        loop {
            // Block for the first job, then take what is already queued.
            let Some(first) = carried.take().or_else(|| queue.blocking_recv()) else { break };
            let mut bytes = first.op.payload();
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH_OPS {
                let Ok(job) = queue.try_recv() else { break };
                bytes += job.op.payload();
                if bytes > MAX_BATCH_BYTES {
                    carried = Some(job);
                    break;
                }
                batch.push(job);
            }
            self.commit(batch);
        }
    }

    /// Applies `batch` in one transaction, commits, answers every job.
    fn commit(&self, batch: Vec<Job>) {
        let (ops, replies): (Vec<Op>, Vec<_>) = batch.into_iter().map(|job| (job.op, job.reply)).unzip();
        let answers = match apply_batch(&self.db, &ops) {
            Ok(answers) => {
                self.stats.commits.fetch_add(1, Ordering::Relaxed);
                self.stats.ops.fetch_add(ops.len() as u64, Ordering::Relaxed);
                answers
            }
            Err(e) => {
                tracing::error!(path = %self.path.display(), error = %e, ops = ops.len(), "key-value commit failed");
                let error = backend_error(&self.path, e);
                ops.iter().map(|_| Err(error.clone())).collect()
            }
        };
        for (reply, answer) in replies.into_iter().zip(answers) {
            // A writer that stopped waiting (a cancelled request) is no
            // error: its write is committed all the same.
            let _ = reply.send(answer);
        }
    }
}

/// Creates the table if the file does not have it yet.
fn create_table(db: &Database) -> Result<(), redb::Error> {
    let txn = db.begin_write()?;
    txn.open_table(TABLE)?;
    txn.commit()?;
    Ok(())
}

/// Applies `ops`, in order, in one write transaction and commits it with
/// fsync. Each op gets its own answer (a refused increment or
/// compare-and-swap writes nothing and leaves the others alone); an `Err`
/// (the storage failed) means nothing of the batch was committed.
fn apply_batch(db: &Database, ops: &[Op]) -> Result<Vec<Result<Done, KvError>>, redb::Error> {
    let mut txn = db.begin_write()?;
    // The default, stated: an acknowledged write must survive a crash.
    txn.set_durability(Durability::Immediate)?;
    let mut answers = Vec::with_capacity(ops.len());
    {
        let mut table = txn.open_table(TABLE)?;
        for op in ops {
            answers.push(apply(&mut table, op)?);
        }
    }
    txn.commit()?;
    Ok(answers)
}

/// Applies one op inside the batch's transaction.
fn apply(table: &mut redb::Table<&str, &[u8]>, op: &Op) -> Result<Result<Done, KvError>, redb::StorageError> {
    match op {
        Op::Set(key, value) => {
            table.insert(key.as_str(), value.as_slice())?;
        }
        Op::SetMany(entries) => {
            for (key, value) in entries {
                table.insert(key.as_str(), value.as_slice())?;
            }
        }
        Op::Delete(key) => {
            table.remove(key.as_str())?;
        }
        Op::DeleteMany(keys) => {
            for key in keys {
                table.remove(key.as_str())?;
            }
        }
        Op::Increment(key, delta) => {
            let current = match table.get(key.as_str())? {
                None => 0,
                Some(value) => match parse_counter(value.value()) {
                    Some(n) => n,
                    None => return Ok(Err(KvError::Invalid(format!("the value of `{key}` is not an integer")))),
                },
            };
            let Some(next) = current.checked_add(*delta) else {
                return Ok(Err(KvError::Invalid(format!("incrementing `{key}` ({current}) by {delta} overflows"))));
            };
            table.insert(key.as_str(), next.to_string().as_bytes())?;
            return Ok(Ok(Done::Int(next)));
        }
        Op::CompareAndSwap { key, expected, value } => {
            let current = table.get(key.as_str())?;
            let matches = current.as_ref().map(|v| v.value()) == expected.as_deref();
            drop(current);
            if matches {
                table.insert(key.as_str(), value.as_slice())?;
            }
            return Ok(Ok(Done::Bool(matches)));
        }
    }
    Ok(Ok(Done::Unit))
}

/// A counter's value: the canonical decimal text of an `i64` (optional `-`,
/// no `+`, no leading zeros, no spaces), exactly what Redis `INCRBY`
/// accepts, so that a value is a counter on both backends or on neither.
fn parse_counter(bytes: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(bytes).ok()?;
    let n: i64 = text.parse().ok()?;
    (n.to_string() == text).then_some(n)
}

/// A redb error as a backend error naming the file.
fn backend_error(path: &Path, error: impl Into<redb::Error>) -> KvError {
    KvError::Backend(format!("{}: {}", path.display(), error.into()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeSet;

    use super::*;

    fn store_path(dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join("kv").join("test.redb")
    }

    fn open_new() -> (tempfile::TempDir, Arc<EmbeddedBackend>) {
        let dir = tempfile::tempdir().unwrap();
        let backend = EmbeddedBackend::open(&store_path(&dir)).unwrap();
        (dir, Arc::new(backend))
    }

    #[test]
    fn open_creates_directories_and_refuses_a_second_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = store_path(&dir);
        let first = EmbeddedBackend::open(&path).unwrap();
        assert!(path.is_file());
        match EmbeddedBackend::open(&path) {
            Err(EmbeddedOpenError::InUse { path: p }) => assert_eq!(p, path),
            other => panic!("expected InUse, got {other:?}"),
        }
        drop(first);
        // Dropping released the file.
        EmbeddedBackend::open(&path).unwrap();
    }

    #[test]
    fn open_reports_a_file_that_is_not_a_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junk.redb");
        std::fs::write(&path, vec![b'x'; 10_000]).unwrap();
        assert!(matches!(EmbeddedBackend::open(&path), Err(EmbeddedOpenError::Failed { .. })));
    }

    #[tokio::test]
    async fn data_survives_drop_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = store_path(&dir);
        let backend = EmbeddedBackend::open(&path).unwrap();
        backend.set("a".into(), b"1".to_vec()).await.unwrap();
        backend.set_many(vec![("b".into(), b"2".to_vec()), ("c".into(), vec![])]).await.unwrap();
        assert_eq!(backend.increment("n".into(), 7).await.unwrap(), 7);
        backend.delete("b".into()).await.unwrap();
        drop(backend);

        let backend = EmbeddedBackend::open(&path).unwrap();
        assert_eq!(backend.get("a").await.unwrap(), Some(b"1".to_vec()));
        assert_eq!(backend.get("b").await.unwrap(), None);
        assert_eq!(backend.get("c").await.unwrap(), Some(vec![]));
        assert_eq!(backend.increment("n".into(), 1).await.unwrap(), 8);
    }

    #[tokio::test]
    async fn drop_commits_queued_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = store_path(&dir);
        let backend = EmbeddedBackend::open(&path).unwrap();
        let sender = backend.sender.clone().unwrap();
        let mut answers = Vec::new();
        for i in 0..2000 {
            let (reply, answer) = oneshot::channel();
            sender.send(Job { op: Op::Set(format!("k{i:04}"), vec![1]), reply }).await.unwrap();
            answers.push(answer);
        }
        drop(sender);
        drop(backend);
        for answer in answers {
            assert_eq!(answer.await.unwrap(), Ok(Done::Unit));
        }
        let backend = EmbeddedBackend::open(&path).unwrap();
        let page = backend.list_keys(None, None, 5000).await.unwrap();
        assert_eq!(page.keys.len(), 2000);
    }

    #[tokio::test]
    async fn large_values_split_batches() {
        let (_dir, backend) = open_new();
        let sender = backend.sender.clone().unwrap();
        let mut answers = Vec::new();
        for i in 0..40 {
            let (reply, answer) = oneshot::channel();
            sender.send(Job { op: Op::Set(format!("big{i:02}"), vec![i; 1024 * 1024]), reply }).await.unwrap();
            answers.push(answer);
        }
        for answer in answers {
            assert_eq!(answer.await.unwrap(), Ok(Done::Unit));
        }
        // 40 MiB in batches of at most 16 MiB.
        assert!(backend.batch_stats().0 >= 3);
        assert_eq!(backend.get("big39").await.unwrap(), Some(vec![39; 1024 * 1024]));
    }

    #[tokio::test]
    async fn a_stopped_writer_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let mut backend = EmbeddedBackend::open(&store_path(&dir)).unwrap();
        let (sender, receiver) = mpsc::channel(1);
        drop(receiver);
        // The real writer ends (its queue is closed); this one is gone.
        drop(backend.sender.replace(sender));
        assert!(matches!(backend.set("k".into(), vec![]).await, Err(KvError::Unavailable(_))));
        assert!(matches!(backend.increment("n".into(), 1).await, Err(KvError::Unavailable(_))));
        // Reads still work.
        assert_eq!(backend.get("k").await.unwrap(), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_increments_sum_exactly() {
        let (_dir, backend) = open_new();
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let backend = Arc::clone(&backend);
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    for _ in 0..200 {
                        seen.push(backend.increment("counter".into(), 1).await.unwrap());
                    }
                    seen
                })
            })
            .collect();
        let mut all = BTreeSet::new();
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        // Every increment saw a distinct value: none was lost or doubled.
        assert_eq!(all, (1..=12_800).collect());
        assert_eq!(backend.get("counter").await.unwrap(), Some(b"12800".to_vec()));
        let (commits, ops) = backend.batch_stats();
        assert_eq!(ops, 12_800);
        assert!(commits < ops, "no batching: {commits} commits for {ops} ops");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_cas_loops_lose_no_update() {
        let (_dir, backend) = open_new();
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let backend = Arc::clone(&backend);
                tokio::spawn(async move {
                    for _ in 0..25 {
                        loop {
                            let current = backend.get("doc").await.unwrap();
                            let n = current.as_deref().map_or(0, |v| std::str::from_utf8(v).unwrap().parse().unwrap());
                            if backend
                                .compare_and_swap("doc".into(), current, (n + 1).to_string().into())
                                .await
                                .unwrap()
                            {
                                break;
                            }
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(backend.get("doc").await.unwrap(), Some(b"800".to_vec()));
    }

    #[test]
    fn one_refused_op_leaves_the_rest_of_its_batch() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::builder().create(dir.path().join("b.redb")).unwrap();
        create_table(&db).unwrap();
        apply_batch(
            &db,
            &[Op::Set("text".into(), b"abc".to_vec()), Op::Set("max".into(), b"9223372036854775807".to_vec())],
        )
        .unwrap();
        let answers = apply_batch(
            &db,
            &[
                Op::Increment("a".into(), 1),
                Op::Increment("text".into(), 1),
                Op::Set("b".into(), b"x".to_vec()),
                Op::Increment("max".into(), 1),
                Op::CompareAndSwap { key: "b".into(), expected: Some(b"y".to_vec()), value: b"z".to_vec() },
                Op::CompareAndSwap { key: "b".into(), expected: Some(b"x".to_vec()), value: b"w".to_vec() },
                Op::Increment("a".into(), 1),
            ],
        )
        .unwrap();
        assert_eq!(answers[0], Ok(Done::Int(1)));
        assert!(matches!(answers[1], Err(KvError::Invalid(_))));
        assert_eq!(answers[2], Ok(Done::Unit));
        assert!(matches!(answers[3], Err(KvError::Invalid(_))));
        assert_eq!(answers[4], Ok(Done::Bool(false)));
        assert_eq!(answers[5], Ok(Done::Bool(true)));
        assert_eq!(answers[6], Ok(Done::Int(2)));

        let txn = db.begin_read().unwrap();
        let table = txn.open_table(TABLE).unwrap();
        let get = |k: &str| table.get(k).unwrap().map(|v| v.value().to_vec());
        assert_eq!(get("a"), Some(b"2".to_vec()));
        assert_eq!(get("text"), Some(b"abc".to_vec()));
        assert_eq!(get("max"), Some(b"9223372036854775807".to_vec()));
        assert_eq!(get("b"), Some(b"w".to_vec()));
    }

    #[test]
    fn counters_are_canonical_decimal_text() {
        assert_eq!(parse_counter(b"0"), Some(0));
        assert_eq!(parse_counter(b"-42"), Some(-42));
        assert_eq!(parse_counter(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_counter(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [&b""[..], b"-", b"+1", b"007", b"-0", b" 1", b"1 ", b"1.0", b"1e3", b"9223372036854775808", b"\xff"]
        {
            assert_eq!(parse_counter(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[tokio::test]
    async fn list_pages_with_a_prefix() {
        let (_dir, backend) = open_new();
        let mut entries: Vec<(String, Vec<u8>)> = (0..25).map(|i| (format!("user/{i:02}"), vec![])).collect();
        entries.extend(["user", "user0", "usep", "uses/1", "a", "zzz"].map(|k| (k.to_owned(), vec![])));
        backend.set_many(entries).await.unwrap();

        let mut keys = Vec::new();
        let mut cursor = None;
        let mut pages = 0;
        loop {
            let page = backend.list_keys(Some("user/"), cursor.as_deref(), 10).await.unwrap();
            pages += 1;
            assert!(page.keys.len() <= 10);
            keys.extend(page.keys);
            cursor = page.cursor;
            if cursor.is_none() {
                break;
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(keys, (0..25).map(|i| format!("user/{i:02}")).collect::<Vec<_>>());

        // Exactly `limit` matching keys: the last page says so.
        let page = backend.list_keys(Some("user/2"), None, 5).await.unwrap();
        assert_eq!(page.keys.len(), 5);
        assert_eq!(page.cursor, None);
        // A cursor before the prefix starts at the prefix; one past it ends.
        let page = backend.list_keys(Some("user/"), Some("a"), 2).await.unwrap();
        assert_eq!(page.keys, ["user/00", "user/01"]);
        let page = backend.list_keys(Some("user/"), Some("zz"), 2).await.unwrap();
        assert_eq!(page, KeyPage::default());
        // `limit` 0 makes no progress but says more follow.
        let page = backend.list_keys(Some("user/"), None, 0).await.unwrap();
        assert_eq!(page, KeyPage { keys: vec![], cursor: Some(String::new()) });
        let page = backend.list_keys(Some("user/"), Some(""), 1).await.unwrap();
        assert_eq!(page.keys, ["user/00"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn listing_during_writes_returns_each_existing_key_once() {
        let (_dir, backend) = open_new();
        let initial: Vec<String> = (0..3000).map(|i| format!("k/{i:05}")).collect();
        for chunk in initial.chunks(1000) {
            backend.set_many(chunk.iter().map(|k| (k.clone(), vec![])).collect()).await.unwrap();
        }
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let churn = {
            let (backend, stop) = (Arc::clone(&backend), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    // New keys all over the key space, some deleted again.
                    let key = format!("k/{:05}x{i}", (i * 7919) % 3000);
                    backend.set(key.clone(), vec![]).await.unwrap();
                    if i.is_multiple_of(2) {
                        backend.delete(key).await.unwrap();
                    }
                    i += 1;
                }
            })
        };
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = backend.list_keys(Some("k/"), cursor.as_deref(), 50).await.unwrap();
            seen.extend(page.keys);
            tokio::task::yield_now().await;
            cursor = page.cursor;
            if cursor.is_none() {
                break;
            }
        }
        stop.store(true, Ordering::Relaxed);
        churn.await.unwrap();
        let unique: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "a key was listed twice");
        assert!(seen.windows(2).all(|w| w[0] < w[1]));
        assert!(initial.iter().all(|k| unique.contains(k)));
    }

    /// The process's resident memory, in MiB.
    fn rss_mib() -> f64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        let kib: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib / 1024.0
    }

    /// Memory with a million keys (written, read at random by 16 tasks,
    /// listed): what [`CACHE_BYTES`] bounds; run with `--ignored --nocapture`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 8)]
    #[ignore = "a measurement, not a check"]
    async fn measure_memory_with_a_million_keys() {
        let before = rss_mib();
        let (_dir, backend) = open_new();
        for chunk in 0..1000 {
            let entries = (0..1000).map(|i| (format!("user/{:07}", chunk * 1000 + i), vec![b'v'; 64])).collect();
            backend.set_many(entries).await.unwrap();
        }
        let written = rss_mib();
        let read_start = std::time::Instant::now();
        let tasks: Vec<_> = (0..16u64)
            .map(|t| {
                let backend = Arc::clone(&backend);
                tokio::spawn(async move {
                    for i in 0..20_000u64 {
                        let key = format!("user/{:07}", (t * 20_000 + i) * 7_919 % 1_000_000);
                        assert!(backend.get(&key).await.unwrap().is_some());
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let read_time = read_start.elapsed();
        let mut cursor = None;
        let mut listed = 0;
        loop {
            let page = backend.list_keys(None, cursor.as_deref(), 1000).await.unwrap();
            listed += page.keys.len();
            cursor = page.cursor;
            if cursor.is_none() {
                break;
            }
        }
        assert_eq!(listed, 1_000_000);
        eprintln!(
            "RSS: {before:.1} MiB empty, {written:.1} MiB after writing 1M keys, {:.1} MiB after 320k gets \
             ({read_time:?}) and a full listing",
            rss_mib()
        );
    }

    /// Throughput of acknowledged concurrent `set`s and the average batch;
    /// run with `--ignored --nocapture`.
    #[tokio::test(flavor = "multi_thread")]
    #[ignore = "a measurement, not a check"]
    async fn measure_concurrent_sets() {
        let (_dir, backend) = open_new();
        let start = std::time::Instant::now();
        for i in 0..1000 {
            backend.set(format!("seq/{i}"), vec![b'v'; 100]).await.unwrap();
        }
        eprintln!("one writer: {:?} per acknowledged set", start.elapsed() / 1000);
        let (tasks, per_task) = (64, 5000);
        let (commits0, ops0) = backend.batch_stats();
        let start = std::time::Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|t| {
                let backend = Arc::clone(&backend);
                tokio::spawn(async move {
                    for i in 0..per_task {
                        backend.set(format!("t{t}/{i}"), vec![b'v'; 100]).await.unwrap();
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.await.unwrap();
        }
        let elapsed = start.elapsed();
        let (commits, ops) = backend.batch_stats();
        let (commits, ops) = (commits - commits0, ops - ops0);
        let total = tasks * per_task;
        eprintln!(
            "{total} acknowledged sets by {tasks} tasks in {elapsed:?}: {:.0}/s; {commits} commits, {:.1} ops per commit",
            f64::from(total) / elapsed.as_secs_f64(),
            ops as f64 / commits as f64
        );
    }
}
