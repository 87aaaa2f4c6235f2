//! docs/behaviour.md §5, "Streamed answers": a streaming handler's body
//! reaches the client as it is written, over HTTP/1.1 and h2c; a cut stream
//! looks cut; the limits end a guest that cannot go on; the instance ends
//! when the client goes away; whole answers and components built before
//! streaming are served as before.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use e2e_support::streamed::{Arrived, stream_get};
use e2e_support::{TestHost, artifacts, eventually, route};

/// The streaming test route under a few limits, the SSE sample, a 0.1
/// component and hello.
fn host() -> TestHost {
    let a = artifacts();
    let mut toml = String::new();
    route(&mut toml, "/stream", &a.component("stream-plain"), "limits = { max_body = \"4MiB\" }\n");
    route(
        &mut toml,
        "/stream/idle",
        &a.component("stream-plain"),
        "limits = { stream_idle_timeout = \"1s\", stream_timeout = \"30s\" }\n",
    );
    route(&mut toml, "/stream/short", &a.component("stream-plain"), "limits = { stream_timeout = \"1s\" }\n");
    route(&mut toml, "/stream/small", &a.component("stream-plain"), "limits = { max_stream_bytes = \"1KiB\" }\n");
    route(&mut toml, "/api/clock", &a.component("clock"), "");
    route(&mut toml, "/legacy", &a.component("api-0-1"), "");
    route(&mut toml, "/api/hello", &a.component("hello"), "");
    TestHost::routes(&toml).start()
}

/// The first log line holding `needle` and `request_id`, once it is there.
fn log_line(host: &TestHost, request_id: &str, needle: &str) -> String {
    eventually(Duration::from_secs(10), || {
        host.log_text()
            .lines()
            .find(|l| l.contains(request_id) && l.contains(needle))
            .map(str::to_owned)
            .ok_or_else(|| format!("no log line with {request_id} and {needle:?}"))
    })
}

fn request_id(arrived: &Arrived) -> String {
    arrived.head.lines().find_map(|l| l.strip_prefix("x-request-id: ")).expect("a request id").trim().to_owned()
}

#[test]
fn chunks_arrive_when_written_not_at_the_end() {
    let host = host();
    let arrived = stream_get(host.addr, "GET", "/stream?chunks=5&interval_ms=150", usize::MAX);
    assert_eq!(arrived.status, 200);
    assert!(arrived.complete, "the answer ends with its last chunk");
    let texts: Vec<String> = arrived.chunks.iter().map(|(_, c)| String::from_utf8_lossy(c).into_owned()).collect();
    assert_eq!(texts, ["chunk 0\n", "chunk 1\n", "chunk 2\n", "chunk 3\n", "chunk 4\n"]);
    let first = arrived.chunks[0].0.duration_since(arrived.head_at);
    let last = arrived.chunks[4].0.duration_since(arrived.chunks[0].0);
    assert!(first < Duration::from_millis(100), "the first chunk came with the head: {first:?}");
    assert!(last >= Duration::from_millis(500), "four more chunks, 150 ms apart, came spread out: {last:?}");
    for pair in arrived.chunks.windows(2) {
        let gap = pair[1].0.duration_since(pair[0].0);
        assert!(gap >= Duration::from_millis(100), "each chunk came when written, not in a burst: {gap:?}");
    }
    let head = arrived.head.to_ascii_lowercase();
    assert!(head.contains("x-accel-buffering: no"), "proxies are told not to buffer: {head}");
    assert!(!head.contains("content-length"), "{head}");
    let line = log_line(&host, &request_id(&arrived), "stream ended");
    assert!(line.contains("end=\"complete\"") && line.contains("bytes=40"), "{line}");
}

/// `GET target` over a new h2c connection (prior knowledge): the answer's
/// head, its body still to be read.
async fn h2c_get(addr: std::net::SocketAddr, target: &str) -> hyper::Response<hyper::body::Incoming> {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io).await.expect("h2c handshake");
    tokio::spawn(conn);
    let req = hyper::Request::get(format!("http://{addr}{target}"))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .expect("request");
    sender.send_request(req).await.expect("response")
}

#[test]
fn chunks_arrive_when_written_over_h2c() {
    use http_body_util::BodyExt;
    let host = host();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let resp = h2c_get(host.addr, "/stream?chunks=4&interval_ms=150").await;
        assert_eq!(resp.version(), hyper::Version::HTTP_2);
        let started = Instant::now();
        let mut body = resp.into_body();
        let mut arrivals = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.expect("a frame, not a reset");
            if let Ok(data) = frame.into_data() {
                arrivals.push((started.elapsed(), data));
            }
        }
        let text: Vec<u8> = arrivals.iter().flat_map(|(_, d)| d.to_vec()).collect();
        assert_eq!(String::from_utf8_lossy(&text), "chunk 0\nchunk 1\nchunk 2\nchunk 3\n");
        let spread = arrivals.last().expect("data").0 - arrivals[0].0;
        assert!(spread >= Duration::from_millis(400), "data frames came as written: {spread:?}");
    });
}

#[test]
fn a_trap_after_the_head_cuts_the_stream_and_the_host_keeps_serving() {
    let host = host();
    let arrived = stream_get(host.addr, "GET", "/stream?chunks=5&interval_ms=50&trap_after=2", usize::MAX);
    assert_eq!(arrived.status, 200, "the head went out before the trap");
    assert_eq!(arrived.body(), b"chunk 0\nchunk 1\n");
    assert!(!arrived.complete, "no last chunk: the client can tell the answer was cut off");
    let line = log_line(&host, &request_id(&arrived), "stream cut off");
    assert!(line.contains("ERROR") && line.contains("route=/stream"), "{line}");
    assert_eq!(host.get("/api/hello").status, 200);
    assert!(stream_get(host.addr, "GET", "/stream", usize::MAX).complete, "the route itself recovers");
}

#[test]
fn a_stream_cut_over_h2c_is_a_reset_not_an_end() {
    use http_body_util::BodyExt;
    let host = host();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let resp = h2c_get(host.addr, "/stream?chunks=5&interval_ms=50&trap_after=2").await;
        let collected = resp.into_body().collect().await;
        assert!(collected.is_err(), "the body ends in an error (RST_STREAM), not a clean end");
    });
}

#[test]
fn a_handler_that_does_not_start_or_starts_badly_is_a_500() {
    let host = host();
    host.get("/stream?no_start=1").assert_error(500, "Internal server error");
    let resp = host.get("/stream?status=99");
    resp.assert_error(500, "Internal server error");
    let id = resp.header("x-request-id").expect("id").to_owned();
    let line = log_line(&host, &id, "invalid guest response");
    assert!(line.contains("invalid status 99"), "{line}");
    // Started, wrote, then trapped before it ever waited: the head was
    // never sent, so the answer is still an error, not a cut stream.
    host.get("/stream?chunks=5&abort_after=2").assert_error(500, "Internal server error");
    let resp = host.get("/stream?delay_ms=20000");
    assert_eq!(resp.status, 504, "no head within the route's timeout (10 s): {}", resp.text());
}

#[test]
fn head_of_a_streaming_get_is_its_head_alone() {
    let host = host();
    let arrived = stream_get(host.addr, "HEAD", "/stream?chunks=0&interval_ms=10", usize::MAX);
    assert_eq!(arrived.status, 200);
    assert!(arrived.head.contains("text/plain"), "{}", arrived.head);
    // The endless handler is stopped with its body.
    let line = log_line(&host, &request_id(&arrived), "stream-plain: write failed");
    assert!(line.contains("Closed"), "{line}");
}

#[test]
fn a_client_that_goes_away_ends_the_instance() {
    let host = host();
    let arrived = stream_get(host.addr, "GET", "/stream?chunks=0&interval_ms=20", 3);
    assert_eq!(arrived.chunks.len(), 3);
    let id = request_id(&arrived);
    drop(arrived);
    let line = log_line(&host, &id, "stream ended");
    assert!(line.contains("end=\"client_gone\""), "{line}");
    let line = log_line(&host, &id, "stream-plain: write failed");
    assert!(line.contains("Closed"), "the guest's next write failed: {line}");
}

#[test]
fn a_client_that_stops_reading_holds_the_guest_not_host_memory() {
    let host = host();
    let mut stream = TcpStream::connect(host.addr).expect("connect");
    // Endless 64 KiB chunks to a client that reads nothing.
    write!(stream, "GET /stream/idle?chunks=0&size=65536 HTTP/1.1\r\nhost: x\r\n\r\n").expect("request");
    std::thread::sleep(Duration::from_millis(500));
    let rss = || {
        let status = std::fs::read_to_string(format!("/proc/{}/status", host.pid())).expect("status");
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS").to_owned();
        line.split_whitespace().nth(1).and_then(|kib| kib.parse::<u64>().ok()).expect("KiB")
    };
    let before = rss();
    std::thread::sleep(Duration::from_millis(2500));
    let after = rss();
    assert!(after < before + 8 * 1024, "the host held the stream to a bound: {before} KiB, then {after} KiB");
    let log = eventually(Duration::from_secs(10), || {
        let log = host.log_text();
        log.contains("stream-plain: write failed: StreamError::TimedOut")
            .then_some(log)
            .ok_or_else(|| "no timeout yet".to_owned())
    });
    assert!(log.contains("stream_idle_timeout"), "the guest was told which limit: {log}");
    drop(stream);
}

#[test]
fn stream_time_and_size_limits_end_the_stream() {
    let host = host();
    let started = Instant::now();
    let arrived = stream_get(host.addr, "GET", "/stream/short?chunks=0&interval_ms=100", usize::MAX);
    assert!(!arrived.complete, "cut at the route's stream_timeout");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    let line = log_line(&host, &request_id(&arrived), "stream cut off");
    assert!(line.contains("stream_timeout"), "{line}");

    let arrived = stream_get(host.addr, "GET", "/stream/small?chunks=10&size=400", usize::MAX);
    assert_eq!(arrived.body().len(), 800, "two writes fit in 1 KiB, the third does not");
    assert!(arrived.complete, "the guest stopped on its error and returned: a complete, shorter answer");
    let line = log_line(&host, &request_id(&arrived), "stream-plain: write failed");
    assert!(line.contains("TooLarge") && line.contains("max_stream_bytes"), "{line}");
}

#[test]
fn a_streaming_post_echoes_its_body() {
    let host = host();
    let body: Vec<u8> = (0..3 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let resp = host.request("POST", "/stream", &[], &body);
    assert_eq!(resp.status, 200);
    assert!(resp.body == body, "{} bytes back of {}", resp.body.len(), body.len());
}

#[test]
fn the_sse_sample_sends_every_event() {
    let host = host();
    let arrived = stream_get(host.addr, "GET", "/api/clock?count=1000&interval_ms=10", usize::MAX);
    assert_eq!(arrived.status, 200);
    let head = arrived.head.to_ascii_lowercase();
    assert!(head.contains("content-type: text/event-stream"), "{head}");
    assert!(arrived.complete);
    let text = String::from_utf8(arrived.body()).expect("UTF-8");
    let events: Vec<&str> = text.split("\n\n").filter(|e| !e.trim().is_empty()).collect();
    let ticks: Vec<&&str> = events.iter().filter(|e| e.lines().any(|l| l == "event: tick")).collect();
    assert_eq!(ticks.len(), 1000, "every event arrived, framed");
    for (i, event) in (1..).zip(&ticks) {
        assert!(event.lines().any(|l| l == format!("id: {i}")), "event {i}: {event}");
        assert!(event.lines().any(|l| l.starts_with("data: ") && l.contains(&format!("\"tick\":{i}"))), "{event}");
    }
}

#[test]
fn components_built_before_streaming_are_served_unchanged() {
    let host = host();
    let resp = host.get("/legacy");
    assert_eq!((resp.status, resp.text().as_str()), (200, "api 0.1: /legacy"));
    let resp = host.get("/api/hello");
    assert_eq!(resp.header("content-length"), Some("29"), "a whole answer keeps its length");
}

#[test]
fn shutdown_lets_open_streams_finish() {
    let mut host = host();
    let addr = host.addr;
    let reader = std::thread::spawn(move || stream_get(addr, "GET", "/stream?chunks=8&interval_ms=100", usize::MAX));
    std::thread::sleep(Duration::from_millis(250));
    let status = host.terminate();
    assert!(status.success(), "{status}");
    let arrived = reader.join().expect("reader");
    assert!(arrived.complete, "the stream ran to its end within the grace period");
    assert_eq!(arrived.chunks.len(), 8);
}

#[test]
fn shutdown_cuts_the_streams_that_outlast_the_grace() {
    let a = artifacts();
    let mut toml = String::new();
    route(&mut toml, "/stream", &a.component("stream-plain"), "");
    let mut host = TestHost::routes(&toml).args(&["--shutdown-grace", "1s"]).start();
    let addr = host.addr;
    let reader = std::thread::spawn(move || stream_get(addr, "GET", "/stream?chunks=0&interval_ms=50", usize::MAX));
    std::thread::sleep(Duration::from_millis(300));
    let status = host.terminate();
    assert!(status.success(), "{status}");
    let arrived = reader.join().expect("reader");
    assert!(!arrived.chunks.is_empty());
    assert!(!arrived.complete, "an endless stream is cut when the grace is over, not ended as if complete");
}

/// 1,000 clients hold an SSE stream of the clock open at once on one host,
/// as many as the host's instance pool has slots (`runtime/engine.rs`,
/// `max_instances`, which no setting changes: one more stream is a 503; the
/// route allows 1,000 at a time): every stream gets
/// all its events and ends complete, and the host's memory grows by a
/// bounded amount per open stream (`bench/streaming.sh` measures it).
#[test]
fn a_thousand_sse_streams_at_once_all_complete() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    const STREAMS: usize = 1000;
    const EVENTS: u32 = 20;
    let a = artifacts();
    let mut toml = String::new();
    route(&mut toml, "/api/clock", &a.component("clock"), &format!("limits = {{ max_concurrency = {STREAMS} }}\n"));
    let host = TestHost::routes(&toml).start();
    // One stream first: what the first instance sets up once counts as idle.
    assert!(stream_get(host.addr, "GET", "/api/clock?count=2&interval_ms=10", usize::MAX).complete);
    let pid = host.pid();
    let idle_kib = proc_status_kib(pid, "VmRSS");
    // 20 events 200 ms apart: each stream lasts ~3.8 s, long enough for
    // all 1,000 to be open at once.
    let target = format!("/api/clock?count={EVENTS}&interval_ms=200");

    let open = Arc::new(AtomicUsize::new(0));
    let most_open = Arc::new(AtomicUsize::new(0));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let (outcomes, peak_kib, kib_with_all_open) = runtime.block_on(async {
        let done = Arc::new(AtomicBool::new(false));
        // RSS every 20 ms while the streams run: the largest, and the one
        // seen when the most streams were open.
        let sampler = {
            let (done, open) = (Arc::clone(&done), Arc::clone(&open));
            tokio::spawn(async move {
                let (mut peak, mut most, mut at_most) = (0, 0, 0);
                while !done.load(Ordering::Relaxed) {
                    let now_open = open.load(Ordering::Relaxed);
                    let kib = proc_status_kib(pid, "VmRSS");
                    peak = peak.max(kib);
                    if now_open > most {
                        (most, at_most) = (now_open, kib);
                    } else if now_open == most {
                        at_most = at_most.max(kib);
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                (peak, at_most)
            })
        };
        let mut clients = tokio::task::JoinSet::new();
        for _ in 0..STREAMS {
            clients.spawn(sse_client(host.addr, target.clone(), Arc::clone(&open), Arc::clone(&most_open)));
        }
        let mut outcomes = Vec::new();
        while let Some(outcome) = clients.join_next().await {
            outcomes.push(outcome.expect("client task"));
        }
        done.store(true, Ordering::Relaxed);
        let (peak, at_most) = sampler.await.expect("sampler");
        (outcomes, peak, at_most)
    });

    let most_open = most_open.load(Ordering::Relaxed);
    let hwm_kib = proc_status_kib(pid, "VmHWM");
    let per_stream = kib_with_all_open.saturating_sub(idle_kib) as f64 / most_open.max(1) as f64;
    // The peak comes after the streams: a slot's reset keeps its first
    // pages resident for the next instance (`runtime/pool_tuning.rs`).
    eprintln!(
        "{STREAMS} SSE streams, at most {most_open} open at once: host RSS idle {idle_kib} KiB, \
         {kib_with_all_open} KiB with the most open ({per_stream:.0} KiB per open stream); \
         peak {peak_kib} KiB sampled, {hwm_kib} KiB VmHWM (after the streams: reset pool slots stay resident)"
    );
    let expected: Vec<u32> = (1..=EVENTS).collect();
    let failed: Vec<String> = outcomes
        .iter()
        .enumerate()
        .filter_map(|(i, outcome)| match outcome {
            Ok(ids) if *ids == expected => None,
            Ok(ids) => Some(format!("stream {i}: ids {ids:?}")),
            Err(e) => Some(format!("stream {i}: {e}")),
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {STREAMS} streams failed; the first: {:#?}",
        failed.len(),
        &failed[..failed.len().min(10)]
    );
    // A generous bound, not a measurement: 1 MiB per stream beyond idle.
    let growth = peak_kib.max(hwm_kib).saturating_sub(idle_kib);
    assert!(growth < STREAMS as u64 * 1024, "the host grew by {growth} KiB for {STREAMS} streams");
}

/// A field of `/proc/PID/status` given in KiB (`VmRSS`, `VmHWM`).
fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// One SSE client among many: `GET target` over HTTP/1.1, the ids of the
/// events in the order they came, once the answer ends complete (an error
/// if it does not: hyper refuses a chunked body without its last chunk).
/// Counts itself in `open` from its head to its end.
async fn sse_client(
    addr: SocketAddr,
    target: String,
    open: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    most_open: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> Result<Vec<u32>, String> {
    use std::sync::atomic::Ordering;

    use http_body_util::BodyExt;
    // A stalled stream fails the test instead of hanging it.
    const STALL: Duration = Duration::from_secs(30);
    let stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(conn);
    let req = hyper::Request::get(&target)
        .header("host", addr.to_string())
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .map_err(|e| e.to_string())?;
    let resp = tokio::time::timeout(STALL, sender.send_request(req))
        .await
        .map_err(|_| "no head".to_owned())?
        .map_err(|e| format!("request: {e}"))?;
    if resp.status() != 200 {
        return Err(format!("status {}", resp.status()));
    }
    let now_open = open.fetch_add(1, Ordering::Relaxed) + 1;
    most_open.fetch_max(now_open, Ordering::Relaxed);
    let mut body = resp.into_body();
    let mut text = Vec::new();
    let ended = loop {
        match tokio::time::timeout(STALL, body.frame()).await {
            Err(_) => break Err(format!("stalled after {} bytes", text.len())),
            Ok(None) => break Ok(()),
            Ok(Some(Err(e))) => break Err(format!("cut after {} bytes: {e}", text.len())),
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    text.extend_from_slice(&data);
                }
            }
        }
    };
    open.fetch_sub(1, Ordering::Relaxed);
    ended?;
    let text = String::from_utf8(text).map_err(|e| e.to_string())?;
    Ok(text.lines().filter_map(|l| l.strip_prefix("id: ")?.parse().ok()).collect())
}
