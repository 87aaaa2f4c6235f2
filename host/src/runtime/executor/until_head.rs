//! The first part of a streamed answer's call, the same for every kind of
//! guest: its instance runs on the request's own task until the head of
//! its answer is there, so that what it writes before it first waits is
//! ready when hyper gets the response, and a guest that fails before then
//! still gets a proper error answer. Only a guest still going then moves to
//! a task of its own (the caller spawns what [`until_head`] leaves).

use std::pin::Pin;
use std::time::Duration;

use tokio::sync::oneshot;

/// A guest instance's whole run, owning its store: dropping it stops it.
pub(super) type InstanceRun<E> = Pin<Box<dyn Future<Output = E> + Send>>;

/// What came of waiting for the head.
pub(super) enum HeadWait<H, E> {
    /// The head, and the run's end if the run finished meanwhile.
    Head(H, Option<E>),
    /// The run let go of the head's sender without sending one: how it
    /// ended.
    NoHead(E),
    /// `limit` passed first; the run has been dropped.
    TimedOut,
}

/// Polls `run` (first) and waits for `head`, within `limit`. A run that is
/// still going when the head comes is given back to be spawned.
pub(super) async fn until_head<H, E>(
    mut run: InstanceRun<E>,
    mut head: oneshot::Receiver<H>,
    limit: Duration,
) -> (HeadWait<H, E>, Option<InstanceRun<E>>) {
    let mut ended = None;
    let waited = tokio::time::timeout(limit, async {
        loop {
            tokio::select! {
                biased;
                result = &mut run, if ended.is_none() => ended = Some(result),
                head = &mut head => return head,
            }
        }
    })
    .await;
    match (waited, ended) {
        (Ok(Ok(head)), None) => (HeadWait::Head(head, None), Some(run)),
        (Ok(Ok(head)), ended) => (HeadWait::Head(head, ended), None),
        (Ok(Err(_)), Some(ended)) => (HeadWait::NoHead(ended), None),
        // Gone without a head while the run goes on: it is ending.
        (Ok(Err(_)), None) => (HeadWait::NoHead(run.await), None),
        (Err(_), _) => (HeadWait::TimedOut, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_run_that_answers_and_goes_on_is_given_back() {
        let (sender, head) = oneshot::channel();
        let run: InstanceRun<&str> = Box::pin(async move {
            let _ = sender.send("head");
            tokio::time::sleep(Duration::from_millis(10)).await;
            "returned"
        });
        let (waited, rest) = until_head(run, head, Duration::from_secs(5)).await;
        assert!(matches!(waited, HeadWait::Head("head", None)));
        assert_eq!(rest.expect("still going").await, "returned");
    }

    #[tokio::test]
    async fn a_run_that_answers_and_ends_at_once_is_done() {
        let (sender, head) = oneshot::channel();
        let run: InstanceRun<&str> = Box::pin(async move {
            let _ = sender.send("head");
            "returned"
        });
        let (waited, rest) = until_head(run, head, Duration::from_secs(5)).await;
        assert!(matches!(waited, HeadWait::Head("head", Some("returned"))));
        assert!(rest.is_none());
    }

    #[tokio::test]
    async fn a_run_that_ends_without_a_head_says_how() {
        let (sender, head) = oneshot::channel::<&str>();
        let run: InstanceRun<&str> = Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            drop(sender);
            "failed"
        });
        let (waited, rest) = until_head(run, head, Duration::from_secs(5)).await;
        assert!(matches!(waited, HeadWait::NoHead("failed")));
        assert!(rest.is_none());
    }

    #[tokio::test]
    async fn no_head_within_the_limit_is_a_timeout() {
        let (_sender, head) = oneshot::channel::<&str>();
        let run: InstanceRun<&str> = Box::pin(std::future::pending());
        let (waited, rest) = until_head(run, head, Duration::from_millis(20)).await;
        assert!(matches!(waited, HeadWait::TimedOut));
        assert!(rest.is_none());
    }
}
