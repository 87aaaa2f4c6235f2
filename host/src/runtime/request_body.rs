//! The body of a request as a guest call gets it: read whole before the
//! call (a `wasmroutes:api` handler takes its body as one list of bytes),
//! or streamed to a guest that reads it as it arrives (a `wasi:http/proxy`
//! component's `incoming-body`).
//!
//! A streamed body still obeys the route's `max_body`: its bytes are counted
//! as they pass, and the frame that goes over fails the body. Whoever
//! answers can ask afterwards whether that happened ([`Overflow`]), to
//! answer `413` rather than whatever the guest made of a failed body.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};

/// Any error a body may fail with, boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request's body, as the call gets it.
pub enum RequestBody {
    /// All of it, read within the route's limit.
    Whole(Bytes),
    /// Still arriving from the client.
    Streamed(StreamedRequestBody),
}

impl Default for RequestBody {
    fn default() -> Self {
        RequestBody::Whole(Bytes::new())
    }
}

impl From<Bytes> for RequestBody {
    fn from(bytes: Bytes) -> Self {
        RequestBody::Whole(bytes)
    }
}

/// Why a streamed request body ended before its end.
#[derive(Debug, thiserror::Error)]
pub enum RequestBodyError {
    /// It went past the route's `max_body`.
    #[error("the request body is over the route's max_body of {limit} bytes")]
    TooLarge {
        /// The route's `max_body`.
        limit: u64,
    },
    /// The client's connection failed while it was sent.
    #[error("the request body could not be read: {0}")]
    Read(#[source] BoxError),
}

/// Whether a streamed body went past its limit, readable after the body
/// itself has been handed to the guest.
#[derive(Clone, Debug)]
pub struct Overflow {
    limit: u64,
    exceeded: Arc<AtomicBool>,
}

impl Overflow {
    /// The limit the body was held to.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Whether the body went past it.
    pub fn exceeded(&self) -> bool {
        self.exceeded.load(Ordering::Acquire)
    }
}

/// A request body streamed to the guest, at most `limit` bytes of it.
pub struct StreamedRequestBody<B = Incoming> {
    inner: B,
    read: u64,
    overflow: Overflow,
}

impl<B> StreamedRequestBody<B> {
    /// `body`, failing once more than `limit` bytes have come.
    pub fn new(body: B, limit: u64) -> StreamedRequestBody<B> {
        StreamedRequestBody { inner: body, read: 0, overflow: Overflow { limit, exceeded: Arc::default() } }
    }

    /// The handle that tells whether the body went past its limit.
    pub fn overflow(&self) -> Overflow {
        self.overflow.clone()
    }
}

impl<B> StreamedRequestBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    /// Reads what is left of the body, for a call that takes it whole.
    pub async fn read_whole(self) -> Result<Bytes, RequestBodyError> {
        Ok(self.collect().await?.to_bytes())
    }
}

impl<B> Body for StreamedRequestBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = RequestBodyError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.overflow.exceeded() {
            return Poll::Ready(None);
        }
        let frame = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(RequestBodyError::Read(e.into())))),
            Poll::Ready(Some(Ok(frame))) => frame,
        };
        if let Some(data) = frame.data_ref() {
            self.read = self.read.saturating_add(data.len() as u64);
            if self.read > self.overflow.limit {
                // Before the error goes out, so that whoever hears of the
                // failure from the guest finds the flag already set.
                self.overflow.exceeded.store(true, Ordering::Release);
                return Poll::Ready(Some(Err(RequestBodyError::TooLarge { limit: self.overflow.limit })));
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.overflow.exceeded() || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http_body_util::{Full, StreamBody};

    use super::*;

    fn chunks(sizes: &[usize]) -> impl Body<Data = Bytes, Error = Infallible> + Unpin {
        let frames: Vec<Result<Frame<Bytes>, Infallible>> =
            sizes.iter().map(|&n| Ok(Frame::data(Bytes::from(vec![b'x'; n])))).collect();
        StreamBody::new(futures_util::stream::iter(frames))
    }

    #[tokio::test]
    async fn a_body_within_the_limit_passes_whole() {
        let body = StreamedRequestBody::new(chunks(&[400, 600]), 1000);
        let overflow = body.overflow();
        assert_eq!(body.read_whole().await.expect("within the limit").len(), 1000);
        assert!(!overflow.exceeded());
    }

    #[tokio::test]
    async fn the_frame_that_goes_over_fails_the_body_and_sets_the_flag() {
        let mut body = StreamedRequestBody::new(chunks(&[400, 600, 1]), 1000);
        let overflow = body.overflow();
        for _ in 0..2 {
            assert!(body.frame().await.expect("a frame").is_ok());
        }
        assert!(!overflow.exceeded(), "exactly the limit is fine");
        let failed = body.frame().await.expect("an error");
        assert!(matches!(failed, Err(RequestBodyError::TooLarge { limit: 1000 })), "{failed:?}");
        assert!(overflow.exceeded());
        assert_eq!(overflow.limit(), 1000);
        assert!(body.frame().await.is_none(), "nothing more after the failure");
    }

    #[tokio::test]
    async fn reading_whole_stops_at_the_limit() {
        let body = StreamedRequestBody::new(Full::new(Bytes::from(vec![0u8; 2048])), 1024);
        assert!(matches!(body.read_whole().await, Err(RequestBodyError::TooLarge { limit: 1024 })));
    }
}
