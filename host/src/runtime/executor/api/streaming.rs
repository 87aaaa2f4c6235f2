//! A streaming handler's call (`<method>-streaming`): the instance runs on a
//! task of its own, because it goes on writing after the response has been
//! returned to hyper. The call waits only for the head (`responder.start`),
//! within the route's `timeout`; the body then flows through a bounded queue
//! ([`crate::runtime::response_body`]) until the handler returns (complete),
//! fails (cut), the client goes away, or a stream limit passes: the whole
//! stream's `stream_timeout`, or `stream_idle_timeout` without progress.
//!
//! Streaming calls always run in a fresh instance, whatever the route's
//! isolation: an instance that outlives its response cannot be handed to the
//! next request.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use http::{HeaderValue, header};
use tokio::sync::oneshot;
use wasmtime::Store;
use wasmtime::component::{ComponentExportIndex, InstancePre, Resource};

use super::{ApiExecutor, HandlerCall};
use crate::runtime::GuestRequest;
use crate::runtime::guest_call::{CallError, CallOutcome, CallTiming, InstanceLease};
use crate::runtime::guest_error::{GuestError, classify};
use crate::runtime::guest_state::{GuestState, new_store};
use crate::runtime::response_body::{self, BodySender, ResponseBody};
use crate::runtime::streaming::{Progress, Responder, StreamHead, StreamLimits};

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
        let mut store = new_store(self.exports.pre.engine(), &self.context, request_id);
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
            sender,
            progress,
            stream_timeout: limits.stream_timeout,
            idle_timeout: limits.stream_idle_timeout,
            instantiated: Arc::clone(&instantiated),
            _lease: lease,
        };
        let started = Instant::now();
        let task = tokio::spawn(instance.run(request, responder));

        let head = tokio::time::timeout(limits.timeout, head).await;
        timing.instantiate = *instantiated.lock().unwrap_or_else(PoisonError::into_inner);
        timing.handler = started.elapsed().saturating_sub(timing.instantiate);
        let response = match head {
            Ok(Ok(Ok(StreamHead { status, headers }))) => {
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
            Ok(Ok(Err(invalid))) => Err(CallError::InvalidResponse(invalid)),
            // The responder went without a head: the handler returned or
            // failed before `start`.
            Ok(Err(_)) => Err(CallError::Guest(match task.await {
                Ok(Ended::Failed(error)) => error,
                Ok(_) => GuestError::Trap("the streaming handler returned without calling `start`".into()),
                Err(e) => GuestError::Trap(format!("the streaming instance failed: {e}")),
            })),
            Err(_) => {
                task.abort();
                Err(CallError::Guest(GuestError::Timeout(limits.timeout)))
            }
        };
        CallOutcome { response, timing }
    }
}

/// A streaming handler's instance, on its own task.
struct StreamingInstance {
    pre: InstancePre<GuestState>,
    index: ComponentExportIndex,
    store: Store<GuestState>,
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
        let guest = async {
            let instance =
                pre.instantiate_async(&mut *store).await.map_err(|e| classify(e, GuestError::Instantiate))?;
            *instantiated.lock().unwrap_or_else(PoisonError::into_inner) = started.elapsed();
            let func = instance
                .get_typed_func::<(&GuestRequest, Resource<Responder>), ()>(&mut *store, index)
                .map_err(|e| GuestError::Trap(format!("{e:#}")))?;
            func.call_async(&mut *store, (&request, responder)).await.map_err(|e| classify(e, GuestError::Trap))
        };
        let ended = {
            tokio::pin!(guest);
            let ended = tokio::select! {
                result = &mut guest => match result {
                    Ok(()) => Ended::Returned,
                    Err(error) => Ended::Failed(error),
                },
                () = self.sender.closed() => Ended::ClientGone,
                () = tokio::time::sleep(self.stream_timeout) => {
                    Ended::Limit(format!("the stream ran past {:?} (the route's stream_timeout)", self.stream_timeout))
                }
                () = idle(&self.progress, self.idle_timeout + STOP_GRACE) => Ended::Limit(format!(
                    "the stream made no progress for {:?} (the route's stream_idle_timeout)",
                    self.idle_timeout
                )),
            };
            if matches!(ended, Ended::ClientGone) {
                // The guest's next `write` fails with `closed`: give it the
                // chance to hear that and return, then stop it.
                let _ = tokio::time::timeout(STOP_GRACE, &mut guest).await;
            }
            ended
        };
        self.store.data().end_request();
        match &ended {
            Ended::Returned => {
                if tokio::time::timeout(self.idle_timeout, self.sender.finish()).await.is_err() {
                    self.sender.cut(format!("the client took nothing for {:?}", self.idle_timeout));
                }
            }
            Ended::Failed(error) => self.sender.cut(error.to_string()),
            Ended::Limit(why) => self.sender.cut(why.clone()),
            Ended::ClientGone => {}
        }
        ended
    }
}

/// Resolves once `progress` has not moved for `limit`.
async fn idle(progress: &Progress, limit: Duration) {
    loop {
        let deadline = progress.last() + limit;
        if Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep_until(deadline.into()).await;
    }
}
