//! A real `redis-server` for tests: started on a free 127.0.0.1 port in a
//! temp dir, stopped and restarted on the same port (so a host configured
//! with its URL reconnects), killed when dropped, and killed too when the
//! test process ends however it ends (a `static` server is never dropped).
//!
//! `redis-server` must be installed (`scripts/setup.sh` does it); without it
//! [`RedisServer::start`] panics: tests never skip silently.
//!
//! Talks RESP over a plain `TcpStream` ([`RedisServer::command`]), so tests
//! can look at what is stored, or store keys of other programs, without a
//! Redis client library.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::guarded_process::{self, GuardedProcess, NotReady};

/// How long a server has to answer `PING` after it is started.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// One reply of the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resp {
    /// `+OK`.
    Simple(String),
    /// `-ERR …`.
    Error(String),
    /// `:42`.
    Integer(i64),
    /// `$…` (`None`: the nil reply).
    Bulk(Option<Vec<u8>>),
    /// `*…` (`None`: the nil array).
    Array(Option<Vec<Resp>>),
}

impl Resp {
    /// The bytes of a bulk reply; `None` for nil. Panics on other replies.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Resp::Bulk(b) => b.as_deref(),
            other => panic!("expected a bulk reply, got {other:?}"),
        }
    }
}

/// A running (or stopped) `redis-server`.
pub struct RedisServer {
    port: u16,
    dir: tempfile::TempDir,
    durable: bool,
    /// While running.
    running: Option<GuardedProcess>,
}

impl RedisServer {
    /// A server without persistence (`--save "" --appendonly no`).
    pub fn start() -> RedisServer {
        Self::launch(false)
    }

    /// A server that logs every write to its append-only file and fsyncs it
    /// before answering (`--appendonly yes --appendfsync always`): what it
    /// acknowledged survives [`RedisServer::stop`] (SIGKILL) and
    /// [`RedisServer::restart`].
    pub fn start_durable() -> RedisServer {
        Self::launch(true)
    }

    fn launch(durable: bool) -> RedisServer {
        let dir = tempfile::Builder::new().prefix("redis-test-").tempdir().expect("temp dir");
        let mut server = RedisServer { port: 0, dir, durable, running: None };
        guarded_process::start_on_free_port("redis-server", |port| {
            server.port = port;
            server.spawn()
        });
        server
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The port it listens on (the same after a restart).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its working directory (where a durable server keeps its files).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Whether it is running.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Kills it with SIGKILL (no shutdown, no save: a crash) and waits until
    /// it is gone. Does nothing if it is not running.
    pub fn stop(&mut self) {
        if let Some(process) = self.running.take() {
            process.kill();
        }
    }

    /// Stops it (if running) and starts it again on the same port and in the
    /// same directory, waiting until it answers `PING` (for a durable server:
    /// until it has loaded its append-only file).
    pub fn restart(&mut self) {
        self.stop();
        let port = self.port;
        guarded_process::restart_on_port(
            "redis-server",
            port,
            Duration::from_secs(10),
            Duration::from_millis(100),
            || self.spawn(),
        );
    }

    /// Sends one command and reads its reply. Panics if the server does not
    /// answer.
    pub fn command(&self, args: &[&[u8]]) -> Resp {
        let mut stream = connect(self.port).unwrap_or_else(|e| panic!("redis on port {}: {e}", self.port));
        stream.write_all(&encode(args)).expect("send to redis");
        read_reply(&mut BufReader::new(stream)).expect("redis reply")
    }

    /// Sends commands one after the other on one connection (`AUTH` first,
    /// say) and reads their replies.
    pub fn commands(&self, commands: &[&[&str]]) -> Vec<Resp> {
        let stream = connect(self.port).unwrap_or_else(|e| panic!("redis on port {}: {e}", self.port));
        let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
        let mut stream = stream;
        commands
            .iter()
            .map(|args| {
                let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
                stream.write_all(&encode(&args)).expect("send to redis");
                read_reply(&mut reader).expect("redis reply")
            })
            .collect()
    }

    /// [`RedisServer::command`] with text arguments.
    pub fn cmd(&self, args: &[&str]) -> Resp {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.command(&args)
    }

    /// Freezes it (SIGSTOP): it keeps its connections and port but answers
    /// nothing, like a hung server or a network that drops packets, until
    /// [`RedisServer::resume`].
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Undoes [`RedisServer::pause`] (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        assert!(self.is_running(), "redis-server is not running");
        let pid = std::fs::read_to_string(self.pid_path()).expect("redis pid file");
        let status = Command::new("kill").arg(signal).arg(pid.trim()).status().expect("run kill");
        assert!(status.success(), "kill {signal} {pid}: {status}");
    }

    fn pid_path(&self) -> PathBuf {
        self.dir.path().join("redis.pid")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    fn log_text(&self) -> String {
        let output = std::fs::read_to_string(self.dir.path().join("redis.out")).unwrap_or_default();
        output + &std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Starts redis on `self.port` and waits for `PING`; `Err` with its log
    /// if it exits first (it could not bind the port, say).
    fn spawn(&mut self) -> Result<(), String> {
        let port = self.port.to_string();
        let dir = self.dir.path().to_str().expect("a UTF-8 temp dir");
        let log = self.log_path();
        let log = log.to_str().expect("a UTF-8 temp dir");
        let pidfile = self.pid_path();
        let _ = std::fs::remove_file(&pidfile);
        let pidfile = pidfile.to_str().expect("a UTF-8 temp dir");
        let mut options = vec![
            ("--port", port.as_str()),
            ("--bind", "127.0.0.1"),
            ("--dir", dir),
            ("--logfile", log),
            ("--pidfile", pidfile),
            ("--daemonize", "no"),
            ("--save", ""),
        ];
        if self.durable {
            options.extend([("--appendonly", "yes"), ("--appendfsync", "always")]);
        } else {
            options.push(("--appendonly", "no"));
        }
        let args = options.iter().flat_map(|(name, value)| [name, value]);
        if let Err(e) = Command::new("redis-server").arg("--version").stdout(Stdio::null()).status() {
            if e.kind() == std::io::ErrorKind::NotFound {
                panic!("redis-server not found: run scripts/setup.sh");
            }
            panic!("cannot run redis-server: {e}");
        }
        let mut server = Command::new("redis-server");
        server.args(args);
        // What redis prints before its log file is open (a bad option, …).
        let output = std::fs::File::create(self.dir.path().join("redis.out")).expect("output file");
        let process = GuardedProcess::spawn(&server, output, Some(self.dir.path()));
        match process.wait_ready(START_TIMEOUT, Duration::from_millis(10), || ping(self.port)) {
            Ok(process) => {
                self.running = Some(process);
                Ok(())
            }
            Err(NotReady::Exited(status)) => Err(format!("(exited: {status})\n{}", self.log_text())),
            Err(NotReady::TimedOut) => panic!(
                "redis-server on port {port} did not answer PING within {START_TIMEOUT:?}; its log:\n{}",
                self.log_text()
            ),
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("----- redis-server log -----\n{}\n----------------------------", self.log_text());
        }
    }
}

fn connect(port: u16) -> std::io::Result<TcpStream> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    Ok(stream)
}

/// Whether redis answers `PING` with `PONG` (not `-LOADING`) on `port`.
fn ping(port: u16) -> bool {
    let Ok(mut stream) = connect(port) else { return false };
    if stream.write_all(&encode(&[b"PING"])).is_err() {
        return false;
    }
    matches!(read_reply(&mut BufReader::new(stream)), Ok(Resp::Simple(s)) if s == "PONG")
}

/// A command as a RESP array of bulk strings.
fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn read_reply(reader: &mut impl BufRead) -> std::io::Result<Resp> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line)?;
    if !line.ends_with(b"\r\n") {
        return Err(bad("a reply line without CRLF"));
    }
    line.truncate(line.len() - 2);
    let (kind, rest) = line.split_first().ok_or_else(|| bad("an empty reply line"))?;
    let text = String::from_utf8_lossy(rest).into_owned();
    let number = || text.parse::<i64>().map_err(|_| bad("a malformed length"));
    Ok(match kind {
        b'+' => Resp::Simple(text),
        b'-' => Resp::Error(text),
        b':' => Resp::Integer(number()?),
        b'$' => match number()? {
            -1 => Resp::Bulk(None),
            n => {
                let mut data = vec![0; usize::try_from(n).map_err(|_| bad("a negative length"))? + 2];
                reader.read_exact(&mut data)?;
                data.truncate(data.len() - 2);
                Resp::Bulk(Some(data))
            }
        },
        b'*' => match number()? {
            -1 => Resp::Array(None),
            n => {
                let n = usize::try_from(n).map_err(|_| bad("a negative length"))?;
                let items = (0..n).map(|_| read_reply(reader)).collect::<std::io::Result<_>>()?;
                Resp::Array(Some(items))
            }
        },
        _ => return Err(bad("an unknown reply type")),
    })
}
