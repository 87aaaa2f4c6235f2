//! The body of an answer: whole (most answers: the guest's `response`
//! record, the host's own errors), or streamed from a guest that is still
//! running.
//!
//! A streamed body is a small bounded queue between the guest's writes and
//! hyper: the writer waits while it is full, so a slow client slows the
//! guest down instead of growing the host's memory. It ends one of three
//! ways, and its owner hears which ([`StreamedBody::on_end`]):
//! - **complete**: the writer said so ([`BodySender::finish`]);
//! - **cut**: the writer failed after the head was sent (a trap, a limit).
//!   The body then yields an error, so hyper ends the answer without its
//!   last chunk (HTTP/1.1) or resets the stream (HTTP/2): a client can tell
//!   a cut answer from a complete one. A writer dropped without finishing
//!   counts as cut;
//! - **client gone**: hyper dropped the body before its end.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

/// Frames a stream's queue holds before the writer waits.
const QUEUED_FRAMES: usize = 4;

/// Largest frame put in the queue; a longer write is sent in pieces of this
/// size, so the queue holds at most `QUEUED_FRAMES` of them.
const MAX_FRAME: usize = 64 * 1024;

/// An HTTP answer's body.
pub enum ResponseBody {
    /// All of it, known now (`None` once hyper has taken it).
    Whole(Option<Bytes>),
    /// Flowing from a running guest.
    Streamed(StreamedBody),
}

impl ResponseBody {
    /// No body.
    pub fn empty() -> ResponseBody {
        ResponseBody::Whole(None)
    }
}

impl From<Bytes> for ResponseBody {
    fn from(bytes: Bytes) -> ResponseBody {
        ResponseBody::Whole(Some(bytes))
    }
}

impl From<String> for ResponseBody {
    fn from(text: String) -> ResponseBody {
        ResponseBody::from(Bytes::from(text))
    }
}

impl From<Vec<u8>> for ResponseBody {
    fn from(bytes: Vec<u8>) -> ResponseBody {
        ResponseBody::from(Bytes::from(bytes))
    }
}

/// Why a streamed body ended early, as hyper sees it.
#[derive(Debug, thiserror::Error)]
#[error("the stream was cut off: {0}")]
pub struct StreamCut(pub String);

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = StreamCut;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, StreamCut>>> {
        match &mut *self {
            ResponseBody::Whole(bytes) => {
                Poll::Ready(bytes.take().filter(|b| !b.is_empty()).map(|b| Ok(Frame::data(b))))
            }
            ResponseBody::Streamed(stream) => stream.poll_next(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResponseBody::Whole(bytes) => bytes.as_ref().is_none_or(Bytes::is_empty),
            ResponseBody::Streamed(stream) => stream.ended.is_some(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Whole(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            ResponseBody::Streamed(_) => SizeHint::default(),
        }
    }
}

/// What goes through a stream's queue.
enum Item {
    Data(Bytes),
    End,
    Cut(String),
}

/// How a stream ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamEnd {
    /// Every byte was handed to the connection.
    Complete,
    /// The writer failed after the head; the client sees an incomplete answer.
    Cut(String),
    /// The client went away (hyper dropped the body) first.
    ClientGone,
}

impl StreamEnd {
    /// Its name in logs and metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            StreamEnd::Complete => "complete",
            StreamEnd::Cut(_) => "cut",
            StreamEnd::ClientGone => "client_gone",
        }
    }
}

/// What a stream came to, for the access log and the metrics.
#[derive(Clone, Debug)]
pub struct StreamSummary {
    /// How it ended.
    pub end: StreamEnd,
    /// Body bytes handed to the connection.
    pub bytes: u64,
    /// From the head to the end.
    pub duration: Duration,
}

/// The receiving end of a stream, the body hyper polls.
pub struct StreamedBody {
    items: mpsc::Receiver<Item>,
    /// Why the writer cut the stream, when the queue had no room to say so.
    cut: Arc<Mutex<Option<String>>>,
    started: Instant,
    bytes: u64,
    ended: Option<StreamEnd>,
    /// A cut held back for one poll: see [`StreamedBody::poll_next`].
    held_cut: Option<String>,
    on_end: Option<Box<dyn FnOnce(StreamSummary) + Send + Sync>>,
}

impl StreamedBody {
    /// Calls `report` once, when the stream has ended (or is dropped).
    pub fn on_end(&mut self, report: impl FnOnce(StreamSummary) + Send + Sync + 'static) {
        self.on_end = Some(Box::new(report));
    }

    /// A cut reaches hyper one poll after it is read, through a `Pending`
    /// that wakes at once: hyper flushes what it holds when the body is
    /// pending, but drops it when the body fails, so without that pause the
    /// chunks written just before a trap would never reach the client.
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, StreamCut>>> {
        if self.ended.is_some() {
            return Poll::Ready(None);
        }
        if let Some(why) = self.held_cut.take() {
            self.end(StreamEnd::Cut(why.clone()));
            return Poll::Ready(Some(Err(StreamCut(why))));
        }
        let item = match self.items.poll_recv(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(item) => item,
        };
        let why = match item {
            Some(Item::Data(bytes)) => {
                self.bytes += bytes.len() as u64;
                return Poll::Ready(Some(Ok(Frame::data(bytes))));
            }
            Some(Item::End) => {
                self.end(StreamEnd::Complete);
                return Poll::Ready(None);
            }
            Some(Item::Cut(why)) => why,
            None => self
                .cut
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
                .unwrap_or_else(|| "the writer stopped without finishing the body".to_owned()),
        };
        self.held_cut = Some(why);
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    fn end(&mut self, end: StreamEnd) {
        self.ended = Some(end.clone());
        self.items.close();
        if let Some(report) = self.on_end.take() {
            report(StreamSummary { end, bytes: self.bytes, duration: self.started.elapsed() });
        }
    }
}

impl Drop for StreamedBody {
    fn drop(&mut self) {
        if self.ended.is_none() {
            self.end(StreamEnd::ClientGone);
        }
    }
}

/// The client went away: the body can take nothing more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the client went away")]
pub struct Closed;

/// The writing end of a stream. Clones share the queue and its count.
#[derive(Clone)]
pub struct BodySender {
    items: mpsc::Sender<Item>,
    written: Arc<AtomicU64>,
    cut: Arc<Mutex<Option<String>>>,
}

/// A new stream: its writer and the body to answer with.
pub fn stream() -> (BodySender, StreamedBody) {
    let (items, receiver) = mpsc::channel(QUEUED_FRAMES);
    let cut = Arc::new(Mutex::new(None));
    let sender = BodySender { items, written: Arc::new(AtomicU64::new(0)), cut: Arc::clone(&cut) };
    let body = StreamedBody {
        items: receiver,
        cut,
        started: Instant::now(),
        bytes: 0,
        ended: None,
        held_cut: None,
        on_end: None,
    };
    (sender, body)
}

impl BodySender {
    /// Queues `data`, waiting while the queue is full.
    pub async fn send(&self, mut data: Bytes) -> Result<(), Closed> {
        while !data.is_empty() {
            let frame = data.split_to(data.len().min(MAX_FRAME));
            let len = frame.len() as u64;
            self.items.send(Item::Data(frame)).await.map_err(|_| Closed)?;
            self.written.fetch_add(len, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Waits until the body has taken everything queued.
    pub async fn flush(&self) -> Result<(), Closed> {
        let permits = self.items.reserve_many(self.items.max_capacity()).await.map_err(|_| Closed)?;
        drop(permits);
        Ok(())
    }

    /// Bytes queued so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Ends the body: complete.
    pub async fn finish(&self) -> Result<(), Closed> {
        self.items.send(Item::End).await.map_err(|_| Closed)
    }

    /// Ends the body: cut off, for `why`. Never waits: with the queue full
    /// (the client is behind), the body ends cut once it has delivered
    /// what is queued and every sender is dropped.
    pub fn cut(&self, why: String) {
        if let Err(mpsc::error::TrySendError::Full(Item::Cut(why))) = self.items.try_send(Item::Cut(why)) {
            *self.cut.lock().unwrap_or_else(PoisonError::into_inner) = Some(why);
        }
    }

    /// Resolves when the client has gone away (or the body has ended).
    pub async fn closed(&self) {
        self.items.closed().await;
    }

    /// Whether the body has ended or the client has gone.
    pub fn is_closed(&self) -> bool {
        self.items.is_closed()
    }
}

#[cfg(test)]
mod tests {
    use std::task::Waker;

    use super::*;

    fn poll(body: &mut StreamedBody) -> Poll<Option<Result<Frame<Bytes>, StreamCut>>> {
        body.poll_next(&mut Context::from_waker(Waker::noop()))
    }

    #[tokio::test]
    async fn a_cut_comes_after_the_chunks_before_it_and_a_pending_between() {
        let (sender, mut body) = stream();
        let ended = Arc::new(Mutex::new(None));
        let report = Arc::clone(&ended);
        body.on_end(move |summary| *report.lock().unwrap() = Some(summary));
        sender.send(Bytes::from_static(b"chunk 0\n")).await.unwrap();
        sender.cut("trapped".into());
        let Poll::Ready(Some(Ok(frame))) = poll(&mut body) else { panic!("the chunk first") };
        assert_eq!(frame.into_data().unwrap(), "chunk 0\n");
        assert!(poll(&mut body).is_pending(), "hyper gets to flush the chunk");
        assert!(matches!(poll(&mut body), Poll::Ready(Some(Err(StreamCut(why)))) if why == "trapped"));
        assert!(matches!(poll(&mut body), Poll::Ready(None)));
        let summary = ended.lock().unwrap().clone().expect("reported");
        assert_eq!((summary.end, summary.bytes), (StreamEnd::Cut("trapped".into()), 8));
    }

    #[tokio::test]
    async fn a_writer_dropped_unfinished_is_a_cut() {
        let (sender, mut body) = stream();
        drop(sender);
        assert!(poll(&mut body).is_pending());
        assert!(matches!(poll(&mut body), Poll::Ready(Some(Err(StreamCut(why)))) if why.contains("without finishing")));
    }
}
