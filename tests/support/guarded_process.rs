//! A test server's process under a guard: a small shell that runs the
//! server and kills it with SIGKILL as soon as its stdin reaches end of
//! file. The test process holds the only writer of that stdin, so the server
//! dies when the test stops it, drops it, or exits or dies however it does
//! (a `static` server is never dropped, a `kill -9` of the test runs no
//! destructor). The servers of [`crate::redis_server`] and
//! [`crate::postgres_server`] run so.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

/// `$1`: a folder to remove once the server is gone if the owner went
/// without stopping it (empty: none); the rest: the server's command. A
/// line on stdin before end of file means the owner stopped it, so the
/// folder stays (a restart needs it). Exits when the server does, with its
/// status, after reaping it: once the guard has exited the server is gone,
/// not a zombie that still looks alive in `/proc`.
const GUARD_SCRIPT: &str = r#"
dir=$1
shift
exec 3<&0
"$@" </dev/null 3<&- &
pid=$!
(
    if ! read -r _ <&3 && [ -n "$dir" ]; then
        : >"$dir/owner-gone"
    fi
    kill -9 "$pid" 2>/dev/null
) &
guard=$!
exec 3<&- </dev/null
wait "$pid"
status=$?
kill "$guard" 2>/dev/null
wait "$guard"
# rm -rf only ever a test server's temp dir, whatever the caller passed.
case "$dir" in
    */*-test-*) [ -e "$dir/owner-gone" ] && rm -rf "$dir" ;;
esac
exit "$status"
"#;

/// Why [`GuardedProcess::wait_ready`] gave up; the server is gone either
/// way.
#[derive(Debug)]
pub enum NotReady {
    /// It exited first (it could not bind its port, say).
    Exited(ExitStatus),
    /// It did not get ready in time, so it was killed.
    TimedOut,
}

/// A server running under the guard; killed (SIGKILL) and waited for on
/// drop.
pub struct GuardedProcess {
    guard: Child,
    /// The write end of the guard's stdin; `None` once it was told to stop.
    stdin: Option<ChildStdin>,
}

impl GuardedProcess {
    /// Runs `server` (its program, arguments and environment) under the
    /// guard, its stdout and stderr to `output`. `orphan_dir` is removed
    /// when the test process goes without stopping the server, since the
    /// `TempDir` that owns it is then never dropped.
    pub fn spawn(server: &Command, output: File, orphan_dir: Option<&Path>) -> GuardedProcess {
        let mut guard = Command::new("sh")
            .arg("-c")
            .arg(GUARD_SCRIPT)
            .arg("test-server-guard")
            .arg(orphan_dir.map_or("".as_ref(), Path::as_os_str))
            .arg(server.get_program())
            .args(server.get_args())
            .envs(server.get_envs().filter_map(|(k, v)| Some((k, v?))))
            .stdin(Stdio::piped())
            .stdout(output.try_clone().expect("clone the output file"))
            .stderr(output)
            .spawn()
            .expect("run sh");
        let stdin = guard.stdin.take().expect("piped stdin");
        GuardedProcess { guard, stdin: Some(stdin) }
    }

    /// Asks `ready` every `poll` until it says yes; gives up, killing the
    /// server, if it exits first or `timeout` passes.
    pub fn wait_ready(
        mut self,
        timeout: Duration,
        poll: Duration,
        mut ready: impl FnMut() -> bool,
    ) -> Result<GuardedProcess, NotReady> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.guard.try_wait() {
                return Err(NotReady::Exited(status));
            }
            if ready() {
                return Ok(self);
            }
            if Instant::now() >= deadline {
                return Err(NotReady::TimedOut);
            }
            std::thread::sleep(poll);
        }
    }

    /// Kills the server with SIGKILL (a crash, not a shutdown) and waits
    /// until it is gone; its folder stays.
    pub fn kill(mut self) {
        self.kill_and_wait();
    }

    fn kill_and_wait(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"stop\n");
            drop(stdin);
            let _ = self.guard.wait();
        }
    }
}

impl Drop for GuardedProcess {
    fn drop(&mut self) {
        self.kill_and_wait();
    }
}

/// Starts a server with `start` on a free port, trying another if some
/// other process takes the port between our probe and the server binding
/// it; returns the port. `start` gives the server's log when it fails.
pub fn start_on_free_port(name: &str, mut start: impl FnMut(u16) -> Result<(), String>) -> u16 {
    let mut last_log = String::new();
    for _ in 0..5 {
        let port = free_port();
        match start(port) {
            Ok(()) => return port,
            Err(log) => last_log = log,
        }
    }
    panic!("{name} did not start; its log:\n{last_log}");
}

/// Starts a server with `start` again on `port`, which it just let go of,
/// retrying every `pause` for up to `within` while the kernel (or the old
/// server's last processes) still hold it.
pub fn restart_on_port(
    name: &str,
    port: u16,
    within: Duration,
    pause: Duration,
    mut start: impl FnMut() -> Result<(), String>,
) {
    let deadline = Instant::now() + within;
    loop {
        match start() {
            Ok(()) => return,
            Err(log) if Instant::now() >= deadline => {
                panic!("{name} did not restart on port {port}; its log:\n{log}")
            }
            Err(_) => std::thread::sleep(pause),
        }
    }
}
