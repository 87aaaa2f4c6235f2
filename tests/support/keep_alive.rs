//! A keep-alive HTTP/1.1 client for load-shaped tests: thousands of
//! requests over one connection each, so a test does not run the machine
//! out of ephemeral ports (`send` opens a connection per request).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::TestResponse;

/// One persistent connection.
pub struct Connection {
    addr: SocketAddr,
    reader: BufReader<TcpStream>,
}

impl Connection {
    /// Connects to `addr`.
    pub fn open(addr: SocketAddr) -> Connection {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        Connection { addr, reader: BufReader::new(stream) }
    }

    /// Sends one request and reads its response (which must carry a
    /// `content-length`, as every wasmroutes response does); reconnects
    /// once if the server closed the connection in between.
    pub fn request(&mut self, method: &str, target: &str, body: &[u8]) -> TestResponse {
        match self.try_request(method, target, body) {
            Ok(resp) => resp,
            Err(_) => {
                *self = Connection::open(self.addr);
                self.try_request(method, target, body).expect("request after reconnecting")
            }
        }
    }

    /// Like [`Connection::request`], but an I/O error (the server went
    /// away) is returned instead of retried.
    pub fn try_request(&mut self, method: &str, target: &str, body: &[u8]) -> std::io::Result<TestResponse> {
        let head =
            format!("{method} {target} HTTP/1.1\r\nhost: {}\r\ncontent-length: {}\r\n\r\n", self.addr, body.len());
        let stream = self.reader.get_mut();
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
        let mut status_line = String::new();
        if self.reader.read_line(&mut status_line)? == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed"));
        }
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {status_line:?}")))?;
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let length: usize =
            headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
        let mut body = vec![0; if method == "HEAD" { 0 } else { length }];
        self.reader.read_exact(&mut body)?;
        Ok(TestResponse { status, headers, body })
    }
}
