//! docs/behaviour.md §5 and README "Mounting wasi:http components": a
//! standard `wasi:http/proxy` component (tests/components/http-proxy) gets
//! its request body as the client sends it, and its response body reaches
//! the client as it writes it, within the route's stream limits; a trap
//! after the head cuts the answer; `max_body` holds for a body that streams.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use e2e_support::{TestHost, artifacts, eventually, route};

/// The proxy component under a few limits, and hello.
fn host() -> TestHost {
    let proxy = artifacts().component("http-proxy");
    let mut toml = String::new();
    route(&mut toml, "/proxy/[...rest]", &proxy, "limits = { max_body = \"128MiB\" }\n");
    route(&mut toml, "/small/[...rest]", &proxy, "limits = { max_body = \"1KiB\" }\n");
    route(&mut toml, "/capped/[...rest]", &proxy, "limits = { max_stream_bytes = \"1KiB\" }\n");
    route(&mut toml, "/idle/[...rest]", &proxy, "limits = { stream_idle_timeout = \"1s\" }\n");
    route(&mut toml, "/api/hello", &artifacts().component("hello"), "");
    TestHost::routes(&toml).start()
}

/// One HTTP/1.1 exchange, its request body sent and its answer read piece
/// by piece, so a test can interleave the two.
struct Exchange {
    to_host: TcpStream,
    from_host: BufReader<TcpStream>,
    /// The answer's status line and headers, once read.
    head: String,
    /// The answer ended with its last (zero-length) chunk.
    complete: bool,
}

impl Exchange {
    /// Sends the head of `method target` with `headers`; a body, if any,
    /// follows with [`Exchange::send`].
    fn start(addr: SocketAddr, method: &str, target: &str, headers: &[&str]) -> Exchange {
        let mut to_host = TcpStream::connect(addr).expect("connect");
        to_host.set_read_timeout(Some(Duration::from_secs(30))).expect("read timeout");
        let mut head = format!("{method} {target} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
        for header in headers {
            head.push_str(header);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        to_host.write_all(head.as_bytes()).expect("request head");
        let from_host = BufReader::new(to_host.try_clone().expect("clone the socket"));
        Exchange { to_host, from_host, head: String::new(), complete: false }
    }

    /// A `POST target` whose body is sent chunked, piece by piece.
    fn post_chunked(addr: SocketAddr, target: &str) -> Exchange {
        Exchange::start(addr, "POST", target, &["transfer-encoding: chunked"])
    }

    /// Sends `data` as one chunk of the request body.
    fn send(&mut self, data: &[u8]) {
        write!(self.to_host, "{:x}\r\n", data.len()).expect("chunk size");
        self.to_host.write_all(data).expect("chunk");
        self.to_host.write_all(b"\r\n").expect("chunk end");
    }

    /// Ends the chunked request body.
    fn end(&mut self) {
        self.to_host.write_all(b"0\r\n\r\n").expect("last chunk");
    }

    /// Reads the answer's head; returns its status.
    fn status(&mut self) -> u16 {
        loop {
            let mut line = String::new();
            let read = self.from_host.read_line(&mut line).expect("the answer's head");
            assert!(read > 0, "the connection ended in the head: {:?}", self.head);
            if line == "\r\n" {
                break;
            }
            self.head.push_str(&line.to_ascii_lowercase());
        }
        self.head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status")
    }

    /// The next chunk of a chunked answer; `None` at its end, or when the
    /// connection ends first (then the answer is not complete).
    fn chunk(&mut self) -> Option<Vec<u8>> {
        let mut size = String::new();
        if self.complete || self.from_host.read_line(&mut size).ok()? == 0 {
            return None;
        }
        let size = usize::from_str_radix(size.trim(), 16).ok()?;
        let mut chunk = vec![0; size + 2];
        self.from_host.read_exact(&mut chunk).ok()?;
        if size == 0 {
            self.complete = true;
            return None;
        }
        chunk.truncate(size);
        Some(chunk)
    }

    /// Reads chunks until `n` bytes of body have come.
    fn body_bytes(&mut self, n: usize) -> Vec<u8> {
        let mut body = Vec::new();
        while body.len() < n {
            let chunk = self.chunk().unwrap_or_else(|| panic!("the answer ended after {} of {n} bytes", body.len()));
            body.extend_from_slice(&chunk);
        }
        body
    }

    /// The rest of the answer's body, chunked or of a declared length.
    fn rest(&mut self) -> Vec<u8> {
        let length = self.head.lines().find_map(|l| l.strip_prefix("content-length: ")?.trim().parse().ok());
        if let Some(length) = length {
            let mut body = vec![0; length];
            self.from_host.read_exact(&mut body).expect("the answer's body");
            return body;
        }
        let mut body = Vec::new();
        while let Some(chunk) = self.chunk() {
            body.extend_from_slice(&chunk);
        }
        body
    }

    fn request_id(&self) -> String {
        let line = self.head.lines().find_map(|l| l.strip_prefix("x-request-id: "));
        line.expect("a request id").trim().to_owned()
    }
}

/// A whole chunked request body: `count` chunks of `size` bytes, then the
/// last chunk.
fn chunked_body(count: usize, size: usize) -> Vec<u8> {
    let mut body = Vec::new();
    for _ in 0..count {
        body.extend_from_slice(format!("{size:x}\r\n").as_bytes());
        body.extend(std::iter::repeat_n(b'y', size));
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    body
}

/// The first log line holding both `request_id` and `needle`, once it is there.
fn log_line(host: &TestHost, request_id: &str, needle: &str) -> String {
    eventually(Duration::from_secs(10), || {
        let log = host.log_text();
        let line = log.lines().find(|l| l.contains(request_id) && l.contains(needle));
        line.map(str::to_owned).ok_or_else(|| format!("no log line with {request_id} and {needle:?}"))
    })
}

#[test]
fn the_echo_sends_each_piece_back_before_the_next_is_sent() {
    let host = host();
    let mut echo = Exchange::post_chunked(host.addr, "/proxy/stream-echo");
    assert_eq!(echo.status(), 200, "the head comes before any of the request body");
    assert!(echo.head.contains("transfer-encoding: chunked"), "{}", echo.head);
    // Each piece comes back before the next one is sent: a host that read
    // the request whole, or held the answer back, would never answer.
    for i in 0..5u8 {
        let piece = vec![b'a' + i; 1000 + usize::from(i)];
        echo.send(&piece);
        assert_eq!(echo.body_bytes(piece.len()), piece, "piece {i}");
    }
    echo.end();
    assert_eq!(echo.rest(), b"");
    assert!(echo.complete, "the answer ends with its last chunk");
    let line = log_line(&host, &echo.request_id(), "stream ended");
    assert!(line.contains("end=\"complete\"") && line.contains("bytes=5010"), "{line}");
}

#[test]
fn chunks_arrive_as_the_component_writes_them() {
    let host = host();
    let mut chunks = Exchange::start(host.addr, "GET", "/proxy/chunks?count=4&interval_ms=500", &[]);
    assert_eq!(chunks.status(), 200);
    assert_eq!(chunks.chunk().as_deref(), Some(&b"chunk 0\n"[..]));
    let first_at = Instant::now();
    // The component logs each chunk once written; the last is 1.5 s away.
    assert!(!host.log_text().contains("wrote chunk 3"), "the first chunk came before the last was written");
    let mut arrivals = vec![first_at];
    let mut texts = vec!["chunk 0\n".to_owned()];
    while let Some(chunk) = chunks.chunk() {
        arrivals.push(Instant::now());
        texts.push(String::from_utf8_lossy(&chunk).into_owned());
    }
    assert!(chunks.complete);
    assert_eq!(texts, ["chunk 0\n", "chunk 1\n", "chunk 2\n", "chunk 3\n"]);
    for pair in arrivals.windows(2) {
        let gap = pair[1].duration_since(pair[0]);
        assert!(gap >= Duration::from_millis(250), "each chunk came when written, not in a burst: {gap:?}");
    }
    assert!(log_line(&host, &chunks.request_id(), "chunks: wrote chunk 3").contains("/proxy/[...rest]"));
}

#[test]
fn a_100_mib_echo_streams_through_in_bounded_host_memory() {
    const TOTAL: usize = 100 << 20;
    const BLOCK: usize = 64 << 10;
    let host = host();
    // The component compiled and one instance made before the baseline.
    let mut warm = Exchange::post_chunked(host.addr, "/proxy/stream-echo");
    warm.send(&[7; BLOCK]);
    warm.end();
    assert_eq!((warm.status(), warm.rest().len()), (200, BLOCK));
    let before = host.rss_kib();

    let length = format!("content-length: {TOTAL}");
    let mut echo = Exchange::start(host.addr, "POST", "/proxy/stream-echo", &[&length]);
    let mut to_host = echo.to_host.try_clone().expect("clone the socket");
    let sender = std::thread::spawn(move || {
        let block: Vec<u8> = (0..BLOCK).map(|i| (i % 251) as u8).collect();
        for _ in 0..TOTAL / BLOCK {
            to_host.write_all(&block).expect("the request body");
        }
    });
    let reader = std::thread::spawn(move || {
        assert_eq!(echo.status(), 200);
        let mut received = 0usize;
        while let Some(chunk) = echo.chunk() {
            let expected = chunk.iter().enumerate().all(|(i, &b)| b == ((received + i) % BLOCK % 251) as u8);
            assert!(expected, "the bytes come back in order, unchanged (at {received})");
            received += chunk.len();
        }
        (received, echo.complete)
    });
    let mut peak = before;
    while !reader.is_finished() {
        peak = peak.max(host.rss_kib());
        std::thread::sleep(Duration::from_millis(20));
    }
    sender.join().expect("sender");
    let (received, complete) = reader.join().expect("reader");
    assert_eq!(received, TOTAL);
    assert!(complete);
    let growth = peak.saturating_sub(before);
    assert!(growth < 32 * 1024, "100 MiB went through; the host grew by {growth} KiB (from {before} KiB)");
}

#[test]
fn a_trap_mid_body_cuts_the_answer_and_the_host_keeps_serving() {
    let host = host();
    let mut cut = Exchange::start(host.addr, "GET", "/proxy/chunks?count=5&interval_ms=50&trap_after=2", &[]);
    assert_eq!(cut.status(), 200, "the head went out before the trap");
    assert_eq!(cut.rest(), b"chunk 0\nchunk 1\n");
    assert!(!cut.complete, "no last chunk: the client can tell the answer was cut off");
    let line = log_line(&host, &cut.request_id(), "stream cut off");
    assert!(line.contains("ERROR") && line.contains("/proxy/[...rest]"), "{line}");
    assert!(host.log_text().contains("panics mid-body on purpose"), "the panic is in the log");

    assert_eq!(host.get("/api/hello").status, 200);
    let resp = host.request("POST", "/proxy/after", &[], b"still here");
    assert_eq!((resp.status, resp.json()["body"].as_str()), (200, Some("still here")));
    let mut whole = Exchange::start(host.addr, "GET", "/proxy/chunks?count=2", &[]);
    assert_eq!((whole.status(), whole.rest()), (200, b"chunk 0\nchunk 1\n".to_vec()));
    assert!(whole.complete, "the route itself recovers");
}

#[test]
fn stream_limits_cut_the_answer() {
    let host = host();
    let mut capped = Exchange::start(host.addr, "GET", "/capped/chunks?count=500", &[]);
    assert_eq!(capped.status(), 200);
    let body = capped.rest();
    assert!(!capped.complete && body.len() <= 1024, "cut at max_stream_bytes after {} bytes", body.len());
    let line = log_line(&host, &capped.request_id(), "stream cut off");
    assert!(line.contains("max_stream_bytes"), "{line}");

    let mut idle = Exchange::start(host.addr, "GET", "/idle/chunks?count=2&interval_ms=5000", &[]);
    assert_eq!(idle.status(), 200);
    assert_eq!(idle.rest(), b"chunk 0\n");
    assert!(!idle.complete, "cut at stream_idle_timeout, before the second chunk");
    let line = log_line(&host, &idle.request_id(), "stream cut off");
    assert!(line.contains("stream_idle_timeout"), "{line}");
}

#[test]
fn a_request_body_over_max_body_is_refused() {
    let host = host();
    // Declared too large: refused before the component runs.
    let resp = host.request("POST", "/small/print", &[], &[b'x'; 2000]);
    resp.assert_error(413, "Request body exceeds the limit of 1024 bytes");
    let id = resp.header("x-request-id").expect("a request id").to_owned();
    assert!(!host.log_text().lines().any(|l| l.contains(&id) && l.contains("proxy says hello")), "it did not run");

    // Chunked: the component's read fails past the limit, and the answer
    // it had not given yet is a 413 (the host may answer before it has all
    // of the body, so a write error is fine).
    let mut chunked = Exchange::post_chunked(host.addr, "/small/echo");
    let _ = chunked.to_host.write_all(&chunked_body(4, 500));
    assert_eq!(chunked.status(), 413);
    assert!(String::from_utf8_lossy(&chunked.rest()).contains("Request body exceeds the limit of 1024 bytes"));

    // Within the limit, chunked or not, the body gets through.
    let mut small = Exchange::post_chunked(host.addr, "/small/echo");
    small.send(&[b'z'; 600]);
    small.send(&[b'z'; 400]);
    small.end();
    assert_eq!(small.status(), 200);
    let echoed: serde_json::Value = serde_json::from_slice(&small.rest()).expect("JSON");
    assert_eq!(echoed["body"].as_str().map(str::len), Some(1000));

    // An answer that had started (its head comes before any of the body)
    // streams no more than the limit: it is cut.
    let mut streaming = Exchange::post_chunked(host.addr, "/small/stream-echo");
    assert_eq!(streaming.status(), 200);
    // The host may be gone before the last of it: a write error is fine.
    let _ = streaming.to_host.write_all(&chunked_body(4, 500));
    let echoed = streaming.rest();
    assert!(!streaming.complete && echoed.len() <= 1024, "cut after {} bytes", echoed.len());
    let line = log_line(&host, &streaming.request_id(), "stream-echo: read failed");
    let why = ["HttpRequestBodySize", "request body size exceeds limit"];
    assert!(why.iter().any(|w| line.contains(w)), "the component heard why: {line}");
}
