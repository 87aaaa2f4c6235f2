//! The Redis backend: a store whose keys live on a Redis server that many
//! hosts can share.
//!
//! # Layout
//!
//! Every key `k` of store `NAME` is the Redis string `wasmroutes:NAME:k`
//! (the value is stored as is, counters as decimal text, what `INCRBY`
//! keeps). Two stores on one server, or one server shared with other
//! programs, never see each other's keys: every command names keys of its own
//! namespace only, and listing scans only that namespace.
//!
//! # Connection
//!
//! [`RedisBackend::new`] only parses the URL: the host starts even when Redis
//! is down. It keeps one multiplexed connection (the redis crate's
//! [`ConnectionManager`], created lazily) that every call shares, and a
//! background task that checks the server (every [`HEARTBEAT`] while
//! connected, with a backoff capped at [`MAX_RETRY_DELAY`] while not),
//! reconnects, and logs each change of state once: connected, lost, back.
//! While the server cannot be reached, every call answers
//! [`KvError::Unavailable`] promptly (a refused connection at once, a silent
//! network within [`CONNECT_TIMEOUT`]); a server that stops answering fails
//! calls after [`RESPONSE_TIMEOUT`]. A write that fails that way may or may
//! not have been applied: Redis received it, or not, before the connection
//! went. Messages name the server as `host:port` only, never the URL (which
//! can hold a password).
//!
//! # Operations
//!
//! Each is one Redis command, so each is atomic on the server: `GET`, `MGET`,
//! `EXISTS`, `SET`, `MSET`, `DEL`, `INCRBY`, `PING`; `compare_and_swap` is a
//! Lua script (`EVALSHA`, loaded again if the server forgot it). A write that
//! returns `Ok` was acknowledged by the server; how durable that is depends
//! on the server's persistence settings (`appendonly`, `appendfsync`).
//! Listing uses `SCAN` (never `KEYS`): see [`RedisBackend::list_keys`].

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Cmd, ConnectionAddr, ErrorKind, FromRedisValue, RedisError, RedisResult, RetryMethod, Script};
use tokio::sync::Notify;

use super::backend::{Backend, KeyPage, KvError};

/// How long one connection attempt (TCP connect and handshake) may take. A
/// call made while the server cannot be reached waits at most this long for
/// the attempt it needs; a refused connection fails at once.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// How long the server has to answer one command once it is sent. Redis
/// answers in well under a millisecond; this is a server that hangs, or a
/// network that dropped without saying so.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// The most one call waits in all (connecting, then the answer): a belt over
/// the redis crate's own timeouts, so no call can hang.
const CALL_TIMEOUT: Duration = CONNECT_TIMEOUT.saturating_add(RESPONSE_TIMEOUT);

/// First delay between checks while the server cannot be reached; doubled
/// after each failed check up to [`MAX_RETRY_DELAY`].
const MIN_RETRY_DELAY: Duration = Duration::from_millis(50);

/// Longest delay between checks while the server cannot be reached: a server
/// that comes back is used again within about this long.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(1);

/// How often the background task pings a connected server, so that a lost
/// server is noticed, logged and reconnected to even when no call is made.
pub const HEARTBEAT: Duration = Duration::from_secs(1);

/// The largest `COUNT` one `SCAN` call asks for (how much of the keyspace
/// Redis walks per call).
pub const MAX_SCAN_COUNT: usize = 1000;

/// How long one `list_keys` page keeps scanning for keys before it returns
/// what it has (maybe nothing, with a cursor): the bound for a store whose
/// few keys sit among many keys of other stores or programs.
pub const LIST_BUDGET: Duration = Duration::from_millis(250);

/// What every key of every store starts with.
const KEY_PREFIX: &str = "wasmroutes:";

/// `compare_and_swap`, atomic on the server. `KEYS[1]`: the key; `ARGV[1]`:
/// `"1"` if a value is expected, `"0"` if the key must not exist;
/// `ARGV[2]`: the expected value; `ARGV[3]`: the new value. Returns 1 if it
/// swapped, 0 if not.
const CAS_SCRIPT: &str = r"
if ARGV[1] == '1' then
  if redis.call('GET', KEYS[1]) ~= ARGV[2] then
    return 0
  end
elseif redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('SET', KEYS[1], ARGV[3])
return 1
";

/// Connection states, for logging each change once.
const CONNECTING: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;

/// A store on a Redis server. See the [module documentation](self).
pub struct RedisBackend {
    inner: Arc<Inner>,
    /// The background task that checks and reconnects; stopped on drop.
    watcher: tokio::task::AbortHandle,
}

/// What the calls and the background task share.
struct Inner {
    /// The store's name, for messages.
    store: String,
    /// `host:port` (or the socket path), for messages: never the URL.
    addr: String,
    /// `wasmroutes:NAME:`.
    namespace: String,
    /// The parsed URL, to build a new connection manager from.
    client: Client,
    /// The connection every call uses. Replaced (by the background task)
    /// only when setting a connection up fails in a way the manager does not
    /// retry by itself (authentication, `SELECT`).
    conn: ArcSwap<ConnectionManager>,
    /// [`CAS_SCRIPT`].
    cas: Script,
    /// [`CONNECTING`], [`UP`] or [`DOWN`].
    state: AtomicU8,
    /// Wakes the background task when a call finds the server unreachable.
    wake: Arc<Notify>,
}

impl RedisBackend {
    /// The store `store` on the server at `url`
    /// (`redis://[user:password@]host[:port][/db]` or
    /// `redis+unix:///path?db=N&pass=…`).
    ///
    /// Fails only when the URL is unusable; the server need not be up: the
    /// connection is made in the background, and calls answer
    /// [`KvError::Unavailable`] until it is. Call from inside a tokio
    /// runtime (the background task runs on it).
    pub fn new(store: &str, url: &str) -> Result<RedisBackend, KvError> {
        let client = Client::open(url).map_err(|e| KvError::Invalid(url_error(&e)))?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(KvError::Backend(format!(
                "redis store `{store}` must be opened inside a tokio runtime (its connection runs on it)"
            )));
        }
        let conn = connection_manager(&client).map_err(|e| KvError::Invalid(url_error(&e)))?;
        let inner = Arc::new(Inner {
            store: store.to_owned(),
            addr: describe(client.get_connection_info().addr()),
            namespace: namespace(store),
            client,
            conn: ArcSwap::from_pointee(conn),
            cas: Script::new(CAS_SCRIPT),
            state: AtomicU8::new(CONNECTING),
            wake: Arc::new(Notify::new()),
        });
        let watcher = tokio::spawn(watch(Arc::downgrade(&inner), Arc::clone(&inner.wake))).abort_handle();
        Ok(RedisBackend { inner, watcher })
    }

    /// The Redis key that holds `key` of this store.
    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.inner.namespace)
    }

    /// One `SCAN` step: the next cursor and the keys of this store (without
    /// the namespace) that it found, deduplicated against `seen`.
    async fn scan_step(
        &self,
        cursor: u64,
        pattern: &str,
        count: usize,
        seen: &HashSet<String>,
    ) -> Result<(u64, Vec<String>), KvError> {
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(cursor).arg("MATCH").arg(pattern).arg("COUNT").arg(count);
        let (next, raw): (u64, Vec<Vec<u8>>) = self.inner.query(&cmd).await?;
        // SCAN only returns keys matching the pattern, so the namespace is
        // there; keys another program wrote that are not UTF-8 cannot be
        // named by a guest, so they are not listed.
        let mut found: Vec<String> = raw
            .into_iter()
            .filter_map(|key| String::from_utf8(key.strip_prefix(self.inner.namespace.as_bytes())?.to_vec()).ok())
            .filter(|name| !seen.contains(name))
            .collect();
        found.sort_unstable();
        found.dedup();
        Ok((next, found))
    }
}

impl Drop for RedisBackend {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

#[async_trait]
impl Backend for RedisBackend {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.inner.query(redis::cmd("GET").arg(self.key(key))).await
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, KvError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut cmd = redis::cmd("MGET");
        for key in keys {
            cmd.arg(self.key(key));
        }
        self.inner.query(&cmd).await
    }

    async fn exists(&self, key: &str) -> Result<bool, KvError> {
        let n: i64 = self.inner.query(redis::cmd("EXISTS").arg(self.key(key))).await?;
        Ok(n > 0)
    }

    async fn set(&self, key: String, value: Vec<u8>) -> Result<(), KvError> {
        self.inner.query(redis::cmd("SET").arg(self.key(&key)).arg(value)).await
    }

    async fn set_many(&self, entries: Vec<(String, Vec<u8>)>) -> Result<(), KvError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("MSET");
        for (key, value) in &entries {
            cmd.arg(self.key(key)).arg(value);
        }
        self.inner.query(&cmd).await
    }

    async fn delete(&self, key: String) -> Result<(), KvError> {
        let _: i64 = self.inner.query(redis::cmd("DEL").arg(self.key(&key))).await?;
        Ok(())
    }

    async fn delete_many(&self, keys: Vec<String>) -> Result<(), KvError> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("DEL");
        for key in &keys {
            cmd.arg(self.key(key));
        }
        let _: i64 = self.inner.query(&cmd).await?;
        Ok(())
    }

    /// `INCRBY`: Redis takes the value as a decimal `i64` written the
    /// canonical way (`-` sign only, no `+`, no leading zeros, no spaces),
    /// keeps the result as decimal text, and changes nothing on a value that
    /// is not such an integer or on an overflow ([`KvError::Invalid`]).
    async fn increment(&self, key: String, delta: i64) -> Result<i64, KvError> {
        let mut cmd = redis::cmd("INCRBY");
        cmd.arg(self.key(&key)).arg(delta);
        let mut conn = self.inner.connection();
        match self.inner.bounded(cmd.query_async(&mut conn)).await {
            Ok(n) => Ok(n),
            Err(e) if is_not_integer(&e) => {
                Err(KvError::Invalid(format!("`{key}` does not hold a decimal integer, or adding {delta} overflows")))
            }
            Err(e) => Err(self.inner.error(&e)),
        }
    }

    async fn compare_and_swap(&self, key: String, expected: Option<Vec<u8>>, value: Vec<u8>) -> Result<bool, KvError> {
        let mut call = self.inner.cas.prepare_invoke();
        call.key(self.key(&key));
        match &expected {
            Some(expected) => call.arg("1").arg(expected.as_slice()),
            None => call.arg("0").arg(""),
        };
        call.arg(value);
        let mut conn = self.inner.connection();
        let swapped: i64 = self.inner.bounded(call.invoke_async(&mut conn)).await.map_err(|e| self.inner.error(&e))?;
        Ok(swapped == 1)
    }

    /// One page of `SCAN cursor MATCH wasmroutes:NAME:<prefix>* COUNT n`
    /// calls (glob characters of the name and prefix escaped), never `KEYS`.
    ///
    /// The cursor is Redis's `SCAN` cursor as a decimal string (`None` once
    /// `SCAN` returns 0); any other cursor is [`KvError::Invalid`]. `SCAN`
    /// guarantees that every key present for the whole listing is returned
    /// at least once; a key may be returned twice across pages (while Redis
    /// resizes its table), never twice in one page, and keys added or
    /// removed meanwhile may or may not appear.
    ///
    /// A page holds at most `limit` keys: a `SCAN` step that finds more
    /// than the page has room for is asked again with a smaller `COUNT`
    /// (from the same cursor, so no key is missed), or left for the next
    /// page. The one exception: a single step asked for one key returns a
    /// whole hash bucket (and, while Redis resizes its table, the buckets it
    /// maps to in the new one), and if that holds more than `limit` keys of
    /// this store, the page holds them all: only possible with a tiny
    /// `limit` (stores ask for 1000); a cursor that resumed inside a bucket
    /// could not keep `SCAN`'s guarantee once the bucket changes. `COUNT` starts at `limit` (at most
    /// [`MAX_SCAN_COUNT`]) and doubles after steps that find nothing, so a
    /// store with few keys among many others is walked quickly. Scanning
    /// stops once the page is half full, at the end of the keyspace, or
    /// after [`LIST_BUDGET`], so a page may be short, even empty, with more
    /// to come.
    async fn list_keys(&self, prefix: Option<&str>, cursor: Option<&str>, limit: usize) -> Result<KeyPage, KvError> {
        let mut cursor = match cursor {
            None => 0,
            Some(c) => parse_cursor(c)?,
        };
        if limit == 0 {
            return Ok(KeyPage { keys: Vec::new(), cursor: Some(cursor.to_string()) });
        }
        let pattern = format!("{}{}*", glob_escape(&self.inner.namespace), glob_escape(prefix.unwrap_or("")));
        let started = Instant::now();
        let mut keys: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        let mut count = limit.min(MAX_SCAN_COUNT);
        loop {
            let room = limit - keys.len();
            let (next, found) = self.scan_step(cursor, &pattern, count, &seen).await?;
            if found.len() > room {
                // The same step again, asked for no more than there is room
                // for; or, with keys already, left for the next page.
                if count > room {
                    count = room;
                    continue;
                }
                if !keys.is_empty() {
                    return Ok(KeyPage { keys, cursor: Some(cursor.to_string()) });
                }
                if count > 1 {
                    count /= 2;
                    continue;
                }
                // One bucket holds more than `limit` keys: see the doc comment.
            }
            if found.is_empty() {
                // Few keys of this store here: walk faster.
                count = (count * 2).min(MAX_SCAN_COUNT);
            }
            seen.extend(found.iter().cloned());
            keys.extend(found);
            cursor = next;
            if cursor == 0 {
                return Ok(KeyPage { keys, cursor: None });
            }
            if keys.len() >= limit.div_ceil(2) || started.elapsed() >= LIST_BUDGET {
                return Ok(KeyPage { keys, cursor: Some(cursor.to_string()) });
            }
        }
    }

    async fn ping(&self) -> Result<(), KvError> {
        let mut conn = self.inner.connection();
        self.inner.bounded(ping(&mut conn)).await.map_err(|e| self.inner.error(&e))
    }
}

impl Inner {
    /// The shared connection (a cheap handle).
    fn connection(&self) -> ConnectionManager {
        ConnectionManager::clone(&self.conn.load())
    }

    /// Runs `cmd`, mapping errors.
    async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, KvError> {
        let mut conn = self.connection();
        self.bounded(cmd.query_async(&mut conn)).await.map_err(|e| self.error(&e))
    }

    /// `call`, failed with a timeout error if it takes over [`CALL_TIMEOUT`].
    /// A success means the server is up: the first one after it was not is
    /// logged at once (the background task would only notice on its next
    /// check).
    async fn bounded<T>(&self, call: impl Future<Output = RedisResult<T>>) -> RedisResult<T> {
        match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(Ok(value)) => {
                if self.state.load(Ordering::Relaxed) != UP {
                    self.record(&Ok(()));
                }
                Ok(value)
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {CALL_TIMEOUT:?}"),
            ))),
        }
    }

    /// The [`KvError`] for a failed call; tells the background task when the
    /// server looks unreachable.
    fn error(&self, e: &RedisError) -> KvError {
        let (store, addr) = (&self.store, &self.addr);
        match classify(e) {
            failure @ (Failure::Timeout | Failure::Unreachable) => {
                if self.state.compare_exchange(UP, DOWN, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                    if matches!(failure, Failure::Timeout) {
                        tracing::warn!(store = %store, redis = %addr, "redis stopped answering ({})", text(e));
                    } else {
                        tracing::warn!(store = %store, redis = %addr, "redis connection lost ({}); reconnecting", text(e));
                    }
                }
                self.wake.notify_one();
                KvError::Unavailable(format!("redis store `{store}` at {addr} is not reachable: {}", text(e)))
            }
            Failure::NotReady => {
                KvError::Unavailable(format!("redis store `{store}` at {addr} is not ready: {}", text(e)))
            }
            Failure::Setup | Failure::Other => {
                KvError::Backend(format!("redis store `{store}` at {addr}: {}", text(e)))
            }
        }
    }

    /// Records the outcome of a check, logging a change of state once.
    fn record(&self, outcome: &RedisResult<()>) {
        let (store, addr) = (&self.store, &self.addr);
        match outcome {
            Ok(()) => match self.state.swap(UP, Ordering::AcqRel) {
                CONNECTING => tracing::info!(store = %store, redis = %addr, "connected to redis"),
                DOWN => tracing::info!(store = %store, redis = %addr, "redis is reachable again"),
                _ => {}
            },
            Err(e) => match self.state.swap(DOWN, Ordering::AcqRel) {
                CONNECTING => tracing::warn!(
                    store = %store,
                    redis = %addr,
                    "cannot use redis yet ({}); calls fail until it can, retrying in the background",
                    text(e)
                ),
                UP => {
                    tracing::warn!(store = %store, redis = %addr, "redis connection lost ({}); reconnecting", text(e))
                }
                _ => {}
            },
        }
    }

    /// One check of the server. A failed ping also starts a new connection
    /// attempt (the manager does that after an I/O error); when the first
    /// ping only collected an earlier attempt's failure, the second one sees
    /// the fresh attempt, so the state is that of now.
    async fn check(&self) -> RedisResult<()> {
        let first = self.bounded(ping(&mut self.connection())).await;
        match first {
            Err(e) if matches!(classify(&e), Failure::Unreachable) => self.bounded(ping(&mut self.connection())).await,
            other => other,
        }
    }
}

/// `PING` on `conn`.
async fn ping(conn: &mut ConnectionManager) -> RedisResult<()> {
    let _: String = redis::cmd("PING").query_async(conn).await?;
    Ok(())
}

/// The background task of one backend: checks the server, logs changes of
/// state, and replaces the connection manager when it is stuck. Ends when the
/// backend is dropped.
async fn watch(inner: Weak<Inner>, wake: Arc<Notify>) {
    let mut delay = MIN_RETRY_DELAY;
    loop {
        let Some(backend) = inner.upgrade() else { return };
        let outcome = backend.check().await;
        backend.record(&outcome);
        let up = outcome.is_ok();
        if let Err(e) = &outcome
            && matches!(classify(e), Failure::Setup)
        {
            // The manager retries only after I/O errors: a connection whose
            // set-up failed otherwise (a wrong password, a refused `SELECT`)
            // would fail every call from now on, even once fixed.
            if let Ok(fresh) = connection_manager(&backend.client) {
                backend.conn.store(Arc::new(fresh));
            }
        }
        drop(backend);
        if up {
            delay = MIN_RETRY_DELAY;
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(HEARTBEAT) => {}
            }
        } else {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(MAX_RETRY_DELAY);
        }
    }
}

/// A lazy connection manager for `client`: it connects on first use, fails a
/// call rather than retrying (the background task retries), and reconnects
/// after an I/O error.
fn connection_manager(client: &Client) -> RedisResult<ConnectionManager> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_number_of_retries(0)
        .set_max_delay(MAX_RETRY_DELAY);
    ConnectionManager::new_lazy_with_config(client.clone(), config)
}

/// What kind of failure a redis error is.
enum Failure {
    /// No answer in time.
    Timeout,
    /// The connection failed or dropped.
    Unreachable,
    /// The server answers but cannot serve yet (loading its data, a failover).
    NotReady,
    /// A connection could not be set up for a reason other than I/O
    /// (authentication, `SELECT`): not a reply to the command.
    Setup,
    /// Anything else (the server's error reply to the command, …).
    Other,
}

fn classify(e: &RedisError) -> Failure {
    if e.is_timeout() {
        Failure::Timeout
    } else if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() {
        Failure::Unreachable
    } else if matches!(e.retry_method(), RetryMethod::WaitAndRetry) {
        Failure::NotReady
    } else if e.kind() == ErrorKind::AuthenticationFailed || e.clone().into_server_errors().is_none() {
        Failure::Setup
    } else {
        Failure::Other
    }
}

/// Whether `INCRBY` refused the stored value or the result: "value is not
/// an integer or out of range", "increment or decrement would overflow", or
/// a key holding another Redis type.
fn is_not_integer(e: &RedisError) -> bool {
    let detail = e.detail().unwrap_or("");
    match e.code() {
        Some("ERR") => detail.contains("not an integer") || detail.contains("overflow"),
        Some("WRONGTYPE") => true,
        _ => false,
    }
}

/// `wasmroutes:NAME:`: what every key of store `store` starts with.
fn namespace(store: &str) -> String {
    format!("{KEY_PREFIX}{store}:")
}

/// `text` with the glob characters of a `SCAN MATCH` pattern escaped, so
/// that it matches only itself.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A cursor this backend returned: a decimal `SCAN` cursor.
fn parse_cursor(cursor: &str) -> Result<u64, KvError> {
    let invalid = || KvError::Invalid(format!("`{cursor}` is not a cursor this store returned"));
    if cursor.is_empty() || !cursor.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    cursor.parse().map_err(|_| invalid())
}

/// Where the server is, for messages: `host:port` or the socket path.
fn describe(addr: &ConnectionAddr) -> String {
    match addr {
        ConnectionAddr::Tcp(host, port) if host.contains(':') => format!("[{host}]:{port}"),
        other => other.to_string(),
    }
}

/// Why a URL is unusable (the redis crate's words, which never quote it).
fn url_error(e: &RedisError) -> String {
    format!("`url` is not a usable Redis URL: {}", text(e))
}

/// `e` for people: the redis crate writes its own errors as
/// `description - Kind: detail`; the kind (a Rust enum's name) goes.
fn text(e: &RedisError) -> String {
    e.to_string().replacen(&format!(" - {:?}", e.kind()), "", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A port nothing listens on.
    fn closed_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    }

    #[tokio::test]
    async fn parses_urls_and_names_the_server_without_credentials() {
        for (url, addr) in [
            ("redis://127.0.0.1:6379", "127.0.0.1:6379"),
            ("redis://localhost", "localhost:6379"),
            ("redis://:s3cret@redis.internal:6380/2", "redis.internal:6380"),
            ("redis://user:s3cret@10.0.0.1:7000/0", "10.0.0.1:7000"),
            ("redis://[::1]:6379", "[::1]:6379"),
            ("redis+unix:///run/redis.sock?db=1&pass=s3cret", "/run/redis.sock"),
        ] {
            let backend = RedisBackend::new("cache", url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(backend.inner.addr, addr, "{url}");
            assert_eq!(backend.inner.namespace, "wasmroutes:cache:");
        }
    }

    #[tokio::test]
    async fn unusable_urls_fail_without_quoting_the_password() {
        for url in [
            "",
            "not a url",
            "http://user:s3cret@host:6379",
            "redis://user:s3cret@0.0.0.0:6379",
            "redis://user:s3cret@host:6379/not-a-db",
            "redis://user:s3cret@host:6379/?protocol=7",
            "rediss://user:s3cret@host:6379",
        ] {
            let Err(e) = RedisBackend::new("cache", url) else { panic!("{url:?} should be refused") };
            assert!(matches!(e, KvError::Invalid(_)), "{url:?}: {e:?}");
            let message = e.to_string();
            assert!(message.contains("not a usable Redis URL"), "{url:?}: {message}");
            assert!(!message.contains("s3cret"), "{url:?}: {message}");
            assert!(!message.contains("InvalidClientConfig"), "{url:?}: {message}");
        }
    }

    #[test]
    fn new_outside_a_runtime_is_an_error_not_a_panic() {
        let Err(e) = RedisBackend::new("cache", "redis://127.0.0.1:6379") else { panic!("needs a runtime") };
        assert!(e.to_string().contains("tokio runtime"), "{e}");
    }

    #[tokio::test]
    async fn an_unreachable_server_is_unavailable_at_once_and_never_shows_the_password() {
        let port = closed_port();
        let backend = RedisBackend::new("cache", &format!("redis://user:s3cret@127.0.0.1:{port}/0")).expect("new");
        let started = Instant::now();
        for _ in 0..3 {
            let e = backend.get("k").await.expect_err("nothing listens");
            let KvError::Unavailable(message) = &e else { panic!("{e:?}") };
            assert!(
                message.starts_with(&format!("redis store `cache` at 127.0.0.1:{port} is not reachable: ")),
                "{message}"
            );
            assert!(!message.contains("s3cret"), "{message}");
            let e = backend.set("k".into(), b"v".to_vec()).await.expect_err("nothing listens");
            assert!(matches!(e, KvError::Unavailable(_)), "{e:?}");
            assert!(matches!(backend.ping().await, Err(KvError::Unavailable(_))));
        }
        assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
    }

    #[tokio::test]
    async fn cursors_are_decimal_scan_cursors() {
        let backend = RedisBackend::new("cache", &format!("redis://127.0.0.1:{}", closed_port())).expect("new");
        for cursor in ["", "abc", "-1", "+1", "1 ", "0x10", "18446744073709551616"] {
            let e = backend.list_keys(None, Some(cursor), 10).await.expect_err(cursor);
            assert!(matches!(e, KvError::Invalid(_)), "{cursor:?}: {e:?}");
        }
        assert_eq!(parse_cursor("0"), Ok(0));
        assert_eq!(parse_cursor("18446744073709551615"), Ok(u64::MAX));
        // A valid cursor goes to the server, which is not there.
        let e = backend.list_keys(None, Some("42"), 10).await.expect_err("no server");
        assert!(matches!(e, KvError::Unavailable(_)), "{e:?}");
    }

    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(glob_escape("plain-key_1:x"), "plain-key_1:x");
        assert_eq!(glob_escape("a*b?c[d]e\\f"), "a\\*b\\?c\\[d\\]e\\\\f");
        assert_eq!(glob_escape("ü^-!"), "ü^-!");
        assert_eq!(glob_escape(""), "");
    }

    #[tokio::test]
    async fn keys_live_under_the_store_namespace() {
        let backend = RedisBackend::new("my-store_1", "redis://127.0.0.1:6379").expect("new");
        assert_eq!(backend.key("user:42"), "wasmroutes:my-store_1:user:42");
        assert_eq!(backend.key("*"), "wasmroutes:my-store_1:*");
        assert_eq!(namespace("a"), "wasmroutes:a:");
        // Neither store's namespace is a prefix of the other's.
        assert!(!namespace("ab").starts_with(&namespace("a")));
    }

    #[test]
    fn incrby_refusals_are_recognised() {
        let not_integer =
            redis::make_extension_error("ERR".into(), Some("value is not an integer or out of range".into()));
        // make_extension_error with a known code still carries code and detail.
        assert_eq!(not_integer.code(), Some("ERR"));
        assert!(is_not_integer(&not_integer));
        let overflow = redis::make_extension_error("ERR".into(), Some("increment or decrement would overflow".into()));
        assert!(is_not_integer(&overflow));
        let wrong_type = redis::make_extension_error(
            "WRONGTYPE".into(),
            Some("Operation against a key holding the wrong kind of value".into()),
        );
        assert!(is_not_integer(&wrong_type));
        let other = redis::make_extension_error("ERR".into(), Some("something else".into()));
        assert!(!is_not_integer(&other));
    }
}
