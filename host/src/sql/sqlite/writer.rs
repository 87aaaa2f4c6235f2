//! The one read-write connection, on its own thread (`wasmroutes-sql-<name>`),
//! committing many requests' writes with one fsync.
//!
//! - **Group commit.** With `synchronous = FULL` each commit is an fsync, so
//!   one commit per write caps a database at one write per fsync, whatever
//!   the number of writers. Instead, statements that run outside a
//!   transaction queue for the thread; it takes the first, drains what else
//!   is queued, runs them all in one transaction and commits once, then
//!   answers each with its own result. Nobody is answered before the commit
//!   that holds their change, so "acknowledged = durable" holds. While it
//!   commits, new statements queue for the next batch, so batches grow with
//!   the load.
//! - **Each statement as if alone.** A failing statement undoes its own
//!   changes (SQLite's statement journal) and the rest of its batch commits.
//!   When SQLite ends the whole transaction because of one statement (it was
//!   interrupted, `OR ROLLBACK`, a disk error), that statement fails and the
//!   others run again in a new transaction: none of them had been answered.
//!   When the commit fails on a deferred constraint, the batch runs again one
//!   statement per transaction, so only the one at fault fails.
//! - **Transactions.** `begin` queues like a statement; when its turn comes
//!   the thread serves that transaction alone until it commits, rolls back,
//!   or its session is dropped (rolled back), then goes back to the queue.
//! - **Busy.** A statement or `begin` not taken within the busy timeout is
//!   answered "busy" and never runs; one whose request went away before its
//!   turn is dropped unrun.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};

use super::connection::{Conn, run_execute, run_query};
use crate::sql::backend::SqlLimits;
use crate::sql::error::SqlError;
use crate::sql::value::{Executed, Rows, SqlValue};

/// Statements one commit holds at most: enough to amortise the fsync over
/// every writer a busy host has, few enough that a batch's answers are not
/// held long.
const MAX_BATCH: usize = 256;

/// Result bytes a batch holds until its commit at most; past it the batch
/// commits early and the rest wait for the next one.
const MAX_HELD_BYTES: usize = 16 << 20;

/// Requests waiting for the thread (each waits for its answer, so the queue
/// is bounded by the requests in flight anyway).
const QUEUE_CAPACITY: usize = 1024;

/// A statement to run.
pub(super) enum Call {
    Query { sql: String, params: Vec<SqlValue> },
    Execute { sql: String, params: Vec<SqlValue> },
}

/// What a statement returned.
pub(super) enum Answer {
    Rows(Rows),
    Executed(Executed),
}

impl Answer {
    pub(super) fn rows(self) -> Result<Rows, SqlError> {
        match self {
            Answer::Rows(rows) => Ok(rows),
            Answer::Executed(_) => Err(SqlError::Internal("a query answered as an execute".into())),
        }
    }

    pub(super) fn executed(self) -> Result<Executed, SqlError> {
        match self {
            Answer::Executed(executed) => Ok(executed),
            Answer::Rows(_) => Err(SqlError::Internal("an execute answered as a query".into())),
        }
    }

    fn held_bytes(&self) -> usize {
        match self {
            Answer::Rows(rows) => rows.rows.iter().flatten().map(SqlValue::weight).sum(),
            Answer::Executed(_) => 0,
        }
    }
}

/// The writer thread and its queue.
pub(super) struct Writer {
    name: String,
    limits: SqlLimits,
    queue: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<Stats>,
}

/// What the thread has committed.
#[derive(Default)]
struct Stats {
    commits: AtomicU64,
    statements: AtomicU64,
}

impl Writer {
    /// Starts the thread that owns `conn`.
    pub(super) fn start(name: &str, conn: Conn, limits: SqlLimits) -> Result<Writer, SqlError> {
        let (queue, jobs) = mpsc::channel(QUEUE_CAPACITY);
        let stats = Arc::new(Stats::default());
        let thread = std::thread::Builder::new()
            .name(format!("wasmroutes-sql-{name}"))
            .spawn({
                let (name, stats) = (name.to_owned(), Arc::clone(&stats));
                move || Thread { name, conn, limits, stats }.run(jobs)
            })
            .map_err(|e| SqlError::Internal(format!("database `{name}`: cannot start its writer thread: {e}")))?;
        Ok(Writer { name: name.to_owned(), limits, queue: Some(queue), thread: Some(thread), stats })
    }

    /// (group commits, statements in them) so far.
    #[cfg(test)]
    pub(super) fn batch_stats(&self) -> (u64, u64) {
        (self.stats.commits.load(Ordering::Relaxed), self.stats.statements.load(Ordering::Relaxed))
    }

    /// Runs `call` in the next group commit; answers once it is durable.
    pub(super) async fn run(&self, call: Call) -> Result<Answer, SqlError> {
        let (reply, answer) = oneshot::channel();
        let turn = Turn::new();
        self.send(Job::Statement(Statement { call, turn: turn.clone(), reply })).await?;
        self.wait(turn, answer).await?
    }

    /// Opens a transaction: the writer is this session's until it ends.
    pub(super) async fn begin(&self) -> Result<Transaction, SqlError> {
        let (reply, answer) = oneshot::channel();
        let (calls, receiver) = mpsc::channel(1);
        let turn = Turn::new();
        self.send(Job::Begin(Begin { turn: turn.clone(), reply, calls: receiver })).await?;
        self.wait(turn, answer).await??;
        Ok(Transaction { calls })
    }

    async fn send(&self, job: Job) -> Result<(), SqlError> {
        let queue = self.queue.as_ref().ok_or_else(|| self.gone())?;
        queue.send(job).await.map_err(|_| self.gone())
    }

    /// Waits for the answer; gives up (and the job never runs) if the
    /// thread has not taken it within the busy timeout.
    async fn wait<T>(&self, turn: Turn, mut answer: oneshot::Receiver<T>) -> Result<T, SqlError> {
        let waiting = Waiting(turn);
        match tokio::time::timeout(self.limits.busy_timeout, &mut answer).await {
            Ok(answer) => answer.map_err(|_| self.gone()),
            Err(_) if waiting.0.give_up() => Err(SqlError::Unavailable(format!(
                "database `{}` is busy: its writer was held by others for {:?}",
                self.name, self.limits.busy_timeout
            ))),
            Err(_) => answer.await.map_err(|_| self.gone()),
        }
    }

    fn gone(&self) -> SqlError {
        SqlError::Internal(format!("database `{}`: its writer thread stopped", self.name))
    }
}

impl Drop for Writer {
    /// Finishes what is queued and closes the connection before the
    /// database's lock file is released.
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!(database = %self.name, "the SQL writer thread panicked");
        }
        tracing::debug!(
            database = %self.name,
            commits = self.stats.commits.load(Ordering::Relaxed),
            statements = self.stats.statements.load(Ordering::Relaxed),
            "SQL writer closed"
        );
    }
}

/// An open transaction: the writer serves only it until it ends. Dropped
/// without `commit`, it is rolled back.
pub(super) struct Transaction {
    calls: mpsc::Sender<TxCall>,
}

/// A transaction's statement's result, and whether the transaction is still
/// open after it (SQLite ends it itself on some failures).
pub(super) struct InTransaction {
    pub(super) result: Result<Answer, SqlError>,
    pub(super) open: bool,
}

impl Transaction {
    pub(super) async fn run(&self, call: Call) -> Result<InTransaction, SqlError> {
        self.ask(TxOp::Run(call)).await
    }

    pub(super) async fn commit(self) -> Result<(), SqlError> {
        self.ask(TxOp::Commit).await?.result.map(drop)
    }

    pub(super) async fn rollback(self) -> Result<(), SqlError> {
        self.ask(TxOp::Rollback).await?.result.map(drop)
    }

    async fn ask(&self, op: TxOp) -> Result<InTransaction, SqlError> {
        let gone = || SqlError::Internal("the database's writer thread stopped".into());
        let (reply, answer) = oneshot::channel();
        self.calls.send(TxCall { op, reply }).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())
    }
}

enum Job {
    Statement(Statement),
    Begin(Begin),
}

struct Statement {
    call: Call,
    turn: Turn,
    reply: oneshot::Sender<Result<Answer, SqlError>>,
}

struct Begin {
    turn: Turn,
    reply: oneshot::Sender<Result<(), SqlError>>,
    calls: mpsc::Receiver<TxCall>,
}

struct TxCall {
    op: TxOp,
    reply: oneshot::Sender<InTransaction>,
}

enum TxOp {
    Run(Call),
    Commit,
    Rollback,
}

/// Who decides a queued job's fate: the thread takes it, or its waiter
/// gives up on it (busy timeout, or the request went away); never both.
#[derive(Clone)]
struct Turn(Arc<AtomicU8>);

const QUEUED: u8 = 0;
const TAKEN: u8 = 1;
const GIVEN_UP: u8 = 2;

impl Turn {
    fn new() -> Turn {
        Turn(Arc::new(AtomicU8::new(QUEUED)))
    }

    fn take(&self) -> bool {
        self.0.compare_exchange(QUEUED, TAKEN, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    fn give_up(&self) -> bool {
        self.0.compare_exchange(QUEUED, GIVEN_UP, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }
}

/// Gives the turn up if the waiting future is dropped first.
struct Waiting(Turn);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.give_up();
    }
}

/// The thread's state.
struct Thread {
    name: String,
    conn: Conn,
    limits: SqlLimits,
    stats: Arc<Stats>,
}

impl Thread {
    /// Serves jobs until the queue is closed and empty.
    fn run(self, mut jobs: mpsc::Receiver<Job>) {
        let mut queued: VecDeque<Job> = VecDeque::new();
        loop {
            if queued.is_empty() {
                match jobs.blocking_recv() {
                    Some(job) => queued.push_back(job),
                    None => return,
                }
            }
            while queued.len() < MAX_BATCH {
                match jobs.try_recv() {
                    Ok(job) => queued.push_back(job),
                    Err(_) => break,
                }
            }
            match queued.pop_front() {
                Some(Job::Begin(begin)) => self.serve_transaction(begin),
                Some(Job::Statement(first)) => {
                    let mut batch = VecDeque::from([first]);
                    while let Some(Job::Statement(_)) = queued.front() {
                        if let Some(Job::Statement(next)) = queued.pop_front() {
                            batch.push_back(next);
                        }
                    }
                    batch.retain(|statement| statement.turn.take());
                    self.commit_all(batch);
                }
                None => {}
            }
        }
    }

    /// Commits `batch` in as few transactions as its statements allow.
    fn commit_all(&self, mut batch: VecDeque<Statement>) {
        let mut most = MAX_BATCH;
        while !batch.is_empty() {
            match self.commit_some(&mut batch, most) {
                Committed::Answered => {}
                Committed::DeferredConstraint => most = 1,
            }
        }
    }

    /// Runs up to `most` statements from the front of `batch` in one
    /// transaction and answers them; statements to run again are left at the
    /// front.
    fn commit_some(&self, batch: &mut VecDeque<Statement>, most: usize) -> Committed {
        if let Err(e) = self.conn.run_trusted("BEGIN IMMEDIATE") {
            for statement in batch.drain(..) {
                let _ = statement.reply.send(Err(e.clone()));
            }
            return Committed::Answered;
        }
        let mut ran: Vec<(Statement, Result<Answer, SqlError>)> = Vec::new();
        let mut held = 0;
        while ran.len() < most && held <= MAX_HELD_BYTES {
            let Some(statement) = batch.pop_front() else { break };
            let result = self.execute(&statement.call);
            if !self.conn.in_transaction() {
                // SQLite rolled the batch back because of this statement.
                let _ = statement.reply.send(result.and_then(|_| Err(rolled_back())));
                for (earlier, _) in ran.into_iter().rev() {
                    batch.push_front(earlier);
                }
                return Committed::Answered;
            }
            held += result.as_ref().map_or(0, Answer::held_bytes);
            ran.push((statement, result));
        }
        match self.conn.run_trusted("COMMIT") {
            Ok(()) => {
                self.stats.commits.fetch_add(1, Ordering::Relaxed);
                self.stats.statements.fetch_add(ran.len() as u64, Ordering::Relaxed);
                for (statement, result) in ran {
                    let _ = statement.reply.send(result);
                }
                Committed::Answered
            }
            Err(e) => {
                let _ = self.conn.rollback_if_open();
                if matches!(e, SqlError::Constraint { .. }) && ran.len() > 1 {
                    for (statement, _) in ran.into_iter().rev() {
                        batch.push_front(statement);
                    }
                    return Committed::DeferredConstraint;
                }
                for (statement, _) in ran {
                    let _ = statement.reply.send(Err(e.clone()));
                }
                Committed::Answered
            }
        }
    }

    /// Serves one transaction to its end.
    fn serve_transaction(&self, begin: Begin) {
        let Begin { turn, reply, mut calls } = begin;
        if !turn.take() {
            return;
        }
        // IMMEDIATE: the write lock now, so a transaction never fails half
        // way for want of it.
        let begun = self.conn.run_trusted("BEGIN IMMEDIATE");
        let failed = begun.is_err();
        if reply.send(begun).is_err() || failed {
            let _ = self.conn.rollback_if_open();
            return;
        }
        while let Some(TxCall { op, reply }) = calls.blocking_recv() {
            let (result, open) = match op {
                TxOp::Run(call) => {
                    let result = self.execute(&call);
                    (result, self.conn.in_transaction())
                }
                TxOp::Commit => {
                    let committed = self.conn.run_trusted("COMMIT");
                    if committed.is_err() {
                        // SQLite keeps the transaction open on some COMMIT
                        // failures; the writer must be clean for the next job.
                        let _ = self.conn.rollback_if_open();
                    }
                    (committed.map(|()| Answer::Executed(Executed::default())), false)
                }
                TxOp::Rollback => (self.conn.rollback_if_open().map(|()| Answer::Executed(Executed::default())), false),
            };
            let _ = reply.send(InTransaction { result, open });
            if !open {
                return;
            }
        }
        // The session was dropped with the transaction open.
        if let Err(e) = self.conn.rollback_if_open() {
            tracing::error!(database = %self.name, "rolling back an abandoned transaction failed: {e}");
        }
    }

    fn execute(&self, call: &Call) -> Result<Answer, SqlError> {
        match call {
            Call::Query { sql, params } => run_query(&self.conn, sql, params, self.limits).map(Answer::Rows),
            Call::Execute { sql, params } => run_execute(&self.conn, sql, params, self.limits).map(Answer::Executed),
        }
    }
}

enum Committed {
    Answered,
    /// The commit failed on a constraint checked at commit time: the batch
    /// is back in the queue, to run one statement per transaction.
    DeferredConstraint,
}

fn rolled_back() -> SqlError {
    SqlError::Internal("the statement ended its transaction".into())
}
