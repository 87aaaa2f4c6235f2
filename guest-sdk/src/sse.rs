//! Server-sent events (`text/event-stream`): a streamed response a browser
//! reads with `EventSource`, one event at a time.
//!
//! [`Response::sse`](crate::Response::sse) sets the headers and gives the
//! closure an [`EventWriter`]; each [`Event`] goes out as one chunk.
//!
//! ```
//! use std::time::Duration;
//! use wasmroutes_sdk::sse::Event;
//! use wasmroutes_sdk::{Response, Streaming, route};
//!
//! struct Progress;
//!
//! #[route]
//! impl Progress {
//!     fn get() -> Streaming {
//!         Response::sse(|events| {
//!             events.send(Event::new().retry(Duration::from_secs(5)))?;
//!             for step in 1..=3 {
//!                 events.send(Event::new().event("step").id(step.to_string()).data(format!("{step} of 3")))?;
//!             }
//!             events.comment("done")
//!         })
//!     }
//! }
//!
//! let text = String::from_utf8(Progress::get().read_to_end().unwrap()).unwrap();
//! assert!(text.starts_with("retry: 5000\n\nevent: step\nid: 1\ndata: 1 of 3\n\n"));
//! assert!(text.ends_with(": done\n\n"));
//! ```
//!
//! A browser that loses the stream reconnects by itself after the `retry`
//! delay, with the last `id` it saw in the `Last-Event-ID` request header
//! (`req.header("last-event-id")`), so a handler can go on from there. A
//! `204` answer tells it to stop reconnecting.

use std::fmt;
use std::time::Duration;

use crate::{BodyWriter, StreamError};

/// One server-sent event: its fields, each optional.
///
/// `Display` gives its wire form: `event:`, `id:`, `retry:` (milliseconds)
/// and one `data:` line per line of the data, then the blank line that ends
/// the event. A browser dispatches only events with data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Event {
    event: Option<String>,
    id: Option<String>,
    data: Option<String>,
    retry: Option<Duration>,
}

impl Event {
    /// An event with no fields yet.
    pub fn new() -> Self {
        Event::default()
    }

    /// The event type, which `EventSource.addEventListener(type, …)` listens
    /// for (without it, `onmessage` gets the event). Line breaks are dropped:
    /// they would end the field.
    pub fn event(mut self, name: impl Into<String>) -> Self {
        self.event = Some(one_line(name.into()));
        self
    }

    /// The event id, which the browser sends back as `Last-Event-ID` when it
    /// reconnects. Line breaks and NUL are dropped (a browser ignores an id
    /// with a NUL).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(one_line(id.into()).replace('\0', ""));
        self
    }

    /// The data, any text: each of its lines is sent as a `data:` line, and
    /// the browser joins them back with `\n`.
    pub fn data(mut self, data: impl Into<String>) -> Self {
        self.data = Some(data.into());
        self
    }

    /// How long the browser waits before it reconnects after losing the
    /// stream; sent in whole milliseconds.
    pub fn retry(mut self, after: Duration) -> Self {
        self.retry = Some(after);
        self
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(event) = &self.event {
            writeln!(f, "event: {event}")?;
        }
        if let Some(id) = &self.id {
            writeln!(f, "id: {id}")?;
        }
        if let Some(retry) = self.retry {
            writeln!(f, "retry: {}", retry.as_millis())?;
        }
        if let Some(data) = &self.data {
            for line in lines(data) {
                writeln!(f, "data: {line}")?;
            }
        }
        writeln!(f)
    }
}

/// Where a [`Response::sse`](crate::Response::sse) closure sends its events.
#[derive(Debug)]
pub struct EventWriter<'a> {
    body: &'a mut BodyWriter,
}

impl<'a> EventWriter<'a> {
    pub(crate) fn new(body: &'a mut BodyWriter) -> Self {
        EventWriter { body }
    }

    /// Sends `event`, as one chunk. Waits while the client is slow, and
    /// fails as [`BodyWriter::write`] does.
    pub fn send(&mut self, event: Event) -> Result<(), StreamError> {
        self.body.write(event.to_string())
    }

    /// Sends a comment (`: text`), which the browser ignores: a keep-alive
    /// for proxies and clients that drop a quiet connection.
    pub fn comment(&mut self, text: &str) -> Result<(), StreamError> {
        let mut chunk = String::new();
        for line in lines(text) {
            chunk.push_str(": ");
            chunk.push_str(line);
            chunk.push('\n');
        }
        chunk.push('\n');
        self.body.write(chunk)
    }

    /// Waits until everything sent so far has been handed to the client's
    /// connection.
    pub fn flush(&mut self) -> Result<(), StreamError> {
        self.body.flush()
    }

    /// The body underneath, to write something that is not an event.
    pub fn body(&mut self) -> &mut BodyWriter {
        self.body
    }
}

/// `text` without CR and LF.
fn one_line(text: String) -> String {
    if text.contains(['\r', '\n']) { text.replace(['\r', '\n'], "") } else { text }
}

/// The lines of `text`, split where an event stream ends a line (CRLF, CR
/// or LF). A trailing line break gives a last, empty line, so the browser
/// gets the data back as it was.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let text = rest?;
        match text.find(['\r', '\n']) {
            Some(at) => {
                let skip = if text[at..].starts_with("\r\n") { 2 } else { 1 };
                rest = Some(&text[at + skip..]);
                Some(&text[..at])
            }
            None => {
                rest = None;
                Some(text)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Response;

    #[test]
    fn an_event_is_its_fields_then_a_blank_line() {
        let event = Event::new().event("tick").id("7").retry(Duration::from_millis(1500)).data("hello");
        assert_eq!(event.to_string(), "event: tick\nid: 7\nretry: 1500\ndata: hello\n\n");
    }

    #[test]
    fn each_line_of_data_is_a_data_line() {
        assert_eq!(Event::new().data("a\nb\r\nc\rd").to_string(), "data: a\ndata: b\ndata: c\ndata: d\n\n");
        // A trailing line break survives as an empty last line.
        assert_eq!(Event::new().data("a\n").to_string(), "data: a\ndata: \n\n");
        assert_eq!(Event::new().data("").to_string(), "data: \n\n");
        // A leading space is kept: the parser strips only the one after the colon.
        assert_eq!(Event::new().data(" x").to_string(), "data:  x\n\n");
    }

    #[test]
    fn fields_that_are_unset_are_left_out() {
        assert_eq!(Event::new().to_string(), "\n");
        assert_eq!(Event::new().retry(Duration::from_secs(3)).to_string(), "retry: 3000\n\n");
    }

    #[test]
    fn line_breaks_cannot_end_the_event_or_id_early() {
        let event = Event::new().event("a\nb").id("1\r\n2\0");
        assert_eq!(event.to_string(), "event: ab\nid: 12\n\n");
    }

    #[test]
    fn sse_sets_the_headers_and_sends_one_chunk_per_event() {
        let streaming = Response::sse(|events| {
            events.comment("hi\nthere")?;
            events.send(Event::new().data("{\"n\":1}"))?;
            events.flush()?;
            events.body().write("data: raw\n\n")
        });
        assert_eq!(streaming.status_code(), 200);
        assert_eq!(streaming.header_value("content-type"), Some("text/event-stream"));
        assert_eq!(streaming.header_value("cache-control"), Some("no-cache"));
        assert_eq!(streaming.header_value("x-accel-buffering"), Some("no"));
        let chunks: Vec<String> = streaming.chunks().map(|c| String::from_utf8(c).unwrap()).collect();
        assert_eq!(chunks, [": hi\n: there\n\n", "data: {\"n\":1}\n\n", "data: raw\n\n"]);
    }
}
