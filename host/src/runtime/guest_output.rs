//! A guest's stdout and stderr, turned into host log lines tagged with the
//! route and request id.
//!
//! Output is capped twice so a chatty guest cannot flood the log: bytes per
//! request ([`OUTPUT_CAP`]), and lines per second per route ([`LogBudget`]).
//! What goes over either cap is counted and reported once, not written.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// Bytes of output one request may log per stream.
pub const OUTPUT_CAP: usize = 16 * 1024;

/// Longest line logged as one event; longer lines are split.
const MAX_LINE: usize = 4 * 1024;

/// Lines per second one route may log, on average.
pub const LINES_PER_SECOND: f64 = 200.0;

/// Lines one route may log in a burst.
pub const LINE_BURST: f64 = 2000.0;

/// A route's shared allowance of log lines (a token bucket).
pub struct LogBudget {
    state: Mutex<(f64, Instant)>,
}

impl Default for LogBudget {
    fn default() -> Self {
        LogBudget { state: Mutex::new((LINE_BURST, Instant::now())) }
    }
}

impl LogBudget {
    /// Takes one line's worth; false when the route is over its rate.
    fn take(&self) -> bool {
        let Ok(mut state) = self.state.lock() else { return false };
        let (tokens, last) = &mut *state;
        let now = Instant::now();
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * LINES_PER_SECOND).min(LINE_BURST);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// One guest stream (`stdout` or `stderr`) of one request.
#[derive(Clone)]
pub struct GuestOutput {
    state: Arc<Mutex<OutputState>>,
}

struct OutputState {
    stream: &'static str,
    route: Arc<str>,
    request_id: Arc<str>,
    budget: Arc<LogBudget>,
    line: Vec<u8>,
    logged: usize,
    dropped: usize,
    lines_suppressed: usize,
}

impl GuestOutput {
    /// A stream named `stream` for one request of `route`.
    pub fn new(stream: &'static str, route: Arc<str>, request_id: Arc<str>, budget: Arc<LogBudget>) -> Self {
        let state = OutputState {
            stream,
            route,
            request_id,
            budget,
            line: Vec::new(),
            logged: 0,
            dropped: 0,
            lines_suppressed: 0,
        };
        GuestOutput { state: Arc::new(Mutex::new(state)) }
    }

    /// Ends the current request's output: logs a final unterminated line
    /// and reports what the caps cut. Called when the handler returns, so the
    /// report is in the log before the response is sent (the stream's last
    /// handle is dropped later, by a WASI background task).
    pub fn end_request(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.finish();
        }
    }

    /// Tags what follows with `request_id` (for an instance that serves
    /// several requests; the previous one was ended by [`Self::end_request`]).
    pub fn next_request(&self, request_id: Arc<str>) {
        if let Ok(mut state) = self.state.lock() {
            state.request_id = request_id;
        }
    }

    fn write(&self, buf: &[u8]) {
        let Ok(mut state) = self.state.lock() else { return };
        let room = OUTPUT_CAP.saturating_sub(state.logged);
        let (kept, over) = buf.split_at(buf.len().min(room));
        state.logged += kept.len();
        state.dropped += over.len();
        for &byte in kept {
            if byte == b'\n' {
                state.emit_line();
            } else {
                state.line.push(byte);
                if state.line.len() >= MAX_LINE {
                    state.emit_line();
                }
            }
        }
    }
}

impl OutputState {
    fn emit_line(&mut self) {
        if !self.budget.take() {
            self.lines_suppressed += 1;
            self.line.clear();
            return;
        }
        let text = String::from_utf8_lossy(&self.line);
        let text = text.trim_end_matches('\r');
        tracing::info!(target: "wasmroutes::guest", route = %self.route, request_id = %self.request_id, stream = self.stream, "{text}");
        self.line.clear();
    }

    /// Flushes a final unterminated line and reports what the caps cut, then
    /// starts counting afresh.
    fn finish(&mut self) {
        if !self.line.is_empty() {
            self.emit_line();
        }
        if self.dropped > 0 {
            self.report_cut(format!("guest output over {OUTPUT_CAP} bytes: {} bytes not logged", self.dropped));
        }
        if self.lines_suppressed > 0 {
            self.report_cut(format!(
                "route over {LINES_PER_SECOND} log lines/s: {} lines not logged",
                self.lines_suppressed
            ));
        }
        self.logged = 0;
        self.dropped = 0;
        self.lines_suppressed = 0;
    }

    fn report_cut(&self, what: String) {
        tracing::warn!(
            target: "wasmroutes::guest",
            route = %self.route,
            request_id = %self.request_id,
            stream = self.stream,
            "{what}"
        );
    }
}

impl Drop for OutputState {
    // Normally `end_request` has already reported everything. This catches a
    // call that never got there: its future was dropped mid-flight because
    // the client went away.
    fn drop(&mut self) {
        self.finish();
    }
}

impl AsyncWrite for GuestOutput {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.write(buf);
        // Accept everything so a guest never blocks or fails on logging.
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects formatted log lines written while `f` runs.
    fn logged(f: impl FnOnce()) -> String {
        let buf = Arc::new(Mutex::new(Vec::<u8>::new()));
        let writer = {
            let buf = Arc::clone(&buf);
            move || SharedBuf(Arc::clone(&buf))
        };
        let subscriber = tracing_subscriber::fmt().with_writer(writer).with_ansi(false).finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = buf.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    struct SharedBuf(Arc<Mutex<Vec<u8>>>);

    impl io::Write for SharedBuf {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            if let Ok(mut buf) = self.0.lock() {
                buf.extend_from_slice(data);
            }
            Ok(data.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn output() -> GuestOutput {
        GuestOutput::new("stdout", "/r".into(), "id-1".into(), Arc::new(LogBudget::default()))
    }

    #[test]
    fn end_request_reports_the_cut_while_the_stream_is_still_alive() {
        let out = output();
        let log = logged(|| {
            out.write(&vec![b'x'; OUTPUT_CAP + 10]);
            out.end_request();
        });
        assert!(log.contains("10 bytes not logged"), "{log}");
        // The counts start over: dropping the last handle reports nothing more.
        assert_eq!(logged(|| drop(out)), "");
    }

    #[test]
    fn an_unterminated_last_line_is_logged_at_the_end_of_the_request() {
        let out = output();
        let log = logged(|| {
            out.write(b"one\ntwo");
            out.end_request();
        });
        let lines: Vec<_> = log.lines().collect();
        assert_eq!(lines.len(), 2, "{log}");
        assert!(lines[0].contains("one") && lines[1].contains("two"), "{log}");
    }

    #[test]
    fn a_reused_stream_tags_lines_with_the_new_request_id() {
        let out = output();
        let log = logged(|| {
            out.write(b"first\n");
            out.end_request();
            out.next_request("id-2".into());
            out.write(b"second\n");
        });
        assert!(log.lines().any(|l| l.contains("first") && l.contains("request_id=id-1")), "{log}");
        assert!(log.lines().any(|l| l.contains("second") && l.contains("request_id=id-2")), "{log}");
    }
}
