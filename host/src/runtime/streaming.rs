//! The host side of a streaming handler's `responder` and `body-writer`
//! (`wasmroutes:api/types`): `start` hands the status and headers to the
//! executor waiting for them (`send`, a whole answer), and each `write` goes
//! into the response's bounded queue ([`super::response_body`]), waiting
//! while it is full.
//!
//! A write that cannot go on within the route's limits fails with a
//! `stream-error` the guest can act on: the client went away, nothing was
//! taken for `stream_idle_timeout`, or the body would pass
//! `max_stream_bytes`. The executor enforces the same limits from outside
//! (and `stream_timeout`), so a guest that ignores the error still ends.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

use super::bindings::wasmroutes::api::types as wit;
use super::guest_state::GuestState;
use super::response_body::{BodySender, Closed};

/// A stream's limits, from the route's `limits`.
#[derive(Clone, Copy, Debug)]
pub struct StreamLimits {
    /// Longest wait for the client to take a chunk, and longest time the
    /// guest may go without writing.
    pub idle_timeout: Duration,
    /// Most body bytes one stream may send.
    pub max_bytes: u64,
}

/// The status and headers a streaming handler started its answer with.
pub struct StreamHead {
    pub status: StatusCode,
    pub headers: HeaderMap,
}

/// When the stream last moved (a chunk taken, the head sent), for the
/// executor's idle watch.
#[derive(Clone)]
pub struct Progress(Arc<Mutex<Instant>>);

impl Progress {
    pub fn new() -> Progress {
        Progress(Arc::new(Mutex::new(Instant::now())))
    }

    pub fn touch(&self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }

    pub fn last(&self) -> Instant {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Resolves once nothing has moved for `limit`.
    pub async fn stalled_for(&self, limit: Duration) {
        loop {
            let deadline = self.last() + limit;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline.into()).await;
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

/// What the guest's responder sends the waiting executor.
pub enum GuestAnswer {
    /// `start`: the head; the body follows through the queue.
    Streamed(StreamHead),
    /// `send`: the whole answer, checked by the executor as a whole
    /// handler's.
    Whole(wit::Response),
    /// `start` with a status or headers that are not a valid answer: why.
    Refused(String),
}

/// The guest's `responder`: where its answer's head goes.
pub struct Responder {
    head: tokio::sync::oneshot::Sender<GuestAnswer>,
    body: BodyWriter,
}

impl Responder {
    /// A responder whose head goes to `head` and whose body to `body`.
    pub fn new(
        head: tokio::sync::oneshot::Sender<GuestAnswer>,
        body: BodySender,
        limits: StreamLimits,
        progress: Progress,
    ) -> Responder {
        Responder { head, body: BodyWriter { body, limits, progress } }
    }
}

/// The guest's `body-writer`.
pub struct BodyWriter {
    body: BodySender,
    limits: StreamLimits,
    progress: Progress,
}

impl BodyWriter {
    /// Runs `step` (a send into the queue) within the idle timeout.
    async fn within_idle<F>(&self, step: F) -> Result<(), wit::StreamError>
    where
        F: Future<Output = Result<(), Closed>>,
    {
        match tokio::time::timeout(self.limits.idle_timeout, step).await {
            Ok(Ok(())) => {
                self.progress.touch();
                Ok(())
            }
            Ok(Err(Closed)) => Err(wit::StreamError::Closed),
            Err(_) => Err(wit::StreamError::TimedOut(format!(
                "the client took nothing for {:?} (the route's stream_idle_timeout)",
                self.limits.idle_timeout
            ))),
        }
    }
}

/// The borrow of a store's data the generated traits are implemented on.
pub struct StreamingView<'a> {
    table: &'a mut ResourceTable,
}

impl<'a> StreamingView<'a> {
    pub fn new(table: &'a mut ResourceTable) -> Self {
        StreamingView { table }
    }
}

struct Streaming;

impl HasData for Streaming {
    type Data<'a> = StreamingView<'a>;
}

/// Adds `wasmroutes:api/types` (the streaming resources) to the linker.
pub fn add_to_linker(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    wit::add_to_linker::<GuestState, Streaming>(linker, GuestState::streaming)
}

impl wit::Host for StreamingView<'_> {}

impl wit::HostResponder for StreamingView<'_> {
    async fn start(
        &mut self,
        this: Resource<Responder>,
        status: u16,
        headers: Vec<(String, String)>,
    ) -> wasmtime::Result<Result<Resource<BodyWriter>, wit::StreamError>> {
        let responder = self.table.delete(this)?;
        let head = match crate::runtime::executor::response_head(status, headers) {
            Ok((status, headers)) => StreamHead { status, headers },
            Err(why) => {
                // The executor answers 500 and logs why; the guest hears it too.
                let _ = responder.head.send(GuestAnswer::Refused(why.clone()));
                return Ok(Err(wit::StreamError::Invalid(why)));
            }
        };
        if responder.head.send(GuestAnswer::Streamed(head)).is_err() {
            return Ok(Err(wit::StreamError::Closed));
        }
        responder.body.progress.touch();
        Ok(Ok(self.table.push(responder.body)?))
    }

    async fn send(
        &mut self,
        this: Resource<Responder>,
        answer: wit::Response,
    ) -> wasmtime::Result<Result<(), wit::StreamError>> {
        let responder = self.table.delete(this)?;
        // The executor checks the answer as it checks a whole handler's and
        // answers 500 if it is not valid; the guest's part is done either way.
        if responder.head.send(GuestAnswer::Whole(answer)).is_err() {
            return Ok(Err(wit::StreamError::Closed));
        }
        Ok(Ok(()))
    }

    async fn drop(&mut self, this: Resource<Responder>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

impl wit::HostBodyWriter for StreamingView<'_> {
    async fn write(
        &mut self,
        this: Resource<BodyWriter>,
        chunk: Vec<u8>,
    ) -> wasmtime::Result<Result<(), wit::StreamError>> {
        let writer = self.table.get(&this)?;
        let total = writer.body.written().saturating_add(chunk.len() as u64);
        if total > writer.limits.max_bytes {
            return Ok(Err(wit::StreamError::TooLarge(format!(
                "the body would pass {} bytes (the route's max_stream_bytes)",
                writer.limits.max_bytes
            ))));
        }
        if chunk.is_empty() {
            return Ok(Ok(()));
        }
        Ok(writer.within_idle(writer.body.send(Bytes::from(chunk))).await)
    }

    async fn flush(&mut self, this: Resource<BodyWriter>) -> wasmtime::Result<Result<(), wit::StreamError>> {
        let writer = self.table.get(&this)?;
        Ok(writer.within_idle(writer.body.flush()).await)
    }

    async fn finish(&mut self, this: Resource<BodyWriter>) -> wasmtime::Result<Result<(), wit::StreamError>> {
        let writer = self.table.delete(this)?;
        Ok(writer.within_idle(writer.body.finish()).await)
    }

    async fn drop(&mut self, this: Resource<BodyWriter>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}
