//! Streamed responses: the status and headers go out first, then the body in
//! chunks while the handler writes it.

use std::fmt;
use std::io;

use crate::response::replace_header;
use crate::{IntoResponse, Response};

/// What a streamed body runs: it writes the body, and its `Err` ends it early.
type Body = Box<dyn FnOnce(&mut BodyWriter) -> Result<(), StreamError> + Send + 'static>;

/// A response whose body is written while it is sent: server-sent events,
/// long exports, progress of slow work.
///
/// A handler that returns `Streaming` (or `Result<Streaming, E>`) is exported
/// as the method's streaming handler. The host sends the status and headers
/// at once, then runs the body closure; each [`BodyWriter::write`] reaches
/// the client as it happens, and waits while the client is slower than the
/// handler. The body ends when the closure returns. If it returns `Err`, the
/// error is logged and the body ends there (the client sees the end of the
/// stream, not an error status: that was sent already); a panic cuts the
/// stream off, so the client sees an incomplete answer.
///
/// `#[route]` tells a streaming handler from a whole one by the name of its
/// return type, so spell it `Streaming` (or `Result<Streaming, …>`), not an
/// alias. `head` and `options` handlers cannot stream: a `HEAD` request to a
/// streaming `get` gets its status and headers.
///
/// ```
/// use wasmroutes_sdk::{Request, Response, Streaming, route};
///
/// struct Countdown;
///
/// #[route]
/// impl Countdown {
///     fn get(req: Request) -> Streaming {
///         let from: u32 = req.query("from").and_then(|n| n.parse().ok()).unwrap_or(3);
///         Response::stream(move |body| {
///             for n in (1..=from).rev() {
///                 body.write(format!("{n}\n"))?;
///             }
///             body.write("liftoff\n")
///         })
///         .header("content-type", "text/plain; charset=utf-8")
///     }
/// }
///
/// // Outside wasm32 a handler is a plain function: a test reads the body.
/// let req = Request::builder(wasmroutes_sdk::Method::Get, "/countdown").query("from", "2").build();
/// let streaming = Countdown::get(req);
/// assert_eq!(streaming.status_code(), 200);
/// assert_eq!(streaming.read_to_end().unwrap(), b"2\n1\nliftoff\n");
/// ```
///
/// `head` cannot stream:
///
/// ```compile_fail
/// use wasmroutes_sdk::{Response, Streaming, route};
///
/// struct Nope;
///
/// #[route]
/// impl Nope {
///     fn head() -> Streaming {
///         Response::stream(|_| Ok(()))
///     }
/// }
/// ```
pub struct Streaming {
    status: u16,
    headers: Vec<(String, String)>,
    body: Body,
}

impl Streaming {
    /// `200`, no headers, and the body `body` writes. The same as
    /// [`Response::stream`].
    pub fn new<F>(body: F) -> Self
    where
        F: FnOnce(&mut BodyWriter) -> Result<(), StreamError> + Send + 'static,
    {
        Streaming { status: 200, headers: Vec::new(), body: Box::new(body) }
    }

    /// Sets the status: `200..=599`, as [`Response::status`].
    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Sets header `name`, replacing any earlier value of it.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        replace_header(&mut self.headers, name.into(), value.into());
        self
    }

    /// Adds a value for header `name`, keeping earlier ones.
    pub fn append_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The status code.
    pub fn status_code(&self) -> u16 {
        self.status
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// All headers in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// Runs the body to its end on this thread and returns it whole, or the
    /// error the body closure returned. For tests of finite streams; an
    /// endless one never returns (read it with `chunks`).
    pub fn read_to_end(self) -> Result<Vec<u8>, StreamError> {
        use std::cell::RefCell;
        use std::rc::Rc;

        /// Collects the chunks where the caller can take them back.
        struct Collect(Rc<RefCell<Vec<u8>>>);

        impl BodySink for Collect {
            fn write(&mut self, chunk: &[u8]) -> Result<(), StreamError> {
                self.0.borrow_mut().extend_from_slice(chunk);
                Ok(())
            }
            fn flush(&mut self) -> Result<(), StreamError> {
                Ok(())
            }
            fn finish(self: Box<Self>) -> Result<(), StreamError> {
                Ok(())
            }
        }

        let body = Rc::new(RefCell::new(Vec::new()));
        let mut writer = BodyWriter::new(Box::new(Collect(Rc::clone(&body))));
        (self.body)(&mut writer)?;
        drop(writer);
        Ok(body.take())
    }

    /// Runs the body on a thread of its own and yields its chunks as they are
    /// written, one [`BodyWriter::write`] each (empty ones are not sent).
    /// Each write waits until the chunk is taken, as on the host with a
    /// client that reads slowly; drop the iterator (or call
    /// [`Chunks::close`]) and the next write fails with
    /// [`StreamError::Closed`], as when a client goes away. So a test can
    /// read the start of an endless stream.
    ///
    /// The body runs on another thread, so it does not see the test
    /// thread's key-value stores and SQL databases (each thread has its own
    /// outside wasm32): do that work in the handler before it returns, or
    /// use [`read_to_end`](Self::read_to_end), which runs on this thread.
    ///
    /// ```
    /// use wasmroutes_sdk::{Response, StreamError};
    ///
    /// // An endless stream, as a client that reads three chunks and leaves sees it.
    /// let streaming = Response::stream(|body| {
    ///     for n in 0.. {
    ///         body.write(format!("{n} "))?;
    ///     }
    ///     Ok(())
    /// });
    /// let mut chunks = streaming.chunks();
    /// let first: Vec<Vec<u8>> = chunks.by_ref().take(3).collect();
    /// assert_eq!(first, [b"0 ".to_vec(), b"1 ".to_vec(), b"2 ".to_vec()]);
    /// // Hanging up: the handler's next write fails, and `?` returns that.
    /// assert_eq!(chunks.close(), Err(StreamError::Closed));
    /// ```
    #[cfg(not(target_arch = "wasm32"))]
    pub fn chunks(self) -> Chunks {
        // A rendezvous channel: a write waits for the reader, like the
        // host's bounded buffer waits for a slow client.
        let (sender, chunks) = std::sync::mpsc::sync_channel(0);
        let body = self.body;
        let thread = std::thread::Builder::new()
            .name("wasmroutes-stream".to_owned())
            .spawn(move || {
                let mut writer = BodyWriter::new(Box::new(ChannelSink(sender)));
                body(&mut writer)
            })
            .unwrap_or_else(|e| panic!("cannot start a thread for the streamed body: {e}"));
        Chunks { chunks: Some(chunks), thread: Some(thread), outcome: None }
    }

    pub(crate) fn into_parts(self) -> (u16, Vec<(String, String)>, Body) {
        (self.status, self.headers, self.body)
    }
}

impl fmt::Debug for Streaming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Streaming")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

/// A whole response sent through a streaming handler: its body, if it has
/// one, is the one chunk. This is how `Err` of a `Result<Streaming, Error>`
/// handler reaches the client.
impl From<Response> for Streaming {
    fn from(resp: Response) -> Self {
        let (status, headers, body) = resp.into_parts();
        Streaming { status, headers, body: Box::new(move |writer| writer.write(body)) }
    }
}

/// The body of a [`Streaming`] response, given to its closure.
///
/// It also implements [`std::io::Write`], where each `write` call is one
/// chunk: put a [`std::io::BufWriter`] in front of it for `write!` or
/// `serde_json::to_writer`, which write a few bytes at a time.
pub struct BodyWriter {
    /// `None` once the body is finished.
    sink: Option<Box<dyn BodySink>>,
}

impl BodyWriter {
    pub(crate) fn new(sink: Box<dyn BodySink>) -> Self {
        BodyWriter { sink: Some(sink) }
    }

    /// Sends `chunk` to the client. While the client is slower than the
    /// handler this waits, so a stream holds a bounded amount of memory
    /// however fast it is written. An empty chunk sends nothing.
    ///
    /// On an error, stop writing and return it (`?`): the client has gone
    /// ([`StreamError::Closed`]), or one of the route's stream limits passed.
    /// After [`finish`](Self::finish) every write is `Closed`.
    pub fn write(&mut self, chunk: impl AsRef<[u8]>) -> Result<(), StreamError> {
        let sink = self.sink.as_mut().ok_or(StreamError::Closed)?;
        let chunk = chunk.as_ref();
        if chunk.is_empty() {
            return Ok(());
        }
        sink.write(chunk)
    }

    /// Waits until everything written so far has been handed to the client's
    /// connection.
    pub fn flush(&mut self) -> Result<(), StreamError> {
        self.sink.as_mut().ok_or(StreamError::Closed)?.flush()
    }

    /// Ends the body now. The closure may go on working, but nothing it
    /// does reaches this client. Returning from the closure ends the body
    /// too, so this is only needed for work after the answer.
    pub fn finish(&mut self) -> Result<(), StreamError> {
        match self.sink.take() {
            Some(sink) => sink.finish(),
            None => Ok(()),
        }
    }
}

impl io::Write for BodyWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        BodyWriter::write(self, buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(BodyWriter::flush(self)?)
    }
}

impl fmt::Debug for BodyWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyWriter").field("finished", &self.sink.is_none()).finish()
    }
}

/// Why a streamed body cannot go on. The closure should return it (`?`):
/// the host ends the request soon after anyway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamError {
    /// The client went away (or the host is shutting down), or the body was
    /// already finished.
    Closed,
    /// A time limit of the route passed, for the whole stream or since the
    /// client last took a chunk; the text says which.
    TimedOut(String),
    /// The body would pass the route's limit on streamed bytes.
    TooLarge(String),
    /// The host refused the status or headers (an invalid status or header
    /// name, say), so nothing was sent.
    Invalid(String),
    /// The handler's own reason to stop, from [`StreamError::other`] or an
    /// I/O error that is not one of the above.
    Other(String),
}

impl StreamError {
    /// Ends the body for a reason of the handler's own, e.g. a failed
    /// lookup halfway through: `.map_err(|e| StreamError::other(e.to_string()))?`.
    pub fn other(message: impl Into<String>) -> Self {
        StreamError::Other(message.into())
    }
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Closed => f.write_str("the client went away"),
            StreamError::TimedOut(why) => write!(f, "timed out: {why}"),
            StreamError::TooLarge(why) => write!(f, "too large: {why}"),
            StreamError::Invalid(why) => write!(f, "invalid response: {why}"),
            StreamError::Other(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for StreamError {}

impl From<StreamError> for io::Error {
    fn from(err: StreamError) -> io::Error {
        let kind = match err {
            StreamError::Closed => io::ErrorKind::BrokenPipe,
            StreamError::TimedOut(_) => io::ErrorKind::TimedOut,
            StreamError::TooLarge(_) => io::ErrorKind::FileTooLarge,
            StreamError::Invalid(_) => io::ErrorKind::InvalidInput,
            StreamError::Other(_) => io::ErrorKind::Other,
        };
        io::Error::new(kind, err)
    }
}

/// Gives back the stream error an [`io::Write`] call on a [`BodyWriter`]
/// wrapped, so `?` after `write!` keeps it.
impl From<io::Error> for StreamError {
    fn from(err: io::Error) -> StreamError {
        let text = err.to_string();
        match err.into_inner().map(|inner| inner.downcast::<StreamError>()) {
            Some(Ok(inner)) => *inner,
            _ => StreamError::Other(text),
        }
    }
}

/// Where a [`BodyWriter`] sends its chunks: the host's `body-writer` on
/// wasm32 (the code `#[route]` generates), a channel or a buffer in tests.
#[doc(hidden)]
pub trait BodySink {
    /// Sends one non-empty chunk.
    fn write(&mut self, chunk: &[u8]) -> Result<(), StreamError>;
    /// Waits until the chunks are out.
    fn flush(&mut self) -> Result<(), StreamError>;
    /// Ends the body.
    fn finish(self: Box<Self>) -> Result<(), StreamError>;
}

/// Turns what a streaming handler returns into the [`Streaming`] sent.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "a streaming handler returns `Streaming` or `Result<Streaming, E>` (E: IntoResponse), not `{Self}`"
)]
pub trait IntoStreaming {
    /// The answer to send.
    fn into_streaming(self) -> Streaming;
}

impl IntoStreaming for Streaming {
    fn into_streaming(self) -> Streaming {
        self
    }
}

impl<T: IntoStreaming, E: IntoResponse> IntoStreaming for Result<T, E> {
    fn into_streaming(self) -> Streaming {
        match self {
            Ok(streaming) => streaming.into_streaming(),
            Err(err) => Streaming::from(err.into_response()),
        }
    }
}

/// Sends a streaming handler's answer: `start` sends the status and headers
/// and gives the body's sink, then the body closure writes to it. Errors are
/// logged; they end the body, they do not trap (a panic does).
#[doc(hidden)]
pub fn serve(
    streaming: Streaming,
    start: impl FnOnce(u16, Vec<(String, String)>) -> Result<Box<dyn BodySink>, StreamError>,
) {
    let (status, headers, body) = streaming.into_parts();
    let sink = match start(status, headers) {
        Ok(sink) => sink,
        Err(err) => {
            eprintln!("wasmroutes-sdk: the streamed response could not start: {err}");
            return;
        }
    };
    let mut writer = BodyWriter::new(sink);
    if let Err(err) = body(&mut writer).and_then(|()| writer.finish()) {
        eprintln!("wasmroutes-sdk: the streamed body ended early: {err}");
    }
}

/// Hands each chunk to the [`Chunks`] iterator, waiting until it is taken.
#[cfg(not(target_arch = "wasm32"))]
struct ChannelSink(std::sync::mpsc::SyncSender<Vec<u8>>);

#[cfg(not(target_arch = "wasm32"))]
impl BodySink for ChannelSink {
    fn write(&mut self, chunk: &[u8]) -> Result<(), StreamError> {
        self.0.send(chunk.to_vec()).map_err(|_| StreamError::Closed)
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<(), StreamError> {
        // Dropping the sender ends the reader's iteration.
        Ok(())
    }
}

/// The chunks of a [`Streaming`] body as a client receives them, from
/// [`Streaming::chunks`]. Outside wasm32 only, for tests.
///
/// Iteration ends when the body ends. If the body closure panicked, the
/// iterator panics with its payload there, so the test fails as the
/// handler did.
#[cfg(not(target_arch = "wasm32"))]
pub struct Chunks {
    /// `None` once the body ended or the reader hung up.
    chunks: Option<std::sync::mpsc::Receiver<Vec<u8>>>,
    thread: Option<std::thread::JoinHandle<Result<(), StreamError>>>,
    /// What the body closure returned, once it has.
    outcome: Option<Result<(), StreamError>>,
}

#[cfg(not(target_arch = "wasm32"))]
impl Chunks {
    /// Hangs up, as a client that goes away: the body's next write fails
    /// with [`StreamError::Closed`]. Then waits for the closure to return
    /// and gives what it returned (a body that ignores the error and goes
    /// on writing forever never returns). Resumes the closure's panic, if
    /// it panicked.
    pub fn close(mut self) -> Result<(), StreamError> {
        self.chunks = None;
        self.join();
        self.outcome.take().unwrap_or(Ok(()))
    }

    /// Waits for the body's thread and keeps its result.
    fn join(&mut self) {
        if let Some(thread) = self.thread.take() {
            match thread.join() {
                Ok(outcome) => self.outcome = Some(outcome),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl Iterator for Chunks {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        match self.chunks.as_ref()?.recv() {
            Ok(chunk) => Some(chunk),
            Err(_) => {
                // The writer is gone: the body returned, finished, or
                // panicked. A panic must fail the test, so wait and see.
                self.chunks = None;
                self.join();
                None
            }
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl fmt::Debug for Chunks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chunks").field("ended", &self.chunks.is_none()).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::Error;

    #[test]
    fn status_and_headers_are_set_before_the_body_runs() {
        let streaming = Response::stream(|_| Ok(()))
            .status(201)
            .header("Content-Type", "text/plain")
            .header("content-type", "text/csv")
            .append_header("set-cookie", "a=1")
            .append_header("set-cookie", "b=2");
        assert_eq!(streaming.status_code(), 201);
        assert_eq!(streaming.header_value("CONTENT-TYPE"), Some("text/csv"));
        assert_eq!(streaming.headers().iter().filter(|(k, _)| k == "set-cookie").count(), 2);
    }

    #[test]
    fn chunks_come_one_write_each_without_empty_ones() {
        let streaming = Streaming::new(|w| {
            w.write("a")?;
            w.write("")?;
            w.write(b"bc")?;
            w.flush()?;
            w.write(vec![b'd'])
        });
        assert_eq!(streaming.chunks().collect::<Vec<_>>(), [b"a".to_vec(), b"bc".to_vec(), b"d".to_vec()]);
    }

    #[test]
    fn a_reader_that_hangs_up_closes_the_writer() {
        let seen = Arc::new(Mutex::new(None));
        let seen_by_body = Arc::clone(&seen);
        let streaming = Streaming::new(move |w| {
            let mut n = 0u64;
            let err = loop {
                if let Err(err) = w.write(n.to_string()) {
                    break err;
                }
                n += 1;
            };
            *seen_by_body.lock().unwrap() = Some((n, err.clone()));
            Err(err)
        });
        let mut chunks = streaming.chunks();
        assert_eq!(chunks.next(), Some(b"0".to_vec()));
        assert_eq!(chunks.next(), Some(b"1".to_vec()));
        assert_eq!(chunks.close(), Err(StreamError::Closed));
        // The third write is the one that found the reader gone.
        assert_eq!(*seen.lock().unwrap(), Some((2, StreamError::Closed)));
    }

    #[test]
    #[should_panic(expected = "the body broke")]
    fn a_panicking_body_fails_the_reader() {
        let streaming = Streaming::new(|w| {
            w.write("partial")?;
            panic!("the body broke");
        });
        for _ in streaming.chunks() {}
    }

    #[test]
    fn finish_ends_the_body_and_later_writes_are_closed() {
        let streaming = Streaming::new(|w| {
            w.write("done")?;
            w.finish()?;
            w.finish()?;
            assert_eq!(w.write("late"), Err(StreamError::Closed));
            Ok(())
        });
        let mut chunks = streaming.chunks();
        assert_eq!(chunks.by_ref().collect::<Vec<_>>(), [b"done".to_vec()]);
        assert_eq!(chunks.close(), Ok(()));
    }

    #[test]
    fn read_to_end_gives_the_body_or_its_error() {
        let ok = Streaming::new(|w| {
            w.write("a")?;
            w.write("b")
        });
        assert_eq!(ok.read_to_end().unwrap(), b"ab");
        let failed = Streaming::new(|w| {
            w.write("a")?;
            Err(StreamError::other("lookup failed"))
        });
        assert_eq!(failed.read_to_end(), Err(StreamError::Other("lookup failed".into())));
    }

    #[test]
    fn io_write_keeps_the_stream_error() {
        let streaming = Streaming::new(|w| {
            w.finish()?;
            write!(w, "{}", 1)?;
            Ok(())
        });
        assert_eq!(streaming.read_to_end(), Err(StreamError::Closed));
        let via_bufwriter = Streaming::new(|w| {
            let mut out = std::io::BufWriter::new(w);
            write!(out, "{}-{}", 1, 2)?;
            out.flush()?;
            Ok(())
        });
        assert_eq!(via_bufwriter.read_to_end().unwrap(), b"1-2");
        let foreign = io::Error::other("disk on fire");
        assert_eq!(StreamError::from(foreign), StreamError::Other("disk on fire".into()));
    }

    #[test]
    fn an_error_result_is_sent_whole() {
        let r: Result<Streaming, Error> = Err(Error::bad_request("count must be 1 to 1000"));
        let streaming = r.into_streaming();
        assert_eq!(streaming.status_code(), 400);
        assert_eq!(streaming.header_value("content-type"), Some("application/json"));
        assert_eq!(streaming.read_to_end().unwrap(), br#"{"error":"count must be 1 to 1000"}"#);
    }

    /// A host's `body-writer`, recorded.
    #[derive(Clone, Default)]
    struct Recorded(Arc<Mutex<Vec<String>>>);

    impl Recorded {
        fn log(&self, line: impl Into<String>) {
            self.0.lock().unwrap().push(line.into());
        }
        fn lines(&self) -> Vec<String> {
            self.0.lock().unwrap().clone()
        }
    }

    struct RecordingSink(Recorded, Option<StreamError>);

    impl BodySink for RecordingSink {
        fn write(&mut self, chunk: &[u8]) -> Result<(), StreamError> {
            self.0.log(format!("write {}", String::from_utf8_lossy(chunk)));
            self.1.clone().map_or(Ok(()), Err)
        }
        fn flush(&mut self) -> Result<(), StreamError> {
            self.0.log("flush");
            Ok(())
        }
        fn finish(self: Box<Self>) -> Result<(), StreamError> {
            self.0.log("finish");
            Ok(())
        }
    }

    #[test]
    fn serve_starts_then_writes_then_finishes() {
        let rec = Recorded::default();
        let start_rec = rec.clone();
        let streaming = Response::stream(|w| {
            w.write("one")?;
            w.flush()?;
            w.write("two")
        })
        .header("x-a", "1");
        serve(streaming, move |status, headers| {
            start_rec.log(format!("start {status} {headers:?}"));
            Ok(Box::new(RecordingSink(start_rec, None)))
        });
        assert_eq!(rec.lines(), [r#"start 200 [("x-a", "1")]"#, "write one", "flush", "write two", "finish"]);
    }

    #[test]
    fn serve_stops_at_the_first_error_and_does_not_finish() {
        let rec = Recorded::default();
        let start_rec = rec.clone();
        let streaming = Response::stream(|w| {
            w.write("one")?;
            w.write("two")
        });
        serve(streaming, move |_, _| Ok(Box::new(RecordingSink(start_rec, Some(StreamError::Closed)))));
        assert_eq!(rec.lines(), ["write one"]);
    }

    #[test]
    fn serve_does_not_run_the_body_when_start_fails() {
        let ran = Arc::new(Mutex::new(false));
        let ran_in_body = Arc::clone(&ran);
        let streaming = Response::stream(move |_| {
            *ran_in_body.lock().unwrap() = true;
            Ok(())
        });
        serve(streaming, |_, _| Err(StreamError::Invalid("status 99".into())));
        assert!(!*ran.lock().unwrap());
    }
}
