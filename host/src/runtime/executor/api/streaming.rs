//! A streaming handler's call (`<method>-streaming`): the instance moves to a
//! task of its own once the answer's head is there, because it goes on
//! writing after the response has been returned to hyper. The call waits
//! only for the head
//! (`responder.start`, or the whole answer, `responder.send`), within the
//! route's `timeout`; the body then flows through a bounded queue
//! ([`crate::runtime::response_body`]) until the handler returns (complete),
//! fails (cut), the client goes away, or a stream limit passes: the whole
//! stream's `stream_timeout`, or `stream_idle_timeout` without progress.
//!
//! On a route with `isolation = "reuse"` the instance goes back to the pool
//! only once its handler has returned and its answer is complete.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use http::{HeaderValue, header};
use tokio::sync::oneshot;
use wasmtime::Store;
use wasmtime::component::{ComponentExportIndex, Instance, InstancePre, Resource};

use super::reuse::{ReusePool, WarmInstance};
use super::{ApiExecutor, HandlerCall, strip_body_for_head, translate};
use crate::runtime::GuestRequest;
use crate::runtime::executor::until_head::{HeadWait, until_head};
use crate::runtime::guest_call::{CallError, CallOutcome, CallTiming, InstanceLease};
use crate::runtime::guest_error::{GuestError, classify};
use crate::runtime::guest_state::{GuestState, new_store};
use crate::runtime::response_body::{self, BodySender, ResponseBody};
use crate::runtime::streaming::{GuestAnswer, Progress, Responder, StreamHead, StreamLimits};

/// How long an instance is given to return by itself once its `write` has
/// failed (the client went away, or `stream_idle_timeout` passed) before it
/// is stopped.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// How a streaming instance ended.
enum Ended {
    /// The handler returned: the body is complete.
    Returned,
    /// The handler trapped (or could not start).
    Failed(GuestError),
    /// The client went away, or the response was answered without its body
    /// (`HEAD`).
    ClientGone,
    /// A stream limit passed.
    Limit(String),
}

impl ApiExecutor {
    pub(super) async fn call_streaming(
        &self,
        handler: HandlerCall,
        request: GuestRequest,
        request_id: Arc<str>,
        lease: InstanceLease,
    ) -> CallOutcome {
        let limits = self.context.limits;
        let mut timing = CallTiming::default();
        let (sender, body) = response_body::stream();
        let (head_sender, head) = oneshot::channel();
        let progress = Progress::new();
        let stream_limits =
            StreamLimits { idle_timeout: limits.stream_idle_timeout, max_bytes: limits.max_stream_bytes };
        let (mut store, instance, served) = match self.reuse.as_deref().and_then(ReusePool::take) {
            Some(mut warm) => {
                warm.store.data_mut().begin_request(request_id);
                (warm.store, Some(warm.instance), warm.served)
            }
            None => (new_store(self.exports.pre.engine(), &self.context, request_id), None, 0),
        };
        let answered_whole = Arc::new(AtomicBool::new(false));
        let responder = Responder::new(head_sender, sender.clone(), stream_limits, progress.clone());
        let responder = match store.data_mut().table().push(responder) {
            Ok(responder) => responder,
            Err(e) => {
                let error = GuestError::Instantiate(format!("cannot make the responder: {e}"));
                return CallOutcome { response: Err(CallError::Guest(error)), timing };
            }
        };
        let instantiated = Arc::new(Mutex::new(Duration::ZERO));
        let instance = StreamingInstance {
            pre: self.exports.pre.clone(),
            index: handler.export.index,
            store,
            instance,
            served,
            reuse: self.reuse.clone(),
            answered_whole: Arc::clone(&answered_whole),
            sender,
            progress,
            stream_timeout: limits.stream_timeout,
            idle_timeout: limits.stream_idle_timeout,
            instantiated: Arc::clone(&instantiated),
            _lease: lease,
        };
        let started = Instant::now();
        let run = Box::pin(instance.run(request, responder));
        let (waited, rest) = until_head(run, head, limits.timeout).await;
        if let Some(rest) = rest {
            tokio::spawn(rest);
        }
        timing.instantiate = *instantiated.lock().unwrap_or_else(PoisonError::into_inner);
        timing.handler = started.elapsed().saturating_sub(timing.instantiate);
        let response = match waited {
            // Failed before anything could be sent: still a `500`.
            HeadWait::Head(_, Some(Ended::Failed(error))) => Err(CallError::Guest(error)),
            HeadWait::Head(GuestAnswer::Streamed(StreamHead { status, headers }), _) => {
                let mut response = http::Response::new(ResponseBody::Streamed(body));
                *response.status_mut() = status;
                *response.headers_mut() = headers;
                if handler.strip_body {
                    // The handler is stopped when its body goes.
                    *response.body_mut() = ResponseBody::empty();
                    response.headers_mut().remove(header::CONTENT_LENGTH);
                }
                // What proxies should not buffer: the client reads it as it
                // is written.
                response.headers_mut().entry("x-accel-buffering").or_insert(HeaderValue::from_static("no"));
                Ok(response)
            }
            HeadWait::Head(GuestAnswer::Whole(answer), _) => {
                answered_whole.store(true, Ordering::Release);
                translate::http_response(answer).map_err(CallError::InvalidResponse).map(|mut response| {
                    if handler.strip_body {
                        strip_body_for_head(&mut response);
                    }
                    response
                })
            }
            HeadWait::Head(GuestAnswer::Refused(invalid), _) => Err(CallError::InvalidResponse(invalid)),
            // The responder went without a head: the handler returned or
            // failed before `start`.
            HeadWait::NoHead(ended) => Err(CallError::Guest(match ended {
                Ended::Failed(error) => error,
                _ => GuestError::Trap("the streaming handler returned without calling `start` or `send`".into()),
            })),
            HeadWait::TimedOut => Err(CallError::Guest(GuestError::Timeout(limits.timeout))),
        };
        CallOutcome { response, timing }
    }
}

/// A streaming handler's instance, on its own task.
struct StreamingInstance {
    pre: InstancePre<GuestState>,
    index: ComponentExportIndex,
    store: Store<GuestState>,
    /// An instance from the reuse pool, already made in `store`.
    instance: Option<Instance>,
    /// Requests `instance` has served.
    served: u32,
    reuse: Option<Arc<ReusePool>>,
    /// The handler answered whole (`send`): its body is not ours to watch.
    answered_whole: Arc<AtomicBool>,
    sender: BodySender,
    progress: Progress,
    stream_timeout: Duration,
    idle_timeout: Duration,
    instantiated: Arc<Mutex<Duration>>,
    /// The route's capacity, held until the instance ends.
    _lease: InstanceLease,
}

impl StreamingInstance {
    async fn run(mut self, request: GuestRequest, responder: Resource<Responder>) -> Ended {
        self.store.set_epoch_deadline(1);
        let started = Instant::now();
        let (pre, index, store, instantiated) = (&self.pre, self.index, &mut self.store, &self.instantiated);
        let reused = self.instance;
        let guest = async {
            let instance = match reused {
                Some(instance) => instance,
                None => {
                    let instance =
                        pre.instantiate_async(&mut *store).await.map_err(|e| classify(e, GuestError::Instantiate))?;
                    *instantiated.lock().unwrap_or_else(PoisonError::into_inner) = started.elapsed();
                    instance
                }
            };
            let func = instance
                .get_typed_func::<(&GuestRequest, Resource<Responder>), ()>(&mut *store, index)
                .map_err(|e| GuestError::Trap(format!("{e:#}")))?;
            func.call_async(&mut *store, (&request, responder)).await.map_err(|e| classify(e, GuestError::Trap))?;
            Ok(instance)
        };
        let (ended, instance) = {
            tokio::pin!(guest);
            let (ended, instance) = tokio::select! {
                result = &mut guest => match result {
                    Ok(instance) => (Ended::Returned, Some(instance)),
                    Err(error) => (Ended::Failed(error), None),
                },
                () = client_gone(&self.sender, &self.answered_whole) => (Ended::ClientGone, None),
                () = tokio::time::sleep(self.stream_timeout) => (
                    Ended::Limit(format!("the stream ran past {:?} (the route's stream_timeout)", self.stream_timeout)),
                    None,
                ),
                () = self.progress.stalled_for(self.idle_timeout + STOP_GRACE) => (
                    Ended::Limit(format!(
                        "the stream made no progress for {:?} (the route's stream_idle_timeout)",
                        self.idle_timeout
                    )),
                    None,
                ),
            };
            if matches!(ended, Ended::ClientGone) {
                // The guest's next `write` fails with `closed`: give it the
                // chance to hear that and return, then stop it.
                let _ = tokio::time::timeout(STOP_GRACE, &mut guest).await;
            }
            (ended, instance)
        };
        self.store.data().end_request();
        let complete = match &ended {
            Ended::Returned if self.answered_whole.load(Ordering::Acquire) => true,
            Ended::Returned => {
                let finished = tokio::time::timeout(self.idle_timeout, self.sender.finish()).await;
                if finished.is_err() {
                    self.sender.cut(format!("the client took nothing for {:?}", self.idle_timeout));
                }
                matches!(finished, Ok(Ok(())))
            }
            Ended::Failed(error) => {
                self.sender.cut(error.to_string());
                false
            }
            Ended::Limit(why) => {
                self.sender.cut(why.clone());
                false
            }
            Ended::ClientGone => false,
        };
        // Only an instance whose handler returned, with its whole answer
        // sent, is fit for the next request.
        if let (Some(pool), Some(instance), true) = (&self.reuse, instance, complete) {
            self.store.data_mut().finish_reused_request().await;
            pool.put_back(WarmInstance { store: self.store, instance, served: self.served + 1 });
        }
        ended
    }
}

/// Resolves when the client has gone away from a streamed answer. A whole
/// answer (`send`) has no stream to watch: its body left with the response.
async fn client_gone(sender: &BodySender, answered_whole: &AtomicBool) {
    sender.closed().await;
    if answered_whole.load(Ordering::Acquire) {
        std::future::pending::<()>().await;
    }
}
