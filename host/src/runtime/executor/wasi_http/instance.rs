//! A `wasi:http` component's instance on a task of its own: it runs the
//! component's `incoming-handler`, hands the head of its response to the
//! waiting call as soon as the component sets it, then forwards the
//! component's body into the answer's bounded queue
//! ([`crate::runtime::response_body`]) as the component writes it.
//!
//! The body is complete when the component finishes it, and cut when the
//! component traps or drops it unfinished, or when a stream limit of the
//! route passes: `stream_timeout` for the whole answer, `stream_idle_timeout`
//! without progress, `max_stream_bytes` of body. A client that goes away
//! ends it too. The component's own writes wait while the queue is full
//! (its `outgoing-body` stream has no room until the host takes a chunk),
//! so a slow client holds the component, not host memory.
//!
//! The instance ends (its store dropped, its slot of the route's capacity
//! given back) when the handler returns, or as soon as the answer is over.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use tokio::sync::oneshot;
use wasmtime::Store;
use wasmtime::component::Resource;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::p2::types::{HostIncomingRequest, HostResponseOutparam};

use crate::limits::Limits;
use crate::runtime::guest_call::InstanceLease;
use crate::runtime::guest_error::{GuestError, classify};
use crate::runtime::guest_state::GuestState;
use crate::runtime::response_body::BodySender;
use crate::runtime::streaming::Progress;

/// How long a component is given to return by itself once its client has
/// gone (its next write fails with `closed`) before it is stopped.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// What the component sets its response outparam to.
pub(super) type Answer = Result<hyper::Response<HyperOutgoingBody>, ErrorCode>;

/// How an instance ended.
pub(super) enum Ended {
    /// The component finished its body: the answer is complete.
    Complete,
    /// The component failed: before its head (the call answers `500`), or
    /// after it (the stream is cut).
    Failed(GuestError),
    /// The client went away.
    ClientGone,
    /// A stream limit passed.
    Limit(String),
}

/// A component's instance, ready to run on its own task.
pub(super) struct ProxyInstance {
    pub(super) proxy: ProxyPre<GuestState>,
    pub(super) store: Store<GuestState>,
    /// The route's capacity, held until the instance ends.
    pub(super) lease: InstanceLease,
    /// Where the body goes.
    pub(super) sender: BodySender,
    /// When the answer (or the request body) last moved.
    pub(super) progress: Progress,
    pub(super) limits: Limits,
    /// How long instantiating took, for the call's timing.
    pub(super) instantiated: Arc<Mutex<Duration>>,
}

/// The component's run, which owns its store: dropping it ends the instance.
type Guest = Pin<Box<dyn Future<Output = Result<(), GuestError>> + Send>>;

impl ProxyInstance {
    /// Runs the component for `incoming`, sends the head of its answer on
    /// `head`, and streams its body. Dropping `head` unsent means there is
    /// no head: the result says why.
    pub(super) async fn run(
        self,
        incoming: Resource<HostIncomingRequest>,
        outparam: Resource<HostResponseOutparam>,
        answer: oneshot::Receiver<Answer>,
        head: oneshot::Sender<http::response::Parts>,
    ) -> Ended {
        let ProxyInstance { proxy, store, lease, sender, progress, limits, instantiated } = self;
        let deadline = tokio::time::Instant::now() + limits.stream_timeout;
        let mut guest = Some(guest(proxy, Running { store, _lease: lease }, incoming, outparam, instantiated));

        let body = match head_of(&mut guest, answer).await {
            Ok(response) => {
                let (parts, body) = response.into_parts();
                if head.send(parts).is_err() {
                    // The call gave up waiting (and stops this task).
                    return Ended::ClientGone;
                }
                body
            }
            Err(error) => return Ended::Failed(error),
        };
        progress.touch();

        let ended = {
            let forward = forward(body, &sender, &progress, limits.max_stream_bytes);
            tokio::pin!(forward);
            loop {
                tokio::select! {
                    biased;
                    result = guest_end(&mut guest) => if let Err(error) = result {
                        break Ended::Failed(error);
                    },
                    ended = &mut forward => break ended,
                    () = sender.closed() => break Ended::ClientGone,
                    () = tokio::time::sleep_until(deadline) => break Ended::Limit(format!(
                        "the stream ran past {:?} (the route's stream_timeout)",
                        limits.stream_timeout
                    )),
                    () = progress.stalled_for(limits.stream_idle_timeout) => break Ended::Limit(format!(
                        "the stream made no progress for {:?} (the route's stream_idle_timeout)",
                        limits.stream_idle_timeout
                    )),
                }
            }
            // The component's body goes here: a component still writing
            // hears `closed`.
        };
        if let (Ended::ClientGone, Some(running)) = (&ended, guest.as_mut()) {
            let _ = tokio::time::timeout(STOP_GRACE, running).await;
        }
        drop(guest);
        match &ended {
            Ended::Complete => {
                if tokio::time::timeout(limits.stream_idle_timeout, sender.finish()).await.is_err() {
                    sender.cut(format!("the client took nothing for {:?}", limits.stream_idle_timeout));
                }
            }
            Ended::Failed(error) => sender.cut(error.to_string()),
            Ended::Limit(why) => sender.cut(why.clone()),
            Ended::ClientGone => {}
        }
        ended
    }
}

/// A running instance's store and its share of the route's capacity, let
/// go together (the store first, so that its pool slot is free when the
/// next request gets the capacity).
struct Running {
    store: Store<GuestState>,
    _lease: InstanceLease,
}

impl Drop for Running {
    fn drop(&mut self) {
        // However the instance ends (returned, trapped, stopped), what it
        // printed is flushed to the log.
        self.store.data().end_request();
    }
}

/// The component's `handle` call, in a fresh instance of `proxy`.
fn guest(
    proxy: ProxyPre<GuestState>,
    mut running: Running,
    incoming: Resource<HostIncomingRequest>,
    outparam: Resource<HostResponseOutparam>,
    instantiated: Arc<Mutex<Duration>>,
) -> Guest {
    Box::pin(async move {
        let store = &mut running.store;
        store.set_epoch_deadline(1);
        let started = Instant::now();
        let instance = proxy.instantiate_async(&mut *store).await.map_err(|e| classify(e, GuestError::Instantiate))?;
        *instantiated.lock().unwrap_or_else(PoisonError::into_inner) = started.elapsed();
        instance
            .wasi_http_incoming_handler()
            .call_handle(&mut *store, incoming, outparam)
            .await
            .map_err(|e| classify(e, GuestError::Trap))
    })
}

/// Runs the component until it has set its response: the response, or why
/// there is none.
async fn head_of(
    guest: &mut Option<Guest>,
    mut answer: oneshot::Receiver<Answer>,
) -> Result<hyper::Response<HyperOutgoingBody>, GuestError> {
    loop {
        tokio::select! {
            // The guest first: one that has failed by now, even after
            // setting its response, is a `500` rather than a cut stream.
            biased;
            result = guest_end(guest) => result?,
            answer = &mut answer => return match answer {
                Ok(Ok(response)) => Ok(response),
                Ok(Err(code)) => Err(GuestError::Trap(format!("the handler answered with an error: {code:?}"))),
                // Dropped unset: the guest returned without an answer.
                Err(_) => Err(GuestError::Trap("the handler returned without setting a response".into())),
            },
        }
    }
}

/// Waits for the component to end, and lets its instance go; never resolves
/// once it has.
async fn guest_end(guest: &mut Option<Guest>) -> Result<(), GuestError> {
    let Some(running) = guest.as_mut() else { return std::future::pending().await };
    let result = running.await;
    *guest = None;
    result
}

/// Forwards the component's body to the answer's queue, waiting for room,
/// until it ends.
async fn forward(mut body: HyperOutgoingBody, sender: &BodySender, progress: &Progress, max_bytes: u64) -> Ended {
    let mut sent: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            // Also what a body dropped without `finish` ends with.
            Err(e) => return Ended::Failed(GuestError::Trap(format!("the response body failed: {e}"))),
        };
        // Trailers: the host's answers carry none, as before streaming.
        let Ok(data) = frame.into_data() else { continue };
        sent = sent.saturating_add(data.len() as u64);
        if sent > max_bytes {
            return Ended::Limit(format!("the body passed {max_bytes} bytes (the route's max_stream_bytes)"));
        }
        if sender.send(data).await.is_err() {
            return Ended::ClientGone;
        }
        progress.touch();
    }
    Ended::Complete
}
