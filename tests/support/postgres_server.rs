//! A real PostgreSQL server for tests: a fresh cluster (`initdb`) in a temp
//! dir, started on a free 127.0.0.1 port, stopped with SIGKILL and restarted
//! on the same port and data (so a host configured with its URL reconnects
//! and finds every committed row), killed when dropped, and killed too when
//! the test process ends however it ends.
//!
//! The binaries come from `WASMROUTES_POSTGRES_BIN` if set, else the newest
//! `/usr/lib/postgresql/*/bin` (where Debian's `postgresql` puts them), else
//! `PATH`; without them [`PostgresServer::start`] panics: tests never skip.
//! PostgreSQL refuses to run as root, so when the tests run as root the
//! cluster belongs to the `postgres` user the package creates, and every
//! server program runs as that user (`setpriv`, which execs in place, so
//! the guard of [`crate::guarded_process`] kills the server itself).
//!
//! The cluster trusts local connections (`--auth=trust`): it listens on
//! loopback only and lives as long as one test. Its superuser is
//! `wasmroutes`, its database `wasmroutes`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::guarded_process::{self, GuardedProcess, NotReady};

/// How long a server has to accept connections after it is started.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The superuser and the database tests connect as.
pub const USER: &str = "wasmroutes";

/// A running (or stopped) PostgreSQL cluster.
pub struct PostgresServer {
    port: u16,
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// The user the server runs as, when the tests run as root.
    run_as: Option<String>,
    /// Whether it also accepts TLS ([`PostgresServer::start_with_tls`]).
    tls: bool,
    /// While running.
    running: Option<GuardedProcess>,
}

impl PostgresServer {
    /// A fresh cluster, running, with database [`USER`].
    pub fn start() -> PostgresServer {
        Self::launch(false)
    }

    /// Like [`PostgresServer::start`], and it also accepts TLS (`ssl = on`)
    /// with a certificate for `127.0.0.1` and `localhost` signed by a CA
    /// made here ([`PostgresServer::ca_path`]), with `openssl`.
    pub fn start_with_tls() -> PostgresServer {
        Self::launch(true)
    }

    /// The CA that signed a TLS server's certificate (PEM).
    pub fn ca_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn launch(tls: bool) -> PostgresServer {
        let bin = binaries();
        let run_as = running_as_root().then(|| "postgres".to_owned());
        let dir = tempfile::Builder::new().prefix("postgres-test-").tempdir().expect("temp dir");
        if let Some(user) = &run_as {
            // Its parent (/tmp) is open to all; the folder itself is the
            // server user's, as PostgreSQL insists.
            chown(dir.path(), user);
        }
        let mut server = PostgresServer { port: 0, dir, bin, run_as, tls, running: None };
        server.init_cluster();
        if tls {
            server.make_certificates();
        }
        guarded_process::start_on_free_port("postgres", |port| {
            server.port = port;
            server.spawn()
        });
        server.psql_on("postgres", &format!("CREATE DATABASE {USER}"));
        server
    }

    /// `postgres://wasmroutes@127.0.0.1:PORT/wasmroutes`.
    pub fn url(&self) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{USER}", self.port)
    }

    /// The port it listens on (the same after a restart).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether it is running.
    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Kills it with SIGKILL (no shutdown, no checkpoint: a crash) and waits
    /// until it is gone. Does nothing if it is not running.
    pub fn stop(&mut self) {
        if let Some(process) = self.running.take() {
            process.kill();
            // The backends leave when they notice their postmaster is gone;
            // until then the shared memory and the port may still be held.
            let deadline = Instant::now() + Duration::from_secs(10);
            while self.backends_alive() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Stops it (if running) and starts it again on the same port and data,
    /// waiting until it accepts connections (after its crash recovery).
    pub fn restart(&mut self) {
        self.stop();
        let port = self.port;
        guarded_process::restart_on_port("postgres", port, Duration::from_secs(20), Duration::from_millis(200), || {
            self.spawn()
        });
    }

    /// Runs `sql` with `psql` on database [`USER`] and returns what it
    /// printed, unaligned, tuples only (`a|b` per row). Panics if it fails.
    pub fn psql(&self, sql: &str) -> String {
        self.psql_on(USER, sql)
    }

    fn psql_on(&self, database: &str, sql: &str) -> String {
        let output = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", USER])
            .args(["-p", &self.port.to_string(), "-d", database, "-c", sql])
            .output()
            .expect("run psql");
        assert!(output.status.success(), "psql -c {sql:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).expect("psql prints UTF-8").trim_end().to_owned()
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// A command that runs `program` of the server's binaries as the server
    /// user.
    fn server_command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        match &self.run_as {
            Some(user) => {
                let mut command = Command::new("setpriv");
                command
                    .args(["--reuid", user, "--regid", user, "--init-groups", "--"])
                    .arg(program)
                    .env("HOME", self.dir.path());
                command
            }
            None => Command::new(program),
        }
    }

    fn init_cluster(&self) {
        let output = self
            .server_command("initdb")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-U", USER, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"])
            .output()
            .expect("run initdb");
        assert!(output.status.success(), "initdb failed: {}", String::from_utf8_lossy(&output.stderr));
    }

    /// A CA, and a server certificate it signs for 127.0.0.1 and localhost,
    /// in the cluster's folder; the key readable by the server user only.
    fn make_certificates(&self) {
        let dir = self.dir.path();
        let openssl = |args: &[&str]| {
            let output = Command::new("openssl").args(args).current_dir(dir).output().unwrap_or_else(|e| {
                panic!("openssl is needed for a TLS test server (scripts/setup.sh installs it): {e}")
            });
            assert!(output.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        };
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .expect("write server.ext");
        let days = ["-days", "2"];
        let ca = ["-subj", "/CN=wasmroutes test CA", "-keyout", "ca.key", "-out", "ca.pem"];
        openssl(&[&["req", "-x509", "-newkey", "rsa:2048", "-nodes"][..], &ca, &days].concat());
        let csr = ["-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr"];
        openssl(&[&["req", "-newkey", "rsa:2048", "-nodes"][..], &csr].concat());
        let sign = ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial"];
        openssl(&[&sign[..], &["-out", "server.crt", "-extfile", "server.ext"], &days].concat());
        if let Some(user) = &self.run_as {
            chown(&dir.join("server.key"), user);
            chown(&dir.join("server.crt"), user);
        }
    }

    /// Starts the server on `self.port` and waits until it accepts
    /// connections; `Err` with its log if it exits first.
    fn spawn(&mut self) -> Result<(), String> {
        let log = std::fs::File::create(self.log_path()).expect("create the log");
        if let Some(user) = &self.run_as {
            chown(&self.log_path(), user);
        }
        let mut server = self.server_command("postgres");
        server
            .arg("-D")
            .arg(self.data_dir())
            .args(["-p", &self.port.to_string(), "-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", self.dir.path().display()))
            // Room for many hosts' pools at once.
            .args(["-c", "max_connections=200"]);
        if self.tls {
            let dir = self.dir.path();
            server.args(["-c", "ssl=on"]);
            server.arg("-c").arg(format!("ssl_cert_file={}", dir.join("server.crt").display()));
            server.arg("-c").arg(format!("ssl_key_file={}", dir.join("server.key").display()));
        }
        let process = GuardedProcess::spawn(&server, log, None);
        match process.wait_ready(START_TIMEOUT, Duration::from_millis(100), || self.accepts_connections()) {
            Ok(process) => {
                self.running = Some(process);
                Ok(())
            }
            Err(NotReady::Exited(_)) => Err(self.log_text()),
            Err(NotReady::TimedOut) => Err(format!("not ready within {START_TIMEOUT:?}\n{}", self.log_text())),
        }
    }

    fn accepts_connections(&self) -> bool {
        Command::new(self.bin.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", USER, "-d", "postgres"])
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Whether a process of this cluster still runs (its lock file names
    /// the postmaster; backends hold the data dir open).
    fn backends_alive(&self) -> bool {
        let Ok(pid) = std::fs::read_to_string(self.data_dir().join("postmaster.pid")) else { return false };
        let Some(pid) = pid.lines().next() else { return false };
        Path::new("/proc").join(pid.trim()).exists() || self.port_in_use()
    }

    fn port_in_use(&self) -> bool {
        std::net::TcpListener::bind(("127.0.0.1", self.port)).is_err()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Where the server programs are.
fn binaries() -> PathBuf {
    if let Some(dir) = std::env::var_os("WASMROUTES_POSTGRES_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("postgres").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return bin;
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .find(|dir| dir.join("postgres").is_file() && dir.join("initdb").is_file());
    on_path.unwrap_or_else(|| {
        panic!(
            "PostgreSQL's server programs (postgres, initdb) are not installed: run scripts/setup.sh \
             (Debian: apt-get install postgresql), or set WASMROUTES_POSTGRES_BIN"
        )
    })
}

#[allow(unsafe_code)] // geteuid is a plain libc call.
fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn chown(path: &Path, user: &str) {
    let status = Command::new("chown").arg(format!("{user}:")).arg(path).status().expect("run chown");
    assert!(status.success(), "chown {user} {}", path.display());
    let mode = if path.is_dir() { 0o700 } else { 0o600 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}
