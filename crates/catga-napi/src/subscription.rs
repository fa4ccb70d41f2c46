//! Core NATS subscriptions as JS sees them: one `onBatch` call per inbound batch (one Buffer plus
//! offsets), settled by `settleBatch` with the replies the handler returned. The next batch of a
//! subscription waits for the previous one to be settled, so a slow consumer slows delivery
//! instead of growing a queue in JS.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use catga_core::nats::{batch_buffers, InboundBatch, NatsEngine};
use napi::bindgen_prelude::{Buffer, Uint32Array};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;
use tokio::sync::watch;

use crate::buffers::{slices, SharedBuffer};
use crate::error::to_js_async;
use crate::nats::NatsClient;

/// Envelopes received together: envelope i is `data.subarray(offsets[2i], offsets[2i] + offsets[2i+1])`.
#[napi(object, object_from_js = false)]
pub struct InboundBatchJs {
    #[napi(ts_type = "Buffer")]
    pub data: SharedBuffer,
    pub offsets: Uint32Array,
    /// Reply subject per envelope; null when no envelope of the batch came as a request (events),
    /// which spares building an array of nulls per batch.
    pub replies: Option<Vec<Option<String>>>,
    pub malformed: u32,
    pub malformed_reason: Option<String>,
    /// NATS messages the subscription dropped on receipt (its buffer was full) since the
    /// previous batch.
    pub dropped: u32,
    /// Pass to `settleBatch` once the batch is handled; the subscription's next batch waits for it.
    pub token: u32,
    /// The framed request groups of this batch (null when none): pass them to `publish` with
    /// replies sent after the batch settled, so the replies of a group sent together still travel
    /// as one positional frame.
    pub reply_groups: Option<Vec<ReplyGroupJs>>,
}

/// A framed request group: its members' reply subjects are `<subject>.<i>`, i below `count`.
#[napi(object)]
pub struct ReplyGroupJs {
    pub subject: String,
    pub count: u32,
}

/// Groups as the engine takes them; an empty list when none.
pub(crate) fn reply_groups_of(groups: Option<Vec<ReplyGroupJs>>) -> Vec<(String, u32)> {
    groups.unwrap_or_default().into_iter().map(|group| (group.subject, group.count)).collect()
}

impl InboundBatchJs {
    /// The batch as JS gets it, settled later with `token`.
    fn new(batch: InboundBatch, token: u32, reply_groups: &[(String, u32)]) -> Self {
        Self {
            data: match batch.shared {
                Some(bytes) => {
                    // An adopted frame leaves the batch's own (recycled) buffer unused.
                    batch_buffers::give(batch.data);
                    SharedBuffer::Shared(bytes)
                }
                None => SharedBuffer::Owned(batch.data),
            },
            offsets: Uint32Array::new(batch.offsets),
            replies: batch.replies.iter().any(Option::is_some).then_some(batch.replies),
            malformed: batch.malformed,
            malformed_reason: batch.malformed_reason,
            dropped: batch.dropped,
            token,
            reply_groups: (!reply_groups.is_empty()).then(|| {
                reply_groups
                    .iter()
                    .map(|(subject, count)| ReplyGroupJs { subject: subject.clone(), count: *count })
                    .collect()
            }),
        }
    }
}

/// Replies a handler returns with its batch: envelope i goes to `subjects[i]`, one NATS message
/// each. Returning them (instead of calling `publish`) saves a crossing and a task per batch.
#[napi(object)]
pub struct ReplyBatchJs {
    pub subjects: Vec<String>,
    pub data: Buffer,
    pub offsets: Uint32Array,
}

/// Called once per inbound batch and not waited on: JS reports the batch handled with
/// `settleBatch(token, replies)`. A returned Promise would cost two more thread wake-ups per batch
/// (napi-rs sends the Promise, then its outcome, then releases it on the JS thread): at one
/// request in flight that was ~90 µs of the responder's latency.
type BatchCallback = ThreadsafeFunction<InboundBatchJs, (), InboundBatchJs, Status, false>;

/// Batches handed to JS and not settled yet, by token, with where their replies go.
#[derive(Default)]
pub(crate) struct Unsettled {
    next: u32,
    waiting: std::collections::HashMap<u32, tokio::sync::oneshot::Sender<Option<ReplyBatchJs>>>,
}

pub(crate) type UnsettledBatches = Arc<std::sync::Mutex<Unsettled>>;

/// Takes the reply slot of an unsettled batch; `None` when the token is unknown or already settled.
fn take_unsettled(
    unsettled: &UnsettledBatches,
    token: u32,
) -> Option<tokio::sync::oneshot::Sender<Option<ReplyBatchJs>>> {
    unsettled.lock().ok().and_then(|mut unsettled| unsettled.waiting.remove(&token))
}

/// A token for a batch about to go to JS, and the receiver of its replies.
fn register(unsettled: &UnsettledBatches) -> Option<(u32, tokio::sync::oneshot::Receiver<Option<ReplyBatchJs>>)> {
    let mut unsettled = unsettled.lock().ok()?;
    let token = unsettled.next;
    unsettled.next = unsettled.next.wrapping_add(1);
    let (sender, receiver) = tokio::sync::oneshot::channel();
    unsettled.waiting.insert(token, sender);
    Some((token, receiver))
}

async fn send_replies(
    engine: &NatsEngine,
    replies: &ReplyBatchJs,
    reply_groups: &[(String, u32)],
) -> std::result::Result<(), catga_core::CatgaError> {
    let Ok(envelopes) = slices(&replies.data, &replies.offsets) else {
        return Err(catga_core::CatgaError::invalid_argument("replies.offsets", "outside data"));
    };
    let items: Vec<(&str, &[u8])> = replies.subjects.iter().map(String::as_str).zip(envelopes).collect();
    engine.publish_replies(&items, reply_groups).await
}

#[napi]
impl NatsClient {
    /// Subscribes (in a queue group when `queue` is set). `onBatch` is called once per batch and
    /// must end by calling `settleBatch(batch.token, replies)`; the next batch is delivered after.
    #[napi]
    pub async fn subscribe(
        &self,
        subject: String,
        queue: Option<String>,
        #[napi(ts_arg_type = "(batch: InboundBatchJs) => void")] on_batch: BatchCallback,
    ) -> napi::Result<NatsSubscription> {
        let mut subscription = self.engine.subscribe(&subject, queue.as_deref()).await.map_err(to_js_async)?;
        let dropped = subscription.dropped();
        let engine = self.engine.clone();
        let unsettled = self.unsettled.clone();
        let (stop, mut stopped) = watch::channel(false);
        let (done_tx, done_rx) = watch::channel(false);
        napi::bindgen_prelude::spawn(async move {
            // Set once stopping: what was received is delivered until then. While the server is
            // unreachable async-nats cannot drain, so stopping never waits past this deadline.
            let mut drain_deadline: Option<tokio::time::Instant> = None;
            loop {
                let batch = if let Some(deadline) = drain_deadline {
                    match tokio::time::timeout_at(deadline, subscription.next_batch()).await {
                        Ok(batch) => batch,
                        Err(_) => break,
                    }
                } else {
                    tokio::select! {
                        batch = subscription.next_batch() => batch,
                        _ = stopped.changed() => {
                            let deadline = tokio::time::Instant::now() + engine.options().request_timeout;
                            drain_deadline = Some(deadline);
                            if tokio::time::timeout_at(deadline, subscription.drain()).await.is_err() {
                                break;
                            }
                            continue;
                        }
                    }
                };
                let Some(mut batch) = batch else { break };
                let reply_groups = std::mem::take(&mut batch.reply_groups);
                let Some((token, settled)) = register(&unsettled) else { break };
                let js_batch = InboundBatchJs::new(batch, token, &reply_groups);
                if on_batch.call(js_batch, ThreadsafeFunctionCallMode::NonBlocking) != Status::Ok {
                    // JS is going away: nobody will settle this batch.
                    take_unsettled(&unsettled, token);
                    continue;
                }
                // A failed handler settles with no replies; the subscription goes on either way.
                if let Ok(Some(replies)) = subscription.hold_while(settled).await {
                    // Failures to reply surface to the requester as its own timeout.
                    let _ = send_replies(&engine, &replies, &reply_groups).await;
                }
            }
            let _ = done_tx.send(true);
        });
        Ok(NatsSubscription { stop, done: done_rx, dropped })
    }

    /// Reports an inbound batch handled (see `subscribe`), with the replies its handler returned.
    /// An unknown or already settled token is ignored.
    #[napi]
    pub fn settle_batch(&self, token: u32, replies: Option<ReplyBatchJs>) {
        if let Some(sender) = take_unsettled(&self.unsettled, token) {
            let _ = sender.send(replies); // a subscription that ended has dropped its receiver
        }
    }
}

/// A live subscription; `drain()` stops delivery after what was already received.
#[napi]
pub struct NatsSubscription {
    pub(crate) stop: watch::Sender<bool>,
    pub(crate) done: watch::Receiver<bool>,
    pub(crate) dropped: Arc<AtomicU64>,
}

#[napi]
impl NatsSubscription {
    /// Messages this subscription dropped on receipt because `subscriptionBufferBytes` was
    /// reached while JS handled earlier batches.
    #[napi(getter)]
    pub fn dropped(&self) -> f64 {
        self.dropped.load(Relaxed) as f64
    }

    /// Stops taking messages, delivers what was already received, resolves when delivery ended.
    #[napi]
    pub async fn drain(&self) -> napi::Result<()> {
        let _ = self.stop.send(true);
        let mut done = self.done.clone();
        let _ = done.wait_for(|ended| *ended).await;
        Ok(())
    }
}
