//! Many hosts behind a load balancer, sharing Redis and PostgreSQL:
//! `deploy/local/cluster.sh` (Redis with `appendfsync always`, PostgreSQL,
//! three `wasmroutes serve`, nginx), under load, while hosts crash, restart
//! one by one, and Redis or PostgreSQL crashes.
//!
//! The load writes and reads tasks (the key-value store, in Redis) and notes
//! (the SQL database, in PostgreSQL). It opens a new connection per request,
//! so a keep-alive connection nginx closes during a reload is never counted
//! as a failure; what is counted is what the hosts and nginx answered. Every
//! acknowledged write (a `201` with an id) is read back afterwards. A
//! streamed answer (the clock's server-sent events) passes through nginx as
//! it is written.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use e2e_support::cluster::Cluster;
use e2e_support::keep_alive::Connection;
use e2e_support::streamed::{Arrived, stream_get};
use e2e_support::{TestResponse, try_send};

/// What a route answers when its store or database is down.
const UNAVAILABLE: &str = "Storage is temporarily unavailable; try again shortly";

/// The routes a write goes to, and where it is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Api {
    /// `/api/tasks`: the key-value store `default`, in Redis.
    Tasks,
    /// `/api/notes`: the SQL database `default`, in PostgreSQL.
    Notes,
}

impl Api {
    fn path(self) -> &'static str {
        match self {
            Api::Tasks => "/api/tasks",
            Api::Notes => "/api/notes",
        }
    }
}

/// What a request of the load was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `POST /api/tasks` or `/api/notes`: a write, not idempotent.
    Write(Api),
    /// `GET /api/tasks/{id}` or `/api/notes/{id}` of an acknowledged write.
    StoreRead(Api),
    /// `GET /api/hello`: a route without a store or database.
    PlainRead,
}

impl Kind {
    fn api(self) -> Option<Api> {
        match self {
            Kind::Write(api) | Kind::StoreRead(api) => Some(api),
            Kind::PlainRead => None,
        }
    }
}

/// What one request of the load got.
#[derive(Debug)]
struct Outcome {
    kind: Kind,
    /// The status, or why there was none (refused, reset, cut short).
    status: Result<u16, String>,
    /// Which host nginx says answered (`X-Upstream`), if any.
    upstream: Option<String>,
    /// Whether the body was the one expected: the written item for a `201`
    /// or `200`, the unavailable error for a `503`.
    body_ok: bool,
    retry_after: Option<String>,
    at: Instant,
}

impl Outcome {
    fn succeeded(&self) -> bool {
        matches!(self.status, Ok(200 | 201)) && self.body_ok
    }

    /// The answer of a route whose store or database is down: `503`,
    /// `Retry-After: 1`, the SDK's error.
    fn unavailable(&self) -> bool {
        self.status == Ok(503) && self.retry_after.as_deref() == Some("1") && self.body_ok
    }
}

/// A write the cluster acknowledged.
#[derive(Clone, Debug)]
struct Ack {
    api: Api,
    id: u64,
    title: String,
}

type Acked = Arc<Mutex<Vec<Ack>>>;

/// Writers and readers hammering one address until [`Load::finish`].
struct Load {
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<Vec<Outcome>>>,
    acked: Acked,
}

impl Load {
    /// One writer thread per entry of `writers`, and `readers` readers of
    /// whatever was acknowledged (and of `/api/hello`).
    fn start(addr: SocketAddr, writers: &[Api], readers: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let acked: Acked = Arc::default();
        let mut workers = Vec::new();
        for (w, api) in writers.iter().copied().enumerate() {
            let (stop, acked) = (Arc::clone(&stop), Arc::clone(&acked));
            workers.push(std::thread::spawn(move || write_loop(addr, api, w, &stop, &acked)));
        }
        for r in 0..readers {
            let (stop, acked) = (Arc::clone(&stop), Arc::clone(&acked));
            workers.push(std::thread::spawn(move || read_loop(addr, r, &stop, &acked)));
        }
        Load { stop, workers, acked }
    }

    fn acked_count(&self, api: Api) -> usize {
        self.acked.lock().expect("acked").iter().filter(|a| a.api == api).count()
    }

    /// Waits until `more` writes to each of `apis` were acknowledged from now.
    fn wait_for_acks(&self, apis: &[Api], more: usize, cluster: &Cluster) {
        let targets: Vec<(Api, usize)> = apis.iter().map(|api| (*api, self.acked_count(*api) + more)).collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        while targets.iter().any(|(api, target)| self.acked_count(*api) < *target) {
            assert!(Instant::now() < deadline, "the load got no {more} writes acknowledged\n{}", cluster.logs());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn finish(self) -> (Vec<Outcome>, Vec<Ack>) {
        self.stop.store(true, Ordering::Relaxed);
        let mut outcomes: Vec<Outcome> =
            self.workers.into_iter().flat_map(|w| w.join().expect("a load thread panicked")).collect();
        outcomes.sort_by_key(|o| o.at);
        let acked = std::mem::take(&mut *self.acked.lock().expect("acked"));
        (outcomes, acked)
    }
}

fn outcome(kind: Kind, response: &std::io::Result<TestResponse>, body_ok: bool) -> Outcome {
    Outcome {
        kind,
        status: response.as_ref().map(|r| r.status).map_err(|e| e.to_string()),
        upstream: response.as_ref().ok().and_then(|r| r.header("x-upstream")).map(str::to_owned),
        body_ok,
        retry_after: response.as_ref().ok().and_then(|r| r.header("retry-after")).map(str::to_owned),
        at: Instant::now(),
    }
}

/// Whether a response that is not a success says what it should: a `503`
/// is the SDK's unavailable error; other failures are judged by the tests.
fn failure_body_ok(response: &TestResponse) -> bool {
    response.status != 503
        || serde_json::from_slice::<serde_json::Value>(&response.body).is_ok_and(|body| body["error"] == UNAVAILABLE)
}

fn write_loop(addr: SocketAddr, api: Api, writer: usize, stop: &AtomicBool, acked: &Mutex<Vec<Ack>>) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        // Unique per write: note titles are unique (ignoring case).
        let title = format!("w{writer}-{n}");
        let body = serde_json::json!({ "title": title }).to_string();
        let response = try_send(addr, "POST", api.path(), &[("content-type", "application/json")], body.as_bytes());
        let id = match &response {
            Ok(r) if r.status == 201 => r.json()["id"].as_u64(),
            _ => None,
        };
        let body_ok = match &response {
            Ok(r) if r.status == 201 => id.is_some() && r.json()["title"] == title.as_str(),
            Ok(r) => failure_body_ok(r),
            Err(_) => true,
        };
        if let Some(id) = id {
            acked.lock().expect("acked").push(Ack { api, id, title });
        }
        outcomes.push(outcome(Kind::Write(api), &response, body_ok));
    }
    outcomes
}

fn read_loop(addr: SocketAddr, reader: usize, stop: &AtomicBool, acked: &Mutex<Vec<Ack>>) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    let mut n: usize = reader;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let pick = {
            let acked = acked.lock().expect("acked");
            (!acked.is_empty()).then(|| acked[n.wrapping_mul(7919) % acked.len()].clone())
        };
        match pick {
            Some(ack) if n.is_multiple_of(2) => {
                let response = try_send(addr, "GET", &format!("{}/{}", ack.api.path(), ack.id), &[], b"");
                let body_ok = match &response {
                    Ok(r) if r.status == 200 => r.json()["title"] == ack.title.as_str(),
                    Ok(r) => failure_body_ok(r),
                    Err(_) => true,
                };
                outcomes.push(outcome(Kind::StoreRead(ack.api), &response, body_ok));
            }
            _ => {
                let response = try_send(addr, "GET", "/api/hello", &[], b"");
                let body_ok = response.as_ref().is_ok_and(|r| r.status != 200 || r.text().contains("Hello"));
                outcomes.push(outcome(Kind::PlainRead, &response, body_ok));
            }
        }
    }
    outcomes
}

/// Reads every acknowledged write back through `addr`.
fn assert_all_readable(addr: SocketAddr, acked: &[Ack], through: &str) {
    let mut connection = Connection::open(addr);
    for Ack { api, id, title } in acked {
        let response = connection.request("GET", &format!("{}/{id}", api.path()), b"");
        assert_eq!(response.status, 200, "acknowledged {api:?} {id} is gone through {through}: {}", response.text());
        assert_eq!(response.json()["title"], title.as_str(), "{api:?} {id} through {through}");
    }
}

fn summary(outcomes: &[Outcome]) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for o in outcomes {
        let status = match &o.status {
            Ok(s) if !o.body_ok => format!("{s} (wrong body)"),
            Ok(s) => s.to_string(),
            Err(_) => "no response".to_owned(),
        };
        *counts.entry(format!("{:?} {status}", o.kind)).or_default() += 1;
    }
    counts.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", ")
}

fn failures(outcomes: &[Outcome], kind: Kind) -> Vec<&Outcome> {
    outcomes.iter().filter(|o| o.kind == kind && !o.succeeded()).collect()
}

/// Every title `api` lists, through `addr` (all pages).
fn stored_titles(addr: SocketAddr, api: Api) -> BTreeSet<String> {
    let (items, next) = match api {
        Api::Tasks => ("tasks", "next_cursor"),
        Api::Notes => ("notes", "nextCursor"),
    };
    let first = match api {
        Api::Tasks => "/api/tasks".to_owned(),
        Api::Notes => "/api/notes?sort=oldest&limit=100".to_owned(),
    };
    let mut connection = Connection::open(addr);
    let mut titles = BTreeSet::new();
    let mut target = first.clone();
    loop {
        let page = connection.request("GET", &target, b"");
        assert_eq!(page.status, 200, "{}", page.text());
        let page = page.json();
        for item in page[items].as_array().expect("a page") {
            titles.insert(item["title"].as_str().expect("title").to_owned());
        }
        match page[next].as_str() {
            Some(cursor) => target = format!("{first}{}cursor={cursor}", if first.contains('?') { '&' } else { '?' }),
            None => return titles,
        }
    }
}

/// Every acknowledged write of `api` is in its listing; returns how many
/// listed writes were never acknowledged.
fn assert_all_listed(addr: SocketAddr, api: Api, acked: &[Ack]) -> usize {
    let stored = stored_titles(addr, api);
    let acked: BTreeSet<&str> = acked.iter().filter(|a| a.api == api).map(|a| a.title.as_str()).collect();
    let missing: Vec<&&str> = acked.iter().filter(|t| !stored.contains(**t)).collect();
    assert!(missing.is_empty(), "acknowledged {api:?} missing from the listing: {missing:?}");
    stored.len() - acked.len()
}

/// Posts to `api` on `host` until it answers 201, for up to 20 s; every
/// answer before must be the unavailable 503.
fn wait_until_writable(cluster: &Cluster, host: SocketAddr, api: Api, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    for attempt in 0.. {
        let body = serde_json::json!({ "title": format!("{what}-{host}-{attempt}") }).to_string();
        let write = try_send(host, "POST", api.path(), &[], body.as_bytes()).expect("an answer");
        if write.status == 201 {
            return;
        }
        assert_eq!(write.status, 503, "{host} {api:?}: {}", write.text());
        assert!(Instant::now() < deadline, "{host} did not recover: {api:?} still 503\n{}", cluster.logs());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// While `down` is down: its routes answer the unavailable 503 with
/// `Retry-After: 1` on a write, a read and a listing, through nginx and on
/// every host, and the other API and `/api/hello` answer as always.
fn assert_only_unavailable(cluster: &Cluster, down: Api, up: Api) {
    for (n, addr) in std::iter::once(cluster.nginx).chain(cluster.hosts.iter().copied()).enumerate() {
        let title = format!(r#"{{"title":"gap-{n}"}}"#);
        let write = try_send(addr, "POST", down.path(), &[], title.as_bytes()).expect("an answer");
        assert_eq!(write.status, 503, "{addr} {down:?}: {}", write.text());
        assert_eq!(write.header("retry-after"), Some("1"), "{addr}: a 503 says when to retry");
        assert_eq!(write.json()["error"], UNAVAILABLE);
        for target in [format!("{}/1", down.path()), down.path().to_owned()] {
            let read = try_send(addr, "GET", &target, &[], b"").expect("an answer");
            assert_eq!((read.status, read.header("retry-after")), (503, Some("1")), "{addr} {target}: {}", read.text());
        }
        let other = try_send(addr, "POST", up.path(), &[], title.as_bytes()).expect("an answer");
        assert_eq!(other.status, 201, "{addr} {up:?} while {down:?} is down: {}", other.text());
        assert_eq!(try_send(addr, "GET", "/api/hello", &[], b"").expect("an answer").status, 200, "{addr}");
    }
}

#[test]
fn writes_through_nginx_land_on_every_host_and_each_host_reads_them_all() {
    let cluster = Cluster::up();
    let mut upstreams = BTreeMap::new();
    let mut acked = Vec::new();
    for n in 0..30 {
        for api in [Api::Tasks, Api::Notes] {
            let title = format!("spread-{n}");
            let body = serde_json::json!({ "title": title }).to_string();
            let response =
                try_send(cluster.nginx, "POST", api.path(), &[], body.as_bytes()).expect("POST through nginx");
            assert_eq!(response.status, 201, "{}", response.text());
            let upstream = response.header("x-upstream").expect("nginx names the host").to_owned();
            *upstreams.entry((api, upstream)).or_insert(0) += 1;
            acked.push(Ack { api, id: response.json()["id"].as_u64().expect("id"), title });
        }
    }
    let hosts: BTreeSet<String> = cluster.hosts.iter().map(SocketAddr::to_string).collect();
    for api in [Api::Tasks, Api::Notes] {
        let served: BTreeSet<String> = upstreams.keys().filter(|(a, _)| *a == api).map(|(_, h)| h.clone()).collect();
        assert_eq!(served, hosts, "{api:?}: round robin over all three: {upstreams:?}");
    }
    for host in &cluster.hosts {
        assert_all_readable(*host, &acked, &format!("host {host}"));
    }
    assert_all_readable(cluster.nginx, &acked, "nginx");
}

#[test]
fn every_host_reads_a_write_another_host_just_acknowledged() {
    let cluster = Cluster::up();
    let mut hosts: Vec<Connection> = cluster.hosts.iter().map(|h| Connection::open(*h)).collect();
    for n in 0..30 {
        let (writer, patcher) = (n % 3, (n + 1) % 3);
        for (api, patch, changed) in [
            (Api::Tasks, r#"{"done":true}"#, ("done", serde_json::json!(true))),
            (Api::Notes, r#"{"body":"patched"}"#, ("body", serde_json::json!("patched"))),
        ] {
            let created = hosts[writer].request("POST", api.path(), format!(r#"{{"title":"ryw-{n}"}}"#).as_bytes());
            assert_eq!(created.status, 201, "{}", created.text());
            let item = format!("{}/{}", api.path(), created.json()["id"].as_u64().expect("id"));
            for (reader, host) in hosts.iter_mut().enumerate() {
                let read = host.request("GET", &item, b"");
                assert_eq!(
                    (read.status, read.json()),
                    (200, created.json()),
                    "host {reader} after host {writer}'s write"
                );
            }
            let patched = hosts[patcher].request("PATCH", &item, patch.as_bytes());
            assert_eq!(patched.status, 200, "{}", patched.text());
            for (reader, host) in hosts.iter_mut().enumerate() {
                let read = host.request("GET", &item, b"");
                assert_eq!(read.json()[changed.0], changed.1, "host {reader} after host {patcher}'s PATCH of {item}");
            }
        }
    }
}

#[test]
fn a_host_killed_under_load_loses_no_acknowledged_write_and_fails_no_read() {
    let cluster = Cluster::up();
    let apis = [Api::Tasks, Api::Notes];
    let load = Load::start(cluster.nginx, &[Api::Tasks, Api::Tasks, Api::Notes, Api::Notes], 2);
    load.wait_for_acks(&apis, 75, &cluster);
    let killed_at = Instant::now();
    cluster.script(&["host-kill", "2"]);
    load.wait_for_acks(&apis, 150, &cluster);
    let (outcomes, acked) = load.finish();

    let victim = cluster.hosts[1].to_string();
    assert!(
        outcomes.iter().any(|o| o.at < killed_at && o.upstream.as_deref() == Some(victim.as_str())),
        "host 2 served the load before it was killed"
    );
    for kind in [Kind::StoreRead(Api::Tasks), Kind::StoreRead(Api::Notes), Kind::PlainRead] {
        let failed = failures(&outcomes, kind);
        assert!(
            failed.is_empty(),
            "{kind:?}: nginx retries reads on another host, yet {failed:#?}\n{}",
            summary(&outcomes)
        );
    }
    // Writes: nginx does not resend a POST that reached the killed host
    // (it may have run), so those fail; none of them was acknowledged.
    let failed_writes: Vec<&Outcome> =
        outcomes.iter().filter(|o| matches!(o.kind, Kind::Write(_)) && !o.succeeded()).collect();
    for failure in &failed_writes {
        assert!(matches!(failure.status, Ok(502) | Err(_)), "a write failed unexpectedly: {failure:?}");
    }
    let unacknowledged: Vec<usize> = apis.iter().map(|api| assert_all_listed(cluster.nginx, *api, &acked)).collect();
    eprintln!(
        "failover: {} requests ({}); {} of {} writes failed without acknowledgement; stored but never acknowledged: \
         {} tasks, {} notes",
        outcomes.len(),
        summary(&outcomes),
        failed_writes.len(),
        outcomes.iter().filter(|o| matches!(o.kind, Kind::Write(_))).count(),
        unacknowledged[0],
        unacknowledged[1],
    );
    assert_all_readable(cluster.nginx, &acked, "nginx");
    for survivor in [cluster.hosts[0], cluster.hosts[2]] {
        assert_all_readable(survivor, &acked, &format!("host {survivor}"));
    }
}

#[test]
fn a_rolling_restart_under_load_fails_no_request() {
    let cluster = Cluster::up();
    let apis = [Api::Tasks, Api::Notes];
    let load = Load::start(cluster.nginx, &[Api::Tasks, Api::Tasks, Api::Notes], 2);
    load.wait_for_acks(&apis, 50, &cluster);
    let before = apis.map(|api| load.acked_count(api));
    let printed = cluster.script(&["rolling-restart"]);
    load.wait_for_acks(&apis, 50, &cluster);
    let after = apis.map(|api| load.acked_count(api));
    let (outcomes, acked) = load.finish();

    for i in 1..=3 {
        assert!(printed.contains(&format!("host {i} stopped")), "host {i} was restarted:\n{printed}");
    }
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.succeeded()).collect();
    assert!(failed.is_empty(), "failed during the rolling restart: {failed:#?}\n{}", summary(&outcomes));
    assert!(before.iter().zip(&after).all(|(b, a)| a > b), "writes went on during the restart");
    eprintln!("rolling restart: {} requests, none failed ({})", outcomes.len(), summary(&outcomes));
    assert_all_readable(cluster.nginx, &acked, "nginx");
}

/// What a crash of the server behind `down` did to the load: only `down`'s
/// routes failed, each with the unavailable 503 and only after the crash,
/// and some did. Returns the first and last 503.
fn assert_only_down_failed(outcomes: &[Outcome], down: Api, crashed_at: Instant) -> (Instant, Instant) {
    for o in outcomes.iter().filter(|o| !o.succeeded()) {
        assert_eq!(o.kind.api(), Some(down), "only {down:?} may fail: {o:?}\n{}", summary(outcomes));
        assert!(o.unavailable(), "a {down:?} request failed other than with 503 + Retry-After: 1: {o:?}");
        assert!(o.at >= crashed_at, "a {down:?} request failed before the crash: {o:?}");
    }
    let unavailable: Vec<Instant> = outcomes.iter().filter(|o| o.status == Ok(503)).map(|o| o.at).collect();
    assert!(!unavailable.is_empty(), "the load met the gap: {}", summary(outcomes));
    (unavailable[0], unavailable[unavailable.len() - 1])
}

#[test]
fn a_redis_crash_gives_503_on_store_routes_only_and_they_recover_without_losing_writes() {
    let cluster = Cluster::up();
    let load = Load::start(cluster.nginx, &[Api::Tasks, Api::Tasks, Api::Notes], 2);
    load.wait_for_acks(&[Api::Tasks], 100, &cluster);
    let acked_before_crash = load.acked_count(Api::Tasks);
    let crashed_at = Instant::now();
    cluster.script(&["redis-kill"]);

    // While Redis is down: store routes say 503 with Retry-After, through
    // nginx and on every host; the routes on PostgreSQL and those without
    // storage answer as always.
    assert_only_unavailable(&cluster, Api::Tasks, Api::Notes);
    std::thread::sleep(Duration::from_millis(500));
    cluster.script(&["redis-start"]);
    let restarted_at = Instant::now();

    // Every host reconnects by itself.
    for host in &cluster.hosts {
        wait_until_writable(&cluster, *host, Api::Tasks, "after");
    }
    load.wait_for_acks(&[Api::Tasks, Api::Notes], 100, &cluster);
    let (outcomes, acked) = load.finish();

    let (first, last) = assert_only_down_failed(&outcomes, Api::Tasks, crashed_at);
    eprintln!(
        "redis crash: {} requests ({}); Redis down for {} ms; 503s for {} ms, the last {} ms after redis-start returned",
        outcomes.len(),
        summary(&outcomes),
        restarted_at.duration_since(crashed_at).as_millis(),
        last.duration_since(first).as_millis(),
        last.saturating_duration_since(restarted_at).as_millis(),
    );
    // `appendfsync always`: what Redis acknowledged before it was killed is
    // still there, and so is everything after.
    assert!(acked_before_crash <= acked.iter().filter(|a| a.api == Api::Tasks).count());
    assert_all_readable(cluster.nginx, &acked, "nginx");
}

#[test]
fn a_postgres_crash_gives_503_on_database_routes_only_and_they_recover_without_losing_a_note() {
    let cluster = Cluster::up();
    let load = Load::start(cluster.nginx, &[Api::Notes, Api::Notes, Api::Tasks], 2);
    load.wait_for_acks(&[Api::Notes], 100, &cluster);
    let crashed_at = Instant::now();
    cluster.script(&["postgres-kill"]);

    assert_only_unavailable(&cluster, Api::Notes, Api::Tasks);
    std::thread::sleep(Duration::from_millis(500));
    cluster.script(&["postgres-start"]);
    let restarted_at = Instant::now();

    // Every host's pool reconnects by itself.
    for host in &cluster.hosts {
        wait_until_writable(&cluster, *host, Api::Notes, "after");
    }
    load.wait_for_acks(&[Api::Notes, Api::Tasks], 100, &cluster);
    let (outcomes, acked) = load.finish();

    let (first, last) = assert_only_down_failed(&outcomes, Api::Notes, crashed_at);
    eprintln!(
        "postgres crash: {} requests ({}); PostgreSQL down for {} ms; 503s for {} ms, the last {} ms after \
         postgres-start returned",
        outcomes.len(),
        summary(&outcomes),
        restarted_at.duration_since(crashed_at).as_millis(),
        last.duration_since(first).as_millis(),
        last.saturating_duration_since(restarted_at).as_millis(),
    );
    // A commit PostgreSQL acknowledged is in its WAL, fsynced: every note
    // answered with a 201, before the crash or after, is still there.
    assert_all_listed(cluster.nginx, Api::Notes, &acked);
    assert_all_readable(cluster.nginx, &acked, "nginx");
}

/// Each server-sent event of a streamed answer (its lines, without the
/// blank line that ends it), with when the chunk that completed it arrived:
/// nginx may cut the body into chunks of its own.
fn sse_events(arrived: &Arrived) -> Vec<(Instant, String)> {
    let mut events = Vec::new();
    let mut pending = String::new();
    for (at, chunk) in &arrived.chunks {
        pending.push_str(std::str::from_utf8(chunk).expect("an event stream is UTF-8"));
        while let Some(end) = pending.find("\n\n") {
            events.push((*at, pending[..end].to_owned()));
            pending.drain(..end + 2);
        }
    }
    assert!(pending.is_empty(), "a partial event at the end: {pending:?}");
    events
}

/// nginx passes a stream on as the host writes it (deploy/local/nginx.conf):
/// the clock's first event reaches the client long before the last one is
/// sent, not all of them at the end, and the answer ends complete.
#[test]
fn a_stream_through_nginx_arrives_as_it_is_written() {
    let cluster = Cluster::up();
    let requested = Instant::now();
    // Five ticks 300 ms apart: the clock sends the last one 1.2 s after the first.
    let arrived = stream_get(cluster.nginx, "GET", "/api/clock?count=5&interval_ms=300", usize::MAX);
    assert_eq!(arrived.status, 200, "{}", arrived.head);
    let header = |name: &str| {
        arrived.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    };
    assert_eq!(header("content-type").as_deref(), Some("text/event-stream"), "{}", arrived.head);
    let upstream = header("x-upstream").unwrap_or_else(|| panic!("nginx names the host:\n{}", arrived.head));
    assert!(cluster.hosts.iter().any(|h| h.to_string() == upstream), "{upstream} is one of the hosts");
    assert!(arrived.complete, "the stream ends with its last chunk");

    let events = sse_events(&arrived);
    let expected: Vec<String> =
        (1..=5).map(|i| format!("event: tick\nid: {i}\ndata: {{\"tick\":{i},\"of\":5}}")).collect();
    assert_eq!(events.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>(), expected);
    let first = events[0].0.duration_since(requested);
    let last = events[4].0.duration_since(requested);
    eprintln!("through nginx ({upstream}): first event after {first:?}, last after {last:?}");
    // Held anywhere on the way (say, buffered to be compressed), the events
    // would arrive together at the end.
    assert!(first < Duration::from_secs(1), "the first event came at once, not with the rest: {first:?}");
    assert!(
        last - first >= Duration::from_millis(900),
        "the events came spread out as sent (1.2 s from the first to the last): first {first:?}, last {last:?}"
    );
}
