//! A streamed HTTP/1.1 answer read over a raw `TcpStream` as it arrives,
//! chunk by chunk, with when each chunk came: for the streaming tests
//! (`tests/e2e/streaming.rs`) and for streams through the local cluster's
//! nginx (`tests/e2e/many_hosts.rs`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A streamed HTTP/1.1 answer as the client saw it arrive.
pub struct Arrived {
    /// The status code.
    pub status: u16,
    /// The status line and headers, as sent.
    pub head: String,
    /// Each chunk and when it arrived.
    pub chunks: Vec<(Instant, Vec<u8>)>,
    /// The terminating zero-length chunk came: the answer is complete.
    pub complete: bool,
    /// When the head arrived.
    pub head_at: Instant,
}

impl Arrived {
    /// Every chunk's bytes, in order.
    pub fn body(&self) -> Vec<u8> {
        self.chunks.iter().flat_map(|(_, c)| c.clone()).collect()
    }
}

/// Sends `GET target` and reads the chunked answer as it arrives, until it
/// ends or the connection does (at most `max_chunks` chunks, then hangs up).
pub fn stream_get(addr: SocketAddr, method: &str, target: &str, max_chunks: usize) -> Arrived {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    write!(stream, "{method} {target} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n").expect("request");
    let mut reader = Reader { stream, buf: Vec::new() };
    let head = reader.until(b"\r\n\r\n").expect("a head");
    let head_at = Instant::now();
    let head = String::from_utf8_lossy(&head).into_owned();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status");
    let mut arrived = Arrived { status, head, chunks: Vec::new(), complete: false, head_at };
    if method == "HEAD" || !arrived.head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        return arrived;
    }
    while arrived.chunks.len() < max_chunks {
        let Some(size_line) = reader.until(b"\r\n") else { break };
        let size = usize::from_str_radix(String::from_utf8_lossy(&size_line[..size_line.len() - 2]).trim(), 16)
            .expect("a chunk size");
        if size == 0 {
            arrived.complete = reader.until(b"\r\n").is_some();
            break;
        }
        let Some(chunk) = reader.exactly(size + 2) else { break };
        arrived.chunks.push((Instant::now(), chunk[..size].to_vec()));
    }
    arrived
}

struct Reader {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Reader {
    /// Bytes up to and including `end`; `None` if the connection ends first.
    fn until(&mut self, end: &[u8]) -> Option<Vec<u8>> {
        loop {
            if let Some(at) = self.buf.windows(end.len()).position(|w| w == end) {
                return Some(self.buf.drain(..at + end.len()).collect());
            }
            self.fill()?;
        }
    }

    fn exactly(&mut self, n: usize) -> Option<Vec<u8>> {
        while self.buf.len() < n {
            self.fill()?;
        }
        Some(self.buf.drain(..n).collect())
    }

    fn fill(&mut self) -> Option<()> {
        let mut block = [0u8; 65536];
        match self.stream.read(&mut block) {
            Ok(0) | Err(_) => None,
            Ok(n) => {
                self.buf.extend_from_slice(&block[..n]);
                Some(())
            }
        }
    }
}
