//! Many hosts behind a load balancer, sharing Redis: `deploy/local/cluster.sh`
//! (Redis with `appendfsync always`, three `wasmroutes serve`, nginx), under
//! load, while hosts crash, restart one by one, and Redis crashes.
//!
//! The load opens a new connection per request, so a keep-alive connection
//! nginx closes during a reload is never counted as a failure; what is
//! counted is what the hosts and nginx answered. Every acknowledged write
//! (a `201` with an id) is read back afterwards.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use e2e_support::cluster::Cluster;
use e2e_support::keep_alive::Connection;
use e2e_support::{TestResponse, try_send};

/// What a request of the load was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `POST /api/tasks`: a store write, not idempotent.
    Write,
    /// `GET /api/tasks/{id}` of an acknowledged write.
    StoreRead,
    /// `GET /api/hello`: a route without a store.
    PlainRead,
}

/// What one request of the load got.
#[derive(Debug)]
struct Outcome {
    kind: Kind,
    /// The status, or why there was none (refused, reset, cut short).
    status: Result<u16, String>,
    /// Which host nginx says answered (`X-Upstream`), if any.
    upstream: Option<String>,
    /// For a read: whether the body was the one expected.
    body_ok: bool,
    retry_after: bool,
    at: Instant,
}

impl Outcome {
    fn succeeded(&self) -> bool {
        matches!(self.status, Ok(200 | 201)) && self.body_ok
    }
}

/// A write the cluster acknowledged: `(id, title)`.
type Acked = Arc<Mutex<Vec<(u64, String)>>>;

/// Writers and readers hammering one address until [`Load::finish`].
struct Load {
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<Vec<Outcome>>>,
    acked: Acked,
}

impl Load {
    fn start(addr: SocketAddr, writers: usize, readers: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let acked: Acked = Arc::default();
        let mut workers = Vec::new();
        for w in 0..writers {
            let (stop, acked) = (Arc::clone(&stop), Arc::clone(&acked));
            workers.push(std::thread::spawn(move || write_loop(addr, w, &stop, &acked)));
        }
        for r in 0..readers {
            let (stop, acked) = (Arc::clone(&stop), Arc::clone(&acked));
            workers.push(std::thread::spawn(move || read_loop(addr, r, &stop, &acked)));
        }
        Load { stop, workers, acked }
    }

    fn acked_count(&self) -> usize {
        self.acked.lock().expect("acked").len()
    }

    /// Waits until `more` writes beyond `than` were acknowledged.
    fn wait_for_acks(&self, than: usize, more: usize, cluster: &Cluster) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.acked_count() < than + more {
            assert!(Instant::now() < deadline, "the load got no {more} writes acknowledged\n{}", cluster.logs());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn finish(self) -> (Vec<Outcome>, Vec<(u64, String)>) {
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
        retry_after: response.as_ref().is_ok_and(|r| r.header("retry-after").is_some()),
        at: Instant::now(),
    }
}

fn write_loop(addr: SocketAddr, writer: usize, stop: &AtomicBool, acked: &Mutex<Vec<(u64, String)>>) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let title = format!("w{writer}-{n}");
        let body = serde_json::json!({ "title": title }).to_string();
        let response = try_send(addr, "POST", "/api/tasks", &[("content-type", "application/json")], body.as_bytes());
        let id = match &response {
            Ok(r) if r.status == 201 => r.json()["id"].as_u64(),
            _ => None,
        };
        let body_ok = match &response {
            Ok(r) if r.status == 201 => id.is_some() && r.json()["title"] == title.as_str(),
            _ => true,
        };
        if let Some(id) = id {
            acked.lock().expect("acked").push((id, title));
        }
        outcomes.push(outcome(Kind::Write, &response, body_ok));
    }
    outcomes
}

fn read_loop(addr: SocketAddr, reader: usize, stop: &AtomicBool, acked: &Mutex<Vec<(u64, String)>>) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    let mut n: usize = reader;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let pick = {
            let acked = acked.lock().expect("acked");
            (!acked.is_empty()).then(|| acked[n.wrapping_mul(7919) % acked.len()].clone())
        };
        match pick {
            Some((id, title)) if n.is_multiple_of(2) => {
                let response = try_send(addr, "GET", &format!("/api/tasks/{id}"), &[], b"");
                let body_ok = match &response {
                    Ok(r) if r.status == 200 => r.json()["title"] == title.as_str(),
                    _ => true,
                };
                outcomes.push(outcome(Kind::StoreRead, &response, body_ok));
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
fn assert_all_readable(addr: SocketAddr, acked: &[(u64, String)], through: &str) {
    let mut connection = Connection::open(addr);
    for (id, title) in acked {
        let response = connection.request("GET", &format!("/api/tasks/{id}"), b"");
        assert_eq!(response.status, 200, "acknowledged task {id} is gone through {through}: {}", response.text());
        assert_eq!(response.json()["title"], title.as_str(), "task {id} through {through}");
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

/// Every task title in the store, through `addr` (all pages).
fn stored_titles(addr: SocketAddr) -> BTreeSet<String> {
    let mut connection = Connection::open(addr);
    let mut titles = BTreeSet::new();
    let mut target = "/api/tasks".to_owned();
    loop {
        let page = connection.request("GET", &target, b"");
        assert_eq!(page.status, 200, "{}", page.text());
        let page = page.json();
        for task in page["tasks"].as_array().expect("tasks") {
            titles.insert(task["title"].as_str().expect("title").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => target = format!("/api/tasks?cursor={cursor}"),
            None => return titles,
        }
    }
}

#[test]
fn writes_through_nginx_land_on_every_host_and_each_host_reads_them_all() {
    let cluster = Cluster::up();
    let mut upstreams = BTreeMap::new();
    let mut acked = Vec::new();
    for n in 0..30 {
        let title = format!("spread-{n}");
        let body = serde_json::json!({ "title": title }).to_string();
        let response = try_send(cluster.nginx, "POST", "/api/tasks", &[], body.as_bytes()).expect("POST through nginx");
        assert_eq!(response.status, 201, "{}", response.text());
        let upstream = response.header("x-upstream").expect("nginx names the host").to_owned();
        *upstreams.entry(upstream).or_insert(0) += 1;
        acked.push((response.json()["id"].as_u64().expect("id"), title));
    }
    let hosts: BTreeSet<String> = cluster.hosts.iter().map(SocketAddr::to_string).collect();
    assert_eq!(upstreams.keys().cloned().collect::<BTreeSet<_>>(), hosts, "round robin over all three: {upstreams:?}");
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
        let created = hosts[writer].request("POST", "/api/tasks", format!(r#"{{"title":"ryw-{n}"}}"#).as_bytes());
        assert_eq!(created.status, 201, "{}", created.text());
        let id = created.json()["id"].as_u64().expect("id");
        for (reader, host) in hosts.iter_mut().enumerate() {
            let read = host.request("GET", &format!("/api/tasks/{id}"), b"");
            assert_eq!((read.status, read.json()), (200, created.json()), "host {reader} after host {writer}'s write");
        }
        let patched = hosts[patcher].request("PATCH", &format!("/api/tasks/{id}"), br#"{"done":true}"#);
        assert_eq!(patched.status, 200, "{}", patched.text());
        for (reader, host) in hosts.iter_mut().enumerate() {
            let read = host.request("GET", &format!("/api/tasks/{id}"), b"");
            assert_eq!(read.json()["done"], true, "host {reader} after host {patcher}'s PATCH");
        }
    }
}

#[test]
fn a_host_killed_under_load_loses_no_acknowledged_write_and_fails_no_read() {
    let cluster = Cluster::up();
    let load = Load::start(cluster.nginx, 2, 2);
    load.wait_for_acks(0, 150, &cluster);
    let killed_at = Instant::now();
    cluster.script(&["host-kill", "2"]);
    load.wait_for_acks(load.acked_count(), 300, &cluster);
    let (outcomes, acked) = load.finish();

    let victim = cluster.hosts[1].to_string();
    assert!(
        outcomes.iter().any(|o| o.at < killed_at && o.upstream.as_deref() == Some(victim.as_str())),
        "host 2 served the load before it was killed"
    );
    for kind in [Kind::StoreRead, Kind::PlainRead] {
        let failed = failures(&outcomes, kind);
        assert!(
            failed.is_empty(),
            "{kind:?}: nginx retries reads on another host, yet {failed:#?}\n{}",
            summary(&outcomes)
        );
    }
    // Writes: nginx does not resend a POST that reached the killed host
    // (it may have run), so those fail; none of them was acknowledged.
    let failed_writes = failures(&outcomes, Kind::Write);
    for failure in &failed_writes {
        assert!(matches!(failure.status, Ok(502) | Err(_)), "a write failed unexpectedly: {failure:?}");
    }
    let stored = stored_titles(cluster.nginx);
    let acked_titles: BTreeSet<&str> = acked.iter().map(|(_, t)| t.as_str()).collect();
    assert!(acked_titles.iter().all(|t| stored.contains(*t)), "an acknowledged write is missing from the listing");
    eprintln!(
        "failover: {} requests ({}); {} of {} writes failed without acknowledgement, {} stored writes were never acknowledged",
        outcomes.len(),
        summary(&outcomes),
        failed_writes.len(),
        outcomes.iter().filter(|o| o.kind == Kind::Write).count(),
        stored.len() - acked_titles.len(),
    );
    assert_all_readable(cluster.nginx, &acked, "nginx");
    for survivor in [cluster.hosts[0], cluster.hosts[2]] {
        assert_all_readable(survivor, &acked, &format!("host {survivor}"));
    }
}

#[test]
fn a_rolling_restart_under_load_fails_no_request() {
    let cluster = Cluster::up();
    let load = Load::start(cluster.nginx, 2, 2);
    load.wait_for_acks(0, 100, &cluster);
    let before = load.acked_count();
    let printed = cluster.script(&["rolling-restart"]);
    load.wait_for_acks(load.acked_count(), 100, &cluster);
    let (outcomes, acked) = load.finish();

    for i in 1..=3 {
        assert!(printed.contains(&format!("host {i} stopped")), "host {i} was restarted:\n{printed}");
    }
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.succeeded()).collect();
    assert!(failed.is_empty(), "failed during the rolling restart: {failed:#?}\n{}", summary(&outcomes));
    assert!(acked.len() > before, "writes went on during the restart");
    eprintln!("rolling restart: {} requests, none failed ({})", outcomes.len(), summary(&outcomes));
    assert_all_readable(cluster.nginx, &acked, "nginx");
}

#[test]
fn a_redis_crash_gives_503_on_store_routes_only_and_they_recover_without_losing_writes() {
    let cluster = Cluster::up();
    let load = Load::start(cluster.nginx, 2, 2);
    load.wait_for_acks(0, 100, &cluster);
    let acked_before_crash = load.acked_count();
    let crashed_at = Instant::now();
    cluster.script(&["redis-kill"]);

    // While Redis is down: store routes say 503 with Retry-After, through
    // nginx and on every host; other routes answer as always.
    for addr in std::iter::once(cluster.nginx).chain(cluster.hosts.iter().copied()) {
        let write = try_send(addr, "POST", "/api/tasks", &[], br#"{"title":"gap"}"#).expect("an answer");
        assert_eq!(write.status, 503, "{addr}: {}", write.text());
        assert!(write.header("retry-after").is_some(), "{addr}: a 503 says when to retry");
        assert_eq!(write.json()["error"], "Storage is temporarily unavailable; try again shortly");
        let read = try_send(addr, "GET", "/api/tasks/1", &[], b"").expect("an answer");
        assert_eq!(read.status, 503, "{addr}: {}", read.text());
        assert_eq!(try_send(addr, "GET", "/api/hello", &[], b"").expect("an answer").status, 200, "{addr}");
    }
    std::thread::sleep(Duration::from_millis(500));
    cluster.script(&["redis-start"]);
    let restarted_at = Instant::now();

    // Every host reconnects by itself.
    for host in &cluster.hosts {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let write = try_send(*host, "POST", "/api/tasks", &[], br#"{"title":"after"}"#).expect("an answer");
            if write.status == 201 {
                break;
            }
            assert_eq!(write.status, 503, "{host}: {}", write.text());
            assert!(Instant::now() < deadline, "{host} did not recover from the Redis restart\n{}", cluster.logs());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    load.wait_for_acks(load.acked_count(), 100, &cluster);
    let (outcomes, acked) = load.finish();

    let plain = failures(&outcomes, Kind::PlainRead);
    assert!(plain.is_empty(), "routes without a store failed: {plain:#?}");
    for o in outcomes.iter().filter(|o| o.kind != Kind::PlainRead && !o.succeeded()) {
        assert!(
            o.status == Ok(503) && o.retry_after && o.body_ok,
            "a store request failed other than with 503 + Retry-After: {o:?}"
        );
        assert!(o.at >= crashed_at, "a store request failed before Redis did: {o:?}");
    }
    let unavailable: Vec<&Outcome> = outcomes.iter().filter(|o| o.status == Ok(503)).collect();
    assert!(!unavailable.is_empty(), "the load met the gap");
    let first = unavailable.first().map_or(crashed_at, |o| o.at);
    let last = unavailable.last().map_or(crashed_at, |o| o.at);
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
    assert!(acked_before_crash <= acked.len());
    assert_all_readable(cluster.nginx, &acked, "nginx");
}
